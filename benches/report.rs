//! One pool report with 3 entries: its EIP-712 digest, one signature, a 3-of-5 verification, and the
//! whole oracle step (build, hash, sign by 3, verify). Each figure is per report on one core; the
//! inverse is reports per second per core.

use std::hint::black_box;

use alloy_primitives::{Address, B256, address, keccak256};
use criterion::{Criterion, criterion_group, criterion_main};
use revshare_oracle::domain::{CommunitySlug, PoolName, WalletAddress, Weight};
use revshare_oracle::report::{
    Domain, PoolChange, PoolId, PoolReport, Report, ReportEntry, SignedReport, SignerSet,
    SigningKey, ValidityWindow, verify,
};

fn domain() -> Domain {
    Domain::new(
        31337,
        address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    )
}

fn change() -> PoolChange {
    let entry = |wallet: &str, weight, payee| {
        ReportEntry::new(
            WalletAddress::parse(wallet).unwrap(),
            Weight::new(weight).unwrap(),
            payee,
        )
    };
    PoolChange::new(
        PoolId::new(
            &CommunitySlug::parse("example-community").unwrap(),
            &PoolName::parse("default").unwrap(),
        ),
        vec![
            entry(
                "$ilp.example.com/alice",
                50,
                Some(Address::repeat_byte(0xa1)),
            ),
            entry("$wallet.example.org/bob", 30, None),
            entry("$ilp.example.net/carol/main", 20, None),
        ],
        B256::repeat_byte(1),
        1,
        1_700_000_000,
        ValidityWindow::starting_at(1_700_000_000, 86_400),
    )
    .unwrap()
}

fn reports(c: &mut Criterion) {
    let domain = domain();
    let keys: Vec<SigningKey> = (0..5u8)
        .map(|i| SigningKey::from_bytes(&keccak256([i]).0).unwrap())
        .collect();
    let set = SignerSet::new(keys.iter().map(SigningKey::address).collect(), 3).unwrap();
    let report = PoolReport::next(None, &domain, change()).unwrap();
    let digest = report.digest(&domain);
    let signed =
        SignedReport::sign(report.clone(), domain, &[&keys[0], &keys[1], &keys[2]]).unwrap();

    let mut group = c.benchmark_group("report");
    group.bench_function("hash_3_entries", |b| {
        b.iter(|| black_box(&report).digest(black_box(&domain)))
    });
    group.bench_function("sign_one", |b| b.iter(|| keys[0].sign(black_box(digest))));
    group.bench_function("verify_3_of_5", |b| {
        b.iter(|| verify(black_box(&signed), black_box(&set)).unwrap())
    });
    group.bench_function("build_hash_sign_3_verify", |b| {
        b.iter(|| {
            let report = PoolReport::next(None, &domain, change()).unwrap();
            let signed =
                SignedReport::sign(report, domain, &[&keys[0], &keys[1], &keys[2]]).unwrap();
            verify(&signed, &set).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
