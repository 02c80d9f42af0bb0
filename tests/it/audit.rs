//! The auditor as anyone runs it: `revshare-oracle audit` against a real Anvil. An honest history
//! of a thousand reports (with a signer rotation and evidence for every decision) verifies; a
//! report signed by a key outside the expected set, evidence whose hash differs, and a log the
//! auditor never sees are each caught and named at the report concerned; so are decisions whose
//! ballots are not the ones their platform's documents show. Reports submitted through another
//! contract verify like any other, from the logs alone.

use crate::ballot_fixtures;
use crate::support;

use std::collections::{HashMap, HashSet};
use std::process::Command;

use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use revshare_oracle::report::SignerSet;
use serde_json::Value;
use support::anvil::LocalChain;
use support::evidence::EvidenceServer;
use support::oracle::{Oracle, evidence_of};
use support::rpc_proxy::{RpcProxy, Rules};

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");

/// Runs the binary with `args` off the async runtime (the test's servers keep answering);
/// returns whether it succeeded, its stdout and its stderr.
async fn run(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(BIN)
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn audit_args(rpc: &str, contract: Address, extra: &[String]) -> Vec<String> {
    let mut args = vec![
        "audit".to_string(),
        "--rpc".into(),
        rpc.into(),
        "--contract".into(),
        contract.to_string(),
    ];
    args.extend_from_slice(extra);
    args
}

fn signers_args(set: &SignerSet) -> Vec<String> {
    let list: Vec<String> = set.signers().iter().map(Address::to_string).collect();
    vec![
        "--signers".into(),
        list.join(","),
        "--threshold".into(),
        set.threshold().to_string(),
    ]
}

/// Runs `audit --json` and returns its success and verdict.
async fn audit_json(rpc: &str, contract: Address, extra: &[String]) -> (bool, Value) {
    let mut extra = extra.to_vec();
    extra.push("--json".into());
    let (ok, stdout, stderr) = run(audit_args(rpc, contract, &extra)).await;
    let verdict = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a JSON verdict ({e}): {stdout}\nstderr: {stderr}"));
    (ok, verdict)
}

/// A chain with RevShare deployed for `signer` alone, and an oracle signing with it.
async fn single_signer(chain: &LocalChain, signer: usize) -> (Oracle, SignerSet) {
    let key = chain.oracle_key(signer);
    let set = SignerSet::new(vec![key.address()], 1).unwrap();
    let (contract, _) = chain.deploy(&set).await;
    (
        Oracle::new(chain.provider.clone(), contract, vec![key]).await,
        set,
    )
}

#[tokio::test]
async fn an_honest_history_of_a_thousand_reports_verifies() {
    let chain = LocalChain::start().await;
    let set = SignerSet::new((1..=5).map(|i| chain.oracle_key(i).address()).collect(), 3).unwrap();
    let (contract, _) = chain.deploy(&set).await;
    let signing = vec![
        chain.oracle_key(1),
        chain.oracle_key(3),
        chain.oracle_key(5),
    ];
    let mut oracle = Oracle::new(chain.provider.clone(), contract, signing).await;
    let mut seqs: HashMap<u32, u64> = HashMap::new();
    for i in 0..1_000u64 {
        if i == 500 {
            let next = vec![
                chain.oracle_key(6),
                chain.oracle_key(7),
                chain.oracle_key(8),
            ];
            oracle.rotate(next, 2).await;
        }
        let pool = (i % 4) as u32;
        oracle.publish(pool, i + 1).await;
        *seqs.entry(pool).or_default() += 1;
    }
    let documents: HashMap<B256, Vec<u8>> = seqs
        .iter()
        .flat_map(|(&pool, &count)| (1..=count).map(move |seq| evidence_of(pool, seq)))
        .collect();
    let evidence = EvidenceServer::start(documents).await;

    let mut extra = signers_args(&set);
    extra.extend(["--evidence-from".to_string(), evidence.url.clone()]);
    let (ok, verdict) = audit_json(&chain.rpc_url(), contract, &extra).await;
    assert!(ok, "{verdict:#}");
    assert_eq!(verdict["verified"], true, "{verdict:#}");
    assert_eq!(verdict["pool_reports"], 1_000);
    assert_eq!(verdict["signer_reports"], 1);
    assert_eq!(verdict["pools"], 4);
    assert_eq!(verdict["signer_epoch"], 2);
    assert_eq!(verdict["evidence"]["checked"], 1_000);
    assert_eq!(verdict["failures"], Value::Array(vec![]));
    assert_eq!(verdict["first_bad_report"], Value::Null);

    let (ok, text, _) = run(audit_args(&chain.rpc_url(), contract, &[])).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("1000 pool reports in 4 pools, 1 signer rotation;"),
        "{text}"
    );
    assert!(
        text.contains("signer set taken from the deployment"),
        "{text}"
    );
    assert!(text.ends_with("VERIFIED\n"), "{text}");
}

