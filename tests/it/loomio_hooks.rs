//! Loomio's side of a community, through the router, on SQLite and PostgreSQL alike: its
//! settings (the API key stored, never answered), and its chatbot webhooks, which are stored and
//! make the service re-read its open votes through the API, and are never read as data.

use crate::common;
use crate::support;
use crate::voting;

use common::TestDb;
use serde_json::json;
use support::loomio::{Webhook, WebhookFormat};
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
    assert_eq!(reply.json()["status"], "stored");
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
    let stored = app.state.store.deliveries(community).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, forged, "the delivery is stored as received");
    assert_eq!(stored[0].event, "hint");
    assert!(stored[0].event_id.starts_with("sha256:"));
    app.state.ingest.drain().await.unwrap();
    let stored = app.state.store.deliveries(community).await.unwrap();
    assert!(
        stored[0].outcome.as_deref().unwrap().starts_with("hint"),
        "{:?}",
        stored[0].outcome
    );

    let duplicate = app.send(Webhook::raw(&forged).request("coop")).await;
    assert_eq!(duplicate.status, 200);
    assert_eq!(duplicate.json()["status"], "duplicate");
    app.state.votes.run_pass().await.unwrap();
    assert_eq!(
        reads(),
        before + 2,
        "a repeated hint is stored once and still re-reads"
    );
    assert_eq!(
        app.state
            .store
            .delivery_counts(community)
            .await
            .unwrap()
            .stored,
        1
    );

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

on_both_databases!(
    loomio_settings_are_kept_and_the_key_is_never_shown,
    hints_make_the_service_reread_and_carry_no_data,
);
