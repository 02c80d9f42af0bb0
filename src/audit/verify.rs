//! The audit itself, as a pure function from a [`History`] to a [`Verdict`]: it walks the events
//! in chain order, keeping the signer set in force, each chain's head and each pool's commitment,
//! and checks every report as the contract should have (domain, signatures against the set in
//! force, threshold, the emitted bitmap and epoch, seq and prevHash, the entry tree's root), then
//! compares the replayed state with the contract's views and each decision hash with its evidence.
//!
//! What each event needs on its own (its digest, the signers its signatures recover to, its
//! entry tree) is computed first, on every core; the walk then only compares.
//!
//! A failure does not stop the walk: the chain's own values are taken as they are, so one bad
//! report is named once instead of making every later one fail too.

use std::collections::{HashMap, HashSet};

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolStruct;

use super::history::{FetchedEvidence, History};
use super::verdict::{EvidenceSummary, Failure, FailureKind, ReportRef, Verdict};
use crate::chain::events::{ContractEvent, PoolApplied, ReportEvent, SignersRotated};
use crate::report::{
    Digest, Domain, EntryTree, Head, Link, PoolId, PoolReport, ReportError, Signature,
    SignatureFault, SignerReport, SignerSet, abi, check_signers, recover_signers,
};

/// Judges a history. `expected` is the signer set the auditor trusts for the deployment; without
/// it, the deployment's own set is taken as given (and the verdict says so).
pub fn verify(history: &History, expected: Option<&SignerSet>) -> Verdict {
    let mut audit = Audit::new(history, expected);
    let opens_with_deployment = history.events.first().is_some_and(is_deployment);
    if !opens_with_deployment {
        audit.fail(
            FailureKind::DeploymentMissing,
            None,
            format!(
                "expected the contract's deployment (signer set epoch 1, seq 0) as the first event \
                 from block {}; start at or before the deployment block",
                history.from_block
            ),
        );
    }
    let prepared = prepare_all(&audit.domain, &history.events);
    for (index, (event, prepared)) in history.events.iter().zip(&prepared).enumerate() {
        audit.event(index, event, prepared);
    }
    audit.compare_views();
    audit.into_verdict(expected.is_some())
}

fn is_deployment(event: &ContractEvent) -> bool {
    matches!(&event.event, ReportEvent::Signers(rotated) if rotated.report.seq == 0 && rotated.epoch == 1)
}

/// One pool as replayed.
struct ReplayedPool {
    id: PoolId,
    head: Head,
    commitment: Commitment,
}

/// What the contract keeps for a pool's entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Commitment {
    root: B256,
    total_weight: U256,
    payee_weight: U256,
    entries: usize,
}

impl Commitment {
    fn of(entries: &[abi::Entry]) -> Self {
        let weight = |entry: &abi::Entry| U256::from(entry.weight);
        Commitment {
            root: EntryTree::new(entries).root(),
            total_weight: entries.iter().map(weight).sum(),
            payee_weight: entries
                .iter()
                .filter(|entry| !entry.payee.is_zero())
                .map(weight)
                .sum(),
            entries: entries.len(),
        }
    }
}

/// What an event yields on its own, before the walk.
struct Prepared {
    /// The report's digest in the audited domain.
    digest: Digest,
    /// The signer of each signature, or why the blob is not signatures at all.
    recovered: Result<Vec<Result<Address, SignatureFault>>, ReportError>,
    /// A pool report's commitment.
    commitment: Option<Commitment>,
    /// Why a pool report's content is not one the service could have signed, if it is not.
    malformed: Option<String>,
}

/// Prepares every event, the events split evenly over the machine's cores, in order.
fn prepare_all(domain: &Domain, events: &[ContractEvent]) -> Vec<Prepared> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let chunk = events.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = events
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|e| prepare(domain, e)).collect::<Vec<_>>())
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| {
                part.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Vec<Prepared>>()
    })
}

