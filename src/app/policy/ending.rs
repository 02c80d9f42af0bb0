//! Ending open proposals without their vote's verdict (the decisions are the pure core's,
//! `policy::supersede`, `policy::refused` and `policy::cancelled`):
//!
//! - a newer change of a member's wallet supersedes their open wallet proposals before its own
//!   opens: a vote not started yet is cancelled, a started one is attached so the decision closes
//!   it, and the proposal fails, so a late approval can never add a wallet the member dropped;
//! - a vote the platform refused to start for good (the voting worker's give-up), that its
//!   backend can never run, or that an admin cancelled before it started, fails its proposal,
//!   and the policy's `on_fail` actions follow.
//!
//! Each decision is recorded once (a proposal is decided once) and carried out like any other.

use crate::app::LiveCommunity;
use crate::domain::Timestamp;
use crate::http::AppState;
use crate::policy::{self, PolicyVersion, Proposal, Subject};
use crate::store::{StoreError, StoredProposal, VoteRecord};
use crate::voting::VoteHandle;
use crate::voting::lifecycle::Lifecycle;

use super::steps::{decide, engine_error, facts, intent_key};

/// Fails the community's open proposals that `by`, a wallet change recorded at `at`, makes
/// moot; returns how many were decided.
pub(super) async fn supersede_open(
    state: &AppState,
    community: &LiveCommunity,
    by: &Subject,
    at: Timestamp,
) -> Result<usize, StoreError> {
    let moot: Vec<StoredProposal> = state
        .store
        .open_proposals(community.id)
        .await?
        .into_iter()
        .filter(|p| policy::is_superseded_by(&p.proposal, by, at))
        .collect();
    if moot.is_empty() {
        return Ok(0);
    }
    let policies = state.store.policies(community.id).await?;
    let mut decided = 0;
    for stored in moot {
        let version = policies
            .version(stored.proposal.policy_version)
            .ok_or_else(|| missing_version(&stored))?;
        let (proposal, vote) = settle_vote(state, community, &stored).await?;
        let facts = match &vote {
            Some(vote) => Some(facts(state, community.id, vote).await?),
            None => None,
        };
        let decision = policy::supersede(version, &proposal, by.clone()).map_err(engine_error)?;
        tracing::info!(community = %community.community.slug, proposal = stored.id,
            trigger = by.kind().as_str(), "proposal superseded by a newer wallet change");
        if decide(
            state, community, stored.id, proposal, version, facts, at, decision,
        )
        .await?
        {
            decided += 1;
        }
    }
    Ok(decided)
}

/// Fails an open proposal whose vote never ran: its platform refused to start it, or its backend
/// can never run it, for good (`Unstarted::Refused`), or an admin cancelled it before it started
/// (`Unstarted::Cancelled`); `at` is when that was recorded.
pub(super) async fn fail_unstarted(
    state: &AppState,
    community: &LiveCommunity,
    stored: &StoredProposal,
    version: &PolicyVersion,
    why: Unstarted,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let decision = match why {
        Unstarted::Refused(detail) => policy::refused(version, &stored.proposal, detail),
        Unstarted::Cancelled => policy::cancelled(version, &stored.proposal),
    }
    .map_err(engine_error)?;
    tracing::warn!(community = %community.community.slug, proposal = stored.id,
        reason = %decision.reason(), "the proposal's vote never ran; the proposal fails");
    decide(
        state,
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

/// Why a proposal's vote never ran.
pub(super) enum Unstarted {
    /// The platform refused to start it, or its backend can never run it; says why.
    Refused(String),
    /// It was cancelled through the voting API before it started.
    Cancelled,
}

/// Before a proposal is superseded: cancels its vote if it has not started (the voting worker
/// then never starts it), and attaches it if it started, so the decision closes it.
async fn settle_vote(
    state: &AppState,
    community: &LiveCommunity,
    stored: &StoredProposal,
) -> Result<(Proposal, Option<VoteRecord>), StoreError> {
    let mut proposal = stored.proposal.clone();
    let key = intent_key(community.id, stored.id);
    let Some(mut vote) = state.store.vote_by_intent(&key).await? else {
        return Ok((proposal, None));
    };
    if vote.state == Lifecycle::Starting {
        match crate::app::voting::close(state, community, vote.id).await {
            Ok(outcome) => vote = outcome.vote,
            Err(crate::app::voting::VoteActionError::Store(e)) => return Err(e),
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
        match state.store.attach_vote(stored.id, &handle).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        proposal.vote = Some(handle);
    }
    Ok((proposal, Some(vote)))
}

fn missing_version(stored: &StoredProposal) -> StoreError {
    StoreError::Corrupt(format!(
        "proposal {} cites policy version {}, which is not stored",
        stored.id, stored.proposal.policy_version
    ))
}
