//! Reports as EIP-712 typed data in the JSON form wallets and tools read (`eth_signTypedData_v4`):
//! types, primary type, domain and message. Anyone can hash that JSON with an independent
//! implementation (Foundry's `cast wallet verify --data`, a wallet, ethers.js) and check the
//! service's signatures without trusting its code.
//!
//! Integers are written as decimal strings, so no JSON reader loses precision on a `uint64`.

use serde_json::{Value, json};

use super::abi;
use super::domain::{DOMAIN_NAME, DOMAIN_VERSION, Domain};
use super::pool::PoolReport;
use super::signer::SignerReport;

fn domain_json(domain: &Domain) -> Value {
    json!({
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": domain.chain_id().to_string(),
        "verifyingContract": domain.verifying_contract().to_string(),
    })
}

fn domain_type() -> Value {
    json!([
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ])
}

/// A pool report as EIP-712 typed data in `domain`.
pub fn pool_typed_data(report: &PoolReport, domain: &Domain) -> Value {
    let report = abi::PoolReport::from(report);
    let entries: Vec<Value> = report
        .entries
        .iter()
        .map(|entry| {
            json!({
                "wallet": entry.wallet,
                "weight": entry.weight.to_string(),
                "payee": entry.payee.to_string(),
            })
        })
        .collect();
    json!({
        "types": {
            "EIP712Domain": domain_type(),
            "PoolReport": [
                {"name": "community", "type": "bytes32"},
                {"name": "pool", "type": "bytes32"},
                {"name": "seq", "type": "uint64"},
                {"name": "prevHash", "type": "bytes32"},
                {"name": "entries", "type": "Entry[]"},
                {"name": "decisionHash", "type": "bytes32"},
                {"name": "policyVersion", "type": "uint64"},
                {"name": "observedAt", "type": "uint64"},
                {"name": "validFrom", "type": "uint64"},
                {"name": "validUntil", "type": "uint64"},
            ],
            "Entry": [
                {"name": "wallet", "type": "string"},
                {"name": "weight", "type": "uint96"},
                {"name": "payee", "type": "address"},
            ],
        },
        "primaryType": "PoolReport",
        "domain": domain_json(domain),
        "message": {
            "community": report.community.to_string(),
            "pool": report.pool.to_string(),
            "seq": report.seq.to_string(),
            "prevHash": report.prevHash.to_string(),
            "entries": entries,
            "decisionHash": report.decisionHash.to_string(),
            "policyVersion": report.policyVersion.to_string(),
            "observedAt": report.observedAt.to_string(),
            "validFrom": report.validFrom.to_string(),
            "validUntil": report.validUntil.to_string(),
        },
    })
}

/// A signer report as EIP-712 typed data in `domain`.
pub fn signer_typed_data(report: &SignerReport, domain: &Domain) -> Value {
    let report = abi::SignerReport::from(report);
    json!({
        "types": {
            "EIP712Domain": domain_type(),
            "SignerReport": [
                {"name": "seq", "type": "uint64"},
                {"name": "prevHash", "type": "bytes32"},
                {"name": "signers", "type": "address[]"},
                {"name": "threshold", "type": "uint8"},
                {"name": "observedAt", "type": "uint64"},
                {"name": "validFrom", "type": "uint64"},
                {"name": "validUntil", "type": "uint64"},
            ],
        },
        "primaryType": "SignerReport",
        "domain": domain_json(domain),
        "message": {
            "seq": report.seq.to_string(),
            "prevHash": report.prevHash.to_string(),
            "signers": report.signers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "threshold": report.threshold.to_string(),
            "observedAt": report.observedAt.to_string(),
            "validFrom": report.validFrom.to_string(),
            "validUntil": report.validUntil.to_string(),
        },
    })
}
