//! Votes of the standard voting API: the intent, stored before any platform is called; its
//! progress (`votes`, one row per vote, changed only by compare-and-set on its state, and never
//! again once it reached an end); every reading that changed it (`vote_readings`, append-only,
//! with the documents it was read from); and, once it closed, the final reading's documents byte
//! for byte (`vote_evidence`, append-only). A closed vote's state, its final reading and its
//! evidence commit in one transaction.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::Timestamp;
use crate::voting::evidence::documents_of;
use crate::voting::lifecycle::Lifecycle;
use crate::voting::{Ballot, Tally, VoteHandle, VoteRequest, VoteState, VoteStatus};

use super::{Store, StoreError, corrupt};

/// A vote to record before its platform is called.
#[derive(Clone, Debug)]
pub struct NewVote<'a> {
    /// The community.
    pub community_id: i64,
    /// The backend's name.
    pub backend: &'a str,
    /// A random key that makes the intent's marker unique.
    pub intent_key: &'a str,
    /// What was asked for.
    pub request: &'a VoteRequest,
    /// When it was asked for.
    pub at: Timestamp,
    /// When the worker may first try the start itself (the caller tries at once).
    pub next_attempt_at: Timestamp,
}

/// A vote as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct VoteRecord {
    /// The service's id of the vote.
    pub id: i64,
    /// The community.
    pub community_id: i64,
    /// The backend's name.
    pub backend: String,
    /// The random key of its intent marker.
    pub intent_key: String,
    /// What was asked for.
    pub request: VoteRequest,
    /// Where it stands.
    pub state: Lifecycle,
    /// The platform's id, once started.
    pub external_id: Option<String>,
    /// Where members vote, once started.
    pub url: Option<String>,
    /// Platform calls tried for the pending action (start or close).
    pub attempts: i64,
    /// When the worker next tries the pending action.
    pub next_attempt_at: Option<Timestamp>,
    /// When the worker next re-reads the vote.
    pub next_read_at: Option<Timestamp>,
    /// The last platform failure, cleared by the next success.
    pub last_error: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
    /// When a close was asked for.
    pub close_requested_at: Option<Timestamp>,
    /// When the platform accepted the close.
    pub close_sent_at: Option<Timestamp>,
    /// When the platform closed it.
    pub closed_at: Option<Timestamp>,
    /// When it was last read.
    pub last_read_at: Option<Timestamp>,
}

/// A reading that changed a vote.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// Its id; ids grow in reading order.
    pub id: i64,
    /// When it was read.
    pub read_at: Timestamp,
    /// Open or closed.
    pub state: VoteState,
    /// One tally per option.
    pub tallies: Vec<Tally>,
    /// The ballots, by voter.
    pub ballots: Vec<Ballot>,
    /// The `raw` value read, as JSON text.
    pub raw: String,
}

/// One document of a closed vote's evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceDocument {
    /// Its place among the documents, from 0.
    pub position: i64,
    /// The reading it belongs to.
    pub reading_id: i64,
    /// What was read.
    pub source: String,
    /// The body, exactly as received.
    pub body: String,
}

/// What recording a reading did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadingOutcome {
    /// Nothing changed since the last reading; only the read time moved.
    Unchanged,
    /// A reading was appended.
    Appended {
        /// The new reading's id.
        reading: i64,
    },
    /// The vote closed: the reading and its evidence were kept.
    Closed {
        /// The final reading's id.
        reading: i64,
    },
    /// The vote had moved on (another writer, or it reached an end): nothing was written.
    Stale,
}

pub(super) const COLUMNS: &str = "id, community_id, backend, intent_key, request, state, external_id, url, \
    attempts, next_attempt_at_ms, next_read_at_ms, last_error, created_at_ms, updated_at_ms, \
    close_requested_at_ms, close_sent_at_ms, closed_at_ms, last_read_at_ms";

fn time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp))
}

pub(super) fn vote_from_row(row: &AnyRow) -> Result<VoteRecord, StoreError> {
    let request: String = row.try_get("request")?;
    let state: String = row.try_get("state")?;
    Ok(VoteRecord {
        id: row.try_get("id")?,
        community_id: row.try_get("community_id")?,
        backend: row.try_get("backend")?,
        intent_key: row.try_get("intent_key")?,
        request: serde_json::from_str(&request).map_err(|e| corrupt("vote request", e))?,
        state: Lifecycle::parse(&state).ok_or_else(|| corrupt("vote state", &state))?,
        external_id: row.try_get("external_id")?,
        url: row.try_get("url")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: time(row, "next_attempt_at_ms")?,
        next_read_at: time(row, "next_read_at_ms")?,
        last_error: row.try_get("last_error")?,
        created_at: Timestamp(row.try_get("created_at_ms")?),
        updated_at: Timestamp(row.try_get("updated_at_ms")?),
        close_requested_at: time(row, "close_requested_at_ms")?,
        close_sent_at: time(row, "close_sent_at_ms")?,
        closed_at: time(row, "closed_at_ms")?,
        last_read_at: time(row, "last_read_at_ms")?,
    })
}

