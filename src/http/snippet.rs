//! The web-page snippet, `GET /revshare.js`: a small dependency-free script that keeps one
//! `<link rel="monetization">` pointing at this service's Web Monetization endpoint for the
//! page's context. Its source is `assets/revshare.js`, compiled into the binary, so the script a
//! page loads always matches the service that answers its links.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The script's source.
pub const SNIPPET: &str = include_str!("../../assets/revshare.js");

/// The path the service serves the snippet at.
pub const SNIPPET_PATH: &str = "/revshare.js";

/// Serves the snippet to any page: CORS-open, cached for five minutes.
pub async fn script() -> Response {
    let mut response = SNIPPET.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    response
}
