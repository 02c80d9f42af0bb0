//! The standard voting API's actions (start, close) and the voting worker's pass.
//!
//! A start stores the vote's intent first, then calls the platform; a start that fails for a
//! reason that may pass (the platform is down, slow or rate-limiting) is retried by the worker
//! with doubling waits, after a restart too, and a refusal marks the vote failed. The intent
//! carries a marker that goes into the vote's details, so a start that reached the platform
//! without its answer reaching the service is found there instead of started twice.
//!
//! The worker re-reads every open vote of every backend on a schedule
//! (`voting.reread_interval_secs`), at once when a platform hints that something changed (a
//! Loomio webhook; at most once per `voting.hint_interval_ms` per community), and retries the
//! pending starts and closes when they fall due. A reading that changes a vote is appended with
//! its raw documents; when a vote closes, its final reading's documents are kept as evidence.
//!
//! Platform calls and state changes of one vote are serialised by a per-vote lock in this
//! process; the store's compare-and-set transitions keep a second process from undoing them.

mod actions;
mod pass;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Backends, Doorbell, Snapshots};
use crate::clock::Clock;
use crate::config::VotingConfig;
use crate::store::{Store, VoteRecord};
use crate::voting::VotingError;

/// The standard voting API's actions and the voting worker's pass: what they read, call and wake.
#[derive(Clone)]
pub struct Votes {
    store: Store,
    backends: Backends,
    snapshots: Arc<Snapshots>,
    clock: Clock,
    config: Arc<VotingConfig>,
    /// Rung when a vote intent was stored or a platform hinted; the voting worker waits on it.
    doorbell: Doorbell,
    /// Rung when a vote started, failed, closed or changed: the policy may decide now.
    scheduler: Doorbell,
    held: Arc<Held>,
}

/// What this process holds across calls: hints not served yet, the per-vote locks, the pass lock.
#[derive(Default)]
struct Held {
    hints: std::sync::Mutex<Hints>,
    /// One pass at a time: the worker's and any caller of [`Votes::run_pass`].
    pass: Mutex<()>,
    locks: std::sync::Mutex<HashMap<i64, Arc<Mutex<()>>>>,
}

#[derive(Default)]
struct Hints {
    pending: BTreeSet<i64>,
    served_at: HashMap<i64, Instant>,
}

/// What a start or a close left the vote as, and the platform's error when it failed.
#[derive(Debug)]
pub struct Outcome {
    /// The vote as stored after the call.
    pub vote: VoteRecord,
    /// Why the platform call failed, when it did.
    pub error: Option<VotingError>,
}

impl Votes {
    /// The votes of one service.
    pub fn new(
        store: Store,
        backends: Backends,
        snapshots: Arc<Snapshots>,
        clock: Clock,
        config: &VotingConfig,
        doorbell: Doorbell,
        scheduler: Doorbell,
    ) -> Self {
        Votes {
            store,
            backends,
            snapshots,
            clock,
            config: Arc::new(config.clone()),
            doorbell,
            scheduler,
            held: Arc::default(),
        }
    }

    /// The doorbell the voting worker waits on.
    pub fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    /// How long the worker sleeps at most between passes: the re-read interval.
    pub fn reread_interval(&self) -> Duration {
        reread_interval(&self.config)
    }

    /// A platform said something changed in a community: its open votes on that platform are
    /// re-read soon. A hint carries no data, so a forged one costs a re-read and nothing else.
    pub fn hint(&self, community_id: i64) {
        self.held
            .hints
            .lock()
            .expect("not poisoned")
            .pending
            .insert(community_id);
        self.doorbell.ring();
    }

    async fn lock(&self, vote: i64) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.held.locks.lock().expect("not poisoned");
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(vote).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The hinted communities whose re-read is due at `now`, and when the next held-back one is.
    fn due_hints(&self, now: Instant, interval: Duration) -> (Vec<i64>, Option<Instant>) {
        let mut hints = self.held.hints.lock().expect("not poisoned");
        let Hints { pending, served_at } = &mut *hints;
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        pending.retain(|community| match served_at.get(community) {
            Some(at) if *at + interval > now => {
                let ready = *at + interval;
                next = Some(next.map_or(ready, |n| n.min(ready)));
                true
            }
            _ => {
                due.push(*community);
                false
            }
        });
        for community in &due {
            served_at.insert(*community, now);
        }
        (due, next)
    }
}

/// The worker's wait after `attempts` failed tries, or the platform's `Retry-After` when longer.
fn retry_wait(config: &VotingConfig, attempts: i64, error: &VotingError) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = Duration::from_millis(config.retry_base_ms)
        .saturating_mul(1 << doublings)
        .min(Duration::from_millis(
            config.retry_max_ms.max(config.retry_base_ms),
        ));
    // A little jitter, so that votes failing together do not retry together.
    let jitter = Duration::from_millis(rand::rng().random_range(0..=base.as_millis() as u64 / 10));
    let asked = match error {
        VotingError::Unavailable { retry_after, .. } => retry_after.unwrap_or_default(),
        _ => Duration::ZERO,
    };
    (base + jitter).max(asked)
}

/// Whether trying the same call again later may succeed.
fn may_pass(error: &VotingError) -> bool {
    matches!(
        error,
        VotingError::Unavailable { .. } | VotingError::Malformed(_)
    )
}

fn reread_interval(config: &VotingConfig) -> Duration {
    Duration::from_secs(config.reread_interval_secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hints_of_a_community_are_served_at_most_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let config = VotingConfig::default();
        let sites = crate::sources::discourse::DiscourseSites::new(&Default::default()).unwrap();
        let backends = Backends::new(store.clone(), sites, &config, Clock::system()).unwrap();
        let snapshots = Arc::new(Snapshots::load(&store).await.unwrap());
        let voting = Votes::new(
            store,
            backends,
            snapshots,
            Clock::system(),
            &config,
            Doorbell::default(),
            Doorbell::default(),
        );
        let interval = Duration::from_secs(2);
        let t0 = Instant::now();
        voting.hint(1);
        voting.hint(1);
        voting.hint(2);
        assert_eq!(voting.due_hints(t0, interval), (vec![1, 2], None));
        voting.hint(1);
        let (due, next) = voting.due_hints(t0 + Duration::from_secs(1), interval);
        assert!(due.is_empty(), "held back");
        assert_eq!(next, Some(t0 + interval));
        assert_eq!(voting.due_hints(t0 + interval, interval).0, vec![1]);
        assert_eq!(
            voting.due_hints(t0 + interval, interval).0,
            Vec::<i64>::new()
        );
    }

    #[test]
    fn retry_waits_double_and_honour_retry_after() {
        let config = VotingConfig {
            retry_base_ms: 1000,
            retry_max_ms: 5000,
            ..VotingConfig::default()
        };
        let down = VotingError::Unavailable {
            detail: "down".into(),
            retry_after: None,
        };
        let within = |attempts, low: u64, high: u64| {
            let wait = retry_wait(&config, attempts, &down).as_millis() as u64;
            assert!((low..=high).contains(&wait), "{attempts}: {wait}");
        };
        within(1, 1000, 1100);
        within(2, 2000, 2200);
        within(9, 5000, 5500);
        let asked = VotingError::Unavailable {
            detail: "slow down".into(),
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(retry_wait(&config, 1, &asked), Duration::from_secs(60));
    }
}
