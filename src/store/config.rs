//! Reads whole community configurations in a few queries, for building selection snapshots at
//! start-up (all communities) and after a change (one community).

use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{CommunityConfig, MemberId, PoolVersion, TopicId, WalletAddress};

use super::pools::{EntryGroups, add_entry_row, assemble, header_from_row};
use super::splits::split_from_row;
use super::{CommunityRow, Store, StoreError, corrupt};

impl Store {
    /// The current configuration of one community.
    pub async fn community_config(&self, community_id: i64) -> Result<CommunityConfig, StoreError> {
        let mut configs = self.load_configs(Some(community_id)).await?;
        Ok(configs.remove(&community_id).unwrap_or_default())
    }

    /// Every community with its current configuration.
    pub async fn all_community_configs(
        &self,
    ) -> Result<Vec<(CommunityRow, CommunityConfig)>, StoreError> {
        let communities = self.communities().await?;
        let mut configs = self.load_configs(None).await?;
        Ok(communities
            .into_iter()
            .map(|row| {
                let config = configs.remove(&row.id).unwrap_or_default();
                (row, config)
            })
            .collect())
    }

    /// Runs a query, bound to the community id when filtering, and hands each row to `f` as it
    /// arrives, so start-up holds domain values rather than every raw row at once.
    async fn each_row(
        &self,
        sql: &str,
        only: Option<i64>,
        mut f: impl FnMut(&AnyRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(sql);
        // PostgreSQL refuses a bound parameter that the text does not use.
        let query = match only {
            Some(id) => query.bind(id),
            None => query,
        };
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            f(&row)?;
        }
        Ok(())
    }

    async fn load_configs(
        &self,
        only: Option<i64>,
    ) -> Result<HashMap<i64, CommunityConfig>, StoreError> {
        let filter = |column: &str| match only {
            Some(_) => format!("{column} = $1"),
            None => "1 = 1".to_string(),
        };
        let current = "SELECT community_id, pool, MAX(version) AS version FROM pool_versions \
                       GROUP BY community_id, pool";
        let mut headers = Vec::new();
        let sql = format!(
            "SELECT v.community_id, v.pool, v.version, v.cause, v.recorded_at_ms \
             FROM pool_versions v JOIN ({current}) c \
               ON v.community_id = c.community_id AND v.pool = c.pool AND v.version = c.version \
             WHERE {} ORDER BY v.community_id, v.pool",
            filter("v.community_id")
        );
        self.each_row(&sql, only, |row| {
            headers.push(header_from_row(row)?);
            Ok(())
        })
        .await?;
        let mut groups = EntryGroups::new();
        let sql = format!(
            "SELECT e.community_id, e.pool, e.version, e.wallet, e.weight, e.label, e.member \
             FROM pool_entries e JOIN ({current}) c \
               ON e.community_id = c.community_id AND e.pool = c.pool AND e.version = c.version \
             WHERE {} ORDER BY e.community_id, e.pool, e.position",
            filter("e.community_id")
        );
        self.each_row(&sql, only, |row| add_entry_row(&mut groups, row))
            .await?;

        let mut configs: HashMap<i64, CommunityConfig> = HashMap::new();
        for (header, pool) in assemble(headers, groups)? {
            configs.entry(header.community_id).or_default().pools.push((
                header.pool,
                PoolVersion {
                    version: header.version,
                    pool,
                    cause: header.cause,
                    recorded_at: header.recorded_at,
                },
            ));
        }
        let sql = format!(
            "SELECT s.community_id, s.version, s.rules, s.cause, s.recorded_at_ms \
             FROM split_versions s JOIN (SELECT community_id, MAX(version) AS version \
               FROM split_versions GROUP BY community_id) c \
               ON s.community_id = c.community_id AND s.version = c.version \
             WHERE {}",
            filter("s.community_id")
        );
        self.each_row(&sql, only, |row| {
            let community_id: i64 = row.try_get("community_id")?;
            configs.entry(community_id).or_default().splits = Some(split_from_row(row)?);
            Ok(())
        })
        .await?;
        let sql = format!(
            "SELECT community_id, member, wallet FROM members \
             WHERE wallet IS NOT NULL AND {} ORDER BY community_id, member",
            filter("community_id")
        );
        self.each_row(&sql, only, |row| {
            let community_id: i64 = row.try_get("community_id")?;
            let member: String = row.try_get("member")?;
            let wallet: String = row.try_get("wallet")?;
            configs
                .entry(community_id)
                .or_default()
                .member_wallets
                .push((
                    MemberId::parse(&member).map_err(|e| corrupt("member id", e))?,
                    WalletAddress::parse(&wallet).map_err(|e| corrupt("member wallet", e))?,
                ));
            Ok(())
        })
        .await?;
        let sql = format!(
            "SELECT community_id, topic, facts FROM topics WHERE {} ORDER BY community_id, topic",
            filter("community_id")
        );
        self.each_row(&sql, only, |row| {
            let community_id: i64 = row.try_get("community_id")?;
            let topic: String = row.try_get("topic")?;
            let facts: String = row.try_get("facts")?;
            configs.entry(community_id).or_default().topics.push((
                TopicId::parse(&topic).map_err(|e| corrupt("topic id", e))?,
                serde_json::from_str(&facts).map_err(|e| corrupt("topic facts", e))?,
            ));
            Ok(())
        })
        .await?;
        Ok(configs)
    }
}
