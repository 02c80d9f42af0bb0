//! Tests across the report part: signing and verifying as the contract does, tampering, domains,
//! and the hash chain. Property tests compare the digests with an encoding written out from the
//! EIP-712 specification, independent of alloy's `sol!` types.

use alloy_primitives::aliases::U96;
use alloy_primitives::{Address, B256, U256, address, keccak256};
use proptest::prelude::*;

use super::*;
use crate::domain::{CommunitySlug, PoolName, WalletAddress, Weight};

fn domain() -> Domain {
    Domain::new(
        31337,
        address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    )
}

fn key(i: u64) -> SigningKey {
    SigningKey::from_bytes(&keccak256(format!("revshare rust test signer {i}")).0).unwrap()
}

fn keys(count: u64) -> Vec<SigningKey> {
    (0..count).map(key).collect()
}

fn set_of(keys: &[SigningKey], threshold: u8) -> SignerSet {
    SignerSet::new(keys.iter().map(SigningKey::address).collect(), threshold).unwrap()
}

fn pool_id(pool: &str) -> PoolId {
    PoolId::new(
        &CommunitySlug::parse("example-community").unwrap(),
        &PoolName::parse(pool).unwrap(),
    )
}

fn entry(wallet: &str, weight: u64, payee: Option<Address>) -> ReportEntry {
    ReportEntry::new(
        WalletAddress::parse(wallet).unwrap(),
        Weight::new(weight).unwrap(),
        payee,
    )
}

fn change(id: PoolId, decision: u8) -> PoolChange {
    PoolChange::new(
        id,
        vec![
            entry(
                "$ilp.example.com/alice",
                50,
                Some(Address::repeat_byte(0xa1)),
            ),
            entry("$wallet.example.org/bob", 30, None),
            entry("https://ilp.example.net/carol/main", 20, None),
        ],
        B256::repeat_byte(decision),
        1,
        1_700_000_000,
        ValidityWindow::starting_at(1_700_000_000, 86_400),
    )
    .unwrap()
}

fn first_report() -> PoolReport {
    PoolReport::next(None, &domain(), change(pool_id("default"), 1)).unwrap()
}

/// Three reports of one pool, each following the one before.
fn three_reports() -> Vec<PoolReport> {
    let mut reports: Vec<PoolReport> = Vec::new();
    for decision in 1..=3 {
        let next = PoolReport::next(
            reports.last(),
            &domain(),
            change(pool_id("default"), decision),
        )
        .unwrap();
        reports.push(next);
    }
    reports
}

// ------------------------------------------------------------------ signing and verifying

#[test]
fn signed_report_verifies_and_names_its_signers_in_address_order() {
    let keys = keys(5);
    let signed =
        SignedReport::sign(first_report(), domain(), &[&keys[3], &keys[0], &keys[1]]).unwrap();
    let signers = verify(&signed, &set_of(&keys, 3)).unwrap();
    let mut expected = vec![keys[3].address(), keys[0].address(), keys[1].address()];
    expected.sort();
    assert_eq!(signers, expected);
}

#[test]
fn signing_is_deterministic_and_low_s() {
    let key = key(0);
    let digest = first_report().digest(&domain());
    let a = key.sign(digest);
    assert_eq!(a, key.sign(digest));
    assert!(Signature::from_bytes(a.as_bytes()).is_ok());
    assert!(matches!(a.v(), 27 | 28));
}

