//! A client of Loomio's User API, `/api/b2`, with a user's API key.
//!
//! Endpoints, parameters and bodies follow Loomio's User API documentation
//! (`docs/user_manual/integrations/api/user-api.md`, served at `/help/api2`) and its controllers
//! (`app/controllers/api/b2/`):
//!
//! - the key travels as `Authorization: Bearer <key>`; Loomio 3.1.3 and later refuse it in the
//!   query string, and a URL is what proxies and logs record;
//! - `POST /api/b2/polls` and `PATCH /api/b2/polls/{id}` take the poll's fields nested under
//!   `poll` (`Api::B2::BaseController#permitted_params` prefers the nested hash; a flat JSON body
//!   goes through Rails' parameter wrapping, which keeps only the poll table's columns and so
//!   drops `group_id` and `options`);
//! - a refusal is JSON: `{"error": "…"}` (403, 404 as `{"error": 404}`), `{"errors": {"field":
//!   ["…"]}}` (422); a 429 comes from Rack::Attack as plain text, with `Retry-After` when the
//!   instance sends one.
//!
//! Every call has the HTTP client's timeout. Connection errors, 429 and 5xx are retried with
//! bounded, doubling waits (a 429's or 503's `Retry-After` is honoured up to a limit); other 4xx
//! are final. A create is retried blind only when it certainly did not reach Loomio (the
//! connection was refused, or a 429); after a timeout or a 5xx it may have been applied, so it is
//! retried only if the poll is not found in the group by its intent marker first. Errors carry
//! the platform's reason but never the API key, which is also scrubbed from anything Loomio echoes.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::document::{
    DocumentError, Poll, ThreadStances, parse_poll, parse_polls, parse_thread_stances,
};
use super::retry::{RetryPolicy, retry_after};
use crate::domain::Timestamp;
use crate::voting::evidence::Document;
use crate::voting::intent::IntentMarker;

/// How many of a group's newest polls are searched for an intent marker.
const MARKER_SEARCH_LIMIT: u32 = 50;

/// Longest platform reason kept in an error.
const MAX_REASON_CHARS: usize = 300;

/// Why a Loomio call failed.
#[derive(Debug, thiserror::Error)]
pub enum LoomioError {
    /// No HTTP answer: the connection failed or timed out, every try.
    #[error("Loomio could not be reached ({detail})")]
    Unreachable {
        /// What the connection did.
        detail: String,
    },
    /// Loomio answered with an error status (after any retries).
    #[error("Loomio answered {status}: {detail}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Loomio's reason, trimmed, without the key.
        detail: String,
        /// How long Loomio asked callers to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The answer was larger than the configured limit.
    #[error("Loomio's answer to {request} is larger than {limit} bytes")]
    TooLarge {
        /// What was asked.
        request: String,
        /// The limit.
        limit: usize,
    },
    /// The answer could not be read.
    #[error("Loomio's answer to {request} could not be read: {detail}")]
    Malformed {
        /// What was asked.
        request: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// A typed value and the document it was read from, exactly as received.
#[derive(Clone, Debug)]
pub struct Read<T> {
    /// What the document says.
    pub value: T,
    /// The document.
    pub document: Document,
}

/// Loomio's poll types this service starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollType {
    /// A proposal: agree, abstain, disagree, block.
    Proposal,
    /// A poll: any options, one choice.
    Poll,
}

/// The options a proposal is given in Loomio's documentation.
const PROPOSAL_OPTIONS: [&str; 4] = ["agree", "abstain", "disagree", "block"];

impl PollType {
    /// A proposal when every option is one of a proposal's (in any case), else a poll.
    pub fn for_options(options: &[String]) -> Self {
        if !options.is_empty()
            && options
                .iter()
                .all(|o| PROPOSAL_OPTIONS.contains(&o.trim().to_ascii_lowercase().as_str()))
        {
            PollType::Proposal
        } else {
            PollType::Poll
        }
    }

