//! The auditor's verdict: what was checked, every failure found (each named by kind and by the
//! report it concerns), and the first bad report. It serialises to JSON for machines and renders
//! as a short text for people.

use std::fmt::Write as _;

use alloy_primitives::{Address, B256};
use serde::Serialize;

/// The part of the audit a failure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The deployment's signer set.
    Deployment,
    /// The EIP-712 domain: chain id and contract address.
    Domain,
    /// Signatures, threshold and the emitted signer bitmaps.
    Signatures,
    /// Seq and previous hash, per pool and for the signer chain.
    Chain,
    /// The reports' content.
    Reports,
    /// The replayed state against the contract's views.
    State,
    /// Decision evidence.
    Evidence,
}

impl Check {
    /// Every check, in the order the verdict lists them.
    pub const ALL: [Check; 7] = [
        Check::Deployment,
        Check::Domain,
        Check::Signatures,
        Check::Chain,
        Check::Reports,
        Check::State,
        Check::Evidence,
    ];

    fn label(self) -> &'static str {
        match self {
            Check::Deployment => "deployment",
            Check::Domain => "domain",
            Check::Signatures => "signatures",
            Check::Chain => "hash chains",
            Check::Reports => "reports",
            Check::State => "state",
            Check::Evidence => "evidence",
        }
    }
}

/// What went wrong, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// No deployment event opens the history (start at or before the deployment block).
    DeploymentMissing,
    /// The deployed signer set is not the expected one.
    DeploymentSignersDiffer,
    /// The contract's domain separator is not the one of this chain and address.
    DomainSeparatorMismatch,
    /// The emitted digest is not the report's digest in this domain.
    DigestMismatch,
    /// No signer set is known to check the signatures against.
    NoSignerSet,
    /// A signature is malformed, high-s, or recovers to no key.
    SignatureInvalid,
    /// A signature recovers to an address outside the signer set in force.
    UnknownSigner,
    /// The same signer signed twice.
    DuplicateSigner,
    /// Signatures are not in increasing signer order.
    SignersNotAscending,
    /// Fewer signatures than the threshold.
    TooFewSignatures,
    /// The emitted signer bitmap is not the set of signers recovered.
    BitmapMismatch,
    /// The emitted signer epoch is not the epoch in force.
    EpochMismatch,
    /// A seq already applied (or lower).
    SeqReplayed,
    /// A seq that skips reports: a gap in the history.
    SeqGap,
    /// A prevHash that is not the previous report's digest.
    PrevHashMismatch,
    /// A report whose content is not valid (entries, window, signer set).
    MalformedReport,
    /// The emitted entry-tree root is not the root of the report's entries.
    RootMismatch,
    /// A pool's entries or head differ from what the contract shows.
    PoolStateMismatch,
    /// The signer set or head differs from what the contract shows.
    SignerStateMismatch,
    /// No evidence document for a decision hash.
    EvidenceMissing,
    /// The evidence document does not hash to the decision hash.
    EvidenceHashMismatch,
    /// The decision evidence, re-run under the policy it records, does not give the decision it
    /// records (or names another policy version than the report).
    DecisionNotSupported,
    /// The ballots a decision was made on are not the ones its platform's documents (kept in
    /// the same evidence) show, or the documents are not of the vote's poll.
    BallotsNotFromDocuments,
}

impl FailureKind {
    /// The check it belongs to.
    pub fn check(self) -> Check {
        use FailureKind::*;
        match self {
            DeploymentMissing | DeploymentSignersDiffer => Check::Deployment,
            DomainSeparatorMismatch | DigestMismatch => Check::Domain,
            NoSignerSet | SignatureInvalid | UnknownSigner | DuplicateSigner
            | SignersNotAscending | TooFewSignatures | BitmapMismatch | EpochMismatch => {
                Check::Signatures
            }
            SeqReplayed | SeqGap | PrevHashMismatch => Check::Chain,
            MalformedReport | RootMismatch => Check::Reports,
            PoolStateMismatch | SignerStateMismatch => Check::State,
            EvidenceMissing
            | EvidenceHashMismatch
            | DecisionNotSupported
            | BallotsNotFromDocuments => Check::Evidence,
        }
    }

    /// The kebab-case name, as in the JSON verdict.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Which report a failure concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportRef {
    /// `pool` or `signers`.
    pub chain: &'static str,
    /// keccak256 of the community slug (pool reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<B256>,
    /// keccak256 of the pool name (pool reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<B256>,
    /// The report's seq.
    pub seq: u64,
    /// The block it was applied in.
    pub block: u64,
    /// The transaction that applied it.
    pub tx: B256,
    /// The event's log index.
    pub log_index: u64,
}

impl std::fmt::Display for ReportRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.community, self.pool) {
            (Some(community), Some(pool)) => write!(f, "pool report {community}/{pool}")?,
            _ => f.write_str("signer report")?,
        }
        write!(
            f,
            " seq {} (block {}, tx {}, log {})",
            self.seq, self.block, self.tx, self.log_index
        )
    }
}

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The report concerned; `None` for the deployment and the final state.
    pub report: Option<ReportRef>,
    /// What was expected and what was found.
    pub message: String,
}

