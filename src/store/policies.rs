//! The policy engine's record: policy versions (append-only, numbered community-wide), proposals
//! (what triggered them, the version and rule they run under, their vote), every evaluation that
//! changed a proposal's state, and decisions with their canonical evidence and its hash.
//!
//! Adoption re-checks the set in force inside the writing transaction, so the store never holds
//! policies that conflict or that could no longer be changed.

use alloy_primitives::B256;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{Cause, PolicyName, RuleName, Timestamp};
use crate::policy::{Evidence, Outcome, Policies, Policy, PolicyError, PolicyVersion, Proposal};
use crate::voting::VoteHandle;

use super::{Store, StoreError, corrupt, is_unique_violation};

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalState {
    /// Not decided yet.
    Open,
    /// Decided: passed.
    Passed,
    /// Decided: failed.
    Failed,
}

impl ProposalState {
    /// The state's name in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Open => "open",
            ProposalState::Passed => "passed",
            ProposalState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "open" => Ok(ProposalState::Open),
            "passed" => Ok(ProposalState::Passed),
            "failed" => Ok(ProposalState::Failed),
            other => Err(corrupt("proposal state", other)),
        }
    }
}

impl From<Outcome> for ProposalState {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Passed => ProposalState::Passed,
            Outcome::Failed => ProposalState::Failed,
        }
    }
}

/// A proposal as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProposal {
    /// Its id, which evidence and messages cite.
    pub id: i64,
    /// The proposal, with its vote once started.
    pub proposal: Proposal,
    /// Where it stands.
    pub state: ProposalState,
}

/// One recorded change of a proposal's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluationRecord {
    /// The state it changed to.
    pub state: ProposalState,
    /// Why, in words.
    pub reason: String,
    /// The recorded time of the evaluation.
    pub evaluated_at: Timestamp,
}

/// A decision as stored, with the exact bytes its hash is taken over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDecision {
    /// The proposal it decided.
    pub proposal_id: i64,
    /// The policy version that decided it.
    pub policy_version: u64,
    /// Passed or failed.
    pub outcome: Outcome,
    /// Why, in words.
    pub reason: String,
    /// keccak256 of `evidence`: the report's `decisionHash`.
    pub hash: B256,
    /// The canonical evidence bytes.
    pub evidence: Vec<u8>,
    /// The recorded time of the deciding evaluation.
    pub decided_at: Timestamp,
}

pub(super) const PROPOSAL_COLUMNS: &str = "id, policy_version, policy, rule, subject, opened_at_ms, \
     vote_backend, vote_id, vote_url, state";

pub(super) fn proposal_from_row(row: &AnyRow) -> Result<StoredProposal, StoreError> {
    let version: i64 = row.try_get("policy_version")?;
    let policy: String = row.try_get("policy")?;
    let rule: String = row.try_get("rule")?;
    let subject: String = row.try_get("subject")?;
    let backend: Option<String> = row.try_get("vote_backend")?;
    let vote_id: Option<String> = row.try_get("vote_id")?;
    let url: Option<String> = row.try_get("vote_url")?;
    let state: String = row.try_get("state")?;
    Ok(StoredProposal {
        id: row.try_get("id")?,
        proposal: Proposal {
            policy_version: u64::try_from(version).map_err(|e| corrupt("policy version", e))?,
            policy: PolicyName::parse(&policy).map_err(|e| corrupt("policy name", e))?,
            rule: RuleName::parse(&rule).map_err(|e| corrupt("rule name", e))?,
            subject: serde_json::from_str(&subject).map_err(|e| corrupt("proposal subject", e))?,
            opened_at: Timestamp(row.try_get("opened_at_ms")?),
            vote: backend
                .zip(vote_id)
                .map(|(backend, external_id)| VoteHandle {
                    backend,
                    external_id,
                    url,
                }),
        },
        state: ProposalState::parse(&state)?,
    })
}

pub(super) fn decision_from_row(row: &AnyRow) -> Result<StoredDecision, StoreError> {
    let version: i64 = row.try_get("policy_version")?;
    let outcome: String = row.try_get("outcome")?;
    let hash: String = row.try_get("hash")?;
    let evidence: String = row.try_get("evidence")?;
    Ok(StoredDecision {
        proposal_id: row.try_get("proposal_id")?,
        policy_version: u64::try_from(version).map_err(|e| corrupt("policy version", e))?,
        outcome: match outcome.as_str() {
            "passed" => Outcome::Passed,
            "failed" => Outcome::Failed,
            other => return Err(corrupt("decision outcome", other)),
        },
        reason: row.try_get("reason")?,
        hash: hash.parse().map_err(|e| corrupt("decision hash", e))?,
        evidence: evidence.into_bytes(),
        decided_at: Timestamp(row.try_get("decided_at_ms")?),
    })
}

