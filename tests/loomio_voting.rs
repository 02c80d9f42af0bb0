//! The standard voting API on Loomio, end to end through the router and the fake Loomio, on
//! SQLite and PostgreSQL alike: a vote is started, members vote, hints make the service re-read,
//! the vote closes and its final documents are kept byte for byte; refusals are problems, and a
//! start or close the platform cannot take now is kept and retried.

mod common;
mod support;

use common::{Reply, TestApp, TestDb, app};
use revshare_oracle::app::voting::run_pass;
use revshare_oracle::domain::{CommunitySlug, Timestamp};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, Row};
use support::loomio::{FakeLoomio, Fault, Webhook, WebhookFormat};

const KEY: &str = "bot-api-key-5f0c9a7e1d2b";

async fn co_op(db: TestDb) -> (TestApp, FakeLoomio) {
    let fake = FakeLoomio::start(KEY).await;
    let app = app(db, |c| {
        c.voting.hint_interval_ms = 0;
        c.voting.retry_base_ms = 10;
        c.voting.retry_max_ms = 40;
        c.voting.call_attempts = 2;
        c.ingest.max_body_bytes = 8 * 1024;
    })
    .await;
    app.seed(
        "coop",
        &[("default", json!([{"wallet": "$pool.example", "weight": 1}]))],
    )
    .await;
    let set = configure(&app, "coop", &fake, fake.group_id).await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    (app, fake)
}

async fn configure(app: &TestApp, community: &str, fake: &FakeLoomio, group: u64) -> Reply {
    app.admin(
        "PUT",
        &format!("/v1/admin/communities/{community}/sources/loomio"),
        json!({"base_url": fake.base_url(), "api_key": KEY, "group_id": group}),
    )
    .await
}

fn community_id(app: &TestApp, slug: &str) -> i64 {
    app.state
        .snapshots
        .get(&CommunitySlug::parse(slug).unwrap())
        .unwrap()
        .id
}

fn in_days(days: i64) -> String {
    Timestamp(jiff::Timestamp::now().as_millisecond() + days * 86_400_000).to_rfc3339()
}

fn vote_body(backend: &str) -> Value {
    json!({"backend": backend, "title": "Add Ann to the default pool?",
           "details": "Ann maintains the docs.", "options": ["Yes", "No"],
           "closes_at": in_days(3)})
}

/// Starts a vote and waits for the worker's first reading of it.
async fn start_vote(app: &TestApp) -> Value {
    let reply = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("loomio"))
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    run_pass(&app.state).await.unwrap();
    reply.json()
}