/// How the decision evidence went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EvidenceSummary {
    /// Distinct decision hashes whose document was fetched and hashed.
    pub checked: usize,
    /// Reports with a zero decision hash (no decision claimed).
    pub without_decision: usize,
    /// Distinct decision evidence documents re-run through the policy they record (the others,
    /// such as an admin's bootstrap, are checked by hash only).
    pub decisions_rerun: usize,
    /// Of those, the decisions whose ballots were compared with the platform's documents kept
    /// in their evidence, and agree (the others decided without a vote's documents).
    pub ballots_checked: usize,
}

/// The outcome of an audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// True when nothing failed.
    pub verified: bool,
    /// The chain audited.
    pub chain_id: u64,
    /// The contract audited.
    pub contract: Address,
    /// First block read.
    pub from_block: u64,
    /// Last block read.
    pub to_block: u64,
    /// Pool reports in the history.
    pub pool_reports: usize,
    /// Signer rotations in the history (the deployment's set not counted).
    pub signer_reports: usize,
    /// Distinct pools.
    pub pools: usize,
    /// The signer set's epoch after the last rotation.
    pub signer_epoch: u64,
    /// Whether the deployment's signer set was compared with an expected one.
    pub signers_expected: bool,
    /// Evidence results; `None` when no evidence was asked for.
    pub evidence: Option<EvidenceSummary>,
    /// The first failure that concerns a report, in chain order.
    pub first_bad_report: Option<Failure>,
    /// Every failure, in the order found.
    pub failures: Vec<Failure>,
}

impl Verdict {
    /// The verdict as people read it: one line per check, then the first bad report and every
    /// failure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Audit of RevShare {} on chain {}, blocks {} to {}",
            self.contract, self.chain_id, self.from_block, self.to_block
        );
        let _ = writeln!(
            out,
            "{} in {}, {}; the signer set is at epoch {}",
            counted(self.pool_reports, "pool report"),
            counted(self.pools, "pool"),
            counted(self.signer_reports, "signer rotation"),
            self.signer_epoch
        );
        for check in Check::ALL {
            let failed = self
                .failures
                .iter()
                .filter(|f| f.kind.check() == check)
                .count();
            let line = if failed > 0 {
                format!("✘ {:<12} {}", check.label(), counted(failed, "failure"))
            } else {
                format!("✔ {:<12} {}", check.label(), self.passed_text(check))
            };
            let _ = writeln!(out, "  {line}");
        }
        if self.verified {
            out.push_str("VERIFIED\n");
            return out;
        }
        let _ = writeln!(out, "FAILED: {}", counted(self.failures.len(), "failure"));
        if let Some(first) = &self.first_bad_report
            && let Some(report) = &first.report
        {
            let _ = writeln!(
                out,
                "First bad report: {report}\n  {}: {}",
                first.kind.name(),
                first.message
            );
        }
        out.push_str("Failures:\n");
        for failure in &self.failures {
            match &failure.report {
                Some(report) => {
                    let _ = writeln!(
                        out,
                        "  - {} at {report}: {}",
                        failure.kind.name(),
                        failure.message
                    );
                }
                None => {
                    let _ = writeln!(out, "  - {}: {}", failure.kind.name(), failure.message);
                }
            }
        }
        out
    }

    fn passed_text(&self, check: Check) -> String {
        match check {
            Check::Deployment if self.signers_expected => {
                "the deployed signer set is the expected one".into()
            }
            Check::Deployment => "signer set taken from the deployment (no --signers given)".into(),
            Check::Domain => format!(
                "every digest recomputes for chain {} and contract {}",
                self.chain_id, self.contract
            ),
            Check::Signatures => {
                "every report carries threshold signatures of the set in force, as its bitmap says"
                    .into()
            }
            Check::Chain => "seq and prevHash link every report, per pool and for signers".into(),
            Check::Reports => {
                "every report's entries and window are valid, and its emitted root is its entries'"
                    .into()
            }
            Check::State => {
                "replayed entry trees, weights and heads equal the contract's views".into()
            }
            Check::Evidence => match self.evidence {
                Some(summary) => format!(
                    "{} hash to their reports' decisionHash ({} without one); {} match their \
                     platform's documents",
                    counted(summary.checked, "decision's evidence"),
                    counted(summary.without_decision, "report"),
                    counted(summary.ballots_checked, "vote's ballots")
                ),
                None => "not checked (no --evidence-from)".into(),
            },
        }
    }
}

/// `1 pool`, `3 pools`.
fn counted(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        _ if noun.ends_with("'s evidence") => format!("{count} decisions' evidence"),
        _ if noun.ends_with("'s ballots") => format!("{count} votes' ballots"),
        _ => format!("{count} {noun}s"),
    }
}
