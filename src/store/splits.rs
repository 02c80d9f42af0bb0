//! Split-rule versions: versioned like pools, with cause and time.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{Cause, SplitRules, SplitVersion, Timestamp};

use super::{Store, StoreError, corrupt, is_unique_violation};

pub(super) fn split_from_row(row: &AnyRow) -> Result<SplitVersion, StoreError> {
    let version: i64 = row.try_get("version")?;
    let rules: String = row.try_get("rules")?;
    let cause: String = row.try_get("cause")?;
    Ok(SplitVersion {
        version: u64::try_from(version).map_err(|e| corrupt("split version", e))?,
        rules: serde_json::from_str(&rules).map_err(|e| corrupt("split rules", e))?,
        cause: serde_json::from_str(&cause).map_err(|e| corrupt("split cause", e))?,
        recorded_at: Timestamp(row.try_get("recorded_at_ms")?),
    })
}

impl Store {
    /// Appends a new version of a community's split rules, after checking that every pool they
    /// name exists.
    pub async fn append_split_version(
        &self,
        community_id: i64,
        rules: &SplitRules,
        cause: &Cause,
        at: Timestamp,
    ) -> Result<SplitVersion, StoreError> {
        let mut tx = self.pool.begin().await?;
        let existing: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT pool FROM pool_versions WHERE community_id = $1")
                .bind(community_id)
                .fetch_all(&mut *tx)
                .await?;
        if let Some(missing) = rules
            .named_pools()
            .find(|p| !existing.iter().any(|e| e == p.as_str()))
        {
            return Err(StoreError::UnknownPool(missing.clone()));
        }
        let rules_json = serde_json::to_string(rules).expect("split rules always serialise");
        let cause_json = serde_json::to_string(cause).expect("a cause always serialises");
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO split_versions \
               (community_id, version, rules, cause_kind, cause, recorded_at_ms) \
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 \
               FROM split_versions WHERE community_id = $1 \
             RETURNING version",
        )
        .bind(community_id)
        .bind(&rules_json)
        .bind(cause.kind())
        .bind(&cause_json)
        .bind(at.millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("the split rules".into())
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        Ok(SplitVersion {
            version: version as u64,
            rules: rules.clone(),
            cause: cause.clone(),
            recorded_at: at,
        })
    }

    /// Every version of a community's split rules, oldest first.
    pub async fn split_history(&self, community_id: i64) -> Result<Vec<SplitVersion>, StoreError> {
        sqlx::query(
            "SELECT version, rules, cause, recorded_at_ms FROM split_versions \
             WHERE community_id = $1 ORDER BY version",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(split_from_row)
        .collect()
    }
}
