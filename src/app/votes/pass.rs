//! The voting worker's pass: moves on every vote that is due (a pending start or close, a re-read) and
//! re-reads the live votes of communities a platform hinted about.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::{Votes, reread_interval};
use crate::app::AppError;
use crate::clock::after;
use crate::sources::loomio;
use crate::store::VoteRecord;
use crate::voting::lifecycle::Lifecycle;

/// Votes handled per store query of a pass.
const BATCH: i64 = 100;

impl Votes {
    /// Moves one vote on: its pending start or close when due, its re-read when due or `hinted`.
    async fn advance(&self, vote: VoteRecord, hinted: bool) -> Result<(), AppError> {
        let _guard = self.lock(vote.id).await;
        let vote = self.reload(&vote).await?;
        let at = self.clock.now();
        let attempt_due = vote.next_attempt_at.is_some_and(|t| t <= at);
        let read_due = hinted || vote.next_read_at.is_some_and(|t| t <= at);
        let wants_start = vote.state == Lifecycle::Starting && attempt_due;
        let wants_close =
            vote.state == Lifecycle::Closing && vote.close_sent_at.is_none() && attempt_due;
        let wants_read = vote.state.is_live() && read_due;
        if !(wants_start || wants_close || wants_read) {
            return Ok(());
        }
        let registered = match self
            .backends
            .backend(vote.community_id, &vote.backend)
            .await
        {
            Ok(registered) => registered,
            Err(e @ AppError::Platform(_)) => {
                // Settings removed since the vote started: keep the vote, try again later.
                let wait = reread_interval(&self.config);
                tracing::warn!(vote = vote.id, error = %e, "no backend for the vote");
                if vote.state == Lifecycle::Starting || wants_close {
                    self.store
                        .record_failed_attempt(
                            vote.id,
                            vote.state,
                            &e.to_string(),
                            after(at, wait),
                            at,
                        )
                        .await?;
                } else {
                    self.store
                        .record_failed_read(vote.id, &e.to_string(), after(at, wait), at)
                        .await?;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if wants_start {
            let Some(community) = self.snapshots.by_id(vote.community_id) else {
                return Err(AppError::Inconsistent(format!(
                    "vote {} names community {}, which is not loaded",
                    vote.id, vote.community_id
                )));
            };
            self.attempt_start(&registered, vote, community.community.slug.as_str())
                .await?;
            return Ok(());
        }
        if wants_close {
            self.attempt_close(&registered, vote).await?;
            return Ok(());
        }
        self.read(&registered, &vote).await
    }

    /// One pass of the worker: moves on every vote that is due, and reads the live Loomio votes of
    /// hinted communities. Returns when the next vote falls due. Waits for a pass in progress first,
    /// so after it returns, everything due before the call was handled (tests use it to wait for the
    /// worker without a clock).
    pub async fn run_pass(&self) -> Result<Option<Instant>, AppError> {
        let _pass = self.held.pass.lock().await;
        let config = &self.config;
        let (hinted, next_hint) = self.due_hints(
            Instant::now(),
            Duration::from_millis(config.hint_interval_ms),
        );
        let mut work: BTreeMap<i64, (VoteRecord, bool)> = BTreeMap::new();
        for community in hinted {
            for vote in self.store.live_votes(community, loomio::BACKEND).await? {
                work.insert(vote.id, (vote, true));
            }
        }
        let mut handled = BTreeSet::new();
        loop {
            let due = self.store.due_votes(self.clock.now(), BATCH).await?;
            let fresh: Vec<VoteRecord> = due
                .into_iter()
                .filter(|v| !handled.contains(&v.id))
                .collect();
            let full = fresh.len() as i64 == BATCH;
            for vote in fresh {
                work.entry(vote.id).or_insert((vote, false));
            }
            for (id, (vote, hinted)) in std::mem::take(&mut work) {
                if self.doorbell.is_stopping() {
                    return Ok(None);
                }
                handled.insert(id);
                if let Err(e) = self.advance(vote, hinted).await {
                    tracing::error!(vote = id, error = %e, "moving a vote on failed");
                }
            }
            if !full {
                break;
            }
        }
        let next_vote = self.store.next_vote_due().await?.map(|at| {
            let wait = u64::try_from(at.0.saturating_sub(self.clock.now().0)).unwrap_or(0);
            Instant::now() + Duration::from_millis(wait)
        });
        Ok(match (next_vote, next_hint) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}
