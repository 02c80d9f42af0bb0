//! Durable intended actions on a community's Discourse: private messages to members and poll
//! closes, which the policy engine asks for (a vote is underway, a vote ended). Each is stored
//! first ([`enqueue_private_message`], [`enqueue_poll_close`]), then attempted by a worker until
//! Discourse takes it, with backoff between attempts, across restarts. A permanent refusal (a 4xx
//! other than 429) ends it with its reason recorded; nothing is dropped silently.
//!
//! A private message carries a random `external_id` chosen when it is stored, so an attempt that
//! reached Discourse but whose answer was lost is not sent twice: the next attempt finds the
//! message by that id (see `DiscourseClient::create_post`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;

use super::worker::WorkerControls;

use crate::domain::Timestamp;
use crate::http::AppState;
use crate::sources::discourse::{self, ApiError, DiscourseClient, NewPost, PollRef, api_access};
use crate::store::{ActionKind, AttemptOutcome, NewAction, StoreError, StoredAction};

/// Settings of the actions worker.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Whether this process attempts stored actions.
    pub worker: bool,
    /// Wait after the first failed attempt, in ms; it doubles with each further one.
    pub retry_base_ms: u64,
    /// Longest wait between attempts, in ms.
    pub retry_max_ms: u64,
    /// How long an attempt holds its action before another worker may take it, in seconds.
    pub lease_secs: u64,
    /// How often the worker looks for due actions when nothing wakes it, in ms.
    pub poll_interval_ms: u64,
    /// Most actions attempted at once.
    pub batch_size: u32,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            worker: true,
            retry_base_ms: 2_000,
            retry_max_ms: 3_600_000,
            lease_secs: 300,
            poll_interval_ms: 5_000,
            batch_size: 32,
        }
    }
}

impl ActionsConfig {
    /// The wait after failed attempt `attempts` (from 1): doubled, capped, the upper half random.
    pub fn retry_delay(&self, attempts: i64) -> Duration {
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let capped = self
            .retry_base_ms
            .saturating_mul(1u64 << shift)
            .min(self.retry_max_ms);
        let half = capped / 2;
        let jitter = if half == 0 {
            0
        } else {
            rand::random_range(0..=half)
        };
        Duration::from_millis(half + jitter)
    }
}

/// Why an action could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A field of the action is not one Discourse would take.
    #[error("invalid action: {0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The worker's controls, shared with whoever enqueues.
#[derive(Default)]
pub struct Actions {
    controls: WorkerControls,
    pass: Mutex<()>,
}

impl Actions {
    /// Asks the worker to look for due actions now.
    pub fn wake(&self) {
        self.controls.wake();
    }

    /// Stops the worker after the attempts under way, and waits for it.
    pub async fn stop(&self) {
        self.controls.stop().await;
    }
}

fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

fn after(at: Timestamp, wait: Duration) -> Timestamp {
    Timestamp(at.0.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)))
}

fn check_text(what: &str, text: &str, max: usize, one_line: bool) -> Result<(), ActionError> {
    let chars = text.chars().count();
    let allowed = |c: char| c == '\t' || (!one_line && (c == '\n' || c == '\r'));
    let bad_char = |c: char| c.is_control() && !allowed(c);
    if text.trim().is_empty() || chars > max || text.chars().any(bad_char) {
        return Err(ActionError::Invalid(format!(
            "{what} must be 1 to {max} characters{}",
            if one_line { " on one line" } else { "" }
        )));
    }
    Ok(())
}

async fn enqueue(
    state: &AppState,
    community_id: i64,
    kind: ActionKind,
    key: &str,
    payload: serde_json::Value,
) -> Result<StoredAction, ActionError> {
    check_text("an action key", key, 200, true)?;
    let (action, stored) = state
        .store
        .enqueue_action(&NewAction {
            community_id,
            platform: discourse::PLATFORM,
            kind,
            key,
            payload: &payload,
            at: now(),
        })
        .await?;
    if stored {
        tracing::info!(
            action = action.id,
            kind = kind.as_str(),
            key,
            "action stored"
        );
        state.actions.wake();
    }
    Ok(action)
}

/// Stores a private message to `username` on the community's Discourse, to be sent by the
/// worker. `key` is the caller's name for this intention (such as `vote-12-started-ann`):
/// storing the same key again returns the stored action and stores nothing, so a replayed policy
/// decision does not message twice.
pub async fn enqueue_private_message(
    state: &AppState,
    community_id: i64,
    key: &str,
    username: &str,
    title: &str,
    body: &str,
) -> Result<StoredAction, ActionError> {
    if username.is_empty()
        || username.chars().count() > 60
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    {
        return Err(ActionError::Invalid(
            "a username must be 1 to 60 characters without spaces or commas".into(),
        ));
    }
    check_text("a message title", title, 255, true)?;
    check_text("a message body", body, 32_000, false)?;
    let external_id = format!("revshare-pm-{}", hex::encode(rand::random::<[u8; 12]>()));
    let payload = json!({"recipient": username, "title": title, "body": body,
                         "external_id": external_id});
    enqueue(
        state,
        community_id,
        ActionKind::PrivateMessage,
        key,
        payload,
    )
    .await
}

/// Stores the closing of a poll (its external id, `{post_id}/{poll_name}`) on the community's
/// Discourse, to be done by the worker. `key` as for [`enqueue_private_message`].
pub async fn enqueue_poll_close(
    state: &AppState,
    community_id: i64,
    key: &str,
    poll_external_id: &str,
) -> Result<StoredAction, ActionError> {
    let poll = PollRef::parse(poll_external_id).ok_or_else(|| {
        ActionError::Invalid(format!(
            "`{poll_external_id}` is not a Discourse poll id (`{{post_id}}/{{poll_name}}`)"
        ))
    })?;
    enqueue(
        state,
        community_id,
        ActionKind::PollClose,
        key,
        json!({"poll": poll.to_string()}),
    )
    .await
}

