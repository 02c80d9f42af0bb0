//! One exchange with Loomio, and the retries around it: the request with the key as a bearer
//! token, the answer read within the size limit, and each failure judged for whether another
//! try may succeed and whether Loomio may already have acted on it.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::super::retry::retry_after;
use super::{LoomioClient, LoomioError, MAX_REASON_CHARS};
use crate::voting::evidence::Document;

/// One failed try, and what it says about trying again.
pub(super) struct Failure {
    pub(super) error: LoomioError,
    /// Whether another try may succeed.
    pub(super) retryable: bool,
    /// Whether Loomio may have acted on the request (so a create must not be repeated blind).
    pub(super) may_have_run: bool,
    pub(super) retry_after: Option<Duration>,
}

impl LoomioClient {
    /// A call that is safe to repeat, with retries.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Document, LoomioError> {
        let mut attempt = 1;
        loop {
            match self.once(&method, path, body).await {
                Ok(document) => return Ok(document),
                Err(failure) => {
                    let wait = self.wait_before_retry(&failure, attempt)?;
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// How long to wait before trying again, or the error when no further try is allowed.
    pub(super) fn wait_before_retry(
        &self,
        failure: &Failure,
        attempt: u32,
    ) -> Result<Duration, LoomioError> {
        let give_up = || clone_error(&failure.error);
        if !failure.retryable || attempt >= self.policy.attempts {
            return Err(give_up());
        }
        let wait = failure
            .retry_after
            .unwrap_or_else(|| self.policy.backoff(attempt));
        if wait > self.policy.max_wait {
            return Err(give_up());
        }
        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %failure.error, "retrying a Loomio call");
        Ok(wait)
    }

    /// One try.
    pub(super) async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Document, Failure> {
        let source = format!("{method} {path}");
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.api_key.expose_secret()))
            .map_err(|_| Failure {
            error: LoomioError::Status {
                status: 0,
                detail: "the API key holds characters an HTTP header cannot carry".into(),
                retry_after: None,
            },
            retryable: false,
            may_have_run: false,
            retry_after: None,
        })?;
        auth.set_sensitive(true);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.site))
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let mut response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let waited = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, jiff::Timestamp::now()));
        let too_large = || LoomioError::TooLarge {
            request: source.clone(),
            limit: self.max_body_bytes,
        };
        let final_failure = |error| Failure {
            error,
            retryable: false,
            may_have_run: true,
            retry_after: None,
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes as u64)
        {
            return Err(final_failure(too_large()));
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > self.max_body_bytes {
                        return Err(final_failure(too_large()));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport(&e)),
            }
        }
        if status.is_success() {
            let body = String::from_utf8(bytes).map_err(|_| {
                final_failure(LoomioError::Malformed {
                    request: source.clone(),
                    detail: "the body is not UTF-8".into(),
                })
            })?;
            return Ok(Document { source, body });
        }
        let detail = self.scrub(&reason(status, &bytes));
        let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        Err(Failure {
            error: LoomioError::Status {
                status: status.as_u16(),
                detail,
                retry_after: waited,
            },
            retryable,
            // Rack::Attack answers 429 before the request reaches Loomio's controllers.
            may_have_run: status != StatusCode::TOO_MANY_REQUESTS,
            retry_after: waited.filter(|_| retryable),
        })
    }

    fn transport(&self, e: &reqwest::Error) -> Failure {
        let mut detail = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "the connection failed".to_string()
        } else {
            "the exchange failed".to_string()
        };
        let mut cause = e.source();
        while let Some(inner) = cause {
            detail.push_str(": ");
            detail.push_str(&inner.to_string());
            cause = inner.source();
        }
        Failure {
            error: LoomioError::Unreachable {
                detail: self.scrub(&detail),
            },
            retryable: true,
            // A refused connection never carried the request; anything later may have.
            may_have_run: !e.is_connect(),
            retry_after: None,
        }
    }

    /// The text without the API key, should anything echo it.
    fn scrub(&self, text: &str) -> String {
        let key = self.api_key.expose_secret();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[redacted]")
        }
    }
}

fn clone_error(e: &LoomioError) -> LoomioError {
    match e {
        LoomioError::Unreachable { detail } => LoomioError::Unreachable {
            detail: detail.clone(),
        },
        LoomioError::Status {
            status,
            detail,
            retry_after,
        } => LoomioError::Status {
            status: *status,
            detail: detail.clone(),
            retry_after: *retry_after,
        },
        LoomioError::TooLarge { request, limit } => LoomioError::TooLarge {
            request: request.clone(),
            limit: *limit,
        },
        LoomioError::Malformed { request, detail } => LoomioError::Malformed {
            request: request.clone(),
            detail: detail.clone(),
        },
    }
}

/// Loomio's reason for a refusal: `error`, the fields of `errors`, a flash message, or the start
/// of the body.
fn reason(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        if let Some(errors) = v.get("errors").and_then(Value::as_object) {
            let fields: Vec<String> = errors
                .iter()
                .map(|(field, messages)| {
                    let messages: Vec<String> = match messages {
                        Value::Array(list) => list.iter().map(plain).collect(),
                        other => vec![plain(other)],
                    };
                    format!("{field} {}", messages.join(", "))
                })
                .collect();
            return Some(fields.join("; "));
        }
        v.get("error")
            .or_else(|| v.pointer("/flash/error"))
            .map(plain)
    });
    let detail = from_json
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    let detail = if detail.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_string()
    } else {
        detail
    };
    match detail.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &detail[..cut]),
        None => detail,
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_reasons_come_from_loomios_error_bodies() {
        let s = StatusCode::UNPROCESSABLE_ENTITY;
        assert_eq!(
            reason(s, br#"{"errors":{"closing_at":["must be in the future"],"title":["can't be blank"]}}"#),
            "closing_at must be in the future; title can't be blank"
        );
        assert_eq!(
            reason(
                StatusCode::FORBIDDEN,
                br#"{"error":"You are not authorized to access this page."}"#
            ),
            "You are not authorized to access this page."
        );
        assert_eq!(reason(StatusCode::NOT_FOUND, br#"{"error":404}"#), "404");
        assert_eq!(
            reason(StatusCode::TOO_MANY_REQUESTS, b"Retry later\n"),
            "Retry later"
        );
        assert_eq!(reason(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
        let long = "x".repeat(1000);
        assert_eq!(
            reason(StatusCode::BAD_REQUEST, long.as_bytes())
                .chars()
                .count(),
            MAX_REASON_CHARS + 1
        );
    }
}
