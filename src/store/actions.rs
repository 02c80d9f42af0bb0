//! The outbox of actions the service intends on a community's platform (a private message, a
//! poll close): stored before anything is sent, then attempted until the platform takes them or
//! refuses them for good. Every attempt is appended to `platform_action_attempts`; an action's
//! content never changes and a finished action never changes (triggers refuse both).
//!
//! A worker claims a due action by moving its next attempt past a lease, guarded by the attempt
//! count it read, so two workers never attempt the same action at once; a worker that dies
//! mid-attempt leaves the action due again once the lease is over.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::Timestamp;

use super::{Store, StoreError, corrupt};

/// What an action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Send a member a private message.
    PrivateMessage,
    /// Close a poll.
    PollClose,
}

impl ActionKind {
    /// The kind as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::PrivateMessage => "private_message",
            ActionKind::PollClose => "poll_close",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "private_message" => Ok(ActionKind::PrivateMessage),
            "poll_close" => Ok(ActionKind::PollClose),
            other => Err(corrupt("action kind", other)),
        }
    }
}

/// Where an action stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionState {
    /// Not taken by the platform yet; attempted again when due.
    Pending,
    /// The platform took it.
    Done,
    /// The platform refused it for good; `last_error` says why.
    Refused,
}

impl ActionState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Pending => "pending",
            ActionState::Done => "done",
            ActionState::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(ActionState::Pending),
            "done" => Ok(ActionState::Done),
            "refused" => Ok(ActionState::Refused),
            other => Err(corrupt("action state", other)),
        }
    }
}

/// An action to store.
#[derive(Clone, Debug)]
pub struct NewAction<'a> {
    /// The community it acts for.
    pub community_id: i64,
    /// The platform it acts on (`discourse`).
    pub platform: &'a str,
    /// What it does.
    pub kind: ActionKind,
    /// The caller's name for this intention; storing the same key again stores nothing.
    pub key: &'a str,
    /// What to send, as JSON.
    pub payload: &'a serde_json::Value,
    /// When it was intended; also its first due time.
    pub at: Timestamp,
}

/// A stored action.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAction {
    /// Its id; ids grow in the order actions were intended.
    pub id: i64,
    /// The community it acts for.
    pub community_id: i64,
    /// The platform it acts on.
    pub platform: String,
    /// What it does.
    pub kind: ActionKind,
    /// The caller's name for it.
    pub key: String,
    /// What to send.
    pub payload: serde_json::Value,
    /// When it was intended.
    pub created_at: Timestamp,
    /// Where it stands.
    pub state: ActionState,
    /// Attempts claimed so far.
    pub attempts: i64,
    /// When it is next due (while pending).
    pub next_attempt_at: Timestamp,
    /// Why the last attempt did not succeed.
    pub last_error: Option<String>,
    /// What the platform answered when it took the action.
    pub result: Option<serde_json::Value>,
    /// When it was done or refused.
    pub finished_at: Option<Timestamp>,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// The platform took the action.
    Done {
        /// What it answered.
        result: serde_json::Value,
    },
    /// It failed in a way that may pass; try again at `next_at`.
    Retry {
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// What went wrong.
        detail: String,
        /// When to try again.
        next_at: Timestamp,
    },
    /// The platform refused it for good.
    Refused {
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// Why.
        detail: String,
    },
}

/// One attempt, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionAttempt {
    /// Its number, from 1.
    pub attempt: i64,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub finished_at: Timestamp,
    /// `done`, `retry` or `refused`.
    pub outcome: String,
    /// The HTTP status, when there was one.
    pub status: Option<i64>,
    /// What happened, in words.
    pub detail: String,
}

const ACTION_COLUMNS: &str = "id, community_id, platform, kind, action_key, payload, \
     created_at_ms, state, attempts, next_attempt_at_ms, last_error, result, finished_at_ms";

fn action_from_row(row: &AnyRow) -> Result<StoredAction, StoreError> {
    let payload: String = row.try_get("payload")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(StoredAction {
        id: row.try_get("id")?,
        community_id: row.try_get("community_id")?,
        platform: row.try_get("platform")?,
        kind: ActionKind::parse(&row.try_get::<String, _>("kind")?)?,
        key: row.try_get("action_key")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("action payload", e))?,
        created_at: Timestamp(row.try_get("created_at_ms")?),
        state: ActionState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: Timestamp(row.try_get("next_attempt_at_ms")?),
        last_error: row.try_get("last_error")?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| corrupt("action result", e))?,
        finished_at: row
            .try_get::<Option<i64>, _>("finished_at_ms")?
            .map(Timestamp),
    })
}

