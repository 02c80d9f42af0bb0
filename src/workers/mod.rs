//! The background workers. Each runs one use case's pass in a loop: at once on start (catching
//! up with what a previous run left), then whenever its doorbell rings, its next item falls due
//! or its poll interval passes; each is handed exactly the use case it runs. The relayer and the
//! indexer, which talk to a chain node, live here too.
//!
//! A worker's [`Running`] handle is how shutdown stops it: after its current step, or mid-step
//! for the workers whose every step is safe to cut short.

pub mod indexer;
pub mod relayer;

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::app::{Actions, Doorbell, Ingest, Reconciler, Scheduler, Votes};

/// How long a worker waits after its pass failed (the database, say) before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Shortest sleep of the voting worker between passes, so that a vote that cannot move never
/// makes it spin.
const MIN_VOTES_SLEEP: Duration = Duration::from_millis(20);

/// A worker's task and its doorbell, for shutdown.
pub struct Running {
    doorbell: Doorbell,
    task: JoinHandle<()>,
}

impl Running {
    /// The handle of `task`, which waits on `doorbell`.
    pub fn new(doorbell: Doorbell, task: JoinHandle<()>) -> Self {
        Running { doorbell, task }
    }

    /// Stops the worker after its current step and waits for it.
    pub async fn stop(self) {
        self.doorbell.ask_to_stop();
        let _ = self.task.await;
    }

    /// Stops the worker at once, mid-step: for workers whose every step is safe to cut short
    /// (stored intents found again, transactional state) and may wait long on a platform.
    pub async fn abort(self) {
        self.doorbell.ask_to_stop();
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Applies stored webhook deliveries whenever a handler rings.
pub fn ingest(ingest: Ingest) -> Running {
    let doorbell = ingest.doorbell().clone();
    let bell = doorbell.clone();
    let task = tokio::spawn(async move {
        let mut caught_up = false;
        while !bell.is_stopping() {
            match ingest.drain().await {
                Ok(applied) if !caught_up => {
                    caught_up = true;
                    tracing::info!(applied, "ingest worker caught up with stored deliveries");
                }
                Ok(applied) => tracing::debug!(applied, "webhook deliveries applied"),
                Err(e) => {
                    tracing::error!(error = %e, "applying webhook deliveries failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_AFTER) => {},
                        () = bell.rung() => {},
                    }
                    continue;
                }
            }
            bell.rung().await;
        }
    });
    Running::new(doorbell, task)
}

/// Attempts stored actions as they fall due.
pub fn actions(actions: Actions) -> Running {
    let doorbell = actions.doorbell().clone();
    let bell = doorbell.clone();
    let task = tokio::spawn(async move {
        while !bell.is_stopping() {
            if let Err(e) = actions.attempt_due().await {
                tracing::error!(error = %e, "attempting due actions failed; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(actions.idle_wait().await) => {},
                () = bell.rung() => {},
            }
        }
    });
    Running::new(doorbell, task)
}

/// Moves votes on as they fall due, and re-reads hinted communities' votes.
pub fn votes(votes: Votes) -> Running {
    let doorbell = votes.doorbell().clone();
    let bell = doorbell.clone();
    let task = tokio::spawn(async move {
        let interval = votes.reread_interval();
        let mut caught_up = false;
        while !bell.is_stopping() {
            let wait = match votes.run_pass().await {
                Ok(next) => {
                    if !caught_up {
                        caught_up = true;
                        tracing::info!("voting worker caught up with due votes");
                    }
                    next.map(|at| at.saturating_duration_since(Instant::now()))
                        .unwrap_or(interval)
                        .clamp(MIN_VOTES_SLEEP, interval)
                }
                Err(e) => {
                    tracing::error!(error = %e, "the voting worker's pass failed; retrying");
                    RETRY_AFTER
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {},
                () = bell.rung() => {},
            }
        }
    });
    Running::new(doorbell, task)
}

/// Runs the policy scheduler's pass at once, then on every tick or ring.
pub fn scheduler(scheduler: Scheduler) -> Running {
    let doorbell = scheduler.doorbell().clone();
    let bell = doorbell.clone();
    let task = tokio::spawn(async move {
        while !bell.is_stopping() {
            if let Err(e) = scheduler.run_pass(scheduler.now()).await {
                tracing::error!(error = %e, "the policy pass failed; retrying on the next tick");
            }
            tokio::select! {
                () = tokio::time::sleep(scheduler.tick()) => {},
                () = bell.rung() => {},
            }
        }
    });
    Running::new(doorbell, task)
}

/// Reconciles the outbox with the chain index on its interval, keeping the last result.
pub fn reconciler(reconciler: Reconciler) -> Running {
    let doorbell = reconciler.doorbell().clone();
    let bell = doorbell.clone();
    let task = tokio::spawn(async move {
        while !bell.is_stopping() {
            if let Err(e) = reconciler.run_once().await {
                tracing::warn!(error = %e, "reconciliation could not read the store");
            }
            tokio::select! {
                () = tokio::time::sleep(reconciler.interval()) => {},
                () = bell.rung() => {},
            }
        }
    });
    Running::new(doorbell, task)
}
