//! Discourse through the standard voting trait, against the fake Discourse over loopback: start a
//! poll (in a topic or as a new topic in a category), members vote and change their minds, the
//! status reads every ballot across several voter pages, even through a storm of 429s, and the
//! poll closes (twice without harm).

use crate::support;

use std::sync::Arc;

use revshare_oracle::config::DiscourseApiConfig;
use revshare_oracle::sources::discourse::{
    DiscourseClient, DiscourseSites, DiscourseVoting, PollDestination,
};
use revshare_oracle::voting::{Electorate, VoteRequest, VoteState, VotingBackend, VotingError};
use support::discourse_api::{API_USERNAME, FakeDiscourseApi};

fn backend(fake: &FakeDiscourseApi, destination: PollDestination) -> Arc<dyn VotingBackend> {
    let sites = DiscourseSites::new(&DiscourseApiConfig {
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        ..DiscourseApiConfig::default()
    })
    .unwrap();
    let client = DiscourseClient::new(
        &sites,
        &fake.base_url,
        fake.api_key.clone().into(),
        API_USERNAME,
    );
    Arc::new(DiscourseVoting::new(client, destination))
}

fn request() -> VoteRequest {
    VoteRequest {
        title: "Add Ann to the default pool".into(),
        details: "Ann wrote the docs; her wallet is `$wallet.example/ann`.".into(),
        options: vec!["Yes".into(), "No".into()],
        closes_at: None,
        electorate: Electorate::default(),
    }
}

fn post_id(external_id: &str) -> i64 {
    external_id.split('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_vote_is_started_read_across_voter_pages_and_closed() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let voting = backend(&fake, PollDestination::Topic(10));
    assert_eq!(voting.name(), "discourse");
    let handle = voting.start(&request()).await.unwrap();
    assert_eq!(handle.backend, "discourse");
    let post = post_id(&handle.external_id);
    assert_eq!(handle.external_id, format!("{post}/revshare"));
    assert_eq!(
        handle.url.as_deref(),
        Some(format!("{}/t/governance-votes/10/2", fake.base_url).as_str())
    );
    let raw = fake.post_raw(post).unwrap();
    assert!(
        raw.starts_with("**Add Ann to the default pool**\n\nAnn wrote the docs"),
        "{raw}"
    );
    assert!(
        raw.contains("[poll type=regular results=always public=true"),
        "{raw}"
    );

    let open = voting.status(&handle.external_id).await.unwrap();
    assert_eq!(open.state, VoteState::Open);
    assert!(open.ballots.is_empty());
    assert_eq!(open.tallies[0].option, "Yes");
    assert_eq!(open.tallies[0].votes, 0);

    let voters = fake.add_voters(1_000, 130);
    for (i, name) in voters.iter().enumerate() {
        let choice = if i < 80 { "Yes" } else { "No" };
        fake.vote(post, "revshare", name, choice).unwrap();
    }
    fake.withdraw(post, "revshare", "voter3");
    fake.vote(post, "revshare", "voter4", "No").unwrap();

    // Two voter pages for "Yes" (78 voters) and two for "No" (51), read through 429s.
    fake.rate_limit_next(3, 1);
    let status = voting.status(&handle.external_id).await.unwrap();
    assert_eq!(status.state, VoteState::Open);
    let tallies: Vec<(&str, u64)> = status
        .tallies
        .iter()
        .map(|t| (t.option.as_str(), t.votes))
        .collect();
    assert_eq!(tallies, [("Yes", 78), ("No", 51)]);
    assert_eq!(status.ballots.len(), 129, "no vote is lost");
    let four = status
        .ballots
        .iter()
        .find(|b| b.voter.username == "voter4")
        .unwrap();
    assert_eq!(four.choices, ["No"]);
    assert_eq!(four.voter.platform, "discourse");
    assert_eq!(four.voter.user_id, "1003");
    assert!(status.ballots.iter().all(|b| b.voter.username != "voter3"));

    let documents = status.raw["documents"].as_array().unwrap();
    assert_eq!(
        documents.len(),
        1 + 2 + 2,
        "the post, then two pages per option"
    );
    assert_eq!(documents[0]["path"], format!("/posts/{post}.json"));
    let post_doc: serde_json::Value =
        serde_json::from_str(documents[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(post_doc["polls"][0]["voters"], 129);
    assert_eq!(status.raw["base_url"], fake.base_url);

    voting.close(&handle.external_id).await.unwrap();
    voting
        .close(&handle.external_id)
        .await
        .expect("closing a closed vote succeeds");
    assert_eq!(
        fake.poll_status(post, "revshare").as_deref(),
        Some("closed")
    );
    let closed = voting.status(&handle.external_id).await.unwrap();
    assert!(matches!(closed.state, VoteState::Closed { .. }));
    assert_eq!(closed.ballots.len(), 129);
}

#[tokio::test]
async fn a_vote_in_a_category_is_a_new_topic_and_groups_limit_who_votes() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let voting = backend(&fake, PollDestination::Category(6));
    let mut ask = request();
    ask.title = "Should the dev pool include Bob?".into();
    ask.electorate.min_trust_level = Some(2);
    let handle = voting.start(&ask).await.unwrap();
    let post = post_id(&handle.external_id);
    let (topic, title, category) = fake.topic_of(post).unwrap();
    assert_ne!(topic, 10);
    assert_eq!(title, "Should the dev pool include Bob?");
    assert_eq!(category, Some(6));
    assert!(
        fake.post_raw(post)
            .unwrap()
            .contains("groups=trust_level_2")
    );

    fake.add_user(7, "ann", &[]);
    assert!(
        fake.vote(post, "revshare", "ann", "Yes").is_err(),
        "trust level 1"
    );
    fake.promote("ann", 2);
    fake.vote(post, "revshare", "ann", "Yes").unwrap();
    let status = voting.status(&handle.external_id).await.unwrap();
    assert_eq!(status.ballots.len(), 1);
    assert_eq!(status.ballots[0].choices, ["Yes"]);
}

#[tokio::test]
async fn bad_requests_and_unknown_votes_are_told_apart() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let voting = backend(&fake, PollDestination::Topic(10));
    let mut bad = request();
    bad.options = vec!["Yes".into(), "Yes".into()];
    assert!(matches!(
        voting.start(&bad).await,
        Err(VotingError::InvalidRequest(_))
    ));
    assert!(
        fake.requests().is_empty(),
        "nothing is sent for a bad request"
    );
    for unknown in ["9999/revshare", "100/revshare", "junk"] {
        assert!(
            matches!(voting.status(unknown).await, Err(VotingError::NotFound(_))),
            "{unknown}"
        );
    }
    let short = backend(&fake, PollDestination::Category(6));
    let mut titled = request();
    titled.title = "Add Ann?".into();
    let refused = short.start(&titled).await.unwrap_err();
    assert!(
        matches!(&refused, VotingError::Refused { status: 422, detail } if detail.contains("Title")),
        "{refused:?}"
    );
    fake.go_down().await;
    assert!(matches!(
        voting.status("100/revshare").await,
        Err(VotingError::Unavailable { .. })
    ));
}
