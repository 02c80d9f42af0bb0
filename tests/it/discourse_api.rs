//! The Discourse API client against the fake Discourse over loopback: every call, the option-id
//! vector, retries of server errors and refused connections, timeouts, 4xx that are not retried,
//! a storm of 429s ridden out together, and keys that never show.

use crate::support;

use std::future::IntoFuture;
use std::time::Duration;

use axum::http::Method;
use revshare_oracle::config::DiscourseApiConfig;
use revshare_oracle::sources::discourse::{
    ApiError, DiscourseClient, DiscourseSites, NewPost, PollSpec, option_digest,
};
use revshare_oracle::voting::{Electorate, VoteRequest};
use support::discourse_api::{API_USERNAME, FakeDiscourseApi};
use support::discourse_site::digest;

fn config() -> DiscourseApiConfig {
    DiscourseApiConfig {
        timeout_ms: 5_000,
        attempts: 4,
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        ..DiscourseApiConfig::default()
    }
}

fn client_with(fake: &FakeDiscourseApi, config: &DiscourseApiConfig) -> DiscourseClient {
    let sites = DiscourseSites::new(config).unwrap();
    DiscourseClient::new(
        &sites,
        &fake.base_url,
        fake.api_key.clone().into(),
        API_USERNAME,
    )
}

fn client(fake: &FakeDiscourseApi) -> DiscourseClient {
    client_with(fake, &config())
}

fn poll_markup(options: &[&str]) -> String {
    PollSpec::from_request(&VoteRequest {
        title: "Add Ann to the default pool".into(),
        details: "Ann wrote the docs.".into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        closes_at: None,
        electorate: Electorate::default(),
    })
    .unwrap()
    .markup()
}

async fn reply_with_poll(client: &DiscourseClient, options: &[&str]) -> i64 {
    client
        .create_post(&NewPost::Reply {
            topic_id: 10,
            raw: format!("**Vote**\n\n{}", poll_markup(options)),
        })
        .await
        .unwrap()
        .post_id
}

#[tokio::test]
async fn the_service_and_the_fake_agree_with_discourse_on_option_ids() {
    assert_eq!(option_digest("Yes"), "277962ea3b8227e06ed3eb378fbdba0d");
    assert_eq!(digest("Yes"), "277962ea3b8227e06ed3eb378fbdba0d");
    for text in [
        "No",
        "Ann & Bob",
        "Ünïcode \"quoted\" \\ back/slash",
        "tab\there",
        "\u{1}",
    ] {
        assert_eq!(option_digest(text), digest(text), "{text:?}");
    }
}

#[tokio::test]
async fn a_poll_is_posted_read_and_closed() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let client = client(&fake);
    let created = client
        .create_post(&NewPost::Reply {
            topic_id: 10,
            raw: poll_markup(&["Yes", "No"]),
        })
        .await
        .unwrap();
    assert_eq!(created.topic_id, 10);
    assert_eq!(
        created.url,
        format!("{}/t/governance-votes/10/2", fake.base_url)
    );
    fake.add_user(7, "ann", &[]);
    fake.vote(created.post_id, "revshare", "ann", "Yes")
        .unwrap();

    let (post, raw) = client.post(created.post_id).await.unwrap();
    assert_eq!(raw.path, format!("/posts/{}.json", created.post_id));
    assert_eq!(raw.status, 200);
    let as_sent: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    assert_eq!(
        as_sent["id"], created.post_id,
        "the raw body is the document"
    );
    let poll = &post.polls[0];
    assert_eq!(poll.name, "revshare");
    assert!(poll.public);
    assert_eq!(poll.status, "open");
    let ids: Vec<&str> = poll.options.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [option_digest("Yes"), option_digest("No")]);
    assert_eq!(poll.options[0].votes, Some(1));

    client
        .set_poll_status(created.post_id, "revshare", true)
        .await
        .unwrap();
    client
        .set_poll_status(created.post_id, "revshare", true)
        .await
        .expect("closing a closed poll succeeds");
    assert_eq!(
        fake.poll_status(created.post_id, "revshare").as_deref(),
        Some("closed")
    );
    assert!(fake.vote(created.post_id, "revshare", "ann", "No").is_err());
    let missing = client
        .set_poll_status(created.post_id, "nope", true)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ApiError::Refused { status: 422, .. }),
        "{missing:?}"
    );
    assert!(matches!(
        client.post(9_999).await.unwrap_err(),
        ApiError::NotFound { .. }
    ));
}

