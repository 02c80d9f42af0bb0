//! The chain indexer: follows the RevShare contract's report events from its deployment block,
//! stores each with its block, transaction and log index, marks it confirmed once it is deep
//! enough, and undoes what orphaned blocks wrote when the chain reorganises.
//!
//! One [`Indexer::step`] does one of: roll back after a reorg, read one batch of blocks, or note
//! that it is at the head. A batch's events, the headers kept for reorg detection and the moved
//! cursor commit in one transaction, so a crash at any point leaves the index as it was after
//! the last whole batch, and the next start resumes there. Reorgs are found by comparing the
//! cursor block's stored hash with the node's, then searching the kept headers for the last
//! block both still agree on. The pure parts (window, confirmations, the read's consistency)
//! are in [`window`]; the node is read through alloy's HTTP provider.

mod task;
pub mod window;

use std::sync::Arc;

use alloy::eips::BlockNumberOrTag;
use alloy::providers::{DynProvider, Provider};
use futures_util::{StreamExt, TryStreamExt, stream};
use secrecy::ExposeSecret;

use crate::chain::events::{EventError, decode_all};
use crate::chain::logs::report_logs;
use crate::chain::range::LogRange;
use crate::chain::rpc::{RpcFailure, chain_id, http_provider};
use crate::clock::Clock;
use crate::config::IndexerConfig;
use crate::store::{BlockHeader, IndexBatch, IndexCursor, IndexedContract, Store, StoreError};
use crate::telemetry::Metrics;

pub use task::spawn;
pub use window::Race;

/// Headers fetched at once when reading the reorg window.
const HEADER_CONCURRENCY: usize = 8;

/// Why the indexer could not go on.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// The configuration cannot work.
    #[error("indexer configuration: {0}")]
    Config(String),
    /// The node failed or answered something unusable.
    #[error(transparent)]
    Rpc(#[from] RpcFailure),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A log of the contract could not be read as its event.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The chain reorganised below every block the index kept a hash of: which of its rows are
    /// still canonical cannot be told. Raise `reorg_window`, or start a new index.
    #[error(
        "the chain reorganised below block {oldest_kept}, the oldest block kept (reorg window \
         {window}); the index cannot tell what is still canonical"
    )]
    ReorgBeyondWindow {
        /// The oldest block whose hash was kept.
        oldest_kept: u64,
        /// The configured window.
        window: u64,
    },
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Read blocks `from..=to` and stored their `events`.
    Read {
        /// First block read.
        from: u64,
        /// Last block read.
        to: u64,
        /// Report events stored.
        events: usize,
    },
    /// Undid the blocks above `fork` (all of them with `None`) after a reorg.
    RolledBack {
        /// The last block still canonical; `None` when the index starts over.
        fork: Option<u64>,
        /// The cursor's block before.
        from: u64,
        /// Events of orphaned blocks deleted.
        events: u64,
    },
    /// The chain changed during the read; nothing was written and the next step reads again.
    Raced(Race),
    /// Nothing new: the cursor is at the head.
    AtHead {
        /// The head.
        head: u64,
    },
}

/// Follows one contract on one chain into the store.
pub struct Indexer {
    provider: DynProvider,
    store: Store,
    indexed: IndexedContract,
    deployment_block: u64,
    confirmations: u64,
    window: u64,
    range: LogRange,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
}

