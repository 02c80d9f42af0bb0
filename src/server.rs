//! The composition root: builds the services from the configuration, starts the workers the
//! configuration turns on, builds the router, serves, and shuts everything down in order, read
//! top to bottom in [`Service::build`] and [`serve`]. The `index` command's wiring is here too.
//! Nothing else in the crate builds a service or spawns a worker.

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{
    Actions, AppError, Backends, Changes, Doorbell, Freshness, Ingest, Job, LoomioHints,
    Reconciler, ReplicaStatus, Scheduler, Snapshots, Votes,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::openpayments::WalletDocuments;
use crate::oracle::{Oracle, OracleError};
use crate::sources::discourse::DiscourseSites;
use crate::store::{Backend, IndexedContract, SingleProcessLock, Store, StoreError, redact_url};
use crate::telemetry::Metrics;
use crate::workers::indexer::{Indexer, IndexerError};
use crate::workers::leases::{KeeperHandle, LeaseKeeper, Starter};
use crate::workers::relayer::{RelayError, Relayer};
use crate::workers::{self, Workers};

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
    /// The workers this replica runs now.
    pub workers: Arc<Workers>,
    /// Who this replica is and which jobs it holds.
    pub status: Arc<ReplicaStatus>,
    /// On PostgreSQL, what takes and keeps this replica's job leases.
    lease_keeper: Mutex<Option<KeeperHandle>>,
    wallet_documents: WalletDocuments,
}

impl Service {
    /// Opens the store, builds the use cases on the system clock, and starts the workers the
    /// configuration turns on.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// As [`Service::build`], on `clock`: tests pass a manual clock to move time themselves.
    /// The chain indexer is left to the test (or the `index` command); [`serve`] runs it too.
    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<Self, StartError> {
        Self::assemble(config, clock, false).await
    }

    async fn assemble(
        config: Config,
        clock: Clock,
        with_indexer: bool,
    ) -> Result<Self, StartError> {
        // The shared parts. A public replica may not change the schema: it waits for one that
        // may.
        let store = if config.role.runs_jobs() {
            Store::connect(&config.database_url).await?
        } else {
            connect_migrated(&config.database_url).await?
        };
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

        // The jobs the configuration turns on, each as a way to start its worker.
        let mut jobs: Vec<(Job, Starter)> = Vec::new();
        if config.ingest.worker {
            let ingest = ingest.clone();
            jobs.push((
                Job::Ingest,
                Box::new(move || workers::ingest(ingest.clone())),
            ));
        } else {
            tracing::warn!("the ingest worker is off: webhook deliveries are stored, not applied");
        }
        if let Some(oracle) = &oracle {
            if config.chain.relayer {
                let sender = Arc::new(Relayer::new(
                    store.clone(),
                    oracle.clone(),
                    &config.chain,
                    &config.oracle.keys,
                    metrics.clone(),
                    clock.clone(),
                )?);
                let bell = relayer.clone();
                jobs.push((
                    Job::Relayer,
                    Box::new(move || sender.clone().start(bell.clone())),
                ));
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
                Doorbell::default(),
            );
            jobs.push((
                Job::Reconciler,
                Box::new(move || workers::reconciler(reconciler.clone())),
            ));
        }
        if let (true, Some(settings)) = (with_indexer, config.indexer.clone()) {
            let (store, metrics, clock) = (store.clone(), metrics.clone(), clock.clone());
            jobs.push((
                Job::Indexer,
                Box::new(move || {
                    workers::indexer::spawn(
                        store.clone(),
                        settings.clone(),
                        Some(metrics.clone()),
                        clock.clone(),
                    )
                }),
            ));
        }
        if config.actions.worker {
            let actions = actions.clone();
            jobs.push((
                Job::Actions,
                Box::new(move || workers::actions(actions.clone())),
            ));
        } else {
            tracing::warn!("the actions worker is off: intended actions are stored, not sent");
        }
        if config.voting.worker {
            let votes = votes.clone();
            jobs.push((Job::Votes, Box::new(move || workers::votes(votes.clone()))));
        } else {
            tracing::warn!(
                "the voting worker is off: votes are not re-read, nor failed starts retried"
            );
        }
        if config.policy.worker {
            let scheduler = scheduler.clone();
            jobs.push((
                Job::Scheduler,
                Box::new(move || workers::scheduler(scheduler.clone())),
            ));
        } else {
            tracing::warn!("the policy scheduler is off: wallet changes open no proposals here");
        }

        // Who runs them: this process on SQLite; on PostgreSQL, whichever replica holds each
        // job's lease. A public replica runs none.
        let workers = Arc::new(Workers::default());
        let status = Arc::new(ReplicaStatus::new(
            config.replicas.replica_id(),
            config.role,
        ));
        let mut lease_keeper = None;
        if !config.role.runs_jobs() {
            tracing::info!("public role: this replica runs no jobs");
        } else if store.backend() == Backend::Postgres {
            let mut keeper = LeaseKeeper::new(
                store.clone(),
                workers.clone(),
                status.clone(),
                metrics.clone(),
                clock.clone(),
                &config.replicas,
            );
            for (job, start) in jobs {
                keeper.offer(job, start);
            }
            keeper.round().await;
            lease_keeper = Some(keeper.start());
        } else {
            for (job, start) in jobs {
                workers.slot(job).hold(start());
                status.hold(job);
            }
        }
        if store.backend() == Backend::Postgres {
            let freshness = Freshness::new(store.clone(), snapshots.clone(), metrics.clone());
            workers.freshness.hold(workers::freshness(
                freshness,
                config.replicas.snapshot_check(),
            ));
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
            workers,
            status,
            lease_keeper: Mutex::new(lease_keeper),
        })
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
            clock: self.clock.clone(),
            status: self.status.clone(),
        }
    }

    /// The whole service's router.
    pub fn router(&self) -> axum::Router {
        http::router(self.http_state())
    }

    /// Stops every worker (releasing this replica's leases), then closes the store.
    pub async fn shut_down(&self) {
        let keeper = self.lease_keeper.lock().expect("not poisoned").take();
        if let Some(keeper) = keeper {
            keeper.stop().await;
        }
        self.workers.stop_all().await;
        self.store.close().await;
    }
}

/// Runs the service until Ctrl-C or SIGTERM, then drains in-flight requests, stops the workers
/// and closes the store.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let addr = config.listen;
    let _only_process = SingleProcessLock::acquire(&config.database_url)?;
    let service = Service::assemble(config, Clock::system(), true).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let stop = shutdown_signal();
    tracing::info!(address = %local, role = service.config.role.as_str(),
        replica = %service.status.id, jobs = ?service.status.held(), "listening");
    http::serve::serve(listener, service.router(), &service.config.http, stop).await;
    service.shut_down().await;
    tracing::info!("stopped");
    Ok(())
}

/// Opens a database another replica migrates, waiting while its schema is behind this build's.
async fn connect_migrated(url: &str) -> Result<Store, StoreError> {
    let mut told = false;
    loop {
        match Store::connect_migrated(url).await {
            Err(e @ StoreError::SchemaBehind { .. }) => {
                if !told {
                    tracing::warn!(error = %e, "waiting for a worker replica to migrate the database");
                    told = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
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