    /// Loomio's `poll_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            PollType::Proposal => "proposal",
            PollType::Poll => "poll",
        }
    }
}

/// A poll to create.
#[derive(Clone, Debug)]
pub struct NewPoll<'a> {
    /// The group whose members vote.
    pub group_id: u64,
    /// The title.
    pub title: &'a str,
    /// The details, in Markdown.
    pub details: &'a str,
    /// The type.
    pub poll_type: PollType,
    /// The options, in order.
    pub options: &'a [String],
    /// When voting ends (Loomio rounds it down to the hour; it must then still be in the future).
    pub closing_at: Timestamp,
}

impl NewPoll<'_> {
    /// The create body: fields nested under `poll`, results shown as votes arrive, every member
    /// of the group a voter.
    fn body(&self) -> Value {
        json!({"poll": {
            "group_id": self.group_id,
            "title": self.title,
            "details": self.details,
            "details_format": "md",
            "poll_type": self.poll_type.as_str(),
            "options": self.options,
            "closing_at": self.closing_at.to_rfc3339(),
            "hide_results": "off",
            "specified_voters_only": false,
            "anonymous": false,
        }})
    }
}

/// A client of one Loomio site with one user's API key.
#[derive(Clone, Debug)]
pub struct LoomioClient {
    http: reqwest::Client,
    site: String,
    api_key: SecretString,
    policy: RetryPolicy,
    max_body_bytes: usize,
}

/// One failed try, and what it says about trying again.
struct Failure {
    error: LoomioError,
    /// Whether another try may succeed.
    retryable: bool,
    /// Whether Loomio may have acted on the request (so a create must not be repeated blind).
    may_have_run: bool,
    retry_after: Option<Duration>,
}

impl LoomioClient {
    /// A client of the site at `site` (such as `https://www.loomio.com`), whose API lives at
    /// `{site}/api/b2`. The HTTP client carries the timeouts.
    pub fn new(
        http: reqwest::Client,
        site: &str,
        api_key: SecretString,
        policy: RetryPolicy,
        max_body_bytes: usize,
    ) -> Self {
        LoomioClient {
            http,
            site: site.trim_end_matches('/').to_string(),
            api_key,
            policy,
            max_body_bytes,
        }
    }

    /// Where members open a poll: `{site}/p/{key}`.
    pub fn poll_url(&self, key: &str) -> String {
        format!("{}/p/{key}", self.site)
    }

    /// A poll with its options, results and outcome (`GET /api/b2/polls/{id}`).
    pub async fn poll(&self, id: &str) -> Result<Read<Poll>, LoomioError> {
        let document = self
            .call(Method::GET, &format!("/api/b2/polls/{id}"), None)
            .await?;
        read(document, parse_poll)
    }

    /// The current stances in a thread and their voters
    /// (`GET /api/b2/threads/{topic_id}/items?compact=1`; `compact` leaves out the side-loads
    /// this service does not read).
    pub async fn thread_stances(&self, topic_id: u64) -> Result<Read<ThreadStances>, LoomioError> {
        let document = self
            .call(
                Method::GET,
                &format!("/api/b2/threads/{topic_id}/items?compact=1"),
                None,
            )
            .await?;
        read(document, parse_thread_stances)
    }

    /// A group's newest polls, open and closed (`GET /api/b2/polls?group_id=…&status=all`, which
    /// Loomio orders newest first).
    pub async fn recent_polls(
        &self,
        group_id: u64,
        limit: u32,
    ) -> Result<Read<Vec<Poll>>, LoomioError> {
        let document = self
            .call(
                Method::GET,
                &format!("/api/b2/polls?group_id={group_id}&status=all&limit={limit}&offset=0"),
                None,
            )
            .await?;
        read(document, parse_polls)
    }