/// Starts the worker on the current runtime: it attempts what is due (after a restart, what
/// earlier runs left), then sleeps until the next action is due, it is woken, or the poll
/// interval passes.
pub fn start_worker(state: AppState) {
    let actions = state.actions.clone();
    let handle = tokio::spawn(async move {
        let config = state.config.actions.clone();
        while !state.actions.controls.is_stopping() {
            if let Err(e) = attempt_due(&state).await {
                tracing::error!(error = %e, "attempting due actions failed; retrying");
            }
            let mut wait = Duration::from_millis(config.poll_interval_ms.max(10));
            if let Ok(Some(next)) = state.store.next_action_due_at().await {
                let until = u64::try_from(next.0.saturating_sub(now().0)).unwrap_or(0);
                wait = wait.min(Duration::from_millis(until));
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {},
                () = state.actions.controls.woken() => {},
            }
        }
    });
    actions.controls.hold(handle);
}

/// Attempts the actions due now (at most `batch_size`, at once) and records each outcome;
/// returns how many were attempted. One pass at a time; tests call it to drive the worker.
pub async fn attempt_due(state: &AppState) -> Result<usize, StoreError> {
    let _pass = state.actions.pass.lock().await;
    let config = &state.config.actions;
    let at = now();
    let lease_until = after(at, Duration::from_secs(config.lease_secs.max(1)));
    let claimed = state
        .store
        .claim_due_actions(at, lease_until, i64::from(config.batch_size.max(1)))
        .await?;
    let results =
        futures_util::future::join_all(claimed.iter().map(|action| attempt(state, action))).await;
    for result in results {
        result?;
    }
    Ok(claimed.len())
}

/// Why an attempt did not succeed.
enum Failure {
    Retry {
        status: Option<u16>,
        detail: String,
        retry_after: Option<Duration>,
    },
    Refused {
        status: Option<u16>,
        detail: String,
    },
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let detail = e.to_string();
        match e {
            ApiError::Invalid(_) => Failure::Refused {
                status: None,
                detail,
            },
            ApiError::NotFound { .. } => Failure::Refused {
                status: Some(404),
                detail,
            },
            ApiError::Refused { status, .. } => Failure::Refused {
                status: Some(status),
                detail,
            },
            ApiError::Unavailable { retry_after, .. } => Failure::Retry {
                status: None,
                detail,
                retry_after,
            },
            ApiError::Malformed { .. } => Failure::Retry {
                status: None,
                detail,
                retry_after: None,
            },
        }
    }
}

async fn attempt(state: &AppState, action: &StoredAction) -> Result<(), StoreError> {
    let started = now();
    let outcome = match perform(state, action).await {
        Ok(result) => {
            tracing::info!(
                action = action.id,
                kind = action.kind.as_str(),
                "action done"
            );
            AttemptOutcome::Done { result }
        }
        Err(Failure::Retry {
            status,
            detail,
            retry_after,
        }) => {
            let wait = state
                .config
                .actions
                .retry_delay(action.attempts)
                .max(retry_after.unwrap_or_default());
            tracing::warn!(action = action.id, attempt = action.attempts, %detail,
                           wait_ms = wait.as_millis() as u64, "action failed; will retry");
            AttemptOutcome::Retry {
                status,
                detail,
                next_at: after(now(), wait),
            }
        }
        Err(Failure::Refused { status, detail }) => {
            tracing::error!(action = action.id, %detail, "action refused for good");
            AttemptOutcome::Refused { status, detail }
        }
    };
    state
        .store
        .record_attempt(action, started, now(), &outcome)
        .await
}

fn payload_text<'a>(action: &'a StoredAction, field: &str) -> Result<&'a str, Failure> {
    action.payload[field]
        .as_str()
        .ok_or_else(|| Failure::Refused {
            status: None,
            detail: format!("the stored action has no `{field}`"),
        })
}

async fn perform(state: &AppState, action: &StoredAction) -> Result<serde_json::Value, Failure> {
    let retry = |detail: &str| Failure::Retry {
        status: None,
        detail: detail.to_string(),
        retry_after: None,
    };
    let source = state
        .store
        .discourse_source(action.community_id)
        .await
        .map_err(|e| retry(&e.to_string()))?
        .ok_or_else(|| retry("the community has no Discourse settings"))?;
    let (key, username) =
        api_access(&source).ok_or_else(|| retry("the community's Discourse has no API key"))?;
    let client = DiscourseClient::new(&state.discourse, &source.base_url, key, username);
    match action.kind {
        ActionKind::PrivateMessage => {
            let post = NewPost::PrivateMessage {
                title: payload_text(action, "title")?.to_string(),
                raw: payload_text(action, "body")?.to_string(),
                recipients: vec![payload_text(action, "recipient")?.to_string()],
                external_id: payload_text(action, "external_id")?.to_string(),
            };
            let created = client.create_post(&post).await?;
            Ok(
                json!({"post_id": created.post_id, "topic_id": created.topic_id,
                      "url": created.url}),
            )
        }
        ActionKind::PollClose => {
            let text = payload_text(action, "poll")?;
            let poll = PollRef::parse(text).ok_or_else(|| Failure::Refused {
                status: None,
                detail: format!("`{text}` is not a poll id"),
            })?;
            client
                .set_poll_status(poll.post_id, &poll.name, true)
                .await?;
            Ok(json!({"poll": poll.to_string(), "status": "closed"}))
        }
    }
}