#[tokio::test]
async fn a_report_signed_by_an_unknown_key_is_named() {
    let chain = LocalChain::start().await;
    let (mut rogue, _) = single_signer(&chain, 9).await;
    rogue.publish(0, 1).await;
    rogue.publish(0, 2).await;
    let expected = SignerSet::new(vec![chain.oracle_key(1).address()], 1).unwrap();

    let (ok, verdict) =
        audit_json(&chain.rpc_url(), rogue.contract, &signers_args(&expected)).await;
    assert!(!ok, "a failed audit exits non-zero");
    assert_eq!(verdict["verified"], false);
    assert_eq!(verdict["failures"][0]["kind"], "deployment-signers-differ");
    let first = &verdict["first_bad_report"];
    assert_eq!(first["kind"], "unknown-signer", "{verdict:#}");
    assert_eq!(first["report"]["seq"], 1);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains(&chain.oracle_key(9).address().to_string()),
        "the message names the stranger: {first}"
    );

    let (ok, text, stderr) = run(audit_args(
        &chain.rpc_url(),
        rogue.contract,
        &signers_args(&expected),
    ))
    .await;
    assert!(!ok);
    assert!(text.contains("First bad report: pool report"), "{text}");
    assert!(text.contains("unknown-signer"), "{text}");
    assert!(stderr.contains("error: the audit failed"), "{stderr}");
}

#[tokio::test]
async fn reports_submitted_through_another_contract_verify_from_the_logs() {
    let chain = LocalChain::start().await;
    let (mut oracle, set) = single_signer(&chain, 1).await;
    let forwarder = oracle.deploy_forwarder().await;
    oracle.publish(0, 1).await;
    for weight in 2..=3 {
        let signed = oracle.next_report(0, weight);
        let hash = oracle.submit_through(forwarder, &signed).await;
        let tx = chain
            .provider
            .get_transaction_by_hash(hash)
            .await
            .unwrap()
            .expect("the node knows the transaction");
        assert_eq!(
            tx.to(),
            Some(forwarder),
            "the report went through the forwarder"
        );
    }
    oracle.publish(1, 4).await;

    let (ok, verdict) = audit_json(&chain.rpc_url(), oracle.contract, &signers_args(&set)).await;
    assert!(ok, "{verdict:#}");
    assert_eq!(verdict["verified"], true, "{verdict:#}");
    assert_eq!(verdict["pool_reports"], 4);
    assert_eq!(verdict["failures"], Value::Array(vec![]));
}

#[tokio::test]
async fn evidence_whose_hash_differs_is_named() {
    let chain = LocalChain::start().await;
    let (mut oracle, set) = single_signer(&chain, 1).await;
    let mut documents = HashMap::new();
    for seq in 1..=5 {
        oracle.publish(0, seq).await;
        let (hash, document) = evidence_of(0, seq);
        let served = if seq == 3 {
            b"{\"votes\":[\"no\"]}".to_vec()
        } else {
            document
        };
        documents.insert(hash, served);
    }
    let evidence = EvidenceServer::start(documents).await;

    let mut extra = signers_args(&set);
    extra.extend(["--evidence-from".to_string(), evidence.url.clone()]);
    let (ok, verdict) = audit_json(&chain.rpc_url(), oracle.contract, &extra).await;
    assert!(!ok);
    let kinds: Vec<&Value> = verdict["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["kind"])
        .collect();
    assert_eq!(kinds, vec!["evidence-hash-mismatch"], "{verdict:#}");
    assert_eq!(verdict["first_bad_report"]["report"]["seq"], 3);
    assert_eq!(verdict["evidence"]["checked"], 4);
}

#[tokio::test]
async fn a_log_hidden_from_the_auditor_is_a_gap() {
    let chain = LocalChain::start().await;
    let (mut oracle, set) = single_signer(&chain, 1).await;
    let mut hidden = HashSet::new();
    for seq in 1..=6 {
        let tx = oracle.publish(0, seq).await;
        if seq == 3 {
            hidden.insert(tx);
        }
    }
    let proxy = RpcProxy::start(
        &chain.rpc_url(),
        Rules {
            hidden_transactions: hidden,
            ..Rules::default()
        },
    )
    .await;

    let (ok, verdict) = audit_json(&proxy.url, oracle.contract, &signers_args(&set)).await;
    assert!(!ok);
    assert_eq!(verdict["pool_reports"], 5, "the auditor saw five reports");
    let first = &verdict["first_bad_report"];
    assert_eq!(first["kind"], "seq-gap", "{verdict:#}");
    assert_eq!(first["report"]["seq"], 4);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("expected seq 3, found 4"),
        "{first}"
    );
    assert_eq!(verdict["failures"].as_array().unwrap().len(), 1);

    let (ok, verdict) = audit_json(&chain.rpc_url(), oracle.contract, &signers_args(&set)).await;
    assert!(ok, "the same chain read directly verifies: {verdict:#}");
}