    /// The poll in the group whose details carry `marker`, among its newest.
    pub async fn find_poll(
        &self,
        group_id: u64,
        marker: &IntentMarker,
    ) -> Result<Option<Poll>, LoomioError> {
        let polls = self.recent_polls(group_id, MARKER_SEARCH_LIMIT).await?;
        Ok(polls
            .value
            .into_iter()
            .find(|p| p.details.lines().any(|line| line.trim() == marker.as_str())))
    }

    /// Creates a poll (`POST /api/b2/polls`). With a marker in the details, a try that may have
    /// reached Loomio is followed by a search for the poll before the next try, so the poll is
    /// created once; without one such a failure is returned rather than risk a second poll.
    pub async fn create_poll(
        &self,
        poll: &NewPoll<'_>,
        marker: Option<&IntentMarker>,
    ) -> Result<Read<Poll>, LoomioError> {
        let body = poll.body();
        let mut attempt = 1;
        loop {
            match self.once(&Method::POST, "/api/b2/polls", Some(&body)).await {
                Ok(document) => return read(document, parse_poll),
                Err(failure) => {
                    let wait = self.wait_before_retry(&failure, attempt)?;
                    if failure.may_have_run && marker.is_none() {
                        return Err(failure.error);
                    }
                    // The wait comes first, so a create Loomio is still applying can land.
                    tokio::time::sleep(wait).await;
                    if let (true, Some(marker)) = (failure.may_have_run, marker)
                        && let Some(found) = self.find_poll(poll.group_id, marker).await?
                    {
                        tracing::info!(
                            poll = found.id,
                            "a create that failed had reached Loomio; its poll is used"
                        );
                        let document = self
                            .call(Method::GET, &format!("/api/b2/polls/{}", found.id), None)
                            .await?;
                        return read(document, parse_poll);
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Moves a poll's closing time (`PATCH /api/b2/polls/{id}` with `closing_at`); b2 has no
    /// other way to close a poll.
    pub async fn set_closing_at(&self, id: &str, at: Timestamp) -> Result<Read<Poll>, LoomioError> {
        let body = json!({"poll": {"closing_at": at.to_rfc3339()}});
        let document = self
            .call(Method::PATCH, &format!("/api/b2/polls/{id}"), Some(&body))
            .await?;
        read(document, parse_poll)
    }

    /// A call that is safe to repeat, with retries.
    async fn call(
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
    fn wait_before_retry(&self, failure: &Failure, attempt: u32) -> Result<Duration, LoomioError> {
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
    async fn once(
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

fn read<T>(
    document: Document,
    parse: fn(&str) -> Result<T, DocumentError>,
) -> Result<Read<T>, LoomioError> {
    match parse(&document.body) {
        Ok(value) => Ok(Read { value, document }),
        Err(e) => Err(LoomioError::Malformed {
            request: document.source,
            detail: e.to_string(),
        }),
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

    #[test]
    fn proposals_are_chosen_by_their_options() {
        let options = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            PollType::for_options(&options(&["Agree", "disagree"])),
            PollType::Proposal
        );
        assert_eq!(
            PollType::for_options(&options(&["Yes", "No"])),
            PollType::Poll
        );
        assert_eq!(
            PollType::for_options(&options(&["agree", "Maybe"])),
            PollType::Poll
        );
    }

    #[test]
    fn the_create_body_nests_the_poll() {
        let options = vec!["Yes".to_string(), "No".to_string()];
        let body = NewPoll {
            group_id: 7,
            title: "Add Ann?",
            details: "Details",
            poll_type: PollType::Poll,
            options: &options,
            closing_at: Timestamp(1_800_000_000_000),
        }
        .body();
        assert_eq!(body["poll"]["group_id"], 7);
        assert_eq!(body["poll"]["options"], json!(["Yes", "No"]));
        assert_eq!(body["poll"]["closing_at"], "2027-01-15T08:00:00.000Z");
        assert_eq!(body.as_object().unwrap().len(), 1, "nothing outside `poll`");
    }
}
