//! An admin's requests (`POST /v1/admin/communities/{c}/proposals`), on SQLite and PostgreSQL,
//! against the fake Discourse: the request opens a proposal under the constitution in force, its
//! vote runs as a Discourse poll, and a pass changes the pool with the decision as its cause; a
//! rule without a vote decides at once, and a vote its backend can never run fails it; bad input
//! and a community whose policies answer no admin request are refused with problem details, and
//! nothing is stored.

use crate::common;
use crate::policy;

use common::TestDb;
use policy::{Forum, now, wallets};
use revshare_oracle::domain::Cause;
use revshare_oracle::policy::CONSTITUTION_POLICY;
use serde_json::json;

const PROPOSALS: &str = "/v1/admin/communities/forum/proposals";

fn add_carol() -> serde_json::Value {
    json!({
        "note": "Carol maintains the theme",
        "change": {"change": "add_entry", "pool": "default",
                   "entry": {"wallet": "$wallet.example/carol", "weight": 2}},
    })
}

/// The constitution in force with its `admin-request` rule replaced by `rule` (none when empty).
async fn constitution_with(forum: &Forum, rule: &str) {
    let start = CONSTITUTION_POLICY
        .find("[[rule]]\nname = \"admin-request\"")
        .expect("the constitution answers admin requests");
    let source = format!("{}{rule}", &CONSTITUTION_POLICY[..start]);
    forum
        .app
        .state
        .store
        .adopt_policies(
            forum.id,
            &[source.as_str()],
            &Cause::AdminBootstrap { note: None },
            now(),
        )
        .await
        .unwrap();
}

async fn an_admin_request_is_voted_on_and_changes_the_pool(db: TestDb) {
    let forum = Forum::start(db).await;
    for (i, name) in ["ada", "ben", "cy"].iter().enumerate() {
        forum.voter(40 + i as i64, name, 4).await;
    }
    let before = forum.default_pool().await;
    let opened = forum.app.admin("POST", PROPOSALS, add_carol()).await;
    assert_eq!(
        opened.status,
        202,
        "{}",
        String::from_utf8_lossy(&opened.body)
    );
    let body = opened.json();
    let id = body["id"].as_i64().unwrap();
    let location = opened.header("location").unwrap().to_string();
    assert_eq!(location, format!("{PROPOSALS}/{id}"));
    assert_eq!(body["state"], "open");
    assert_eq!(body["trigger"], "admin_request");
    assert_eq!(body["policy"], "constitution");
    assert_eq!(body["rule"], "admin-request");
    assert_eq!(body["subject"]["note"], "Carol maintains the theme");
    assert_eq!(body["subject"]["change"]["change"], "add_entry");

    let post = forum
        .settle("the request's poll starts", async |f| {
            let read = f.app.get_admin(&location).await;
            let external = read.json()["vote"]["external_id"].as_str()?.to_string();
            external.split('/').next()?.parse::<i64>().ok()
        })
        .await;
    let raw = forum.fake.post_raw(post).unwrap();
    assert!(
        raw.contains("Admin request: add $wallet.example/carol to pool default with weight 2"),
        "{raw}"
    );
    assert!(raw.contains("Carol maintains the theme"), "{raw}");
    let read = forum.app.get_admin(&location).await.json();
    assert!(
        read["vote"]["url"].as_str().unwrap().starts_with("http"),
        "{read}"
    );
    assert_eq!(read["vote"]["state"], "open");
    assert!(read["decision"].is_null(), "{read}");
    let vote = forum
        .app
        .get_admin(read["vote"]["href"].as_str().unwrap())
        .await;
    assert_eq!(vote.status, 200, "the vote's link leads to the voting API");

    for name in ["ada", "ben", "cy"] {
        forum.fake.vote(post, "revshare", name, "approve").unwrap();
    }
    let pool = forum
        .settle("carol joins the pool", async |f| {
            let pool = f.default_pool().await;
            (pool.version > before.version).then_some(pool)
        })
        .await;
    assert_eq!(
        wallets(&pool),
        [
            ("$pool.example/bob".to_string(), 1),
            ("$wallet.example/carol".to_string(), 2)
        ]
    );
    let Cause::Decision { decision } = &pool.cause else {
        panic!("the pool version's cause is {:?}", pool.cause);
    };
    let read = forum.app.get_admin(&location).await.json();
    assert_eq!(read["state"], "passed", "{read}");
    assert_eq!(read["decision"]["outcome"], "passed");
    assert_eq!(read["decision"]["hash"], decision.as_str());
    assert!(
        read["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("tl4-consensus"),
        "{read}"
    );
}

async fn a_rule_without_a_vote_decides_the_request_at_once(db: TestDb) {
    let forum = Forum::start(db).await;
    constitution_with(
        &forum,
        "[[rule]]\nname = \"admin-request\"\non = [\"admin_request\"]\nvote = false\n\
         then = [{ do = \"apply_request\" }]\n",
    )
    .await;
    let removed = forum
        .app
        .admin(
            "POST",
            PROPOSALS,
            json!({"note": "Bob left", "change": {"change": "remove_entry", "pool": "default",
                   "wallet": "$pool.example/bob"}}),
        )
        .await;
    assert_eq!(
        removed.status,
        201,
        "{}",
        String::from_utf8_lossy(&removed.body)
    );
    let body = removed.json();
    assert_eq!(body["state"], "passed");
    assert!(body["vote"].is_null(), "{body}");
    assert!(
        body["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("without a vote"),
        "{body}"
    );
    let pool = forum.default_pool().await;
    assert!(wallets(&pool).is_empty(), "{:?}", wallets(&pool));
    assert!(matches!(pool.cause, Cause::Decision { .. }));
}

async fn bad_requests_are_refused_and_store_nothing(db: TestDb) {
    let forum = Forum::start(db).await;
    let unknown = forum
        .app
        .admin(
            "POST",
            "/v1/admin/communities/nowhere/proposals",
            add_carol(),
        )
        .await;
    unknown.assert_problem(404, "unknown-community");

    let not_json = forum
        .app
        .send(
            axum::http::Request::post(PROPOSALS)
                .header("authorization", format!("Bearer {}", common::ADMIN_TOKEN))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"note\": "))
                .unwrap(),
        )
        .await;
    not_json.assert_problem(400, "malformed-json");

    let cases = [
        (
            json!({"note": "x", "change": {"change": "burn_it_all"}}),
            "change",
        ),
        (
            json!({"note": "x", "change": {"change": "add_entry", "pool": "default",
                   "entry": {"wallet": "$wallet.example/carol", "weight": 0}}}),
            "change",
        ),
        (json!({"change": add_carol()["change"]}), "(body)"),
        (
            json!({"note": "  ", "change": add_carol()["change"]}),
            "note",
        ),
        (
            json!({"note": "x", "change": add_carol()["change"], "extra": 1}),
            "extra",
        ),
        (
            json!({"note": "x", "change": {"change": "remove_entry", "pool": "nowhere",
                   "wallet": "$pool.example/bob"}}),
            "change.pool",
        ),
        (
            json!({"note": "x", "change": {"change": "remove_entry", "pool": "default",
                   "wallet": "$wallet.example/zed"}}),
            "change.wallet",
        ),
        (
            json!({"note": "x", "change": {"change": "set_split",
                   "rules": {"author_bps": 6000, "participants_bps": 6000}}}),
            "change.rules",
        ),
        (
            json!({"note": "x", "change": {"change": "set_split",
                   "rules": {"default_pool": "nowhere"}}}),
            "change.rules",
        ),
    ];
    for (body, field) in cases {
        let refused = forum.app.admin("POST", PROPOSALS, body.clone()).await;
        let problem = refused.assert_problem(422, "invalid-field");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{problem}"))
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{body} → {problem}"
        );
    }
    let unknown = forum.app.get_admin(&format!("{PROPOSALS}/99")).await;
    unknown.assert_problem(404, "not-found");
    let bad_id = forum.app.get_admin(&format!("{PROPOSALS}/zero")).await;
    bad_id.assert_problem(400, "invalid-parameter");
    let openapi = forum.app.get("/openapi.json").await.json();
    for path in [
        "/v1/admin/communities/{community}/proposals",
        "/v1/admin/communities/{community}/proposals/{proposal}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    assert!(forum.proposals().await.is_empty(), "nothing was stored");
    assert!(
        forum
            .app
            .state
            .store
            .vote(forum.id, 1)
            .await
            .unwrap()
            .is_none(),
        "no vote was asked for"
    );
}

