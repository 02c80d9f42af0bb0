//! The use cases that change a community's configuration: create it, change a pool (with its
//! signed report when the oracle is on), its split, a member's wallet or a topic's facts. Each
//! stores the change with its cause, wakes the relayer when a report was signed, and swaps the
//! community's snapshot in: the admin routes and the policy's decisions call the same functions,
//! so a change is made one way whoever asks for it.

use std::sync::Arc;

use crate::domain::{
    Cause, Community, CommunitySlug, MemberId, Pool, PoolName, PoolVersion, SplitRules,
    SplitVersion, Timestamp, TopicFacts, TopicId, WalletAddress,
};
use crate::oracle::{EvidenceBytes, Oracle};
use crate::store::{CommunityRow, Store};
use crate::telemetry::Metrics;

use super::{AppError, Doorbell, LiveCommunity, Snapshots};

/// The decision a pool change carries out: its evidence and the policy version that made it.
/// An admin's bootstrap has none.
pub type DecisionRef<'a> = Option<(&'a EvidenceBytes, u64)>;

/// What a configuration change needs.
#[derive(Clone)]
pub struct Changes {
    store: Store,
    snapshots: Arc<Snapshots>,
    metrics: Arc<Metrics>,
    oracle: Option<Arc<Oracle>>,
    relayer: Doorbell,
}

impl Changes {
    /// The changes of one service; `relayer` is rung after each signed report.
    pub fn new(
        store: Store,
        snapshots: Arc<Snapshots>,
        metrics: Arc<Metrics>,
        oracle: Option<Arc<Oracle>>,
        relayer: Doorbell,
    ) -> Self {
        Changes {
            store,
            snapshots,
            metrics,
            oracle,
            relayer,
        }
    }

    /// Creates a community governed by the default policies (the grant report's policy and the
    /// constitution that changes it), and holds its snapshot.
    pub async fn create_community(
        &self,
        slug: &CommunitySlug,
        name: &str,
        at: Timestamp,
    ) -> Result<Arc<LiveCommunity>, AppError> {
        let row = self.store.create_community(slug, name, at).await?;
        self.store
            .adopt_policies(
                row.id,
                &[
                    crate::policy::GRANT_REPORT_POLICY,
                    crate::policy::CONSTITUTION_POLICY,
                ],
                &Cause::AdminBootstrap {
                    note: Some("the default policies".into()),
                },
                at,
            )
            .await?;
        let live = self.refresh(row.id, &row.community).await?;
        self.metrics.communities.set(self.snapshots.len() as i64);
        tracing::info!(community = %slug, "community created");
        Ok(live)
    }

    /// Appends a new version of a pool, reported and signed in the same transaction when the
    /// oracle is on (committing to `decision`, or to the bootstrap's own evidence), then wakes
    /// the relayer and swaps the snapshot in.
    pub async fn change_pool(
        &self,
        community: &LiveCommunity,
        name: &PoolName,
        pool: &Pool,
        cause: &Cause,
        decision: DecisionRef<'_>,
        at: Timestamp,
    ) -> Result<PoolVersion, AppError> {
        let version = match &self.oracle {
            Some(oracle) => {
                let version = self
                    .store
                    .append_reported_pool_version(
                        community.id,
                        &community.community.slug,
                        name,
                        pool,
                        cause,
                        at,
                        oracle,
                        decision,
                    )
                    .await?;
                self.relayer.ring();
                version
            }
            None => {
                self.store
                    .append_pool_version(community.id, name, pool, cause, at)
                    .await?
            }
        };
        self.refresh(community.id, &community.community).await?;
        tracing::info!(community = %community.community.slug, pool = %name,
            version = version.version, cause = cause.kind(), "pool changed");
        Ok(version)
    }

    /// Appends a new version of the community's split rules and swaps the snapshot in.
    pub async fn change_split(
        &self,
        community: &LiveCommunity,
        rules: &SplitRules,
        cause: &Cause,
        at: Timestamp,
    ) -> Result<SplitVersion, AppError> {
        let version = self
            .store
            .append_split_version(community.id, rules, cause, at)
            .await?;
        self.refresh(community.id, &community.community).await?;
        tracing::info!(community = %community.community.slug, version = version.version,
            cause = cause.kind(), "split rules changed");
        Ok(version)
    }

    /// Sets or clears a member's wallet in the registry and swaps the snapshot in.
    pub async fn change_member_wallet(
        &self,
        community: &LiveCommunity,
        member: &MemberId,
        wallet: Option<&WalletAddress>,
        at: Timestamp,
    ) -> Result<(), AppError> {
        self.store
            .set_member_wallet(community.id, member, wallet, at)
            .await?;
        self.refresh(community.id, &community.community).await?;
        Ok(())
    }

    /// Records a topic's facts and swaps the snapshot in; returns the new snapshot.
    pub async fn change_topic(
        &self,
        community: &LiveCommunity,
        topic: &TopicId,
        facts: &TopicFacts,
        at: Timestamp,
    ) -> Result<Arc<LiveCommunity>, AppError> {
        self.store.put_topic(community.id, topic, facts, at).await?;
        self.refresh(community.id, &community.community).await
    }

    /// As [`Changes::refresh`], for a community known by its id (nothing when it is not held).
    pub async fn refresh_id(&self, id: i64) -> Result<(), AppError> {
        if let Some(live) = self.snapshots.by_id(id) {
            self.refresh(live.id, &live.community).await?;
        }
        Ok(())
    }

    /// Re-reads a community from the store, swaps its snapshot in and counts the swap: after any
    /// change, made here or applied by the ingest worker.
    pub async fn refresh(
        &self,
        id: i64,
        community: &Community,
    ) -> Result<Arc<LiveCommunity>, AppError> {
        let row = CommunityRow {
            id,
            community: community.clone(),
        };
        let live = self.snapshots.refresh(&self.store, &row).await?;
        self.metrics.snapshot_swaps.inc();
        Ok(live)
    }
}
