//! The oracle's command line as an operator uses it: keys created and read back (plain and as
//! encrypted keystores, interoperable with Foundry's `cast`), never printed; and the contract
//! deployed on a real Anvil once, however often the command runs.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::anvil::LocalChain;

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");

/// Anvil's first account, which holds the chain's first contract address (public test data).
const ANVIL_ACCOUNT_0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn cast() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/@foundry-rs/cast-linux-amd64/bin/cast")
}

#[test]
fn a_new_key_file_is_read_back_as_the_same_address_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("oracle.key");
    let (ok, created, stderr) = run(&["keys", "new", "--out", path(&key)]);
    assert!(ok, "{stderr}");
    let address = created.trim();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{created}"
    );
    let secret = std::fs::read_to_string(&key).unwrap();
    let secret = secret.trim().trim_start_matches("0x");
    assert!(!created.contains(secret) && !stderr.contains(secret));

    let (ok, read, _) = run(&["keys", "address", "--key-file", path(&key)]);
    assert!(ok);
    assert_eq!(read.trim(), address);

    let (ok, _, stderr) = run(&["keys", "new", "--out", path(&key)]);
    assert!(!ok, "an existing key is never overwritten");
    assert!(stderr.contains("exists already"), "{stderr}");
}

#[test]
fn keystores_round_trip_and_agree_with_cast() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "a long passphrase\n").unwrap();
    let keystore = dir.path().join("oracle.json");
    let (ok, created, stderr) = run(&[
        "keys",
        "new",
        "--keystore",
        path(&keystore),
        "--password-file",
        path(&password),
    ]);
    assert!(ok, "{stderr}");
    let (ok, read, _) = run(&[
        "keys",
        "address",
        "--keystore",
        path(&keystore),
        "--password-file",
        path(&password),
    ]);
    assert!(ok);
    assert_eq!(read.trim(), created.trim());

    // cast reads ours...
    let output = Command::new(cast())
        .args([
            "wallet",
            "address",
            "--keystore",
            path(&keystore),
            "--password",
            "a long passphrase",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        created.trim()
    );

    // ...and we read cast's.
    let cast_dir = dir.path().join("cast");
    std::fs::create_dir(&cast_dir).unwrap();
    let output = Command::new(cast())
        .args([
            "wallet",
            "new",
            path(&cast_dir),
            "--unsafe-password",
            "a long passphrase",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cast_file = std::fs::read_dir(&cast_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let output = Command::new(cast())
        .args([
            "wallet",
            "address",
            "--keystore",
            path(&cast_file),
            "--password",
            "a long passphrase",
        ])
        .output()
        .unwrap();
    let cast_address = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let (ok, ours, stderr) = run(&[
        "keys",
        "address",
        "--keystore",
        path(&cast_file),
        "--password-file",
        path(&password),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(ours.trim(), cast_address);

    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let (ok, _, stderr) = run(&[
        "keys",
        "address",
        "--keystore",
        path(&keystore),
        "--password-file",
        path(&wrong),
    ]);
    assert!(!ok);
    assert!(stderr.contains("wrong password"), "{stderr}");
    assert!(!stderr.contains("not the passphrase"), "{stderr}");
}

#[tokio::test]
async fn deploy_puts_the_contract_where_the_oracle_expects_it_once() {
    let chain = LocalChain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("oracle.key");
    let (ok, signer, _) = run(&["keys", "new", "--out", path(&key)]);
    assert!(ok);
    let config = dir.path().join("revshare.toml");
    std::fs::write(
        &config,
        format!(
            "[oracle]\nkeys = [{{ path = {key:?} }}]\n[chain]\nrpc_url = {:?}\n",
            chain.rpc_url()
        ),
    )
    .unwrap();
    let deploy = || {
        run(&[
            "chain",
            "deploy",
            "--config",
            path(&config),
            "--unlocked-from",
            ANVIL_ACCOUNT_0,
        ])
    };
    let (ok, first, stderr) = deploy();
    assert!(ok, "{stderr}");
    assert_eq!(
        first.trim(),
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "{stderr}"
    );
    assert!(stderr.contains("deployed RevShare"), "{stderr}");

    let (ok, second, stderr) = deploy();
    assert!(ok, "{stderr}");
    assert_eq!(second.trim(), first.trim());
    assert!(stderr.contains("already deployed"), "{stderr}");

    let contract = revshare_oracle::chain::contract::RevShare::new(
        first.trim().parse().unwrap(),
        &chain.provider,
    );
    let set = contract.signerSet().call().await.unwrap();
    assert_eq!(
        set.signers,
        vec![signer.trim().parse::<alloy::primitives::Address>().unwrap()]
    );

    // Another oracle's configuration finds the address taken and says so.
    let other = dir.path().join("other.key");
    assert!(run(&["keys", "new", "--out", path(&other)]).0);
    std::fs::write(
        &config,
        format!(
            "[oracle]\nkeys = [{{ path = {other:?} }}]\n[chain]\nrpc_url = {:?}\n",
            chain.rpc_url()
        ),
    )
    .unwrap();
    let (ok, _, stderr) = deploy();
    assert!(!ok);
    assert!(
        stderr.contains("not a RevShare contract with this oracle's signers"),
        "{stderr}"
    );
}
