//! Discourse settings with API access, and the durable actions outbox, on SQLite and PostgreSQL
//! alike, against the fake Discourse over loopback: the wallet field is resolved by name and used
//! by the webhooks; a message intended while Discourse is down is sent exactly once after a
//! restart; a message whose answer was lost is not sent twice; a refusal is recorded with its
//! reason; a poll close is done by the worker; and history is append-only.

use crate::common;
use crate::support;

use std::time::Duration;

use common::{TestApp, TestDb, app};
use revshare_oracle::app::AppError;
use revshare_oracle::clock::Clock;
use revshare_oracle::config::Config;
use revshare_oracle::domain::{CommunitySlug, MemberId, Timestamp, WalletAddress};
use revshare_oracle::sources::discourse::DiscourseVoting;
use revshare_oracle::store::{ActionState, StoredAction};
use revshare_oracle::voting::{Electorate, VoteRequest, VotingBackend};
use serde_json::json;
use sqlx::{Connection, Executor};
use support::discourse::{FakeDiscourse, FakeUser};
use support::discourse_api::{API_USERNAME, FakeDiscourseApi};

const SECRET: &str = "secret-at-least-12";

fn quick(config: &mut Config) {
    config.actions.retry_base_ms = 20;
    config.actions.retry_max_ms = 200;
    config.actions.poll_interval_ms = 50;
    config.discourse.backoff_base_ms = 10;
    config.discourse.backoff_max_ms = 50;
    config.discourse.attempts = 2;
}

fn settings(fake: &FakeDiscourseApi) -> serde_json::Value {
    json!({"base_url": fake.base_url, "webhook_secret": SECRET, "wallet_field": "Wallet",
           "api_key": fake.api_key, "api_username": API_USERNAME, "poll_topic_id": 10})
}

async fn forum(db: TestDb, fake: &FakeDiscourseApi, adjust: fn(&mut Config)) -> (TestApp, i64) {
    set_up_forum(app(db, adjust).await, fake).await
}

/// Creates the `forum` community on `app` with the fake's Discourse settings; returns its id.
async fn set_up_forum(app: TestApp, fake: &FakeDiscourseApi) -> (TestApp, i64) {
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$pool.example", "weight": 1}]))],
    )
    .await;
    let set = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/sources/discourse",
            settings(fake),
        )
        .await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    let id = app
        .state
        .snapshots
        .get(&CommunitySlug::parse("forum").unwrap())
        .unwrap()
        .id;
    (app, id)
}

