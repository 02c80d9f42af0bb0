//! The standard voting API's actions and its worker.
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};
use tokio::task::JoinHandle;

use super::backends::{Registered, RegistryError, voting_backend};
use super::snapshots::LiveCommunity;
use crate::config::VotingConfig;
use crate::domain::Timestamp;
use crate::http::AppState;
use crate::sources::loomio;
use crate::store::{NewVote, ReadingOutcome, StoreError, VoteRecord};
use crate::voting::intent::IntentMarker;
use crate::voting::lifecycle::Lifecycle;
use crate::voting::{VoteRequest, VotingError};

/// Votes handled per store query of a pass.
const BATCH: i64 = 100;

/// Shortest sleep of the worker between passes, so that a vote that cannot move never makes it
/// spin.
const MIN_SLEEP: Duration = Duration::from_millis(20);

/// How long the worker waits after a database error.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// The voting worker's controls and the HTTP client of every platform API.
pub struct Voting {
    http: reqwest::Client,
    wake: Notify,
    hints: std::sync::Mutex<Hints>,
    stopping: AtomicBool,
    /// One pass at a time: the worker's and any caller of [`run_pass`].
    pass: Mutex<()>,
    locks: std::sync::Mutex<HashMap<i64, Arc<Mutex<()>>>>,
    worker: std::sync::Mutex<Option<JoinHandle<()>>>,
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

/// Why a start or a close was not attempted.
#[derive(Debug, thiserror::Error)]
pub enum VoteActionError {
    /// The backend is unknown or not configured.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The backend cannot start this request.
    #[error("{0}")]
    Invalid(String),
    /// The community has no such vote.
    #[error("no vote {0}")]
    UnknownVote(i64),
    /// The vote never started, so there is nothing to close.
    #[error("vote {id} is {state}: there is nothing to close")]
    Ended {
        /// The vote.
        id: i64,
        /// Its state.
        state: Lifecycle,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

fn after(at: Timestamp, wait: Duration) -> Timestamp {
    Timestamp(at.0.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)))
}

impl Voting {
    /// The controls, with an HTTP client that has the configured timeouts.
    pub fn new(config: &VotingConfig) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_millis(config.request_timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("revshare-oracle/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Voting {
            http,
            wake: Notify::new(),
            hints: std::sync::Mutex::default(),
            stopping: AtomicBool::new(false),
            pass: Mutex::new(()),
            locks: std::sync::Mutex::default(),
            worker: std::sync::Mutex::new(None),
        })
    }

    /// The HTTP client every platform API client shares.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A platform said something changed in a community: its open votes on that platform are
    /// re-read soon. A hint carries no data, so a forged one costs a re-read and nothing else.
    pub fn hint(&self, community_id: i64) {
        self.hints
            .lock()
            .expect("not poisoned")
            .pending
            .insert(community_id);
        self.wake.notify_one();
    }

    /// Stops the worker. Aborting it mid-call is safe: an intent stays stored and its marker
    /// finds a start that reached the platform, state changes are transactional, and a close
    /// can be sent twice.
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let handle = self.worker.lock().expect("not poisoned").take();
        if let Some(handle) = handle {
            handle.abort();
            let _ = handle.await;
        }
    }

    async fn lock(&self, vote: i64) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().expect("not poisoned");
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(vote).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The hinted communities whose re-read is due at `now`, and when the next held-back one is.
    fn due_hints(&self, now: Instant, interval: Duration) -> (Vec<i64>, Option<Instant>) {
        let mut hints = self.hints.lock().expect("not poisoned");
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

/// Starts a vote: checks it, stores the intent, then asks the platform once (with the client's
/// own retries). A failure that may pass leaves the vote `starting` for the worker.
pub async fn start(
    state: &AppState,
    community: &LiveCommunity,
    backend: &str,
    request: VoteRequest,
) -> Result<Outcome, VoteActionError> {
    let registered = voting_backend(state, community.id, backend).await?;
    let at = now();
    (registered.check)(&request, at).map_err(VoteActionError::Invalid)?;
    let intent_key = format!("{:016x}", rand::rng().random::<u64>());
    let config = &state.config.voting;
    // While this call holds the vote, the worker leaves it alone; should the process die
    // mid-call, the worker takes it up once this lease runs out.
    let lease = Duration::from_millis(config.request_timeout_ms)
        .saturating_mul(config.call_attempts.max(1))
        + Duration::from_secs(config.max_retry_after_secs);
    let vote = state
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
    let _guard = state.voting.lock(vote.id).await;
    Ok(attempt_start(state, &registered, vote, community.community.slug.as_str()).await?)
}

async fn reload(state: &AppState, vote: &VoteRecord) -> Result<VoteRecord, StoreError> {
    state
        .store
        .vote(vote.community_id, vote.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("vote {} vanished", vote.id)))
}

