//! The Web Monetization endpoint against a wallet-address server on loopback: documents are
//! served as the wallet serves them, cached, bounded in time and size, or redirected to.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::{TestApp, TestDb, app};
use serde_json::json;

/// Requests the fake wallet server saw, by host.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

fn document(host: &str) -> String {
    json!({
        "id": format!("https://{host}/.well-known/pay"),
        "publicName": host,
        "assetCode": "USD",
        "assetScale": 2,
        "authServer": format!("https://auth.{host}"),
        "resourceServer": format!("https://{host}"),
    })
    .to_string()
}

/// Serves `/{host}/{path}` as the wallet at `https://{host}/{path}` would, with one host per
/// failure mode.
async fn wallet_server() -> (String, Hits) {
    async fn serve(
        State(hits): State<Hits>,
        Path((host, _path)): Path<(String, String)>,
    ) -> axum::response::Response {
        *hits.lock().unwrap().entry(host.clone()).or_default() += 1;
        match host.as_str() {
            "slow.example" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                document(&host).into_response()
            }
            "huge.example" => "x".repeat(10_000).into_response(),
            "html.example" => "<html>not a wallet</html>".into_response(),
            "missing.example" => StatusCode::NOT_FOUND.into_response(),
            _ => ([("content-type", "application/json")], document(&host)).into_response(),
        }
    }
    let hits = Hits::default();
    let router = axum::Router::new()
        .route("/{host}/{*path}", axum::routing::get(serve))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (origin, hits)
}

async fn service_with_wallets(db: TestDb, answer: &str, wallet: &str) -> (TestApp, Hits) {
    let (origin, hits) = wallet_server().await;
    let answer = answer.to_string();
    let app = app(db, move |config| {
        config.monetization.fetch_origin_override = Some(origin);
        config.monetization.fetch_timeout_ms = 300;
        config.monetization.max_document_bytes = 2_048;
        config.monetization.answer = serde_json::from_value(json!(answer)).unwrap();
    })
    .await;
    app.seed(
        "forum",
        &[("default", json!([{"wallet": wallet, "weight": 1}]))],
    )
    .await;
    (app, hits)
}

async fn the_endpoint_answers_with_the_wallets_own_document_and_caches_it(db: TestDb) {
    let (app, hits) = service_with_wallets(db, "wallet-document", "$good.example").await;
    for _ in 0..3 {
        let reply = app.get("/wm/forum").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(
            reply.header("x-revshare-wallet"),
            Some("https://good.example/.well-known/pay")
        );
        assert_eq!(
            String::from_utf8(reply.body.to_vec()).unwrap(),
            document("good.example")
        );
    }
    assert_eq!(
        hits.lock().unwrap().get("good.example"),
        Some(&1),
        "fetched once, then cached"
    );
    let metrics = String::from_utf8(app.get("/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("revshare_wallet_documents_total{outcome=\"fetched\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("revshare_wallet_documents_total{outcome=\"cached\"} 2"),
        "{metrics}"
    );
}

async fn topic_and_pool_contexts_travel_in_the_path(db: TestDb) {
    let (app, _) = service_with_wallets(db, "wallet-document", "$good.example").await;
    for path in ["/wm/forum/topics/42", "/wm/forum/pools/default"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.json()["assetCode"], "USD");
    }
    app.get("/wm/forum/pools/dev")
        .await
        .assert_problem(404, "unknown-pool");
}

async fn redirect_mode_sends_the_browser_to_the_wallet(db: TestDb) {
    let (app, hits) = service_with_wallets(db, "redirect", "$good.example/alice").await;
    let reply = app.get("/wm/forum").await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("https://good.example/alice"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(
        hits.lock().unwrap().is_empty(),
        "redirect mode fetches nothing"
    );
}

async fn a_wallet_that_fails_is_a_bad_gateway(db: TestDb) {
    for wallet in [
        "$slow.example",
        "$huge.example",
        "$html.example",
        "$missing.example",
    ] {
        let (app, _) =
            service_with_wallets(common::sqlite_db().await, "wallet-document", wallet).await;
        let problem = app
            .get("/wm/forum")
            .await
            .assert_problem(502, "wallet-unreachable");
        assert!(
            problem["detail"].as_str().unwrap().contains(&wallet[1..]),
            "{wallet}: {problem}"
        );
    }
    // The database under test answers too: the failure mode does not depend on it.
    let (app, _) = service_with_wallets(db, "wallet-document", "$missing.example").await;
    app.get("/wm/forum")
        .await
        .assert_problem(502, "wallet-unreachable");
}

on_both_databases!(
    the_endpoint_answers_with_the_wallets_own_document_and_caches_it,
    topic_and_pool_contexts_travel_in_the_path,
    redirect_mode_sends_the_browser_to_the_wallet,
    a_wallet_that_fails_is_a_bad_gateway,
);
