//! A decision's evidence: everything needed to re-run it (the policy text and version, the
//! proposal, the vote's raw results as read from the platform, the ballots and each voter's standing
//! at closing, the recorded time) and what came of it, as canonical bytes whose keccak256 is the
//! decision's hash, the `decisionHash` of the oracle report that carries it.
//!
//! An auditor who fetches the bytes re-hashes them and calls [`Evidence::verify`], which re-reads
//! the policy and re-runs the engine: the decision must come out the same. That the ballots are
//! the ones in the raw documents is the auditor's check (`audit::check_ballots`), since reading a
//! platform's documents is not the policy's business. Voters' trust levels and groups are not in
//! the documents (Discourse's voters pages carry none): they are the member registry's at
//! closing, recorded here as they were.

use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::domain::{CommunitySlug, Timestamp};

use super::definition::Policy;
use super::engine::{
    self, Closing, Decision, Evaluation, Opening, PolicyVersion, Proposal, VoteFacts,
};

/// The evidence format's name and version, inside the bytes so that they say how to read them.
pub const EVIDENCE_FORMAT: &str = "revshare-oracle/decision-evidence/1";

/// The policy a decision was made under, whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRecord {
    /// The community-wide version number.
    pub version: u64,
    /// The policy's text, exactly as adopted.
    pub source: String,
    /// keccak256 of the text.
    pub source_hash: B256,
}

/// Everything a decision rests on, and the decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Always [`EVIDENCE_FORMAT`].
    pub format: String,
    /// The community.
    pub community: CommunitySlug,
    /// The proposal's id in the community's store.
    pub proposal_id: u64,
    /// The proposal.
    pub proposal: Proposal,
    /// The policy version it ran under.
    pub policy: PolicyRecord,
    /// The facts at closing; `None` for a rule without a vote.
    pub facts: Option<VoteFacts>,
    /// The recorded time of the evaluation that decided.
    pub decided_at: Timestamp,
    /// The decision.
    pub decision: Decision,
}

/// Why evidence does not hold up.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The bytes are not evidence of this format.
    #[error("the evidence cannot be read: {0}")]
    Unreadable(String),
    /// The bytes are evidence, but not in canonical form: their hash would not be reproducible.
    #[error("the evidence is not in canonical form")]
    NotCanonical,
    /// The policy text does not hash to the recorded hash.
    #[error("the policy text hashes to {found}, the evidence says {recorded}")]
    PolicyHash {
        /// What the evidence says.
        recorded: B256,
        /// What the text hashes to.
        found: B256,
    },
    /// The policy text no longer reads as a policy.
    #[error("the recorded policy cannot be read: {0}")]
    Policy(#[from] super::error::PolicyError),
    /// Re-running the engine failed.
    #[error("the engine cannot re-run the decision: {0}")]
    Engine(#[from] super::error::EngineError),
    /// Re-running the engine gave another decision.
    #[error("re-running the policy gives {found}, the evidence records {recorded}")]
    Differs {
        /// The recorded decision, in words.
        recorded: String,
        /// The re-run's, in words.
        found: String,
    },
}

impl Evidence {
    /// Evidence of a decision made under `policy` about proposal `proposal_id`.
    pub fn new(
        community: CommunitySlug,
        proposal_id: u64,
        proposal: Proposal,
        policy: &PolicyVersion,
        facts: Option<VoteFacts>,
        decided_at: Timestamp,
        decision: Decision,
    ) -> Self {
        Evidence {
            format: EVIDENCE_FORMAT.to_string(),
            community,
            proposal_id,
            proposal,
            policy: PolicyRecord {
                version: policy.version,
                source: policy.policy.source().to_string(),
                source_hash: policy.policy.source_hash(),
            },
            facts,
            decided_at,
            decision,
        }
    }

    /// The canonical bytes: JSON in UTF-8, object keys sorted by their bytes, no whitespace.
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("evidence always serialises");
        let mut out = Vec::new();
        write_canonical(&value, &mut out);
        out
    }

    /// keccak256 of the canonical bytes: the decision's hash.
    pub fn hash(&self) -> B256 {
        keccak256(self.to_bytes())
    }

    /// Reads evidence from its bytes, re-runs the engine on it, and returns it with its hash
    /// when the bytes are canonical, the policy text is the one recorded, and the decision comes
    /// out the same.
    pub fn verify(bytes: &[u8]) -> Result<(Evidence, B256), EvidenceError> {
        let evidence: Evidence =
            serde_json::from_slice(bytes).map_err(|e| EvidenceError::Unreadable(e.to_string()))?;
        if evidence.format != EVIDENCE_FORMAT {
            return Err(EvidenceError::Unreadable(format!(
                "format {:?}, expected {EVIDENCE_FORMAT:?}",
                evidence.format
            )));
        }
        if evidence.to_bytes() != bytes {
            return Err(EvidenceError::NotCanonical);
        }
        let found = keccak256(evidence.policy.source.as_bytes());
        if found != evidence.policy.source_hash {
            return Err(EvidenceError::PolicyHash {
                recorded: evidence.policy.source_hash,
                found,
            });
        }
        let policy = PolicyVersion {
            version: evidence.policy.version,
            policy: Policy::parse(&evidence.policy.source)?,
        };
        let rerun = match (&evidence.decision.closed_by, &evidence.facts) {
            (Some(Closing::Superseded { by }), _) => Some(super::ending::supersede(
                &policy,
                &evidence.proposal,
                (**by).clone(),
            )?),
            (Some(Closing::Refused { detail }), _) => Some(super::ending::refused(
                &policy,
                &evidence.proposal,
                detail.clone(),
            )?),
            (Some(Closing::Cancelled), _) => {
                Some(super::ending::cancelled(&policy, &evidence.proposal)?)
            }
            (_, Some(facts)) => {
                match engine::evaluate(&policy, &evidence.proposal, facts, evidence.decided_at)? {
                    Evaluation::Decided(decision) => Some(decision),
                    Evaluation::Pending => None,
                }
            }
            (_, None) => {
                let proposal = &evidence.proposal;
                match engine::open(&policy, proposal.subject.clone(), proposal.opened_at)? {
                    Opening::Decided {
                        decision,
                        proposal: reopened,
                    } if reopened == *proposal => Some(decision),
                    _ => None,
                }
            }
        };
        match rerun {
            Some(decision) if decision == evidence.decision => Ok((evidence, keccak256(bytes))),
            other => Err(EvidenceError::Differs {
                recorded: evidence.decision.reason(),
                found: other.map_or_else(|| "no decision".to_string(), |d| d.reason()),
            }),
        }
    }
}

/// Writes `value` as canonical JSON: keys sorted by their UTF-8 bytes, whatever order the map
/// keeps them in, so that the bytes do not depend on serde_json's features.
fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(key).expect("a string always serialises"));
                out.push(b':');
                write_canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).expect("a scalar always serialises")),
    }
}
