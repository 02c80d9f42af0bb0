//! What a pass reads before it decides: the facts of a vote (its latest stored reading and each
//! voter's standing), and the keys that find a proposal's vote again.

use std::collections::BTreeMap;

use super::Scheduler;
use crate::app::AppError;
use crate::domain::PlatformUser;
use crate::policy::{VoteFacts, VoterStanding};
use crate::store::{StoredProposal, VoteRecord};
use crate::voting::VoteState;

/// The key of a proposal's vote intent: one vote per proposal, however often it is asked for.
pub(super) fn intent_key(community_id: i64, proposal_id: i64) -> String {
    format!("policy-{community_id}-proposal-{proposal_id}")
}

pub(super) fn missing_version(stored: &StoredProposal) -> AppError {
    AppError::Inconsistent(format!(
        "proposal {} cites policy version {}, which is not stored",
        stored.id, stored.proposal.policy_version
    ))
}

impl Scheduler {
    /// The facts of a vote now: its latest stored reading, and each voter's standing in the registry.
    pub(super) async fn facts(
        &self,
        community_id: i64,
        vote: &VoteRecord,
    ) -> Result<VoteFacts, AppError> {
        let Some(reading) = self.store.latest_reading(vote.id).await? else {
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
            let (trust_level, groups) = self
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
                .map_err(|e| AppError::Inconsistent(format!("vote {} reading: {e}", vote.id)))?,
        })
    }
}
