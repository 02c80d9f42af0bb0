//! The HTTP API as a client sees it, on SQLite and PostgreSQL alike.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{ADMIN_TOKEN, TestDb, app};
use serde_json::json;

async fn admin_routes_need_the_bearer_token(db: TestDb) {
    let app = app(db, |_| {}).await;
    let body = json!({"slug": "forum", "name": "Forum"}).to_string();
    let without = app
        .send(
            Request::post("/v1/admin/communities")
                .header("content-type", "application/json")
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
    without.assert_problem(401, "unauthorized");
    assert_eq!(without.header("www-authenticate"), Some("Bearer"));
    let wrong = app
        .send(
            Request::post("/v1/admin/communities")
                .header("authorization", "Bearer not-the-token")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    let problem = wrong.assert_problem(401, "unauthorized");
    assert!(
        !problem.to_string().contains(ADMIN_TOKEN)
            && !problem.to_string().contains("not-the-token")
    );
    assert_eq!(
        app.get("/v1/communities/forum").await.status,
        404,
        "nothing was created"
    );
    for (n, scheme) in ["bearer", "BEARER"].into_iter().enumerate() {
        let created = app
            .send(
                Request::post("/v1/admin/communities")
                    .header("authorization", format!("{scheme} {ADMIN_TOKEN}"))
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"slug": format!("forum-{n}"), "name": "F"}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(
            created.status, 201,
            "the scheme is case-insensitive: {scheme}"
        );
    }

    let disabled = common::app(common::sqlite_db().await, |c| c.admin_token = None).await;
    disabled
        .admin(
            "POST",
            "/v1/admin/communities",
            json!({"slug": "x", "name": "x"}),
        )
        .await
        .assert_problem(403, "admin-disabled");
}

async fn a_community_is_created_once(db: TestDb) {
    let app = app(db, |_| {}).await;
    let created = app
        .admin(
            "POST",
            "/v1/admin/communities",
            json!({"slug": "forum", "name": "The Forum"}),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/v1/communities/forum"));
    assert_eq!(created.json()["name"], "The Forum");
    app.admin(
        "POST",
        "/v1/admin/communities",
        json!({"slug": "forum", "name": "Again"}),
    )
    .await
    .assert_problem(409, "conflict");
    let bad = app
        .admin(
            "POST",
            "/v1/admin/communities",
            json!({"slug": "Not A Slug", "name": ""}),
        )
        .await;
    let problem = bad.assert_problem(422, "invalid-field");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["slug", "name"]);
    let community = app.get("/v1/communities/forum").await;
    assert_eq!(community.status, 200);
    assert_eq!(community.json()["name"], "The Forum");
}

async fn a_pool_shows_exact_percentages_and_its_history(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed("forum", &[("default", json!([{"wallet": "$a.example/alice", "weight": 1, "label": "Alice"}, {"wallet": "$b.example", "weight": 2}]))]).await;
    let second = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/pools/default",
            json!({"entries": [{"wallet": "$c.example", "weight": 3}], "note": "swap"}),
        )
        .await;
    assert_eq!(second.json()["version"], 2);
    let unchanged = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/pools/default",
            json!({"entries": [{"wallet": "https://C.example/.well-known/pay", "weight": 3}]}),
        )
        .await;
    assert_eq!(
        unchanged.json()["version"],
        2,
        "the same content under another spelling is no change"
    );

    let history = app
        .get("/v1/communities/forum/pools/default/history?limit=1")
        .await;
    assert_eq!(history.status, 200);
    let page = history.json();
    assert_eq!(page["versions"][0]["version"], 1);
    assert_eq!(page["versions"][0]["entries"][0]["percent"], "33.3333");
    assert_eq!(page["versions"][0]["entries"][0]["share"], "1/3");
    assert_eq!(
        page["versions"][0]["entries"][1]["payment_pointer"],
        "$b.example"
    );
    assert_eq!(page["versions"][0]["cause"]["kind"], "admin_bootstrap");
    let next = page["next"].as_str().unwrap().to_string();
    let second_page = app.get(&next).await.json();
    assert_eq!(second_page["versions"][0]["version"], 2);
    assert_eq!(second_page["versions"][0]["cause"]["note"], "swap");
    let newest = app
        .get("/v1/communities/forum/pools/default/history?order=desc")
        .await
        .json();
    assert_eq!(newest["versions"][0]["version"], 2);
    assert!(newest["next"].is_null());

    let current = app.get("/v1/communities/forum/pools/default").await.json();
    assert_eq!(current["version"], 2);
    assert_eq!(current["entries"][0]["percent"], "100.0000");

    app.get("/v1/communities/forum/pools/default/history?limit=0")
        .await
        .assert_problem(400, "invalid-parameter");
    app.get("/v1/communities/forum/pools/default/history?order=sideways")
        .await
        .assert_problem(400, "invalid-parameter");
}

