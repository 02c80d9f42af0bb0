//! Everything the auditor reads from the chain (and the evidence endpoint), as plain values: the
//! report events in chain order, each with the signatures it was submitted with, the contract's
//! views at the last block read, and the evidence documents. The fetching edge fills it in; the
//! pure [`verify`](super::verify) judges it, so a verdict can be recomputed from a saved history.

use alloy_primitives::{Address, B256, Bytes, U256};

use crate::chain::events::ContractEvent;
use crate::report::PoolId;

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
    /// The report events, in chain order. Each carries its report and signatures, so nothing
    /// about the transactions that submitted them is needed.
    pub events: Vec<ContractEvent>,
    /// What the contract's views say at `to_block`.
    pub views: ContractViews,
    /// The evidence of each decision hash, when evidence was asked for.
    pub evidence: Option<Vec<(B256, FetchedEvidence)>>,
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
    /// `poolCommitment()`: the root of its entry tree.
    pub root: B256,
    /// `poolCommitment()`: the sum of its weights.
    pub total_weight: U256,
    /// `poolCommitment()`: the sum of the weights of its entries with a payee.
    pub payee_weight: U256,
}

/// What the evidence endpoint gave for a decision hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchedEvidence {
    /// The document's bytes, exactly as served.
    Document(Bytes),
    /// No document: why (a status, an error).
    Missing(String),
}
