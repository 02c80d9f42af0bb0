//! The member registry (who has which wallet) and topic facts. These are facts about the platform,
//! not configuration: they are replaced in place, and changes to pools that follow from them are
//! versioned where they land.

use crate::domain::{MemberId, Timestamp, TopicFacts, TopicId, WalletAddress};

use super::{Store, StoreError};

impl Store {
    /// Sets (or, with `None`, clears) a member's wallet.
    pub async fn set_member_wallet(
        &self,
        community_id: i64,
        member: &MemberId,
        wallet: Option<&WalletAddress>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO members (community_id, member, wallet, updated_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (community_id, member) \
             DO UPDATE SET wallet = excluded.wallet, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(community_id)
        .bind(member.as_str())
        .bind(wallet.map(|w| w.as_str().to_string()))
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records what is known of a topic, replacing what was known before.
    pub async fn put_topic(
        &self,
        community_id: i64,
        topic: &TopicId,
        facts: &TopicFacts,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let facts_json = serde_json::to_string(facts).expect("topic facts always serialise");
        sqlx::query(
            "INSERT INTO topics (community_id, topic, facts, updated_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (community_id, topic) \
             DO UPDATE SET facts = excluded.facts, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(community_id)
        .bind(topic.as_str())
        .bind(&facts_json)
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
