//! Signed reports and their verification: a report, the domain it was signed in, and signatures
//! over its digest, checked against a signer set exactly as the contract checks them (at least
//! threshold signatures, each recovering to a member, in strictly increasing signer order, none
//! twice).
//!
//! The time window and the chain link are not checked here (the first needs a clock, the second the
//! chain's head: see [`chain`](super::chain)).

use alloy_primitives::Address;

use super::chain::Report;
use super::digest::Digest;
use super::domain::Domain;
use super::error::{ReportError, SignatureFault};
use super::key::SigningKey;
use super::signature::Signature;
use super::signer::SignerSet;

/// A report with its domain, digest and signatures, in the order they go into the contract's
/// signature blob. It cannot exist without a domain, so its digest is always the one signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedReport<R> {
    report: R,
    domain: Domain,
    digest: Digest,
    signatures: Vec<Signature>,
}

impl<R: Report> SignedReport<R> {
    /// A report to be signed in `domain`, with no signature yet.
    pub fn new(report: R, domain: Domain) -> Self {
        let digest = report.digest(&domain);
        SignedReport {
            report,
            domain,
            digest,
            signatures: Vec::new(),
        }
    }

    /// A report signed by each of `keys`, signatures ordered by signer address as the contract
    /// requires. Refuses one key given twice.
    pub fn sign(report: R, domain: Domain, keys: &[&SigningKey]) -> Result<Self, ReportError> {
        let mut signed = SignedReport::new(report, domain);
        let mut by_signer: Vec<(Address, Signature)> = keys
            .iter()
            .map(|key| (key.address(), key.sign(signed.digest)))
            .collect();
        by_signer.sort_by_key(|(signer, _)| *signer);
        if let Some(pair) = by_signer.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ReportError::DuplicateSigner { signer: pair[0].0 });
        }
        signed.signatures = by_signer.into_iter().map(|(_, s)| s).collect();
        Ok(signed)
    }

    /// Signatures exactly as received (e.g. from another oracle node or a transaction); nothing is
    /// checked until [`verify`].
    pub fn from_signatures(report: R, domain: Domain, signatures: Vec<Signature>) -> Self {
        let mut signed = SignedReport::new(report, domain);
        signed.signatures = signatures;
        signed
    }

    /// Signatures from the contract's blob of concatenated 65-byte signatures, in the blob's order.
    pub fn from_blob(report: R, domain: Domain, blob: &[u8]) -> Result<Self, ReportError> {
        if !blob.len().is_multiple_of(Signature::LEN) {
            return Err(ReportError::SignaturesMalformed { length: blob.len() });
        }
        let signatures = blob
            .chunks_exact(Signature::LEN)
            .enumerate()
            .map(|(index, bytes)| {
                Signature::from_bytes(bytes)
                    .map_err(|fault| ReportError::Signature { index, fault })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedReport::from_signatures(report, domain, signatures))
    }

    /// Adds one signer's signature (e.g. collected from another oracle node) at its place in signer
    /// order, and returns who signed. Refuses a signature that recovers to nobody or to a signer
    /// that already signed.
    pub fn add_signature(&mut self, signature: Signature) -> Result<Address, ReportError> {
        let recover = |index: usize, signature: &Signature| {
            signature
                .recover(self.digest)
                .map_err(|fault| ReportError::Signature { index, fault })
        };
        let signer = recover(self.signatures.len(), &signature)?;
        let mut position = self.signatures.len();
        for (index, existing) in self.signatures.iter().enumerate() {
            let existing = recover(index, existing)?;
            if existing == signer {
                return Err(ReportError::DuplicateSigner { signer });
            }
            if existing > signer {
                position = position.min(index);
            }
        }
        self.signatures.insert(position, signature);
        Ok(signer)
    }

    /// The report.
    pub fn report(&self) -> &R {
        &self.report
    }

    /// The domain it is signed in.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Its digest in that domain: what every signature signs.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The signatures, in blob order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The contract's `signatures` argument: the 65-byte signatures concatenated in order.
    pub fn blob(&self) -> Vec<u8> {
        self.signatures
            .iter()
            .flat_map(|signature| signature.as_bytes().iter().copied())
            .collect()
    }

    /// The report, dropping domain and signatures.
    pub fn into_report(self) -> R {
        self.report
    }
}

/// Verifies a signed report against the signer set in force for it, as the contract does, and
/// returns who signed, in signature order. Every signature must hold, even past the threshold.
pub fn verify<R: Report>(
    signed: &SignedReport<R>,
    set: &SignerSet,
) -> Result<Vec<Address>, ReportError> {
    verify_signatures(signed.digest, &signed.signatures, set)
}

/// Verifies signatures over a digest against a signer set; see [`verify`].
pub fn verify_signatures(
    digest: Digest,
    signatures: &[Signature],
    set: &SignerSet,
) -> Result<Vec<Address>, ReportError> {
    check_signers(&recover_signers(digest, signatures), set)
}

/// Recovers the signer of each signature over `digest`, in order: the costly half of
/// [`verify_signatures`], which needs no signer set, so an auditor can run it for many reports at
/// once before walking the chain.
pub fn recover_signers(
    digest: Digest,
    signatures: &[Signature],
) -> Vec<Result<Address, SignatureFault>> {
    signatures
        .iter()
        .map(|signature| signature.recover(digest))
        .collect()
}

/// The other half of [`verify_signatures`]: checks recovered signers (in signature order) against
/// the set, as the contract does, and returns them.
pub fn check_signers(
    recovered: &[Result<Address, SignatureFault>],
    set: &SignerSet,
) -> Result<Vec<Address>, ReportError> {
    let threshold = usize::from(set.threshold());
    if recovered.len() < threshold {
        return Err(ReportError::TooFewSignatures {
            count: recovered.len(),
            threshold,
        });
    }
    let mut signers: Vec<Address> = Vec::with_capacity(recovered.len());
    for (index, signer) in recovered.iter().enumerate() {
        let signer = signer.map_err(|fault| ReportError::Signature { index, fault })?;
        if set.index_of(signer).is_none() {
            return Err(ReportError::UnknownSigner { signer });
        }
        if let Some(&previous) = signers.last() {
            if signer == previous {
                return Err(ReportError::DuplicateSigner { signer });
            }
            if signer < previous {
                return Err(ReportError::SignersNotAscending { index });
            }
        }
        signers.push(signer);
    }
    Ok(signers)
}