impl Store {
    /// Every policy version of a community, read and checked again.
    pub async fn policies(&self, community_id: i64) -> Result<Policies, StoreError> {
        let rows = sqlx::query(
            "SELECT version, source FROM policy_versions WHERE community_id = $1 ORDER BY version",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?;
        policies_from_rows(&rows)
    }

    /// Adopts `sources` in order as the next versions: all together as the first policies of a
    /// community that has none (the set must then be coherent as a whole), otherwise one after
    /// another, each checked against the set in force. Either all are adopted or none.
    pub async fn adopt_policies(
        &self,
        community_id: i64,
        sources: &[&str],
        cause: &Cause,
        at: Timestamp,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let rows = sqlx::query(
            "SELECT version, source FROM policy_versions WHERE community_id = $1 ORDER BY version",
        )
        .bind(community_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut policies = policies_from_rows(&rows)?;
        let known = policies.versions().len();
        if known == 0 {
            let parsed = sources
                .iter()
                .map(|s| Policy::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            policies = Policies::bootstrap(parsed)?;
        } else {
            for source in sources {
                policies.adopt(source)?;
            }
        }
        let cause_json = serde_json::to_string(cause).expect("a cause always serialises");
        let added = policies.versions()[known..].to_vec();
        for version in &added {
            sqlx::query(
                "INSERT INTO policy_versions (community_id, version, policy, source, source_hash, \
                   cause_kind, cause, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(community_id)
            .bind(version.version as i64)
            .bind(version.policy.name().as_str())
            .bind(version.policy.source())
            .bind(version.policy.source_hash().to_string())
            .bind(cause.kind())
            .bind(&cause_json)
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("the policy versions".into())
                } else {
                    e.into()
                }
            })?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Records a newly opened proposal (with its vote, if already started) and its first
    /// evaluation record; returns its id.
    pub async fn open_proposal(
        &self,
        community_id: i64,
        proposal: &Proposal,
    ) -> Result<i64, StoreError> {
        let subject =
            serde_json::to_string(&proposal.subject).expect("a subject always serialises");
        let vote = proposal.vote.as_ref();
        let mut tx = self.write_transaction().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO proposals (community_id, policy_version, policy, rule, trigger_kind, \
               subject, opened_at_ms, vote_backend, vote_id, vote_url, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open') RETURNING id",
        )
        .bind(community_id)
        .bind(proposal.policy_version as i64)
        .bind(proposal.policy.as_str())
        .bind(proposal.rule.as_str())
        .bind(proposal.subject.kind().as_str())
        .bind(&subject)
        .bind(proposal.opened_at.millis())
        .bind(vote.map(|v| v.backend.clone()))
        .bind(vote.map(|v| v.external_id.clone()))
        .bind(vote.and_then(|v| v.url.clone()))
        .fetch_one(&mut *tx)
        .await?;
        insert_evaluation(
            &mut tx,
            id,
            ProposalState::Open,
            &format!(
                "opened by {} under policy version {}",
                proposal.subject.kind().as_str(),
                proposal.policy_version
            ),
            proposal.opened_at,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records the vote started for a proposal; a proposal's vote is set once.
    pub async fn attach_vote(&self, proposal_id: i64, vote: &VoteHandle) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE proposals SET vote_backend = $1, vote_id = $2, vote_url = $3 \
             WHERE id = $4 AND vote_id IS NULL",
        )
        .bind(&vote.backend)
        .bind(&vote.external_id)
        .bind(vote.url.clone())
        .bind(proposal_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict(format!(
                "the vote of proposal {proposal_id}"
            )));
        }
        Ok(())
    }

    /// A proposal by id.
    pub async fn proposal(&self, proposal_id: i64) -> Result<Option<StoredProposal>, StoreError> {
        let sql = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(proposal_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(proposal_from_row).transpose()
    }

    /// A proposal of one community by id: what an admin reads back (another community's
    /// proposal is `None`).
    pub async fn community_proposal(
        &self,
        community_id: i64,
        proposal_id: i64,
    ) -> Result<Option<StoredProposal>, StoreError> {
        let sql =
            format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1 AND community_id = $2");
        let row = sqlx::query(&sql)
            .bind(proposal_id)
            .bind(community_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(proposal_from_row).transpose()
    }

    /// The decision of a proposal, once decided.
    pub async fn decision_of(
        &self,
        proposal_id: i64,
    ) -> Result<Option<StoredDecision>, StoreError> {
        let row = sqlx::query(
            "SELECT proposal_id, policy_version, outcome, reason, hash, evidence, decided_at_ms \
             FROM decisions WHERE proposal_id = $1",
        )
        .bind(proposal_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decision_from_row).transpose()
    }

    /// A community's proposals not decided yet, oldest first: what the scheduler re-evaluates.
    pub async fn open_proposals(
        &self,
        community_id: i64,
    ) -> Result<Vec<StoredProposal>, StoreError> {
        let sql = format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals \
             WHERE community_id = $1 AND state = 'open' ORDER BY id"
        );
        sqlx::query(&sql)
            .bind(community_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(proposal_from_row)
            .collect()
    }

    /// Every recorded state change of a proposal, oldest first.
    pub async fn proposal_evaluations(
        &self,
        proposal_id: i64,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        sqlx::query(
            "SELECT state, reason, evaluated_at_ms FROM proposal_evaluations \
             WHERE proposal_id = $1 ORDER BY id",
        )
        .bind(proposal_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            Ok(EvaluationRecord {
                state: ProposalState::parse(&state)?,
                reason: row.try_get("reason")?,
                evaluated_at: Timestamp(row.try_get("evaluated_at_ms")?),
            })
        })
        .collect()
    }

    /// Records a decision with its evidence, the proposal's new state and the evaluation that
    /// changed it, in one transaction. A proposal is decided once: a second decision is a
    /// conflict and changes nothing.
    pub async fn record_decision(
        &self,
        community_id: i64,
        proposal_id: i64,
        evidence: &Evidence,
    ) -> Result<StoredDecision, StoreError> {
        let bytes = evidence.to_bytes();
        let decision = StoredDecision {
            proposal_id,
            policy_version: evidence.policy.version,
            outcome: evidence.decision.outcome,
            reason: evidence.decision.reason(),
            hash: alloy_primitives::keccak256(&bytes),
            evidence: bytes,
            decided_at: evidence.decided_at,
        };
        let text = String::from_utf8(decision.evidence.clone()).expect("canonical JSON is UTF-8");
        let state = ProposalState::from(decision.outcome);
        let mut tx = self.write_transaction().await?;
        let updated = sqlx::query(
            "UPDATE proposals SET state = $1 WHERE id = $2 AND community_id = $3 AND state = 'open'",
        )
        .bind(state.as_str())
        .bind(proposal_id)
        .bind(community_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict(format!(
                "proposal {proposal_id}, decided already or unknown"
            )));
        }
        sqlx::query(
            "INSERT INTO decisions (community_id, proposal_id, policy_version, outcome, reason, \
               hash, evidence, decided_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(community_id)
        .bind(proposal_id)
        .bind(decision.policy_version as i64)
        .bind(decision.outcome.as_str())
        .bind(&decision.reason)
        .bind(decision.hash.to_string())
        .bind(&text)
        .bind(decision.decided_at.millis())
        .execute(&mut *tx)
        .await?;
        insert_evaluation(
            &mut tx,
            proposal_id,
            state,
            &decision.reason,
            decision.decided_at,
        )
        .await?;
        tx.commit().await?;
        Ok(decision)
    }

    /// A decision by its hash, as an auditor asks for the evidence behind a report.
    pub async fn decision(&self, hash: &B256) -> Result<Option<StoredDecision>, StoreError> {
        let row = sqlx::query(
            "SELECT proposal_id, policy_version, outcome, reason, hash, evidence, decided_at_ms \
             FROM decisions WHERE hash = $1",
        )
        .bind(hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decision_from_row).transpose()
    }
}

/// What the transparency page shows of a decision beside the changes it caused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionLink {
    /// The decision's id: its evidence hash, as a change's cause names it.
    pub hash: String,
    /// Why it was decided so, in words.
    pub reason: String,
    /// The vote's page on its platform, when the decision came from a vote.
    pub vote_url: Option<String>,
}

impl Store {
    /// Every decision of a community with its vote's link: one query for a whole page, however
    /// many changes it lists.
    pub async fn decision_links(&self, community_id: i64) -> Result<Vec<DecisionLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.hash, d.reason, p.vote_url FROM decisions d \
             JOIN proposals p ON p.id = d.proposal_id \
             WHERE d.community_id = $1 ORDER BY d.id",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DecisionLink {
                    hash: row.try_get("hash")?,
                    reason: row.try_get("reason")?,
                    vote_url: row.try_get("vote_url")?,
                })
            })
            .collect()
    }
}

fn policies_from_rows(rows: &[AnyRow]) -> Result<Policies, StoreError> {
    let versions = rows
        .iter()
        .map(|row| {
            let version: i64 = row.try_get("version")?;
            let source: String = row.try_get("source")?;
            Ok(PolicyVersion {
                version: u64::try_from(version).map_err(|e| corrupt("policy version", e))?,
                policy: Policy::parse(&source).map_err(|e| corrupt("stored policy", e))?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Policies::from_versions(versions).map_err(|e: PolicyError| corrupt("stored policies", e))
}

async fn insert_evaluation(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    proposal_id: i64,
    state: ProposalState,
    reason: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO proposal_evaluations (proposal_id, state, reason, evaluated_at_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(proposal_id)
    .bind(state.as_str())
    .bind(reason)
    .bind(at.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