#[tokio::test]
async fn voters_are_read_fifty_a_page_in_voting_order() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let client = client(&fake);
    let post = reply_with_poll(&client, &["Yes", "No"]).await;
    let names = fake.add_voters(1_000, 120);
    for name in &names {
        fake.vote(post, "revshare", name, "Yes").unwrap();
    }
    let (voters, pages) = client
        .poll_voters(post, "revshare", &option_digest("Yes"))
        .await
        .unwrap();
    assert_eq!(voters.len(), 120);
    assert_eq!(voters[0].username, "voter1");
    assert_eq!(voters[119].username, "voter120");
    assert_eq!(pages.len(), 3, "50 + 50 + 20");
    assert!(
        pages[2].path.contains("page=3&limit=50"),
        "{}",
        pages[2].path
    );
    let (page, _) = client
        .poll_voters_page(post, "revshare", &option_digest("Yes"), 2, 500)
        .await
        .unwrap();
    assert_eq!(page.len(), 50, "the limit is at most 50");
    assert_eq!(page[0].username, "voter51");
    let (empty, _) = client
        .poll_voters(post, "revshare", &option_digest("No"))
        .await
        .unwrap();
    assert!(empty.is_empty());
    let unknown = client
        .poll_voters_page(post, "revshare", &option_digest("Maybe"), 1, 50)
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, ApiError::Refused { status: 400, detail, .. } if detail.contains("option_id")),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn users_and_custom_fields_are_read() {
    let fake = FakeDiscourseApi::start(&[(1, "City"), (4, "Wallet")]).await;
    let client = client(&fake);
    fake.add_user(7, "ann", &[("4", "$wallet.example/ann")]);
    let ann = client.user("ann").await.unwrap();
    assert_eq!((ann.id, ann.trust_level), (7, 1));
    let groups: Vec<&str> = ann.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["trust_level_0", "trust_level_1"]);
    assert_eq!(ann.user_fields.unwrap()["4"], "$wallet.example/ann");

    fake.promote("ann", 3);
    fake.add_to_group("ann", "stewards");
    let ann = client.user("ann").await.unwrap();
    assert_eq!(ann.trust_level, 3);
    assert!(ann.groups.iter().any(|g| g.name == "trust_level_3"));
    assert!(ann.groups.iter().any(|g| g.name == "stewards"));
    assert!(matches!(
        client.user("nobody").await.unwrap_err(),
        ApiError::NotFound { .. }
    ));

    let fields = client.user_fields().await.unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!(client.user_field_id("Wallet").await.unwrap(), Ok(4));
    assert_eq!(client.user_field_id("wallet").await.unwrap(), Ok(4));
    assert_eq!(
        client.user_field_id("Payment pointer").await.unwrap(),
        Err(vec!["City".to_string(), "Wallet".to_string()])
    );
}

#[tokio::test]
async fn a_private_message_sent_twice_under_one_external_id_exists_once() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let client = client(&fake);
    fake.add_user(7, "ann", &[]);
    let pm = |to: &str, external_id: &str| NewPost::PrivateMessage {
        title: "A vote is underway".into(),
        raw: "Vote on adding Ann.".into(),
        recipients: vec![to.into()],
        external_id: external_id.into(),
    };
    let message = pm("ann", "revshare-pm-test-1");
    let first = client.create_post(&message).await.unwrap();
    let again = client.create_post(&message).await.unwrap();
    assert_eq!(again.post_id, first.post_id);
    assert_eq!(again.topic_id, first.topic_id);
    let sent = fake.private_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipients, ["ann"]);
    assert_eq!(sent[0].title, "A vote is underway");
    assert_eq!(sent[0].external_id.as_deref(), Some("revshare-pm-test-1"));

    let nobody = client
        .create_post(&pm("nobody", "revshare-pm-test-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&nobody, ApiError::Refused { status: 422, detail, .. } if detail.contains("nobody")),
        "{nobody:?}"
    );
    let bad_id = client
        .create_post(&pm("ann", "not a valid id"))
        .await
        .unwrap_err();
    assert!(matches!(bad_id, ApiError::Invalid(_)));
    assert_eq!(fake.private_messages().len(), 1);
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_never_shown() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let secret = "the-wrong-key-that-must-not-leak";
    let sites = DiscourseSites::new(&config()).unwrap();
    let client = DiscourseClient::new(&sites, &fake.base_url, secret.to_string().into(), "system");
    let err = client.user("system").await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Refused { status: 403, detail, .. } if detail.contains("invalid_access")),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains(secret), "{text}");
    }
    assert_eq!(fake.requests().len(), 1, "a 403 is not retried");
}

