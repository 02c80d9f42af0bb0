//! The actions of the standard voting API, and the platform calls the worker repeats: start a
//! vote (intent first), close it, read it.

use std::time::Duration;

use rand::Rng;

use super::{Outcome, Votes, may_pass, reread_interval, retry_wait};
use crate::app::backends::Registered;
use crate::app::{AppError, LiveCommunity};
use crate::clock::after;
use crate::store::{NewVote, ReadingOutcome, VoteRecord};
use crate::voting::intent::IntentMarker;
use crate::voting::lifecycle::Lifecycle;
use crate::voting::{VoteRequest, VotingError};

impl Votes {
    /// Starts a vote: checks it, stores the intent, then asks the platform once (with the client's
    /// own retries). A failure that may pass leaves the vote `starting` for the worker.
    pub async fn start(
        &self,
        community: &LiveCommunity,
        backend: &str,
        request: VoteRequest,
    ) -> Result<Outcome, AppError> {
        let registered = self.backends.backend(community.id, backend).await?;
        let at = self.clock.now();
        (registered.check)(&request, at).map_err(AppError::Invalid)?;
        let intent_key = format!("{:016x}", rand::rng().random::<u64>());
        let config = &self.config;
        // While this call holds the vote, the worker leaves it alone; should the process die
        // mid-call, the worker takes it up once this lease runs out.
        let lease = Duration::from_millis(config.request_timeout_ms)
            .saturating_mul(config.call_attempts.max(1))
            + Duration::from_secs(config.max_retry_after_secs);
        let vote = self
            .store
            .insert_vote(&NewVote {
                community_id: community.id,
                backend: registered.backend.name(),
                intent_key: &intent_key,
                request: &request,
                at,
                next_attempt_at: after(at, lease),
            })
            .await?;
        tracing::info!(community = %community.community.slug, vote = vote.id, backend, "vote stored; starting it");
        let _guard = self.lock(vote.id).await;
        self.attempt_start(&registered, vote, community.community.slug.as_str())
            .await
    }

    pub(super) async fn reload(&self, vote: &VoteRecord) -> Result<VoteRecord, AppError> {
        self.store
            .vote(vote.community_id, vote.id)
            .await?
            .ok_or_else(|| AppError::Inconsistent(format!("vote {} vanished", vote.id)))
    }

    pub(super) async fn attempt_start(
        &self,
        registered: &Registered,
        vote: VoteRecord,
        community: &str,
    ) -> Result<Outcome, AppError> {
        let marker = IntentMarker::new(community, vote.id, &vote.intent_key);
        let request = VoteRequest {
            details: marker.append_to(&vote.request.details),
            ..vote.request.clone()
        };
        let result = registered.backend.start(&request).await;
        let at = self.clock.now();
        let error = match result {
            Ok(handle) => {
                self.store.mark_started(vote.id, &handle, at, at).await?;
                tracing::info!(vote = vote.id, external_id = %handle.external_id, "vote started");
                self.doorbell.ring();
                self.scheduler.ring();
                None
            }
            Err(e) if may_pass(&e) => {
                let wait = retry_wait(&self.config, vote.attempts + 1, &e);
                tracing::warn!(vote = vote.id, error = %e, retry_in_ms = wait.as_millis() as u64, "starting the vote failed; it will be retried");
                self.store
                    .record_failed_attempt(
                        vote.id,
                        Lifecycle::Starting,
                        &e.to_string(),
                        after(at, wait),
                        at,
                    )
                    .await?;
                Some(e)
            }
            Err(e) => {
                tracing::warn!(vote = vote.id, error = %e, "the platform refused to start the vote");
                self.store.mark_failed(vote.id, &e.to_string(), at).await?;
                // A policy's proposal waiting on this vote fails now rather than at the next tick.
                self.scheduler.ring();
                Some(e)
            }
        };
        Ok(Outcome {
            vote: self.reload(&vote).await?,
            error,
        })
    }

