//! Wiring: opens the store, builds the snapshots, starts the webhook ingest worker, the voting
//! worker and the HTTP service, and shuts them down cleanly on Ctrl-C or SIGTERM.

pub mod backends;
pub mod ingest;
mod snapshots;
pub mod voting;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{AppState, router};
use crate::openpayments::WalletDocuments;
use crate::store::{Store, StoreError, redact_url};
use crate::telemetry::Metrics;

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
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Opens the store and builds everything the routers share; starts the ingest worker unless
/// `ingest.worker` is off.
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
    let state = AppState {
        wallet_documents: WalletDocuments::new(&config.monetization)?,
        store,
        snapshots: Arc::new(snapshots),
        metrics: Arc::new(metrics),
        ingest: Arc::new(Ingest::default()),
        voting: Arc::new(Voting::new(&config.voting)?),
        config: Arc::new(config),
    };
    if state.config.ingest.worker {
        ingest::start_worker(state.clone());
    } else {
        tracing::warn!("the ingest worker is off: webhook deliveries are stored, not applied");
    }
    if state.config.voting.worker {
        voting::start_worker(state.clone());
    } else {
        tracing::warn!(
            "the voting worker is off: votes are not re-read, nor failed starts retried"
        );
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
    let voting = state.voting.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(AppError::Serve)?;
    ingest.stop().await;
    voting.stop().await;
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
