//! Durable intended actions on a community's Discourse: private messages to members and poll
//! closes, which the policy engine asks for (a vote is underway, a vote ended). Each is stored
//! first ([`enqueue_private_message`], [`enqueue_poll_close`]), then attempted by a worker until
//! Discourse takes it, with backoff between attempts, across restarts. A permanent refusal (a 4xx
//! other than 429) ends it with its reason recorded; nothing is dropped silently.
//!
//! A private message carries a random `external_id` chosen when it is stored, so an attempt that
//! reached Discourse but whose answer was lost is not sent twice: the next attempt finds the
//! message by that id (see `DiscourseClient::create_post`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;

use super::{AppError, Doorbell};
use crate::clock::{Clock, after};
use crate::config::ActionsConfig;
use crate::sources::discourse::{
    self, ApiError, DiscourseClient, DiscourseSites, NewPost, PollRef, api_access,
};
use crate::store::{ActionKind, AttemptOutcome, NewAction, Store, StoredAction};

/// Storing intended actions and attempting them: what it reads, calls and wakes.
#[derive(Clone)]
pub struct Actions {
    store: Store,
    discourse: DiscourseSites,
    clock: Clock,
    config: Arc<ActionsConfig>,
    /// Rung after each stored action; the actions worker waits on it.
    doorbell: Doorbell,
    /// One pass at a time: the worker's and any caller of [`Actions::attempt_due`].
    pass: Arc<Mutex<()>>,
}

fn check_text(what: &str, text: &str, max: usize, one_line: bool) -> Result<(), AppError> {
    let chars = text.chars().count();
    let allowed = |c: char| c == '\t' || (!one_line && (c == '\n' || c == '\r'));
    let bad_char = |c: char| c.is_control() && !allowed(c);
    if text.trim().is_empty() || chars > max || text.chars().any(bad_char) {
        return Err(AppError::Invalid(format!(
            "invalid action: {what} must be 1 to {max} characters{}",
            if one_line { " on one line" } else { "" }
        )));
    }
    Ok(())
}

impl Actions {
    /// The actions of one service.
    pub fn new(
        store: Store,
        discourse: DiscourseSites,
        clock: Clock,
        config: &ActionsConfig,
        doorbell: Doorbell,
    ) -> Self {
        Actions {
            store,
            discourse,
            clock,
            config: Arc::new(config.clone()),
            doorbell,
            pass: Arc::default(),
        }
    }

    /// The doorbell the worker waits on.
    pub fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    async fn enqueue(
        &self,
        community_id: i64,
        kind: ActionKind,
        key: &str,
        payload: serde_json::Value,
    ) -> Result<StoredAction, AppError> {
        check_text("an action key", key, 200, true)?;
        let (action, stored) = self
            .store
            .enqueue_action(&NewAction {
                community_id,
                platform: discourse::PLATFORM,
                kind,
                key,
                payload: &payload,
                at: self.clock.now(),
            })
            .await?;
        if stored {
            tracing::info!(
                action = action.id,
                kind = kind.as_str(),
                key,
                "action stored"
            );
            self.doorbell.ring();
        }
        Ok(action)
    }

    /// Stores a private message to `username` on the community's Discourse, to be sent by the
    /// worker. `key` is the caller's name for this intention (such as `vote-12-started-ann`):
    /// storing the same key again returns the stored action and stores nothing, so a replayed
    /// policy decision does not message twice.
    pub async fn enqueue_private_message(
        &self,
        community_id: i64,
        key: &str,
        username: &str,
        title: &str,
        body: &str,
    ) -> Result<StoredAction, AppError> {
        if username.is_empty()
            || username.chars().count() > 60
            || username
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        {
            return Err(AppError::Invalid(
                "invalid action: a username must be 1 to 60 characters without spaces or commas"
                    .into(),
            ));
        }
        check_text("a message title", title, 255, true)?;
        check_text("a message body", body, 32_000, false)?;
        let external_id = format!("revshare-pm-{}", hex::encode(rand::random::<[u8; 12]>()));
        let payload = json!({"recipient": username, "title": title, "body": body,
                             "external_id": external_id});
        self.enqueue(community_id, ActionKind::PrivateMessage, key, payload)
            .await
    }

