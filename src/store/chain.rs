//! The chain index: the RevShare contract's report events as the indexer read them, the recent
//! block hashes it checks for reorgs, and its cursor. A batch of events, the blocks it covers and
//! the cursor that says so commit in one transaction, so the index never holds half a batch and
//! resumes exactly where it stopped; a rollback after a reorg is one transaction too.
//!
//! Hashes and addresses are stored as `0x` lower-case hex, reports as the hex of their ABI
//! encoding (exactly what the contract emitted), so nothing is lost and rows stay readable.

use alloy_primitives::{Address, B256, hex};
use sqlx::{Any, Row, Transaction};

use super::chain_rows::{event_from_row, insert_events, insert_headers};
use super::{Store, StoreError, corrupt, is_unique_violation};
use crate::chain::events::ContractEvent;
use crate::domain::Timestamp;
use crate::report::{Digest, PoolId};

/// Which contract on which chain an index is of; one database can index several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexedContract {
    /// The chain's id (EIP-155).
    pub chain_id: u64,
    /// The RevShare contract's address.
    pub contract: Address,
}

/// A block as the indexer keeps it to detect reorgs: its hash, and its parent's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockHeader {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its parent's hash.
    pub parent_hash: B256,
}

/// How far an index has read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexCursor {
    /// Every block up to this one (number and hash) has been read.
    pub block: u64,
    /// That block's hash when it was read.
    pub hash: B256,
    /// The chain's head when the index last read.
    pub head: u64,
}

/// Whether an indexed event is deep enough to count on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Confirmation {
    /// In a block of the canonical chain as last read, not yet under the confirmation depth.
    Seen,
    /// Under at least the configured number of blocks.
    Confirmed,
}

impl Confirmation {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Confirmation::Seen => "seen",
            Confirmation::Confirmed => "confirmed",
        }
    }
}

/// An event of the index with its confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedEvent {
    /// The event, where it was emitted.
    pub event: ContractEvent,
    /// Seen or confirmed.
    pub confirmation: Confirmation,
}

/// What one read of the indexer adds, all in one transaction.
#[derive(Clone, Copy, Debug)]
pub struct IndexBatch<'a> {
    /// The report events of the blocks read, in chain order.
    pub events: &'a [ContractEvent],
    /// The blocks to keep for reorg detection, ascending; the last is the new cursor.
    pub headers: &'a [BlockHeader],
    /// The chain's head when the blocks were read.
    pub head: u64,
    /// Events in blocks up to this one become confirmed.
    pub confirmed_through: Option<u64>,
    /// Kept blocks below this one are forgotten (they are beyond the reorg window).
    pub forget_below: u64,
    /// When the batch is written.
    pub at: Timestamp,
}

/// What a rollback removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolledBack {
    /// Events of orphaned blocks deleted.
    pub events: u64,
}

const EVENT_COLUMNS: &str = "block_number, log_index, block_hash, tx_hash, kind, seq, digest, \
                             epoch, signer_bitmap, report, root, signatures, status";

