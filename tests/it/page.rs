//! The transparency page as a browser gets it: escaping, HTML errors, and every version shown;
//! and its errors as problem details for clients that do not ask for HTML.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

use axum::http::{StatusCode, header};
use revshare_oracle::config::Config;
use revshare_oracle::server::Service;

const TOKEN: &str = "page-test-token";

async fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut config = Config {
        database_url: format!("sqlite://{}", dir.path().join("page.db").display()),
        admin_token: Some(TOKEN.to_string().into()),
        ..Config::default()
    };
    // The page reads history only; the default key path is the checkout's data folder.
    config.oracle.enabled = false;
    let service = Service::build(config).await.expect("the service builds");
    (service.router(), dir)
}

/// What Chromium sends when it navigates to a page.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, String, Option<String>) {
    send_accepting(app, method, uri, body, None).await
}

async fn send_accepting(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
    accept: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    if body.is_some() {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8(bytes.to_vec()).unwrap(),
        content_type,
    )
}

#[tokio::test]
async fn hostile_names_and_labels_are_escaped() {
    let (app, _dir) = app().await;
    let hostile = r#"<script>alert("x")</script>"#;
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/admin/communities",
        Some(serde_json::json!({"slug": "evil", "name": hostile})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body, _) = send(
        &app,
        "PUT",
        "/v1/admin/communities/evil/pools/default",
        Some(serde_json::json!({
            "entries": [{"wallet": "$wallet.example/a", "weight": 1, "label": hostile}],
            "note": "<img src=x onerror=alert(1)>",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, html, content_type) = send(&app, "GET", "/c/evil", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert!(
        !html.contains("<script"),
        "a raw <script> tag reached the page"
    );
    assert!(!html.contains("<img"), "a raw <img> tag reached the page");
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "the label is shown escaped"
    );
}

#[tokio::test]
async fn an_unknown_community_is_an_html_404() {
    let (app, _dir) = app().await;
    let (status, html, content_type) =
        send_accepting(&app, "GET", "/c/nobody-here", None, Some(BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert!(
        html.contains("Unknown community") && html.contains("nobody-here"),
        "{html}"
    );
}

#[tokio::test]
async fn an_invalid_slug_is_an_html_400() {
    let (app, _dir) = app().await;
    for uri in ["/c/Not%20A%20Slug", "/c/..%2F.."] {
        let (status, html, content_type) =
            send_accepting(&app, "GET", uri, None, Some(BROWSER_ACCEPT)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert!(html.contains("not a valid community name"), "{html}");
    }
}

#[tokio::test]
async fn page_errors_are_problem_details_for_clients_that_do_not_ask_for_html() {
    let (app, _dir) = app().await;
    for (uri, status, slug) in [
        ("/c/..%2F..", StatusCode::BAD_REQUEST, "invalid-parameter"),
        (
            "/c/Not%20A%20Slug",
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
        ),
        ("/c/nobody-here", StatusCode::NOT_FOUND, "unknown-community"),
    ] {
        for accept in [
            None,
            Some("application/json"),
            Some("*/*"),
            Some("text/html;q=0"),
        ] {
            let (got, body, content_type) = send_accepting(&app, "GET", uri, None, accept).await;
            assert_eq!(got, status, "{uri} with {accept:?}");
            assert_eq!(
                content_type.as_deref(),
                Some("application/problem+json"),
                "{uri} with {accept:?}"
            );
            let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(problem["type"], format!("/problems/{slug}"), "{body}");
        }
    }
}

#[tokio::test]
async fn the_page_shows_shares_rules_and_every_version() {
    let (app, _dir) = app().await;
    send(
        &app,
        "POST",
        "/v1/admin/communities",
        Some(serde_json::json!({"slug": "garden", "name": "Garden"})),
    )
    .await;
    for entries in [
        serde_json::json!([{"wallet": "$w.example/ann", "weight": 1}]),
        serde_json::json!([{"wallet": "$w.example/ann", "weight": 1}, {"wallet": "$w.example/bo", "weight": 2, "label": "Bo"}]),
    ] {
        let (status, body, _) = send(
            &app,
            "PUT",
            "/v1/admin/communities/garden/pools/default",
            Some(serde_json::json!({"entries": entries, "note": "seed"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, _) = send(&app, "PUT", "/v1/admin/communities/garden/splits", Some(serde_json::json!({
        "author_bps": 2500, "participants_bps": 1000, "tag_routes": [], "default_pool": "default",
    }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, html, _) = send(&app, "GET", "/c/garden", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("33.3333%") && html.contains("66.6667%"),
        "current shares are shown"
    );
    assert!(html.contains("2/3"), "exact fractions are shown");
    assert_eq!(
        html.matches("data-history-row").count(),
        3,
        "two pool versions and one split version"
    );
    assert!(html.contains("65%"), "the pool keeps 100 - 25 - 10 percent");
    assert!(html.contains(r#"role="img""#));
}

#[tokio::test]
async fn a_large_pool_is_summed_up_with_links_to_its_entries() {
    let (app, _dir) = app().await;
    send(
        &app,
        "POST",
        "/v1/admin/communities",
        Some(serde_json::json!({"slug": "big", "name": "Big"})),
    )
    .await;
    let entries = |count: usize| {
        serde_json::json!({"entries": (0..count)
            .map(|i| serde_json::json!({"wallet": format!("$w.example/e{i}"), "weight": 1}))
            .collect::<Vec<_>>()})
    };
    for count in [2_500, 40, 2_400] {
        let (status, body, _) = send(
            &app,
            "PUT",
            "/v1/admin/communities/big/pools/default",
            Some(entries(count)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, html, _) = send(&app, "GET", "/c/big", None).await;
    assert_eq!(status, StatusCode::OK);
    let rows = html.matches("<tr data-wallet=").count();
    assert_eq!(rows, 500, "the table lists the first 500 entries");
    assert!(html.contains("https://w.example/e499") || html.contains("$w.example/e499"));
    assert!(!html.contains("w.example/e500<"), "and not the 501st");
    assert!(
        html.contains("And 1900 more entries")
            && html.contains("/v1/communities/big/pools/default/versions/3?offset=500"),
        "a link to the rest"
    );
    let summaries = html.matches("data-entry-summary").count();
    assert_eq!(summaries, 2, "the two large versions are summed up");
    assert!(
        html.contains("2500 entries: <a href=\"/v1/communities/big/pools/default/versions/1\"")
    );
    assert!(
        html.contains("40 entries</summary>"),
        "the small version is listed"
    );
    assert!(
        html.len() < 400_000,
        "the page stays small: {} bytes",
        html.len()
    );
}
