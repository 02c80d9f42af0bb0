//! One HTTP exchange with a Discourse site, retried as Discourse asks: the `Api-Key` and
//! `Api-Username` headers, a timeout on every exchange, the site's shared rate-limit gate, backoff
//! on server errors and lost connections, and errors that never carry the key.
//!
//! [`DiscourseSites`] owns the HTTP client (one connection pool for the process) and one
//! [`RateGate`] per site, so that every client built for the same site shares its waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::api::ErrorDoc;
use super::retry::{RateGate, rate_limit_wait};
use crate::config::DiscourseApiConfig;
use crate::sources::normalise_site_url;

/// Why a Discourse call failed. Messages name the request and what Discourse said; never the key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request is not one this client sends (bad input caught before any I/O).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Discourse has no such resource (404).
    #[error("{request}: Discourse has no such resource: {detail}")]
    NotFound {
        /// Method and path.
        request: String,
        /// What Discourse said.
        detail: String,
    },
    /// Discourse refused the call (a 4xx other than 404 and 429); sending it again will not help.
    #[error("{request}: Discourse refused the call ({status}): {detail}")]
    Refused {
        /// Method and path.
        request: String,
        /// The HTTP status.
        status: u16,
        /// What Discourse said.
        detail: String,
    },
    /// Discourse could not be reached, kept failing, or asked for a longer wait than a call
    /// sits through; the call may succeed later.
    #[error("{request}: Discourse is unavailable: {detail}")]
    Unavailable {
        /// Method and path.
        request: String,
        /// What went wrong.
        detail: String,
        /// How long Discourse asked to wait, when it did.
        retry_after: Option<Duration>,
    },
    /// Discourse answered 2xx with something this client cannot read.
    #[error("{request}: Discourse's answer could not be read: {detail}")]
    Malformed {
        /// Method and path.
        request: String,
        /// What could not be read.
        detail: String,
    },
}

/// A document exactly as Discourse sent it, kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RawDocument {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, without the site's base URL.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// The body, byte for byte (as UTF-8 text).
    pub body: String,
}

/// Whether a request may be sent again after an answer was possibly acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, status toggles, and creations guarded by an `external_id`: safe to send again
    /// after a 5xx or a timeout.
    Safe,
    /// A creation without a guard: sent again only when Discourse surely did not act on it
    /// (a 429, or a connection that was never made).
    OnlyIfUnsent,
}

/// The Discourse sites this process talks to: one HTTP client and one rate-limit gate per site.
#[derive(Clone, Debug)]
pub struct DiscourseSites {
    http: reqwest::Client,
    config: Arc<DiscourseApiConfig>,
    gates: Arc<Mutex<HashMap<String, Arc<RateGate>>>>,
}

