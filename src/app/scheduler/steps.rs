//! The scheduler's steps on open proposals: attach a started vote and tell the member, evaluate
//! the proposal on the vote's latest reading, and fail one whose vote never ran (its platform
//! refused it for good, its backend can never run it, or an admin cancelled it before it started;
//! the policy's `on_fail` actions follow). Each step is found again from the store.

use super::Scheduler;
use super::read::intent_key;
use crate::app::{AppError, LiveCommunity};
use crate::domain::Timestamp;
use crate::policy::{self, Evaluation, Opening, PolicyVersion};
use crate::store::{StoreError, StoredProposal};
use crate::voting::VoteHandle;
use crate::voting::lifecycle::Lifecycle;

/// What one pass did, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassSummary {
    /// Proposals opened.
    pub opened: usize,
    /// Votes attached to their proposals, the member told.
    pub attached: usize,
    /// Proposals decided.
    pub decided: usize,
    /// Decisions carried out.
    pub executed: usize,
}

impl PassSummary {
    pub(super) fn add(&mut self, other: PassSummary) {
        self.opened += other.opened;
        self.attached += other.attached;
        self.decided += other.decided;
        self.executed += other.executed;
    }
}

impl Scheduler {
    /// Moves a community's open proposals on at `at`, then carries out its pending decisions.
    pub(super) async fn advance_community(
        &self,
        community: &LiveCommunity,
        at: Timestamp,
    ) -> Result<PassSummary, AppError> {
        let mut summary = PassSummary::default();
        let open = self.store.open_proposals(community.id).await?;
        if !open.is_empty() {
            let policies = self.store.policies(community.id).await?;
            for stored in open {
                let Some(version) = policies.version(stored.proposal.policy_version) else {
                    return Err(AppError::Inconsistent(format!(
                        "proposal {} cites policy version {}, which is not stored",
                        stored.id, stored.proposal.policy_version
                    )));
                };
                match self.advance_proposal(community, stored, version, at).await {
                    Ok(step) => summary.add(step),
                    Err(e) => tracing::error!(community = %community.community.slug, error = %e,
                    "moving a proposal on failed; retried on the next tick"),
                }
            }
        }
        for decision in self.store.unexecuted_decisions(community.id).await? {
            let proposal = decision.proposal_id;
            match self.execute(community, &decision, at).await {
                Ok(()) => summary.executed += 1,
                Err(e) => tracing::error!(community = %community.community.slug, proposal,
                error = %e, "carrying out a decision failed; retried on the next tick"),
            }
        }
        Ok(summary)
    }

    async fn advance_proposal(
        &self,
        community: &LiveCommunity,
        stored: StoredProposal,
        version: &PolicyVersion,
        at: Timestamp,
    ) -> Result<PassSummary, AppError> {
        let mut summary = PassSummary::default();
        let key = intent_key(community.id, stored.id);
        let Some(vote) = self.store.vote_by_intent(&key).await? else {
            // Opened, but its intent was not stored (a crash, or no backend then): store it now.
            if let Opening::Vote {
                backend, request, ..
            } = policy::open(
                version,
                stored.proposal.subject.clone(),
                stored.proposal.opened_at,
            )? {
                let refusal = self
                    .store_vote_intent(community, stored.id, &backend, &request, at)
                    .await?;
                if let Some(detail) = refusal
                    && self
                        .fail_unstarted(community, &stored, version, Unstarted::Refused(detail), at)
                        .await?
                {
                    summary.decided += 1;
                }
            }
            return Ok(summary);
        };
        let unstarted = match vote.state {
            Lifecycle::Failed => {
                Some(Unstarted::Refused(vote.last_error.clone().unwrap_or_else(
                    || format!("the {} vote failed to start", vote.backend),
                )))
            }
            Lifecycle::Cancelled => Some(Unstarted::Cancelled),
            _ => None,
        };
        if let (None, Some(why)) = (&stored.proposal.vote, unstarted) {
            let at = vote.updated_at.max(stored.proposal.opened_at);
            if self
                .fail_unstarted(community, &stored, version, why, at)
                .await?
            {
                summary.decided += 1;
            }
            return Ok(summary);
        }
        let mut proposal = stored.proposal;
        if proposal.vote.is_none() {
            let Some(external_id) = vote.external_id.clone() else {
                return Ok(summary);
            };
            let handle = VoteHandle {
                backend: vote.backend.clone(),
                external_id,
                url: vote.url.clone(),
            };
            proposal.vote = Some(handle.clone());
            // Tell the member first (keyed, so a repeat sends nothing), then attach: a crash between
            // the two repeats the message's key, not the message.
            for (i, action) in policy::opened(version, &proposal)?.iter().enumerate() {
                let key = format!("proposal-{}-open-{i}", stored.id);
                self.run_action(community, &key, action, None, at).await?;
            }
            match self.store.attach_vote(stored.id, &handle).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(
                proposal = stored.id,
                vote = vote.id,
                "vote attached; member told"
            );
            summary.attached += 1;
        }
        let facts = self.facts(community.id, &vote).await?;
        match policy::evaluate(version, &proposal, &facts, at)? {
            Evaluation::Pending => {}
            Evaluation::Decided(decision) => {
                if self
                    .decide(
                        community,
                        stored.id,
                        proposal,
                        version,
                        Some(facts),
                        at,
                        decision,
                    )
                    .await?
                {
                    summary.decided += 1;
                }
            }
        }
        Ok(summary)
    }

    /// Fails an open proposal whose vote never ran: its platform refused to start it, or its backend
    /// can never run it, for good (`Unstarted::Refused`), or an admin cancelled it before it started
    /// (`Unstarted::Cancelled`); `at` is when that was recorded.
    pub(super) async fn fail_unstarted(
        &self,
        community: &LiveCommunity,
        stored: &StoredProposal,
        version: &PolicyVersion,
        why: Unstarted,
        at: Timestamp,
    ) -> Result<bool, AppError> {
        let decision = match why {
            Unstarted::Refused(detail) => policy::refused(version, &stored.proposal, detail),
            Unstarted::Cancelled => policy::cancelled(version, &stored.proposal),
        }?;
        tracing::warn!(community = %community.community.slug, proposal = stored.id,
        reason = %decision.reason(), "the proposal's vote never ran; the proposal fails");
        self.decide(
            community,
            stored.id,
            stored.proposal.clone(),
            version,
            None,
            at,
            decision,
        )
        .await
    }
}

/// Why a proposal's vote never ran.
pub(super) enum Unstarted {
    /// The platform refused to start it, or its backend can never run it; says why.
    Refused(String),
    /// It was cancelled through the voting API before it started.
    Cancelled,
}
