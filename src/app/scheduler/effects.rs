//! The scheduler's effects: record a decision with its evidence, carry out its actions (tell the
//! member, close the vote, change a pool or the split through `Changes`, adopt a policy), store a
//! proposal's vote intent, and settle a superseded proposal's vote. Every effect is idempotent:
//! decisions, intents and messages are keyed, and a pool change already applied changes nothing.

use super::Scheduler;
use super::read::intent_key;
use crate::app::{AppError, LiveCommunity};
use crate::domain::{Cause, Pool, Timestamp};
use crate::oracle::EvidenceBytes;
use crate::policy::{self, Action, Evidence, PolicyVersion, Proposal, VoteFacts};
use crate::store::{NewVote, StoreError, StoredDecision, StoredProposal, VoteRecord};
use crate::telemetry::Metrics;
use crate::voting::VoteHandle;
use crate::voting::lifecycle::Lifecycle;

impl Scheduler {
    /// Runs one action; `decision` is the stored decision it follows from, if any.
    pub(super) async fn run_action(
        &self,
        community: &LiveCommunity,
        key: &str,
        action: &Action,
        decision: Option<&StoredDecision>,
        at: Timestamp,
    ) -> Result<(), AppError> {
        let slug = &community.community.slug;
        let cause = decision.map(|d| Cause::Decision {
            decision: d.hash.to_string(),
        });
        match (action, &cause) {
            (
                Action::Notify {
                    member,
                    title,
                    text,
                },
                _,
            ) => {
                if self.store.discourse_source(community.id).await?.is_none() {
                    tracing::warn!(community = %slug, %member, key,
                    "no channel reaches the member (the community has no Discourse): not told");
                    return Ok(());
                }
                match self
                    .actions
                    .enqueue_private_message(community.id, key, member.as_str(), title, text)
                    .await
                {
                    Ok(_) => {}
                    Err(e @ AppError::Store(_)) => return Err(e),
                    Err(e) => tracing::warn!(community = %slug, %member, error = %e,
                    "the message cannot be sent"),
                }
            }
            (Action::CloseVote { .. }, Some(_)) => {
                let Some(decision) = decision else {
                    return Ok(());
                };
                let vote_key = intent_key(community.id, decision.proposal_id);
                if let Some(vote) = self.store.vote_by_intent(&vote_key).await? {
                    match self.votes.close(community, vote.id).await {
                        Ok(_) => {}
                        Err(e @ AppError::Store(_)) => return Err(e),
                        Err(e) => tracing::warn!(community = %slug, vote = vote.id, error = %e,
                        "closing the decided vote failed; the platform closes it at its time"),
                    }
                }
            }
            (
                Action::AddEntry { .. } | Action::ReplaceEntry { .. } | Action::RemoveEntry { .. },
                Some(cause),
            ) => {
                let decision = decision.expect("a cause comes from a decision");
                let name = action.pool().expect("entry actions name a pool");
                let current = self.store.current_pool(community.id, name).await?;
                let base = match &current {
                    Some(version) => version.pool.clone(),
                    None => Pool::new(Vec::new())
                        .map_err(|e| AppError::Inconsistent(format!("an empty pool: {e}")))?,
                };
                let pool = match action.apply(&base) {
                    None => return Ok(()),
                    Some(Ok(pool)) => pool,
                    Some(Err(e)) => {
                        tracing::error!(community = %slug, pool = %name, error = %e,
                        "the decided pool change is not a valid pool; the pool stays");
                        return Ok(());
                    }
                };
                let evidence = EvidenceBytes::of(decision.evidence.clone());
                let changed = self
                    .changes
                    .change_pool(
                        community,
                        name,
                        &pool,
                        cause,
                        Some((&evidence, decision.policy_version)),
                        at,
                    )
                    .await;
                match changed {
                    Err(AppError::Oracle(e)) if e.refuses_size() => {
                        tracing::error!(community = %slug, pool = %name, error = %e,
                        "the decided pool is larger than a report may carry; the pool stays");
                    }
                    changed => {
                        changed?;
                    }
                }
            }
            (Action::SetSplit { rules }, Some(cause)) => {
                self.changes
                    .change_split(community, rules, cause, at)
                    .await?;
            }
            (Action::AdoptPolicy { policy, source }, Some(cause)) => {
                let policies = self.store.policies(community.id).await?;
                let adopted = policies
                    .in_force()
                    .any(|v| v.policy.name() == policy && v.policy.source() == source.as_str());
                if adopted {
                    return Ok(());
                }
                match self
                    .store
                    .adopt_policies(community.id, &[source.as_str()], cause, at)
                    .await
                {
                    Ok(versions) => tracing::info!(community = %slug, %policy,
                    versions = ?versions.iter().map(|v| v.version).collect::<Vec<_>>(),
                    "policy adopted by a decision"),
                    Err(StoreError::Conflict(_)) => {}
                    Err(e @ StoreError::PolicyRefused(_)) => {
                        tracing::error!(community = %slug, error = %e,
                    "the adopted policy no longer fits the policies in force; not adopted")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            (other, None) => tracing::warn!(community = %slug, action = other.describe(),
            "only a decision may do this; skipped"),
        }
        Ok(())
    }

    /// Records a decision with its evidence and carries it out; `false` when it was decided already
    /// (its actions are then carried out by the pending-decisions step).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn decide(
        &self,
        community: &LiveCommunity,
        proposal_id: i64,
        proposal: Proposal,
        version: &PolicyVersion,
        facts: Option<VoteFacts>,
        at: Timestamp,
        decision: policy::Decision,
    ) -> Result<bool, AppError> {
        let evidence = Evidence::new(
            community.community.slug.clone(),
            u64::try_from(proposal_id).map_err(|e| AppError::Inconsistent(e.to_string()))?,
            proposal,
            version,
            facts,
            at,
            decision,
        );
        let stored = match self
            .store
            .record_decision(community.id, proposal_id, &evidence)
            .await
        {
            Ok(stored) => stored,
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(community = %community.community.slug, proposal = proposal_id,
        outcome = stored.outcome.as_str(), reason = %stored.reason, hash = %stored.hash,
        "proposal decided");
        Metrics::count(&self.metrics.policy_decisions, stored.outcome.as_str());
        self.execute(community, &stored, at).await?;
        Ok(true)
    }

    /// Carries out a stored decision's actions, in order, then marks it carried out.
    pub(super) async fn execute(
        &self,
        community: &LiveCommunity,
        stored: &StoredDecision,
        at: Timestamp,
    ) -> Result<(), AppError> {
        let evidence: Evidence = serde_json::from_slice(&stored.evidence)
            .map_err(|e| AppError::Inconsistent(format!("decision {}: {e}", stored.hash)))?;
        for (i, action) in evidence.decision.actions.iter().enumerate() {
            let key = format!("proposal-{}-decided-{i}", stored.proposal_id);
            self.run_action(community, &key, action, Some(stored), at)
                .await?;
        }
        self.store
            .mark_decision_executed(community.id, stored.proposal_id, at)
            .await?;
        self.metrics.policy_decisions_executed.inc();
        Ok(())
    }

    /// Stores the proposal's vote intent (once: it is keyed by the proposal) and wakes the voting
    /// worker, which starts it, retries it, and re-reads it until it closes. Returns why, when the
    /// backend can never run this vote (the scheduler then fails the proposal).
    pub(super) async fn store_vote_intent(
        &self,
        community: &LiveCommunity,
        proposal_id: i64,
        backend: &str,
        request: &crate::voting::VoteRequest,
        at: Timestamp,
    ) -> Result<Option<String>, AppError> {
        let key = intent_key(community.id, proposal_id);
        if self.store.vote_by_intent(&key).await?.is_some() {
            return Ok(None);
        }
        let registered = match self.backends.backend(community.id, backend).await {
            Ok(registered) => registered,
            Err(e @ AppError::Platform(_)) => {
                tracing::warn!(community = %community.community.slug, proposal = proposal_id,
                error = %e, "the proposal's vote cannot start yet; retried on the next tick");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if let Err(reason) = (registered.check)(request, at) {
            tracing::error!(community = %community.community.slug, proposal = proposal_id,
            %reason, "the policy's vote cannot run on its backend");
            return Ok(Some(format!("{backend} cannot run this vote: {reason}")));
        }
        let stored = self
            .store
            .insert_vote(&NewVote {
                community_id: community.id,
                backend: registered.backend.name(),
                intent_key: &key,
                request,
                at,
                next_attempt_at: at,
            })
            .await;
        match stored {
            Ok(vote) => {
                tracing::info!(
                    proposal = proposal_id,
                    vote = vote.id,
                    backend,
                    "proposal's vote stored"
                );
                self.votes.doorbell().ring();
                Ok(None)
            }
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Before a proposal is superseded: cancels its vote if it has not started (the voting worker
    /// then never starts it), and attaches it if it started, so the decision closes it.
    pub(super) async fn settle_vote(
        &self,
        community: &LiveCommunity,
        stored: &StoredProposal,
    ) -> Result<(Proposal, Option<VoteRecord>), AppError> {
        let mut proposal = stored.proposal.clone();
        let key = intent_key(community.id, stored.id);
        let Some(mut vote) = self.store.vote_by_intent(&key).await? else {
            return Ok((proposal, None));
        };
        if vote.state == Lifecycle::Starting {
            match self.votes.close(community, vote.id).await {
                Ok(outcome) => vote = outcome.vote,
                Err(e @ AppError::Store(_)) => return Err(e),
                Err(e) => tracing::warn!(community = %community.community.slug, vote = vote.id,
                error = %e, "cancelling the superseded proposal's vote failed"),
            }
        }
        if proposal.vote.is_none()
            && let Some(external_id) = vote.external_id.clone()
        {
            let handle = VoteHandle {
                backend: vote.backend.clone(),
                external_id,
                url: vote.url.clone(),
            };
            match self.store.attach_vote(stored.id, &handle).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            proposal.vote = Some(handle);
        }
        Ok((proposal, Some(vote)))
    }
}
