//! The contract's report events, decoded from logs: `PoolReportApplied` and `SignerSetRotated`,
//! each with where it sits on the chain (block, transaction, log index) and the signatures it was
//! submitted with. The indexer stores them and the auditor verifies them from the logs alone,
//! whoever submitted them; both read logs through [`decode`].
//!
//! Decoding checks only that a log is what the contract emits (its indexed topics agree with the
//! report it carries). Whether the report is well signed and well chained is `report`'s and the
//! auditor's business.

use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use alloy_primitives::{B256, Bytes, U256};

use super::contract::RevShare;
use super::convert::{pool_report_from_contract, signer_report_from_contract};
use crate::report::{Digest, PoolId, abi};

/// Where a log sits on the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogPosition {
    /// The block's number.
    pub block_number: u64,
    /// The block's hash: a reorg gives the same number another hash.
    pub block_hash: B256,
    /// The log's index in its block.
    pub log_index: u64,
    /// The transaction that emitted it.
    pub tx_hash: B256,
}

/// A pool report the contract verified and applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolApplied {
    /// The report's EIP-712 digest, as the contract computed it.
    pub digest: Digest,
    /// The epoch of the signer set that signed it.
    pub signer_epoch: u64,
    /// Bit i set iff signer i of that set signed.
    pub signer_bitmap: U256,
    /// The root of the report's entry tree, which the contract now keeps for the pool.
    pub root: B256,
    /// The report, exactly as signed.
    pub report: abi::PoolReport,
    /// The signature blob it was submitted with.
    pub signatures: Bytes,
}

impl PoolApplied {
    /// The pool it changed.
    pub fn pool_id(&self) -> PoolId {
        PoolId::from_hashes(self.report.community, self.report.pool)
    }
}

/// A signer-set rotation: the deployment's set (seq 0) or a signer report the contract applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignersRotated {
    /// The new set's epoch (1 for the deployment's set).
    pub epoch: u64,
    /// The signer report's digest; zero for the deployment.
    pub digest: Digest,
    /// Bit i set iff signer i of the previous epoch's set signed; zero for the deployment.
    pub signer_bitmap: U256,
    /// The report as signed (for the deployment: only its signers and threshold are set).
    pub report: abi::SignerReport,
    /// The signature blob it was submitted with; empty for the deployment.
    pub signatures: Bytes,
}

/// One of the contract's report events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportEvent {
    /// `PoolReportApplied`.
    Pool(PoolApplied),
    /// `SignerSetRotated`.
    Signers(SignersRotated),
}

impl ReportEvent {
    /// The digest the contract emitted for it.
    pub fn digest(&self) -> Digest {
        match self {
            ReportEvent::Pool(pool) => pool.digest,
            ReportEvent::Signers(signers) => signers.digest,
        }
    }

    /// The report's seq in its chain (0 for the deployment's signer set).
    pub fn seq(&self) -> u64 {
        match self {
            ReportEvent::Pool(pool) => pool.report.seq,
            ReportEvent::Signers(signers) => signers.report.seq,
        }
    }
}

/// A report event at its place on the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractEvent {
    /// Where it was emitted.
    pub position: LogPosition,
    /// What it says.
    pub event: ReportEvent,
}

/// Why a log could not be read as a report event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A log without a block or transaction: the node returned a pending log.
    #[error("log {index} of the answer has no {missing}: the node returned a pending log")]
    Unmined {
        /// Its position in the node's answer.
        index: usize,
        /// The missing field.
        missing: &'static str,
    },
    /// The log has a report event's topic but its data does not decode as that event.
    #[error("log {log_index} of block {block_number} does not decode as {event}: {reason}")]
    Undecodable {
        /// The block.
        block_number: u64,
        /// The log's index.
        log_index: u64,
        /// The event it claimed to be.
        event: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// The indexed topics disagree with the report in the data, which the contract never emits.
    #[error(
        "log {log_index} of block {block_number}: its indexed {field} differs from its report's"
    )]
    Inconsistent {
        /// The block.
        block_number: u64,
        /// The log's index.
        log_index: u64,
        /// The field that differs.
        field: &'static str,
    },
}

/// The topics the indexer and auditor ask the node for: the two report events.
pub fn report_topics() -> Vec<B256> {
    vec![
        RevShare::PoolReportApplied::SIGNATURE_HASH,
        RevShare::SignerSetRotated::SIGNATURE_HASH,
    ]
}

