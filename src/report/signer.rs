//! Signer sets and signer reports: who may sign reports, how many of them must, and the signed,
//! chained rotation from one set to the next.
//!
//! A [`SignerSet`] holds only sets the contract would install (1 to 32 distinct non-zero signers, a
//! threshold from 1 to their count), so verifying against one is verifying as the contract does.
//! This module does not choose signers or hold their keys.

use alloy_primitives::Address;
use alloy_sol_types::SolStruct;

use super::abi;
use super::chain::{ChainKey, Head, Link, Report};
use super::digest::Digest;
use super::domain::Domain;
use super::error::ReportError;
use super::window::ValidityWindow;

/// Largest signer set: the contract's `MAX_SIGNERS`, which keeps signer indices within the bitmap it
/// emits.
pub const MAX_SIGNERS: usize = 32;

/// The oracle's signers and how many of them must sign a report (M of N). The order is the
/// contract's: signer i is bit i of the bitmaps in its events.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignerSet {
    signers: Vec<Address>,
    threshold: u8,
}

impl SignerSet {
    /// Refuses what the contract's rotation refuses: no signer or more than [`MAX_SIGNERS`], a
    /// threshold of 0 or above the count, the zero address, a signer listed twice.
    pub fn new(signers: Vec<Address>, threshold: u8) -> Result<Self, ReportError> {
        let count = signers.len();
        if count == 0 || count > MAX_SIGNERS {
            return Err(ReportError::SignerCount {
                max: MAX_SIGNERS,
                found: count,
            });
        }
        if threshold == 0 || usize::from(threshold) > count {
            return Err(ReportError::Threshold {
                threshold: usize::from(threshold),
                count,
            });
        }
        for (index, signer) in signers.iter().enumerate() {
            if signer.is_zero() {
                return Err(ReportError::ZeroSigner { index });
            }
            if signers[..index].contains(signer) {
                return Err(ReportError::DuplicateSigner { signer: *signer });
            }
        }
        Ok(SignerSet { signers, threshold })
    }

    /// The signers, in the set's order.
    pub fn signers(&self) -> &[Address] {
        &self.signers
    }

    /// How many distinct signers must sign.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The signer's index in the set (its bit in the contract's bitmaps), if it is a member.
    pub fn index_of(&self, signer: Address) -> Option<usize> {
        self.signers.iter().position(|s| *s == signer)
    }
}

/// What a signer report says, apart from its place in the signer chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignerChange {
    /// The set that signs from the rotation on.
    pub set: SignerSet,
    /// When the oracle decided the rotation, in Unix seconds.
    pub observed_at: u64,
    /// When the contract may apply it.
    pub window: ValidityWindow,
}

/// A signer report: a [`SignerChange`] at its place in the signer chain. It must be signed by the
/// set in force before it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignerReport {
    link: Link,
    change: SignerChange,
}

impl SignerReport {
    /// The rotation that follows `previous` (or the first rotation, if `None`), with seq and
    /// prevHash filled in from it.
    pub fn next(
        previous: Option<&SignerReport>,
        domain: &Domain,
        change: SignerChange,
    ) -> Result<Self, ReportError> {
        let head = previous.map_or(Head::GENESIS, |previous| Head::of(previous, domain));
        SignerReport::after(head, change)
    }

    /// The rotation that follows `head` (e.g. the contract's `signerHead`).
    pub fn after(head: Head, change: SignerChange) -> Result<Self, ReportError> {
        Ok(SignerReport {
            link: head.next_link()?,
            change,
        })
    }

    /// The same rotation re-issued after `head` with a new validity window, when it (or one before
    /// it) expired before it landed. Only the window and the link differ.
    pub fn reissued(&self, head: Head, window: ValidityWindow) -> Result<Self, ReportError> {
        SignerReport::after(
            head,
            SignerChange {
                window,
                ..self.change.clone()
            },
        )
    }

    /// A report exactly as read from a log, a transaction or a store. Its link is whatever it says:
    /// check it with [`check_chain`](super::check_chain) before trusting it.
    pub fn from_parts(link: Link, change: SignerChange) -> Self {
        SignerReport { link, change }
    }

    /// Its position in the signer chain.
    pub fn seq(&self) -> u64 {
        self.link.seq
    }

    /// The previous signer report's digest (zero for seq 1).
    pub fn prev_hash(&self) -> Digest {
        self.link.prev_hash
    }

    /// The new set.
    pub fn set(&self) -> &SignerSet {
        &self.change.set
    }

    /// When the rotation was decided, in Unix seconds.
    pub fn observed_at(&self) -> u64 {
        self.change.observed_at
    }

    /// When the contract may apply it.
    pub fn window(&self) -> ValidityWindow {
        self.change.window
    }
}

impl Report for SignerReport {
    fn chain(&self) -> ChainKey {
        ChainKey::Signers
    }

    fn link(&self) -> Link {
        self.link
    }

    fn digest(&self, domain: &Domain) -> Digest {
        domain.digest_of(abi::SignerReport::from(self).eip712_hash_struct())
    }
}

impl From<&SignerReport> for abi::SignerReport {
    fn from(report: &SignerReport) -> Self {
        let change = &report.change;
        abi::SignerReport {
            seq: report.link.seq,
            prevHash: report.link.prev_hash.get(),
            signers: change.set.signers.clone(),
            threshold: change.set.threshold,
            observedAt: change.observed_at,
            validFrom: change.window.valid_from(),
            validUntil: change.window.valid_until(),
        }
    }
}

impl TryFrom<&abi::SignerReport> for SignerReport {
    type Error = ReportError;

    /// Checks a report decoded from the contract's types (e.g. a `SignerSetRotated` log): a valid
    /// set, a non-empty window. Its link is not checked here.
    fn try_from(report: &abi::SignerReport) -> Result<Self, ReportError> {
        Ok(SignerReport::from_parts(
            Link {
                seq: report.seq,
                prev_hash: Digest::new(report.prevHash),
            },
            SignerChange {
                set: SignerSet::new(report.signers.clone(), report.threshold)?,
                observed_at: report.observedAt,
                window: ValidityWindow::new(report.validFrom, report.validUntil)?,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(byte: u8) -> Address {
        Address::repeat_byte(byte)
    }

    #[test]
    fn sets_the_contract_would_refuse_are_refused() {
        assert_eq!(
            SignerSet::new(vec![], 1),
            Err(ReportError::SignerCount { max: 32, found: 0 })
        );
        assert_eq!(
            SignerSet::new((1..=33).map(addr).collect(), 1),
            Err(ReportError::SignerCount { max: 32, found: 33 })
        );
        assert_eq!(
            SignerSet::new(vec![addr(1), addr(2)], 3),
            Err(ReportError::Threshold {
                threshold: 3,
                count: 2
            })
        );
        assert_eq!(
            SignerSet::new(vec![addr(1)], 0),
            Err(ReportError::Threshold {
                threshold: 0,
                count: 1
            })
        );
        assert_eq!(
            SignerSet::new(vec![addr(1), Address::ZERO], 1),
            Err(ReportError::ZeroSigner { index: 1 })
        );
        assert_eq!(
            SignerSet::new(vec![addr(1), addr(2), addr(1)], 1),
            Err(ReportError::DuplicateSigner { signer: addr(1) })
        );
    }

    #[test]
    fn a_set_keeps_its_order() {
        let set = SignerSet::new(vec![addr(9), addr(1)], 2).unwrap();
        assert_eq!(set.index_of(addr(9)), Some(0));
        assert_eq!(set.index_of(addr(1)), Some(1));
        assert_eq!(set.index_of(addr(2)), None);
    }
}
