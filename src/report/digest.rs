//! The EIP-712 digest of a report: what its signers sign, what the next report of its chain names as
//! `prevHash`, and what the contract emits. A newtype, so a digest is never mixed up with the other
//! 32-byte values a report carries (ids, decision hashes).

use std::fmt;

use alloy_primitives::B256;

/// `keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(report))`, per EIP-712.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(B256);

impl Digest {
    /// The `prevHash` of a chain's first report: no report came before it.
    pub const ZERO: Digest = Digest(B256::ZERO);

    /// Wraps 32 bytes read from a report, a log or a store; only hashing makes a digest *of* something.
    pub const fn new(bytes: B256) -> Self {
        Digest(bytes)
    }

    /// The 32 bytes, as the contract takes and emits them.
    pub const fn get(self) -> B256 {
        self.0
    }
}

impl From<B256> for Digest {
    fn from(bytes: B256) -> Self {
        Digest(bytes)
    }
}

impl From<Digest> for B256 {
    fn from(digest: Digest) -> Self {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