fn reading_from_row(row: &AnyRow) -> Result<Reading, StoreError> {
    let state: String = row.try_get("state")?;
    let closed_at = time(row, "closed_at_ms")?;
    let tallies: String = row.try_get("tallies")?;
    let ballots: String = row.try_get("ballots")?;
    Ok(Reading {
        id: row.try_get("id")?,
        read_at: Timestamp(row.try_get("read_at_ms")?),
        state: match state.as_str() {
            "open" => VoteState::Open,
            "closed" => VoteState::Closed { closed_at },
            other => return Err(corrupt("reading state", other)),
        },
        tallies: serde_json::from_str(&tallies).map_err(|e| corrupt("reading tallies", e))?,
        ballots: serde_json::from_str(&ballots).map_err(|e| corrupt("reading ballots", e))?,
        raw: row.try_get("raw")?,
    })
}

/// The state's name and closing time as stored.
fn state_columns(state: &VoteState) -> (&'static str, Option<i64>) {
    match state {
        VoteState::Open => ("open", None),
        VoteState::Closed { closed_at } => ("closed", closed_at.map(Timestamp::millis)),
    }
}

impl Store {
    /// Records a vote's intent, in state `starting`.
    pub async fn insert_vote(&self, vote: &NewVote<'_>) -> Result<VoteRecord, StoreError> {
        let request = serde_json::to_string(vote.request).expect("a vote request serialises");
        let sql = format!(
            "INSERT INTO votes (community_id, backend, intent_key, request, state, attempts, \
               next_attempt_at_ms, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, 'starting', 0, $5, $6, $6) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(vote.community_id)
            .bind(vote.backend)
            .bind(vote.intent_key)
            .bind(request)
            .bind(vote.next_attempt_at.millis())
            .bind(vote.at.millis())
            .fetch_one(&self.pool)
            .await?;
        vote_from_row(&row)
    }

    /// A community's vote.
    pub async fn vote(&self, community_id: i64, id: i64) -> Result<Option<VoteRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM votes WHERE community_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(community_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(vote_from_row).transpose()
    }

    /// Votes whose pending action or re-read is due at `now`, oldest first.
    pub async fn due_votes(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<VoteRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM votes WHERE \
               (state = 'starting' AND next_attempt_at_ms <= $1) \
               OR (state = 'closing' AND close_sent_at_ms IS NULL AND next_attempt_at_ms <= $1) \
               OR (state IN ('open', 'closing') AND next_read_at_ms <= $1) \
             ORDER BY id LIMIT $2"
        );
        sqlx::query(&sql)
            .bind(now.millis())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(vote_from_row)
            .collect()
    }

