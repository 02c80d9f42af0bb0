//! Discourse webhooks end to end through the router, on SQLite and PostgreSQL alike: signed
//! deliveries from the fake Discourse are stored once, applied once to the member registry and the
//! topic facts, and refused deliveries store nothing.

use crate::common;
use crate::support;

use common::{TestApp, TestDb, app};
use revshare_oracle::domain::{CommunitySlug, MemberId, TopicId, WalletAddress};
use serde_json::json;
use support::discourse::{FakeDiscourse, FakeTopic, FakeUser};

const SECRET: &str = "secret-at-least-12";
const BASE_URL: &str = "https://forum.example";

async fn forum(db: TestDb) -> (TestApp, FakeDiscourse, i64) {
    let app = app(db, |c| c.ingest.max_body_bytes = 8 * 1024).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$pool.example", "weight": 1}]))],
    )
    .await;
    let set = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/sources/discourse",
            json!({"base_url": BASE_URL, "webhook_secret": SECRET, "wallet_field": "Wallet",
                   "wallet_field_id": "1"}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    let id = app.state.snapshots.get(&forum_slug()).unwrap().id;
    (app, FakeDiscourse::new(BASE_URL, SECRET), id)
}

fn forum_slug() -> CommunitySlug {
    CommunitySlug::parse("forum").unwrap()
}

fn member(name: &str) -> MemberId {
    MemberId::parse(name).unwrap()
}

fn wallet(w: &str) -> WalletAddress {
    WalletAddress::parse(w).unwrap()
}

