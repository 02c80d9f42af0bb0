//! The voting worker: moves on every vote that is due (a pending start or close, a re-read) and
//! re-reads the live votes of communities a platform hinted about.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::actions::{attempt_close, attempt_start, read, reload};
use super::{after, now, reread_interval};
use crate::app::backends::{RegistryError, voting_backend};
use crate::http::AppState;
use crate::sources::loomio;
use crate::store::{StoreError, VoteRecord};
use crate::voting::lifecycle::Lifecycle;

/// Votes handled per store query of a pass.
const BATCH: i64 = 100;

/// Shortest sleep of the worker between passes, so that a vote that cannot move never makes it
/// spin.
const MIN_SLEEP: Duration = Duration::from_millis(20);

/// How long the worker waits after a database error.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// Moves one vote on: its pending start or close when due, its re-read when due or `hinted`.
async fn advance(state: &AppState, vote: VoteRecord, hinted: bool) -> Result<(), StoreError> {
    let _guard = state.voting.lock(vote.id).await;
    let vote = reload(state, &vote).await?;
    let at = now();
    let attempt_due = vote.next_attempt_at.is_some_and(|t| t <= at);
    let read_due = hinted || vote.next_read_at.is_some_and(|t| t <= at);
    let wants_start = vote.state == Lifecycle::Starting && attempt_due;
    let wants_close =
        vote.state == Lifecycle::Closing && vote.close_sent_at.is_none() && attempt_due;
    let wants_read = vote.state.is_live() && read_due;
    if !(wants_start || wants_close || wants_read) {
        return Ok(());
    }
    let registered = match voting_backend(state, vote.community_id, &vote.backend).await {
        Ok(registered) => registered,
        Err(RegistryError::Store(e)) => return Err(e),
        Err(e) => {
            // Settings removed since the vote started: keep the vote, try again later.
            let wait = reread_interval(&state.config.voting);
            tracing::warn!(vote = vote.id, error = %e, "no backend for the vote");
            if vote.state == Lifecycle::Starting || wants_close {
                state
                    .store
                    .record_failed_attempt(vote.id, vote.state, &e.to_string(), after(at, wait), at)
                    .await?;
            } else {
                state
                    .store
                    .record_failed_read(vote.id, &e.to_string(), after(at, wait), at)
                    .await?;
            }
            return Ok(());
        }
    };
    if wants_start {
        let Some(community) = state.snapshots.by_id(vote.community_id) else {
            return Err(StoreError::Corrupt(format!(
                "vote {} names community {}, which is not loaded",
                vote.id, vote.community_id
            )));
        };
        attempt_start(state, &registered, vote, community.community.slug.as_str()).await?;
        return Ok(());
    }
    if wants_close {
        attempt_close(state, &registered, vote).await?;
        return Ok(());
    }
    read(state, &registered, &vote).await
}

/// One pass of the worker: moves on every vote that is due, and reads the live Loomio votes of
/// hinted communities. Returns when the next vote falls due. Waits for a pass in progress first,
/// so after it returns, everything due before the call was handled (tests use it to wait for the
/// worker without a clock).
pub async fn run_pass(state: &AppState) -> Result<Option<Instant>, StoreError> {
    let _pass = state.voting.pass.lock().await;
    let config = &state.config.voting;
    let (hinted, next_hint) = state.voting.due_hints(
        Instant::now(),
        Duration::from_millis(config.hint_interval_ms),
    );
    let mut work: BTreeMap<i64, (VoteRecord, bool)> = BTreeMap::new();
    for community in hinted {
        for vote in state.store.live_votes(community, loomio::BACKEND).await? {
            work.insert(vote.id, (vote, true));
        }
    }
    let mut handled = BTreeSet::new();
    loop {
        let due = state.store.due_votes(now(), BATCH).await?;
        let fresh: Vec<VoteRecord> = due
            .into_iter()
            .filter(|v| !handled.contains(&v.id))
            .collect();
        let full = fresh.len() as i64 == BATCH;
        for vote in fresh {
            work.entry(vote.id).or_insert((vote, false));
        }
        for (id, (vote, hinted)) in std::mem::take(&mut work) {
            if state.voting.controls.is_stopping() {
                return Ok(None);
            }
            handled.insert(id);
            if let Err(e) = advance(state, vote, hinted).await {
                tracing::error!(vote = id, error = %e, "moving a vote on failed");
            }
        }
        if !full {
            break;
        }
    }
    let next_vote = state.store.next_vote_due().await?.map(|at| {
        let wait = u64::try_from(at.0.saturating_sub(now().0)).unwrap_or(0);
        Instant::now() + Duration::from_millis(wait)
    });
    Ok(match (next_vote, next_hint) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Starts the worker on the current runtime: it first moves on whatever fell due while the
/// service was down, then sleeps until the next vote is due, a hint arrives or a vote starts.
pub fn start_worker(state: AppState) {
    let voting = state.voting.clone();
    let handle = tokio::spawn(async move {
        let interval = reread_interval(&state.config.voting);
        let mut caught_up = false;
        while !state.voting.controls.is_stopping() {
            let wait = match run_pass(&state).await {
                Ok(next) => {
                    if !caught_up {
                        caught_up = true;
                        tracing::info!("voting worker caught up with due votes");
                    }
                    next.map(|at| at.saturating_duration_since(Instant::now()))
                        .unwrap_or(interval)
                        .clamp(MIN_SLEEP, interval)
                }
                Err(e) => {
                    tracing::error!(error = %e, "the voting worker's pass failed; retrying");
                    STORE_RETRY
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {},
                () = state.voting.controls.woken() => {},
            }
        }
    });
    voting.controls.hold(handle);
}
