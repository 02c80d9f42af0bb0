//! The policy scheduler's durable progress: the wallet changes it has not turned into proposals
//! yet, the proposal a change already opened (found again after a crash), and the decisions it
//! has not carried out yet. The marks are append-only; the work they mark is idempotent.

use sqlx::Row;

use crate::domain::{MemberId, PlatformUser, Timestamp, WalletAddress};
use crate::policy::Subject;

use super::policies::{PROPOSAL_COLUMNS, decision_from_row, proposal_from_row};
use super::votes::{COLUMNS as VOTE_COLUMNS, vote_from_row};
use super::{Store, StoreError, StoredDecision, StoredProposal, VoteRecord, corrupt};

/// A member's wallet change that no proposal answers yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWalletChange {
    /// Its id in `member_wallet_changes`.
    pub id: i64,
    /// The community.
    pub community_id: i64,
    /// The member.
    pub member: MemberId,
    /// The wallet before.
    pub from: Option<WalletAddress>,
    /// The wallet after.
    pub to: Option<WalletAddress>,
    /// When the change was recorded: the proposal's opening time, so a replay opens the same one.
    pub recorded_at: Timestamp,
    /// Whether an admin made it: it opens no proposal (an admin's change needs no vote), but it
    /// still supersedes the member's running wallet votes.
    pub by_admin: bool,
}

impl Store {
    /// Wallet changes the scheduler has not handled, oldest first, after the change `after` (0 for
    /// all): a platform's open proposals, an admin's only supersede running ones.
    pub async fn pending_wallet_changes(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PendingWalletChange>, StoreError> {
        let parse = |w: Option<String>| {
            w.map(|w| WalletAddress::parse(&w))
                .transpose()
                .map_err(|e| corrupt("wallet change", e))
        };
        sqlx::query(
            "SELECT c.id, c.community_id, c.member, c.old_wallet, c.new_wallet, c.recorded_at_ms, \
               c.source FROM member_wallet_changes c \
             WHERE c.id > $1 AND NOT EXISTS \
               (SELECT 1 FROM policy_wallet_triggers t WHERE t.wallet_change_id = c.id) \
             ORDER BY c.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            let member: String = row.try_get("member")?;
            Ok(PendingWalletChange {
                id: row.try_get("id")?,
                community_id: row.try_get("community_id")?,
                member: MemberId::parse(&member).map_err(|e| corrupt("member id", e))?,
                from: parse(row.try_get("old_wallet")?)?,
                to: parse(row.try_get("new_wallet")?)?,
                recorded_at: Timestamp(row.try_get("recorded_at_ms")?),
                by_admin: row.try_get::<String, _>("source")? == "admin",
            })
        })
        .collect()
    }

    /// Marks a wallet change handled, with the proposal it opened (none when the policies have
    /// no rule for it). Marking twice is harmless.
    pub async fn mark_wallet_change_handled(
        &self,
        change: &PendingWalletChange,
        proposal_id: Option<i64>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO policy_wallet_triggers \
               (wallet_change_id, community_id, proposal_id, handled_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (wallet_change_id) DO NOTHING",
        )
        .bind(change.id)
        .bind(change.community_id)
        .bind(proposal_id)
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The proposal already opened about `subject` at `opened_at`, as a replay after a crash
    /// finds it instead of opening a second one.
    pub async fn proposal_about(
        &self,
        community_id: i64,
        subject: &Subject,
        opened_at: Timestamp,
    ) -> Result<Option<StoredProposal>, StoreError> {
        let subject = serde_json::to_string(subject).expect("a subject always serialises");
        let sql = format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals \
             WHERE community_id = $1 AND subject = $2 AND opened_at_ms = $3 ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(community_id)
            .bind(subject)
            .bind(opened_at.millis())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(proposal_from_row).transpose()
    }

    /// A vote by the key of its intent: the scheduler keys a proposal's vote by the proposal, so
    /// it is stored once however often the scheduler asks.
    pub async fn vote_by_intent(&self, intent_key: &str) -> Result<Option<VoteRecord>, StoreError> {
        let sql = format!("SELECT {VOTE_COLUMNS} FROM votes WHERE intent_key = $1");
        let row = sqlx::query(&sql)
            .bind(intent_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(vote_from_row).transpose()
    }

    /// A voter's trust level and groups as the registry holds them now.
    pub async fn standing(
        &self,
        community_id: i64,
        user: &PlatformUser,
    ) -> Result<Option<(Option<u8>, Vec<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT trust_level, groups FROM members \
             WHERE community_id = $1 AND platform = $2 AND platform_user_id = $3",
        )
        .bind(community_id)
        .bind(&user.platform)
        .bind(&user.user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let level: Option<i64> = row.try_get("trust_level")?;
            let groups: Option<String> = row.try_get("groups")?;
            Ok((
                level
                    .map(u8::try_from)
                    .transpose()
                    .map_err(|e| corrupt("trust level", e))?,
                groups
                    .map(|g| serde_json::from_str(&g))
                    .transpose()
                    .map_err(|e| corrupt("member groups", e))?
                    .unwrap_or_default(),
            ))
        })
        .transpose()
    }

    /// A community's decisions whose actions the scheduler has not carried out, oldest first.
    pub async fn unexecuted_decisions(
        &self,
        community_id: i64,
    ) -> Result<Vec<StoredDecision>, StoreError> {
        sqlx::query(
            "SELECT d.proposal_id, d.policy_version, d.outcome, d.reason, d.hash, d.evidence, \
               d.decided_at_ms FROM decisions d \
             WHERE d.community_id = $1 AND NOT EXISTS \
               (SELECT 1 FROM policy_executions e WHERE e.proposal_id = d.proposal_id) \
             ORDER BY d.proposal_id",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decision_from_row)
        .collect()
    }

    /// Marks a decision's actions carried out. Marking twice is harmless.
    pub async fn mark_decision_executed(
        &self,
        community_id: i64,
        proposal_id: i64,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO policy_executions (proposal_id, community_id, executed_at_ms) \
             VALUES ($1, $2, $3) ON CONFLICT (proposal_id) DO NOTHING",
        )
        .bind(proposal_id)
        .bind(community_id)
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
