//! The composition root: builds the services from the configuration, starts the workers the
//! configuration turns on, builds the router, serves, and shuts everything down in order, read
//! top to bottom in [`Service::build`] and [`serve`]. The `index` command's wiring is here too.
//! Nothing else in the crate builds a service or spawns a worker.

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{
    Actions, AppError, Backends, Changes, Doorbell, Ingest, LatestReconciliation, LoomioHints,
    Reconciler, Scheduler, Snapshots, Votes,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::openpayments::WalletDocuments;
use crate::oracle::{Oracle, OracleError};
use crate::sources::discourse::DiscourseSites;
use crate::store::{IndexedContract, Store, StoreError, redact_url};
use crate::telemetry::Metrics;
use crate::workers::indexer::{Indexer, IndexerError, IndexerTask};
use crate::workers::relayer::{RelayError, Relayer};
use crate::workers::{self, Running};

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A use case failed while starting.
    #[error(transparent)]
    App(#[from] AppError),
    /// An HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The oracle's keys could not be loaded.
    #[error("cannot start the oracle: {0}")]
    Oracle(#[from] OracleError),
    /// The relayer could not be set up.
    #[error("cannot start the relayer: {0}")]
    Relayer(#[from] RelayError),
    /// The chain indexer could not start or stopped with an error.
    #[error(transparent)]
    Indexer(#[from] IndexerError),
}

/// A worker that may be running, for shutdown (and for tests that stop one).
#[derive(Default)]
pub struct WorkerSlot(Mutex<Option<Running>>);

impl WorkerSlot {
    fn hold(&self, running: Running) {
        *self.0.lock().expect("not poisoned") = Some(running);
    }

    fn take(&self) -> Option<Running> {
        self.0.lock().expect("not poisoned").take()
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

/// The workers the configuration turned on.
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
    indexer: Mutex<Option<IndexerTask>>,
}

impl Workers {
    /// Stops every worker: those whose steps are safe to cut short at once, the others after
    /// their current step.
    pub async fn stop_all(&self) {
        self.ingest.stop().await;
        self.relayer.stop().await;
        self.actions.stop().await;
        self.votes.abort().await;
        let indexer = self.indexer.lock().expect("not poisoned").take();
        if let Some(indexer) = indexer {
            indexer.stop().await;
        }
        self.scheduler.abort().await;
        self.reconciler.stop().await;
    }
}

/// The service: its shared parts, its use cases and its running workers.
pub struct Service {
    /// The configuration it started with.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// The live selection snapshots.
    pub snapshots: Arc<Snapshots>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The oracle that signs a report of every pool change, when enabled.
    pub oracle: Option<Arc<Oracle>>,
    /// The one clock of the use cases.
    pub clock: Clock,
    /// Configuration changes.
    pub changes: Changes,
    /// Applying webhook deliveries.
    pub ingest: Ingest,
    /// Intended platform actions.
    pub actions: Actions,
    /// The voting backends of every community.
    pub backends: Backends,
    /// The standard voting API.
    pub votes: Votes,
    /// Loomio's hints, rate-limited per community.
    pub loomio_hints: LoomioHints,
    /// The policy scheduler.
    pub scheduler: Scheduler,
    /// The relayer's doorbell, rung after each signed report.
    pub relayer: Doorbell,
    /// The last reconciliation, when the oracle and an indexer run.
    pub reconciliation: LatestReconciliation,
    /// The workers this service started.
    pub workers: Workers,
    wallet_documents: WalletDocuments,
}

impl Service {
    /// Opens the store, builds the use cases on the system clock, and starts the workers the
    /// configuration turns on.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// As [`Service::build`], on `clock`: tests pass a manual clock to move time themselves.
    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<Self, StartError> {
        // The shared parts.
        let store = Store::connect(&config.database_url).await?;
        let snapshots = Arc::new(Snapshots::load(&store).await?);
        let metrics = Arc::new(Metrics::default());
        metrics.communities.set(snapshots.len() as i64);
        tracing::info!(
            database = %redact_url(&config.database_url),
            communities = snapshots.len(),
            "store ready"
        );
        if config.admin_token.is_none() {
            tracing::warn!("no admin token is configured: the admin API answers 403 to everyone");
        }
        let oracle = if config.oracle.enabled {
            let oracle = Oracle::from_config(&config.oracle)?;
            tracing::info!(signers = ?oracle.addresses(), chain_id = config.oracle.chain_id,
                contract = %config.oracle.contract, "oracle keys loaded");
            Some(Arc::new(oracle))
        } else {
            tracing::warn!("the oracle is off: pool changes are not reported on chain");
            None
        };
        let discourse = DiscourseSites::new(&config.discourse)?;

        // The doorbells, so each use case can wake the workers it feeds.
        let relayer = Doorbell::default();
        let scheduler_bell = Doorbell::default();

        // The use cases.
        let changes = Changes::new(
            store.clone(),
            snapshots.clone(),
            metrics.clone(),
            oracle.clone(),
            relayer.clone(),
        );
        let ingest = Ingest::new(
            store.clone(),
            changes.clone(),
            clock.clone(),
            &config.ingest,
            Doorbell::default(),
            scheduler_bell.clone(),
        );
        let actions = Actions::new(
            store.clone(),
            discourse.clone(),
            clock.clone(),
            &config.actions,
            Doorbell::default(),
        );
        let backends = Backends::new(store.clone(), discourse, &config.voting, clock.clone())?;
        let votes = Votes::new(
            store.clone(),
            backends.clone(),
            snapshots.clone(),
            clock.clone(),
            &config.voting,
            Doorbell::default(),
            scheduler_bell.clone(),
        );
        let scheduler = Scheduler::new(
            store.clone(),
            snapshots.clone(),
            metrics.clone(),
            changes.clone(),
            actions.clone(),
            votes.clone(),
            backends.clone(),
            clock.clone(),
            &config.policy,
            scheduler_bell,
        );
        let loomio_hints = LoomioHints::new(
            store.clone(),
            votes.clone(),
            clock.clone(),
            config.ingest.loomio_hints_per_minute,
        );
        let reconciliation = LatestReconciliation::default();

        // The workers the configuration turns on.
        let workers = Workers::default();
        if config.ingest.worker {
            workers.ingest.hold(workers::ingest(ingest.clone()));
        } else {
            tracing::warn!("the ingest worker is off: webhook deliveries are stored, not applied");
        }
        if let Some(oracle) = &oracle {
            if config.chain.relayer {
                let sender = Relayer::new(
                    store.clone(),
                    oracle.clone(),
                    &config.chain,
                    &config.oracle.keys,
                    metrics.clone(),
                    clock.clone(),
                )?;
                workers.relayer.hold(sender.start(relayer.clone()));
                tracing::info!("relayer started");
            } else {
                tracing::warn!("the relayer is off: signed reports wait in the outbox");
            }
        }
        if let (Some(oracle), Some(indexer)) = (&oracle, &config.indexer) {
            let indexed = IndexedContract {
                chain_id: oracle.domain().chain_id(),
                contract: indexer.contract,
            };
            let reconciler = Reconciler::new(
                store.clone(),
                metrics.clone(),
                oracle.clone(),
                indexed,
                &config.chain,
                clock.clone(),
                reconciliation.clone(),
                Doorbell::default(),
            );
            workers.reconciler.hold(workers::reconciler(reconciler));
        }
        if config.actions.worker {
            workers.actions.hold(workers::actions(actions.clone()));
        } else {
            tracing::warn!("the actions worker is off: intended actions are stored, not sent");
        }
        if config.voting.worker {
            workers.votes.hold(workers::votes(votes.clone()));
        } else {
            tracing::warn!(
                "the voting worker is off: votes are not re-read, nor failed starts retried"
            );
        }
        if config.policy.worker {
            workers
                .scheduler
                .hold(workers::scheduler(scheduler.clone()));
        } else {
            tracing::warn!("the policy scheduler is off: wallet changes open no proposals here");
        }

        Ok(Service {
            wallet_documents: WalletDocuments::new(&config.monetization)?,
            config: Arc::new(config),
            store,
            snapshots,
            metrics,
            oracle,
            clock,
            changes,
            ingest,
            actions,
            backends,
            votes,
            loomio_hints,
            scheduler,
            relayer,
            reconciliation,
            workers,
        })
    }

    /// Starts the chain indexer when the configuration has an `[indexer]` section.
    pub fn start_indexer(&self) {
        if let Some(config) = self.config.indexer.clone() {
            let task = crate::workers::indexer::spawn(
                self.store.clone(),
                config,
                Some(self.metrics.clone()),
                self.clock.clone(),
            );
            *self.workers.indexer.lock().expect("not poisoned") = Some(task);
        }
    }

    /// The HTTP routers' state: what the handlers may use.
    pub fn http_state(&self) -> AppState {
        AppState {
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
            metrics: self.metrics.clone(),
            config: self.config.clone(),
            wallet_documents: self.wallet_documents.clone(),
            oracle: self.oracle.clone(),
            changes: self.changes.clone(),
            votes: self.votes.clone(),
            loomio_hints: self.loomio_hints.clone(),
            scheduler: self.scheduler.clone(),
            discourse: self.backends.discourse().clone(),
            ingest: self.ingest.doorbell().clone(),
            relayer: self.relayer.clone(),
            reconciliation: self.reconciliation.clone(),
            clock: self.clock.clone(),
        }
    }

    /// The whole service's router.
    pub fn router(&self) -> axum::Router {
        http::router(self.http_state())
    }

    /// Stops every worker, then closes the store.
    pub async fn shut_down(&self) {
        self.workers.stop_all().await;
        self.store.close().await;
    }
}

/// Runs the service until Ctrl-C or SIGTERM, then drains in-flight requests, stops the workers
/// and closes the store.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let addr = config.listen;
    let service = Service::build(config).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let stop = shutdown_signal();
    tracing::info!(address = %local, "listening");
    service.start_indexer();
    http::serve::serve(listener, service.router(), &service.config.http, stop).await;
    service.shut_down().await;
    tracing::info!("stopped");
    Ok(())
}

/// The `index` command: the chain indexer on its own, without the HTTP service, until Ctrl-C or
/// SIGTERM (or, with `once`, until it has caught up with the head). Operators use it to backfill
/// before starting the service; tests use it to kill an indexer mid-batch.
pub async fn index(config: Config, once: bool) -> Result<(), StartError> {
    let settings = config.indexer.clone().ok_or_else(|| {
        IndexerError::Config(
            "no [indexer] section: give rpc_url, contract and deployment_block".into(),
        )
    })?;
    let store = Store::connect(&config.database_url).await?;
    tracing::info!(database = %redact_url(&config.database_url), "store ready");
    let mut indexer = Indexer::connect(store.clone(), &settings, None).await?;
    if once {
        let head = indexer.sync_to_head().await?;
        tracing::info!(head, "caught up with the head");
    } else {
        let (stop, stopped) = watch::channel(false);
        let signal = shutdown_signal();
        tokio::spawn(async move {
            signal.await;
            let _ = stop.send(true);
        });
        indexer.run(settings.poll_interval(), stopped).await;
    }
    store.close().await;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a signal that arrives right after the service says it listens must
/// stop it gracefully, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = signals;
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            let terminated = async {
                match terminate.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = interrupted => {},
                () = terminated => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}
