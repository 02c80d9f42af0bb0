//! The scheduler's steps: open a proposal for a wallet change, attach its vote and tell the
//! member, evaluate it on the latest reading, record the decision, and carry out its actions.
//! Each step is found again from the store, and each effect is idempotent.

use std::collections::BTreeMap;

use crate::app::LiveCommunity;
use crate::app::actions::enqueue_private_message;
use crate::app::backends::{RegistryError, voting_backend};
use crate::domain::{Cause, PlatformUser, Pool, Timestamp};
use crate::http::AppState;
use crate::policy::{
    self, Action, Evaluation, Evidence, Opening, PolicyVersion, Proposal, Subject, VoteFacts,
    VoterStanding,
};
use crate::store::{NewVote, StoreError, StoredDecision, StoredProposal, VoteRecord};
use crate::voting::{VoteHandle, VoteState};

/// Wallet changes handled per store query.
const BATCH: i64 = 100;

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
fn intent_key(community_id: i64, proposal_id: i64) -> String {
    format!("policy-{community_id}-proposal-{proposal_id}")
}

fn engine_error(e: policy::EngineError) -> StoreError {
    StoreError::Corrupt(format!("the stored policies cannot run: {e}"))
}

/// Opens a proposal for each platform wallet change not handled yet, at the change's recorded
/// time (so a replay finds the same proposal). A change that cannot be handled now is logged and
/// left for the next pass, without holding up the others.
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
            let subject = Subject::of_wallet_change(
                change.member.clone(),
                change.from.clone(),
                change.to.clone(),
            );
            let proposal_id = match subject {
                Some(subject) => {
                    match open(state, &community, subject, change.recorded_at, at).await {
                        Ok((id, opened)) => {
                            summary.add(opened);
                            id
                        }
                        Err(StoreError::Database(e)) => return Err(StoreError::Database(e)),
                        Err(e) => {
                            tracing::error!(community = %community.community.slug,
                                change = change.id, error = %e,
                                "the wallet change cannot open a proposal; retried next pass");
                            continue;
                        }
                    }
                }
                None => None,
            };
            state
                .store
                .mark_wallet_change_handled(&change, proposal_id, at)
                .await?;
        }
    }
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
            summary.opened += 1;
            id
        }
    };
    match opening {
        Opening::Vote {
            backend, request, ..
        } => {
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
/// worker, which starts it, retries it, and re-reads it until it closes.
async fn store_vote_intent(
    state: &AppState,
    community: &LiveCommunity,
    proposal_id: i64,
    backend: &str,
    request: &crate::voting::VoteRequest,
    at: Timestamp,
) -> Result<(), StoreError> {
    let key = intent_key(community.id, proposal_id);
    if state.store.vote_by_intent(&key).await?.is_some() {
        return Ok(());
    }
    let registered = match voting_backend(state, community.id, backend).await {
        Ok(registered) => registered,
        Err(RegistryError::Store(e)) => return Err(e),
        Err(e) => {
            tracing::warn!(community = %community.community.slug, proposal = proposal_id,
                error = %e, "the proposal's vote cannot start yet; retried on the next tick");
            return Ok(());
        }
    };
    if let Err(reason) = (registered.check)(request, at) {
        tracing::error!(community = %community.community.slug, proposal = proposal_id,
            %reason, "the policy's vote cannot run on its backend");
        return Ok(());
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
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
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
            store_vote_intent(state, community, stored.id, &backend, &request, at).await?;
        }
        return Ok(summary);
    };
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
async fn facts(
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
async fn decide(
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
        .await
}

/// Runs one action; `decision` is the stored decision it follows from, if any.
async fn run_action(
    state: &AppState,
    community: &LiveCommunity,
    key: &str,
    action: &Action,
    decision: Option<&StoredDecision>,
    at: Timestamp,
) -> Result<(), StoreError> {
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
            if state.store.discourse_source(community.id).await?.is_none() {
                tracing::warn!(community = %slug, %member, key,
                    "no channel reaches the member (the community has no Discourse): not told");
                return Ok(());
            }
            match enqueue_private_message(state, community.id, key, member.as_str(), title, text)
                .await
            {
                Ok(_) => state.actions.wake(),
                Err(crate::app::actions::ActionError::Store(e)) => return Err(e),
                Err(e) => tracing::warn!(community = %slug, %member, error = %e,
                    "the message cannot be sent"),
            }
        }
        (Action::CloseVote { .. }, Some(_)) => {
            let Some(decision) = decision else {
                return Ok(());
            };
            let vote_key = intent_key(community.id, decision.proposal_id);
            if let Some(vote) = state.store.vote_by_intent(&vote_key).await? {
                match crate::app::voting::close(state, community, vote.id).await {
                    Ok(_) => {}
                    Err(crate::app::voting::VoteActionError::Store(e)) => return Err(e),
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
            let current = state.store.current_pool(community.id, name).await?;
            let base = match &current {
                Some(version) => version.pool.clone(),
                None => Pool::new(Vec::new())
                    .map_err(|e| StoreError::Corrupt(format!("an empty pool: {e}")))?,
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
            let version = match &state.oracle {
                Some(oracle) => {
                    let evidence = crate::oracle::Evidence::of(decision.evidence.clone());
                    state
                        .store
                        .append_reported_pool_version(
                            community.id,
                            slug,
                            name,
                            &pool,
                            cause,
                            at,
                            oracle,
                            Some((&evidence, decision.policy_version)),
                        )
                        .await?
                }
                None => {
                    state
                        .store
                        .append_pool_version(community.id, name, &pool, cause, at)
                        .await?
                }
            };
            tracing::info!(community = %slug, pool = %name, version = version.version,
                action = action.describe(), "pool changed by a decision");
            state.relayer.wake();
            refresh(state, community).await?;
        }
        (Action::SetSplit { rules }, Some(cause)) => {
            state
                .store
                .append_split_version(community.id, rules, cause, at)
                .await?;
            tracing::info!(community = %slug, "split changed by a decision");
            refresh(state, community).await?;
        }
        (Action::AdoptPolicy { policy, source }, Some(cause)) => {
            let policies = state.store.policies(community.id).await?;
            let adopted = policies
                .in_force()
                .any(|v| v.policy.name() == policy && v.policy.source() == source.as_str());
            if adopted {
                return Ok(());
            }
            match state
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
                Err(e) => return Err(e),
            }
        }
        (other, None) => tracing::warn!(community = %slug, action = other.describe(),
            "only a decision may do this; skipped"),
    }
    Ok(())
}

async fn refresh(state: &AppState, community: &LiveCommunity) -> Result<(), StoreError> {
    let row = crate::store::CommunityRow {
        id: community.id,
        community: community.community.clone(),
    };
    state.snapshots.refresh(&state.store, &row).await?;
    state.metrics.snapshot_swaps.inc();
    Ok(())
}
