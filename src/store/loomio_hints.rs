//! Loomio hints: one row per community, its last hint. A hint carries nothing the service reads,
//! so nothing more is kept, however many arrive.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::Timestamp;

/// What the store knows of a community's Loomio hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintRecord {
    /// Whether this hint's body is the same as the one before it.
    pub repeat: bool,
    /// How many hints the community has received.
    pub received: i64,
    /// When the last one came.
    pub last_received_at: Timestamp,
}

impl Store {
    /// Records a hint whose body hashes to `digest`, overwriting the community's last one.
    pub async fn record_loomio_hint(
        &self,
        community_id: i64,
        digest: &str,
        at: Timestamp,
    ) -> Result<HintRecord, StoreError> {
        let before = self.loomio_hint(community_id).await?;
        sqlx::query(
            "INSERT INTO loomio_hints (community_id, last_digest, last_received_at_ms, received) \
             VALUES ($1, $2, $3, 1) \
             ON CONFLICT (community_id) DO UPDATE SET last_digest = excluded.last_digest, \
             last_received_at_ms = excluded.last_received_at_ms, \
             received = loomio_hints.received + 1",
        )
        .bind(community_id)
        .bind(digest)
        .bind(at.0)
        .execute(&self.pool)
        .await?;
        let after = self.loomio_hint(community_id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "a Loomio hint of community {community_id} was recorded and is not there"
            ))
        })?;
        Ok(HintRecord {
            repeat: before.is_some_and(|(last, _)| last == digest),
            ..after.1
        })
    }

    /// The community's last hint's digest and its record, if it ever had one.
    pub async fn loomio_hint(
        &self,
        community_id: i64,
    ) -> Result<Option<(String, HintRecord)>, StoreError> {
        let row = sqlx::query(
            "SELECT last_digest, last_received_at_ms, received FROM loomio_hints \
             WHERE community_id = $1",
        )
        .bind(community_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                row.try_get("last_digest")?,
                HintRecord {
                    repeat: false,
                    received: row.try_get("received")?,
                    last_received_at: Timestamp(row.try_get("last_received_at_ms")?),
                },
            ))
        })
        .transpose()
    }
}