    /// Closes a vote: a vote not started yet is cancelled; an open one is closed on its platform
    /// and read at once; a close the platform could not take now is retried by the worker.
    pub async fn close(&self, community: &LiveCommunity, id: i64) -> Result<Outcome, AppError> {
        let _guard = self.lock(id).await;
        let vote = self
            .store
            .vote(community.id, id)
            .await?
            .ok_or(AppError::UnknownVote(id))?;
        match vote.state {
            Lifecycle::Starting => {
                self.store.mark_cancelled(id, self.clock.now()).await?;
                tracing::info!(vote = id, "vote cancelled before it started");
                Ok(Outcome {
                    vote: self.reload(&vote).await?,
                    error: None,
                })
            }
            Lifecycle::Open => {
                let registered = self.backends.backend(community.id, &vote.backend).await?;
                self.attempt_close(&registered, vote).await
            }
            Lifecycle::Closing if vote.close_sent_at.is_none() => {
                let registered = self.backends.backend(community.id, &vote.backend).await?;
                self.attempt_close(&registered, vote).await
            }
            Lifecycle::Closing | Lifecycle::Closed => Ok(Outcome { vote, error: None }),
            Lifecycle::Failed | Lifecycle::Cancelled => Err(AppError::VoteEnded {
                id,
                state: vote.state,
            }),
        }
    }

    pub(super) async fn attempt_close(
        &self,
        registered: &Registered,
        vote: VoteRecord,
    ) -> Result<Outcome, AppError> {
        let external_id = vote.external_id.clone().ok_or_else(|| {
            AppError::Inconsistent(format!(
                "vote {} is {} without a platform id",
                vote.id, vote.state
            ))
        })?;
        let result = registered.backend.close(&external_id).await;
        let at = self.clock.now();
        let error = match result {
            Ok(()) => {
                if vote.state == Lifecycle::Open {
                    self.store.mark_closing(vote.id, true, None, at, at).await?;
                } else {
                    self.store.mark_close_sent(vote.id, at).await?;
                }
                tracing::info!(vote = vote.id, "close accepted by the platform");
                let closing = self.reload(&vote).await?;
                // A platform that closes at once shows it now; one that closes later is re-read.
                self.read(registered, &closing).await?;
                None
            }
            Err(e) => {
                let wait = retry_wait(&self.config, vote.attempts + 1, &e);
                let next = after(at, wait);
                match vote.state {
                    Lifecycle::Open if may_pass(&e) => {
                        self.store
                            .mark_closing(vote.id, false, Some(&e.to_string()), next, at)
                            .await?;
                    }
                    Lifecycle::Open => {}
                    _ => {
                        self.store
                            .record_failed_attempt(
                                vote.id,
                                Lifecycle::Closing,
                                &e.to_string(),
                                next,
                                at,
                            )
                            .await?;
                    }
                }
                tracing::warn!(vote = vote.id, error = %e, "closing the vote failed");
                Some(e)
            }
        };
        Ok(Outcome {
            vote: self.reload(&vote).await?,
            error,
        })
    }

    /// Reads a live vote and records what changed.
    pub(super) async fn read(
        &self,
        registered: &Registered,
        vote: &VoteRecord,
    ) -> Result<(), AppError> {
        let Some(external_id) = vote.external_id.as_deref() else {
            return Ok(());
        };
        let interval = reread_interval(&self.config);
        let result = registered.backend.status(external_id).await;
        let at = self.clock.now();
        match result {
            Ok(status) => {
                let outcome = self
                    .store
                    .record_reading(vote.id, &status, at, after(at, interval))
                    .await?;
                match outcome {
                    ReadingOutcome::Closed { reading } => {
                        tracing::info!(
                            vote = vote.id,
                            reading,
                            "vote closed; its evidence is kept"
                        );
                        self.scheduler.ring();
                    }
                    ReadingOutcome::Appended { reading } => {
                        tracing::debug!(vote = vote.id, reading, "vote changed");
                        self.scheduler.ring();
                    }
                    ReadingOutcome::Unchanged | ReadingOutcome::Stale => {}
                }
            }
            Err(e) => {
                let wait = match &e {
                    VotingError::Unavailable {
                        retry_after: Some(asked),
                        ..
                    } => interval.max(*asked),
                    _ => interval,
                };
                tracing::warn!(vote = vote.id, error = %e, "reading the vote failed");
                self.store
                    .record_failed_read(vote.id, &e.to_string(), after(at, wait), at)
                    .await?;
            }
        }
        Ok(())
    }
}
