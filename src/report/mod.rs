//! Oracle reports: every change of a pool, and of the signer set, as a value the RevShare contract
//! verifies and applies. This part holds the report types, their EIP-712 digests (identical to the
//! contract's `hashPoolReport`/`hashSignerReport`), secp256k1 signing and verification, and the hash
//! chain that links each report to the one before.
//!
//! It is pure: no I/O, no clock, no randomness (signing is deterministic, RFC 6979). The service
//! uses it to build and sign reports; the auditor uses it to re-hash and re-verify what the chain
//! shows. It does not load keys, talk to a chain, or decide what a pool should hold.
//!
//! ```text
//! PoolChange ──PoolReport::next(previous)──▶ PoolReport ──digest(Domain)──▶ Digest
//!                                                 │                           │ SigningKey::sign
//!                                                 └────▶ SignedReport ◀───────┘ (r ‖ s ‖ v)
//!                                                           │ verify(SignerSet) / blob() for the contract
//! ```

pub mod abi;
mod chain;
mod digest;
mod domain;
mod entry;
mod error;
mod key;
mod pool;
mod signature;
mod signed;
mod signer;
mod tree;
mod typed_data;
mod window;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use chain::{ChainKey, Head, Link, Report, check_chain, check_chain_from};
pub use digest::Digest;
pub use domain::{DOMAIN_NAME, DOMAIN_VERSION, Domain};
pub use entry::{MAX_REPORT_ENTRIES, MAX_REPORT_WALLET_BYTES, ReportEntry, check_size, entries_of};
pub use error::{ReportError, SignatureFault};
pub use key::SigningKey;
pub use pool::{PoolChange, PoolId, PoolReport};
pub use signature::Signature;
pub use signed::{SignedReport, check_signers, recover_signers, verify, verify_signatures};
pub use signer::{MAX_SIGNERS, SignerChange, SignerReport, SignerSet};
pub use tree::{EntryLeaf, EntryTree, proves};
pub use typed_data::{pool_typed_data, signer_typed_data};
pub use window::ValidityWindow;
