//! Reconciliation's memory: the indexed block at which each report this oracle signed was first
//! seen missing from a contract's chain index, so that a restart does not reset how long a report
//! has been missing (and the flag does not come a whole patience late). Rows are written once and
//! never change; a report seen missing again after a reorg counts from its first sighting.
//! Beside it, the last round's result per contract, so that every replica can answer it.

use sqlx::Row;

use super::chain::{IndexedContract, address_text, from_i64, to_i64};
use super::{Store, StoreError};
use crate::domain::Timestamp;
use crate::report::Digest;

impl Store {
    /// Replaces the last reconciliation of `indexed` with `result` (its JSON).
    pub async fn save_latest_reconciliation(
        &self,
        indexed: &IndexedContract,
        result: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO latest_reconciliation (chain_id, contract, result, recorded_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (chain_id, contract) \
             DO UPDATE SET result = excluded.result, recorded_at_ms = excluded.recorded_at_ms",
        )
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .bind(result)
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last reconciliation of `indexed` (its JSON), if one ran.
    pub async fn latest_reconciliation(
        &self,
        indexed: &IndexedContract,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT result FROM latest_reconciliation WHERE chain_id = $1 AND contract = $2",
        )
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The indexed block at which `report` was first seen missing from `indexed`, if it was.
    pub async fn first_missing(
        &self,
        indexed: &IndexedContract,
        report: Digest,
    ) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(
            "SELECT first_block FROM reconciliation_missing \
             WHERE chain_id = $1 AND contract = $2 AND digest = $3",
        )
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .bind(report.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| from_i64(row.try_get("first_block")?))
            .transpose()
    }

    /// Records that `report` is missing from `indexed` at indexed block `block`, unless it was
    /// seen missing before; returns the block of the first sighting (another node's, when it
    /// recorded first).
    pub async fn record_first_missing(
        &self,
        indexed: &IndexedContract,
        report: Digest,
        block: u64,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        sqlx::query(
            "INSERT INTO reconciliation_missing \
             (chain_id, contract, digest, first_block, recorded_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (chain_id, contract, digest) DO NOTHING",
        )
        .bind(to_i64(indexed.chain_id)?)
        .bind(address_text(indexed.contract))
        .bind(report.to_string())
        .bind(to_i64(block)?)
        .bind(at.0)
        .execute(&self.pool)
        .await?;
        self.first_missing(indexed, report).await?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "report {report} was recorded missing from {} and is not there",
                indexed.contract
            ))
        })
    }
}
