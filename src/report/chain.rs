//! The hash chain: each report of a chain names its position (`seq`) and the digest of the report
//! before it (`prevHash`), so a chain can be checked link by link and no report can be dropped,
//! repeated or reordered without it showing. Pool reports chain per (community, pool); signer
//! reports form one chain of their own.
//!
//! The rules are the contract's `_checkChain`, applied off chain: by the service before it signs,
//! and by an auditor over the whole history. This module does not fetch reports or know which one
//! is on chain; callers hand it the head they know.

use std::fmt;

use super::digest::Digest;
use super::domain::Domain;
use super::error::ReportError;
use super::pool::PoolId;

/// Which chain a report belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChainKey {
    /// The reports of one (community, pool).
    Pool(PoolId),
    /// The signer-set rotations.
    Signers,
}

impl fmt::Display for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainKey::Pool(id) => write!(f, "pool {}/{}", id.community(), id.pool()),
            ChainKey::Signers => f.write_str("signers"),
        }
    }
}

/// A report's place in its chain: its seq and the digest of the report before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    /// 1 for a chain's first report, then +1 per report.
    pub seq: u64,
    /// The previous report's digest; zero for seq 1.
    pub prev_hash: Digest,
}

/// The last report applied to a chain, as the contract's `poolHead`/`signerHead` return it: the
/// next report must follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Head {
    /// The last report's seq; 0 before the first report.
    pub seq: u64,
    /// The last report's digest; zero before the first report.
    pub digest: Digest,
}

impl Head {
    /// A chain with no report yet.
    pub const GENESIS: Head = Head {
        seq: 0,
        digest: Digest::ZERO,
    };

    /// The head after `report` in `domain`.
    pub fn of<R: Report>(report: &R, domain: &Domain) -> Head {
        Head {
            seq: report.link().seq,
            digest: report.digest(domain),
        }
    }

    /// The link the next report must carry. Computed here so that callers cannot get it wrong.
    pub fn next_link(&self) -> Result<Link, ReportError> {
        let seq = self
            .seq
            .checked_add(1)
            .ok_or(ReportError::ChainExhausted { last_seq: self.seq })?;
        Ok(Link {
            seq,
            prev_hash: self.digest,
        })
    }

    /// Whether `link` follows this head, with the contract's errors in the contract's order:
    /// replay, gap, then previous hash.
    pub fn check_next(&self, link: Link) -> Result<(), ReportError> {
        if link.seq <= self.seq {
            return Err(ReportError::Replayed {
                last_seq: self.seq,
                seq: link.seq,
            });
        }
        if link.seq != self.seq + 1 {
            return Err(ReportError::SeqGap {
                expected: self.seq + 1,
                found: link.seq,
            });
        }
        if link.prev_hash != self.digest {
            return Err(ReportError::PrevHashMismatch {
                expected: self.digest.get(),
                found: link.prev_hash.get(),
            });
        }
        Ok(())
    }
}

/// What the chain needs of a report: which chain it is on, its link, and its digest.
pub trait Report {
    /// The chain the report extends.
    fn chain(&self) -> ChainKey;
    /// Its seq and prevHash.
    fn link(&self) -> Link;
    /// Its EIP-712 digest in `domain`.
    fn digest(&self, domain: &Domain) -> Digest;
}

/// Checks a whole chain from its first report: seq 1 with a zero prevHash, then each report one
/// seq further, naming the digest of the one before, all of the same chain. Returns the head after
/// the last report, which is what the contract should show.
pub fn check_chain<R: Report>(domain: &Domain, reports: &[R]) -> Result<Head, ReportError> {
    match reports.first() {
        None => Ok(Head::GENESIS),
        Some(first) => check_chain_from(Head::GENESIS, first.chain(), domain, reports),
    }
}

/// Checks reports that continue `chain` from `head` (e.g. an auditor resuming where it stopped).
pub fn check_chain_from<R: Report>(
    head: Head,
    chain: ChainKey,
    domain: &Domain,
    reports: &[R],
) -> Result<Head, ReportError> {
    reports
        .iter()
        .enumerate()
        .try_fold(head, |head, (index, report)| {
            let at = |source| ReportError::InChain {
                index,
                source: Box::new(source),
            };
            if report.chain() != chain {
                return Err(at(ReportError::OtherChain {
                    expected: Box::new(chain),
                    found: Box::new(report.chain()),
                }));
            }
            head.check_next(report.link()).map_err(at)?;
            Ok(Head::of(report, domain))
        })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    #[test]
    fn genesis_is_followed_by_seq_one_with_a_zero_prev_hash() {
        let link = Head::GENESIS.next_link().unwrap();
        assert_eq!(link.seq, 1);
        assert_eq!(link.prev_hash, Digest::ZERO);
        assert_eq!(Head::GENESIS.check_next(link), Ok(()));
    }

    #[test]
    fn links_are_checked_in_the_contracts_order() {
        let head = Head {
            seq: 4,
            digest: Digest::new(B256::repeat_byte(4)),
        };
        let wrong = Digest::new(B256::repeat_byte(9));
        assert_eq!(
            head.check_next(Link {
                seq: 4,
                prev_hash: wrong
            }),
            Err(ReportError::Replayed {
                last_seq: 4,
                seq: 4
            })
        );
        assert_eq!(
            head.check_next(Link {
                seq: 6,
                prev_hash: wrong
            }),
            Err(ReportError::SeqGap {
                expected: 5,
                found: 6
            })
        );
        assert_eq!(
            head.check_next(Link {
                seq: 5,
                prev_hash: wrong
            }),
            Err(ReportError::PrevHashMismatch {
                expected: head.digest.get(),
                found: wrong.get()
            })
        );
    }

    #[test]
    fn the_last_seq_cannot_be_followed() {
        let head = Head {
            seq: u64::MAX,
            digest: Digest::ZERO,
        };
        assert_eq!(
            head.next_link(),
            Err(ReportError::ChainExhausted { last_seq: u64::MAX })
        );
    }
}