impl DiscourseSites {
    /// Builds the shared HTTP client (rustls, no cookies, redirects followed only within the
    /// site, so the `Api-Key` header never goes to another host).
    pub fn new(config: &DiscourseApiConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("revshare-oracle/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.timeout())
            .redirect(reqwest::redirect::Policy::custom(same_site_redirects))
            .build()?;
        Ok(DiscourseSites {
            http,
            config: Arc::new(config.clone()),
            gates: Arc::default(),
        })
    }

    /// The client settings.
    pub fn config(&self) -> &DiscourseApiConfig {
        &self.config
    }

    /// How long calls to the site at `base_url` are still held back by a rate limit, if they are.
    pub fn rate_limited(&self, base_url: &str) -> Option<Duration> {
        let gates = self.gates.lock().expect("not poisoned");
        gates.get(&normalise_site_url(base_url))?.remaining()
    }

    /// A transport to the site at `base_url` acting as `username` with `key`.
    pub fn transport(&self, base_url: &str, key: SecretString, username: &str) -> Transport {
        let base_url = normalise_site_url(base_url);
        let gate = self
            .gates
            .lock()
            .expect("not poisoned")
            .entry(base_url.clone())
            .or_default()
            .clone();
        Transport {
            http: self.http.clone(),
            config: self.config.clone(),
            gate,
            base_url,
            key,
            username: username.to_string(),
        }
    }
}

/// Sends requests to one site as one API user.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    config: Arc<DiscourseApiConfig>,
    gate: Arc<RateGate>,
    base_url: String,
    key: SecretString,
    username: String,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl Transport {
    /// The site's base URL, normalised.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a request until it succeeds or fails for good, and reads the whole 2xx answer.
    /// `body` is sent as JSON. 429s wait as Discourse says (sharing the wait with every call to
    /// the site); 5xx and lost connections back off, within `attempts`; other 4xx fail at once.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        repeat: Repeat,
    ) -> Result<RawDocument, ApiError> {
        let request = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let url = format!("{}{path}", self.base_url);
        let mut failures = 0u32;
        let mut rate_limits = 0u32;
        loop {
            self.gate.wait().await;
            let mut builder = self
                .http
                .request(method.clone(), &url)
                .timeout(self.config.timeout())
                .header("Api-Key", self.key.expose_secret())
                .header("Api-Username", &self.username)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = body {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match response.text().await {
                        Ok(text) => Ok((status, retry_after, text)),
                        Err(e) => Err((describe(&e), false)),
                    }
                }
                Err(e) => Err((describe(&e), e.is_connect())),
            };
            let (status, retry_after, text) = match outcome {
                Ok(answer) => answer,
                Err((detail, unsent)) => {
                    failures += 1;
                    if (repeat == Repeat::Safe || unsent) && failures < self.config.attempts {
                        tracing::debug!(%request, %detail, failures, "Discourse call failed; retrying");
                        tokio::time::sleep(self.config.backoff(failures)).await;
                        continue;
                    }
                    return Err(ApiError::Unavailable {
                        request,
                        detail,
                        retry_after: None,
                    });
                }
            };
            if status.is_success() {
                return Ok(RawDocument {
                    method: method.to_string(),
                    path: path.to_string(),
                    status: status.as_u16(),
                    body: text,
                });
            }
            let error = ErrorDoc::parse(&text);
            let detail = error.summary(status.canonical_reason().unwrap_or("error"));
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = rate_limit_wait(
                    retry_after.as_deref(),
                    error.extras.as_ref().and_then(|e| e.wait_seconds),
                    jiff::Timestamp::now(),
                );
                rate_limits += 1;
                if wait > Duration::from_secs(self.config.max_rate_limit_wait_secs)
                    || rate_limits > self.config.max_rate_limit_waits
                {
                    return Err(ApiError::Unavailable {
                        request,
                        detail: format!("rate limited: {detail}"),
                        retry_after: Some(wait),
                    });
                }
                tracing::info!(%request, wait_ms = wait.as_millis() as u64, "Discourse rate limit; waiting");
                self.gate.hold_for(wait);
                continue;
            }
            if status.is_server_error() {
                failures += 1;
                if repeat == Repeat::Safe && failures < self.config.attempts {
                    tracing::debug!(%request, status = status.as_u16(), failures, "Discourse server error; retrying");
                    tokio::time::sleep(self.config.backoff(failures)).await;
                    continue;
                }
                return Err(ApiError::Unavailable {
                    request,
                    detail: format!("{}: {detail}", status.as_u16()),
                    retry_after: None,
                });
            }
            return Err(if status == StatusCode::NOT_FOUND {
                ApiError::NotFound { request, detail }
            } else {
                ApiError::Refused {
                    request,
                    status: status.as_u16(),
                    detail,
                }
            });
        }
    }
}

/// Follows up to three redirects that stay on the first request's scheme, host and port.
fn same_site_redirects(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first();
    let same = first.is_some_and(|first| {
        first.scheme() == attempt.url().scheme()
            && first.host_str() == attempt.url().host_str()
            && first.port_or_known_default() == attempt.url().port_or_known_default()
    });
    if same && attempt.previous().len() <= 3 {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

/// A transport error in words, without the URL's query and never with a header.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the exchange failed"
    };
    let mut source = std::error::Error::source(e);
    let mut cause = None;
    while let Some(s) = source {
        cause = Some(s.to_string());
        source = s.source();
    }
    match cause {
        Some(cause) => format!("{kind} ({cause})"),
        None => kind.to_string(),
    }
}
