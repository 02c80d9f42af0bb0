//! The auditor: rebuilds the RevShare contract's whole report history from a node's logs alone
//! (each event carries its report and signatures, whoever submitted it), checks every report's
//! signatures against the signer set in force, the threshold, the emitted bitmaps, the seq and
//! hash chain of every pool and of the signer set, and the EIP-712 domain; rebuilds each pool's
//! entry tree and compares it and the chains' heads with the contract's views; and, given an evidence endpoint, checks that each
//! decision's evidence hashes to its report's decision hash, that the decision follows from its
//! ballots under the policy it records, and that those ballots are the ones the platform's own
//! documents in the evidence show ([`check_ballots`]).
//!
//! It never reads the service's database. Fetching ([`fetch`], [`evidence`]) is at the edge;
//! judging ([`verify()`]) is a pure function from the fetched [`History`] to a [`Verdict`].

mod ballots;
mod evidence;
mod fetch;
mod history;
mod progress;
mod verdict;
mod verify;

#[cfg(test)]
mod tests;

use alloy::providers::Provider;
use alloy_primitives::{Address, B256};

use crate::chain::events::{ContractEvent, ReportEvent};
use crate::chain::rpc::{RpcFailure, chain_id, http_provider};
use crate::report::SignerSet;

pub use ballots::check as check_ballots;
pub use evidence::evidence_url;
pub use fetch::FetchError;
pub use history::{ContractViews, FetchedEvidence, History, PoolView};
pub use verdict::{Check, EvidenceSummary, Failure, FailureKind, ReportRef, Verdict};
pub use verify::verify;

/// What to audit and how.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// The node's JSON-RPC URL.
    pub rpc_url: String,
    /// The RevShare contract.
    pub contract: Address,
    /// First block to read; the deployment block (found on chain) when `None`.
    pub from_block: Option<u64>,
    /// Base URL of the evidence endpoint, when decisions' evidence is to be checked.
    pub evidence_from: Option<String>,
    /// The signer set the deployment must have; taken from the chain when `None`.
    pub signers: Option<SignerSet>,
    /// Whether to draw progress bars on stderr.
    pub progress: bool,
}

/// Why an audit could not be carried out (as opposed to a history that fails it).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The chain could not be read.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The evidence client could not be built.
    #[error("cannot build the evidence client: {0}")]
    EvidenceClient(#[from] reqwest::Error),
}

impl From<RpcFailure> for AuditError {
    fn from(failure: RpcFailure) -> Self {
        AuditError::Fetch(FetchError::Rpc(failure))
    }
}

/// Reads the history from the chain (and the evidence endpoint) and judges it.
pub async fn run(options: &AuditOptions) -> Result<Verdict, AuditError> {
    let history = read_history(options).await?;
    Ok(verify(&history, options.signers.as_ref()))
}

/// Reads everything an audit needs, up to the node's current head.
pub async fn read_history(options: &AuditOptions) -> Result<History, AuditError> {
    let provider = http_provider(&options.rpc_url)?;
    let chain_id = chain_id(&provider).await?;
    let head = provider
        .get_block_number()
        .await
        .map_err(|e| RpcFailure::of("eth_blockNumber", &e))?;
    let contract = options.contract;
    let from_block = match options.from_block {
        Some(block) => block,
        None => fetch::deployment_block(&provider, contract, head).await?,
    };
    let logs_bar = fetch::bar(options.progress, "blocks");
    let events = fetch::events(&provider, contract, from_block, head, &logs_bar).await?;
    let views = fetch::views(&provider, contract, head, &events).await?;
    let evidence = match &options.evidence_from {
        Some(base) => {
            let bar = fetch::bar(options.progress, "evidence");
            Some(evidence::fetch(base, decision_hashes(&events), &bar).await?)
        }
        None => None,
    };
    Ok(History {
        chain_id,
        contract,
        from_block,
        to_block: head,
        events,
        views,
        evidence,
    })
}

/// The distinct non-zero decision hashes of the pool reports, in order of first appearance.
fn decision_hashes(events: &[ContractEvent]) -> Vec<B256> {
    let mut seen = std::collections::HashSet::new();
    events
        .iter()
        .filter_map(|event| match &event.event {
            ReportEvent::Pool(applied) => Some(applied.report.decisionHash),
            ReportEvent::Signers(_) => None,
        })
        .filter(|hash| !hash.is_zero() && seen.insert(*hash))
        .collect()
}
