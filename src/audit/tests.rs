//! The pure audit on histories built in memory: an honest one verifies, and each kind of
//! tampering is caught and named at the report it concerns.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

use super::history::{ContractViews, FetchedEvidence, History, PoolView};
use super::verdict::FailureKind;
use super::verify;
use crate::chain::events::{ContractEvent, LogPosition, PoolApplied, ReportEvent, SignersRotated};
use crate::domain::{WalletAddress, Weight};
use crate::report::{
    Domain, EntryTree, Head, PoolChange, PoolId, PoolReport, Report, ReportEntry, SignedReport,
    SignerChange, SignerReport, SignerSet, SigningKey, ValidityWindow, abi,
};

const CHAIN: u64 = 31337;

fn contract() -> Address {
    Address::repeat_byte(0xc0)
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32]).unwrap()
}

fn set_of(keys: &[u8], threshold: u8) -> SignerSet {
    SignerSet::new(keys.iter().map(|&k| key(k).address()).collect(), threshold).unwrap()
}

fn pool(n: u8) -> PoolId {
    PoolId::from_hashes(B256::repeat_byte(1), B256::repeat_byte(n))
}

/// Builds a history as an honest oracle and contract would make it.
struct Builder {
    domain: Domain,
    keys: Vec<u8>,
    set: SignerSet,
    epoch: u64,
    signer_head: Head,
    pools: Vec<(PoolId, Head, Vec<abi::Entry>)>,
    events: Vec<ContractEvent>,
    block: u64,
}

impl Builder {
    fn deployed(keys: &[u8], threshold: u8) -> Self {
        let set = set_of(keys, threshold);
        let mut builder = Builder {
            domain: Domain::new(CHAIN, contract()),
            keys: keys.to_vec(),
            set: set.clone(),
            epoch: 1,
            signer_head: Head::GENESIS,
            pools: Vec::new(),
            events: Vec::new(),
            block: 1,
        };
        let report = abi::SignerReport {
            seq: 0,
            prevHash: B256::ZERO,
            signers: set.signers().to_vec(),
            threshold,
            observedAt: 0,
            validFrom: 0,
            validUntil: 0,
        };
        builder.push(ReportEvent::Signers(SignersRotated {
            epoch: 1,
            digest: crate::report::Digest::ZERO,
            signer_bitmap: U256::ZERO,
            report,
            signatures: Bytes::new(),
        }));
        builder
    }

    fn push(&mut self, event: ReportEvent) {
        self.block += 1;
        self.events.push(ContractEvent {
            position: LogPosition {
                block_number: self.block,
                block_hash: B256::with_last_byte(self.block as u8),
                log_index: 0,
                tx_hash: B256::left_padding_from(&self.block.to_be_bytes()),
            },
            event,
        });
    }

    fn bitmap(&self, signers: &[u8]) -> U256 {
        signers.iter().fold(U256::ZERO, |bits, k| {
            bits | (U256::from(1) << self.set.index_of(key(*k).address()).unwrap())
        })
    }

    fn pool_report(&mut self, id: PoolId, weight: u64, decision: B256) {
        self.pool_report_signed_by(id, weight, decision, &self.keys.clone());
    }

    fn pool_report_signed_by(&mut self, id: PoolId, weight: u64, decision: B256, signers: &[u8]) {
        let position = match self.pools.iter().position(|p| p.0 == id) {
            Some(position) => position,
            None => {
                self.pools.push((id, Head::GENESIS, Vec::new()));
                self.pools.len() - 1
            }
        };
        let entries = vec![ReportEntry::new(
            WalletAddress::parse("$wallet.example/a").unwrap(),
            Weight::new(weight).unwrap(),
            None,
        )];
        let change = PoolChange::new(
            id,
            entries,
            decision,
            1,
            100,
            ValidityWindow::new(0, u64::MAX).unwrap(),
        )
        .unwrap();
        let report = PoolReport::after(self.pools[position].1, change).unwrap();
        let keys: Vec<SigningKey> = signers.iter().map(|&k| key(k)).collect();
        let signed = SignedReport::sign(
            report.clone(),
            self.domain,
            &keys.iter().collect::<Vec<_>>(),
        )
        .unwrap();
        let abi_report = abi::PoolReport::from(&report);
        self.pools[position].1 = Head::of(&report, &self.domain);
        self.pools[position].2 = abi_report.entries.clone();
        let event = ReportEvent::Pool(PoolApplied {
            digest: signed.digest(),
            signer_epoch: self.epoch,
            signer_bitmap: self.bitmap(signers),
            root: EntryTree::new(&abi_report.entries).root(),
            report: abi_report,
            signatures: Bytes::from(signed.blob()),
        });
        self.push(event);
    }

