//! The member registry (who has which wallet, and what the platform says of them) and topic
//! facts. These are facts about the platform, replaced in place; every change of a member's
//! wallet is also appended to `member_wallet_changes`, and changes to pools that follow from them
//! are versioned where they land.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{
    MemberId, MemberRecord, PlatformUser, Timestamp, TopicFacts, TopicId, WalletAddress,
};

use super::{Store, StoreError, corrupt};

/// The columns [`member_from_row`] reads.
pub(super) const MEMBER_COLUMNS: &str =
    "member, platform, platform_user_id, trust_level, groups, wallet";

pub(super) fn member_from_row(row: &AnyRow) -> Result<MemberRecord, StoreError> {
    let member: String = row.try_get("member")?;
    let platform: Option<String> = row.try_get("platform")?;
    let user_id: Option<String> = row.try_get("platform_user_id")?;
    let trust_level: Option<i64> = row.try_get("trust_level")?;
    let groups: Option<String> = row.try_get("groups")?;
    let wallet: Option<String> = row.try_get("wallet")?;
    Ok(MemberRecord {
        member: MemberId::parse(&member).map_err(|e| corrupt("member id", e))?,
        platform_user: platform
            .zip(user_id)
            .map(|(platform, user_id)| PlatformUser { platform, user_id }),
        trust_level: trust_level
            .map(u8::try_from)
            .transpose()
            .map_err(|e| corrupt("trust level", e))?,
        groups: groups
            .map(|g| serde_json::from_str(&g))
            .transpose()
            .map_err(|e| corrupt("member groups", e))?
            .unwrap_or_default(),
        wallet: wallet
            .map(|w| WalletAddress::parse(&w))
            .transpose()
            .map_err(|e| corrupt("member wallet", e))?,
    })
}

/// One change of a member's wallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletHistoryEntry {
    /// The wallet before.
    pub from: Option<WalletAddress>,
    /// The wallet after.
    pub to: Option<WalletAddress>,
    /// Who made it: `admin`, or the platform whose event did.
    pub source: String,
    /// The webhook delivery that caused it, if one did.
    pub delivery_id: Option<i64>,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

impl Store {
    /// Sets (or, with `None`, clears) a member's wallet, recording the change in the history.
    pub async fn set_member_wallet(
        &self,
        community_id: i64,
        member: &MemberId,
        wallet: Option<&WalletAddress>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let before: Option<Option<String>> =
            sqlx::query("SELECT wallet FROM members WHERE community_id = $1 AND member = $2")
                .bind(community_id)
                .bind(member.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get("wallet"))
                .transpose()?;
        let after = wallet.map(|w| w.as_str().to_string());
        sqlx::query(
            "INSERT INTO members (community_id, member, wallet, updated_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (community_id, member) \
             DO UPDATE SET wallet = excluded.wallet, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(community_id)
        .bind(member.as_str())
        .bind(after.clone())
        .bind(at.millis())
        .execute(&mut *tx)
        .await?;
        let before = before.flatten();
        if before != after {
            sqlx::query(
                "INSERT INTO member_wallet_changes \
                   (community_id, member, old_wallet, new_wallet, source, recorded_at_ms) \
                 VALUES ($1, $2, $3, $4, 'admin', $5)",
            )
            .bind(community_id)
            .bind(member.as_str())
            .bind(before)
            .bind(after)
            .bind(at.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A member as the registry holds them.
    pub async fn member(
        &self,
        community_id: i64,
        member: &MemberId,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let sql =
            format!("SELECT {MEMBER_COLUMNS} FROM members WHERE community_id = $1 AND member = $2");
        let row = sqlx::query(&sql)
            .bind(community_id)
            .bind(member.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(member_from_row).transpose()
    }

    /// Every change of a member's wallet, oldest first.
    pub async fn wallet_history(
        &self,
        community_id: i64,
        member: &MemberId,
    ) -> Result<Vec<WalletHistoryEntry>, StoreError> {
        let parse = |w: Option<String>| {
            w.map(|w| WalletAddress::parse(&w))
                .transpose()
                .map_err(|e| corrupt("wallet history", e))
        };
        sqlx::query(
            "SELECT old_wallet, new_wallet, source, delivery_id, recorded_at_ms \
             FROM member_wallet_changes WHERE community_id = $1 AND member = $2 ORDER BY id",
        )
        .bind(community_id)
        .bind(member.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok(WalletHistoryEntry {
                from: parse(row.try_get("old_wallet")?)?,
                to: parse(row.try_get("new_wallet")?)?,
                source: row.try_get("source")?,
                delivery_id: row.try_get("delivery_id")?,
                recorded_at: Timestamp(row.try_get("recorded_at_ms")?),
            })
        })
        .collect()
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

    /// A topic's facts and category, when known.
    pub async fn topic_record(
        &self,
        community_id: i64,
        topic: &TopicId,
    ) -> Result<Option<(TopicFacts, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT facts, category FROM topics WHERE community_id = $1 AND topic = $2",
        )
        .bind(community_id)
        .bind(topic.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let facts: String = row.try_get("facts")?;
            Ok((
                serde_json::from_str(&facts).map_err(|e| corrupt("topic facts", e))?,
                row.try_get("category")?,
            ))
        })
        .transpose()
    }
}
