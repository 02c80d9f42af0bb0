//! Opening proposals: a platform wallet change, a proposed policy version or an admin's request
//! becomes a proposal under the policy in force; a rule with a vote stores the vote's intent (the
//! voting worker starts it), a rule without one decides at once. Each proposal is found again by
//! its subject and opening time, so a repeat opens nothing twice.

use crate::app::LiveCommunity;
use crate::app::backends::{RegistryError, voting_backend};
use crate::domain::Timestamp;
use crate::http::AppState;
use crate::policy::{self, Opening, RequestedChange, Subject};
use crate::store::{NewVote, PendingWalletChange, StoreError};

use super::ending::supersede_open;
use super::steps::{PassSummary, decide, engine_error, intent_key};

/// Wallet changes handled per store query.
const BATCH: i64 = 100;

/// Handles each wallet change not handled yet, at the change's recorded time (so a replay finds
/// the same proposal). A change that cannot be handled now is logged and left for the next pass,
/// without holding up the others.
pub async fn handle_wallet_changes(
    state: &AppState,
    at: Timestamp,
) -> Result<PassSummary, StoreError> {
    let mut summary = PassSummary::default();
    let mut after = 0;
    loop {
        let changes = state.store.pending_wallet_changes(after, BATCH).await?;
        let Some(last) = changes.last() else {
            return Ok(summary);
        };
        after = last.id;
        for change in changes {
            let Some(community) = state.snapshots.by_id(change.community_id) else {
                tracing::error!(
                    change = change.id,
                    community = change.community_id,
                    "a wallet change names a community that is not loaded"
                );
                continue;
            };
            let proposal_id = match handle_change(state, &community, &change, at).await {
                Ok((id, step)) => {
                    summary.add(step);
                    id
                }
                Err(StoreError::Database(e)) => return Err(StoreError::Database(e)),
                Err(e) => {
                    tracing::error!(community = %community.community.slug,
                        change = change.id, error = %e,
                        "the wallet change cannot be handled; retried next pass");
                    continue;
                }
            };
            state
                .store
                .mark_wallet_change_handled(&change, proposal_id, at)
                .await?;
        }
    }
}

/// Handles one wallet change: the member's older wallet proposals are moot, so they fail first
/// (a late approval never adds a wallet the member dropped); then a platform's change opens its
/// own proposal, while an admin's opens none. Returns the proposal it opened, if any.
async fn handle_change(
    state: &AppState,
    community: &LiveCommunity,
    change: &PendingWalletChange,
    at: Timestamp,
) -> Result<(Option<i64>, PassSummary), StoreError> {
    let mut summary = PassSummary::default();
    let Some(subject) = Subject::of_wallet_change(
        change.member.clone(),
        change.from.clone(),
        change.to.clone(),
    ) else {
        return Ok((None, summary));
    };
    summary.decided += supersede_open(state, community, &subject, change.recorded_at).await?;
    if change.by_admin {
        return Ok((None, summary));
    }
    let (id, opened) = open(state, community, subject, change.recorded_at, at).await?;
    summary.add(opened);
    Ok((id, summary))
}

/// Opens (or finds again) the proposal to adopt `source` as a new version of its policy, under
/// the constitution in force; returns its id (`None` when no policy answers policy changes).
pub async fn propose_policy_change(
    state: &AppState,
    community: &LiveCommunity,
    policy: &policy::Policy,
    source: String,
    at: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let subject = Subject::PolicyChange {
        policy: policy.name().clone(),
        source,
    };
    let (id, _) = open(state, community, subject, at, at).await?;
    state.scheduler.wake();
    Ok(id)
}

/// Opens (or finds again) the proposal to carry out an admin's request, under the policy in force
/// that answers admin requests (the constitution, by default); returns its id (`None` when no
/// policy answers them, and then nothing is stored).
pub async fn request_change(
    state: &AppState,
    community: &LiveCommunity,
    note: String,
    change: RequestedChange,
    at: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let (id, _) = open(
        state,
        community,
        Subject::AdminRequest { note, change },
        at,
        at,
    )
    .await?;
    state.scheduler.wake();
    Ok(id)
}

/// Opens (or finds again) the proposal about `subject` under the policy in force.
async fn open(
    state: &AppState,
    community: &LiveCommunity,
    subject: Subject,
    opened_at: Timestamp,
    at: Timestamp,
) -> Result<(Option<i64>, PassSummary), StoreError> {
    let mut summary = PassSummary::default();
    let policies = state.store.policies(community.id).await?;
    let Some(version) = policies.for_trigger(subject.kind()) else {
        tracing::warn!(community = %community.community.slug, trigger = subject.kind().as_str(),
            "no policy in force answers this trigger; nothing happens");
        return Ok((None, summary));
    };
    let opening = policy::open(version, subject.clone(), opened_at).map_err(engine_error)?;
    let proposal = match &opening {
        Opening::Vote { proposal, .. } | Opening::Decided { proposal, .. } => proposal,
    };
    let id = match state
        .store
        .proposal_about(community.id, &subject, opened_at)
        .await?
    {
        Some(found) => found.id,
        None => {
            let id = state.store.open_proposal(community.id, proposal).await?;
            tracing::info!(community = %community.community.slug, proposal = id,
                trigger = subject.kind().as_str(), policy_version = version.version,
                "proposal opened");
            state.metrics.policy_proposals_opened.inc();
            summary.opened += 1;
            id
        }
    };
    match opening {
        Opening::Vote {
            backend, request, ..
        } => {
            // A vote its backend can never run fails the proposal on the next pass.
            store_vote_intent(state, community, id, &backend, &request, at).await?;
        }
        Opening::Decided { proposal, decision } => {
            if decide(state, community, id, proposal, version, None, at, decision).await? {
                summary.decided += 1;
            }
        }
    }
    Ok((Some(id), summary))
}

/// Stores the proposal's vote intent (once: it is keyed by the proposal) and wakes the voting
/// worker, which starts it, retries it, and re-reads it until it closes. Returns why, when the
/// backend can never run this vote (the scheduler then fails the proposal).
pub(super) async fn store_vote_intent(
    state: &AppState,
    community: &LiveCommunity,
    proposal_id: i64,
    backend: &str,
    request: &crate::voting::VoteRequest,
    at: Timestamp,
) -> Result<Option<String>, StoreError> {
    let key = intent_key(community.id, proposal_id);
    if state.store.vote_by_intent(&key).await?.is_some() {
        return Ok(None);
    }
    let registered = match voting_backend(state, community.id, backend).await {
        Ok(registered) => registered,
        Err(RegistryError::Store(e)) => return Err(e),
        Err(e) => {
            tracing::warn!(community = %community.community.slug, proposal = proposal_id,
                error = %e, "the proposal's vote cannot start yet; retried on the next tick");
            return Ok(None);
        }
    };
    if let Err(reason) = (registered.check)(request, at) {
        tracing::error!(community = %community.community.slug, proposal = proposal_id,
            %reason, "the policy's vote cannot run on its backend");
        return Ok(Some(format!("{backend} cannot run this vote: {reason}")));
    }
    let stored = state
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
            state.voting.wake();
            Ok(None)
        }
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
