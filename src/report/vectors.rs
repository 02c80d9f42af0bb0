//! Test vectors shared with the contract: two pool reports, one signer report, a domain and a key,
//! with the digests, signatures and entry trees this module computes for them.
//! `contracts/test/RustVectors.t.sol` holds the same constants and checks that the contract's
//! `hashPoolReport`, `hashSignerReport`, `domainSeparator`, entry-tree root and `leafOf` give the
//! same values, that it accepts these signatures and that its `pick` takes this proof. If either
//! side changes its encoding, one of the two tests fails.

use alloy_primitives::{Address, B256, address, b256, hex};

use super::*;
use crate::domain::{CommunitySlug, PoolName, WalletAddress, Weight};

/// Anvil's address for the first contract its first development account deploys; the forge test
/// deploys RevShare there.
const CONTRACT: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
const CHAIN_ID: u64 = 31337;
/// A test key made up for these vectors (never used for anything else).
const KEY: [u8; 32] = hex!("6c8f5b4a2e1d3c7b9a0f8e6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a39");
const DECISION: B256 = b256!("0x5f2c0b7e8d1a4c3b6e9f0a2d4c6b8e1f3a5c7e9b0d2f4a6c8e0b2d4f6a8c0e2d");

/// The address of `KEY`.
const SIGNER: Address = address!("0x3647344CDeF7811A4f1Ee66C170FEd375858f454");
const DOMAIN_SEPARATOR: B256 =
    b256!("0xeea01dfbd3abc00f9f240b87073895cba158db88b2b87f17abec028a6914bf71");
const POOL_DIGEST: B256 =
    b256!("0x413a183195cb70def95f62ebeb5aa3af8e42f1807faaacdaed682881f562d0d1");
const SIGNER_DIGEST: B256 =
    b256!("0x4a15b4e060b8813625b5707d1f4dc898e8a3fe14399b83f2cd07f9cd0c79eb51");
/// `KEY`'s signature of `POOL_DIGEST`, r ‖ s ‖ v.
const POOL_SIGNATURE: [u8; 65] = hex!(
    "9f3245d723b36e5c1c4ea9de87af5a7b9305aaaba8b097b1cc4c1e448474db37"
    "5b0ba7f8cea447a02221952d231113ace0e8daef3aeda3268da7df6bcef05a0c"
    "1b"
);
/// `KEY`'s signature of `SIGNER_DIGEST`, r ‖ s ‖ v.
const SIGNER_SIGNATURE: [u8; 65] = hex!(
    "734b11e1c39de1fc90d8f0cb3c9fd5965753d585e81e84dccaa81e2d7d57f921"
    "6e0326a8fbbd5982950c4f844b31437296be47f519bc30bf58f0367bfe14230f"
    "1c"
);

/// The three-entry report's digest, `KEY`'s signature of it, its entry tree's root, and the leaf
/// and proof of its last entry (carol), whose node rises alone at the first level.
const ODD_POOL_DIGEST: B256 =
    b256!("0x6b843b082ea8365f69d43b62918a6ca8f9d426efaa520e180137708310402682");
const ODD_POOL_SIGNATURE: [u8; 65] = hex!(
    "e6c301c1c7093a84ffb3b2b4ee8ba6df81958684b6e19b721e2192d7bc573f49"
    "73554c9c6bee3c60cb2ec669de4bfca7e4af685a2ae0d24855ee42739ec24cc6"
    "1c"
);
const ODD_POOL_ROOT: B256 =
    b256!("0xb022fc35c9c58cb701ac1e116e46f776c6129e2dc3e22abc0b0689ec88aef39a");
const CAROL_LEAF: B256 =
    b256!("0x8ba65aec8efdbf7e42f144e257428d758581bfff5ace8c04f9614ca95cfe408f");
const CAROL_PROOF: B256 =
    b256!("0x3b915ca2e961eaa9dc6135abd17ad26fb66b9c08e404bb1f9d2597ae29fe5b3f");

fn domain() -> Domain {
    Domain::new(CHAIN_ID, CONTRACT)
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&KEY).expect("the vector key is a valid key")
}