async fn an_invalid_pointer_is_refused_by_field_and_rule_and_nothing_changes(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$a.example", "weight": 1}]))],
    )
    .await;
    let refused = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/pools/default",
            json!({"entries": [{"wallet": "$b.example", "weight": 1}, {"wallet": "$c.example/x?y=1", "weight": 1}, {"wallet": "$b.example/", "weight": 2}]}),
        )
        .await;
    let problem = refused.assert_problem(422, "invalid-field");
    assert_eq!(problem["errors"][0]["field"], "entries[1].wallet");
    assert_eq!(problem["errors"][0]["rule"], "no-query");

    let duplicate = app
        .admin("PUT", "/v1/admin/communities/forum/pools/default", json!({"entries": [{"wallet": "$b.example", "weight": 1}, {"wallet": "https://B.EXAMPLE", "weight": 2}]}))
        .await
        .assert_problem(422, "invalid-field");
    assert_eq!(duplicate["errors"][0]["field"], "entries[1].wallet");
    assert_eq!(duplicate["errors"][0]["rule"], "unique-wallet");

    let inside = [
        "$127.0.0.1/x",
        "$2130706433/x",
        "$0x7f.1/x",
        "$localhost/x",
        "$169.254.169.254/latest",
        "$10.0.0.1/admin",
    ];
    for wallet in inside {
        let refused = app
            .admin(
                "PUT",
                "/v1/admin/communities/forum/pools/default",
                json!({"entries": [{"wallet": wallet, "weight": 1}]}),
            )
            .await
            .assert_problem(422, "invalid-field");
        let rule = refused["errors"][0]["rule"].as_str().unwrap();
        assert!(
            ["no-ip-host", "public-host"].contains(&rule),
            "{wallet}: {rule}"
        );
    }
    let dotted = app
        .admin("PUT", "/v1/admin/communities/forum/pools/default", json!({"entries": [{"wallet": "$w.example/x/../b", "weight": 1}, {"wallet": "$w.example/%62", "weight": 2}]}))
        .await
        .assert_problem(422, "invalid-field");
    assert_eq!(
        dotted["errors"][0]["rule"], "unique-wallet",
        "one wallet spelled two ways"
    );

    let current = app.get("/v1/communities/forum/pools/default").await.json();
    assert_eq!(current["version"], 1);
    assert_eq!(
        current["entries"][0]["wallet"],
        "https://a.example/.well-known/pay"
    );
}

async fn malformed_bodies_get_the_right_status_and_store_nothing(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$a.example", "weight": 1}]))],
    )
    .await;
    let put = |body: &'static str, content_type: &'static str| {
        Request::put("/v1/admin/communities/forum/pools/default")
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    app.send(put("{\"entries\": [", "application/json"))
        .await
        .assert_problem(400, "malformed-json");
    app.send(put("{\"entries\": []}", "text/plain"))
        .await
        .assert_problem(415, "unsupported-media-type");
    let unknown = app
        .send(put("{\"entries\": [], \"extra\": 1}", "application/json"))
        .await
        .assert_problem(422, "invalid-field");
    assert!(
        unknown["detail"].as_str().unwrap().contains("extra"),
        "{unknown}"
    );
    let wrong_type = app
        .send(put(
            "{\"entries\": [{\"wallet\": \"$a.example\", \"weight\": \"heavy\"}]}",
            "application/json",
        ))
        .await;
    assert_eq!(
        wrong_type.assert_problem(422, "invalid-field")["errors"][0]["field"],
        "entries[0].weight"
    );

    let huge = format!(
        "{{\"entries\": [], \"note\": \"{}\"}}",
        "x".repeat(33 * 1024 * 1024)
    );
    let too_large = app
        .send(
            Request::put("/v1/admin/communities/forum/pools/default")
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .header("content-type", "application/json")
                .body(Body::from(huge))
                .unwrap(),
        )
        .await;
    too_large.assert_problem(413, "payload-too-large");
    assert_eq!(
        app.get("/v1/communities/forum/pools/default").await.json()["version"],
        1
    );

    let splits_before = app.get("/v1/communities/forum/splits").await.body;
    for path in [
        "/v1/admin/communities/forum/splits",
        "/v1/admin/communities/forum/pools/default",
    ] {
        let twice = app
            .send(
                Request::put(path)
                    .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                    .header("content-type", "application/json")
                    .body(Body::from(
                        r#"{"default_pool": "default", "note": "a", "note": "b", "entries": []}"#,
                    ))
                    .unwrap(),
            )
            .await
            .assert_problem(422, "invalid-field");
        assert!(
            twice.to_string().contains("duplicate field `note`"),
            "{path}: {twice}"
        );
    }
    assert_eq!(
        app.get("/v1/communities/forum/splits").await.body,
        splits_before,
        "nothing stored"
    );
}

