//! The oracle: the keys this node signs with, the contract they sign for, and the rule that turns a
//! new pool version into a signed report. The store calls it inside the transaction that records the
//! version, so a version and its report exist together or not at all (invariant 3).
//!
//! It holds keys in memory and reads no clock, database or network: the store hands it the chain's
//! head and the signer set in force; times come from the caller.

use alloy_primitives::{Address, B256, keccak256};
use serde::Serialize;

use crate::config::OracleConfig;
use crate::domain::{Cause, CommunitySlug, Pool, PoolName, Timestamp};
use crate::keys::{self, KeyError};
use crate::report::{
    Domain, Head, PoolChange, PoolId, PoolReport, Report, ReportEntry, ReportError, SignedReport,
    SignerChange, SignerReport, SignerSet, SigningKey, ValidityWindow,
};

/// The shortest validity window accepted: time for a relayer to send and a chain to include.
pub const MIN_VALIDITY_SECS: u64 = 300;

/// Why the oracle could not start or sign.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// A configured key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The configuration names no key.
    #[error("the oracle is enabled but [oracle] names no key")]
    NoKeys,
    /// A window this short could expire before any report lands, and re-issue would never end.
    #[error(
        "oracle.validity_secs is {given}: a report needs at least {MIN_VALIDITY_SECS} seconds to land"
    )]
    ValidityTooShort {
        /// The configured window.
        given: u64,
    },
    /// A report could not be built (too many entries, a bad signer set, ...).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// This node holds too few keys of the signer set in force to reach its threshold.
    #[error("this node holds {held} of the {threshold} signatures the signer set in force needs")]
    TooFewKeys {
        /// Keys held that belong to the set.
        held: usize,
        /// The set's threshold.
        threshold: u8,
    },
}

impl OracleError {
    /// Whether the change is larger than one report may carry: it can never be signed, however
    /// often it is tried, so the caller refuses it rather than retrying.
    pub fn refuses_size(&self) -> bool {
        matches!(
            self,
            OracleError::Report(
                ReportError::TooManyEntries { .. } | ReportError::WalletBytes { .. }
            )
        )
    }
}

/// What an admin's bootstrap of a pool commits to, hashed into the report's `decisionHash`. A
/// decision of the policy engine commits to its own evidence instead.
#[derive(Serialize)]
struct BootstrapEvidence<'a> {
    kind: &'static str,
    community: &'a str,
    pool: &'a str,
    version: u64,
    cause: &'a Cause,
    recorded_at: Timestamp,
}

/// The evidence a report's decision hash commits to: the exact bytes, and their keccak256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceBytes {
    /// The bytes as hashed, served byte for byte to auditors.
    pub bytes: Vec<u8>,
    /// keccak256 of the bytes: the report's `decisionHash`.
    pub hash: B256,
}

impl EvidenceBytes {
    /// Evidence of the given bytes.
    pub fn of(bytes: Vec<u8>) -> Self {
        let hash = keccak256(&bytes);
        EvidenceBytes { bytes, hash }
    }

    /// The evidence of an admin's bootstrap of a pool version: what was changed, by whom, when.
    pub fn bootstrap(
        community: &CommunitySlug,
        pool: &PoolName,
        version: u64,
        cause: &Cause,
        recorded_at: Timestamp,
    ) -> Self {
        let bytes = serde_json::to_vec(&BootstrapEvidence {
            kind: "admin_bootstrap",
            community: community.as_str(),
            pool: pool.as_str(),
            version,
            cause,
            recorded_at,
        })
        .expect("bootstrap evidence always serialises");
        EvidenceBytes::of(bytes)
    }
}

/// This node's signing keys and the contract they sign for.
pub struct Oracle {
    keys: Vec<SigningKey>,
    domain: Domain,
    genesis: SignerSet,
    validity_secs: u64,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oracle")
            .field("signers", &self.addresses())
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Oracle {
    /// Loads the configured keys (generating a local one where allowed) and the first signer set:
    /// the configured signers, or the keys' own addresses when none are configured.
    pub fn from_config(config: &OracleConfig) -> Result<Self, OracleError> {
        if config.keys.is_empty() {
            return Err(OracleError::NoKeys);
        }
        if config.validity_secs < MIN_VALIDITY_SECS {
            return Err(OracleError::ValidityTooShort {
                given: config.validity_secs,
            });
        }
        let keys = config
            .keys
            .iter()
            .map(keys::load)
            .collect::<Result<Vec<_>, _>>()?;
        let mut signers = if config.signers.is_empty() {
            keys.iter().map(SigningKey::address).collect()
        } else {
            config.signers.clone()
        };
        signers.sort();
        signers.dedup();
        let genesis = SignerSet::new(signers, config.threshold)?;
        Ok(Oracle::new(
            keys,
            Domain::new(config.chain_id, config.contract),
            genesis,
            config.validity_secs,
        ))
    }

    /// An oracle from keys already loaded.
    pub fn new(
        keys: Vec<SigningKey>,
        domain: Domain,
        genesis: SignerSet,
        validity_secs: u64,
    ) -> Self {
        Oracle {
            keys,
            domain,
            genesis,
            validity_secs,
        }
    }

    /// The EIP-712 domain every report is signed in.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The signer set the contract was deployed with (epoch 1).
    pub fn genesis(&self) -> &SignerSet {
        &self.genesis
    }

    /// The addresses of the keys this node holds.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.iter().map(SigningKey::address).collect()
    }