    fn rotate(&mut self, keys: &[u8], threshold: u8) {
        let change = SignerChange {
            set: set_of(keys, threshold),
            observed_at: 100,
            window: ValidityWindow::new(0, u64::MAX).unwrap(),
        };
        let report = SignerReport::after(self.signer_head, change).unwrap();
        let signing: Vec<SigningKey> = self.keys.iter().map(|&k| key(k)).collect();
        let signed = SignedReport::sign(
            report.clone(),
            self.domain,
            &signing.iter().collect::<Vec<_>>(),
        )
        .unwrap();
        let abi_report = abi::SignerReport::from(&report);
        let event = ReportEvent::Signers(SignersRotated {
            epoch: self.epoch + 1,
            digest: signed.digest(),
            signer_bitmap: self.bitmap(&self.keys.clone()),
            report: abi_report,
            signatures: Bytes::from(signed.blob()),
        });
        self.push(event);
        self.signer_head = Head::of(&report, &self.domain);
        self.epoch += 1;
        self.set = report.set().clone();
        self.keys = keys.to_vec();
    }

    fn history(&self) -> History {
        History {
            chain_id: CHAIN,
            contract: contract(),
            from_block: 0,
            to_block: self.block,
            events: self.events.clone(),
            views: ContractViews {
                domain_separator: self.domain.separator(),
                signers: self.set.signers().to_vec(),
                threshold: self.set.threshold(),
                epoch: self.epoch,
                signer_seq: self.signer_head.seq,
                signer_digest: self.signer_head.digest.get(),
                pools: self
                    .pools
                    .iter()
                    .map(|(id, head, entries)| PoolView {
                        id: *id,
                        version: head.seq,
                        last_digest: head.digest.get(),
                        root: EntryTree::new(entries).root(),
                        total_weight: entries.iter().map(|e| U256::from(e.weight)).sum(),
                        payee_weight: U256::ZERO,
                    })
                    .collect(),
            },
            evidence: None,
        }
    }
}

/// Deployment 3-of-5, reports on two pools, a rotation to 2-of-3, more reports.
fn honest() -> Builder {
    let mut b = Builder::deployed(&[1, 2, 3, 4, 5], 3);
    b.keys = vec![1, 3, 5];
    for i in 0..3 {
        b.pool_report(pool(1), 1 + i, keccak256([i as u8]));
        b.pool_report(pool(2), 10 + i, B256::ZERO);
    }
    b.keys = vec![1, 2, 3, 4, 5];
    b.rotate(&[6, 7, 8], 2);
    b.keys = vec![6, 8];
    b.pool_report(pool(1), 50, keccak256([9u8]));
    b
}

fn kinds(verdict: &super::Verdict) -> Vec<FailureKind> {
    verdict.failures.iter().map(|f| f.kind).collect()
}

#[test]
fn an_honest_history_verifies() {
    let b = honest();
    let verdict = verify(&b.history(), Some(&set_of(&[1, 2, 3, 4, 5], 3)));
    assert!(verdict.verified, "{}", verdict.render());
    assert_eq!(verdict.pool_reports, 7);
    assert_eq!(verdict.signer_reports, 1);
    assert_eq!(verdict.pools, 2);
    assert_eq!(verdict.signer_epoch, 2);
    assert!(verdict.render().ends_with("VERIFIED\n"));
}

#[test]
fn a_signature_from_an_unknown_key_is_named_at_its_report() {
    let mut b = Builder::deployed(&[9], 1);
    b.pool_report(pool(1), 1, B256::ZERO);
    let verdict = verify(&b.history(), Some(&set_of(&[1, 2, 3], 1)));
    assert_eq!(
        kinds(&verdict),
        vec![
            FailureKind::DeploymentSignersDiffer,
            FailureKind::UnknownSigner
        ]
    );
    let first = verdict.first_bad_report.unwrap();
    assert_eq!(first.kind, FailureKind::UnknownSigner);
    assert_eq!(first.report.unwrap().seq, 1);
}

#[test]
fn too_few_signatures_are_named() {
    let mut b = Builder::deployed(&[1, 2, 3], 2);
    b.pool_report_signed_by(pool(1), 1, B256::ZERO, &[2]);
    let verdict = verify(&b.history(), None);
    assert_eq!(kinds(&verdict), vec![FailureKind::TooFewSignatures]);
}

#[test]
fn a_hidden_report_is_a_gap() {
    let b = honest();
    let mut history = b.history();
    history.events.remove(3);
    let verdict = verify(&history, None);
    assert_eq!(kinds(&verdict), vec![FailureKind::SeqGap]);
    let first = verdict.first_bad_report.unwrap();
    assert_eq!(first.report.as_ref().unwrap().seq, 3);
    assert!(
        first.message.contains("expected seq 2, found 3"),
        "{}",
        first.message
    );
}

#[test]
fn a_hidden_last_report_shows_in_the_state() {
    let b = honest();
    let mut history = b.history();
    history.events.pop();
    let verdict = verify(&history, None);
    assert_eq!(kinds(&verdict), vec![FailureKind::PoolStateMismatch]);
}

