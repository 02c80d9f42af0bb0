//! Webhook deliveries, the event log: stored before a webhook is answered, deduplicated on
//! (community, platform, instance, event id), and processed once each, in arrival order.
//!
//! Processing happens in a [`DeliveryTx`]: one transaction that claims the delivery, reads the
//! registry, writes the delivery's effects and marks it processed. Either all of that commits or
//! none of it does, so a crash at any point leaves the delivery to be processed again from scratch,
//! and a processed delivery is never processed twice (a trigger refuses a second mark).

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::domain::{
    MemberId, MemberRecord, PlatformUser, Timestamp, TopicFacts, TopicId, WalletAddress,
};

use super::members::{MEMBER_COLUMNS, member_from_row};
use super::{Backend, Store, StoreError, corrupt};

/// A delivery to store.
#[derive(Clone, Debug)]
pub struct NewDelivery<'a> {
    /// The community it was sent to.
    pub community_id: i64,
    /// `discourse`.
    pub platform: &'a str,
    /// The sending site, as it names itself.
    pub instance: &'a str,
    /// The site's id for the event.
    pub event_id: &'a str,
    /// The event's name (`user_updated`, …).
    pub event: &'a str,
    /// The headers that matter, as a JSON object.
    pub headers: &'a serde_json::Value,
    /// The raw body.
    pub body: &'a str,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// A stored delivery not processed yet.
#[derive(Clone, Debug)]
pub struct PendingDelivery {
    /// Its id; ids grow in arrival order.
    pub id: i64,
    /// The community's id.
    pub community_id: i64,
    /// The platform.
    pub platform: String,
    /// The event's name.
    pub event: String,
    /// The raw body.
    pub body: String,
}

/// How many deliveries a community has, and how many wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// All stored deliveries.
    pub stored: i64,
    /// Those not processed yet.
    pub pending: i64,
}

/// A stored delivery as an auditor or a test reads it.
#[derive(Clone, Debug)]
pub struct StoredDelivery {
    /// Its id.
    pub id: i64,
    /// The site's event id.
    pub event_id: String,
    /// The event's name.
    pub event: String,
    /// The headers kept, as JSON text.
    pub headers: String,
    /// The raw body.
    pub body: String,
    /// When it was processed, if it was.
    pub processed_at: Option<Timestamp>,
    /// What processing did, in words.
    pub outcome: Option<String>,
}

impl Store {
    /// Stores a delivery; `None` when the same event was stored before (and nothing changed).
    pub async fn insert_delivery(&self, d: &NewDelivery<'_>) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO webhook_deliveries \
               (community_id, platform, instance, event_id, event, headers, body, received_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (community_id, platform, instance, event_id) DO NOTHING RETURNING id",
        )
        .bind(d.community_id)
        .bind(d.platform)
        .bind(d.instance)
        .bind(d.event_id)
        .bind(d.event)
        .bind(d.headers.to_string())
        .bind(d.body)
        .bind(d.received_at.millis())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
            .transpose()
    }

    /// Up to `limit` unprocessed deliveries, oldest first.
    pub async fn pending_deliveries(&self, limit: i64) -> Result<Vec<PendingDelivery>, StoreError> {
        sqlx::query(
            "SELECT id, community_id, platform, event, body FROM webhook_deliveries \
             WHERE processed_at_ms IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(PendingDelivery {
                id: row.try_get("id")?,
                community_id: row.try_get("community_id")?,
                platform: row.try_get("platform")?,
                event: row.try_get("event")?,
                body: row.try_get("body")?,
            })
        })
        .collect()
    }

    /// How many deliveries a community has, and how many wait.
    pub async fn delivery_counts(&self, community_id: i64) -> Result<DeliveryCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS stored, \
               COALESCE(SUM(CASE WHEN processed_at_ms IS NULL THEN 1 ELSE 0 END), 0) AS pending \
             FROM webhook_deliveries WHERE community_id = $1",
        )
        .bind(community_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(DeliveryCounts {
            stored: row.try_get("stored")?,
            pending: row.try_get("pending")?,
        })
    }

    /// A community's deliveries, oldest first.
    pub async fn deliveries(&self, community_id: i64) -> Result<Vec<StoredDelivery>, StoreError> {
        sqlx::query(
            "SELECT id, event_id, event, headers, body, processed_at_ms, outcome \
             FROM webhook_deliveries WHERE community_id = $1 ORDER BY id",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StoredDelivery {
                id: row.try_get("id")?,
                event_id: row.try_get("event_id")?,
                event: row.try_get("event")?,
                headers: row.try_get("headers")?,
                body: row.try_get("body")?,
                processed_at: row
                    .try_get::<Option<i64>, _>("processed_at_ms")?
                    .map(Timestamp),
                outcome: row.try_get("outcome")?,
            })
        })
        .collect()
    }

    /// A transaction that writes from its first statement (SQLite takes the write lock at once,
    /// so what it reads cannot go stale before it writes).
    pub(super) async fn write_transaction(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Claims an unprocessed delivery for processing; `None` when it was processed already.
    pub async fn begin_delivery(
        &self,
        delivery: &PendingDelivery,
    ) -> Result<Option<DeliveryTx>, StoreError> {
        let mut tx = self.write_transaction().await?;
        // Locks the row (PostgreSQL) so that a second processor waits, then finds it done.
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries SET outcome = 'processing' \
             WHERE id = $1 AND processed_at_ms IS NULL",
        )
        .bind(delivery.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(DeliveryTx {
            tx,
            delivery_id: delivery.id,
            community_id: delivery.community_id,
        }))
    }
}

