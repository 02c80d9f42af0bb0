//! One runner per job across the replicas on one PostgreSQL. The lease keeper holds a connection
//! of its own with one advisory lock per job it runs. Every check it asks the connection to
//! answer and tries to take the jobs no replica holds; when the connection fails or stays silent
//! for a check, it stops every job it ran at once, before the database (which keeps a silent
//! session's locks for `lease_timeout`, three checks or more) lets another replica take them.
//! A replica killed outright closes its socket, and its locks go with it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::app::{Doorbell, Job, ReplicaStatus};
use crate::clock::Clock;
use crate::config::ReplicasConfig;
use crate::store::{LeaseSession, Store};
use crate::telemetry::{Metrics, OutcomeLabels};

use super::{Running, Workers};

/// Starts one job's worker; called each time this replica takes the job's lease.
pub type Starter = Box<dyn Fn() -> Running + Send + Sync>;

/// What the lease keeper needs: the jobs it may run and where their workers go.
pub struct LeaseKeeper {
    store: Store,
    workers: Arc<Workers>,
    status: Arc<ReplicaStatus>,
    metrics: Arc<Metrics>,
    clock: Clock,
    check: Duration,
    timeout: Duration,
    jobs: Vec<(Job, Starter)>,
    session: Option<LeaseSession>,
    /// The jobs whose leases this replica holds (running, or about to).
    held: BTreeSet<Job>,
    /// Leases taken whose job waits for the previous holder to have surely stopped.
    starting: BTreeMap<Job, Instant>,
}

impl LeaseKeeper {
    /// A keeper for this replica's jobs, holding none yet.
    pub fn new(
        store: Store,
        workers: Arc<Workers>,
        status: Arc<ReplicaStatus>,
        metrics: Arc<Metrics>,
        clock: Clock,
        settings: &ReplicasConfig,
    ) -> Self {
        LeaseKeeper {
            store,
            workers,
            status,
            metrics,
            clock,
            check: settings.lease_check(),
            timeout: settings.lease_timeout(),
            jobs: Vec::new(),
            session: None,
            held: BTreeSet::new(),
            starting: BTreeMap::new(),
        }
    }

    /// Adds a job this replica may run.
    pub fn offer(&mut self, job: Job, start: Starter) {
        self.jobs.push((job, start));
    }

    /// One round: checks the lease connection (opening it when there is none) and takes every
    /// free job. Run once at start, so a replica alone starts its jobs at once.
    pub async fn round(&mut self) {
        if self.session.is_none() {
            match tokio::time::timeout(
                self.check,
                self.store.lease_session(&self.status.id, self.timeout),
            )
            .await
            {
                Ok(Ok(session)) => self.session = Some(session),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot open the lease connection; retrying");
                    return;
                }
                Err(_) => {
                    tracing::warn!("opening the lease connection timed out; retrying");
                    return;
                }
            }
        }
        if !self.answers().await {
            self.lose_all().await;
            return;
        }
        for index in 0..self.jobs.len() {
            let job = self.jobs[index].0;
            if self.held.contains(&job) {
                continue;
            }
            let Some(session) = self.session.as_mut() else {
                return;
            };
            let fence = 3 * self.check;
            let taking = session.try_take(job.name(), job.lock_number(), self.clock.now(), fence);
            match tokio::time::timeout(self.check, taking).await {
                Ok(Ok(Some(taken))) => {
                    let takeover = taken
                        .previous
                        .as_deref()
                        .is_some_and(|previous| previous != self.status.id);
                    self.held.insert(job);
                    self.starting.insert(job, Instant::now() + taken.wait);
                    self.metrics.job_leases_held.set(self.held.len() as i64);
                    if takeover {
                        self.metrics
                            .job_lease_takeovers
                            .get_or_create(&OutcomeLabels {
                                outcome: job.name().into(),
                            })
                            .inc();
                    }
                    tracing::info!(job = job.name(), replica = %self.status.id, token = taken.token,
                        takeover, previous = taken.previous.as_deref().unwrap_or(""),
                        wait_ms = taken.wait.as_millis() as u64, "job lease taken");
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, job = job.name(), "taking a lease failed");
                    self.lose_all().await;
                    return;
                }
                Err(_) => {
                    tracing::warn!(job = job.name(), "taking a lease timed out");
                    self.lose_all().await;
                    return;
                }
            }
        }
        self.start_due();
    }

    /// Starts the jobs whose previous holder has surely stopped by now.
    fn start_due(&mut self) {
        let now = Instant::now();
        let due: Vec<Job> = self
            .starting
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(job, _)| *job)
            .collect();
        for job in due {
            self.starting.remove(&job);
            if let Some((_, start)) = self.jobs.iter().find(|(offered, _)| *offered == job) {
                self.workers.slot(job).hold(start());
                self.status.hold(job);
                tracing::info!(job = job.name(), replica = %self.status.id, "job started");
            }
        }
    }

    /// How long until the next job waiting to start is due, if any.
    fn next_start(&self) -> Option<Instant> {
        self.starting.values().min().copied()
    }

    /// Whether the lease connection answered within a check.
    async fn answers(&mut self) -> bool {
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        match tokio::time::timeout(self.check, session.check()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the lease connection failed");
                false
            }
            Err(_) => {
                tracing::warn!("the lease connection did not answer within a check");
                false
            }
        }
    }

    /// Stops every job at once and drops the connection: its leases may be another's soon.
    async fn lose_all(&mut self) {
        self.session = None;
        self.starting.clear();
        for job in std::mem::take(&mut self.held) {
            self.workers.slot(job).abort().await;
            self.status.release(job);
            self.metrics.job_leases_lost.inc();
            tracing::warn!(job = job.name(), replica = %self.status.id, "job lease lost");
        }
        self.metrics.job_leases_held.set(0);
    }

    /// Stops every job this replica runs, each as at shutdown, then releases the leases.
    async fn release_all(&mut self) {
        self.starting.clear();
        for job in std::mem::take(&mut self.held) {
            self.workers.stop(job).await;
            self.status.release(job);
        }
        self.metrics.job_leases_held.set(0);
        if let Some(session) = self.session.take() {
            session.close().await;
        }
    }

    /// Runs a round on every check until stopped, then stops the jobs and releases the leases.
    pub fn start(mut self) -> KeeperHandle {
        let doorbell = Doorbell::default();
        let bell = doorbell.clone();
        let task = tokio::spawn(async move {
            while !bell.is_stopping() {
                let next = Instant::now() + self.check;
                let wake = self.next_start().map_or(next, |start| start.min(next));
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => {},
                    () = bell.rung() => {},
                }
                if bell.is_stopping() {
                    break;
                }
                self.round().await;
            }
            self.release_all().await;
        });
        KeeperHandle(Some(Running::new(doorbell, task)))
    }
}

/// The running lease keeper. Dropped without [`KeeperHandle::stop`] (a test's service dropped
/// as it is), it aborts the keeper, whose connection closes and frees the leases.
pub struct KeeperHandle(Option<Running>);

impl KeeperHandle {
    /// Stops the jobs this replica runs and releases their leases.
    pub async fn stop(mut self) {
        if let Some(running) = self.0.take() {
            running.stop().await;
        }
    }
}

impl Drop for KeeperHandle {
    fn drop(&mut self) {
        if let Some(running) = self.0.take() {
            running.task.abort();
        }
    }
}
