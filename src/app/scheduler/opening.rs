//! Opening proposals: a platform wallet change, a proposed policy version or an admin's request
//! becomes a proposal under the policy in force; a rule with a vote stores the vote's intent (the
//! voting worker starts it), a rule without one decides at once. Each proposal is found again by
//! its subject and opening time, so a repeat opens nothing twice.

use super::Scheduler;
use super::steps::PassSummary;
use crate::app::{AppError, LiveCommunity};
use crate::domain::Timestamp;
use crate::policy::{self, Opening, RequestedChange, Subject};

impl Scheduler {
    /// Opens (or finds again) the proposal to adopt `source` as a new version of its policy, under
    /// the constitution in force; returns its id (`None` when no policy answers policy changes).
    pub async fn propose_policy_change(
        &self,
        community: &LiveCommunity,
        policy: &policy::Policy,
        source: String,
        at: Timestamp,
    ) -> Result<Option<i64>, AppError> {
        let subject = Subject::PolicyChange {
            policy: policy.name().clone(),
            source,
        };
        let (id, _) = self.open(community, subject, at, at).await?;
        self.doorbell.ring();
        Ok(id)
    }

    /// Opens (or finds again) the proposal to carry out an admin's request, under the policy in force
    /// that answers admin requests (the constitution, by default); returns its id (`None` when no
    /// policy answers them, and then nothing is stored).
    pub async fn request_change(
        &self,
        community: &LiveCommunity,
        note: String,
        change: RequestedChange,
        at: Timestamp,
    ) -> Result<Option<i64>, AppError> {
        let (id, _) = self
            .open(community, Subject::AdminRequest { note, change }, at, at)
            .await?;
        self.doorbell.ring();
        Ok(id)
    }

    /// Opens (or finds again) the proposal about `subject` under the policy in force.
    pub(super) async fn open(
        &self,
        community: &LiveCommunity,
        subject: Subject,
        opened_at: Timestamp,
        at: Timestamp,
    ) -> Result<(Option<i64>, PassSummary), AppError> {
        let mut summary = PassSummary::default();
        let policies = self.store.policies(community.id).await?;
        let Some(version) = policies.for_trigger(subject.kind()) else {
            tracing::warn!(community = %community.community.slug, trigger = subject.kind().as_str(),
            "no policy in force answers this trigger; nothing happens");
            return Ok((None, summary));
        };
        let opening = policy::open(version, subject.clone(), opened_at)?;
        let proposal = match &opening {
            Opening::Vote { proposal, .. } | Opening::Decided { proposal, .. } => proposal,
        };
        let id = match self
            .store
            .proposal_about(community.id, &subject, opened_at)
            .await?
        {
            Some(found) => found.id,
            None => {
                let id = self.store.open_proposal(community.id, proposal).await?;
                tracing::info!(community = %community.community.slug, proposal = id,
                trigger = subject.kind().as_str(), policy_version = version.version,
                "proposal opened");
                self.metrics.policy_proposals_opened.inc();
                summary.opened += 1;
                id
            }
        };
        match opening {
            Opening::Vote {
                backend, request, ..
            } => {
                // A vote its backend can never run fails the proposal on the next pass.
                self.store_vote_intent(community, id, &backend, &request, at)
                    .await?;
            }
            Opening::Decided { proposal, decision } => {
                if self
                    .decide(community, id, proposal, version, None, at, decision)
                    .await?
                {
                    summary.decided += 1;
                }
            }
        }
        Ok((Some(id), summary))
    }
}