async fn unknown_things_are_problems(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[
            ("default", json!([])),
            ("dev", json!([{"wallet": "$d.example", "weight": 1}])),
        ],
    )
    .await;
    app.get("/v1/communities/nobody/pools/default/pick")
        .await
        .assert_problem(404, "unknown-community");
    app.get("/v1/communities/nobody")
        .await
        .assert_problem(404, "unknown-community");
    app.get("/wm/nobody")
        .await
        .assert_problem(404, "unknown-community");
    app.get("/v1/communities/forum/pools/support/pick")
        .await
        .assert_problem(404, "unknown-pool");
    app.get("/v1/communities/forum/pools/support")
        .await
        .assert_problem(404, "unknown-pool");
    app.get("/v1/communities/forum/pools/default/pick")
        .await
        .assert_problem(409, "nothing-to-pick");
    app.get("/v1/communities/NOT_VALID/pick")
        .await
        .assert_problem(400, "invalid-parameter");
    app.get("/v1/communities/forum/pick?seed=minus-one")
        .await
        .assert_problem(400, "invalid-parameter");
    app.get("/no/such/route")
        .await
        .assert_problem(404, "not-found");
    app.send(
        Request::post("/v1/communities/forum/pick")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .assert_problem(405, "method-not-allowed");
    let page = app.get("/problems/nothing-to-pick").await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("Nothing to pick"));
}

async fn a_seeded_pick_is_reproducible_and_names_its_version(db: TestDb) {
    let app = app(db, |_| {}).await;
    let entries: Vec<_> = (0..20).map(|i| json!({"wallet": format!("$w{i}.example"), "weight": i + 1, "label": format!("W{i}")})).collect();
    app.seed("forum", &[("dev", json!(entries))]).await;
    let first = app
        .get("/v1/communities/forum/pools/dev/pick?seed=12345")
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let first = first.json();
    let again = app
        .get("/v1/communities/forum/pools/dev/pick?seed=12345")
        .await
        .json();
    assert_eq!(first, again);
    assert_eq!(first["pool"], "dev");
    assert_eq!(first["pool_version"], 1);
    assert_eq!(first["component"], "pool");
    assert_eq!(first["seed"], 12345);
    let label = first["label"].as_str().unwrap();
    let wallet = first["wallet"].as_str().unwrap();
    assert_eq!(
        wallet,
        format!("https://w{}.example/.well-known/pay", &label[1..])
    );
    let distinct = wallets_for_seeds(&app, 40).await;
    assert!(
        distinct.len() > 1,
        "different seeds reach different wallets"
    );
}

async fn wallets_for_seeds(app: &common::TestApp, n: u64) -> std::collections::HashSet<String> {
    let mut wallets = std::collections::HashSet::new();
    for seed in 0..n {
        let pick = app
            .get(&format!("/v1/communities/forum/pools/dev/pick?seed={seed}"))
            .await
            .json();
        wallets.insert(pick["wallet"].as_str().unwrap().to_string());
    }
    wallets
}

