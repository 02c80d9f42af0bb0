//! What the Loomio voting suites share: a community `coop` on the fake Loomio, and readers of
//! the voting API's answers.

use revshare_oracle::domain::{CommunitySlug, Timestamp};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, Row};

use crate::common::{Reply, TestApp, TestDb, app};
use crate::support::loomio::{FakeLoomio, Webhook};

pub const KEY: &str = "bot-api-key-5f0c9a7e1d2b";

pub async fn co_op(db: TestDb) -> (TestApp, FakeLoomio) {
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

pub async fn configure(app: &TestApp, community: &str, fake: &FakeLoomio, group: u64) -> Reply {
    app.admin(
        "PUT",
        &format!("/v1/admin/communities/{community}/sources/loomio"),
        json!({"base_url": fake.base_url(), "api_key": KEY, "group_id": group}),
    )
    .await
}

pub fn community_id(app: &TestApp, slug: &str) -> i64 {
    app.state
        .snapshots
        .get(&CommunitySlug::parse(slug).unwrap())
        .unwrap()
        .id
}

pub fn in_days(days: i64) -> String {
    Timestamp(jiff::Timestamp::now().as_millisecond() + days * 86_400_000).to_rfc3339()
}

pub fn vote_body(backend: &str) -> Value {
    json!({"backend": backend, "title": "Add Ann to the default pool?",
           "details": "Ann maintains the docs.", "options": ["Yes", "No"],
           "closes_at": in_days(3)})
}

/// Starts a vote and waits for the worker's first reading of it.
pub async fn start_vote(app: &TestApp) -> Value {
    let reply = app
        .admin("POST", "/v1/communities/coop/votes", vote_body("loomio"))
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    app.state.votes.run_pass().await.unwrap();
    reply.json()
}

pub async fn vote(app: &TestApp, id: &Value) -> Value {
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
pub async fn deliver(app: &TestApp, hooks: Vec<Webhook>) {
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
    app.state.votes.run_pass().await.unwrap();
}

pub fn tallies(vote: &Value) -> Vec<(String, u64)> {
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

pub fn ballots(vote: &Value) -> Vec<(String, String, Vec<String>)> {
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

pub fn ballot(username: &str, choice: &str) -> (String, String, Vec<String>) {
    ("loomio".into(), username.into(), vec![choice.into()])
}

pub async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    conn.fetch_one(sql)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}
