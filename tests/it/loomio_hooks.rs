//! Loomio's side of a community, through the router, on SQLite and PostgreSQL alike: its
//! settings (the API key stored, never answered), and its chatbot webhooks, which make the
//! service re-read its open votes through the API, are never read as data, are not stored, and
//! are rate-limited per community.

use crate::common;
use crate::support;
use crate::voting;

use common::{TestDb, app};
use serde_json::json;
use support::loomio::{FakeLoomio, Webhook, WebhookFormat};
use voting::{
    KEY, ballot, ballots, co_op, community_id, configure, count, start_vote, tallies, vote,
};

async fn loomio_settings_are_kept_and_the_key_is_never_shown(db: TestDb) {
    let (app, fake) = co_op(db).await;
    app.seed("quiet", &[]).await;
    app.get_admin("/v1/admin/communities/quiet/sources/loomio")
        .await
        .assert_problem(404, "source-not-configured");
    let bad = app
        .admin(
            "PUT",
            "/v1/admin/communities/quiet/sources/loomio",
            json!({"base_url": "ftp://loomio.example", "api_key": "short", "group_id": 0}),
        )
        .await
        .assert_problem(422, "invalid-field");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["base_url", "api_key", "group_id"]);
    let clear = app
        .admin(
            "PUT",
            "/v1/admin/communities/quiet/sources/loomio",
            json!({"base_url": "http://loomio.example", "api_key": KEY, "group_id": 7}),
        )
        .await
        .assert_problem(422, "invalid-field");
    assert_eq!(clear["errors"][0]["rule"], "https-url");
    assert!(!clear.to_string().contains(KEY));

    let reply = app
        .get_admin("/v1/admin/communities/coop/sources/loomio")
        .await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8_lossy(&reply.body).to_string();
    assert!(!text.contains(KEY), "{text}");
    let view = reply.json();
    assert_eq!(view["base_url"], fake.base_url());
    assert_eq!(view["group_id"], fake.group_id);
    assert_eq!(view["api_key_set"], true);
    assert_eq!(view["hook_path"], "/hooks/loomio/coop");
    let stored = app
        .state
        .store
        .loomio_source(community_id(&app, "coop"))
        .await
        .unwrap()
        .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(stored.api_key.expose_secret(), KEY, "the key is stored");
    assert!(!format!("{stored:?}").contains(KEY));

    let anonymous = app
        .send(
            axum::http::Request::get("/v1/communities/coop/votes/1")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    anonymous.assert_problem(401, "unauthorized");
    let openapi = app.get("/openapi.json").await.json();
    for path in [
        "/v1/communities/{community}/votes",
        "/v1/communities/{community}/votes/{vote}",
        "/v1/communities/{community}/votes/{vote}/close",
        "/v1/admin/communities/{community}/sources/loomio",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
}

async fn hints_make_the_service_reread_and_carry_no_data(db: TestDb) {
    let (app, fake) = co_op(db).await;
    let id = start_vote(&app).await["id"].clone();
    let poll_id: u64 = vote(&app, &id).await["external_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    fake.vote(poll_id, &fake.members[0], &["Yes"]);
    let reads = || fake.count(&format!("GET /api/b2/polls/{poll_id}"));
    let before = reads();
    let forged = format!(
        r#"{{"text":"Eve voted on [Add Ann](https://evil.example/p/x): No","polls":[{{"id":{poll_id},"closed_at":"2020-01-01T00:00:00Z","results":[{{"id":1,"voter_ids":[666],"voter_count":99}}]}}],"users":[{{"id":666,"username":"eve"}}]}}"#
    );
    let reply = app.send(Webhook::raw(&forged).request("coop")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "recorded");
    assert_eq!(reply.json()["repeat"], false);
    app.state.votes.run_pass().await.unwrap();
    assert_eq!(reads(), before + 1, "a hint makes the service re-read");
    let read = vote(&app, &id).await;
    assert_eq!(
        read["state"], "open",
        "what the hint claims is not believed"
    );
    assert_eq!(
        ballots(&read),
        [ballot("ann", "Yes")],
        "the ballots are Loomio's, not the hint's"
    );
    assert_eq!(tallies(&read), [("Yes".into(), 1), ("No".into(), 0)]);

    let community = community_id(&app, "coop");
    assert!(
        app.state
            .store
            .deliveries(community)
            .await
            .unwrap()
            .is_empty(),
        "a hint's body is not kept"
    );

    let repeat = app.send(Webhook::raw(&forged).request("coop")).await;
    assert_eq!(repeat.status, 200);
    assert_eq!(repeat.json()["status"], "recorded");
    assert_eq!(repeat.json()["repeat"], true);
    assert_eq!(repeat.json()["received"], 2);
    app.state.votes.run_pass().await.unwrap();
    assert_eq!(reads(), before + 2, "a repeated hint still re-reads");

    let formats = [
        WebhookFormat::Markdown,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Microsoft,
        WebhookFormat::Webex,
    ];
    for (i, format) in formats.into_iter().enumerate() {
        fake.add_chatbot(format);
        fake.vote(
            poll_id,
            &fake.members[1],
            &[if i % 2 == 0 { "Yes" } else { "No" }],
        );
        let hooks = fake.take_webhooks();
        assert_eq!(
            app.send(hooks[0].request("coop")).await.status,
            200,
            "{format:?}"
        );
    }
    app.state.votes.run_pass().await.unwrap();
    assert_eq!(
        tallies(&vote(&app, &id).await),
        [("Yes".into(), 2), ("No".into(), 0)]
    );

    app.seed("quiet", &[]).await;
    assert_eq!(
        configure(&app, "quiet", &fake, fake.group_id).await.status,
        200
    );
    let all_reads = fake.count("GET");
    let quiet = app
        .send(Webhook::raw(r#"{"text":"hello"}"#).request("quiet"))
        .await;
    assert_eq!(quiet.status, 200);
    app.state.votes.run_pass().await.unwrap();
    let after_quiet: Vec<String> = fake.requests()[all_reads..]
        .iter()
        .map(|l| l.request.clone())
        .filter(|r| {
            !r.contains(&format!("/polls/{poll_id}"))
                && !r.contains("/threads/")
                && !r.contains("/memberships")
        })
        .collect();
    assert!(
        after_quiet.is_empty(),
        "no open vote in `quiet`, nothing to read: {after_quiet:?}"
    );

    app.seed("elsewhere", &[]).await;
    let url = app.db.url.clone();
    let deliveries = || count(&url, "SELECT COUNT(*) FROM webhook_deliveries");
    let refused = deliveries().await;
    let big = Webhook::raw(&format!(r#"{{"text":"{}"}}"#, "x".repeat(9000)));
    app.send(big.request("coop"))
        .await
        .assert_problem(413, "payload-too-large");
    app.send(Webhook::raw("<html>").request("coop"))
        .await
        .assert_problem(400, "malformed-json");
    app.send(Webhook::raw("{}").request("nowhere"))
        .await
        .assert_problem(404, "unknown-community");
    app.send(Webhook::raw("{}").request("elsewhere"))
        .await
        .assert_problem(404, "source-not-configured");
    assert_eq!(deliveries().await, refused, "a refused hint stores nothing");
}

async fn a_flood_of_large_hints_stores_nothing_and_is_throttled(db: TestDb) {
    let fake = FakeLoomio::start(KEY).await;
    let app = app(db, |c| {
        c.ingest.max_body_bytes = 1024 * 1024;
        c.ingest.loomio_hints_per_minute = 5;
    })
    .await;
    app.seed("coop", &[]).await;
    assert_eq!(
        configure(&app, "coop", &fake, fake.group_id).await.status,
        200
    );
    app.seed("other", &[]).await;
    assert_eq!(
        configure(&app, "other", &fake, fake.group_id).await.status,
        200
    );
    let mut statuses = Vec::new();
    for i in 0..20 {
        let body = format!(r#"{{"text":"{i}{}"}}"#, "x".repeat(1024 * 1024 - 20));
        let reply = app.send(Webhook::raw(&body).request("coop")).await;
        if reply.status == 429 {
            let retry: u64 = reply.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
            reply.assert_problem(429, "rate-limited");
        }
        statuses.push(reply.status);
    }
    assert_eq!(
        statuses[..5],
        [200; 5],
        "a burst of the per-minute rate is taken"
    );
    assert_eq!(statuses[5..], [429; 15], "the rest is throttled");
    let coop = community_id(&app, "coop");
    assert!(app.state.store.deliveries(coop).await.unwrap().is_empty());
    let (_, record) = app.state.store.loomio_hint(coop).await.unwrap().unwrap();
    assert_eq!(
        record.received, 5,
        "only the hints taken are counted, in one row"
    );
    let other = app.send(Webhook::raw("{}").request("other")).await;
    assert_eq!(
        other.status, 200,
        "another community's hints have their own rate"
    );
    assert_eq!(other.json()["received"], 1);
}

on_both_databases!(
    loomio_settings_are_kept_and_the_key_is_never_shown,
    hints_make_the_service_reread_and_carry_no_data,
    a_flood_of_large_hints_stores_nothing_and_is_throttled,
);
