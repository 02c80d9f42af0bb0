//! The standard voting API on Loomio, end to end through the router and the fake Loomio, on
//! SQLite and PostgreSQL alike: a vote is started, members vote, Loomio's webhooks make the
//! service re-read, the vote closes and its final documents are kept byte for byte; refusals are
//! problems, and a start or close the platform cannot take now is kept and retried.

use crate::common;
use crate::support;
use crate::voting;

use common::TestDb;
use revshare_oracle::domain::Timestamp;
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use support::loomio::{Fault, Webhook, WebhookFormat};
use voting::{
    KEY, ballot, ballots, co_op, community_id, configure, count, deliver, start_vote, tallies,
    vote, vote_body,
};

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
    assert!(
        voted["ballots"][0]["cast_at"].is_null(),
        "Loomio's results say who chose what, not when"
    );

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
    let same = vote(&app, &id).await;
    assert_eq!(
        same["readings"], 3,
        "a reading that changes nothing is not kept"
    );
    assert_eq!(same["changed_at"], changed["changed_at"]);
    assert!(
        same["last_read_at"].as_str() >= changed["last_read_at"].as_str()
            && same["last_read_at"].as_str() >= same["changed_at"].as_str(),
        "read again: {same}"
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
            format!(
                "GET /api/b2/memberships?group_id={}&limit=100&offset=0",
                fake.group_id
            )
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
        app.state.votes.run_pass().await.unwrap();
        state = vote(&app, &id).await["state"].clone();
        if state == "open" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(state, "open", "the worker retried the start");
    assert_eq!(fake.polls().len(), 1, "and it landed once");
    app.state.votes.run_pass().await.unwrap();

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
        app.state.votes.run_pass().await.unwrap();
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
    app.state.votes.run_pass().await.unwrap();
    assert_eq!(fake.polls().len(), 2, "a cancelled vote is never started");
}

on_both_databases!(
    a_vote_runs_end_to_end_and_its_evidence_is_kept,
    refusals_are_problems_and_store_nothing,
    a_start_or_close_loomio_cannot_take_now_is_kept_and_retried,
);