#[test]
fn every_tampered_field_breaks_verification() {
    let keys = keys(3);
    let set = set_of(&keys, 2);
    let signed = SignedReport::sign(first_report(), domain(), &[&keys[0], &keys[1]]).unwrap();
    let original = abi::PoolReport::from(signed.report());
    type Tampering = (&'static str, fn(&mut abi::PoolReport));
    let tamperings: Vec<Tampering> = vec![
        ("community", |r| r.community = B256::repeat_byte(9)),
        ("pool", |r| r.pool = B256::repeat_byte(9)),
        ("seq", |r| r.seq += 1),
        ("prevHash", |r| r.prevHash = B256::repeat_byte(9)),
        ("wallet", |r| {
            r.entries[1].wallet = "https://evil.example/bob".into()
        }),
        ("weight", |r| r.entries[0].weight += U96::from(1)),
        ("payee", |r| r.entries[1].payee = Address::repeat_byte(0xee)),
        ("entry order", |r| r.entries.swap(0, 1)),
        ("entry dropped", |r| {
            r.entries.pop();
        }),
        ("decisionHash", |r| r.decisionHash = B256::repeat_byte(9)),
        ("policyVersion", |r| r.policyVersion += 1),
        ("observedAt", |r| r.observedAt += 1),
        ("validFrom", |r| r.validFrom += 1),
        ("validUntil", |r| r.validUntil += 1),
    ];
    for (field, tamper) in tamperings {
        let mut changed = original.clone();
        tamper(&mut changed);
        let report = PoolReport::try_from(&changed).unwrap();
        let forged = SignedReport::from_signatures(report, domain(), signed.signatures().to_vec());
        assert!(
            matches!(
                verify(&forged, &set),
                Err(ReportError::UnknownSigner { .. })
            ),
            "changing {field} must break every signature"
        );
    }
}

#[test]
fn a_signature_in_another_domain_recovers_another_signer() {
    let key = key(0);
    let report = first_report();
    let signature = key.sign(report.digest(&domain()));
    assert_eq!(
        signature.recover(report.digest(&domain())),
        Ok(key.address())
    );
    let other_chain = Domain::new(1, domain().verifying_contract());
    let other_contract = Domain::new(31337, Address::repeat_byte(0x11));
    for other in [other_chain, other_contract] {
        let recovered = signature.recover(report.digest(&other)).unwrap();
        assert_ne!(recovered, key.address());
        let replayed = SignedReport::from_signatures(report.clone(), other, vec![signature]);
        assert_eq!(
            verify(&replayed, &set_of(std::slice::from_ref(&key), 1)),
            Err(ReportError::UnknownSigner { signer: recovered })
        );
    }
}

#[test]
fn a_high_s_signature_is_refused() {
    let key = key(0);
    let signature = key.sign(first_report().digest(&domain()));
    let order = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let mut high = *signature.as_bytes();
    let s = U256::from_be_slice(&high[32..64]);
    high[32..64].copy_from_slice(&(order - s).to_be_bytes::<32>());
    high[64] ^= 27 ^ 28;
    assert_eq!(Signature::from_bytes(&high), Err(SignatureFault::HighS));
    let mut blob = signature.as_bytes().to_vec();
    blob.extend_from_slice(&high);
    assert_eq!(
        SignedReport::from_blob(first_report(), domain(), &blob),
        Err(ReportError::Signature {
            index: 1,
            fault: SignatureFault::HighS
        })
    );
}

#[test]
fn a_signer_signing_twice_is_refused() {
    let keys = keys(3);
    let set = set_of(&keys, 2);
    let signed = SignedReport::sign(first_report(), domain(), &[&keys[0]]).unwrap();
    let twice = SignedReport::from_signatures(
        first_report(),
        domain(),
        vec![signed.signatures()[0], signed.signatures()[0]],
    );
    assert_eq!(
        verify(&twice, &set),
        Err(ReportError::DuplicateSigner {
            signer: keys[0].address()
        })
    );
    assert_eq!(
        SignedReport::sign(first_report(), domain(), &[&keys[1], &keys[1]]),
        Err(ReportError::DuplicateSigner {
            signer: keys[1].address()
        })
    );
    let mut collecting = signed.clone();
    assert_eq!(
        collecting.add_signature(signed.signatures()[0]),
        Err(ReportError::DuplicateSigner {
            signer: keys[0].address()
        })
    );
}

#[test]
fn signatures_out_of_signer_order_are_refused() {
    let keys = keys(3);
    let signed = SignedReport::sign(first_report(), domain(), &[&keys[0], &keys[1]]).unwrap();
    let mut reversed = signed.signatures().to_vec();
    reversed.reverse();
    let unsorted = SignedReport::from_signatures(first_report(), domain(), reversed);
    assert_eq!(
        verify(&unsorted, &set_of(&keys, 2)),
        Err(ReportError::SignersNotAscending { index: 1 })
    );
}

#[test]
fn too_few_signatures_are_refused() {
    let keys = keys(5);
    let signed = SignedReport::sign(first_report(), domain(), &[&keys[0], &keys[1]]).unwrap();
    assert_eq!(
        verify(&signed, &set_of(&keys, 3)),
        Err(ReportError::TooFewSignatures {
            count: 2,
            threshold: 3
        })
    );
}

#[test]
fn a_stranger_signing_is_refused() {
    let keys = keys(4);
    let signed = SignedReport::sign(first_report(), domain(), &[&keys[0], &keys[3]]).unwrap();
    assert_eq!(
        verify(&signed, &set_of(&keys[..3], 2)),
        Err(ReportError::UnknownSigner {
            signer: keys[3].address()
        })
    );
}

#[test]
fn collected_signatures_land_in_signer_order() {
    let keys = keys(5);
    let all =
        SignedReport::sign(first_report(), domain(), &keys.iter().collect::<Vec<_>>()).unwrap();
    let mut collected = SignedReport::new(first_report(), domain());
    for key in keys.iter().rev() {
        let signer = collected
            .add_signature(key.sign(collected.digest()))
            .unwrap();
        assert_eq!(signer, key.address());
    }
    assert_eq!(collected.blob(), all.blob());
    let parsed = SignedReport::from_blob(first_report(), domain(), &all.blob()).unwrap();
    assert_eq!(parsed, all);
    assert_eq!(
        SignedReport::from_blob(first_report(), domain(), &all.blob()[1..]),
        Err(ReportError::SignaturesMalformed { length: 324 })
    );
}

#[test]
fn signer_reports_sign_and_verify_like_pool_reports() {
    let keys = keys(5);
    let rotation = SignerReport::next(
        None,
        &domain(),
        SignerChange {
            set: set_of(&keys[2..], 2),
            observed_at: 1_700_000_000,
            window: ValidityWindow::starting_at(1_700_000_000, 3600),
        },
    )
    .unwrap();
    let signed = SignedReport::sign(rotation, domain(), &[&keys[0], &keys[1]]).unwrap();
    assert_eq!(verify(&signed, &set_of(&keys[..3], 2)).unwrap().len(), 2);
    assert!(verify(&signed, &set_of(&keys[2..], 2)).is_err());
}

// ------------------------------------------------------------------ the hash chain

#[test]
fn next_report_fills_seq_and_prev_hash() {
    let reports = three_reports();
    assert_eq!(reports[0].seq(), 1);
    assert_eq!(reports[0].prev_hash(), Digest::ZERO);
    for pair in reports.windows(2) {
        assert_eq!(pair[1].seq(), pair[0].seq() + 1);
        assert_eq!(pair[1].prev_hash(), pair[0].digest(&domain()));
    }
    let head = check_chain(&domain(), &reports).unwrap();
    assert_eq!(head, Head::of(&reports[2], &domain()));
}

#[test]
fn a_chain_with_a_gap_is_refused() {
    let reports = three_reports();
    let gapped = [reports[0].clone(), reports[2].clone()];
    assert_eq!(
        check_chain(&domain(), &gapped),
        Err(ReportError::InChain {
            index: 1,
            source: Box::new(ReportError::SeqGap {
                expected: 2,
                found: 3
            })
        })
    );
    assert_eq!(
        check_chain(&domain(), &reports[1..]),
        Err(ReportError::InChain {
            index: 0,
            source: Box::new(ReportError::SeqGap {
                expected: 1,
                found: 2
            })
        })
    );
}

#[test]
fn a_repeated_report_is_refused() {
    let reports = three_reports();
    let repeated = [reports[0].clone(), reports[1].clone(), reports[1].clone()];
    assert_eq!(
        check_chain(&domain(), &repeated),
        Err(ReportError::InChain {
            index: 2,
            source: Box::new(ReportError::Replayed {
                last_seq: 2,
                seq: 2
            })
        })
    );
}

#[test]
fn a_wrong_prev_hash_is_refused() {
    let reports = three_reports();
    let forged = PoolReport::from_parts(
        Link {
            seq: 2,
            prev_hash: Digest::new(B256::repeat_byte(7)),
        },
        change(pool_id("default"), 2),
    );
    assert_eq!(
        check_chain(&domain(), &[reports[0].clone(), forged]),
        Err(ReportError::InChain {
            index: 1,
            source: Box::new(ReportError::PrevHashMismatch {
                expected: reports[0].digest(&domain()).get(),
                found: B256::repeat_byte(7)
            })
        })
    );
    // The digest depends on the domain, so a chain built for one contract breaks in another.
    let elsewhere = Domain::new(1, domain().verifying_contract());
    assert!(matches!(
        check_chain(&elsewhere, &reports),
        Err(ReportError::InChain { index: 1, .. })
    ));
}

#[test]
fn a_report_of_another_pool_does_not_extend_the_chain() {
    let first = first_report();
    let other = change(pool_id("dev"), 2);
    assert_eq!(
        PoolReport::next(Some(&first), &domain(), other.clone()),
        Err(ReportError::OtherChain {
            expected: Box::new(ChainKey::Pool(pool_id("dev"))),
            found: Box::new(ChainKey::Pool(pool_id("default")))
        })
    );
    let mixed = [first, PoolReport::next(None, &domain(), other).unwrap()];
    assert!(matches!(
        check_chain(&domain(), &mixed),
        Err(ReportError::InChain { index: 1, source }) if matches!(*source, ReportError::OtherChain { .. })
    ));
}

#[test]
fn a_chain_resumes_from_a_known_head() {
    let reports = three_reports();
    let head = Head::of(&reports[0], &domain());
    let resumed = check_chain_from(head, reports[0].chain(), &domain(), &reports[1..]).unwrap();
    assert_eq!(resumed, check_chain(&domain(), &reports).unwrap());
    let after = PoolReport::after(head, change(pool_id("default"), 2)).unwrap();
    assert_eq!(after, reports[1]);
}

#[test]
fn a_reissued_chain_keeps_its_content_and_links_to_the_new_digests() {
    let reports = three_reports();
    let head = Head::of(&reports[0], &domain());
    let window = ValidityWindow::starting_at(1_800_000_000, 600);
    let second = reports[1].reissued(head, window).unwrap();
    let third = reports[2]
        .reissued(Head::of(&second, &domain()), window)
        .unwrap();
    for (old, new) in [(&reports[1], &second), (&reports[2], &third)] {
        assert_eq!(new.seq(), old.seq());
        assert_eq!(new.entries(), old.entries());
        assert_eq!(new.decision_hash(), old.decision_hash());
        assert_eq!(new.policy_version(), old.policy_version());
        assert_eq!(new.observed_at(), old.observed_at());
        assert_eq!(new.window(), window);
        assert_ne!(new.digest(&domain()), old.digest(&domain()));
    }
    assert_eq!(second.prev_hash(), reports[1].prev_hash());
    assert_eq!(third.prev_hash(), second.digest(&domain()));
    check_chain(&domain(), &[reports[0].clone(), second, third]).unwrap();

    let rotation = SignerReport::after(
        Head::GENESIS,
        SignerChange {
            set: set_of(&keys(2), 1),
            observed_at: 5,
            window: ValidityWindow::starting_at(5, 10),
        },
    )
    .unwrap();
    let again = rotation.reissued(Head::GENESIS, window).unwrap();
    assert_eq!(
        (again.set(), again.observed_at(), again.window()),
        (rotation.set(), 5, window)
    );
}

// ------------------------------------------------------------------ properties

/// EIP-712 of a pool report written out word by word from the specification and the type strings
/// in contracts/README.md, sharing nothing with the `sol!` types.
fn spelled_out_digest(report: &PoolReport, domain: &Domain) -> B256 {
    fn word(x: u64) -> [u8; 32] {
        U256::from(x).to_be_bytes()
    }
    let entry_type = "Entry(string wallet,uint96 weight,address payee)";
    let pool_type = "PoolReport(bytes32 community,bytes32 pool,uint64 seq,bytes32 prevHash,Entry[] entries,bytes32 decisionHash,uint64 policyVersion,uint64 observedAt,uint64 validFrom,uint64 validUntil)";
    let mut entry_hashes = Vec::new();
    for entry in report.entries() {
        let mut encoded = keccak256(entry_type).to_vec();
        encoded.extend_from_slice(keccak256(entry.wallet().as_str()).as_slice());
        encoded.extend_from_slice(&word(entry.weight().get()));
        encoded.extend_from_slice(entry.payee().unwrap_or_default().into_word().as_slice());
        entry_hashes.extend_from_slice(keccak256(&encoded).as_slice());
    }
    let mut encoded = keccak256(format!("{pool_type}{entry_type}")).to_vec();
    encoded.extend_from_slice(report.id().community().as_slice());
    encoded.extend_from_slice(report.id().pool().as_slice());
    encoded.extend_from_slice(&word(report.seq()));
    encoded.extend_from_slice(report.prev_hash().get().as_slice());
    encoded.extend_from_slice(keccak256(&entry_hashes).as_slice());
    encoded.extend_from_slice(report.decision_hash().as_slice());
    encoded.extend_from_slice(&word(report.policy_version()));
    encoded.extend_from_slice(&word(report.observed_at()));
    encoded.extend_from_slice(&word(report.window().valid_from()));
    encoded.extend_from_slice(&word(report.window().valid_until()));
    let mut message = vec![0x19, 0x01];
    message.extend_from_slice(domain.separator().as_slice());
    message.extend_from_slice(keccak256(&encoded).as_slice());
    keccak256(&message)
}

fn arb_entry() -> impl Strategy<Value = ReportEntry> {
    (
        "[a-z]{1,10}\\.example",
        "[a-z0-9]{0,8}",
        1u64..=u64::from(u32::MAX),
        proptest::option::of(any::<[u8; 20]>()),
    )
        .prop_map(|(host, path, weight, payee)| {
            entry(&format!("${host}/{path}"), weight, payee.map(Address::from))
        })
}

fn arb_report() -> impl Strategy<Value = PoolReport> {
    (
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        1u64..,
        any::<[u8; 32]>(),
        proptest::collection::vec(arb_entry(), 0..6),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        any::<(u64, u64)>(),
    )
        .prop_map(
            |(community, pool, seq, prev, entries, decision, policy, observed, (a, b))| {
                let change = PoolChange::new(
                    PoolId::from_hashes(community.into(), pool.into()),
                    entries,
                    decision.into(),
                    policy,
                    observed,
                    ValidityWindow::new(a.min(b), a.max(b)).unwrap(),
                )
                .unwrap();
                PoolReport::from_parts(
                    Link {
                        seq,
                        prev_hash: Digest::new(prev.into()),
                    },
                    change,
                )
            },
        )
}

proptest! {
    #[test]
    fn digests_match_the_spelled_out_encoding(report in arb_report(), chain_id in any::<u64>(), contract in any::<[u8; 20]>()) {
        let domain = Domain::new(chain_id, Address::from(contract));
        prop_assert_eq!(report.digest(&domain).get(), spelled_out_digest(&report, &domain));
    }

    #[test]
    fn reports_round_trip_through_the_contract_types(report in arb_report()) {
        let back = PoolReport::try_from(&abi::PoolReport::from(&report)).unwrap();
        prop_assert_eq!(back, report);
    }

    #[test]
    fn any_key_signs_what_verifies_as_itself(secret in any::<[u8; 32]>(), digest in any::<[u8; 32]>()) {
        let Ok(key) = SigningKey::from_bytes(&secret) else {
            return Ok(()); // zero or above the group order: refused, tested elsewhere
        };
        let digest = Digest::new(digest.into());
        let signature = key.sign(digest);
        prop_assert!(Signature::from_bytes(signature.as_bytes()).is_ok(), "low s, v = 27 or 28");
        prop_assert_eq!(signature.recover(digest), Ok(key.address()));
        let set = SignerSet::new(vec![key.address()], 1).unwrap();
        prop_assert_eq!(verify_signatures(digest, &[signature], &set), Ok(vec![key.address()]));
    }
}
