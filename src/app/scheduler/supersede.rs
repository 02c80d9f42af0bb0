//! Superseding: a newer change of a member's wallet fails their open wallet proposals before its
//! own opens (the decision is the pure core's `policy::supersede`). A vote not started yet is
//! cancelled, a started one is attached so the decision closes it, and the proposal fails, so a
//! late approval can never add a wallet the member dropped. Each decision is recorded once and
//! carried out like any other.

use super::Scheduler;
use super::read::missing_version;
use crate::app::{AppError, LiveCommunity};
use crate::domain::Timestamp;
use crate::policy::{self, Subject};
use crate::store::StoredProposal;

impl Scheduler {
    /// Fails the community's open proposals that `by`, a wallet change recorded at `at`, makes
    /// moot; returns how many were decided.
    pub(super) async fn supersede_open(
        &self,
        community: &LiveCommunity,
        by: &Subject,
        at: Timestamp,
    ) -> Result<usize, AppError> {
        let moot: Vec<StoredProposal> = self
            .store
            .open_proposals(community.id)
            .await?
            .into_iter()
            .filter(|p| policy::is_superseded_by(&p.proposal, by, at))
            .collect();
        if moot.is_empty() {
            return Ok(0);
        }
        let policies = self.store.policies(community.id).await?;
        let mut decided = 0;
        for stored in moot {
            let version = policies
                .version(stored.proposal.policy_version)
                .ok_or_else(|| missing_version(&stored))?;
            let (proposal, vote) = self.settle_vote(community, &stored).await?;
            let facts = match &vote {
                Some(vote) => Some(self.facts(community.id, vote).await?),
                None => None,
            };
            let decision = policy::supersede(version, &proposal, by.clone())?;
            tracing::info!(community = %community.community.slug, proposal = stored.id,
            trigger = by.kind().as_str(), "proposal superseded by a newer wallet change");
            if self
                .decide(community, stored.id, proposal, version, facts, at, decision)
                .await?
            {
                decided += 1;
            }
        }
        Ok(decided)
    }
}

impl Scheduler {}