async fn a_vote_its_backend_can_never_run_fails_the_request(db: TestDb) {
    let forum = Forum::start(db).await;
    let source = CONSTITUTION_POLICY.replace(
        "electorate = { min_trust_level = 2 }",
        "electorate = { groups = [\"staff\"], min_trust_level = 2 }",
    );
    assert_ne!(source, CONSTITUTION_POLICY);
    forum
        .app
        .state
        .store
        .adopt_policies(
            forum.id,
            &[source.as_str()],
            &Cause::AdminBootstrap { note: None },
            now(),
        )
        .await
        .unwrap();
    let opened = forum.app.admin("POST", PROPOSALS, add_carol()).await;
    assert_eq!(opened.status, 202);
    let location = opened.header("location").unwrap().to_string();
    let read = forum
        .settle("the request fails", async |f| {
            let read = f.app.get_admin(&location).await.json();
            (read["state"] == "failed").then_some(read)
        })
        .await;
    let reason = read["decision"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("discourse cannot run this vote") && reason.contains("groups"),
        "{reason}"
    );
    assert_eq!(forum.fake.count(axum::http::Method::POST, "/posts.json"), 0);
    assert_eq!(
        wallets(&forum.default_pool().await),
        [("$pool.example/bob".to_string(), 1)]
    );
}

async fn a_request_no_policy_answers_is_refused(db: TestDb) {
    let forum = Forum::start(db).await;
    constitution_with(&forum, "").await;
    let refused = forum.app.admin("POST", PROPOSALS, add_carol()).await;
    let problem = refused.assert_problem(409, "conflict");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("admin_request"),
        "{problem}"
    );
    assert!(forum.proposals().await.is_empty(), "nothing was stored");
}

on_both_databases!(
    an_admin_request_is_voted_on_and_changes_the_pool,
    a_rule_without_a_vote_decides_the_request_at_once,
    bad_requests_are_refused_and_store_nothing,
    a_vote_its_backend_can_never_run_fails_the_request,
    a_request_no_policy_answers_is_refused,
);