/// Decodes one log of the contract; `None` for its other events (funding, withdrawals). `index`
/// is the log's position in the node's answer, for errors.
pub fn decode(index: usize, log: &Log) -> Result<Option<ContractEvent>, EventError> {
    let Some(topic) = log.topic0() else {
        return Ok(None);
    };
    let unmined = |missing| EventError::Unmined { index, missing };
    let position = LogPosition {
        block_number: log.block_number.ok_or_else(|| unmined("block number"))?,
        block_hash: log.block_hash.ok_or_else(|| unmined("block hash"))?,
        log_index: log.log_index.ok_or_else(|| unmined("log index"))?,
        tx_hash: log
            .transaction_hash
            .ok_or_else(|| unmined("transaction hash"))?,
    };
    let undecodable = |event, reason: alloy::sol_types::Error| EventError::Undecodable {
        block_number: position.block_number,
        log_index: position.log_index,
        event,
        reason: reason.to_string(),
    };
    let inconsistent = |field| EventError::Inconsistent {
        block_number: position.block_number,
        log_index: position.log_index,
        field,
    };
    let event = if *topic == RevShare::PoolReportApplied::SIGNATURE_HASH {
        let applied = RevShare::PoolReportApplied::decode_log_data(log.data())
            .map_err(|e| undecodable("PoolReportApplied", e))?;
        let report = pool_report_from_contract(&applied.report);
        if applied.community != report.community || applied.pool != report.pool {
            return Err(inconsistent("pool"));
        }
        if applied.seq != report.seq {
            return Err(inconsistent("seq"));
        }
        ReportEvent::Pool(PoolApplied {
            digest: Digest::new(applied.digest),
            signer_epoch: applied.signerEpoch,
            signer_bitmap: applied.signerBitmap,
            root: applied.root,
            report,
            signatures: applied.signatures,
        })
    } else if *topic == RevShare::SignerSetRotated::SIGNATURE_HASH {
        let rotated = RevShare::SignerSetRotated::decode_log_data(log.data())
            .map_err(|e| undecodable("SignerSetRotated", e))?;
        let report = signer_report_from_contract(&rotated.report);
        if rotated.seq != report.seq {
            return Err(inconsistent("seq"));
        }
        ReportEvent::Signers(SignersRotated {
            epoch: rotated.epoch,
            digest: Digest::new(rotated.digest),
            signer_bitmap: rotated.signerBitmap,
            report,
            signatures: rotated.signatures,
        })
    } else {
        return Ok(None);
    };
    Ok(Some(ContractEvent { position, event }))
}

/// Decodes a node's answer to `eth_getLogs`, keeping only report events, in chain order.
pub fn decode_all(logs: &[Log]) -> Result<Vec<ContractEvent>, EventError> {
    let mut events = Vec::with_capacity(logs.len());
    for (index, log) in logs.iter().enumerate() {
        if let Some(event) = decode(index, log)? {
            events.push(event);
        }
    }
    events.sort_by_key(|event| (event.position.block_number, event.position.log_index));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, LogData};
    use alloy::sol_types::SolEvent;

    use super::*;

    fn log_of(data: LogData, block: u64, index: u64) -> Log {
        Log {
            inner: alloy_primitives::Log {
                address: Address::repeat_byte(1),
                data,
            },
            block_hash: Some(B256::repeat_byte(block as u8)),
            block_number: Some(block),
            block_timestamp: None,
            transaction_hash: Some(B256::repeat_byte(0xee)),
            transaction_index: Some(0),
            log_index: Some(index),
            removed: false,
        }
    }

    fn rotation(seq: u64, indexed_seq: u64) -> LogData {
        RevShare::SignerSetRotated {
            epoch: 1,
            seq: indexed_seq,
            digest: B256::ZERO,
            signerBitmap: U256::ZERO,
            report: RevShare::SignerReport {
                seq,
                prevHash: B256::ZERO,
                signers: vec![Address::repeat_byte(7)],
                threshold: 1,
                observedAt: 0,
                validFrom: 0,
                validUntil: 0,
            },
            signatures: Bytes::new(),
        }
        .encode_log_data()
    }

    #[test]
    fn a_rotation_decodes_with_its_position() {
        let events = decode_all(&[log_of(rotation(0, 0), 3, 2)]).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].position.block_number, 3);
        assert_eq!(events[0].position.log_index, 2);
        let ReportEvent::Signers(rotated) = &events[0].event else {
            panic!("a rotation, found {:?}", events[0].event)
        };
        assert_eq!(rotated.epoch, 1);
        assert_eq!(rotated.report.signers, vec![Address::repeat_byte(7)]);
    }

    #[test]
    fn topics_that_disagree_with_the_report_are_refused() {
        assert_eq!(
            decode(0, &log_of(rotation(2, 3), 5, 0)),
            Err(EventError::Inconsistent {
                block_number: 5,
                log_index: 0,
                field: "seq"
            })
        );
    }

    #[test]
    fn other_events_of_the_contract_are_skipped() {
        let withdrawn = RevShare::Withdrawn {
            payee: Address::repeat_byte(2),
            to: Address::repeat_byte(3),
            amount: U256::from(1),
        }
        .encode_log_data();
        assert_eq!(decode(0, &log_of(withdrawn, 1, 0)), Ok(None));
    }

    #[test]
    fn a_pending_log_is_refused() {
        let mut pending = log_of(rotation(0, 0), 1, 0);
        pending.block_number = None;
        assert_eq!(
            decode(4, &pending),
            Err(EventError::Unmined {
                index: 4,
                missing: "block number"
            })
        );
    }

    #[test]
    fn events_come_out_in_chain_order() {
        let logs = [
            log_of(rotation(0, 0), 9, 1),
            log_of(rotation(0, 0), 9, 0),
            log_of(rotation(0, 0), 4, 7),
        ];
        let order: Vec<_> = decode_all(&logs)
            .unwrap()
            .iter()
            .map(|e| (e.position.block_number, e.position.log_index))
            .collect();
        assert_eq!(order, vec![(4, 7), (9, 0), (9, 1)]);
    }
}
