//! The EIP-712 domain a report is signed in: the contract's name and version, the chain's id and the
//! contract's address. A report signed in one domain recovers to other signers in any other, so it
//! cannot be replayed on another chain or against another deployment.
//!
//! This module only hashes; it does not know which chain or contract is real (configuration does).

use alloy_primitives::{Address, B256, keccak256};
use alloy_sol_types::{Eip712Domain, eip712_domain};

use super::digest::Digest;

/// The contract's EIP-712 `name` (`EIP712("RevShareOracle", "1")` in `RevShare.sol`).
pub const DOMAIN_NAME: &str = "RevShareOracle";
/// The contract's EIP-712 `version`.
pub const DOMAIN_VERSION: &str = "1";

/// Where a report is valid: one chain, one deployment of the contract. Every digest needs one, so a
/// report cannot be hashed or signed without saying where it is meant to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Domain {
    chain_id: u64,
    verifying_contract: Address,
    /// Computed once: every digest starts from it.
    separator: B256,
}

impl Domain {
    /// The domain of the contract at `verifying_contract` on the chain `chain_id`.
    pub fn new(chain_id: u64, verifying_contract: Address) -> Self {
        let separator = Self::eip712_of(chain_id, verifying_contract).separator();
        Domain {
            chain_id,
            verifying_contract,
            separator,
        }
    }

    fn eip712_of(chain_id: u64, verifying_contract: Address) -> Eip712Domain {
        eip712_domain! {
            name: DOMAIN_NAME,
            version: DOMAIN_VERSION,
            chain_id: chain_id,
            verifying_contract: verifying_contract,
        }
    }

    /// The chain's id (EIP-155).
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The RevShare contract's address.
    pub fn verifying_contract(&self) -> Address {
        self.verifying_contract
    }

    /// The domain separator, as the contract's `domainSeparator()` returns it.
    pub fn separator(&self) -> B256 {
        self.separator
    }

    /// The domain in alloy's form, for code that signs or checks typed data with alloy.
    pub fn eip712(&self) -> Eip712Domain {
        Self::eip712_of(self.chain_id, self.verifying_contract)
    }

    /// The digest of a struct hash in this domain: `keccak256("\x19\x01" ‖ separator ‖ structHash)`.
    pub(super) fn digest_of(&self, struct_hash: B256) -> Digest {
        let mut message = [0u8; 66];
        message[..2].copy_from_slice(&[0x19, 0x01]);
        message[2..34].copy_from_slice(self.separator.as_slice());
        message[34..].copy_from_slice(struct_hash.as_slice());
        Digest::new(keccak256(message))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{U256, address};

    use super::*;

    #[test]
    fn separator_follows_eip712() {
        let contract = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
        let domain = Domain::new(31337, contract);
        let type_hash = keccak256(
            "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
        );
        let mut encoded = Vec::new();
        encoded.extend_from_slice(type_hash.as_slice());
        encoded.extend_from_slice(keccak256(DOMAIN_NAME).as_slice());
        encoded.extend_from_slice(keccak256(DOMAIN_VERSION).as_slice());
        encoded.extend_from_slice(&U256::from(31337u64).to_be_bytes::<32>());
        encoded.extend_from_slice(contract.into_word().as_slice());
        assert_eq!(domain.separator(), keccak256(&encoded));
    }

    #[test]
    fn another_chain_or_contract_is_another_separator() {
        let contract = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
        let base = Domain::new(31337, contract);
        assert_ne!(base.separator(), Domain::new(1, contract).separator());
        assert_ne!(
            base.separator(),
            Domain::new(31337, Address::repeat_byte(0x11)).separator()
        );
    }
}
