//! Wiring: opens the store, builds the snapshots, starts the webhook ingest worker, the intended
//! actions worker, the voting worker, the relayer and the HTTP service, and shuts them down
//! cleanly on Ctrl-C or SIGTERM.

pub mod actions;
pub mod backends;
mod index;
pub mod ingest;
pub mod policy;
pub mod reconcile;
mod snapshots;
pub mod voting;
pub mod worker;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::chain::relayer::{Relayer, RelayerHandle};
use crate::config::Config;
use crate::http::{AppState, router};
use crate::openpayments::WalletDocuments;
use crate::oracle::Oracle;
use crate::sources::discourse::DiscourseSites;
use crate::store::{Store, StoreError, redact_url};
use crate::telemetry::Metrics;

pub use actions::Actions;
pub use index::index;
pub use ingest::Ingest;
pub use snapshots::{LiveCommunity, Snapshots};
pub use voting::Voting;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client for wallet documents could not be built.
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
    Oracle(#[from] crate::oracle::OracleError),
    /// The relayer could not be set up.
    #[error("cannot start the relayer: {0}")]
    Relayer(#[from] crate::chain::relayer::RelayError),
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    /// The chain indexer could not start or stopped with an error.
    #[error(transparent)]
    Indexer(#[from] crate::chain::indexer::IndexerError),
}

/// Opens the store and builds everything the routers share; starts the ingest worker unless
/// `ingest.worker` is off, and the actions worker unless `actions.worker` is off.
pub async fn build_state(config: Config) -> Result<AppState, AppError> {
    let store = Store::connect(&config.database_url).await?;
    let snapshots = Snapshots::load(&store).await?;
    let metrics = Metrics::default();
    metrics.communities.set(snapshots.len() as i64);
    tracing::info!(
        database = %redact_url(&config.database_url),
        communities = snapshots.len(),
        "store ready"
    );
    let oracle = if config.oracle.enabled {
        let oracle = Oracle::from_config(&config.oracle)?;
        tracing::info!(signers = ?oracle.addresses(), chain_id = config.oracle.chain_id,
            contract = %config.oracle.contract, "oracle keys loaded");
        Some(Arc::new(oracle))
    } else {
        tracing::warn!("the oracle is off: pool changes are not reported on chain");
        None
    };
    let state = AppState {
        wallet_documents: WalletDocuments::new(&config.monetization)?,
        store,
        snapshots: Arc::new(snapshots),
        metrics: Arc::new(metrics),
        ingest: Arc::new(Ingest::default()),
        oracle,
        relayer: Arc::new(RelayerHandle::default()),
        reconciliation: Arc::default(),
        discourse: DiscourseSites::new(&config.discourse)?,
        actions: Arc::new(Actions::default()),
        voting: Arc::new(Voting::new(&config.voting)?),
        scheduler: Arc::new(policy::Scheduler::default()),
        reconciler: Arc::default(),
        config: Arc::new(config),
    };
    if state.config.ingest.worker {
        ingest::start_worker(state.clone());
    } else {
        tracing::warn!("the ingest worker is off: webhook deliveries are stored, not applied");
    }
    if let Some(oracle) = &state.oracle {
        if state.config.chain.relayer {
            Relayer::new(
                state.store.clone(),
                oracle.clone(),
                &state.config.chain,
                &state.config.oracle.keys,
                state.metrics.clone(),
            )?
            .start(state.relayer.clone());
            tracing::info!("relayer started");
        } else {
            tracing::warn!("the relayer is off: signed reports wait in the outbox");
        }
    }
    if let (Some(oracle), Some(indexer)) = (&state.oracle, &state.config.indexer) {
        let indexed = crate::store::IndexedContract {
            chain_id: oracle.domain().chain_id(),
            contract: indexer.contract,
        };
        reconcile::start(state.clone(), indexed);
    }
    if state.config.actions.worker {
        actions::start_worker(state.clone());
    } else {
        tracing::warn!("the actions worker is off: intended actions are stored, not sent");
    }
    if state.config.voting.worker {
        voting::start_worker(state.clone());
    } else {
        tracing::warn!(
            "the voting worker is off: votes are not re-read, nor failed starts retried"
        );
    }
    if state.config.policy.worker {
        policy::start_worker(state.clone());
    } else {
        tracing::warn!("the policy scheduler is off: wallet changes open no proposals here");
    }
    Ok(state)
}

/// Runs the service until Ctrl-C or SIGTERM, then drains in-flight requests and closes the store.
pub async fn serve(config: Config) -> Result<(), AppError> {
    let addr = config.listen;
    let state = build_state(config).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| AppError::Listen { addr, source })?;
    tracing::info!(address = %local, "listening");
    let store = state.store.clone();
    let ingest = state.ingest.clone();
    let relayer = state.relayer.clone();
    let actions = state.actions.clone();
    let voting = state.voting.clone();
    let indexer = state.config.indexer.clone().map(|config| {
        crate::chain::indexer::spawn(store.clone(), config, Some(state.metrics.clone()))
    });
    let scheduler = state.scheduler.clone();
    let reconciler = state.reconciler.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(AppError::Serve)?;
    ingest.stop().await;
    relayer.stop().await;
    actions.stop().await;
    voting.stop().await;
    if let Some(indexer) = indexer {
        indexer.stop().await;
    }
    scheduler.stop().await;
    reconciler.stop().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
