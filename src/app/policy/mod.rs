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
//! A newer wallet change of a member first fails their open wallet proposals as superseded, and a
//! vote its platform refused to start, or an admin cancelled before it started, fails its
//! proposal (`ending`). Admins' requests and policy
//! changes open proposals through the same path as wallet changes (`opening`).
//!
//! Restart-safe: every step is found again from the store (the proposal about a change by its
//! subject and time, its vote by its intent key, a decision by its proposal) and every effect is
//! idempotent (messages are keyed, a pool action that is already applied changes nothing), so a
//! crash between two steps repeats a step without doubling its effect.

mod effects;
mod ending;
mod opening;
mod steps;

pub use opening::{handle_wallet_changes, propose_policy_change, request_change};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::worker::WorkerControls;

use crate::domain::Timestamp;
use crate::http::AppState;
use crate::store::StoreError;

pub use steps::{PassSummary, advance_community};

/// How the policy scheduler runs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Whether this process runs the scheduler. With `false`, wallet changes wait, stored, for a
    /// process that does.
    pub worker: bool,
    /// How often open proposals are evaluated on the clock (a vote's time-based close, and new
    /// readings of the voting worker), in milliseconds.
    pub tick_interval_ms: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            worker: true,
            tick_interval_ms: 5_000,
        }
    }
}

/// The scheduler's controls, shared with whatever wakes it.
#[derive(Default)]
pub struct Scheduler {
    controls: WorkerControls,
    /// One pass at a time: the worker's and any caller of [`run_pass`].
    pass: Mutex<()>,
}

impl Scheduler {
    /// Asks for a pass soon (a wake-up is never lost).
    pub fn wake(&self) {
        self.controls.wake();
    }

    /// Stops the worker. Aborting it mid-pass is safe: every step is found again and repeated
    /// without doubling its effect.
    pub async fn stop(&self) {
        self.controls.abort().await;
    }
}

/// The vote a proposal's rule asked for, once its intent is stored (found by the proposal).
pub async fn proposal_vote(
    state: &AppState,
    community_id: i64,
    proposal_id: i64,
) -> Result<Option<crate::store::VoteRecord>, StoreError> {
    state
        .store
        .vote_by_intent(&steps::intent_key(community_id, proposal_id))
        .await
}

fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

/// One pass at the recorded time `at`: wallet changes, then every community's open proposals and
/// pending decisions. Waits for a pass in progress first; tests call it to drive the scheduler
/// with a controlled clock. A failed pass is counted in the metrics.
pub async fn run_pass(state: &AppState, at: Timestamp) -> Result<PassSummary, StoreError> {
    let _pass = state.scheduler.pass.lock().await;
    let summary = pass(state, at).await.inspect_err(|_| {
        state.metrics.policy_passes_failed.inc();
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
async fn pass(state: &AppState, at: Timestamp) -> Result<PassSummary, StoreError> {
    let mut summary = handle_wallet_changes(state, at).await?;
    for community in state.snapshots.all() {
        if state.scheduler.controls.is_stopping() {
            break;
        }
        summary.add(advance_community(state, &community, at).await?);
    }
    Ok(summary)
}

/// Starts the scheduler on the current runtime: a pass at once (catching up after a restart),
/// then one per tick or wake-up.
pub fn start_worker(state: AppState) {
    let scheduler = state.scheduler.clone();
    let handle = tokio::spawn(async move {
        let tick = Duration::from_millis(state.config.policy.tick_interval_ms.max(10));
        while !state.scheduler.controls.is_stopping() {
            if let Err(e) = run_pass(&state, now()).await {
                tracing::error!(error = %e, "the policy pass failed; retrying on the next tick");
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {},
                () = state.scheduler.controls.woken() => {},
            }
        }
    });
    scheduler.controls.hold(handle);
}
