//! The scheduler's steps on open proposals: attach a started vote and tell the member, evaluate
//! the proposal on the vote's latest reading, record the decision and carry out its actions.
//! Each step is found again from the store, and each effect is idempotent.

use std::collections::BTreeMap;

use crate::app::LiveCommunity;
use crate::domain::{PlatformUser, Timestamp};
use crate::http::AppState;
use crate::policy::{
    self, Evaluation, Evidence, Opening, PolicyVersion, Proposal, VoteFacts, VoterStanding,
};
use crate::store::{StoreError, StoredDecision, StoredProposal, VoteRecord};
use crate::telemetry::Metrics;
use crate::voting::lifecycle::Lifecycle;
use crate::voting::{VoteHandle, VoteState};

use super::effects::run_action;
use super::ending::{Unstarted, fail_unstarted};
use super::opening::store_vote_intent;

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

/// The key of a proposal's vote intent: one vote per proposal, however often it is asked for.
pub(super) fn intent_key(community_id: i64, proposal_id: i64) -> String {
    format!("policy-{community_id}-proposal-{proposal_id}")
}

pub(super) fn engine_error(e: policy::EngineError) -> StoreError {
    StoreError::Corrupt(format!("the stored policies cannot run: {e}"))
}

/// Moves a community's open proposals on at `at`, then carries out its pending decisions.
pub async fn advance_community(
    state: &AppState,
    community: &LiveCommunity,
    at: Timestamp,
) -> Result<PassSummary, StoreError> {
    let mut summary = PassSummary::default();
    let open = state.store.open_proposals(community.id).await?;
    if !open.is_empty() {
        let policies = state.store.policies(community.id).await?;
        for stored in open {
            let Some(version) = policies.version(stored.proposal.policy_version) else {
                return Err(StoreError::Corrupt(format!(
                    "proposal {} cites policy version {}, which is not stored",
                    stored.id, stored.proposal.policy_version
                )));
            };
            match advance_proposal(state, community, stored, version, at).await {
                Ok(step) => summary.add(step),
                Err(e) => tracing::error!(community = %community.community.slug, error = %e,
                    "moving a proposal on failed; retried on the next tick"),
            }
        }
    }
    for decision in state.store.unexecuted_decisions(community.id).await? {
        let proposal = decision.proposal_id;
        match execute(state, community, &decision, at).await {
            Ok(()) => summary.executed += 1,
            Err(e) => tracing::error!(community = %community.community.slug, proposal,
                error = %e, "carrying out a decision failed; retried on the next tick"),
        }
    }
    Ok(summary)
}

async fn advance_proposal(
    state: &AppState,
    community: &LiveCommunity,
    stored: StoredProposal,
    version: &PolicyVersion,
    at: Timestamp,
) -> Result<PassSummary, StoreError> {
    let mut summary = PassSummary::default();
    let key = intent_key(community.id, stored.id);
    let Some(vote) = state.store.vote_by_intent(&key).await? else {
        // Opened, but its intent was not stored (a crash, or no backend then): store it now.
        if let Opening::Vote {
            backend, request, ..
        } = policy::open(
            version,
            stored.proposal.subject.clone(),
            stored.proposal.opened_at,
        )
        .map_err(engine_error)?
        {
            let refusal =
                store_vote_intent(state, community, stored.id, &backend, &request, at).await?;
            if let Some(detail) = refusal
                && fail_unstarted(
                    state,
                    community,
                    &stored,
                    version,
                    Unstarted::Refused(detail),
                    at,
                )
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
        if fail_unstarted(state, community, &stored, version, why, at).await? {
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
        for (i, action) in policy::opened(version, &proposal)
            .map_err(engine_error)?
            .iter()
            .enumerate()
        {
            let key = format!("proposal-{}-open-{i}", stored.id);
            run_action(state, community, &key, action, None, at).await?;
        }
        match state.store.attach_vote(stored.id, &handle).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        tracing::info!(
            proposal = stored.id,
            vote = vote.id,
            "vote attached; member told"
        );
        summary.attached += 1;
    }
    let facts = facts(state, community.id, &vote).await?;
    match policy::evaluate(version, &proposal, &facts, at).map_err(engine_error)? {
        Evaluation::Pending => {}
        Evaluation::Decided(decision) => {
            if decide(
                state,
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

/// The facts of a vote now: its latest stored reading, and each voter's standing in the registry.
pub(super) async fn facts(
    state: &AppState,
    community_id: i64,
    vote: &VoteRecord,
) -> Result<VoteFacts, StoreError> {
    let Some(reading) = state.store.latest_reading(vote.id).await? else {
        return Ok(VoteFacts {
            ballots: Vec::new(),
            voters: Vec::new(),
            closed_on_platform: false,
            raw: serde_json::Value::Null,
        });
    };
    let mut voters = BTreeMap::new();
    for ballot in &reading.ballots {
        let voter = &ballot.voter;
        let user = PlatformUser {
            platform: voter.platform.clone(),
            user_id: voter.user_id.clone(),
        };
        let (trust_level, groups) = state
            .store
            .standing(community_id, &user)
            .await?
            .unwrap_or_default();
        voters.insert(
            (voter.platform.clone(), voter.user_id.clone()),
            VoterStanding {
                voter: voter.clone(),
                trust_level,
                groups,
            },
        );
    }
    Ok(VoteFacts {
        ballots: reading.ballots,
        voters: voters.into_values().collect(),
        closed_on_platform: matches!(reading.state, VoteState::Closed { .. }),
        raw: serde_json::from_str(&reading.raw)
            .map_err(|e| StoreError::Corrupt(format!("vote {} reading: {e}", vote.id)))?,
    })
}

/// Records a decision with its evidence and carries it out; `false` when it was decided already
/// (its actions are then carried out by the pending-decisions step).
#[allow(clippy::too_many_arguments)]
pub(super) async fn decide(
    state: &AppState,
    community: &LiveCommunity,
    proposal_id: i64,
    proposal: Proposal,
    version: &PolicyVersion,
    facts: Option<VoteFacts>,
    at: Timestamp,
    decision: policy::Decision,
) -> Result<bool, StoreError> {
    let evidence = Evidence::new(
        community.community.slug.clone(),
        u64::try_from(proposal_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        proposal,
        version,
        facts,
        at,
        decision,
    );
    let stored = match state
        .store
        .record_decision(community.id, proposal_id, &evidence)
        .await
    {
        Ok(stored) => stored,
        Err(StoreError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    tracing::info!(community = %community.community.slug, proposal = proposal_id,
        outcome = stored.outcome.as_str(), reason = %stored.reason, hash = %stored.hash,
        "proposal decided");
    Metrics::count(&state.metrics.policy_decisions, stored.outcome.as_str());
    execute(state, community, &stored, at).await?;
    Ok(true)
}

/// Carries out a stored decision's actions, in order, then marks it carried out.
async fn execute(
    state: &AppState,
    community: &LiveCommunity,
    stored: &StoredDecision,
    at: Timestamp,
) -> Result<(), StoreError> {
    let evidence: Evidence = serde_json::from_slice(&stored.evidence)
        .map_err(|e| StoreError::Corrupt(format!("decision {}: {e}", stored.hash)))?;
    for (i, action) in evidence.decision.actions.iter().enumerate() {
        let key = format!("proposal-{}-decided-{i}", stored.proposal_id);
        run_action(state, community, &key, action, Some(stored), at).await?;
    }
    state
        .store
        .mark_decision_executed(community.id, stored.proposal_id, at)
        .await?;
    state.metrics.policy_decisions_executed.inc();
    Ok(())
}