async fn topic_picks_follow_the_split_rules(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[
            ("default", json!([{"wallet": "$pool.example", "weight": 1}])),
            ("dev", json!([{"wallet": "$core.example", "weight": 1}])),
        ],
    )
    .await;
    for (member, wallet) in [("ann", "$ann.example"), ("bob", "$bob.example")] {
        let put = app
            .admin(
                "PUT",
                &format!("/v1/admin/communities/forum/members/{member}"),
                json!({"wallet": wallet}),
            )
            .await;
        assert_eq!(put.status, 204);
    }
    let splits = app
        .admin("PUT", "/v1/admin/communities/forum/splits", json!({"author_bps": 5000, "participants_bps": 2000, "tag_routes": [{"tag": "dev", "pool": "dev"}], "note": "grant report splits"}))
        .await;
    assert_eq!(
        splits.status,
        200,
        "{}",
        String::from_utf8_lossy(&splits.body)
    );
    assert_eq!(splits.json()["version"], 1);
    let topic = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/topics/42",
            json!({"author": "ann", "participants": ["bob", "cy"], "tags": ["dev"]}),
        )
        .await;
    assert_eq!(topic.status, 200);

    let view = app.get("/v1/communities/forum/topics/42").await.json();
    assert_eq!(view["known"], true);
    assert_eq!(view["pool_bps"], 3000);
    let shares: Vec<(String, String)> = view["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["payment_pointer"].as_str().unwrap().to_string(),
                s["share"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // 50% author + 20% split between ann and bob + 30% to the dev pool.
    assert_eq!(
        shares,
        [
            ("$ann.example".to_string(), "3/5".to_string()),
            ("$bob.example".into(), "1/10".into()),
            ("$core.example".into(), "3/10".into())
        ]
    );
    let mut components = std::collections::HashSet::new();
    for seed in 0..60 {
        let pick = app
            .get(&format!("/v1/communities/forum/topics/42/pick?seed={seed}"))
            .await
            .json();
        assert_eq!(pick["splits_version"], 1);
        assert_eq!(pick["pool"], "dev");
        components.insert(pick["component"].as_str().unwrap().to_string());
    }
    assert_eq!(components.len(), 3, "{components:?}");

    let unknown_topic = app.get("/v1/communities/forum/topics/999").await.json();
    assert_eq!(unknown_topic["known"], false);
    assert_eq!(
        unknown_topic["shares"][0]["payment_pointer"],
        "$pool.example"
    );

    let refused = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/splits",
            json!({"author_bps": 9000, "participants_bps": 2000}),
        )
        .await;
    assert_eq!(
        refused.assert_problem(422, "invalid-field")["errors"][0]["rule"],
        "sum-at-most-10000"
    );
    let missing_pool = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/splits",
            json!({"tag_routes": [{"tag": "support", "pool": "support"}]}),
        )
        .await;
    missing_pool.assert_problem(422, "invalid-field");
    let typo = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/splits",
            json!({"author_pct": 10}),
        )
        .await;
    typo.assert_problem(422, "invalid-field");
    let history = app.get("/v1/communities/forum/splits").await.json();
    assert_eq!(
        history["history"].as_array().unwrap().len(),
        1,
        "refused rules store nothing"
    );
    assert_eq!(history["current"]["author_bps"], 5000);
}

async fn a_change_is_picked_up_at_once_and_survives_a_restart(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$old.example", "weight": 1}]))],
    )
    .await;
    assert_eq!(
        app.get("/v1/communities/forum/pick").await.json()["payment_pointer"],
        "$old.example"
    );
    app.admin(
        "PUT",
        "/v1/admin/communities/forum/pools/default",
        json!({"entries": [{"wallet": "$new.example", "weight": 1}]}),
    )
    .await;
    assert_eq!(
        app.get("/v1/communities/forum/pick").await.json()["payment_pointer"],
        "$new.example"
    );

    let restarted = common::app(app.db, |_| {}).await;
    let pick = restarted.get("/v1/communities/forum/pick").await.json();
    assert_eq!(pick["payment_pointer"], "$new.example");
    assert_eq!(pick["pool_version"], 2);
}

async fn picks_never_touch_the_database(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$a.example", "weight": 1}]))],
    )
    .await;
    app.state.store.close().await;
    let pick = app.get("/v1/communities/forum/pick").await;
    assert_eq!(
        pick.status, 200,
        "a pick is served from the snapshot with the database closed"
    );
    assert_eq!(
        app.get("/v1/communities/forum/pools/default").await.status,
        200
    );
    let ready = app.get("/readyz").await;
    assert!(
        ready.status.is_server_error(),
        "readiness reports the closed database"
    );
}