    /// Signs the report that makes `pool` the new content of `(community, pool_name)` on chain,
    /// following `head` (the last report of that pool this node issued), with the keys of `set`
    /// (the signer set in force) that this node holds.
    #[allow(clippy::too_many_arguments)]
    pub fn pool_report(
        &self,
        head: Head,
        community: &CommunitySlug,
        pool_name: &PoolName,
        pool: &Pool,
        evidence: &EvidenceBytes,
        policy_version: u64,
        observed_at: Timestamp,
        set: &SignerSet,
    ) -> Result<SignedReport<PoolReport>, OracleError> {
        let entries = pool.entries().iter().map(ReportEntry::from).collect();
        let observed = unix_seconds(observed_at);
        let change = PoolChange::new(
            PoolId::new(community, pool_name),
            entries,
            evidence.hash,
            policy_version,
            observed,
            ValidityWindow::starting_at(observed, self.validity_secs),
        )?;
        let report = PoolReport::after(head, change)?;
        Ok(SignedReport::sign(
            report,
            self.domain,
            &self.keys_of(set)?,
        )?)
    }

    /// Signs the rotation from `set` (in force, after `head` of the signer chain) to `next`.
    pub fn signer_report(
        &self,
        head: Head,
        next: SignerSet,
        observed_at: Timestamp,
        set: &SignerSet,
    ) -> Result<SignedReport<SignerReport>, OracleError> {
        let observed = unix_seconds(observed_at);
        let change = SignerChange {
            set: next,
            observed_at: observed,
            window: ValidityWindow::starting_at(observed, self.validity_secs),
        };
        let report = SignerReport::after(head, change)?;
        Ok(SignedReport::sign(
            report,
            self.domain,
            &self.keys_of(set)?,
        )?)
    }

    /// The window of a report re-issued when the chain's latest block is at `chain_time` (Unix
    /// seconds): it opens at the chain's own time, which the next block cannot precede, and stays
    /// open for the configured validity, whatever this node's clock says.
    pub fn fresh_window(&self, chain_time: u64) -> ValidityWindow {
        ValidityWindow::starting_at(chain_time, self.validity_secs)
    }

    /// Signs a report built elsewhere (a re-issued one) with the keys of `set` this node holds.
    pub fn sign<R: Report>(
        &self,
        report: R,
        set: &SignerSet,
    ) -> Result<SignedReport<R>, OracleError> {
        Ok(SignedReport::sign(
            report,
            self.domain,
            &self.keys_of(set)?,
        )?)
    }

    /// The held keys that belong to `set`, as many as its threshold needs.
    fn keys_of(&self, set: &SignerSet) -> Result<Vec<&SigningKey>, OracleError> {
        let threshold = usize::from(set.threshold());
        let held: Vec<&SigningKey> = self
            .keys
            .iter()
            .filter(|key| set.index_of(key.address()).is_some())
            .collect();
        if held.len() < threshold {
            return Err(OracleError::TooFewKeys {
                held: held.len(),
                threshold: set.threshold(),
            });
        }
        Ok(held.into_iter().take(threshold).collect())
    }
}

fn unix_seconds(at: Timestamp) -> u64 {
    u64::try_from(at.millis().div_euclid(1000)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_too_short_for_a_report_to_land_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = OracleConfig {
            keys: vec![crate::config::KeySource {
                path: dir.path().join("oracle.key"),
                password_file: None,
                generate: true,
            }],
            validity_secs: MIN_VALIDITY_SECS - 1,
            ..OracleConfig::default()
        };
        let refused = Oracle::from_config(&config).unwrap_err();
        assert!(matches!(
            refused,
            OracleError::ValidityTooShort { given } if given == MIN_VALIDITY_SECS - 1
        ));
        assert!(
            refused.to_string().contains("oracle.validity_secs"),
            "{refused}"
        );
        config.validity_secs = MIN_VALIDITY_SECS;
        assert!(Oracle::from_config(&config).is_ok());
    }
}
