//! Per-community source settings: where the community's Discourse is, how its webhooks are
//! signed, which custom user field holds a wallet, and how the service acts on the site (API key
//! and username, where polls go). Secrets are held as `SecretString`s, so they never reach a log
//! line, an error or a response.

use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

use crate::domain::Timestamp;
use crate::sources::discourse::DiscourseSource;

use super::{Store, StoreError};

impl Store {
    /// Sets a community's Discourse settings, replacing earlier ones.
    pub async fn put_discourse_source(
        &self,
        community_id: i64,
        source: &DiscourseSource,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO discourse_sources \
               (community_id, base_url, webhook_secret, wallet_field, wallet_field_id, \
                wallet_field_resolved_at_ms, api_key, api_username, poll_topic_id, \
                poll_category_id, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (community_id) DO UPDATE SET base_url = excluded.base_url, \
               webhook_secret = excluded.webhook_secret, wallet_field = excluded.wallet_field, \
               wallet_field_id = excluded.wallet_field_id, \
               wallet_field_resolved_at_ms = excluded.wallet_field_resolved_at_ms, \
               api_key = excluded.api_key, api_username = excluded.api_username, \
               poll_topic_id = excluded.poll_topic_id, \
               poll_category_id = excluded.poll_category_id, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(community_id)
        .bind(&source.base_url)
        .bind(source.webhook_secret.expose_secret())
        .bind(&source.wallet_field)
        .bind(&source.wallet_field_id)
        .bind(source.wallet_field_resolved_at.map(Timestamp::millis))
        .bind(source.api_key.as_ref().map(|k| k.expose_secret().to_string()))
        .bind(source.api_username.as_deref())
        .bind(source.poll_topic_id)
        .bind(source.poll_category_id)
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
            "SELECT base_url, webhook_secret, wallet_field, wallet_field_id, \
               wallet_field_resolved_at_ms, api_key, api_username, poll_topic_id, \
               poll_category_id, updated_at_ms \
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
                wallet_field_resolved_at: row
                    .try_get::<Option<i64>, _>("wallet_field_resolved_at_ms")?
                    .map(Timestamp),
                api_key: row
                    .try_get::<Option<String>, _>("api_key")?
                    .map(SecretString::from),
                api_username: row.try_get("api_username")?,
                poll_topic_id: row.try_get("poll_topic_id")?,
                poll_category_id: row.try_get("poll_category_id")?,
                updated_at: Timestamp(row.try_get("updated_at_ms")?),
            })
        })
        .transpose()
    }
}