fn prepare(domain: &Domain, event: &ContractEvent) -> Prepared {
    let (struct_hash, blob, commitment, malformed) = match &event.event {
        ReportEvent::Pool(applied) => (
            applied.report.eip712_hash_struct(),
            &applied.signatures,
            Some(Commitment::of(&applied.report.entries)),
            PoolReport::try_from(&applied.report)
                .err()
                .map(|e| e.to_string()),
        ),
        ReportEvent::Signers(rotated) => (
            rotated.report.eip712_hash_struct(),
            &rotated.signatures,
            None,
            None,
        ),
    };
    let digest = digest_in(domain, struct_hash);
    Prepared {
        digest,
        recovered: parse_blob(blob).map(|signatures| recover_signers(digest, &signatures)),
        commitment,
        malformed,
    }
}

struct Audit<'h> {
    history: &'h History,
    domain: Domain,
    /// The set signatures are checked against.
    trusted: Option<SignerSet>,
    /// The set the chain installed, to compare with the views.
    installed: Option<SignerSet>,
    epoch: u64,
    signer_head: Head,
    pools: Vec<ReplayedPool>,
    pool_reports: usize,
    signer_reports: usize,
    evidence: Option<(
        EvidenceSummary,
        HashMap<B256, &'h FetchedEvidence>,
        HashSet<B256>,
    )>,
    failures: Vec<Failure>,
}

impl<'h> Audit<'h> {
    fn new(history: &'h History, expected: Option<&SignerSet>) -> Self {
        let domain = Domain::new(history.chain_id, history.contract);
        Audit {
            history,
            domain,
            trusted: expected.cloned(),
            installed: None,
            epoch: 1,
            signer_head: Head::GENESIS,
            pools: Vec::new(),
            pool_reports: 0,
            signer_reports: 0,
            evidence: history.evidence.as_ref().map(|documents| {
                let by_hash = documents.iter().map(|(hash, e)| (*hash, e)).collect();
                (EvidenceSummary::default(), by_hash, HashSet::new())
            }),
            failures: Vec::new(),
        }
    }

    fn fail(&mut self, kind: FailureKind, report: Option<&ReportRef>, message: String) {
        self.failures.push(Failure {
            kind,
            report: report.cloned(),
            message,
        });
    }

    fn event(&mut self, index: usize, event: &ContractEvent, prepared: &Prepared) {
        match &event.event {
            ReportEvent::Signers(rotated) if index == 0 && is_deployment(event) => {
                self.deployment(rotated, &reference(event));
            }
            ReportEvent::Signers(rotated) => self.rotation(event, rotated, prepared),
            ReportEvent::Pool(applied) => self.pool_report(event, applied, prepared),
        }
    }

    fn deployment(&mut self, rotated: &SignersRotated, at: &ReportRef) {
        let deployed =
            match SignerSet::new(rotated.report.signers.clone(), rotated.report.threshold) {
                Ok(set) => set,
                Err(e) => {
                    self.fail(FailureKind::MalformedReport, Some(at), e.to_string());
                    return;
                }
            };
        match &self.trusted {
            Some(expected) if *expected != deployed => {
                let message = format!(
                    "expected the contract to be deployed with {}, found {}",
                    describe_set(expected),
                    describe_set(&deployed)
                );
                self.fail(FailureKind::DeploymentSignersDiffer, None, message);
            }
            Some(_) => {}
            None => self.trusted = Some(deployed.clone()),
        }
        self.installed = Some(deployed);
    }

    fn rotation(&mut self, event: &ContractEvent, rotated: &SignersRotated, prepared: &Prepared) {
        self.signer_reports += 1;
        let at = reference(event);
        let report = &rotated.report;
        let new_set = match SignerReport::try_from(report) {
            Ok(parsed) => Some(parsed.set().clone()),
            Err(e) => {
                self.fail(FailureKind::MalformedReport, Some(&at), e.to_string());
                None
            }
        };
        self.check_digest(&at, prepared.digest, rotated.digest);
        self.check_signatures(&at, &prepared.recovered, rotated.signer_bitmap);
        if rotated.epoch != self.epoch + 1 {
            let message = format!(
                "expected the rotation to open epoch {}, found epoch {}",
                self.epoch + 1,
                rotated.epoch
            );
            self.fail(FailureKind::EpochMismatch, Some(&at), message);
        }
        let link = Link {
            seq: report.seq,
            prev_hash: Digest::new(report.prevHash),
        };
        if let Err(e) = self.signer_head.check_next(link) {
            self.fail(kind_of(&e), Some(&at), e.to_string());
        }
        self.signer_head = Head {
            seq: report.seq,
            digest: rotated.digest,
        };
        self.epoch = rotated.epoch;
        if let Some(set) = new_set {
            self.trusted = Some(set.clone());
            self.installed = Some(set);
        }
    }

