//! The background workers. Each runs one use case's pass in a loop: at once on start (catching
//! up with what a previous run left), then whenever its doorbell rings, its next item falls due
//! or its poll interval passes; each is handed exactly the use case it runs. The relayer and the
//! indexer, which talk to a chain node, live here too.
//!
//! A worker's [`Running`] handle is how shutdown stops it: after its current step, or mid-step
//! for the workers whose every step is safe to cut short.

pub mod indexer;
pub mod leases;
pub mod relayer;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{Actions, Doorbell, Freshness, Ingest, Job, Reconciler, Scheduler, Votes};

/// How long a worker waits after its pass failed (the database, say) before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Shortest sleep of the voting worker between passes, so that a vote that cannot move never
/// makes it spin.
const MIN_VOTES_SLEEP: Duration = Duration::from_millis(20);

/// A worker's task and how to ask it to stop, for shutdown and for a lost lease.
pub struct Running {
    stop: StopSignal,
    task: JoinHandle<()>,
}

/// How a worker is asked to stop: its doorbell, or (the indexer) a watch of its own.
enum StopSignal {
    Bell(Doorbell),
    Watch(watch::Sender<bool>),
}

impl Running {
    /// The handle of `task`, which waits on `doorbell`.
    pub fn new(doorbell: Doorbell, task: JoinHandle<()>) -> Self {
        Running {
            stop: StopSignal::Bell(doorbell),
            task,
        }
    }

    /// The handle of `task`, which stops when `stop` turns true.
    pub fn signalled(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Self {
        Running {
            stop: StopSignal::Watch(stop),
            task,
        }
    }

    fn ask_to_stop(&self) {
        match &self.stop {
            StopSignal::Bell(bell) => bell.ask_to_stop(),
            StopSignal::Watch(stop) => drop(stop.send(true)),
        }
    }

    /// Once the task ended, clears the doorbell's stop, so the same worker can start again
    /// (when this replica takes its lease back).
    fn finished(&self) {
        if let StopSignal::Bell(bell) = &self.stop {
            bell.reopen();
        }
    }

    /// Stops the worker after its current step and waits for it.
    pub async fn stop(mut self) {
        self.ask_to_stop();
        if let Err(e) = (&mut self.task).await {
            tracing::error!(error = %e, "a worker's task failed");
        }
        self.finished();
    }

    /// Stops the worker at once, mid-step: for workers whose every step is safe to cut short
    /// (stored intents found again, transactional state) and may wait long on a platform.
    pub async fn abort(mut self) {
        self.ask_to_stop();
        self.task.abort();
        let _ = (&mut self.task).await;
        self.finished();
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

/// Keeps this replica's snapshots up with the changes other replicas commit: refreshes a
/// community on each change notice, and compares every stamp on `check` (and at once after the
/// feed reconnects, since notices sent meanwhile are lost). PostgreSQL only.
pub fn freshness(freshness: Freshness, check: Duration) -> Running {
    let doorbell = Doorbell::default();
    let bell = doorbell.clone();
    let task = tokio::spawn(async move {
        let mut feed = None;
        let mut next_check = tokio::time::Instant::now();
        while !bell.is_stopping() {
            if feed.is_none() {
                match freshness.store().change_feed().await {
                    Ok(listening) => {
                        feed = Some(listening);
                        next_check = tokio::time::Instant::now();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for changes; comparing stamps only")
                    }
                }
            }
            if tokio::time::Instant::now() >= next_check {
                match freshness.check_all().await {
                    Ok(0) => {}
                    Ok(refreshed) => {
                        tracing::info!(refreshed, "snapshots refreshed by the stamp comparison")
                    }
                    Err(e) => tracing::warn!(error = %e, "comparing snapshot stamps failed"),
                }
                next_check = tokio::time::Instant::now() + check;
            }
            let notice = async {
                match feed.as_mut() {
                    Some(listening) => listening.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = notice => match received {
                    Ok(Some(notice)) => {
                        if let Err(e) = freshness.noticed(notice).await {
                            tracing::warn!(error = %e, community = notice.community_id,
                                "refreshing a snapshot on notice failed; the comparison retries");
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("the change feed reconnected; comparing every stamp");
                        next_check = tokio::time::Instant::now();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the change feed failed; reconnecting");
                        feed = None;
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                },
                () = tokio::time::sleep_until(next_check) => {},
                () = bell.rung() => {},
            }
        }
    });
    Running::new(doorbell, task)
}

/// A worker that may be running, for shutdown (and for tests that stop one).
#[derive(Default)]
pub struct WorkerSlot(Mutex<Option<Running>>);

impl WorkerSlot {
    /// Keeps `running` here, stopping nothing: the slot was empty.
    pub fn hold(&self, running: Running) {
        *self.0.lock().expect("not poisoned") = Some(running);
    }

    fn take(&self) -> Option<Running> {
        self.0.lock().expect("not poisoned").take()
    }

    /// Whether a worker is held.
    pub fn is_running(&self) -> bool {
        self.0.lock().expect("not poisoned").is_some()
    }

    /// Stops the worker after its current step, if it runs, and waits for it.
    pub async fn stop(&self) {
        if let Some(running) = self.take() {
            running.stop().await;
        }
    }

    /// Stops the worker at once, mid-step, if it runs.
    pub async fn abort(&self) {
        if let Some(running) = self.take() {
            running.abort().await;
        }
    }
}

/// The workers of one replica, one slot per job.
#[derive(Default)]
pub struct Workers {
    /// Applies stored webhook deliveries.
    pub ingest: WorkerSlot,
    /// Sends intended platform actions.
    pub actions: WorkerSlot,
    /// Starts, closes and re-reads votes.
    pub votes: WorkerSlot,
    /// Runs the policy's passes.
    pub scheduler: WorkerSlot,
    /// Submits signed reports to the contract.
    pub relayer: WorkerSlot,
    /// Compares the outbox with the chain index.
    pub reconciler: WorkerSlot,
    /// Reads the contract's logs into the index.
    pub indexer: WorkerSlot,
    /// Keeps the snapshots up with other replicas' changes (PostgreSQL).
    pub freshness: WorkerSlot,
}

impl Workers {
    /// The slot of `job`.
    pub fn slot(&self, job: Job) -> &WorkerSlot {
        match job {
            Job::Ingest => &self.ingest,
            Job::Scheduler => &self.scheduler,
            Job::Votes => &self.votes,
            Job::Actions => &self.actions,
            Job::Relayer => &self.relayer,
            Job::Indexer => &self.indexer,
            Job::Reconciler => &self.reconciler,
        }
    }

    /// Stops `job`'s worker: after its current step when that is what its steps need, at once
    /// for those whose every step is safe to cut short.
    pub async fn stop(&self, job: Job) {
        match job {
            Job::Votes | Job::Scheduler => self.slot(job).abort().await,
            _ => self.slot(job).stop().await,
        }
    }

    /// Stops every worker, each as [`Workers::stop`] does.
    pub async fn stop_all(&self) {
        for job in [
            Job::Ingest,
            Job::Relayer,
            Job::Actions,
            Job::Votes,
            Job::Indexer,
            Job::Scheduler,
            Job::Reconciler,
        ] {
            self.stop(job).await;
        }
        self.freshness.stop().await;
    }
}
