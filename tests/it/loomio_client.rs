//! The Loomio client and its voting backend against the fake Loomio over loopback HTTP: polls
//! are created, read with their results and closed as b2 allows; 5xx, 429 and refused
//! connections are retried within bounds, other 4xx never; a create that reached Loomio is never
//! repeated; and no error carries the API key.

use crate::support;

use std::time::Duration;

use revshare_oracle::domain::Timestamp;
use revshare_oracle::sources::loomio::{
    LoomioBackend, LoomioClient, LoomioError, NewPoll, PollType, RetryPolicy, earliest_closing,
};
use revshare_oracle::voting::evidence::documents_of;
use revshare_oracle::voting::intent::IntentMarker;
use revshare_oracle::voting::{Electorate, VoteRequest, VoteState, VotingBackend, VotingError};
use support::loomio::{FakeLoomio, Fault};

const KEY: &str = "bot-api-key-5f0c9a7e1d2b";

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_wait: Duration::from_secs(5),
    }
}

fn client_with(fake: &FakeLoomio, key: &str, timeout: Duration, attempts: u32) -> LoomioClient {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .unwrap();
    LoomioClient::new(
        http,
        &fake.base_url(),
        key.to_string().into(),
        policy(attempts),
        1 << 20,
    )
}

fn client(fake: &FakeLoomio) -> LoomioClient {
    client_with(fake, KEY, Duration::from_secs(10), 4)
}

fn in_days(days: i64) -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond() + days * 86_400_000)
}

fn request(options: &[&str], details: &str) -> VoteRequest {
    VoteRequest {
        title: "Add Ann to the default pool?".into(),
        details: details.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        closes_at: Some(in_days(3)),
        electorate: Electorate::default(),
    }
}

fn new_poll<'a>(fake: &FakeLoomio, options: &'a [String]) -> NewPoll<'a> {
    NewPoll {
        group_id: fake.group_id,
        title: "Add Ann?",
        details: "Ann maintains the docs.",
        poll_type: PollType::for_options(options),
        options,
        closing_at: in_days(2),
    }
}