    fn pool_report(&mut self, event: &ContractEvent, applied: &PoolApplied, prepared: &Prepared) {
        self.pool_reports += 1;
        let at = reference(event);
        let report = &applied.report;
        if let Some(why) = &prepared.malformed {
            self.fail(FailureKind::MalformedReport, Some(&at), why.clone());
        }
        self.check_digest(&at, prepared.digest, applied.digest);
        self.check_signatures(&at, &prepared.recovered, applied.signer_bitmap);
        let commitment = prepared.commitment.unwrap_or_default();
        if commitment.root != applied.root {
            let message = format!(
                "the event's root {} is not the root {} of the report's {} entries",
                applied.root, commitment.root, commitment.entries
            );
            self.fail(FailureKind::RootMismatch, Some(&at), message);
        }
        if applied.signer_epoch != self.epoch {
            let message = format!(
                "expected the report to be signed by epoch {}, the event says epoch {}",
                self.epoch, applied.signer_epoch
            );
            self.fail(FailureKind::EpochMismatch, Some(&at), message);
        }
        let id = applied.pool_id();
        let position = match self.pools.iter().position(|p| p.id == id) {
            Some(position) => position,
            None => {
                self.pools.push(ReplayedPool {
                    id,
                    head: Head::GENESIS,
                    commitment: Commitment::default(),
                });
                self.pools.len() - 1
            }
        };
        let link = Link {
            seq: report.seq,
            prev_hash: Digest::new(report.prevHash),
        };
        if let Err(e) = self.pools[position].head.check_next(link) {
            self.fail(kind_of(&e), Some(&at), e.to_string());
        }
        self.pools[position].head = Head {
            seq: report.seq,
            digest: applied.digest,
        };
        self.pools[position].commitment = commitment;
        self.check_evidence(&at, report.decisionHash, report.policyVersion);
    }

    fn check_digest(&mut self, at: &ReportRef, computed: Digest, emitted: Digest) {
        if computed != emitted {
            let message = format!(
                "the event's digest {emitted} is not the report's digest {computed} for chain {} \
                 and contract {}",
                self.domain.chain_id(),
                self.domain.verifying_contract()
            );
            self.fail(FailureKind::DigestMismatch, Some(at), message);
        }
    }

    fn check_signatures(
        &mut self,
        at: &ReportRef,
        recovered: &Result<Vec<Result<Address, SignatureFault>>, ReportError>,
        bitmap: U256,
    ) {
        let Some(set) = self.trusted.clone() else {
            self.fail(
                FailureKind::NoSignerSet,
                Some(at),
                "no signer set is known to check the signatures against".into(),
            );
            return;
        };
        let recovered = match recovered {
            Ok(recovered) => recovered,
            Err(e) => {
                self.fail(FailureKind::SignatureInvalid, Some(at), e.to_string());
                return;
            }
        };
        match check_signers(recovered, &set) {
            Ok(signers) => {
                let recovered = signers
                    .iter()
                    .filter_map(|signer| set.index_of(*signer))
                    .fold(U256::ZERO, |bits, index| bits | (U256::from(1) << index));
                if recovered != bitmap {
                    let message = format!(
                        "the signatures are from signers {recovered:#x} (bitmap), the event says {bitmap:#x}"
                    );
                    self.fail(FailureKind::BitmapMismatch, Some(at), message);
                }
            }
            Err(e) => self.fail(kind_of(&e), Some(at), e.to_string()),
        }
    }