/// Polls the action until `done` says so (bounded in count, not in time).
async fn wait_for(app: &TestApp, id: i64, done: impl Fn(&StoredAction) -> bool) -> StoredAction {
    for _ in 0..2_000 {
        let action = app.state.store.action(id).await.unwrap().unwrap();
        if done(&action) {
            return action;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("action {id} never reached the awaited state");
}

async fn the_wallet_field_is_resolved_by_name_and_used_by_webhooks(db: TestDb) {
    let fake = FakeDiscourseApi::start(&[(1, "City"), (4, "Wallet")]).await;
    let (app, id) = forum(db, &fake, |_| {}).await;
    let shown = app
        .get_admin("/v1/admin/communities/forum/sources/discourse")
        .await;
    let view = shown.json();
    assert_eq!(view["wallet_field_id"], "4");
    assert!(view["wallet_field_resolved_at"].is_string());
    assert_eq!(view["api_key_set"], true);
    assert_eq!(view["api_username"], API_USERNAME);
    assert_eq!(view["poll_topic_id"], 10);
    let text = String::from_utf8_lossy(&shown.body);
    assert!(
        !text.contains(&fake.api_key) && !text.contains(SECRET),
        "{text}"
    );

    let webhooks = FakeDiscourse::new(&fake.base_url, SECRET);
    let mut ann = FakeUser::new(7, "ann", None);
    ann.fields = vec![
        ("1".into(), Some("Berlin".into())),
        ("4".into(), Some("$wallet.example/ann".into())),
    ];
    let reply = app
        .send(webhooks.user_event("user_updated", &ann).request("forum"))
        .await;
    assert_eq!(reply.status, 202);
    app.state.ingest.drain().await.unwrap();
    let member = app
        .state
        .store
        .member(id, &MemberId::parse("ann").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        member.wallet,
        Some(WalletAddress::parse("$wallet.example/ann").unwrap()),
        "the wallet is read from the resolved field id 4, not field 1"
    );

    // The stored settings run votes through the standard trait.
    let source = app.state.store.discourse_source(id).await.unwrap().unwrap();
    let voting = DiscourseVoting::from_settings(app.state.backends.discourse(), &source).unwrap();
    let handle = voting
        .start(&VoteRequest {
            title: "Add Ann".into(),
            details: "Ann has a wallet now.".into(),
            options: vec!["Yes".into(), "No".into()],
            closes_at: None,
            electorate: Electorate::default(),
        })
        .await
        .unwrap();
    assert!(handle.url.unwrap().contains("/t/governance-votes/10/"));
}

async fn bad_discourse_settings_get_422_and_an_unreachable_site_502(db: TestDb) {
    let fake = FakeDiscourseApi::start(&[(1, "City"), (4, "Wallet")]).await;
    let (app, id) = forum(db, &fake, |_| {}).await;
    let put = |body: serde_json::Value| {
        app.admin("PUT", "/v1/admin/communities/forum/sources/discourse", body)
    };
    let with = |patch: serde_json::Value| {
        let mut body = settings(&fake);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    for (patch, field, rule) in [
        (
            json!({"wallet_field": "Payment pointer"}),
            "wallet_field",
            "existing-field",
        ),
        (
            json!({"wallet_field_id": "1"}),
            "wallet_field_id",
            "matches-name",
        ),
        (
            json!({"api_key": "wrong-key-0123456789"}),
            "api_key",
            "accepted-by-discourse",
        ),
        (
            json!({"api_username": null}),
            "api_username",
            "required-together",
        ),
        (json!({"poll_category_id": 5}), "poll_category_id", "one-of"),
        (json!({"poll_topic_id": -1}), "poll_topic_id", "positive"),
        (
            json!({"api_key": null, "api_username": null, "poll_topic_id": null}),
            "wallet_field_id",
            "required",
        ),
    ] {
        let reply = put(with(patch.clone())).await;
        let problem = reply.assert_problem(422, "invalid-field");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["rule"] == rule),
            "{patch}: {problem}"
        );
        assert!(
            !problem.to_string().contains("wrong-key-0123456789"),
            "{problem}"
        );
    }
    // Settings without API access, as before the API client, still work.
    let webhooks_only = put(json!({"base_url": fake.base_url, "webhook_secret": SECRET,
                                   "wallet_field": "Wallet", "wallet_field_id": "4"}))
    .await;
    assert_eq!(webhooks_only.status, 200);
    assert_eq!(webhooks_only.json()["api_key_set"], false);

    fake.go_down().await;
    put(settings(&fake))
        .await
        .assert_problem(503, "platform-unavailable");
    let kept = app.state.store.discourse_source(id).await.unwrap().unwrap();
    assert!(kept.api_key.is_none(), "a refused request stores nothing");
}

async fn a_message_intended_while_discourse_is_down_is_sent_once_after_a_restart(db: TestDb) {
    let fake = FakeDiscourseApi::start(&[(4, "Wallet")]).await;
    fake.add_user(7, "ann", &[]);
    let (app, id) = forum(db, &fake, quick).await;
    fake.go_down().await;
    let action = app
        .state
        .actions
        .enqueue_private_message(
            id,
            "vote-1-started-ann",
            "ann",
            "A vote is underway",
            "Vote on adding Ann to the default pool.",
        )
        .await
        .unwrap();
    let failing = wait_for(&app, action.id, |a| a.attempts >= 2).await;
    assert_eq!(failing.state, ActionState::Pending);
    assert!(
        failing.last_error.as_deref().unwrap().contains("connect"),
        "{failing:?}"
    );

    // Stop the service while Discourse is down, then start it again on the same database.
    let TestApp { state, db, .. } = app;
    state.workers.actions.stop().await;
    state.workers.ingest.stop().await;
    drop(state);
    fake.come_back();
    let app = common::app(db, quick).await;
    let done = wait_for(&app, action.id, |a| a.state != ActionState::Pending).await;
    assert_eq!(done.state, ActionState::Done, "{done:?}");
    assert!(done.result.as_ref().unwrap()["url"].is_string());
    let sent = fake.private_messages();
    assert_eq!(sent.len(), 1, "sent exactly once");
    assert_eq!(sent[0].recipients, ["ann"]);
    assert_eq!(sent[0].raw, "Vote on adding Ann to the default pool.");
    let attempts = app.state.store.action_attempts(action.id).await.unwrap();
    assert!(attempts.len() >= 3, "{attempts:?}");
    assert!(
        attempts[..attempts.len() - 1]
            .iter()
            .all(|a| a.outcome == "retry")
    );
    assert_eq!(attempts.last().unwrap().outcome, "done");
    assert_eq!(app.state.actions.attempt_due().await.unwrap(), 0);

    let again = app
        .state
        .actions
        .enqueue_private_message(
            id,
            "vote-1-started-ann",
            "ann",
            "A vote is underway",
            "Vote on adding Ann to the default pool.",
        )
        .await
        .unwrap();
    assert_eq!(again.id, action.id, "the same key is the same action");
    assert_eq!(fake.private_messages().len(), 1);
}

async fn a_message_whose_answer_was_lost_is_not_sent_twice(db: TestDb) {
    let fake = FakeDiscourseApi::start(&[(4, "Wallet")]).await;
    fake.add_user(7, "ann", &[]);
    let (app, id) = forum(db, &fake, |c| {
        quick(c);
        c.actions.worker = false;
        c.discourse.timeout_ms = 200;
        c.discourse.attempts = 1;
    })
    .await;
    let action = app
        .state
        .actions
        .enqueue_private_message(id, "k1", "ann", "Hello", "Body.")
        .await
        .unwrap();
    fake.slow(Some(Duration::from_millis(800)));
    assert_eq!(app.state.actions.attempt_due().await.unwrap(), 1);
    let first = app.state.store.action(action.id).await.unwrap().unwrap();
    assert_eq!(first.state, ActionState::Pending);
    assert!(first.last_error.unwrap().contains("timed out"));
    assert_eq!(fake.private_messages().len(), 1, "Discourse acted on it");
    fake.slow(None);
    wait_for(&app, action.id, |a| {
        a.next_attempt_at.0 <= jiff::Timestamp::now().as_millisecond()
    })
    .await;
    assert_eq!(app.state.actions.attempt_due().await.unwrap(), 1);
    let done = app.state.store.action(action.id).await.unwrap().unwrap();
    assert_eq!(done.state, ActionState::Done, "{done:?}");
    assert_eq!(
        fake.private_messages().len(),
        1,
        "found again by its external_id"
    );
    assert_eq!(
        done.result.unwrap()["topic_id"],
        fake.private_messages()[0].topic_id
    );
}

async fn a_failed_action_is_retried_when_its_wait_has_passed_on_the_services_clock(db: TestDb) {
    let fake = FakeDiscourseApi::start(&[(4, "Wallet")]).await;
    fake.add_user(7, "ann", &[]);
    let start = Timestamp(jiff::Timestamp::now().as_millisecond());
    let clock = Clock::manual(start);
    let service = common::app_on_clock(db, clock.clone(), |c| {
        c.actions.worker = false;
        c.actions.retry_base_ms = 60_000;
        c.actions.retry_max_ms = 60_000;
        c.discourse.attempts = 1;
    })
    .await;
    let (app, id) = set_up_forum(service, &fake).await;
    let action = app
        .state
        .actions
        .enqueue_private_message(id, "k-clock", "ann", "Hello", "Body.")
        .await
        .unwrap();
    assert_eq!(action.created_at, start, "stored at the service's time");
    fake.fail_next(1);
    assert_eq!(app.state.actions.attempt_due().await.unwrap(), 1);
    let failed = app.state.store.action(action.id).await.unwrap().unwrap();
    assert_eq!(failed.state, ActionState::Pending);
    let wait = failed.next_attempt_at.0 - start.0;
    assert!(
        (30_000..=60_000).contains(&wait),
        "the retry waits half to all of the capped 60 s: {wait} ms"
    );
    assert_eq!(
        app.state.actions.attempt_due().await.unwrap(),
        0,
        "not due while the service's clock stands still"
    );
    clock.advance(Duration::from_millis(u64::try_from(wait).unwrap()));
    assert_eq!(app.state.actions.attempt_due().await.unwrap(), 1);
    let done = app.state.store.action(action.id).await.unwrap().unwrap();
    assert_eq!(done.state, ActionState::Done, "{done:?}");
    assert_eq!(fake.private_messages().len(), 1);
}

async fn a_refusal_is_recorded_and_a_poll_close_is_done(db: TestDb) {
    let fake = FakeDiscourseApi::start(&[(4, "Wallet")]).await;
    let (app, id) = forum(db, &fake, quick).await;
    let refused = app
        .state
        .actions
        .enqueue_private_message(id, "k-nobody", "nobody", "Hi", "Body.")
        .await
        .unwrap();
    let refused = wait_for(&app, refused.id, |a| a.state != ActionState::Pending).await;
    assert_eq!(refused.state, ActionState::Refused);
    assert_eq!(refused.attempts, 1, "a 422 is not retried");
    assert!(refused.last_error.unwrap().contains("nobody"));

    let source = app.state.store.discourse_source(id).await.unwrap().unwrap();
    let voting = DiscourseVoting::from_settings(app.state.backends.discourse(), &source).unwrap();
    let handle = voting
        .start(&VoteRequest {
            title: "Add Ann".into(),
            details: String::new(),
            options: vec!["Yes".into(), "No".into()],
            closes_at: None,
            electorate: Electorate::default(),
        })
        .await
        .unwrap();
    let close = app
        .state
        .actions
        .enqueue_poll_close(id, "vote-1-close", &handle.external_id)
        .await
        .unwrap();
    let closed = wait_for(&app, close.id, |a| a.state != ActionState::Pending).await;
    assert_eq!(closed.state, ActionState::Done, "{closed:?}");
    let post: i64 = handle
        .external_id
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        fake.poll_status(post, "revshare").as_deref(),
        Some("closed")
    );
    assert!(matches!(
        app.state
            .actions
            .enqueue_poll_close(id, "k", "not-a-poll")
            .await,
        Err(AppError::Invalid(_))
    ));
    assert!(matches!(
        app.state
            .actions
            .enqueue_private_message(id, "k", "two words", "Hi", "Body")
            .await,
        Err(AppError::Invalid(_))
    ));

    let listed = app
        .get_admin("/v1/admin/communities/forum/actions?limit=10")
        .await;
    assert_eq!(listed.status, 200);
    let actions = listed.json()["actions"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 2, "invalid actions are not stored");
    assert_eq!(actions[0]["kind"], "poll_close");
    assert_eq!(actions[0]["state"], "done");
    assert_eq!(actions[1]["kind"], "private_message");
    assert_eq!(actions[1]["state"], "refused");
    assert!(
        actions[1]["last_error"]
            .as_str()
            .unwrap()
            .contains("nobody")
    );
    app.get_admin("/v1/admin/communities/forum/actions?limit=0")
        .await
        .assert_problem(400, "invalid-parameter");
    app.get_admin("/v1/admin/communities/nowhere/actions")
        .await
        .assert_problem(404, "unknown-community");
    assert_eq!(
        app.get("/v1/admin/communities/forum/actions").await.status,
        401
    );

    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    for statement in [
        "DELETE FROM platform_actions",
        "UPDATE platform_actions SET payload = '{}'",
        "UPDATE platform_actions SET state = 'pending'",
        "UPDATE platform_action_attempts SET detail = 'x'",
        "DELETE FROM platform_action_attempts",
    ] {
        assert!(conn.execute(statement).await.is_err(), "{statement}");
    }
}

on_both_databases!(
    the_wallet_field_is_resolved_by_name_and_used_by_webhooks,
    bad_discourse_settings_get_422_and_an_unreachable_site_502,
    a_message_intended_while_discourse_is_down_is_sent_once_after_a_restart,
    a_message_whose_answer_was_lost_is_not_sent_twice,
    a_failed_action_is_retried_when_its_wait_has_passed_on_the_services_clock,
    a_refusal_is_recorded_and_a_poll_close_is_done,
);