impl Store {
    /// The index's cursor; `None` before its first batch.
    pub async fn chain_cursor(
        &self,
        indexed: &IndexedContract,
    ) -> Result<Option<IndexCursor>, StoreError> {
        let row = sqlx::query(
            "SELECT block_number, block_hash, head_number FROM chain_cursors \
             WHERE chain_id = $1 AND contract = $2",
        )
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(IndexCursor {
                block: from_i64(row.try_get("block_number")?)?,
                hash: parse_b256(&row.try_get::<String, _>("block_hash")?)?,
                head: from_i64(row.try_get("head_number")?)?,
            })
        })
        .transpose()
    }

    /// The blocks kept for reorg detection, ascending.
    pub async fn chain_headers(
        &self,
        indexed: &IndexedContract,
    ) -> Result<Vec<BlockHeader>, StoreError> {
        sqlx::query(
            "SELECT block_number, block_hash, parent_hash FROM chain_blocks \
             WHERE chain_id = $1 AND contract = $2 ORDER BY block_number",
        )
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(BlockHeader {
                number: from_i64(row.try_get("block_number")?)?,
                hash: parse_b256(&row.try_get::<String, _>("block_hash")?)?,
                parent_hash: parse_b256(&row.try_get::<String, _>("parent_hash")?)?,
            })
        })
        .collect()
    }

    /// Writes a batch and moves the cursor to its last header, in one transaction. `expected` is
    /// the cursor the batch was read after (`None` for the first); if another writer moved it
    /// meanwhile, nothing is written and [`StoreError::Conflict`] says so.
    pub async fn record_chain_batch(
        &self,
        indexed: &IndexedContract,
        expected: Option<u64>,
        batch: &IndexBatch<'_>,
    ) -> Result<(), StoreError> {
        let cursor = batch
            .headers
            .last()
            .ok_or_else(|| corrupt("index batch", "a batch names at least its last block"))?;
        let chain_id = to_i64(indexed.chain_id)?;
        let contract = address_text(indexed.contract);
        let mut tx = self.write_transaction().await?;
        move_cursor(&mut tx, indexed, expected, cursor, batch.head, batch.at).await?;
        insert_headers(&mut tx, chain_id, &contract, batch.headers).await?;
        insert_events(&mut tx, chain_id, &contract, batch.events).await?;
        if let Some(through) = batch.confirmed_through {
            sqlx::query(
                "UPDATE chain_events SET status = 'confirmed' \
                 WHERE chain_id = $1 AND contract = $2 AND status = 'seen' AND block_number <= $3",
            )
            .bind(chain_id)
            .bind(&contract)
            .bind(to_i64(through)?)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM chain_blocks WHERE chain_id = $1 AND contract = $2 \
             AND block_number < $3 AND block_number < $4",
        )
        .bind(chain_id)
        .bind(&contract)
        .bind(to_i64(batch.forget_below)?)
        .bind(to_i64(cursor.number)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Undoes what blocks above `fork` wrote and moves the cursor back to `fork`, in one
    /// transaction; with no fork (the reorg reached below the first block read) the index starts
    /// over. `expected` is the cursor's block as the caller read it.
    pub async fn roll_back_chain(
        &self,
        indexed: &IndexedContract,
        expected: u64,
        fork: Option<&BlockHeader>,
        at: Timestamp,
    ) -> Result<RolledBack, StoreError> {
        let chain_id = to_i64(indexed.chain_id)?;
        let contract = address_text(indexed.contract);
        let above = match fork {
            Some(fork) => to_i64(fork.number)?,
            None => -1,
        };
        let mut tx = self.write_transaction().await?;
        match fork {
            Some(fork) => {
                let moved = sqlx::query(
                    "UPDATE chain_cursors SET block_number = $1, block_hash = $2, updated_at_ms = $3 \
                     WHERE chain_id = $4 AND contract = $5 AND block_number = $6",
                )
                .bind(to_i64(fork.number)?)
                .bind(fork.hash.to_string())
                .bind(at.millis())
                .bind(chain_id)
                .bind(&contract)
                .bind(to_i64(expected)?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved == 0 {
                    return Err(cursor_moved(indexed));
                }
            }
            None => {
                let removed = sqlx::query(
                    "DELETE FROM chain_cursors \
                     WHERE chain_id = $1 AND contract = $2 AND block_number = $3",
                )
                .bind(chain_id)
                .bind(&contract)
                .bind(to_i64(expected)?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if removed == 0 {
                    return Err(cursor_moved(indexed));
                }
            }
        }
        let events = sqlx::query(
            "DELETE FROM chain_events WHERE chain_id = $1 AND contract = $2 AND block_number > $3",
        )
        .bind(chain_id)
        .bind(&contract)
        .bind(above)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM chain_blocks WHERE chain_id = $1 AND contract = $2 AND block_number > $3",
        )
        .bind(chain_id)
        .bind(&contract)
        .bind(above)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RolledBack { events })
    }

    /// Every indexed event, in chain order.
    pub async fn chain_events(
        &self,
        indexed: &IndexedContract,
    ) -> Result<Vec<IndexedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM chain_events WHERE chain_id = $1 AND contract = $2 \
             ORDER BY block_number, log_index"
        ))
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// A pool's indexed reports, by seq; with `confirmed_only`, the confirmed ones alone.
    pub async fn chain_pool_reports(
        &self,
        indexed: &IndexedContract,
        pool: PoolId,
        confirmed_only: bool,
    ) -> Result<Vec<IndexedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM chain_events \
             WHERE chain_id = $1 AND contract = $2 AND community = $3 AND pool = $4 \
             AND (status = 'confirmed' OR $5 = 0) ORDER BY seq"
        ))
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .bind(pool.community().to_string())
        .bind(pool.pool().to_string())
        .bind(i64::from(confirmed_only))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// A pool's latest indexed report (highest seq); with `confirmed_only`, the latest confirmed
    /// one. What the contract's `poolEntries` shows, as far as the index has read.
    pub async fn chain_pool_head(
        &self,
        indexed: &IndexedContract,
        pool: PoolId,
        confirmed_only: bool,
    ) -> Result<Option<IndexedEvent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM chain_events \
             WHERE chain_id = $1 AND contract = $2 AND community = $3 AND pool = $4 \
             AND (status = 'confirmed' OR $5 = 0) ORDER BY seq DESC LIMIT 1"
        ))
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .bind(pool.community().to_string())
        .bind(pool.pool().to_string())
        .bind(i64::from(confirmed_only))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    /// The indexed event of the report with this digest, if the chain has it: how the service
    /// learns that a report it signed has landed, and how deep.
    pub async fn chain_event_by_digest(
        &self,
        indexed: &IndexedContract,
        digest: Digest,
    ) -> Result<Option<IndexedEvent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM chain_events \
             WHERE chain_id = $1 AND contract = $2 AND digest = $3 \
             ORDER BY block_number, log_index LIMIT 1"
        ))
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .bind(digest.get().to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }
}