    fn check_evidence(&mut self, at: &ReportRef, hash: B256, policy_version: u64) {
        let Some((summary, documents, checked)) = &mut self.evidence else {
            return;
        };
        if hash.is_zero() {
            summary.without_decision += 1;
            return;
        }
        let failure = match documents.get(&hash) {
            Some(FetchedEvidence::Document(bytes)) => {
                let found = keccak256(bytes);
                if found == hash {
                    let first = checked.insert(hash);
                    if first {
                        summary.checked += 1;
                    }
                    match rerun_decision(bytes, policy_version) {
                        Ok(Some(evidence)) => {
                            if first {
                                summary.decisions_rerun += 1;
                            }
                            match super::ballots::check(&evidence) {
                                Ok(compared) => {
                                    if first && compared {
                                        summary.ballots_checked += 1;
                                    }
                                    None
                                }
                                Err(why) => Some((FailureKind::BallotsNotFromDocuments, why)),
                            }
                        }
                        Ok(None) => None,
                        Err(why) => Some((FailureKind::DecisionNotSupported, why)),
                    }
                } else {
                    Some((
                        FailureKind::EvidenceHashMismatch,
                        format!(
                            "expected evidence hashing to the decision hash {hash}, found a \
                             document of {} bytes hashing to {found}",
                            bytes.len()
                        ),
                    ))
                }
            }
            Some(FetchedEvidence::Missing(reason)) => Some((
                FailureKind::EvidenceMissing,
                format!("no evidence for decision {hash}: {reason}"),
            )),
            None => Some((
                FailureKind::EvidenceMissing,
                format!("no evidence for decision {hash} was fetched"),
            )),
        };
        if let Some((kind, message)) = failure {
            self.fail(kind, Some(at), message);
        }
    }

    fn compare_views(&mut self) {
        let views = &self.history.views;
        if views.domain_separator != self.domain.separator() {
            let message = format!(
                "expected the domain separator of chain {} and contract {} ({}), the contract \
                 returns {}",
                self.domain.chain_id(),
                self.domain.verifying_contract(),
                self.domain.separator(),
                views.domain_separator
            );
            self.fail(FailureKind::DomainSeparatorMismatch, None, message);
        }
        if let Some(installed) = &self.installed {
            let same_set = installed.signers() == views.signers.as_slice()
                && installed.threshold() == views.threshold
                && self.epoch == views.epoch;
            let same_head = self.signer_head.seq == views.signer_seq
                && self.signer_head.digest.get() == views.signer_digest;
            if !same_set || !same_head {
                let message = format!(
                    "replayed {} at epoch {} with head seq {}; the contract shows {}-of-{} at \
                     epoch {} with head seq {}",
                    describe_set(installed),
                    self.epoch,
                    self.signer_head.seq,
                    views.threshold,
                    views.signers.len(),
                    views.epoch,
                    views.signer_seq
                );
                self.fail(FailureKind::SignerStateMismatch, None, message);
            }
        }
        let mut mismatches = Vec::new();
        for pool in &self.pools {
            let view = views.pools.iter().find(|v| v.id == pool.id);
            let replayed = &pool.commitment;
            let same = view.is_some_and(|v| {
                v.version == pool.head.seq
                    && v.last_digest == pool.head.digest.get()
                    && v.root == replayed.root
                    && v.total_weight == replayed.total_weight
                    && v.payee_weight == replayed.payee_weight
            });
            if !same {
                mismatches.push(format!(
                    "pool {}/{}: replayed version {} with root {} and weights {} ({} with a \
                     payee); the contract shows {}",
                    pool.id.community(),
                    pool.id.pool(),
                    pool.head.seq,
                    replayed.root,
                    replayed.total_weight,
                    replayed.payee_weight,
                    view.map_or("nothing".to_owned(), |v| format!(
                        "version {} with root {} and weights {} ({} with a payee)",
                        v.version, v.root, v.total_weight, v.payee_weight
                    ))
                ));
            }
        }
        for message in mismatches {
            self.fail(FailureKind::PoolStateMismatch, None, message);
        }
    }

