//! Pool versions: each change appends a version with its entries, cause and time.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::domain::{
    Cause, Entry, Label, MemberId, Pool, PoolName, PoolVersion, Timestamp, WalletAddress, Weight,
};

use super::{Store, StoreError, corrupt, is_unique_violation};

/// Rows per multi-row insert: 8 parameters each keeps far below SQLite's limit of 32,766.
const ENTRY_ROWS_PER_INSERT: usize = 500;

/// The header of a stored pool version, before its entries are attached.
pub(super) struct VersionHeader {
    pub community_id: i64,
    pub pool: PoolName,
    pub version: u64,
    pub cause: Cause,
    pub recorded_at: Timestamp,
}

pub(super) fn header_from_row(row: &AnyRow) -> Result<VersionHeader, StoreError> {
    let pool: String = row.try_get("pool")?;
    let cause: String = row.try_get("cause")?;
    let version: i64 = row.try_get("version")?;
    Ok(VersionHeader {
        community_id: row.try_get("community_id")?,
        pool: PoolName::parse(&pool).map_err(|e| corrupt("pool name", e))?,
        version: u64::try_from(version).map_err(|e| corrupt("pool version", e))?,
        cause: serde_json::from_str(&cause).map_err(|e| corrupt("pool version cause", e))?,
        recorded_at: Timestamp(row.try_get("recorded_at_ms")?),
    })
}

pub(super) fn entry_from_row(row: &AnyRow) -> Result<Entry, StoreError> {
    let wallet: String = row.try_get("wallet")?;
    let weight: i64 = row.try_get("weight")?;
    let label: Option<String> = row.try_get("label")?;
    let member: Option<String> = row.try_get("member")?;
    Ok(Entry {
        wallet: WalletAddress::parse(&wallet).map_err(|e| corrupt("entry wallet", e))?,
        weight: u64::try_from(weight)
            .ok()
            .and_then(|w| Weight::new(w).ok())
            .ok_or_else(|| corrupt("entry weight", weight))?,
        label: label
            .map(|l| Label::parse(&l))
            .transpose()
            .map_err(|e| corrupt("entry label", e))?,
        member: member
            .map(|m| MemberId::parse(&m))
            .transpose()
            .map_err(|e| corrupt("entry member", e))?,
    })
}

/// Entries grouped by (community id, pool, version), each group in position order.
pub(super) type EntryGroups = BTreeMap<(i64, String, u64), Vec<Entry>>;

/// Adds one entry row (rows come ordered by key, then position) to its group.
pub(super) fn add_entry_row(groups: &mut EntryGroups, row: &AnyRow) -> Result<(), StoreError> {
    let community_id: i64 = row.try_get("community_id")?;
    let pool: String = row.try_get("pool")?;
    let version: i64 = row.try_get("version")?;
    groups
        .entry((community_id, pool, version as u64))
        .or_default()
        .push(entry_from_row(row)?);
    Ok(())
}

/// Attaches the grouped entries to their version headers.
pub(super) fn assemble(
    headers: Vec<VersionHeader>,
    mut groups: EntryGroups,
) -> Result<Vec<(VersionHeader, Pool)>, StoreError> {
    headers
        .into_iter()
        .map(|header| {
            let key = (
                header.community_id,
                header.pool.as_str().to_string(),
                header.version,
            );
            let entries = groups.remove(&key).unwrap_or_default();
            let pool = Pool::new(entries).map_err(|e| corrupt("stored pool", e))?;
            Ok((header, pool))
        })
        .collect()
}

/// The comparison, order and bound of a page of versions after `after` (exclusive), newest
/// first when `newest_first`.
fn version_window(after: Option<u64>, newest_first: bool) -> (&'static str, &'static str, i64) {
    if newest_first {
        ("<", "DESC", after.map_or(i64::MAX, |a| a as i64))
    } else {
        (">", "ASC", after.map_or(0, |a| a as i64))
    }
}

/// A pool version as a long history lists it: without its entries, with their number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionSize {
    /// The version.
    pub version: u64,
    /// Why it exists.
    pub cause: Cause,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// How many entries it holds.
    pub entries: usize,
}