async fn attempt_start(
    state: &AppState,
    registered: &Registered,
    vote: VoteRecord,
    community: &str,
) -> Result<Outcome, StoreError> {
    let marker = IntentMarker::new(community, vote.id, &vote.intent_key);
    let request = VoteRequest {
        details: marker.append_to(&vote.request.details),
        ..vote.request.clone()
    };
    let result = registered.backend.start(&request).await;
    let at = now();
    let error = match result {
        Ok(handle) => {
            state.store.mark_started(vote.id, &handle, at, at).await?;
            tracing::info!(vote = vote.id, external_id = %handle.external_id, "vote started");
            state.voting.wake.notify_one();
            None
        }
        Err(e) if may_pass(&e) => {
            let wait = retry_wait(&state.config.voting, vote.attempts + 1, &e);
            tracing::warn!(vote = vote.id, error = %e, retry_in_ms = wait.as_millis() as u64, "starting the vote failed; it will be retried");
            state
                .store
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
            state.store.mark_failed(vote.id, &e.to_string(), at).await?;
            Some(e)
        }
    };
    Ok(Outcome {
        vote: reload(state, &vote).await?,
        error,
    })
}

/// Closes a vote: a vote not started yet is cancelled; an open one is closed on its platform
/// and read at once; a close the platform could not take now is retried by the worker.
pub async fn close(
    state: &AppState,
    community: &LiveCommunity,
    id: i64,
) -> Result<Outcome, VoteActionError> {
    let _guard = state.voting.lock(id).await;
    let vote = state
        .store
        .vote(community.id, id)
        .await?
        .ok_or(VoteActionError::UnknownVote(id))?;
    match vote.state {
        Lifecycle::Starting => {
            state.store.mark_cancelled(id, now()).await?;
            tracing::info!(vote = id, "vote cancelled before it started");
            Ok(Outcome {
                vote: reload(state, &vote).await?,
                error: None,
            })
        }
        Lifecycle::Open => {
            let registered = voting_backend(state, community.id, &vote.backend).await?;
            Ok(attempt_close(state, &registered, vote).await?)
        }
        Lifecycle::Closing if vote.close_sent_at.is_none() => {
            let registered = voting_backend(state, community.id, &vote.backend).await?;
            Ok(attempt_close(state, &registered, vote).await?)
        }
        Lifecycle::Closing | Lifecycle::Closed => Ok(Outcome { vote, error: None }),
        Lifecycle::Failed | Lifecycle::Cancelled => Err(VoteActionError::Ended {
            id,
            state: vote.state,
        }),
    }
}

async fn attempt_close(
    state: &AppState,
    registered: &Registered,
    vote: VoteRecord,
) -> Result<Outcome, StoreError> {
    let external_id = vote.external_id.clone().ok_or_else(|| {
        StoreError::Corrupt(format!(
            "vote {} is {} without a platform id",
            vote.id, vote.state
        ))
    })?;
    let result = registered.backend.close(&external_id).await;
    let at = now();
    let error = match result {
        Ok(()) => {
            if vote.state == Lifecycle::Open {
                state
                    .store
                    .mark_closing(vote.id, true, None, at, at)
                    .await?;
            } else {
                state.store.mark_close_sent(vote.id, at).await?;
            }
            tracing::info!(vote = vote.id, "close accepted by the platform");
            let closing = reload(state, &vote).await?;
            // A platform that closes at once shows it now; one that closes later is re-read.
            read(state, registered, &closing).await?;
            None
        }
        Err(e) => {
            let wait = retry_wait(&state.config.voting, vote.attempts + 1, &e);
            let next = after(at, wait);
            match vote.state {
                Lifecycle::Open if may_pass(&e) => {
                    state
                        .store
                        .mark_closing(vote.id, false, Some(&e.to_string()), next, at)
                        .await?;
                }
                Lifecycle::Open => {}
                _ => {
                    state
                        .store
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
        vote: reload(state, &vote).await?,
        error,
    })
}

/// Reads a live vote and records what changed.
async fn read(
    state: &AppState,
    registered: &Registered,
    vote: &VoteRecord,
) -> Result<(), StoreError> {
    let Some(external_id) = vote.external_id.as_deref() else {
        return Ok(());
    };
    let interval = reread_interval(&state.config.voting);
    let result = registered.backend.status(external_id).await;
    let at = now();
    match result {
        Ok(status) => {
            let outcome = state
                .store
                .record_reading(vote.id, &status, at, after(at, interval))
                .await?;
            match outcome {
                ReadingOutcome::Closed { reading } => {
                    tracing::info!(vote = vote.id, reading, "vote closed; its evidence is kept");
                }
                ReadingOutcome::Appended { reading } => {
                    tracing::debug!(vote = vote.id, reading, "vote changed");
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
            state
                .store
                .record_failed_read(vote.id, &e.to_string(), after(at, wait), at)
                .await?;
        }
    }
    Ok(())
}

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
            if state.voting.stopping.load(Ordering::SeqCst) {
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
        while !state.voting.stopping.load(Ordering::SeqCst) {
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
                () = state.voting.wake.notified() => {},
            }
        }
    });
    *voting.worker.lock().expect("not poisoned") = Some(handle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_of_a_community_are_served_at_most_once_per_interval() {
        let voting = Voting::new(&VotingConfig::default()).unwrap();
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