async fn public_routes_are_cors_open_and_admin_routes_are_not(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$a.example", "weight": 1}]))],
    )
    .await;
    let preflight = app
        .send(
            Request::options("/v1/communities/forum/pick")
                .header("origin", "https://blog.example")
                .header("access-control-request-method", "GET")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        preflight.status.is_success(),
        "{} {:?}",
        preflight.status,
        preflight.headers
    );
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let pick = app
        .send(
            Request::get("/v1/communities/forum/pick")
                .header("origin", "https://blog.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(pick.header("access-control-allow-origin"), Some("*"));
    let admin = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/pools/default",
            json!({"entries": []}),
        )
        .await;
    assert!(admin.header("access-control-allow-origin").is_none());
}

async fn operations_routes_answer(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": "$a.example", "weight": 1}]))],
    )
    .await;
    let health = app.get("/healthz").await;
    assert_eq!(
        (health.status.as_u16(), &health.body[..]),
        (200, &b"ok"[..])
    );
    assert_eq!(app.get("/readyz").await.status, 200);
    app.get("/v1/communities/forum/pick").await;
    let metrics = String::from_utf8(app.get("/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("revshare_picks_total{outcome=\"pool\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("revshare_communities 1"), "{metrics}");
    assert!(
        metrics.contains("route=\"/v1/communities/{community}/pick\""),
        "{metrics}"
    );
    let openapi = app.get("/openapi.json").await.json();
    let paths = openapi["paths"].as_object().unwrap();
    for path in [
        "/v1/communities/{community}/pools/{pool}/pick",
        "/v1/communities/{community}/topics/{topic}/pick",
        "/v1/communities/{community}/pools/{pool}/history",
        "/wm/{community}/topics/{topic}",
        "/v1/admin/communities/{community}/pools/{pool}",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(openapi["components"]["securitySchemes"]["admin_token"].is_object());
    let parameter = |path: &str, method: &str, name: &str| {
        openapi["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} documents `{name}`"))
            .clone()
    };
    for (path, name, bounds) in [
        ("/v1/communities/{community}/pick", "seed", None),
        (
            "/v1/communities/{community}/pools/{pool}/pick",
            "seed",
            None,
        ),
        (
            "/v1/communities/{community}/topics/{topic}/pick",
            "seed",
            None,
        ),
        (
            "/v1/communities/{community}/pools/{pool}/history",
            "after",
            None,
        ),
        (
            "/v1/communities/{community}/pools/{pool}/history",
            "limit",
            Some((1, 100)),
        ),
        (
            "/v1/communities/{community}/pools/{pool}/history",
            "order",
            None,
        ),
        (
            "/v1/communities/{community}/reports",
            "limit",
            Some((1, 100)),
        ),
        (
            "/v1/admin/communities/{community}/actions",
            "limit",
            Some((1, 1000)),
        ),
    ] {
        let documented = parameter(path, "get", name);
        assert_eq!(documented["in"], "query", "{path} {name}: {documented}");
        assert_ne!(documented["required"], true, "{path} {name} is optional");
        if let Some((minimum, maximum)) = bounds {
            assert_eq!(documented["schema"]["minimum"], minimum, "{path} {name}");
            assert_eq!(documented["schema"]["maximum"], maximum, "{path} {name}");
        }
    }
    let community = parameter("/v1/communities/{community}", "get", "community");
    assert_eq!(community["schema"]["pattern"], "^[a-z0-9][a-z0-9_-]{0,62}$");
    let put_pool = &openapi["paths"]["/v1/admin/communities/{community}/pools/{pool}"]["put"];
    for status in ["400", "401", "403", "413", "415", "422"] {
        assert!(
            put_pool["responses"][status].is_object(),
            "an admin write documents {status}"
        );
    }
    assert!(
        openapi["paths"]["/hooks/discourse/{community}"]["post"]["responses"]["401"].is_object(),
        "the webhook routes are documented"
    );
}

/// Entries `from..to` of a pool as a PUT body: wallets `$w.example/e{i}`, weight i + 1.
fn numbered_entries(from: usize, to: usize) -> serde_json::Value {
    json!({"entries": (from..to)
        .map(|i| json!({"wallet": format!("$w.example/e{i}"), "weight": i + 1}))
        .collect::<Vec<_>>()})
}

fn wallets(view: &serde_json::Value) -> Vec<String> {
    view["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["wallet"].as_str().unwrap().to_string())
        .collect()
}

async fn large_pools_are_answered_a_thousand_entries_at_a_time(db: TestDb) {
    let app = app(db, |_| {}).await;
    app.seed("forum", &[]).await;
    let put = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/pools/big",
            numbered_entries(0, 2_500),
        )
        .await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    let answered = put.json();
    assert_eq!(answered["entry_count"], 2_500);
    assert_eq!(
        answered["entries"].as_array().unwrap().len(),
        1_000,
        "the admin answer too"
    );
    for (from, to) in [(0, 40), (0, 2_400)] {
        let put = app
            .admin(
                "PUT",
                "/v1/admin/communities/forum/pools/big",
                numbered_entries(from, to),
            )
            .await;
        assert_eq!(put.status, 200);
    }

    // The current pool: a thousand, then the rest by following `next_entries`.
    let first = app.get("/v1/communities/forum/pools/big").await.json();
    assert_eq!(first["version"], 3);
    assert_eq!(first["entry_count"], 2_400);
    assert_eq!(first["entries_offset"], 0);
    assert_eq!(
        first["entries"][0]["share"], "1/2881200",
        "shares are of the whole pool"
    );
    let mut seen = wallets(&first);
    let mut next = first["next_entries"].as_str().map(str::to_string);
    let mut pages = 1;
    while let Some(url) = next {
        assert!(url.contains("/versions/3?"), "{url}");
        let page = app.get(&url).await.json();
        seen.extend(wallets(&page));
        next = page["next_entries"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..2_400)
        .map(|i| format!("https://w.example/e{i}"))
        .collect();
    assert_eq!(seen, expected, "every entry once, in order");
    let window = app
        .get("/v1/communities/forum/pools/big?offset=10&limit=5")
        .await
        .json();
    assert_eq!(wallets(&window), expected[10..15]);
    assert_eq!(window["entries_offset"], 10);
    app.get("/v1/communities/forum/pools/big?limit=1001")
        .await
        .assert_problem(400, "invalid-parameter");
    app.get("/v1/communities/forum/pools/big/versions/9")
        .await
        .assert_problem(404, "not-found");
    app.get("/v1/communities/forum/pools/big/versions/0")
        .await
        .assert_problem(400, "invalid-parameter");
    let second = app
        .get("/v1/communities/forum/pools/big/versions/2")
        .await
        .json();
    assert_eq!(second["entry_count"], 40);
    assert!(second["next_entries"].is_null());

    // History pages end at a thousand entries: version 1 alone (1,000 of its 2,500), then
    // version 2 whole and 960 of version 3.
    let page = app
        .get("/v1/communities/forum/pools/big/history?limit=100")
        .await
        .json();
    let versions = page["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{:?}", page["next"]);
    assert_eq!(versions[0]["entries"].as_array().unwrap().len(), 1_000);
    assert!(
        versions[0]["next_entries"]
            .as_str()
            .unwrap()
            .contains("/versions/1?offset=1000")
    );
    let next = page["next"].as_str().unwrap().to_string();
    let page = app.get(&next).await.json();
    let versions = page["versions"].as_array().unwrap();
    let counts: Vec<usize> = versions
        .iter()
        .map(|v| v["entries"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [40, 960]);
    assert_eq!(versions[1]["entry_count"], 2_400);
    assert!(
        versions[1]["next_entries"]
            .as_str()
            .unwrap()
            .contains("/versions/3?offset=960")
    );
    assert!(page["next"].is_null(), "no version is left");
}

on_both_databases!(
    admin_routes_need_the_bearer_token,
    a_community_is_created_once,
    a_pool_shows_exact_percentages_and_its_history,
    an_invalid_pointer_is_refused_by_field_and_rule_and_nothing_changes,
    malformed_bodies_get_the_right_status_and_store_nothing,
    unknown_things_are_problems,
    a_seeded_pick_is_reproducible_and_names_its_version,
    topic_picks_follow_the_split_rules,
    a_change_is_picked_up_at_once_and_survives_a_restart,
    picks_never_touch_the_database,
    public_routes_are_cors_open_and_admin_routes_are_not,
    operations_routes_answer,
    large_pools_are_answered_a_thousand_entries_at_a_time,
);
