//! Everything the auditor reads from the chain (and the evidence endpoint), as plain values: the
//! report events in chain order with the calls that submitted them, the contract's views at the
//! last block read, and the evidence documents. The fetching edge fills it in; the pure
//! [`verify`](super::verify) judges it, so a verdict can be recomputed from a saved history.

use alloy_primitives::{Address, B256, Bytes};

use crate::chain::events::ContractEvent;
use crate::report::{PoolId, abi};

/// The contract's whole report history as read from one node, up to one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    /// The chain's id, as the node reports it.
    pub chain_id: u64,
    /// The RevShare contract audited.
    pub contract: Address,
    /// The first block read.
    pub from_block: u64,
    /// The last block read; the views are read at this block.
    pub to_block: u64,
    /// The report events, in chain order, each with the call that submitted it.
    pub entries: Vec<HistoryEntry>,
    /// What the contract's views say at `to_block`.
    pub views: ContractViews,
    /// The evidence of each decision hash, when evidence was asked for.
    pub evidence: Option<Vec<(B256, FetchedEvidence)>>,
}

/// One report event and how its report reached the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The event, where it was emitted.
    pub event: ContractEvent,
    /// The transaction's call, read from its calldata.
    pub submission: Submission,
}

/// What the transaction that emitted an event was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    /// The contract's creation (the first signer set is emitted by the constructor).
    Deployment,
    /// A direct `submitPoolReport` call.
    PoolCall {
        /// The report argument.
        report: abi::PoolReport,
        /// The signature blob argument.
        signatures: Bytes,
    },
    /// A direct `submitSignerReport` call.
    SignerCall {
        /// The report argument.
        report: abi::SignerReport,
        /// The signature blob argument.
        signatures: Bytes,
    },
    /// A transaction whose calldata is no direct submission (e.g. through another contract):
    /// the signatures cannot be read from it.
    Unreadable {
        /// What the transaction was instead.
        reason: String,
    },
}

/// The contract's views, read at the last block of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractViews {
    /// `domainSeparator()`.
    pub domain_separator: B256,
    /// `signerSet()`: the signers, in bitmap order.
    pub signers: Vec<Address>,
    /// `signerSet()`: the threshold.
    pub threshold: u8,
    /// `signerSet()`: the epoch.
    pub epoch: u64,
    /// `signerHead()`: the last signer report's seq.
    pub signer_seq: u64,
    /// `signerHead()`: the last signer report's digest.
    pub signer_digest: B256,
    /// Each pool named by an event, in order of first appearance.
    pub pools: Vec<PoolView>,
}

/// The contract's views of one pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolView {
    /// Which pool.
    pub id: PoolId,
    /// `poolHead()`: its version.
    pub version: u64,
    /// `poolHead()`: its last digest.
    pub last_digest: B256,
    /// `poolEntries()`.
    pub entries: Vec<abi::Entry>,
}

/// What the evidence endpoint gave for a decision hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchedEvidence {
    /// The document's bytes, exactly as served.
    Document(Bytes),
    /// No document: why (a status, an error).
    Missing(String),
}