async fn the_fake_signs_the_documented_test_vector(db: TestDb) {
    let (app, fake, id) = forum(db).await;
    assert_eq!(
        support::discourse::sign(b"secret-at-least-12", br#"{"ping":"OK"}"#),
        "sha256=b9580a75b1bff932573f10232c839a3fd709af8d3f0251b9a63342fcf88cd240"
    );
    let ping = fake.ping();
    assert_eq!(ping.body, r#"{"ping":"OK"}"#);
    let reply = app.send(ping.request("forum")).await;
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["status"], "stored");
    app.state.ingest.drain().await.unwrap();
    let stored = app.state.store.deliveries(id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, r#"{"ping":"OK"}"#, "the raw body is kept");
    assert_eq!(stored[0].outcome.as_deref(), Some("ping"));
    let headers: serde_json::Value = serde_json::from_str(&stored[0].headers).unwrap();
    assert_eq!(headers["x-discourse-event-id"], ping.event_id.to_string());
    assert_eq!(headers["x-discourse-instance"], BASE_URL);
}

async fn the_same_event_delivered_three_times_is_stored_and_applied_once(db: TestDb) {
    let (app, fake, id) = forum(db).await;
    let ann = FakeUser::new(7, "ann", Some("$wallet.example/ann"));
    let created = fake.user_event("user_created", &ann);
    let statuses: Vec<u16> =
        futures_util::future::join_all((0..3).map(|_| app.send(created.request("forum"))))
            .await
            .iter()
            .map(|r| r.status.as_u16())
            .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [200, 200, 202],
        "one stored, two duplicates: {statuses:?}"
    );
    app.state.ingest.drain().await.unwrap();
    let counts = app.state.store.delivery_counts(id).await.unwrap();
    assert_eq!((counts.stored, counts.pending), (1, 0));
    assert_eq!(
        app.state
            .store
            .wallet_history(id, &member("ann"))
            .await
            .unwrap()
            .len(),
        1
    );

    // After processing, a redelivery changes nothing either.
    let again = app.send(created.request("forum")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "duplicate");
    assert_eq!(app.state.ingest.drain().await.unwrap(), 0);
    assert_eq!(app.state.store.delivery_counts(id).await.unwrap().stored, 1);
    assert_eq!(
        app.state
            .store
            .wallet_history(id, &member("ann"))
            .await
            .unwrap()
            .len(),
        1
    );
    // The same state sent under a new event id is stored, and changes nothing in the registry.
    let resent = fake.user_event("user_updated", &ann);
    assert_eq!(app.send(resent.request("forum")).await.status, 202);
    app.state.ingest.drain().await.unwrap();
    assert_eq!(
        app.state
            .store
            .wallet_history(id, &member("ann"))
            .await
            .unwrap()
            .len(),
        1,
        "a change is detected against the registry"
    );
}

async fn forged_unsigned_oversize_and_malformed_deliveries_store_nothing(db: TestDb) {
    let (app, fake, id) = forum(db).await;
    app.seed("quiet", &[]).await;
    let ann = FakeUser::new(7, "ann", Some("$wallet.example/ann"));
    let good = fake.user_event("user_updated", &ann);
    let forger = FakeDiscourse::new(BASE_URL, "another-secret-0000");

    let cases = [
        (
            "forged",
            forger.user_event("user_updated", &ann),
            "forum",
            401,
            "bad-signature",
        ),
        (
            "unsigned",
            good.with_header("x-discourse-event-signature", None),
            "forum",
            401,
            "bad-signature",
        ),
        (
            "not hex",
            good.with_header("x-discourse-event-signature", Some("sha256=xyz")),
            "forum",
            401,
            "bad-signature",
        ),
        (
            "tampered body",
            good.with_body(&good.body.replace("ann", "eve")),
            "forum",
            401,
            "bad-signature",
        ),
        (
            "other instance",
            good.with_header("x-discourse-instance", Some("https://evil.example")),
            "forum",
            401,
            "wrong-instance",
        ),
        (
            "no instance",
            good.with_header("x-discourse-instance", None),
            "forum",
            401,
            "wrong-instance",
        ),
        (
            "unknown community",
            good.clone(),
            "nowhere",
            404,
            "unknown-community",
        ),
        (
            "no Discourse settings",
            good.clone(),
            "quiet",
            404,
            "source-not-configured",
        ),
        (
            "oversize",
            fake.raw_delivery(
                "user_updated",
                "user",
                format!(
                    r#"{{"user":{{"id":7,"username":"ann","bio":"{}"}}}}"#,
                    "x".repeat(9000)
                ),
            ),
            "forum",
            413,
            "payload-too-large",
        ),
        (
            "malformed JSON",
            fake.raw_delivery("user_updated", "user", r#"{"user":{"id":7,"#.into()),
            "forum",
            400,
            "malformed-json",
        ),
        (
            "not Discourse's shape",
            fake.raw_delivery("user_updated", "user", r#"{"user":{"id":"seven"}}"#.into()),
            "forum",
            422,
            "invalid-field",
        ),
        (
            "no event id",
            good.with_header("x-discourse-event-id", None),
            "forum",
            400,
            "invalid-parameter",
        ),
    ];
    for (what, delivery, community, status, slug) in cases {
        let reply = app.send(delivery.request(community)).await;
        let problem = reply.assert_problem(status, slug);
        assert!(
            !problem.to_string().contains(SECRET),
            "{what}: the answer shows the secret"
        );
    }
    let counts = app.state.store.delivery_counts(id).await.unwrap();
    assert_eq!(counts.stored, 0, "a refused delivery stores nothing");
    assert!(
        app.state
            .store
            .member(id, &member("ann"))
            .await
            .unwrap()
            .is_none()
    );
    // And the genuine one still goes through.
    assert_eq!(app.send(good.request("forum")).await.status, 202);
}

async fn user_events_keep_the_registry_and_the_wallet_history(db: TestDb) {
    let (app, fake, id) = forum(db).await;
    app.admin(
        "PUT",
        "/v1/admin/communities/forum/splits",
        json!({"author_bps": 10000}),
    )
    .await;
    let ann = FakeUser::new(7, "ann", Some("$wallet.example/ann"));
    let steps = [
        fake.user_event("user_created", &ann),
        fake.user_event("user_updated", &ann),
        fake.user_event("user_updated", &ann.with_wallet(Some("$other.example/ann"))),
        fake.user_event(
            "user_promoted",
            &FakeUser {
                trust_level: 3,
                ..ann.clone()
            },
        ),
    ];
    for step in &steps {
        assert_eq!(app.send(step.request("forum")).await.status, 202);
    }
    app.state.ingest.drain().await.unwrap();
    let record = app
        .state
        .store
        .member(id, &member("ann"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.wallet, Some(wallet("$other.example/ann")));
    assert_eq!(record.trust_level, Some(3), "promoted");
    assert_eq!(record.groups, ["trust_level_0", "trust_level_1"]);
    let user = record.platform_user.unwrap();
    assert_eq!(
        (user.platform.as_str(), user.user_id.as_str()),
        ("discourse", "7")
    );
    let history = app
        .state
        .store
        .wallet_history(id, &member("ann"))
        .await
        .unwrap();
    let changes: Vec<_> = history
        .iter()
        .map(|h| (h.from.clone(), h.to.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (None, Some(wallet("$wallet.example/ann"))),
            (
                Some(wallet("$wallet.example/ann")),
                Some(wallet("$other.example/ann"))
            ),
        ],
        "an unchanged update and a promotion add no history"
    );
    assert!(
        history
            .iter()
            .all(|h| h.source == "discourse" && h.delivery_id.is_some())
    );

    // The registry feeds selection: the topic author's share goes to the new wallet.
    let topic = FakeTopic {
        id: 42,
        author: (7, "ann".into()),
        tags: vec![],
        category_id: 5,
        private: false,
    };
    assert_eq!(
        app.send(fake.topic_created(&topic).request("forum"))
            .await
            .status,
        202
    );
    app.state.ingest.drain().await.unwrap();
    let pick = app.get("/v1/communities/forum/topics/42/pick?seed=1").await;
    assert_eq!(pick.status, 200, "{}", String::from_utf8_lossy(&pick.body));
    assert!(
        pick.body.windows(9).any(|w| w == b"other.exa"),
        "{}",
        String::from_utf8_lossy(&pick.body)
    );

    // A cleared field clears the wallet, and says so in the history.
    let cleared = fake.user_event("user_updated", &ann.with_wallet(None));
    assert_eq!(app.send(cleared.request("forum")).await.status, 202);
    app.state.ingest.drain().await.unwrap();
    let record = app
        .state
        .store
        .member(id, &member("ann"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.wallet, None);
    assert_eq!(
        app.state
            .store
            .wallet_history(id, &member("ann"))
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn topic_and_post_events_record_the_topic_facts(db: TestDb) {
    let (app, fake, id) = forum(db).await;
    let topic = FakeTopic {
        id: 42,
        author: (7, "ann".into()),
        tags: vec!["dev".into(), "docs".into()],
        category_id: 5,
        private: false,
    };
    let private = FakeTopic {
        id: 43,
        private: true,
        ..topic.clone()
    };
    for delivery in [
        fake.topic_created(&topic),
        fake.post_created(&topic, 1, (7, "ann")),
        fake.post_created(&topic, 2, (8, "bob")),
        fake.post_created(&topic, 3, (9, "cid")),
        fake.post_created(&topic, 4, (8, "bob")),
        fake.topic_created(&private),
        fake.post_created(&private, 2, (8, "bob")),
    ] {
        assert_eq!(app.send(delivery.request("forum")).await.status, 202);
    }
    app.state.ingest.drain().await.unwrap();
    let (facts, category) = app
        .state
        .store
        .topic_record(id, &TopicId::parse("42").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.author, member("ann"));
    assert_eq!(facts.participants, [member("bob"), member("cid")]);
    let tags: Vec<&str> = facts.tags.iter().map(|t| t.as_str()).collect();
    assert_eq!(tags, ["dev", "docs"]);
    assert_eq!(category.as_deref(), Some("5"));
    assert!(
        app.state
            .store
            .topic_record(id, &TopicId::parse("43").unwrap())
            .await
            .unwrap()
            .is_none(),
        "private messages are not recorded"
    );
    let topic_view = app.get("/v1/communities/forum/topics/42").await.json();
    assert_eq!(topic_view["known"], true, "{topic_view}");
}

async fn the_webhook_secret_never_shows(db: TestDb) {
    let (app, _, _) = forum(db).await;
    let shown = app
        .get_admin("/v1/admin/communities/forum/sources/discourse")
        .await;
    assert_eq!(shown.status, 200);
    let json = shown.json();
    assert_eq!(json["base_url"], BASE_URL);
    assert_eq!(json["wallet_field_id"], "1");
    assert_eq!(json["webhook_secret_set"], true);
    assert!(!String::from_utf8_lossy(&shown.body).contains(SECRET));
    let short = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/sources/discourse",
            json!({"base_url": "forum.example", "webhook_secret": "too-short", "wallet_field": "",
                   "wallet_field_id": "one"}),
        )
        .await;
    let problem = short.assert_problem(422, "invalid-field");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "base_url",
            "webhook_secret",
            "wallet_field",
            "wallet_field_id"
        ]
    );
    assert!(!problem.to_string().contains("too-short"));
    let id = app.state.snapshots.get(&forum_slug()).unwrap().id;
    let source = app.state.store.discourse_source(id).await.unwrap().unwrap();
    assert!(
        !format!("{source:?}").contains(SECRET),
        "Debug hides the secret"
    );
}

on_both_databases!(
    the_fake_signs_the_documented_test_vector,
    the_same_event_delivered_three_times_is_stored_and_applied_once,
    forged_unsigned_oversize_and_malformed_deliveries_store_nothing,
    user_events_keep_the_registry_and_the_wallet_history,
    topic_and_post_events_record_the_topic_facts,
    the_webhook_secret_never_shows,
);