impl Store {
    /// Appends a new version of a pool (version 1 creates it) and returns it.
    pub async fn append_pool_version(
        &self,
        community_id: i64,
        name: &PoolName,
        pool: &Pool,
        cause: &Cause,
        at: Timestamp,
    ) -> Result<PoolVersion, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = insert_pool_version(&mut tx, community_id, name, pool, cause, at).await?;
        tx.commit().await.map_err(|e| conflict(name, e))?;
        Ok(version)
    }

    /// The current version of a pool, if the pool exists.
    pub async fn current_pool(
        &self,
        community_id: i64,
        name: &PoolName,
    ) -> Result<Option<PoolVersion>, StoreError> {
        let page = self.pool_history(community_id, name, None, 1, true).await?;
        Ok(page.into_iter().next())
    }

    /// One version of a pool, if it exists.
    pub async fn pool_version(
        &self,
        community_id: i64,
        name: &PoolName,
        version: u64,
    ) -> Result<Option<PoolVersion>, StoreError> {
        let page = self
            .pool_history(
                community_id,
                name,
                Some(version.saturating_sub(1)),
                1,
                false,
            )
            .await?;
        Ok(page.into_iter().find(|v| v.version == version))
    }

    /// Versions of a pool without their entries, in the order and window of [`Self::pool_history`],
    /// each with how many entries it holds: enough to list a long history and say what is large.
    pub async fn pool_version_sizes(
        &self,
        community_id: i64,
        name: &PoolName,
        after: Option<u64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<VersionSize>, StoreError> {
        let (cmp, order, bound) = version_window(after, newest_first);
        let rows = sqlx::query(&format!(
            "SELECT v.version, v.cause, v.recorded_at_ms, \
             CAST((SELECT COUNT(*) FROM pool_entries e WHERE e.community_id = v.community_id \
               AND e.pool = v.pool AND e.version = v.version) AS BIGINT) AS entry_count \
             FROM pool_versions v \
             WHERE v.community_id = $1 AND v.pool = $2 AND v.version {cmp} $3 \
             ORDER BY v.version {order} LIMIT $4"
        ))
        .bind(community_id)
        .bind(name.as_str())
        .bind(bound)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get("version")?;
                let cause: String = row.try_get("cause")?;
                let entries: i64 = row.try_get("entry_count")?;
                Ok(VersionSize {
                    version: u64::try_from(version).map_err(|e| corrupt("pool version", e))?,
                    cause: serde_json::from_str(&cause)
                        .map_err(|e| corrupt("pool version cause", e))?,
                    recorded_at: Timestamp(row.try_get("recorded_at_ms")?),
                    entries: usize::try_from(entries).map_err(|e| corrupt("entry count", e))?,
                })
            })
            .collect()
    }

    /// Versions of a pool in order: after `after` (exclusive), at most `limit` of them; newest
    /// first when `newest_first`.
    pub async fn pool_history(
        &self,
        community_id: i64,
        name: &PoolName,
        after: Option<u64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<PoolVersion>, StoreError> {
        let (cmp, order, bound) = version_window(after, newest_first);
        let header_rows = sqlx::query(&format!(
            "SELECT community_id, pool, version, cause, recorded_at_ms FROM pool_versions \
             WHERE community_id = $1 AND pool = $2 AND version {cmp} $3 \
             ORDER BY version {order} LIMIT $4"
        ))
        .bind(community_id)
        .bind(name.as_str())
        .bind(bound)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let headers = header_rows
            .iter()
            .map(header_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let (Some(first), Some(last)) = (headers.first(), headers.last()) else {
            return Ok(Vec::new());
        };
        let (low, high) = (
            first.version.min(last.version),
            first.version.max(last.version),
        );
        let entry_rows = sqlx::query(
            "SELECT community_id, pool, version, wallet, weight, label, member FROM pool_entries \
             WHERE community_id = $1 AND pool = $2 AND version >= $3 AND version <= $4 \
             ORDER BY version, position",
        )
        .bind(community_id)
        .bind(name.as_str())
        .bind(low as i64)
        .bind(high as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut groups = EntryGroups::new();
        for row in &entry_rows {
            add_entry_row(&mut groups, row)?;
        }
        Ok(assemble(headers, groups)?
            .into_iter()
            .map(|(h, pool)| PoolVersion {
                version: h.version,
                pool,
                cause: h.cause,
                recorded_at: h.recorded_at,
            })
            .collect())
    }
}

/// Inserts the next version of a pool inside `tx`, for callers that store more with it (a report).
pub(super) async fn insert_pool_version(
    tx: &mut Transaction<'_, Any>,
    community_id: i64,
    name: &PoolName,
    pool: &Pool,
    cause: &Cause,
    at: Timestamp,
) -> Result<PoolVersion, StoreError> {
    let conflict = |e: sqlx::Error| conflict(name, e);
    let cause_json = serde_json::to_string(cause).expect("a cause always serialises");
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO pool_versions \
           (community_id, pool, version, cause_kind, cause, recorded_at_ms, entry_count) \
         SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6 \
           FROM pool_versions WHERE community_id = $1 AND pool = $2 \
         RETURNING version",
    )
    .bind(community_id)
    .bind(name.as_str())
    .bind(cause.kind())
    .bind(&cause_json)
    .bind(at.millis())
    .bind(pool.entries().len() as i64)
    .fetch_one(&mut **tx)
    .await
    .map_err(conflict)?;

    for (chunk_index, chunk) in pool.entries().chunks(ENTRY_ROWS_PER_INSERT).enumerate() {
        let mut sql = String::from(
            "INSERT INTO pool_entries \
             (community_id, pool, version, position, wallet, weight, label, member) VALUES ",
        );
        for i in 0..chunk.len() {
            let p = i * 8;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${},${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8
            ));
        }
        let mut query = sqlx::query(&sql);
        for (i, entry) in chunk.iter().enumerate() {
            query = query
                .bind(community_id)
                .bind(name.as_str())
                .bind(version)
                .bind((chunk_index * ENTRY_ROWS_PER_INSERT + i) as i64)
                .bind(entry.wallet.as_str())
                .bind(entry.weight.get() as i64)
                .bind(entry.label.as_ref().map(|l| l.as_str().to_string()))
                .bind(entry.member.as_ref().map(|m| m.as_str().to_string()));
        }
        query.execute(&mut **tx).await.map_err(conflict)?;
    }
    Ok(PoolVersion {
        version: version as u64,
        pool: pool.clone(),
        cause: cause.clone(),
        recorded_at: at,
    })
}

fn conflict(name: &PoolName, e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(format!("pool `{name}`"))
    } else {
        StoreError::from(e)
    }
}
