//! Per-community Loomio settings: the site, the API key of the user the service acts as, and the
//! group whose members vote. The key is held as a `SecretString`: it is stored, and never reaches
//! a log line, an error or a response.

use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

use crate::domain::Timestamp;
use crate::sources::loomio::LoomioSource;

use super::{Store, StoreError, corrupt};

impl Store {
    /// Sets a community's Loomio settings, replacing earlier ones.
    pub async fn put_loomio_source(
        &self,
        community_id: i64,
        source: &LoomioSource,
    ) -> Result<(), StoreError> {
        let group_id = i64::try_from(source.group_id).map_err(|_| {
            StoreError::Corrupt(format!("group id {} is too large", source.group_id))
        })?;
        sqlx::query(
            "INSERT INTO loomio_sources (community_id, base_url, api_key, group_id, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (community_id) DO UPDATE SET base_url = excluded.base_url, \
               api_key = excluded.api_key, group_id = excluded.group_id, \
               updated_at_ms = excluded.updated_at_ms",
        )
        .bind(community_id)
        .bind(&source.base_url)
        .bind(source.api_key.expose_secret())
        .bind(group_id)
        .bind(source.updated_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A community's Loomio settings, when it has some.
    pub async fn loomio_source(
        &self,
        community_id: i64,
    ) -> Result<Option<LoomioSource>, StoreError> {
        let row = sqlx::query(
            "SELECT base_url, api_key, group_id, updated_at_ms FROM loomio_sources \
             WHERE community_id = $1",
        )
        .bind(community_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let group_id: i64 = row.try_get("group_id")?;
            Ok(LoomioSource {
                base_url: row.try_get("base_url")?,
                api_key: SecretString::from(row.try_get::<String, _>("api_key")?),
                group_id: u64::try_from(group_id).map_err(|e| corrupt("Loomio group id", e))?,
                updated_at: Timestamp(row.try_get("updated_at_ms")?),
            })
        })
        .transpose()
    }
}