/// The body the fake answers now to an authorised GET of `path`, read independently.
async fn fetch(fake: &FakeLoomio, path: &str) -> String {
    reqwest::Client::new()
        .get(format!("{}{path}", fake.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_poll_is_created_read_with_its_results_and_closed() {
    let fake = FakeLoomio::start(KEY).await;
    let loomio = client(&fake);
    let options = vec!["agree".to_string(), "disagree".to_string()];
    let created = loomio
        .create_poll(&new_poll(&fake, &options), None)
        .await
        .unwrap();
    let poll = created.value;
    assert_eq!(poll.poll_type, "proposal");
    assert_eq!(
        poll.group_id,
        Some(fake.group_id),
        "the nested body keeps the group"
    );
    let names: Vec<&str> = poll.options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["Agree", "Disagree"],
        "Loomio re-labels a proposal's options"
    );
    assert_eq!(fake.polls().len(), 1);
    assert!(created.document.body.contains("\"polls\""));
    assert_eq!(created.document.source, "POST /api/b2/polls");

    let [ann, bob, cat] = [&fake.members[0], &fake.members[1], &fake.members[2]];
    fake.vote_with_reason(poll.id, ann, &["Agree"], Some("She wrote the docs."));
    fake.vote(poll.id, bob, &["Disagree"]);
    fake.vote_with_reason(poll.id, bob, &["Agree"], Some("Changed my mind."));
    let read = loomio.poll(&poll.id.to_string()).await.unwrap();
    let results = read.value.results.clone().unwrap();
    assert_eq!(results[0].voter_ids, [ann.id, bob.id]);
    assert_eq!(results[1].voter_count, 0);
    assert_eq!(read.value.stance_counts, Some(vec![2, 0]));
    assert_eq!(read.value.closed_at, None);
    let thread = loomio
        .thread_stances(read.value.topic_id.unwrap())
        .await
        .unwrap()
        .value;
    assert_eq!(
        thread
            .stances
            .iter()
            .filter(|s| s.cast_at.is_some())
            .count(),
        2,
        "the votes given with a reason join the thread"
    );
    assert!(
        !thread
            .stances
            .iter()
            .any(|s| s.participant_id == Some(cat.id)),
        "an invitation not voted on is no thread item"
    );

    let target = earliest_closing(Timestamp(jiff::Timestamp::now().as_millisecond()));
    let moved = loomio
        .set_closing_at(&poll.id.to_string(), target)
        .await
        .unwrap();
    assert_eq!(moved.value.closing_at, Some(target));
    assert_eq!(
        moved.value.closed_at, None,
        "b2 can only move the closing time"
    );
    let lapsed = fake.expire_lapsed(jiff::Timestamp::from_millisecond(target.millis()).unwrap());
    assert_eq!(lapsed, [poll.id]);
    fake.publish_outcome(poll.id, "Ann joins the pool.", Some("Agree"));
    let closed = loomio.poll(&poll.key).await.unwrap().value;
    assert_eq!(closed.closed_at, Some(target));
    let outcome = closed.outcome.unwrap();
    assert_eq!(outcome.statement, "Ann joins the pool.");
    assert_eq!(outcome.poll_option_id, Some(closed.options[0].id));
}

#[tokio::test]
async fn the_backend_reports_tallies_ballots_and_the_documents_as_received() {
    let fake = FakeLoomio::start(KEY).await;
    let backend = LoomioBackend::new(client(&fake), fake.group_id);
    assert_eq!(backend.name(), "loomio");
    let handle = backend
        .start(&request(&["Yes", "No", "Later"], "Why: docs"))
        .await
        .unwrap();
    let poll = fake.poll(handle.external_id.parse().unwrap());
    assert_eq!(poll.poll_type, "poll");
    assert_eq!(
        handle.url,
        Some(format!("{}/p/{}", fake.base_url(), poll.key))
    );

    let empty = backend.status(&handle.external_id).await.unwrap();
    assert_eq!(empty.state, VoteState::Open);
    assert!(empty.ballots.is_empty());
    assert_eq!(
        documents_of(&empty.raw).len(),
        1,
        "no voters, no members read"
    );

    let [ann, bob, cat] = [&fake.members[0], &fake.members[1], &fake.members[2]];
    fake.vote(poll.id, ann, &["Yes"]);
    fake.vote(poll.id, bob, &["No"]);
    fake.vote(poll.id, cat, &["Later"]);
    fake.vote(poll.id, bob, &["Yes"]);
    fake.withdraw(poll.id, cat);
    let status = backend.status(&handle.external_id).await.unwrap();
    let tallies: Vec<(&str, u64)> = status
        .tallies
        .iter()
        .map(|t| (t.option.as_str(), t.votes))
        .collect();
    assert_eq!(tallies, [("Yes", 2), ("No", 0), ("Later", 0)]);
    let ballots: Vec<(&str, &str, Vec<String>)> = status
        .ballots
        .iter()
        .map(|b| {
            (
                b.voter.platform.as_str(),
                b.voter.username.as_str(),
                b.choices.clone(),
            )
        })
        .collect();
    assert_eq!(
        ballots,
        [
            ("loomio", "ann", vec!["Yes".to_string()]),
            ("loomio", "bob", vec!["Yes".to_string()])
        ],
        "a changed vote counts once, a withdrawn one not at all"
    );
    assert_eq!(status.ballots[0].voter.user_id, ann.id.to_string());
    assert_eq!(
        status.ballots[0].cast_at, None,
        "`voter_scores` says who chose what, not when"
    );
    let documents = documents_of(&status.raw);
    let sources: Vec<&str> = documents.iter().map(|d| d.source.as_str()).collect();
    let members = format!(
        "GET /api/b2/memberships?group_id={}&limit=100&offset=0",
        fake.group_id
    );
    assert_eq!(
        sources,
        [format!("GET /api/b2/polls/{}", poll.id), members.clone()]
    );
    assert_eq!(
        documents[0].body,
        fetch(&fake, &format!("/api/b2/polls/{}", poll.id)).await
    );
    assert_eq!(
        documents[1].body,
        fetch(&fake, members.trim_start_matches("GET ")).await,
        "the documents are kept exactly as received"
    );

    backend.close(&handle.external_id).await.unwrap();
    let closing_at = fake.poll(poll.id).closing_at.unwrap();
    assert!(
        closing_at < poll.closing_at.unwrap(),
        "closing moved the closing time earlier"
    );
    let patches = fake.count("PATCH");
    backend.close(&handle.external_id).await.unwrap();
    assert_eq!(
        fake.count("PATCH"),
        patches,
        "a poll already closing that soon is left alone"
    );
    fake.expire_lapsed(closing_at);
    let closed = backend.status(&handle.external_id).await.unwrap();
    assert!(matches!(
        closed.state,
        VoteState::Closed { closed_at: Some(_) }
    ));
    backend.close(&handle.external_id).await.unwrap();
    assert_eq!(
        fake.count("PATCH"),
        patches,
        "closing a closed poll succeeds without a call"
    );
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_within_bounds() {
    let fake = FakeLoomio::start(KEY).await;
    let loomio = client(&fake);
    let options = vec!["Yes".to_string(), "No".to_string()];
    let poll = loomio
        .create_poll(&new_poll(&fake, &options), None)
        .await
        .unwrap()
        .value;
    let id = poll.id.to_string();

    fake.inject(Some("GET"), Fault::ServerError, 2);
    fake.inject(Some("GET"), Fault::TooManyRequests(Some("1".into())), 1);
    let before = fake.count("GET");
    assert_eq!(loomio.poll(&id).await.unwrap().value.id, poll.id);
    assert_eq!(
        fake.count("GET") - before,
        4,
        "two 500s and a 429, then the answer"
    );

    fake.inject(Some("GET"), Fault::ServerError, 4);
    let before = fake.count("GET");
    let error = loomio.poll(&id).await.unwrap_err();
    assert!(
        matches!(error, LoomioError::Status { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(
        fake.count("GET") - before,
        4,
        "at most the configured tries"
    );

    fake.inject(None, Fault::TooManyRequests(Some("120".into())), 1);
    let before = fake.count("GET");
    let error = loomio.poll(&id).await.unwrap_err();
    assert!(
        matches!(error, LoomioError::Status { status: 429, retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{error:?}"
    );
    assert_eq!(
        fake.count("GET") - before,
        1,
        "a wait past the limit is left to the caller"
    );
    let backend = LoomioBackend::new(client(&fake), fake.group_id);
    fake.inject(None, Fault::TooManyRequests(Some("120".into())), 1);
    assert!(matches!(
        backend.status(&id).await.unwrap_err(),
        VotingError::Unavailable { retry_after: Some(d), .. } if d == Duration::from_secs(120)
    ));
}

#[tokio::test]
async fn other_client_errors_are_never_retried() {
    let fake = FakeLoomio::start(KEY).await;
    let stranger = client_with(&fake, "not-a-key-of-anyone", Duration::from_secs(10), 4);
    let error = stranger.poll("1").await.unwrap_err();
    assert!(
        matches!(&error, LoomioError::Status { status: 403, detail, .. } if detail == "You are not authorized to access this page."),
        "{error:?}"
    );
    assert_eq!(fake.count("GET"), 1);

    let backend = LoomioBackend::new(client(&fake), fake.group_id);
    assert!(
        matches!(backend.status("999").await.unwrap_err(), VotingError::NotFound(id) if id == "999")
    );
    assert_eq!(fake.count("GET"), 2);

    let mut past = request(&["Yes", "No"], "");
    past.closes_at = Some(in_days(-1));
    assert!(matches!(
        backend.start(&past).await.unwrap_err(),
        VotingError::InvalidRequest(_)
    ));
    assert_eq!(fake.count("POST"), 0, "refused before any call");

    let loomio = client(&fake);
    let options = vec!["Yes".to_string(), "No".to_string()];
    let mut past_hour = new_poll(&fake, &options);
    // The last moment of the current hour: in the future, but not once rounded down.
    let now = jiff::Timestamp::now().as_millisecond();
    past_hour.closing_at = Timestamp(now - now.rem_euclid(3_600_000) + 3_599_999);
    let error = loomio.create_poll(&past_hour, None).await.unwrap_err();
    match error {
        LoomioError::Status {
            status: 422,
            detail,
            ..
        } => {
            assert_eq!(
                detail, "closing_at must be in the future",
                "Loomio rounds down to the hour"
            )
        }
        other => panic!("{other:?}"),
    }
    let elsewhere = LoomioBackend::new(client(&fake), fake.group_id + 100);
    assert!(matches!(
        elsewhere
            .start(&request(&["Yes", "No"], ""))
            .await
            .unwrap_err(),
        VotingError::Refused { status: 404, .. }
    ));
    assert_eq!(fake.count("POST"), 2);
}

#[tokio::test]
async fn refused_connections_and_timeouts_are_retried() {
    let fake = FakeLoomio::start(KEY).await;
    let loomio = client_with(&fake, KEY, Duration::from_millis(300), 3);
    let options = vec!["Yes".to_string(), "No".to_string()];
    let poll = loomio
        .create_poll(&new_poll(&fake, &options), None)
        .await
        .unwrap()
        .value;

    fake.inject(Some("GET"), Fault::Delay(Duration::from_secs(3)), 1);
    let before = fake.count("GET");
    assert_eq!(loomio.poll(&poll.key).await.unwrap().value.id, poll.id);
    assert_eq!(
        fake.count("GET") - before,
        2,
        "the slow try timed out and was retried"
    );

    fake.stop().await;
    let error = loomio.poll(&poll.key).await.unwrap_err();
    assert!(
        matches!(error, LoomioError::Unreachable { .. }),
        "{error:?}"
    );
    let backend = LoomioBackend::new(client(&fake), fake.group_id);
    assert!(matches!(
        backend
            .start(&request(&["Yes", "No"], ""))
            .await
            .unwrap_err(),
        VotingError::Unavailable {
            retry_after: None,
            ..
        }
    ));
    fake.resume().await;
    assert_eq!(loomio.poll(&poll.key).await.unwrap().value.id, poll.id);
}

#[tokio::test]
async fn a_create_that_reached_loomio_is_never_repeated() {
    let fake = FakeLoomio::start(KEY).await;
    let backend = LoomioBackend::new(client(&fake), fake.group_id);
    let marker = IntentMarker::new("forum", 7, "0123456789abcdef");
    let marked = request(&["Yes", "No"], &marker.append_to("Ann maintains the docs."));

    fake.inject(Some("POST"), Fault::ApplyThenFail, 1);
    let handle = backend.start(&marked).await.unwrap();
    assert_eq!(
        fake.polls().len(),
        1,
        "applied once, answered 500, found by its marker"
    );
    assert_eq!(handle.external_id, fake.polls()[0].id.to_string());
    assert!(fake.polls()[0].details.ends_with(marker.as_str()));

    let again = backend.start(&marked).await.unwrap();
    assert_eq!(
        again.external_id, handle.external_id,
        "a retried start finds its poll"
    );
    assert_eq!(fake.count("POST"), 1);

    let loomio = client(&fake);
    let options = vec!["Yes".to_string(), "No".to_string()];
    fake.inject(Some("POST"), Fault::ApplyThenFail, 1);
    let error = loomio
        .create_poll(&new_poll(&fake, &options), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, LoomioError::Status { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(
        fake.polls().len(),
        2,
        "without a marker an uncertain create is not repeated"
    );

    fake.inject(Some("POST"), Fault::TooManyRequests(None), 2);
    loomio
        .create_poll(&new_poll(&fake, &options), None)
        .await
        .unwrap();
    assert_eq!(
        fake.polls().len(),
        3,
        "a 429 never reached Loomio, so it is retried"
    );
}

#[tokio::test]
async fn no_error_carries_the_api_key() {
    let fake = FakeLoomio::start(KEY).await;
    let loomio = client(&fake);
    assert!(!format!("{loomio:?}").contains(KEY));
    fake.inject(None, Fault::EchoAuthorization, 1);
    let echoed = loomio.poll("1").await.unwrap_err();
    let text = format!("{echoed} {echoed:?}");
    assert!(text.contains("[redacted]"), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let backend = LoomioBackend::new(client(&fake), fake.group_id);
    fake.inject(Some("POST"), Fault::EchoAuthorization, 1);
    let refused = backend
        .start(&request(&["Yes", "No"], ""))
        .await
        .unwrap_err();
    assert!(matches!(refused, VotingError::Refused { status: 422, .. }));
    assert!(!format!("{refused} {refused:?}").contains(KEY));

    fake.stop().await;
    let down = backend.status("1").await.unwrap_err();
    assert!(!format!("{down} {down:?}").contains(KEY));
}
