//! Per-community source settings: for now, where the community's Discourse is and how its
//! webhooks are signed. The secret is held as a `SecretString`, so it never reaches a log line,
//! an error or a response.

use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

use crate::domain::Timestamp;

use super::{Store, StoreError};

/// A community's Discourse settings.
#[derive(Clone, Debug)]
pub struct DiscourseSource {
    /// The site's base URL, as Discourse sends it in `X-Discourse-Instance`.
    pub base_url: String,
    /// The webhook secret (at least 12 characters).
    pub webhook_secret: SecretString,
    /// The name of the custom user field that holds a member's wallet.
    pub wallet_field: String,
    /// That field's id, as Discourse keys `user_fields` (a number, as a string).
    pub wallet_field_id: String,
    /// When the settings were last set.
    pub updated_at: Timestamp,
}

impl Store {
    /// Sets a community's Discourse settings, replacing earlier ones.
    pub async fn put_discourse_source(
        &self,
        community_id: i64,
        source: &DiscourseSource,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO discourse_sources \
               (community_id, base_url, webhook_secret, wallet_field, wallet_field_id, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (community_id) DO UPDATE SET base_url = excluded.base_url, \
               webhook_secret = excluded.webhook_secret, wallet_field = excluded.wallet_field, \
               wallet_field_id = excluded.wallet_field_id, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(community_id)
        .bind(&source.base_url)
        .bind(source.webhook_secret.expose_secret())
        .bind(&source.wallet_field)
        .bind(&source.wallet_field_id)
        .bind(source.updated_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A community's Discourse settings, when it has some.
    pub async fn discourse_source(
        &self,
        community_id: i64,
    ) -> Result<Option<DiscourseSource>, StoreError> {
        let row = sqlx::query(
            "SELECT base_url, webhook_secret, wallet_field, wallet_field_id, updated_at_ms \
             FROM discourse_sources WHERE community_id = $1",
        )
        .bind(community_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(DiscourseSource {
                base_url: row.try_get("base_url")?,
                webhook_secret: SecretString::from(row.try_get::<String, _>("webhook_secret")?),
                wallet_field: row.try_get("wallet_field")?,
                wallet_field_id: row.try_get("wallet_field_id")?,
                updated_at: Timestamp(row.try_get("updated_at_ms")?),
            })
        })
        .transpose()
    }
}