/// Moves the cursor from `expected` to `to`, or creates it when `expected` is `None`.
async fn move_cursor(
    tx: &mut Transaction<'static, Any>,
    indexed: &IndexedContract,
    expected: Option<u64>,
    to: &BlockHeader,
    head: u64,
    at: Timestamp,
) -> Result<(), StoreError> {
    let chain_id = to_i64(indexed.chain_id)?;
    let contract = address_text(indexed.contract);
    match expected {
        Some(expected) => {
            let moved = sqlx::query(
                "UPDATE chain_cursors SET block_number = $1, block_hash = $2, head_number = $3, \
                 updated_at_ms = $4 WHERE chain_id = $5 AND contract = $6 AND block_number = $7",
            )
            .bind(to_i64(to.number)?)
            .bind(to.hash.to_string())
            .bind(to_i64(head)?)
            .bind(at.millis())
            .bind(chain_id)
            .bind(&contract)
            .bind(to_i64(expected)?)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Err(cursor_moved(indexed));
            }
        }
        None => {
            sqlx::query(
                "INSERT INTO chain_cursors \
                   (chain_id, contract, block_number, block_hash, head_number, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(chain_id)
            .bind(&contract)
            .bind(to_i64(to.number)?)
            .bind(to.hash.to_string())
            .bind(to_i64(head)?)
            .bind(at.millis())
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    cursor_moved(indexed)
                } else {
                    StoreError::from(e)
                }
            })?;
        }
    }
    Ok(())
}

fn cursor_moved(indexed: &IndexedContract) -> StoreError {
    StoreError::Conflict(format!(
        "the chain index of {} on chain {}",
        indexed.contract, indexed.chain_id
    ))
}

pub(super) fn address_text(address: Address) -> String {
    hex::encode_prefixed(address)
}

pub(super) fn parse_b256(text: &str) -> Result<B256, StoreError> {
    text.parse().map_err(|e| corrupt("stored hash", e))
}

/// Block numbers, seqs and epochs fit i64 on any real chain; a larger one is refused, not wrapped.
pub(super) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt("chain number", format!("{value} exceeds 2^63 - 1")))
}

pub(super) fn from_i64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt("chain number", format!("{value} is negative")))
}