/// Alice (50, with a payee) and Bob (30), the entries both pool vectors start with.
fn alice_and_bob() -> Vec<ReportEntry> {
    vec![
        ReportEntry::new(
            WalletAddress::parse("https://ilp.example.com/alice").unwrap(),
            Weight::new(50).unwrap(),
            Some(address!("0x00000000000000000000000000000000000A11cE")),
        ),
        ReportEntry::new(
            WalletAddress::parse("$wallet.example.org/bob").unwrap(),
            Weight::new(30).unwrap(),
            None,
        ),
    ]
}

/// The first report of pool `pool` of `example-community` with `entries`, as both vectors sign it.
fn first_report_of(pool: &str, entries: Vec<ReportEntry>) -> PoolReport {
    let change = PoolChange::new(
        PoolId::new(
            &CommunitySlug::parse("example-community").unwrap(),
            &PoolName::parse(pool).unwrap(),
        ),
        entries,
        DECISION,
        3,
        1_700_000_000,
        ValidityWindow::new(1_700_000_000, 1_700_086_400).unwrap(),
    )
    .unwrap();
    PoolReport::next(None, &domain(), change).unwrap()
}

fn pool_report() -> PoolReport {
    first_report_of("default", alice_and_bob())
}

fn signer_report() -> SignerReport {
    let set = SignerSet::new(
        vec![
            key().address(),
            Address::repeat_byte(0x22),
            Address::repeat_byte(0x33),
        ],
        2,
    )
    .unwrap();
    SignerReport::next(
        None,
        &domain(),
        SignerChange {
            set,
            observed_at: 1_700_000_100,
            window: ValidityWindow::new(1_700_000_100, 1_700_086_500).unwrap(),
        },
    )
    .unwrap()
}

#[test]
fn digests_and_signatures_are_the_shared_vectors() {
    let key = key();
    assert_eq!(key.address(), SIGNER, "signer address");
    assert_eq!(domain().separator(), DOMAIN_SEPARATOR, "domain separator");
    let pool = pool_report();
    let rotation = signer_report();
    assert_eq!(
        pool.digest(&domain()).get(),
        POOL_DIGEST,
        "pool report digest"
    );
    assert_eq!(
        rotation.digest(&domain()).get(),
        SIGNER_DIGEST,
        "signer report digest"
    );

    let signed_pool = SignedReport::sign(pool, domain(), &[&key]).unwrap();
    assert_eq!(signed_pool.blob(), POOL_SIGNATURE, "pool report signature");
    let signed_rotation = SignedReport::sign(rotation, domain(), &[&key]).unwrap();
    assert_eq!(
        signed_rotation.blob(),
        SIGNER_SIGNATURE,
        "signer report signature"
    );

    let set = SignerSet::new(vec![SIGNER], 1).unwrap();
    assert_eq!(verify(&signed_pool, &set), Ok(vec![SIGNER]));
    assert_eq!(verify(&signed_rotation, &set), Ok(vec![SIGNER]));
}

#[test]
fn the_entry_tree_of_three_entries_is_the_shared_vector() {
    let report = odd_pool_report();
    assert_eq!(report.digest(&domain()).get(), ODD_POOL_DIGEST);
    let signed = SignedReport::sign(report.clone(), domain(), &[&key()]).unwrap();
    assert_eq!(
        signed.blob(),
        ODD_POOL_SIGNATURE,
        "three-entry report signature"
    );
    let tree = EntryTree::new(&abi::PoolReport::from(&report).entries);
    assert_eq!(tree.root(), ODD_POOL_ROOT, "root");
    assert_eq!(tree.leaf(2).unwrap().hash(), CAROL_LEAF, "carol's leaf");
    assert_eq!(
        tree.proof(2),
        Some(vec![CAROL_PROOF]),
        "carol rises alone once"
    );
}

/// A second pool report, of three entries, so that the entry tree's odd last node is shared too.
fn odd_pool_report() -> PoolReport {
    let mut entries = alice_and_bob();
    entries.push(ReportEntry::new(
        WalletAddress::parse("https://ilp.example.net/carol/main").unwrap(),
        Weight::new(20).unwrap(),
        Some(address!("0x00000000000000000000000000000000000CA401")),
    ));
    first_report_of("odd", entries)
}