impl Indexer {
    /// Checks the configuration and asks the node for its chain id, which keys the index.
    pub async fn connect(
        store: Store,
        config: &IndexerConfig,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Self, IndexerError> {
        if config.batch_size == 0 {
            return Err(IndexerError::Config("batch_size must be at least 1".into()));
        }
        if config.confirmations == 0 {
            return Err(IndexerError::Config(
                "confirmations must be at least 1 (a block confirms itself)".into(),
            ));
        }
        if config.reorg_window < config.confirmations {
            return Err(IndexerError::Config(format!(
                "reorg_window ({}) must be at least confirmations ({}): a confirmed report \
                 must stay within reach of a rollback",
                config.reorg_window, config.confirmations
            )));
        }
        let provider = http_provider(config.rpc_url.expose_secret())?;
        let chain_id = chain_id(&provider).await?;
        Ok(Indexer {
            provider,
            store,
            indexed: IndexedContract {
                chain_id,
                contract: config.contract,
            },
            deployment_block: config.deployment_block,
            confirmations: config.confirmations,
            window: config.reorg_window,
            range: LogRange::new(config.batch_size),
            metrics,
            clock: Clock::system(),
        })
    }

    /// The same indexer, recording times from `clock` (the service's one clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The contract and chain this indexer writes the index of.
    pub fn indexed(&self) -> IndexedContract {
        self.indexed
    }

    /// Steps until stopped: at once while there is more to read, after `poll` at the head, after a
    /// growing pause when the node or the database fails.
    pub async fn run(self, poll: std::time::Duration, stopped: tokio::sync::watch::Receiver<bool>) {
        task::run(self, poll, stopped).await;
    }

    /// Steps until the cursor is at the head the node reported; returns that head.
    pub async fn sync_to_head(&mut self) -> Result<u64, IndexerError> {
        loop {
            if let Step::AtHead { head } = self.step().await? {
                return Ok(head);
            }
        }
    }

    /// One step: a rollback, a batch, or nothing (see [`Step`]).
    pub async fn step(&mut self) -> Result<Step, IndexerError> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| RpcFailure::of("eth_blockNumber", &e))?;
        if let Some(metrics) = &self.metrics {
            metrics.chain_head.set(gauge(head));
        }
        let cursor = self.store.chain_cursor(&self.indexed).await?;
        if let Some(cursor) = cursor
            && !self.is_canonical(cursor.block, cursor.hash, head).await?
        {
            return self.roll_back(cursor, head).await;
        }
        let from = cursor.map_or(self.deployment_block, |c| c.block + 1);
        if from > head {
            return Ok(Step::AtHead { head });
        }
        self.read(cursor, from, head).await
    }

    /// Reads one batch from `from` and writes it, unless the chain moved meanwhile.
    async fn read(
        &mut self,
        cursor: Option<IndexCursor>,
        from: u64,
        head: u64,
    ) -> Result<Step, IndexerError> {
        // Headers first, logs second: a log from a newer fork then shows as a hash mismatch.
        let planned = self.range.end(from, head);
        let first_kept = window::window_start(head, self.window).max(from);
        let mut headers = if first_kept <= planned {
            self.headers(first_kept..=planned).await?
        } else {
            Vec::new()
        };
        let (to, logs) = report_logs(
            &self.provider,
            self.indexed.contract,
            from,
            planned,
            &mut self.range,
        )
        .await?;
        headers.retain(|h| h.number <= to);
        if headers.last().is_none_or(|h| h.number != to) {
            headers.push(self.header(to).await?);
        }
        let events = decode_all(&logs)?;
        if let Err(race) = window::check_read(cursor.map(|c| (c.block, c.hash)), &headers, &events)
        {
            tracing::info!(%race, from, to, "the chain moved during the read; reading again");
            return Ok(Step::Raced(race));
        }
        let batch = IndexBatch {
            events: &events,
            headers: &headers,
            head,
            confirmed_through: window::confirmed_through(head, self.confirmations),
            forget_below: window::window_start(to, self.window),
            at: self.clock.now(),
        };
        self.store
            .record_chain_batch(&self.indexed, cursor.map(|c| c.block), &batch)
            .await?;
        if let Some(metrics) = &self.metrics {
            metrics.chain_indexed_block.set(gauge(to));
            metrics.chain_indexed_events.inc_by(events.len() as u64);
        }
        tracing::debug!(from, to, events = events.len(), "indexed");
        Ok(Step::Read {
            from,
            to,
            events: events.len(),
        })
    }

    /// Finds the last kept block that is still canonical and rolls the index back to it.
    async fn roll_back(&mut self, cursor: IndexCursor, head: u64) -> Result<Step, IndexerError> {
        let kept = self.store.chain_headers(&self.indexed).await?;
        // Kept headers form one chain, so "still canonical" holds for a prefix of them: find
        // where it ends by bisection.
        let (mut low, mut high) = (0, kept.len());
        while low < high {
            let mid = (low + high) / 2;
            if self
                .is_canonical(kept[mid].number, kept[mid].hash, head)
                .await?
            {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let fork = low.checked_sub(1).map(|i| kept[i]);
        if fork.is_none()
            && let Some(oldest) = kept.first()
            && oldest.number > self.deployment_block
        {
            return Err(IndexerError::ReorgBeyondWindow {
                oldest_kept: oldest.number,
                window: self.window,
            });
        }
        let rolled = self
            .store
            .roll_back_chain(&self.indexed, cursor.block, fork.as_ref(), self.clock.now())
            .await?;
        let fork_number = fork.map(|f| f.number);
        let depth =
            cursor.block - fork_number.map_or(self.deployment_block.saturating_sub(1), |n| n);
        tracing::warn!(
            depth,
            from = cursor.block,
            fork = ?fork_number,
            removed = rolled.events,
            "chain reorganisation: rolled back the orphaned blocks; reading again"
        );
        if let Some(metrics) = &self.metrics {
            metrics.chain_reorgs.inc();
            metrics
                .chain_indexed_block
                .set(gauge(fork_number.unwrap_or_default()));
        }
        Ok(Step::RolledBack {
            fork: fork_number,
            from: cursor.block,
            events: rolled.events,
        })
    }

    /// Whether block `number` of the canonical chain (as the node now has it) has `hash`.
    async fn is_canonical(
        &self,
        number: u64,
        hash: alloy_primitives::B256,
        head: u64,
    ) -> Result<bool, IndexerError> {
        if number > head {
            return Ok(false);
        }
        Ok(self.header(number).await?.hash == hash)
    }

    async fn header(&self, number: u64) -> Result<BlockHeader, IndexerError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| RpcFailure::of("eth_getBlockByNumber", &e))?
            .ok_or_else(|| {
                RpcFailure::unusable(
                    "eth_getBlockByNumber",
                    format!("block {number} is missing though the head is past it"),
                )
            })?;
        Ok(BlockHeader {
            number: block.header.number,
            hash: block.header.hash,
            parent_hash: block.header.parent_hash,
        })
    }

    async fn headers(
        &self,
        numbers: std::ops::RangeInclusive<u64>,
    ) -> Result<Vec<BlockHeader>, IndexerError> {
        stream::iter(numbers)
            .map(|number| self.header(number))
            .buffered(HEADER_CONCURRENCY)
            .try_collect()
            .await
    }
}

fn gauge(block: u64) -> i64 {
    i64::try_from(block).unwrap_or(i64::MAX)
}