    fn into_verdict(self, signers_expected: bool) -> Verdict {
        let first_bad_report = self
            .failures
            .iter()
            .filter(|f| f.report.is_some())
            .min_by_key(|f| f.report.as_ref().map(|r| (r.block, r.log_index)))
            .cloned();
        Verdict {
            verified: self.failures.is_empty(),
            chain_id: self.history.chain_id,
            contract: self.history.contract,
            from_block: self.history.from_block,
            to_block: self.history.to_block,
            pool_reports: self.pool_reports,
            signer_reports: self.signer_reports,
            pools: self.pools.len(),
            signer_epoch: self.epoch,
            signers_expected,
            evidence: self.evidence.map(|(summary, _, _)| summary),
            first_bad_report,
            failures: self.failures,
        }
    }
}

/// `keccak256("\x19\x01" ‖ separator ‖ structHash)`, with the separator computed once per audit.
fn digest_in(domain: &Domain, struct_hash: B256) -> Digest {
    let mut message = [0u8; 66];
    message[..2].copy_from_slice(&[0x19, 0x01]);
    message[2..34].copy_from_slice(domain.separator().as_slice());
    message[34..].copy_from_slice(struct_hash.as_slice());
    Digest::new(keccak256(message))
}

/// The reference of the report an event carries.
fn reference(event: &ContractEvent) -> ReportRef {
    let (chain, community, pool) = match &event.event {
        ReportEvent::Pool(applied) => (
            "pool",
            Some(applied.report.community),
            Some(applied.report.pool),
        ),
        ReportEvent::Signers(_) => ("signers", None, None),
    };
    ReportRef {
        chain,
        community,
        pool,
        seq: event.event.seq(),
        block: event.position.block_number,
        tx: event.position.tx_hash,
        log_index: event.position.log_index,
    }
}

fn parse_blob(blob: &[u8]) -> Result<Vec<Signature>, ReportError> {
    if !blob.len().is_multiple_of(Signature::LEN) {
        return Err(ReportError::SignaturesMalformed { length: blob.len() });
    }
    blob.chunks_exact(Signature::LEN)
        .enumerate()
        .map(|(index, bytes)| {
            Signature::from_bytes(bytes).map_err(|fault| ReportError::Signature { index, fault })
        })
        .collect()
}

/// The failure kind a report error stands for.
fn kind_of(error: &ReportError) -> FailureKind {
    match error {
        ReportError::InChain { source, .. } => kind_of(source),
        ReportError::Signature { .. } | ReportError::SignaturesMalformed { .. } => {
            FailureKind::SignatureInvalid
        }
        ReportError::TooFewSignatures { .. } => FailureKind::TooFewSignatures,
        ReportError::UnknownSigner { .. } => FailureKind::UnknownSigner,
        ReportError::DuplicateSigner { .. } => FailureKind::DuplicateSigner,
        ReportError::SignersNotAscending { .. } => FailureKind::SignersNotAscending,
        ReportError::Replayed { .. } => FailureKind::SeqReplayed,
        ReportError::SeqGap { .. } => FailureKind::SeqGap,
        ReportError::PrevHashMismatch { .. } => FailureKind::PrevHashMismatch,
        _ => FailureKind::MalformedReport,
    }
}

fn describe_set(set: &SignerSet) -> String {
    let signers: Vec<String> = set.signers().iter().map(Address::to_string).collect();
    format!(
        "{}-of-{} [{}]",
        set.threshold(),
        set.signers().len(),
        signers.join(", ")
    )
}

/// Re-runs decision evidence through the policy it records: the evidence when it is decision
/// evidence and the decision follows, `None` when it is another kind of document (an admin's
/// bootstrap), and the reason when the decision does not follow or names another policy version.
fn rerun_decision(
    bytes: &[u8],
    policy_version: u64,
) -> Result<Option<crate::policy::Evidence>, String> {
    let format = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|doc| {
            doc.get("format")
                .and_then(|f| f.as_str())
                .map(str::to_owned)
        });
    if format.as_deref() != Some(crate::policy::EVIDENCE_FORMAT) {
        return Ok(None);
    }
    let (evidence, _) = crate::policy::Evidence::verify(bytes).map_err(|e| e.to_string())?;
    if evidence.policy.version != policy_version {
        return Err(format!(
            "the evidence was decided under policy version {}, the report says {policy_version}",
            evidence.policy.version
        ));
    }
    Ok(Some(evidence))
}
