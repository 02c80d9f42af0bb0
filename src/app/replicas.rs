//! Several replicas of one service on one PostgreSQL: the background jobs each replica may hold,
//! what this replica holds now (for `/readyz` and `/v1/oracle/jobs`), and [`Freshness`], which
//! keeps every replica's snapshots up with the changes any replica commits.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::config::Role;
use crate::store::{ChangeNotice, Store};
use crate::telemetry::Metrics;

use super::{AppError, Snapshots};

/// A background job, run by one replica at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Job {
    /// Applies stored webhook deliveries.
    Ingest,
    /// Runs the policy's passes.
    Scheduler,
    /// Starts, closes and re-reads votes.
    Votes,
    /// Sends intended platform actions.
    Actions,
    /// Submits signed reports to the contract.
    Relayer,
    /// Reads the contract's logs into the index.
    Indexer,
    /// Compares the outbox with the chain index.
    Reconciler,
}

impl Job {
    /// Every job, in the order a replica takes them.
    pub const ALL: [Job; 7] = [
        Job::Ingest,
        Job::Scheduler,
        Job::Votes,
        Job::Actions,
        Job::Relayer,
        Job::Indexer,
        Job::Reconciler,
    ];

    /// The job's name in leases, logs and answers.
    pub fn name(self) -> &'static str {
        match self {
            Job::Ingest => "ingest",
            Job::Scheduler => "scheduler",
            Job::Votes => "votes",
            Job::Actions => "actions",
            Job::Relayer => "relayer",
            Job::Indexer => "indexer",
            Job::Reconciler => "reconciler",
        }
    }

    /// The job's advisory-lock number: stable across releases, since replicas of two releases
    /// may run side by side during a deploy.
    pub fn lock_number(self) -> i32 {
        match self {
            Job::Ingest => 1,
            Job::Scheduler => 2,
            Job::Votes => 3,
            Job::Actions => 4,
            Job::Relayer => 5,
            Job::Indexer => 6,
            Job::Reconciler => 7,
        }
    }
}

/// Who this replica is and which jobs it holds now; shared by the lease keeper, which writes
/// it, and the HTTP answers, which read it.
#[derive(Debug)]
pub struct ReplicaStatus {
    /// This replica's name.
    pub id: String,
    /// What it serves and runs.
    pub role: Role,
    held: Mutex<BTreeSet<Job>>,
}

impl ReplicaStatus {
    /// A replica holding nothing yet.
    pub fn new(id: String, role: Role) -> Self {
        ReplicaStatus {
            id,
            role,
            held: Mutex::new(BTreeSet::new()),
        }
    }

    /// Records that this replica runs `job` now.
    pub fn hold(&self, job: Job) {
        self.held.lock().expect("not poisoned").insert(job);
    }

    /// Records that this replica no longer runs `job`.
    pub fn release(&self, job: Job) {
        self.held.lock().expect("not poisoned").remove(&job);
    }

    /// The jobs this replica runs now, by name.
    pub fn held(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self
            .held
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|job| job.name())
            .collect();
        names.sort_unstable();
        names
    }
}

/// Keeps this replica's snapshots up with changes committed by any replica: on a change notice,
/// and on the periodic comparison of every community's change stamp with the snapshot's.
#[derive(Clone)]
pub struct Freshness {
    store: Store,
    snapshots: Arc<Snapshots>,
    metrics: Arc<Metrics>,
    /// Real time, to measure a notice's lag against the database's clock (not the use cases'
    /// clock, which tests may hold still).
    wall: Clock,
}

impl Freshness {
    /// Freshness over `snapshots`.
    pub fn new(store: Store, snapshots: Arc<Snapshots>, metrics: Arc<Metrics>) -> Self {
        Freshness {
            store,
            snapshots,
            metrics,
            wall: Clock::system(),
        }
    }

    /// The store, for the feed of notices.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Refreshes the community a notice names, unless the snapshot held is already as new as
    /// its stamp (this replica wrote the change, or an earlier notice covered it). Whether it
    /// refreshed.
    pub async fn noticed(&self, notice: ChangeNotice) -> Result<bool, AppError> {
        let lag_ms = self.wall.now().millis() - notice.written_at.millis();
        self.metrics
            .snapshot_notice_lag
            .observe(lag_ms.max(0) as f64 / 1000.0);
        let stamp = self.store.community_stamp(notice.community_id).await?;
        if self.is_fresh(notice.community_id, stamp) {
            return Ok(false);
        }
        self.refresh(notice.community_id).await?;
        Ok(true)
    }

    /// Compares every community's stamp with its snapshot and refreshes those behind (or not
    /// held at all): the fallback for notices lost while the feed was down. How many it
    /// refreshed.
    pub async fn check_all(&self) -> Result<usize, AppError> {
        let mut refreshed = 0;
        for (community_id, stamp) in self.store.community_stamps().await? {
            if !self.is_fresh(community_id, stamp) {
                self.refresh(community_id).await?;
                self.metrics.snapshot_fallback_refreshes.inc();
                refreshed += 1;
            }
        }
        Ok(refreshed)
    }

    fn is_fresh(&self, community_id: i64, stamp: i64) -> bool {
        self.snapshots
            .by_id(community_id)
            .is_some_and(|live| live.stamp >= stamp)
    }

    async fn refresh(&self, community_id: i64) -> Result<(), AppError> {
        if let Some(row) = self.store.community_by_id(community_id).await? {
            self.snapshots.refresh(&self.store, &row).await?;
            self.metrics.snapshot_swaps.inc();
            self.metrics.communities.set(self.snapshots.len() as i64);
        }
        Ok(())
    }
}
