//! The indexer as a background task of the service (or the `index` command): connects, steps
//! without pause while there is something to read, polls once at the head, backs off when the node
//! or the database fails, and stops when asked. Stopping between steps is always safe: each step
//! commits whole or not at all.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Indexer, Step};
use crate::clock::Clock;
use crate::config::IndexerConfig;
use crate::store::Store;
use crate::telemetry::Metrics;
use crate::workers::Running;

/// Longest wait after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Starts the indexer in the background. A node that cannot be reached at start is retried, so
/// the service starts with or without its chain.
pub fn spawn(
    store: Store,
    config: IndexerConfig,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
) -> Running {
    let (stop, stopped) = watch::channel(false);
    let join = tokio::spawn(async move {
        if let Some(indexer) = connect(store, &config, metrics, stopped.clone()).await {
            let indexer = indexer.with_clock(clock);
            run(indexer, config.poll_interval(), stopped).await;
        }
    });
    Running::signalled(stop, join)
}

async fn connect(
    store: Store,
    config: &IndexerConfig,
    metrics: Option<Arc<Metrics>>,
    mut stopped: watch::Receiver<bool>,
) -> Option<Indexer> {
    let mut failures = 0;
    loop {
        match Indexer::connect(store.clone(), config, metrics.clone()).await {
            Ok(indexer) => {
                tracing::info!(
                    chain_id = indexer.indexed().chain_id,
                    contract = %indexer.indexed().contract,
                    "chain indexer started"
                );
                return Some(indexer);
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "the chain indexer cannot start yet");
            }
        }
        if wait_or_stop(backoff(config.poll_interval(), failures), &mut stopped).await {
            return None;
        }
    }
}

/// Steps until stopped: at once while there is more to read, after `poll` at the head, and after
/// a growing pause on errors.
pub(super) async fn run(mut indexer: Indexer, poll: Duration, mut stopped: watch::Receiver<bool>) {
    let mut failures = 0;
    loop {
        if *stopped.borrow() {
            break;
        }
        let pause = match indexer.step().await {
            Ok(Step::AtHead { .. }) => {
                failures = 0;
                poll
            }
            Ok(_) => {
                failures = 0;
                Duration::ZERO
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, failures, "chain indexer step failed; retrying");
                backoff(poll, failures)
            }
        };
        if !pause.is_zero() && wait_or_stop(pause, &mut stopped).await {
            break;
        }
    }
    tracing::info!("chain indexer stopped");
}

/// Sleeps for `pause`; true if asked to stop meanwhile.
async fn wait_or_stop(pause: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => *stopped.borrow(),
        changed = stopped.changed() => changed.is_err() || *stopped.borrow(),
    }
}

/// The poll interval doubled per failure in a row, up to a minute.
fn backoff(poll: Duration, failures: u32) -> Duration {
    poll.saturating_mul(1 << failures.min(6)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let poll = Duration::from_secs(2);
        assert_eq!(backoff(poll, 1), Duration::from_secs(4));
        assert_eq!(backoff(poll, 3), Duration::from_secs(16));
        assert_eq!(backoff(poll, 30), MAX_BACKOFF);
    }
}