    /// Stores the closing of a poll (its external id, `{post_id}/{poll_name}`) on the
    /// community's Discourse, to be done by the worker. `key` as for
    /// [`Actions::enqueue_private_message`].
    pub async fn enqueue_poll_close(
        &self,
        community_id: i64,
        key: &str,
        poll_external_id: &str,
    ) -> Result<StoredAction, AppError> {
        let poll = PollRef::parse(poll_external_id).ok_or_else(|| {
            AppError::Invalid(format!(
                "invalid action: `{poll_external_id}` is not a Discourse poll id (`{{post_id}}/{{poll_name}}`)"
            ))
        })?;
        self.enqueue(
            community_id,
            ActionKind::PollClose,
            key,
            json!({"poll": poll.to_string()}),
        )
        .await
    }

    /// How long the worker may sleep: until the next action falls due, at most the poll
    /// interval.
    pub async fn idle_wait(&self) -> Duration {
        let mut wait = Duration::from_millis(self.config.poll_interval_ms.max(10));
        if let Ok(Some(next)) = self.store.next_action_due_at().await {
            let until = u64::try_from(next.0.saturating_sub(self.clock.now().0)).unwrap_or(0);
            wait = wait.min(Duration::from_millis(until));
        }
        wait
    }

    /// Attempts the actions due now (at most `batch_size`, at once) and records each outcome;
    /// returns how many were attempted. One pass at a time; tests call it to drive the worker.
    pub async fn attempt_due(&self) -> Result<usize, AppError> {
        let _pass = self.pass.lock().await;
        let config = &self.config;
        let at = self.clock.now();
        let lease_until = after(at, Duration::from_secs(config.lease_secs.max(1)));
        let claimed = self
            .store
            .claim_due_actions(at, lease_until, i64::from(config.batch_size.max(1)))
            .await?;
        let results =
            futures_util::future::join_all(claimed.iter().map(|action| self.attempt(action))).await;
        for result in results {
            result?;
        }
        Ok(claimed.len())
    }

    async fn attempt(&self, action: &StoredAction) -> Result<(), AppError> {
        let started = self.clock.now();
        let outcome = match self.perform(action).await {
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
                let wait = self
                    .config
                    .retry_delay(action.attempts)
                    .max(retry_after.unwrap_or_default());
                tracing::warn!(action = action.id, attempt = action.attempts, %detail,
                               wait_ms = wait.as_millis() as u64, "action failed; will retry");
                AttemptOutcome::Retry {
                    status,
                    detail,
                    next_at: after(self.clock.now(), wait),
                }
            }
            Err(Failure::Refused { status, detail }) => {
                tracing::error!(action = action.id, %detail, "action refused for good");
                AttemptOutcome::Refused { status, detail }
            }
        };
        self.store
            .record_attempt(action, started, self.clock.now(), &outcome)
            .await?;
        Ok(())
    }

    async fn perform(&self, action: &StoredAction) -> Result<serde_json::Value, Failure> {
        let retry = |detail: &str| Failure::Retry {
            status: None,
            detail: detail.to_string(),
            retry_after: None,
        };
        let source = self
            .store
            .discourse_source(action.community_id)
            .await
            .map_err(|e| retry(&e.to_string()))?
            .ok_or_else(|| retry("the community has no Discourse settings"))?;
        let (key, username) =
            api_access(&source).ok_or_else(|| retry("the community's Discourse has no API key"))?;
        let client = DiscourseClient::new(&self.discourse, &source.base_url, key, username);
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

fn payload_text<'a>(action: &'a StoredAction, field: &str) -> Result<&'a str, Failure> {
    action.payload[field]
        .as_str()
        .ok_or_else(|| Failure::Refused {
            status: None,
            detail: format!("the stored action has no `{field}`"),
        })
}