    /// A community's votes on one backend that the platform still holds open.
    pub async fn live_votes(
        &self,
        community_id: i64,
        backend: &str,
    ) -> Result<Vec<VoteRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM votes WHERE community_id = $1 AND backend = $2 \
               AND state IN ('open', 'closing') ORDER BY id"
        );
        sqlx::query(&sql)
            .bind(community_id)
            .bind(backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(vote_from_row)
            .collect()
    }

    /// The earliest moment any vote's pending action or re-read falls due.
    pub async fn next_vote_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN state = 'starting' \
                    OR (state = 'closing' AND close_sent_at_ms IS NULL) \
                  THEN next_attempt_at_ms END) AS attempt, \
                MIN(CASE WHEN state IN ('open', 'closing') THEN next_read_at_ms END) AS reading \
             FROM votes WHERE state IN ('starting', 'open', 'closing')",
        )
        .fetch_one(&self.pool)
        .await?;
        let attempt: Option<i64> = row.try_get("attempt")?;
        let reading: Option<i64> = row.try_get("reading")?;
        Ok(attempt.into_iter().chain(reading).min().map(Timestamp))
    }

    /// Runs a compare-and-set update of a vote; whether the vote was in `expected` and changed.
    async fn transition(
        &self,
        sql: &str,
        id: i64,
        expected: &[Lifecycle],
        binds: Vec<Option<String>>,
        times: Vec<Option<i64>>,
    ) -> Result<bool, StoreError> {
        let states: Vec<String> = expected
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let sql = format!("{sql} WHERE id = $1 AND state IN ({})", states.join(", "));
        let mut query = sqlx::query(&sql).bind(id);
        for text in binds {
            query = query.bind(text);
        }
        for t in times {
            query = query.bind(t);
        }
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// A start the platform confirmed: `starting` → `open`, read at `next_read_at`.
    pub async fn mark_started(
        &self,
        id: i64,
        handle: &VoteHandle,
        at: Timestamp,
        next_read_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET state = 'open', external_id = $2, url = $3, attempts = attempts + 1, \
               next_attempt_at_ms = NULL, last_error = NULL, updated_at_ms = $4, next_read_at_ms = $5",
            id,
            &[Lifecycle::Starting],
            vec![Some(handle.external_id.clone()), handle.url.clone()],
            vec![Some(at.millis()), Some(next_read_at.millis())],
        )
        .await
    }

    /// A failed try of the pending action (a start, or a close not yet accepted), tried again at
    /// `next_attempt_at`.
    pub async fn record_failed_attempt(
        &self,
        id: i64,
        state: Lifecycle,
        error: &str,
        next_attempt_at: Timestamp,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET attempts = attempts + 1, last_error = $2, updated_at_ms = $3, \
               next_attempt_at_ms = $4",
            id,
            &[state],
            vec![Some(error.to_string())],
            vec![Some(at.millis()), Some(next_attempt_at.millis())],
        )
        .await
    }

    /// A start the platform refused: `starting` → `failed`, for good.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET state = 'failed', attempts = attempts + 1, last_error = $2, \
               next_attempt_at_ms = NULL, updated_at_ms = $3",
            id,
            &[Lifecycle::Starting],
            vec![Some(error.to_string())],
            vec![Some(at.millis())],
        )
        .await
    }

    /// A close asked for before the start landed: `starting` → `cancelled`, never started.
    pub async fn mark_cancelled(&self, id: i64, at: Timestamp) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET state = 'cancelled', next_attempt_at_ms = NULL, \
               close_requested_at_ms = $2, updated_at_ms = $2",
            id,
            &[Lifecycle::Starting],
            vec![],
            vec![Some(at.millis())],
        )
        .await
    }

    /// A close asked for: `open` → `closing`, with the platform's acceptance when it came (else
    /// the worker tries again at `next_attempt_at`).
    pub async fn mark_closing(
        &self,
        id: i64,
        accepted: bool,
        error: Option<&str>,
        next_attempt_at: Timestamp,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET state = 'closing', close_requested_at_ms = COALESCE(close_requested_at_ms, $3), \
               close_sent_at_ms = $4, last_error = $2, attempts = 0, next_attempt_at_ms = $5, \
               next_read_at_ms = $3, updated_at_ms = $3",
            id,
            &[Lifecycle::Open],
            vec![error.map(str::to_string)],
            vec![
                Some(at.millis()),
                accepted.then_some(at.millis()),
                (!accepted).then_some(next_attempt_at.millis()),
            ],
        )
        .await
    }

    /// The platform accepted a close the worker retried.
    pub async fn mark_close_sent(&self, id: i64, at: Timestamp) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET close_sent_at_ms = $2, next_attempt_at_ms = NULL, last_error = NULL, \
               next_read_at_ms = $2, updated_at_ms = $2",
            id,
            &[Lifecycle::Closing],
            vec![],
            vec![Some(at.millis())],
        )
        .await
    }

    /// A re-read that failed: the error is kept and the vote read again at `next_read_at`.
    pub async fn record_failed_read(
        &self,
        id: i64,
        error: &str,
        next_read_at: Timestamp,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.transition(
            "UPDATE votes SET last_error = $2, next_read_at_ms = $3, updated_at_ms = $4",
            id,
            &[Lifecycle::Open, Lifecycle::Closing],
            vec![Some(error.to_string())],
            vec![Some(next_read_at.millis()), Some(at.millis())],
        )
        .await
    }

    /// Records what a re-read found: appends a reading when the state, tallies or ballots
    /// changed, and when the vote closed keeps that reading's documents as its evidence and
    /// marks it `closed`, all in one transaction.
    pub async fn record_reading(
        &self,
        vote_id: i64,
        status: &VoteStatus,
        at: Timestamp,
        next_read_at: Timestamp,
    ) -> Result<ReadingOutcome, StoreError> {
        let mut ballots = status.ballots.clone();
        ballots.sort_by(|a, b| {
            (&a.voter.platform, &a.voter.user_id).cmp(&(&b.voter.platform, &b.voter.user_id))
        });
        let (state, closed_at) = state_columns(&status.state);
        let tallies = serde_json::to_string(&status.tallies).expect("tallies serialise");
        let ballots = serde_json::to_string(&ballots).expect("ballots serialise");
        let raw = status.raw.to_string();

        let mut tx = self.write_transaction().await?;
        let live = sqlx::query("SELECT state FROM votes WHERE id = $1")
            .bind(vote_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get::<String, _>("state"))
            .transpose()?
            .and_then(|s| Lifecycle::parse(&s))
            .is_some_and(Lifecycle::is_live);
        if !live {
            tx.rollback().await?;
            return Ok(ReadingOutcome::Stale);
        }
        let last = sqlx::query(
            "SELECT id, state, closed_at_ms, tallies, ballots FROM vote_readings \
             WHERE vote_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(vote_id)
        .fetch_optional(&mut *tx)
        .await?;
        let unchanged = match &last {
            Some(row) => {
                row.try_get::<String, _>("state")? == state
                    && row.try_get::<Option<i64>, _>("closed_at_ms")? == closed_at
                    && row.try_get::<String, _>("tallies")? == tallies
                    && row.try_get::<String, _>("ballots")? == ballots
            }
            None => false,
        };
        let reading = if unchanged {
            let row = last.expect("unchanged means there is a last reading");
            row.try_get::<i64, _>("id")?
        } else {
            sqlx::query(
                "INSERT INTO vote_readings (vote_id, read_at_ms, state, closed_at_ms, tallies, \
                   ballots, raw) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(vote_id)
            .bind(at.millis())
            .bind(state)
            .bind(closed_at)
            .bind(&tallies)
            .bind(&ballots)
            .bind(&raw)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>("id")?
        };
        let closed = matches!(status.state, VoteState::Closed { .. });
        if closed {
            // The evidence is the final reading's documents; a closed reading that matches the
            // last one still has this read's documents, which are the ones kept.
            for (position, document) in documents_of(&status.raw).into_iter().enumerate() {
                sqlx::query(
                    "INSERT INTO vote_evidence (vote_id, position, reading_id, source, body) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(vote_id)
                .bind(position as i64)
                .bind(reading)
                .bind(&document.source)
                .bind(&document.body)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE votes SET state = 'closed', closed_at_ms = $2, last_read_at_ms = $3, \
                   next_read_at_ms = NULL, next_attempt_at_ms = NULL, last_error = NULL, \
                   updated_at_ms = $3 WHERE id = $1",
            )
            .bind(vote_id)
            .bind(closed_at.unwrap_or(at.millis()))
            .bind(at.millis())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE votes SET last_read_at_ms = $2, next_read_at_ms = $3, last_error = NULL, \
                   updated_at_ms = $2 WHERE id = $1",
            )
            .bind(vote_id)
            .bind(at.millis())
            .bind(next_read_at.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(if closed {
            ReadingOutcome::Closed { reading }
        } else if unchanged {
            ReadingOutcome::Unchanged
        } else {
            ReadingOutcome::Appended { reading }
        })
    }

    /// A vote's readings, oldest first.
    pub async fn vote_readings(&self, vote_id: i64) -> Result<Vec<Reading>, StoreError> {
        sqlx::query(
            "SELECT id, read_at_ms, state, closed_at_ms, tallies, ballots, raw FROM vote_readings \
             WHERE vote_id = $1 ORDER BY id",
        )
        .bind(vote_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(reading_from_row)
        .collect()
    }

    /// A vote's latest reading.
    pub async fn latest_reading(&self, vote_id: i64) -> Result<Option<Reading>, StoreError> {
        let row = sqlx::query(
            "SELECT id, read_at_ms, state, closed_at_ms, tallies, ballots, raw FROM vote_readings \
             WHERE vote_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(vote_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(reading_from_row).transpose()
    }

    /// A closed vote's evidence, in order.
    pub async fn vote_evidence(&self, vote_id: i64) -> Result<Vec<EvidenceDocument>, StoreError> {
        sqlx::query(
            "SELECT position, reading_id, source, body FROM vote_evidence WHERE vote_id = $1 \
             ORDER BY position",
        )
        .bind(vote_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(EvidenceDocument {
                position: row.try_get("position")?,
                reading_id: row.try_get("reading_id")?,
                source: row.try_get("source")?,
                body: row.try_get("body")?,
            })
        })
        .collect()
    }
}
