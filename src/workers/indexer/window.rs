//! The indexer's arithmetic and its consistency check, apart from any node or database: which
//! blocks keep their headers (the reorg window), which events count as confirmed, and whether
//! what one read returned (headers, then logs) belongs to a single chain.
//!
//! The check is what makes a reorg *during* a read harmless: headers are fetched before the logs,
//! so a log from another fork than its block's header shows as a hash mismatch, and the read is
//! dropped instead of written.

use alloy_primitives::B256;

use crate::chain::events::ContractEvent;
use crate::store::BlockHeader;

/// The first block whose header is kept when the head is `head`: the last `window` blocks.
pub fn window_start(head: u64, window: u64) -> u64 {
    (head + 1).saturating_sub(window)
}

/// The last block whose events are confirmed at `head`: a block's own inclusion counts as one
/// confirmation, so with 1 the head itself is confirmed. `None` while no block is deep enough.
pub fn confirmed_through(head: u64, confirmations: u64) -> Option<u64> {
    (head + 1).checked_sub(confirmations.max(1))
}

/// Why one read does not hang together: the chain moved while it was being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Race {
    /// The first header read does not follow the cursor's block.
    #[error("block {number} does not follow the last block read (its parent hash differs)")]
    CursorUnlinked {
        /// The header's number.
        number: u64,
    },
    /// Two consecutive headers are not parent and child.
    #[error("blocks {number} and {} are not parent and child", number + 1)]
    HeadersUnlinked {
        /// The lower block's number.
        number: u64,
    },
    /// A log names another hash for its block than the block's header.
    #[error("a log of block {number} is from another fork than the block's header")]
    LogFromOtherFork {
        /// The block.
        number: u64,
    },
}

/// Checks one read: `headers` ascending (consecutive numbers, or a single header), the first one
/// following `cursor` when it is the cursor's next block, and every event in a block of `headers`
/// carrying that block's hash.
pub fn check_read(
    cursor: Option<(u64, B256)>,
    headers: &[BlockHeader],
    events: &[ContractEvent],
) -> Result<(), Race> {
    if let (Some((block, hash)), Some(first)) = (cursor, headers.first())
        && first.number == block + 1
        && first.parent_hash != hash
    {
        return Err(Race::CursorUnlinked {
            number: first.number,
        });
    }
    for pair in headers.windows(2) {
        if pair[1].number == pair[0].number + 1 && pair[1].parent_hash != pair[0].hash {
            return Err(Race::HeadersUnlinked {
                number: pair[0].number,
            });
        }
    }
    for event in events {
        let number = event.position.block_number;
        if let Ok(at) = headers.binary_search_by_key(&number, |h| h.number)
            && headers[at].hash != event.position.block_hash
        {
            return Err(Race::LogFromOtherFork { number });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};

    use super::*;
    use crate::chain::events::{LogPosition, ReportEvent, SignersRotated};
    use crate::report::{Digest, abi};

    fn chain(from: u64, to: u64, fork: u8) -> Vec<BlockHeader> {
        let hash = |n: u64| B256::left_padding_from(&[fork, n as u8]);
        (from..=to)
            .map(|n| BlockHeader {
                number: n,
                hash: hash(n),
                parent_hash: hash(n - 1),
            })
            .collect()
    }

    fn event_in(header: &BlockHeader) -> ContractEvent {
        ContractEvent {
            position: LogPosition {
                block_number: header.number,
                block_hash: header.hash,
                log_index: 0,
                tx_hash: B256::ZERO,
            },
            event: ReportEvent::Signers(SignersRotated {
                epoch: 1,
                digest: Digest::ZERO,
                signer_bitmap: U256::ZERO,
                report: abi::SignerReport {
                    seq: 0,
                    prevHash: B256::ZERO,
                    signers: vec![Address::repeat_byte(1)],
                    threshold: 1,
                    observedAt: 0,
                    validFrom: 0,
                    validUntil: 0,
                },
                signatures: Default::default(),
            }),
        }
    }

    #[test]
    fn the_window_is_the_last_blocks_up_to_the_head() {
        assert_eq!(window_start(200, 128), 73);
        assert_eq!(window_start(10, 128), 0);
    }

    #[test]
    fn a_block_confirms_itself_once() {
        assert_eq!(confirmed_through(100, 1), Some(100));
        assert_eq!(confirmed_through(100, 12), Some(89));
        assert_eq!(confirmed_through(5, 12), None);
        assert_eq!(confirmed_through(100, 0), Some(100), "0 is read as 1");
    }

    #[test]
    fn a_read_of_one_fork_passes() {
        let headers = chain(5, 9, 1);
        let cursor = Some((4, chain(4, 4, 1)[0].hash));
        let events = vec![event_in(&headers[1]), event_in(&headers[4])];
        assert_eq!(check_read(cursor, &headers, &events), Ok(()));
    }

    #[test]
    fn headers_that_do_not_follow_the_cursor_are_a_race() {
        let headers = chain(5, 9, 1);
        let other = Some((4, chain(4, 4, 2)[0].hash));
        assert_eq!(
            check_read(other, &headers, &[]),
            Err(Race::CursorUnlinked { number: 5 })
        );
    }

    #[test]
    fn headers_of_two_forks_are_a_race() {
        let mut headers = chain(5, 7, 1);
        headers.extend(chain(8, 9, 2));
        assert_eq!(
            check_read(None, &headers, &[]),
            Err(Race::HeadersUnlinked { number: 7 })
        );
    }

    #[test]
    fn a_log_from_another_fork_is_a_race() {
        let headers = chain(5, 9, 1);
        let other = chain(7, 7, 2);
        assert_eq!(
            check_read(None, &headers, &[event_in(&other[0])]),
            Err(Race::LogFromOtherFork { number: 7 })
        );
    }

    #[test]
    fn logs_below_the_window_are_not_compared() {
        let headers = chain(50, 50, 1);
        let old = chain(7, 7, 2);
        assert_eq!(check_read(None, &headers, &[event_in(&old[0])]), Ok(()));
    }
}