#[tokio::test]
async fn server_errors_are_retried_and_other_client_errors_are_not() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let client = client(&fake);
    fake.fail_next(2);
    client.user("system").await.expect("the third try succeeds");
    assert_eq!(fake.count(Method::GET, "/u/"), 3);

    fake.fail_next(100);
    let err = client.user("system").await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Unavailable { detail, .. } if detail.contains("500")),
        "{err:?}"
    );
    assert_eq!(fake.count(Method::GET, "/u/"), 3 + 4, "four tries");
    fake.fail_next(0);

    let before = fake.requests().len();
    client.user("nobody").await.unwrap_err();
    assert_eq!(fake.requests().len(), before + 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_refused_connection_is_retried_until_the_site_is_back() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let patient = DiscourseApiConfig {
        attempts: 200,
        backoff_base_ms: 20,
        backoff_max_ms: 100,
        ..config()
    };
    let client = client_with(&fake, &patient);
    client.user("system").await.unwrap();
    fake.go_down().await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.user("system").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!call.is_finished(), "the call waits for the site");
    fake.come_back();
    call.await
        .unwrap()
        .expect("the call succeeds once the site is back");

    fake.go_down().await;
    let impatient = client_with(&fake, &config());
    let err = impatient.user("system").await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Unavailable { detail, .. } if detail.contains("connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_call_has_a_timeout_and_an_unguarded_creation_is_not_repeated() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let hasty = DiscourseApiConfig {
        timeout_ms: 150,
        attempts: 2,
        ..config()
    };
    let client = client_with(&fake, &hasty);
    fake.slow(Some(Duration::from_secs(3)));
    let err = client.user("system").await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Unavailable { detail, .. } if detail.contains("timed out")),
        "{err:?}"
    );
    let err = client
        .create_post(&NewPost::Reply {
            topic_id: 10,
            raw: poll_markup(&["Yes", "No"]),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Unavailable { .. }), "{err:?}");
    fake.slow(None);
    assert_eq!(
        fake.count(Method::POST, "/posts.json"),
        1,
        "a reply that may have been posted is not sent again"
    );
    assert!(
        fake.post_raw(101).is_some(),
        "the fake acted on it before answering late"
    );
}

#[tokio::test]
async fn a_long_rate_limit_fails_the_call_with_the_wait() {
    let fake = FakeDiscourseApi::start(&[]).await;
    let client = client(&fake);
    fake.rate_limit_next(1, 86_400);
    let err = client.user("system").await.unwrap_err();
    assert!(
        matches!(err, ApiError::Unavailable { retry_after: Some(wait), .. } if wait == Duration::from_secs(86_400)),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_429_storm_is_waited_out_together_without_losing_a_call() {
    const CALLS: usize = 16;
    let fake = FakeDiscourseApi::start(&[]).await;
    let sites = DiscourseSites::new(&config()).unwrap();
    let client = DiscourseClient::new(
        &sites,
        &fake.base_url,
        fake.api_key.clone().into(),
        API_USERNAME,
    );
    let window = Duration::from_secs(2);
    fake.rate_limit_window(window);
    let call = |i: usize| {
        let client = client.clone();
        tokio::spawn(async move {
            if i.is_multiple_of(2) {
                client.post(100).await.map(|(post, _)| post.id)
            } else {
                client.user("system").await.map(|user| user.id)
            }
        })
    };
    let first: Vec<_> = (0..CALLS).map(call).collect();
    let mut polls = 0;
    while sites.rate_limited(&fake.base_url).is_none() {
        polls += 1;
        assert!(polls < 10_000, "the client never heard the 429");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The second wave starts after the site said to wait: it must wait without asking.
    let second: Vec<_> = (0..CALLS).map(call).collect();
    for handle in first.into_iter().chain(second) {
        let id = handle.await.unwrap().expect("no call is dropped");
        assert!(id == 100 || id == -1, "{id}");
    }
    let end = fake.window_end().expect("the window started");
    let start = end - window;
    let log = fake.requests();
    let during = log.iter().filter(|r| r.at >= start && r.at < end).count();
    let after = log.iter().filter(|r| r.at >= end).count();
    assert!(
        during <= CALLS,
        "{during} requests during the wait: only the first wave's one each may arrive"
    );
    assert_eq!(
        after,
        2 * CALLS,
        "every call succeeded once the wait was over"
    );
    assert!(log.iter().filter(|r| r.at >= end).all(|r| r.status == 200));
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_with_the_key() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = elsewhere.local_addr().unwrap();
    tokio::spawn(
        axum::serve(
            elsewhere,
            axum::Router::new().fallback(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { "{}" }
            }),
        )
        .into_future(),
    );
    let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", redirecting.local_addr().unwrap());
    let target = format!("http://localhost:{}/u/system.json", other.port());
    tokio::spawn(
        axum::serve(
            redirecting,
            axum::Router::new().fallback(move || {
                let target = target.clone();
                async move { axum::response::Redirect::temporary(&target) }
            }),
        )
        .into_future(),
    );
    let sites = DiscourseSites::new(&config()).unwrap();
    let client = DiscourseClient::new(&sites, &site, "a-key".to_string().into(), "system");
    let err = client.user("system").await.unwrap_err();
    assert!(
        matches!(err, ApiError::Refused { status: 307, .. }),
        "{err:?}"
    );
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "the key stays on its site"
    );
}
