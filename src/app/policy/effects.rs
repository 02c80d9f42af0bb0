//! Carrying out one action of a decision (or of a vote's opening): tell the member, close the
//! vote, change a pool or the split, adopt a policy. Every effect is idempotent: messages are
//! keyed, and a pool change that is already applied changes nothing.

use crate::app::LiveCommunity;
use crate::app::actions::enqueue_private_message;
use crate::domain::{Cause, Pool, Timestamp};
use crate::http::AppState;
use crate::policy::Action;
use crate::store::{StoreError, StoredDecision};

use super::steps::intent_key;

/// Runs one action; `decision` is the stored decision it follows from, if any.
pub(super) async fn run_action(
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