#[test]
fn a_bitmap_that_does_not_match_the_signers_is_named() {
    let b = honest();
    let mut history = b.history();
    let ReportEvent::Pool(applied) = &mut history.events[1].event else {
        panic!("a pool report")
    };
    applied.signer_bitmap = U256::from(0b11);
    assert_eq!(
        kinds(&verify(&history, None)),
        vec![FailureKind::BitmapMismatch]
    );
}

#[test]
fn signatures_that_do_not_sign_the_emitted_report_are_named() {
    let b = honest();
    let mut history = b.history();
    let ReportEvent::Pool(applied) = &mut history.events[2].event else {
        panic!("a pool report")
    };
    let other = b.events[4].event.clone();
    let ReportEvent::Pool(other) = other else {
        panic!("a pool report")
    };
    applied.signatures = other.signatures;
    assert_eq!(
        kinds(&verify(&history, None)),
        vec![FailureKind::UnknownSigner]
    );
}

#[test]
fn an_emitted_root_that_is_not_the_entries_root_is_named() {
    let b = honest();
    let mut history = b.history();
    let ReportEvent::Pool(applied) = &mut history.events[3].event else {
        panic!("a pool report")
    };
    applied.root = B256::repeat_byte(0xee);
    let verdict = verify(&history, None);
    assert_eq!(kinds(&verdict), vec![FailureKind::RootMismatch]);
    assert_eq!(verdict.first_bad_report.unwrap().report.unwrap().seq, 2);
}

#[test]
fn another_domain_changes_every_digest() {
    let b = honest();
    let mut history = b.history();
    history.chain_id = 1;
    let verdict = verify(&history, None);
    assert!(kinds(&verdict).contains(&FailureKind::DomainSeparatorMismatch));
    assert_eq!(
        verdict.first_bad_report.unwrap().kind,
        FailureKind::DigestMismatch
    );
}

#[test]
fn state_that_differs_from_the_replay_is_named() {
    let b = honest();
    let mut history = b.history();
    history.views.pools[1].root = B256::ZERO;
    history.views.threshold = 1;
    assert_eq!(
        kinds(&verify(&history, None)),
        vec![
            FailureKind::SignerStateMismatch,
            FailureKind::PoolStateMismatch
        ]
    );
}

#[test]
fn a_history_without_its_deployment_is_refused() {
    let b = honest();
    let mut history = b.history();
    history.events.remove(0);
    let verdict = verify(&history, None);
    assert_eq!(verdict.failures[0].kind, FailureKind::DeploymentMissing);
    assert!(kinds(&verdict).contains(&FailureKind::NoSignerSet));
}

#[test]
fn evidence_is_hashed_and_counted() {
    let b = honest();
    let mut history = b.history();
    history.evidence = Some(
        (0u8..3)
            .map(|i| {
                (
                    keccak256([i]),
                    FetchedEvidence::Document(Bytes::from(vec![i])),
                )
            })
            .chain([(
                keccak256([9u8]),
                FetchedEvidence::Document(Bytes::from(vec![9u8])),
            )])
            .collect(),
    );
    let verdict = verify(&history, None);
    assert!(verdict.verified, "{}", verdict.render());
    let summary = verdict.evidence.unwrap();
    assert_eq!((summary.checked, summary.without_decision), (4, 3));
}

#[test]
fn evidence_whose_hash_differs_is_named_at_its_report() {
    let b = honest();
    let mut history = b.history();
    history.evidence = Some(vec![
        (
            keccak256([0u8]),
            FetchedEvidence::Document(Bytes::from(vec![0u8])),
        ),
        (
            keccak256([1u8]),
            FetchedEvidence::Document(Bytes::from_static(b"forged")),
        ),
        (
            keccak256([2u8]),
            FetchedEvidence::Document(Bytes::from(vec![2u8])),
        ),
        (
            keccak256([9u8]),
            FetchedEvidence::Missing("404 Not Found".into()),
        ),
    ]);
    let verdict = verify(&history, None);
    assert_eq!(
        kinds(&verdict),
        vec![
            FailureKind::EvidenceHashMismatch,
            FailureKind::EvidenceMissing
        ]
    );
    assert!(verdict.render().contains("evidence-hash-mismatch"));
    let first = verdict.first_bad_report.unwrap();
    assert_eq!(first.report.unwrap().seq, 2);
}

#[test]
fn the_verdict_serialises_with_kebab_case_kinds() {
    let mut b = Builder::deployed(&[9], 1);
    b.pool_report(pool(1), 1, B256::ZERO);
    let verdict = verify(&b.history(), Some(&set_of(&[1], 1)));
    let json = serde_json::to_value(&verdict).unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["first_bad_report"]["kind"], "unknown-signer");
    assert_eq!(json["first_bad_report"]["report"]["chain"], "pool");
    assert_eq!(json["failures"][0]["kind"], "deployment-signers-differ");
}

#[test]
fn the_report_digest_is_the_one_signed() {
    let b = honest();
    let ReportEvent::Pool(applied) = &b.events[1].event else {
        panic!("a pool report")
    };
    let report = PoolReport::try_from(&applied.report).unwrap();
    assert_eq!(report.digest(&b.domain), applied.digest);
}