#[tokio::test]
async fn an_address_without_the_contract_is_a_clear_error() {
    let chain = LocalChain::start().await;
    let (ok, stdout, stderr) = run(audit_args(
        &chain.rpc_url(),
        Address::repeat_byte(0x11),
        &[],
    ))
    .await;
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no contract at"), "{stderr}");
}

/// Decision evidence of ann's wallet vote read from the fake Discourse: honest, or with its
/// recorded outcome flipped.
async fn decision_evidence(flip_outcome: bool) -> (B256, Vec<u8>) {
    use revshare_oracle::policy::Outcome;
    let vote = ballot_fixtures::discourse_vote().await;
    let mut evidence = ballot_fixtures::decided(&vote, vote.facts.clone());
    assert_eq!(evidence.decision.outcome, Outcome::Failed);
    if flip_outcome {
        evidence.decision.outcome = Outcome::Passed;
    }
    (evidence.hash(), evidence.to_bytes())
}

#[tokio::test]
async fn evidence_whose_votes_do_not_support_the_decision_is_named() {
    let chain = LocalChain::start().await;
    let (mut oracle, set) = single_signer(&chain, 1).await;
    let mut documents = HashMap::new();
    let (honest, honest_bytes) = decision_evidence(false).await;
    let (forged, forged_bytes) = decision_evidence(true).await;
    oracle.publish_decided(0, 1, honest).await;
    oracle.publish_decided(0, 2, forged).await;
    documents.insert(honest, honest_bytes);
    documents.insert(forged, forged_bytes);
    let evidence = EvidenceServer::start(documents).await;

    let mut extra = signers_args(&set);
    extra.extend(["--evidence-from".to_string(), evidence.url.clone()]);
    let (ok, verdict) = audit_json(&chain.rpc_url(), oracle.contract, &extra).await;
    assert!(!ok);
    let kinds: Vec<&Value> = verdict["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["kind"])
        .collect();
    assert_eq!(kinds, vec!["decision-not-supported"], "{verdict:#}");
    assert_eq!(verdict["first_bad_report"]["report"]["seq"], 2);
    assert_eq!(
        verdict["evidence"]["checked"], 2,
        "both hash to their decision hash"
    );
    assert_eq!(verdict["evidence"]["decisions_rerun"], 1);
}

#[tokio::test]
async fn ballots_that_are_not_the_platforms_are_named() {
    use ballot_fixtures::{Forgery, decided, discourse_vote};
    let chain = LocalChain::start().await;
    let (mut oracle, set) = single_signer(&chain, 1).await;
    let vote = discourse_vote().await;
    let mut documents = HashMap::new();
    let honest = decided(&vote, vote.facts.clone());
    let forged = Forgery::ALL.map(|forgery| decided(&vote, forgery.apply(&vote.facts)));
    for (seq, evidence) in std::iter::once(&honest).chain(&forged).enumerate() {
        oracle
            .publish_decided(0, seq as u64 + 1, evidence.hash())
            .await;
        documents.insert(evidence.hash(), evidence.to_bytes());
    }
    let evidence = EvidenceServer::start(documents).await;

    let mut extra = signers_args(&set);
    extra.extend(["--evidence-from".to_string(), evidence.url.clone()]);
    let (ok, verdict) = audit_json(&chain.rpc_url(), oracle.contract, &extra).await;
    assert!(!ok, "a failed audit exits non-zero");
    let failures = verdict["failures"].as_array().unwrap();
    let named: Vec<(&Value, &Value)> = failures
        .iter()
        .map(|f| (&f["kind"], &f["report"]["seq"]))
        .collect();
    let kind = Value::from("ballots-not-from-documents");
    assert_eq!(
        named,
        vec![
            (&kind, &Value::from(2)),
            (&kind, &Value::from(3)),
            (&kind, &Value::from(4))
        ],
        "{verdict:#}"
    );
    let pat = vote.facts.ballots[0].voter.username.clone();
    for (failure, voter) in failures.iter().zip([pat.as_str(), "eve", pat.as_str()]) {
        let message = failure["message"].as_str().unwrap();
        assert!(message.contains(&format!("({voter})")), "{message}");
    }
    assert_eq!(verdict["first_bad_report"]["report"]["seq"], 2);
    assert_eq!(verdict["evidence"]["checked"], 4);
    assert_eq!(
        verdict["evidence"]["decisions_rerun"], 4,
        "every policy re-run agrees"
    );
    assert_eq!(verdict["evidence"]["ballots_checked"], 1, "the honest one");

    let (ok, text, _) = run(audit_args(&chain.rpc_url(), oracle.contract, &extra)).await;
    assert!(!ok);
    assert!(text.contains("First bad report: pool report"), "{text}");
    assert!(
        text.contains("ballots-not-from-documents: voter discourse"),
        "{text}"
    );
}
