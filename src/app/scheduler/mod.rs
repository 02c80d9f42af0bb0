//! The policy scheduler: wires the pure engine (`crate::policy`) to the world.
//!
//! Each pass (on a clock tick, or when woken after a wallet change or a vote's new reading):
//! 1. turns each platform wallet change not handled yet into a proposal under the policy in force
//!    (a rule with a vote stores the vote's intent through the standard voting API, keyed by the
//!    proposal, and the voting worker starts it, retries it and re-reads it; a rule without a vote
//!    decides at once);
//! 2. for each open proposal, under the policy version it opened with: attaches its vote once
//!    started and tells the member, or evaluates it on the vote's latest stored reading and the
//!    voters' standing in the registry now, at the pass's time;
//! 3. carries out the actions of every decision not carried out yet, then marks it.
//!
//! A newer wallet change of a member first fails their open wallet proposals as superseded
//! (`supersede`), and a vote its platform refused to start, or an admin cancelled before it
//! started, fails its proposal (`steps`). Admins' requests and policy changes open proposals
//! through the same path as wallet changes (`opening`).
//!
//! The files follow a pass's direction: this one orders the pass; `opening`, `steps` and
//! `supersede` ask the pure core what happens to a proposal; `effects` records each decision and
//! carries it out; `read` gathers the facts they decide on. No file calls back up this order.
//!
//! Restart-safe: every step is found again from the store (the proposal about a change by its
//! subject and time, its vote by its intent key, a decision by its proposal) and every effect is
//! idempotent (messages are keyed, a pool action that is already applied changes nothing), so a
//! crash between two steps repeats a step without doubling its effect.

mod effects;
mod opening;
mod read;
mod steps;
mod supersede;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::{Actions, AppError, Backends, Changes, Doorbell, LiveCommunity, Snapshots, Votes};
use crate::clock::Clock;
use crate::config::PolicyConfig;
use crate::domain::Timestamp;
use crate::policy::Subject;
use crate::store::{PendingWalletChange, Store, VoteRecord};
use crate::telemetry::Metrics;

pub use steps::PassSummary;

/// Wallet changes handled per store query.
const BATCH: i64 = 100;

/// The policy scheduler's pass and the proposals admins open: what they read, call and wake.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    snapshots: Arc<Snapshots>,
    metrics: Arc<Metrics>,
    changes: Changes,
    actions: Actions,
    votes: Votes,
    backends: Backends,
    clock: Clock,
    tick: Duration,
    /// Rung after wallet changes, vote readings and opened proposals; the scheduler waits on it.
    doorbell: Doorbell,
    /// One pass at a time: the worker's and any caller of [`Scheduler::run_pass`].
    pass: Arc<Mutex<()>>,
}

impl Scheduler {
    /// The scheduler of one service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        snapshots: Arc<Snapshots>,
        metrics: Arc<Metrics>,
        changes: Changes,
        actions: Actions,
        votes: Votes,
        backends: Backends,
        clock: Clock,
        config: &PolicyConfig,
        doorbell: Doorbell,
    ) -> Self {
        Scheduler {
            store,
            snapshots,
            metrics,
            changes,
            actions,
            votes,
            backends,
            clock,
            tick: Duration::from_millis(config.tick_interval_ms.max(10)),
            doorbell,
            pass: Arc::default(),
        }
    }

    /// The doorbell the scheduler waits on.
    pub fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    /// How often a pass runs when nothing rings.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// The time now, on the service's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The vote a proposal's rule asked for, once its intent is stored (found by the proposal).
    pub async fn proposal_vote(
        &self,
        community_id: i64,
        proposal_id: i64,
    ) -> Result<Option<VoteRecord>, AppError> {
        Ok(self
            .store
            .vote_by_intent(&read::intent_key(community_id, proposal_id))
            .await?)
    }

    /// One pass at the recorded time `at`: wallet changes, then every community's open
    /// proposals and pending decisions. Waits for a pass in progress first; tests call it to
    /// drive the scheduler with a controlled clock. A failed pass is counted in the metrics.
    pub async fn run_pass(&self, at: Timestamp) -> Result<PassSummary, AppError> {
        let _pass = self.pass.lock().await;
        let summary = self.pass(at).await.inspect_err(|_| {
            self.metrics.policy_passes_failed.inc();
        })?;
        if summary != PassSummary::default() {
            tracing::info!(
                opened = summary.opened,
                attached = summary.attached,
                decided = summary.decided,
                executed = summary.executed,
                "policy pass"
            );
        }
        Ok(summary)
    }

    /// The pass itself: stops at the first error it cannot step over (the database, say).
    async fn pass(&self, at: Timestamp) -> Result<PassSummary, AppError> {
        let mut summary = self.handle_wallet_changes(at).await?;
        for community in self.snapshots.all() {
            if self.doorbell.is_stopping() {
                break;
            }
            summary.add(self.advance_community(&community, at).await?);
        }
        Ok(summary)
    }

    /// Handles each wallet change not handled yet, at the change's recorded time (so a replay finds
    /// the same proposal). A change that cannot be handled now is logged and left for the next pass,
    /// without holding up the others.
    pub(super) async fn handle_wallet_changes(
        &self,
        at: Timestamp,
    ) -> Result<PassSummary, AppError> {
        let mut summary = PassSummary::default();
        let mut after = 0;
        loop {
            let changes = self.store.pending_wallet_changes(after, BATCH).await?;
            let Some(last) = changes.last() else {
                return Ok(summary);
            };
            after = last.id;
            for change in changes {
                let Some(community) = self.snapshots.by_id(change.community_id) else {
                    tracing::error!(
                        change = change.id,
                        community = change.community_id,
                        "a wallet change names a community that is not loaded"
                    );
                    continue;
                };
                let proposal_id = match self.handle_change(&community, &change, at).await {
                    Ok((id, step)) => {
                        summary.add(step);
                        id
                    }
                    Err(e) if e.is_database() => return Err(e),
                    Err(e) => {
                        tracing::error!(community = %community.community.slug,
                        change = change.id, error = %e,
                        "the wallet change cannot be handled; retried next pass");
                        continue;
                    }
                };
                self.store
                    .mark_wallet_change_handled(&change, proposal_id, at)
                    .await?;
            }
        }
    }

    /// Handles one wallet change: the member's older wallet proposals are moot, so they fail first
    /// (a late approval never adds a wallet the member dropped); then a platform's change opens its
    /// own proposal, while an admin's opens none. Returns the proposal it opened, if any.
    async fn handle_change(
        &self,
        community: &LiveCommunity,
        change: &PendingWalletChange,
        at: Timestamp,
    ) -> Result<(Option<i64>, PassSummary), AppError> {
        let mut summary = PassSummary::default();
        let Some(subject) = Subject::of_wallet_change(
            change.member.clone(),
            change.from.clone(),
            change.to.clone(),
        ) else {
            return Ok((None, summary));
        };
        summary.decided += self
            .supersede_open(community, &subject, change.recorded_at)
            .await?;
        if change.by_admin {
            return Ok((None, summary));
        }
        let (id, opened) = self
            .open(community, subject, change.recorded_at, at)
            .await?;
        summary.add(opened);
        Ok((id, summary))
    }
}
