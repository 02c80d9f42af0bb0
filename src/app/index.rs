//! The `index` command: the chain indexer on its own, without the HTTP service, until Ctrl-C or
//! SIGTERM (or, with `once`, until it has caught up with the head). Operators use it to backfill
//! before starting the service; tests use it to kill an indexer mid-batch.

use tokio::sync::watch;

use super::{AppError, shutdown_signal};
use crate::chain::indexer::{Indexer, IndexerError};
use crate::config::Config;
use crate::store::{Store, redact_url};

/// Opens the store, connects to the node, and indexes; `once` stops at the head.
pub async fn index(config: Config, once: bool) -> Result<(), AppError> {
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
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        indexer.run(settings.poll_interval(), stopped).await;
    }
    store.close().await;
    Ok(())
}
