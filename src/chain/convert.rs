//! Field-for-field conversions between the contract bindings' report structs
//! ([`RevShare`](super::contract::RevShare), used to call the contract and decode its events) and
//! [`report::abi`](crate::report::abi)'s (used to hash and verify). The two are generated from the
//! same Solidity declarations, so nothing is checked or lost here; checking is `report`'s job.

use super::contract::RevShare;
use crate::report::abi;

/// A pool report as the contract's event or call carries it, in the hashing types.
pub fn pool_report_from_contract(report: &RevShare::PoolReport) -> abi::PoolReport {
    abi::PoolReport {
        community: report.community,
        pool: report.pool,
        seq: report.seq,
        prevHash: report.prevHash,
        entries: entries_from_contract(&report.entries),
        decisionHash: report.decisionHash,
        policyVersion: report.policyVersion,
        observedAt: report.observedAt,
        validFrom: report.validFrom,
        validUntil: report.validUntil,
    }
}

/// Entries as the contract's `poolEntries` view returns them, in the hashing types.
pub fn entries_from_contract(entries: &[RevShare::Entry]) -> Vec<abi::Entry> {
    entries
        .iter()
        .map(|entry| abi::Entry {
            wallet: entry.wallet.clone(),
            weight: entry.weight,
            payee: entry.payee,
        })
        .collect()
}

/// A pool report in the contract's types, to submit it.
pub fn pool_report_to_contract(report: &abi::PoolReport) -> RevShare::PoolReport {
    RevShare::PoolReport {
        community: report.community,
        pool: report.pool,
        seq: report.seq,
        prevHash: report.prevHash,
        entries: report
            .entries
            .iter()
            .map(|entry| RevShare::Entry {
                wallet: entry.wallet.clone(),
                weight: entry.weight,
                payee: entry.payee,
            })
            .collect(),
        decisionHash: report.decisionHash,
        policyVersion: report.policyVersion,
        observedAt: report.observedAt,
        validFrom: report.validFrom,
        validUntil: report.validUntil,
    }
}

/// A signer report as the contract's event or call carries it, in the hashing types.
pub fn signer_report_from_contract(report: &RevShare::SignerReport) -> abi::SignerReport {
    abi::SignerReport {
        seq: report.seq,
        prevHash: report.prevHash,
        signers: report.signers.clone(),
        threshold: report.threshold,
        observedAt: report.observedAt,
        validFrom: report.validFrom,
        validUntil: report.validUntil,
    }
}

/// A signer report in the contract's types, to submit it.
pub fn signer_report_to_contract(report: &abi::SignerReport) -> RevShare::SignerReport {
    RevShare::SignerReport {
        seq: report.seq,
        prevHash: report.prevHash,
        signers: report.signers.clone(),
        threshold: report.threshold,
        observedAt: report.observedAt,
        validFrom: report.validFrom,
        validUntil: report.validUntil,
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::aliases::U96;
    use alloy_primitives::{Address, B256};

    use super::*;

    #[test]
    fn reports_survive_the_round_trip_through_the_contract_types() {
        let pool = abi::PoolReport {
            community: B256::repeat_byte(1),
            pool: B256::repeat_byte(2),
            seq: 7,
            prevHash: B256::repeat_byte(3),
            entries: vec![abi::Entry {
                wallet: "https://a.example/x".into(),
                weight: U96::from(5u64),
                payee: Address::repeat_byte(4),
            }],
            decisionHash: B256::repeat_byte(5),
            policyVersion: 2,
            observedAt: 10,
            validFrom: 11,
            validUntil: 12,
        };
        assert_eq!(
            pool_report_from_contract(&pool_report_to_contract(&pool)),
            pool
        );
        let signers = abi::SignerReport {
            seq: 1,
            prevHash: B256::ZERO,
            signers: vec![Address::repeat_byte(9), Address::repeat_byte(8)],
            threshold: 2,
            observedAt: 1,
            validFrom: 2,
            validUntil: 3,
        };
        assert_eq!(
            signer_report_from_contract(&signer_report_to_contract(&signers)),
            signers
        );
    }
}
