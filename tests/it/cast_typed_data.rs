//! Reports verify with an independent EIP-712 implementation: Foundry's `cast` hashes the typed
//! data the service publishes for a report and recovers its signers, and refuses a tampered copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use alloy_primitives::{Address, B256, address};
use revshare_oracle::domain::{CommunitySlug, PoolName, WalletAddress, Weight};
use revshare_oracle::report::{
    Domain, PoolChange, PoolId, PoolReport, ReportEntry, SignedReport, SignerChange, SignerReport,
    SignerSet, SigningKey, ValidityWindow, pool_typed_data, signer_typed_data,
};

fn cast() -> PathBuf {
    let cast = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
    assert!(
        cast.exists(),
        "cast is missing: run `npm ci` at the repository root"
    );
    cast
}

/// Anvil's first five development keys: public test data, never real keys.
fn keys() -> Vec<SigningKey> {
    [
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
        "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
        "47e179ec197488593b187f80a00eb0da91f1b9d0b3f756e6e6a5e6b2a4a6c9e0",
    ]
    .iter()
    .map(|hex| {
        let bytes: [u8; 32] = alloy_primitives::hex::decode(hex)
            .unwrap()
            .try_into()
            .unwrap();
        SigningKey::from_bytes(&bytes).unwrap()
    })
    .collect()
}

fn domain() -> Domain {
    Domain::new(
        31_337,
        address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    )
}

fn pool_report() -> PoolReport {
    let entry = |wallet: &str, weight: u64| {
        ReportEntry::new(
            WalletAddress::parse(wallet).unwrap(),
            Weight::new(weight).unwrap(),
            None,
        )
    };
    let id = PoolId::new(
        &CommunitySlug::parse("cast-check").unwrap(),
        &PoolName::parse("default").unwrap(),
    );
    let entries = vec![
        entry("https://wallet.example/alice", 3),
        entry("https://ilp.example.org/bob", 1)
            .with_payee(address!("0x00000000000000000000000000000000000000b0")),
    ];
    let change = PoolChange::new(
        id,
        entries,
        B256::repeat_byte(0xde),
        7,
        1_700_000_000,
        ValidityWindow::starting_at(1_700_000_000, 3_600),
    )
    .unwrap();
    PoolReport::next(None, &domain(), change).unwrap()
}

fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// `cast wallet verify --data --from-file`: whether cast recovers `signer` from `signature`.
fn cast_verifies(typed_data: &Path, signer: Address, signature: &str) -> bool {
    let output = Command::new(cast())
        .args(["wallet", "verify", "--data", "--from-file", "--address"])
        .arg(signer.to_string())
        .arg(typed_data)
        .arg(signature)
        .output()
        .expect("cast runs");
    output.status.success()
}

#[test]
fn cast_recovers_every_signer_of_a_three_of_five_pool_report() {
    let keys = keys();
    let set = SignerSet::new(
        {
            let mut signers: Vec<Address> = keys.iter().map(SigningKey::address).collect();
            signers.sort();
            signers
        },
        3,
    )
    .unwrap();
    let signing: Vec<&SigningKey> = keys.iter().take(3).collect();
    let signed = SignedReport::sign(pool_report(), domain(), &signing).unwrap();
    let signers = revshare_oracle::report::verify(&signed, &set).unwrap();
    assert_eq!(signers.len(), 3);

    let dir = tempfile::tempdir().unwrap();
    let typed = write_json(
        dir.path(),
        "report.json",
        &pool_typed_data(signed.report(), signed.domain()),
    );
    for (signer, signature) in signers.iter().zip(signed.signatures()) {
        assert!(
            cast_verifies(&typed, *signer, &signature.to_string()),
            "cast does not recover {signer} from the published typed data"
        );
    }
    // A signer who did not sign is not recovered.
    let outsider = keys[4].address();
    assert!(!signers.contains(&outsider));
    assert!(!cast_verifies(
        &typed,
        outsider,
        &signed.signatures()[0].to_string()
    ));
}

#[test]
fn cast_signs_the_same_bytes_as_the_service() {
    let key = &keys()[0];
    let signed = SignedReport::sign(pool_report(), domain(), &[key]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let typed = write_json(
        dir.path(),
        "report.json",
        &pool_typed_data(signed.report(), signed.domain()),
    );
    let output = Command::new(cast())
        .args(["wallet", "sign", "--data", "--from-file", "--private-key"])
        .arg(format!(
            "0x{}",
            alloy_primitives::hex::encode(key.to_bytes())
        ))
        .arg(&typed)
        .output()
        .expect("cast runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Both sign deterministically (RFC 6979) with low s, so the signatures are identical.
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        signed.signatures()[0].to_string()
    );
}

#[test]
fn cast_refuses_a_tampered_report_and_checks_signer_rotations() {
    let keys = keys();
    let key = &keys[1];
    let next = SignerSet::new(vec![keys[2].address(), keys[3].address()], 2).unwrap();
    let change = SignerChange {
        set: next,
        observed_at: 1_700_000_000,
        window: ValidityWindow::starting_at(1_700_000_000, 60),
    };
    let rotation = SignerReport::next(None, &domain(), change).unwrap();
    let signed = SignedReport::sign(rotation, domain(), &[key]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut typed = signer_typed_data(signed.report(), signed.domain());
    let honest = write_json(dir.path(), "rotation.json", &typed);
    let signature = signed.signatures()[0].to_string();
    assert!(cast_verifies(&honest, key.address(), &signature));

    typed["message"]["threshold"] = serde_json::json!("1");
    let tampered = write_json(dir.path(), "tampered.json", &typed);
    assert!(!cast_verifies(&tampered, key.address(), &signature));

    let mut other_chain = signer_typed_data(signed.report(), signed.domain());
    other_chain["domain"]["chainId"] = serde_json::json!("1");
    let other_chain = write_json(dir.path(), "other-chain.json", &other_chain);
    assert!(!cast_verifies(&other_chain, key.address(), &signature));
}