/// One delivery being processed: reads and writes of its effects, then [`DeliveryTx::finish`].
/// Dropping it without finishing rolls everything back.
pub struct DeliveryTx {
    tx: Transaction<'static, Any>,
    delivery_id: i64,
    community_id: i64,
}

impl DeliveryTx {
    /// The delivery's id.
    pub fn delivery_id(&self) -> i64 {
        self.delivery_id
    }

    /// The member linked to this platform account.
    pub async fn member_by_platform_user(
        &mut self,
        user: &PlatformUser,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM members \
             WHERE community_id = $1 AND platform = $2 AND platform_user_id = $3"
        );
        let row = sqlx::query(&sql)
            .bind(self.community_id)
            .bind(&user.platform)
            .bind(&user.user_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(member_from_row).transpose()
    }

    /// The member of this name.
    pub async fn member_by_name(
        &mut self,
        member: &MemberId,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let sql =
            format!("SELECT {MEMBER_COLUMNS} FROM members WHERE community_id = $1 AND member = $2");
        let row = sqlx::query(&sql)
            .bind(self.community_id)
            .bind(member.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(member_from_row).transpose()
    }

    /// Writes a member, replacing the row named `replaces` when given.
    pub async fn save_member(
        &mut self,
        replaces: Option<&MemberId>,
        record: &MemberRecord,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let groups = serde_json::to_string(&record.groups).expect("names serialise");
        let (platform, user_id) = match &record.platform_user {
            Some(p) => (Some(p.platform.as_str()), Some(p.user_id.as_str())),
            None => (None, None),
        };
        let wallet = record.wallet.as_ref().map(WalletAddress::as_str);
        let trust_level = record.trust_level.map(i64::from);
        let query = match replaces {
            Some(old) => sqlx::query(
                "UPDATE members SET member = $3, platform = $4, platform_user_id = $5, \
                   trust_level = $6, groups = $7, wallet = $8, updated_at_ms = $9 \
                 WHERE community_id = $1 AND member = $2",
            )
            .bind(self.community_id)
            .bind(old.as_str()),
            None => sqlx::query(
                "INSERT INTO members (community_id, member, platform, platform_user_id, \
                   trust_level, groups, wallet, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(self.community_id),
        };
        query
            .bind(record.member.as_str())
            .bind(platform)
            .bind(user_id)
            .bind(trust_level)
            .bind(groups)
            .bind(wallet)
            .bind(at.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Appends a wallet change caused by this delivery to the member's history.
    pub async fn record_wallet_change(
        &mut self,
        record: &MemberRecord,
        from: Option<&WalletAddress>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (platform, user_id) = match &record.platform_user {
            Some(p) => (Some(p.platform.as_str()), Some(p.user_id.as_str())),
            None => (None, None),
        };
        sqlx::query(
            "INSERT INTO member_wallet_changes (community_id, member, platform, platform_user_id, \
               old_wallet, new_wallet, source, delivery_id, recorded_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(self.community_id)
        .bind(record.member.as_str())
        .bind(platform)
        .bind(user_id)
        .bind(from.map(WalletAddress::as_str))
        .bind(record.wallet.as_ref().map(WalletAddress::as_str))
        .bind(platform.unwrap_or("webhook"))
        .bind(self.delivery_id)
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// What is known of a topic, and its category.
    pub async fn topic(
        &mut self,
        topic: &TopicId,
    ) -> Result<Option<(TopicFacts, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT facts, category FROM topics WHERE community_id = $1 AND topic = $2",
        )
        .bind(self.community_id)
        .bind(topic.as_str())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|row: AnyRow| {
            let facts: String = row.try_get("facts")?;
            Ok((
                serde_json::from_str(&facts).map_err(|e| corrupt("topic facts", e))?,
                row.try_get("category")?,
            ))
        })
        .transpose()
    }

    /// Records a topic's facts and category, replacing what was known.
    pub async fn put_topic(
        &mut self,
        topic: &TopicId,
        facts: &TopicFacts,
        category: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let facts_json = serde_json::to_string(facts).expect("topic facts always serialise");
        sqlx::query(
            "INSERT INTO topics (community_id, topic, facts, category, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (community_id, topic) DO UPDATE SET facts = excluded.facts, \
               category = excluded.category, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(self.community_id)
        .bind(topic.as_str())
        .bind(&facts_json)
        .bind(category)
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks the delivery processed with what it did, and commits everything at once.
    pub async fn finish(mut self, outcome: &str, at: Timestamp) -> Result<(), StoreError> {
        let marked = sqlx::query(
            "UPDATE webhook_deliveries SET processed_at_ms = $1, outcome = $2 \
             WHERE id = $3 AND processed_at_ms IS NULL",
        )
        .bind(at.millis())
        .bind(outcome)
        .bind(self.delivery_id)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if marked != 1 {
            return Err(StoreError::Conflict(format!(
                "delivery {}",
                self.delivery_id
            )));
        }
        self.tx.commit().await?;
        Ok(())
    }
}