async fn vote(app: &TestApp, id: &Value) -> Value {
    let reply = app
        .get_admin(&format!("/v1/communities/coop/votes/{id}"))
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

/// Sends the webhooks Loomio would have sent, each answered 200, then lets the worker act.
async fn deliver(app: &TestApp, hooks: Vec<Webhook>) {
    assert!(!hooks.is_empty(), "Loomio sent a webhook");
    for hook in hooks {
        let reply = app.send(hook.request("coop")).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    run_pass(&app.state).await.unwrap();
}

fn tallies(vote: &Value) -> Vec<(String, u64)> {
    vote["tallies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["option"].as_str().unwrap().to_string(),
                t["votes"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn ballots(vote: &Value) -> Vec<(String, String, Vec<String>)> {
    vote["ballots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["voter"]["platform"].as_str().unwrap().to_string(),
                b["voter"]["username"].as_str().unwrap().to_string(),
                serde_json::from_value(b["choices"].clone()).unwrap(),
            )
        })
        .collect()
}

fn ballot(username: &str, choice: &str) -> (String, String, Vec<String>) {
    ("loomio".into(), username.into(), vec![choice.into()])
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    conn.fetch_one(sql)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

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

async fn a_vote_runs_end_to_end_and_its_evidence_is_kept(db: TestDb) {
    let (app, fake) = co_op(db).await;
    fake.add_chatbot(WebhookFormat::Markdown);
    let reply = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("loomio"))
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let started = reply.json();
    let id = started["id"].clone();
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/communities/coop/votes/{id}").as_str())
    );
    assert_eq!(started["backend"], "loomio");
    assert_eq!(started["state"], "open");
    let poll_id: u64 = started["external_id"].as_str().unwrap().parse().unwrap();
    let poll = fake.poll(poll_id);
    assert_eq!(
        started["url"],
        format!("{}/p/{}", fake.base_url(), poll.key)
    );
    assert_eq!(poll.group_id, Some(fake.group_id));
    assert!(poll.details.starts_with("Ann maintains the docs."));
    assert!(
        poll.details
            .contains(&format!("revshare-oracle vote coop/{id}")),
        "{}",
        poll.details
    );
    deliver(&app, fake.take_webhooks()).await;
    let opened = vote(&app, &id).await;
    assert_eq!(tallies(&opened), [("Yes".into(), 0), ("No".into(), 0)]);
    assert_eq!(opened["readings"], 1);

    let [ann, bob, cat] = [&fake.members[0], &fake.members[1], &fake.members[2]];
    fake.vote(poll_id, ann, &["Yes"]);
    fake.vote(poll_id, bob, &["No"]);
    deliver(&app, fake.take_webhooks()).await;
    let voted = vote(&app, &id).await;
    assert_eq!(tallies(&voted), [("Yes".into(), 1), ("No".into(), 1)]);
    assert_eq!(ballots(&voted), [ballot("ann", "Yes"), ballot("bob", "No")]);
    assert_eq!(voted["ballots"][0]["voter"]["user_id"], ann.id.to_string());
    assert!(voted["ballots"][0]["cast_at"].is_string());

    fake.vote(poll_id, bob, &["Yes"]);
    fake.vote(poll_id, cat, &["No"]);
    fake.withdraw(poll_id, cat);
    deliver(&app, fake.take_webhooks()).await;
    let changed = vote(&app, &id).await;
    assert_eq!(tallies(&changed), [("Yes".into(), 2), ("No".into(), 0)]);
    assert_eq!(
        ballots(&changed),
        [ballot("ann", "Yes"), ballot("bob", "Yes")]
    );
    assert_eq!(changed["readings"], 3);
    deliver(&app, vec![Webhook::raw(r#"{"text":"nothing new"}"#)]).await;
    assert_eq!(
        vote(&app, &id).await["readings"],
        3,
        "a reading that changes nothing is not kept"
    );

    let closing = app
        .admin(
            "POST",
            &format!("/v1/communities/coop/votes/{id}/close"),
            json!({}),
        )
        .await;
    assert_eq!(
        closing.status,
        202,
        "{}",
        String::from_utf8_lossy(&closing.body)
    );
    assert_eq!(closing.json()["state"], "closing");
    let closing_at = fake.poll(poll_id).closing_at.unwrap();
    assert!(
        closing_at < poll.closing_at.unwrap(),
        "moved to the next full hour"
    );
    assert_eq!(fake.expire_lapsed(closing_at), [poll_id]);
    deliver(&app, fake.take_webhooks()).await;
    let closed = vote(&app, &id).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(
        closed["closed_at"],
        Timestamp(closing_at.as_millisecond()).to_rfc3339()
    );
    assert_eq!(
        ballots(&closed),
        [ballot("ann", "Yes"), ballot("bob", "Yes")]
    );

    let vote_id = id.as_i64().unwrap();
    let evidence = app.state.store.vote_evidence(vote_id).await.unwrap();
    let sources: Vec<&str> = evidence.iter().map(|d| d.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            format!("GET /api/b2/polls/{poll_id}"),
            format!("GET /api/b2/threads/{}/items?compact=1", poll.topic_id)
        ]
    );
    for document in &evidence {
        let path = document.source.trim_start_matches("GET ");
        let now = reqwest::Client::new()
            .get(format!("{}{path}", fake.base_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(document.body, now, "kept byte for byte");
    }
    let summary = closed["evidence"].as_array().unwrap();
    assert_eq!(summary.len(), 2);
    assert_eq!(summary[0]["bytes"], evidence[0].body.len());
    let readings = app.state.store.vote_readings(vote_id).await.unwrap();
    assert_eq!(
        readings.last().unwrap().id,
        evidence[0].reading_id,
        "the final reading"
    );

    let again = app
        .admin(
            "POST",
            &format!("/v1/communities/coop/votes/{id}/close"),
            json!({}),
        )
        .await;
    assert_eq!(again.status, 200, "closing a closed vote is a no-op");
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    for statement in [
        "UPDATE vote_readings SET tallies = '[]'",
        "DELETE FROM vote_readings",
        "UPDATE vote_evidence SET body = ''",
        "DELETE FROM vote_evidence",
        "UPDATE votes SET state = 'open'",
        "DELETE FROM votes",
    ] {
        assert!(
            conn.execute(statement).await.is_err(),
            "{statement} is refused"
        );
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
    run_pass(&app.state).await.unwrap();
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
    revshare_oracle::app::ingest::drain(&app.state)
        .await
        .unwrap();
    let stored = app.state.store.deliveries(community).await.unwrap();
    assert!(
        stored[0].outcome.as_deref().unwrap().starts_with("hint"),
        "{:?}",
        stored[0].outcome
    );

    let duplicate = app.send(Webhook::raw(&forged).request("coop")).await;
    assert_eq!(duplicate.status, 200);
    assert_eq!(duplicate.json()["status"], "duplicate");
    run_pass(&app.state).await.unwrap();
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
    run_pass(&app.state).await.unwrap();
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
    run_pass(&app.state).await.unwrap();
    let after_quiet: Vec<String> = fake.requests()[all_reads..]
        .iter()
        .map(|l| l.request.clone())
        .filter(|r| !r.contains(&format!("/polls/{poll_id}")) && !r.contains("/threads/"))
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

async fn refusals_are_problems_and_store_nothing(db: TestDb) {
    let (app, fake) = co_op(db).await;
    app.seed("quiet", &[]).await;
    let url = app.db.url.clone();
    let votes = || count(&url, "SELECT COUNT(*) FROM votes");
    let unknown = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("snapshot"))
        .await;
    let problem = unknown.assert_problem(422, "invalid-field");
    assert_eq!(problem["errors"][0]["rule"], "known-backend");
    let unset = app
        .admin("POST", "/v1/communities/quiet/votes", vote_body("loomio"))
        .await;
    assert_eq!(
        unset.assert_problem(422, "invalid-field")["errors"][0]["rule"],
        "configured-backend"
    );
    let mut no_close = vote_body("loomio");
    no_close.as_object_mut().unwrap().remove("closes_at");
    let refused = app
        .admin("POST", "/v1/communities/coop/votes", no_close)
        .await;
    assert_eq!(
        refused.assert_problem(422, "invalid-field")["errors"][0]["rule"],
        "backend-accepts"
    );
    let mut same = vote_body("loomio");
    same["options"] = json!(["Yes", "yes"]);
    let doubled = app.admin("POST", "/v1/communities/coop/votes", same).await;
    assert_eq!(
        doubled.assert_problem(422, "invalid-field")["errors"][0]["rule"],
        "distinct"
    );
    app.admin("POST", "/v1/communities/nowhere/votes", vote_body("loomio"))
        .await
        .assert_problem(404, "unknown-community");
    assert_eq!(votes().await, 0, "a refused request stores nothing");
    assert_eq!(fake.count("POST"), 0);

    app.get_admin("/v1/communities/coop/votes/999")
        .await
        .assert_problem(404, "unknown-vote");
    app.admin("POST", "/v1/communities/coop/votes/999/close", json!({}))
        .await
        .assert_problem(404, "unknown-vote");
    app.get_admin("/v1/communities/coop/votes/abc")
        .await
        .assert_problem(400, "invalid-parameter");

    // A group the bot is not a member of: Loomio refuses, the vote fails for good.
    assert_eq!(
        configure(&app, "coop", &fake, fake.other_group_id)
            .await
            .status,
        200
    );
    let refusal = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("loomio"))
        .await;
    let problem = refusal.assert_problem(502, "platform-refused");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("loomio: the platform refused the call (403): You are not authorized"),
        "{detail}"
    );
    assert!(!refusal.body.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
    assert_eq!(problem["vote"]["state"], "failed");
    let failed = vote(&app, &problem["vote"]["id"]).await;
    assert_eq!(failed["state"], "failed");
    assert!(failed["last_error"].as_str().unwrap().contains("403"));
    app.admin(
        "POST",
        &format!("/v1/communities/coop/votes/{}/close", problem["vote"]["id"]),
        json!({}),
    )
    .await
    .assert_problem(409, "conflict");
    assert_eq!(votes().await, 1);
}

async fn a_start_or_close_loomio_cannot_take_now_is_kept_and_retried(db: TestDb) {
    let (app, fake) = co_op(db).await;
    fake.stop().await;
    let down = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("loomio"))
        .await;
    let problem = down.assert_problem(503, "platform-unavailable");
    assert_eq!(
        down.header("retry-after"),
        None,
        "Loomio said nothing about when"
    );
    let id = problem["vote"]["id"].clone();
    assert_eq!(problem["vote"]["state"], "starting");
    assert_eq!(
        down.header("location"),
        Some(format!("/v1/communities/coop/votes/{id}").as_str())
    );
    assert_eq!(vote(&app, &id).await["state"], "starting");
    fake.resume().await;
    let mut state = Value::Null;
    for _ in 0..500 {
        run_pass(&app.state).await.unwrap();
        state = vote(&app, &id).await["state"].clone();
        if state == "open" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(state, "open", "the worker retried the start");
    assert_eq!(fake.polls().len(), 1, "and it landed once");
    run_pass(&app.state).await.unwrap();

    let poll_id = vote(&app, &id).await["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    fake.inject(
        Some(&format!("GET /api/b2/polls/{poll_id}")),
        Fault::TooManyRequests(Some("120".into())),
        1,
    );
    let slow = app
        .admin(
            "POST",
            &format!("/v1/communities/coop/votes/{id}/close"),
            json!({}),
        )
        .await;
    slow.assert_problem(503, "platform-unavailable");
    assert_eq!(slow.header("retry-after"), Some("120"));
    let record = app
        .state
        .store
        .vote(community_id(&app, "coop"), id.as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state.as_str(), "closing");
    assert!(record.close_sent_at.is_none());
    let asked = Timestamp(jiff::Timestamp::now().as_millisecond() + 110_000);
    assert!(
        record.next_attempt_at.unwrap() > asked,
        "retried no sooner than Loomio asked"
    );

    let second = start_vote(&app).await["id"].clone();
    fake.stop().await;
    let unsent = app
        .admin(
            "POST",
            &format!("/v1/communities/coop/votes/{second}/close"),
            json!({}),
        )
        .await;
    unsent.assert_problem(503, "platform-unavailable");
    fake.resume().await;
    for _ in 0..500 {
        run_pass(&app.state).await.unwrap();
        if fake
            .poll(
                vote(&app, &second).await["external_id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
            .closing_at
            .is_some_and(|at| {
                at.as_millisecond() < jiff::Timestamp::now().as_millisecond() + 2 * 3_600_000
            })
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let after = vote(&app, &second).await;
    assert_eq!(after["state"], "closing");
    assert!(
        after["last_error"].is_null(),
        "the retried close was accepted"
    );

    fake.stop().await;
    let third = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("loomio"))
        .await;
    let third = third.assert_problem(503, "platform-unavailable")["vote"]["id"].clone();
    let cancel = app
        .admin(
            "POST",
            &format!("/v1/communities/coop/votes/{third}/close"),
            json!({}),
        )
        .await;
    assert_eq!(cancel.status, 200);
    assert_eq!(cancel.json()["state"], "cancelled");
    fake.resume().await;
    run_pass(&app.state).await.unwrap();
    assert_eq!(fake.polls().len(), 2, "a cancelled vote is never started");
}

on_both_databases!(
    loomio_settings_are_kept_and_the_key_is_never_shown,
    a_vote_runs_end_to_end_and_its_evidence_is_kept,
    hints_make_the_service_reread_and_carry_no_data,
    refusals_are_problems_and_store_nothing,
    a_start_or_close_loomio_cannot_take_now_is_kept_and_retried,
);