impl Store {
    /// Stores an intended action; when one with the same key exists, returns it and stores
    /// nothing. The flag says whether this call stored it.
    pub async fn enqueue_action(
        &self,
        new: &NewAction<'_>,
    ) -> Result<(StoredAction, bool), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO platform_actions (community_id, platform, kind, action_key, payload, \
               created_at_ms, next_attempt_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (community_id, action_key) DO NOTHING RETURNING id",
        )
        .bind(new.community_id)
        .bind(new.platform)
        .bind(new.kind.as_str())
        .bind(new.key)
        .bind(new.payload.to_string())
        .bind(new.at.millis())
        .fetch_optional(&self.pool)
        .await?
        .is_some();
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM platform_actions \
             WHERE community_id = $1 AND action_key = $2"
        );
        let row = sqlx::query(&sql)
            .bind(new.community_id)
            .bind(new.key)
            .fetch_one(&self.pool)
            .await?;
        Ok((action_from_row(&row)?, inserted))
    }

    /// Claims up to `limit` pending actions due at `now`, oldest first: each one's attempt count
    /// goes up by one and its next attempt moves to `lease_until`, so no other worker takes it
    /// while this attempt runs. Returns the claimed actions as they are after the claim.
    pub async fn claim_due_actions(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<StoredAction>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM platform_actions \
             WHERE state = 'pending' AND next_attempt_at_ms <= $1 ORDER BY id LIMIT $2"
        );
        let due = sqlx::query(&sql)
            .bind(now.millis())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for row in &due {
            let mut action = action_from_row(row)?;
            let taken = sqlx::query(
                "UPDATE platform_actions SET attempts = attempts + 1, next_attempt_at_ms = $1 \
                 WHERE id = $2 AND state = 'pending' AND attempts = $3",
            )
            .bind(lease_until.millis())
            .bind(action.id)
            .bind(action.attempts)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if taken == 1 {
                action.attempts += 1;
                action.next_attempt_at = lease_until;
                claimed.push(action);
            }
        }
        Ok(claimed)
    }

    /// Records how attempt `action.attempts` of a claimed action ended, and moves the action on.
    /// When another worker claimed the action since (this attempt outlived its lease), the
    /// attempt is still recorded but the action is left to that worker.
    pub async fn record_attempt(
        &self,
        action: &StoredAction,
        started_at: Timestamp,
        finished_at: Timestamp,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        let (name, status, detail) = match outcome {
            AttemptOutcome::Done { result } => ("done", None, result.to_string()),
            AttemptOutcome::Retry { status, detail, .. } => ("retry", *status, detail.clone()),
            AttemptOutcome::Refused { status, detail } => ("refused", *status, detail.clone()),
        };
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO platform_action_attempts \
               (action_id, attempt, started_at_ms, finished_at_ms, outcome, status, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(action.id)
        .bind(action.attempts)
        .bind(started_at.millis())
        .bind(finished_at.millis())
        .bind(name)
        .bind(status.map(i64::from))
        .bind(&detail)
        .execute(&mut *tx)
        .await?;
        let (state, result, finished, next_at, last_error) = match outcome {
            AttemptOutcome::Done { result } => (
                ActionState::Done,
                Some(result.to_string()),
                Some(finished_at.millis()),
                action.next_attempt_at,
                None,
            ),
            AttemptOutcome::Retry { next_at, .. } => {
                (ActionState::Pending, None, None, *next_at, Some(detail))
            }
            AttemptOutcome::Refused { .. } => (
                ActionState::Refused,
                None,
                Some(finished_at.millis()),
                action.next_attempt_at,
                Some(detail),
            ),
        };
        let update = sqlx::query(
            "UPDATE platform_actions SET state = $3, result = $4, finished_at_ms = $5, \
               next_attempt_at_ms = $6, last_error = $7 \
             WHERE id = $1 AND state = 'pending' AND attempts = $2",
        )
        .bind(action.id)
        .bind(action.attempts)
        .bind(state.as_str())
        .bind(result)
        .bind(finished)
        .bind(next_at.millis())
        .bind(last_error);
        let moved = update.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        if moved == 0 {
            tracing::warn!(
                action = action.id,
                attempt = action.attempts,
                "an attempt outlived its lease; its outcome is recorded, the action left as it is"
            );
        }
        Ok(())
    }

    /// When the next pending action is due, if any is pending.
    pub async fn next_action_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(next_attempt_at_ms) AS due FROM platform_actions WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>("due")?.map(Timestamp))
    }

    /// A community's actions, newest first, at most `limit`.
    pub async fn actions(
        &self,
        community_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredAction>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM platform_actions WHERE community_id = $1 \
             ORDER BY id DESC LIMIT $2"
        );
        sqlx::query(&sql)
            .bind(community_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(action_from_row)
            .collect()
    }

    /// One action by id.
    pub async fn action(&self, id: i64) -> Result<Option<StoredAction>, StoreError> {
        let sql = format!("SELECT {ACTION_COLUMNS} FROM platform_actions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(action_from_row).transpose()
    }

    /// The attempts at an action, in order.
    pub async fn action_attempts(&self, action_id: i64) -> Result<Vec<ActionAttempt>, StoreError> {
        sqlx::query(
            "SELECT attempt, started_at_ms, finished_at_ms, outcome, status, detail \
             FROM platform_action_attempts WHERE action_id = $1 ORDER BY attempt",
        )
        .bind(action_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(ActionAttempt {
                attempt: row.try_get("attempt")?,
                started_at: Timestamp(row.try_get("started_at_ms")?),
                finished_at: Timestamp(row.try_get("finished_at_ms")?),
                outcome: row.try_get("outcome")?,
                status: row.try_get("status")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
    }
}
