//! The oracle end to end on a real Anvil chain: a pool change is signed, relayed and applied by
//! the RevShare contract; M-of-N signing and rotation; a restart between signing and landing; a
//! node that goes away and comes back; one pool's report that cannot land yet delays no other
//! pool's; the largest report lands and a larger change is refused with nothing stored; a report
//! that can never land is refused unsent and its pool moves on at its seq; reports signed before a
//! rotation that someone else landed first are re-signed by the new set and land; and
//! reconciliation flags what
//! the chain lacks or holds instead, across a restart.

use crate::common;
use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::{Address, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use common::{TestApp, TestDb, app, community_reports, restart, rotate_signers, service_entries};
use revshare_oracle::chain::contract::RevShare;
use revshare_oracle::config::Config;
use revshare_oracle::config::KeySource;
use revshare_oracle::keys::write_key_file;
use revshare_oracle::report::SignerSet;
use serde_json::{Value, json};
use support::anvil::LocalChain;

/// Most polls while waiting for the relayer; each sleeps `POLL`.
const POLLS: usize = 1_200;
const POLL: Duration = Duration::from_millis(50);

/// A deployed contract and key files for the oracle, the sender being Anvil's account 0.
struct Deployment {
    chain: LocalChain,
    contract: Address,
    dir: tempfile::TempDir,
}

impl Deployment {
    /// Deploys with signers = Anvil accounts `signers`, `threshold` of them needed.
    async fn new(chain: LocalChain, signers: &[usize], threshold: u8) -> Self {
        let mut addresses: Vec<Address> = signers
            .iter()
            .map(|&i| chain.oracle_key(i).address())
            .collect();
        addresses.sort();
        let set = SignerSet::new(addresses, threshold).unwrap();
        let (contract, _) = chain.deploy(&set).await;
        Deployment {
            chain,
            contract,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn key_source(&self, account: usize) -> KeySource {
        let path: PathBuf = self.dir.path().join(format!("account-{account}.key"));
        if !path.exists() {
            write_key_file(&path, &self.chain.oracle_key(account)).unwrap();
        }
        KeySource {
            path,
            password_file: None,
            generate: false,
        }
    }

    /// Turns the oracle on, signing with Anvil accounts `keys`, for a contract deployed with
    /// `signers`/`threshold`, relaying through the test chain when `relayer` is on.
    fn configure(
        &self,
        config: &mut Config,
        keys: &[usize],
        signers: &[usize],
        threshold: u8,
        relayer: bool,
    ) {
        config.oracle.enabled = true;
        config.oracle.keys = keys.iter().map(|&k| self.key_source(k)).collect();
        config.oracle.signers = signers
            .iter()
            .map(|&i| self.chain.oracle_key(i).address())
            .collect();
        config.oracle.threshold = threshold;
        config.oracle.chain_id = 31_337;
        config.oracle.contract = self.contract;
        config.chain.relayer = relayer;
        config.chain.rpc_url = self.chain.rpc_url().into();
        config.chain.sender = Some(self.key_source(0));
        config.chain.poll_interval_ms = 100;
        config.chain.max_backoff_ms = 300;
        config.chain.receipt_timeout_secs = 30;
    }

    fn contract(&self) -> RevShare::RevShareInstance<&alloy::providers::DynProvider> {
        RevShare::new(self.contract, &self.chain.provider)
    }

    /// The entries the contract holds for a pool: (wallet, weight).
    async fn on_chain_entries(&self, community: &str, pool: &str) -> Vec<(String, u64)> {
        support::oracle::on_chain_entries(&self.chain.provider, self.contract, community, pool)
            .await
    }

    /// How many `PoolReportApplied` events the contract emitted.
    async fn applied_events(&self) -> usize {
        let filter = Filter::new()
            .address(self.contract)
            .event_signature(RevShare::PoolReportApplied::SIGNATURE_HASH)
            .from_block(0);
        self.chain.provider.get_logs(&filter).await.unwrap().len()
    }
}

fn pool(entries: &[(&str, u64)]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|(wallet, weight)| json!({"wallet": wallet, "weight": weight}))
            .collect(),
    )
}

async fn put_pool(app: &TestApp, community: &str, name: &str, entries: &[(&str, u64)]) {
    let reply = app
        .admin(
            "PUT",
            &format!("/v1/admin/communities/{community}/pools/{name}"),
            json!({"entries": pool(entries)}),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// Waits until every report of the community has left the outbox; returns them.
async fn settled(app: &TestApp, community: &str, expected: usize) -> Vec<Value> {
    for _ in 0..POLLS {
        let reports = community_reports(app, community).await;
        if reports.len() == expected
            && reports
                .iter()
                .all(|r| r["status"] == "applied" || r["status"] == "refused")
        {
            return reports;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "the reports did not settle: {:#?}",
        community_reports(app, community).await
    );
}

async fn a_pool_change_lands_on_chain_and_matches_the_service_pool(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    let app = app(db, |c| deployment.configure(c, &[1], &[1], 1, true)).await;
    app.seed("makers", &[]).await;
    put_pool(
        &app,
        "makers",
        "default",
        &[
            ("$wallet.example/alice", 3),
            ("https://ilp.example.org/bob", 1),
        ],
    )
    .await;
    put_pool(
        &app,
        "makers",
        "default",
        &[("$wallet.example/alice", 2), ("$wallet.example/carol", 5)],
    )
    .await;

    let reports = settled(&app, "makers", 2).await;
    assert!(
        reports.iter().all(|r| r["status"] == "applied"),
        "{reports:#?}"
    );
    assert_eq!(reports[0]["seq"], 1);
    assert_eq!(reports[1]["seq"], 2);
    assert_eq!(
        reports[1]["prev_hash"], reports[0]["digest"],
        "reports chain by digest"
    );
    assert_eq!(
        deployment.on_chain_entries("makers", "default").await,
        service_entries(&app, "makers", "default").await
    );
    let head = deployment
        .contract()
        .poolHead(keccak256("makers"), keccak256("default"))
        .call()
        .await
        .unwrap();
    assert_eq!(head.version, 2);
    assert_eq!(
        head.lastDigest.to_string(),
        reports[1]["digest"].as_str().unwrap()
    );

    // The transparency page shows each change's report, on chain, with its signatures verified.
    let page = app.get("/c/makers").await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert_eq!(
        html.matches(r#"data-report-status="on chain""#).count(),
        2,
        "{html}"
    );
    assert_eq!(html.matches(r#"data-signatures="verified""#).count(), 2);
    assert!(html.contains(reports[1]["digest"].as_str().unwrap()));

    // The evidence the decision hash commits to is served byte for byte.
    let hash = reports[1]["decision_hash"].as_str().unwrap();
    let evidence = app.get(&format!("/v1/evidence/{hash}")).await;
    assert_eq!(evidence.status, 200);
    assert_eq!(keccak256(&evidence.body).to_string(), hash);
    assert_eq!(evidence.json()["kind"], "admin_bootstrap");
}

async fn three_of_five_sign_and_a_rotation_hands_over_to_the_next_set(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1, 2, 3, 4, 5], 3).await;
    // This node holds three of the first set and three of the next.
    let app = app(db, |c| {
        deployment.configure(c, &[1, 2, 3, 6, 7, 8], &[1, 2, 3, 4, 5], 3, true)
    })
    .await;
    app.seed("guild", &[]).await;
    put_pool(&app, "guild", "default", &[("$wallet.example/one", 1)]).await;
    let first = settled(&app, "guild", 1).await;
    assert_eq!(first[0]["status"], "applied");
    assert_eq!(first[0]["signers"].as_array().unwrap().len(), 3);

    let next: Vec<Address> = [6, 7, 8, 9]
        .iter()
        .map(|&i| deployment.chain.oracle_key(i).address())
        .collect();
    let rotation = rotate_signers(&app, &next, 3).await;
    assert_eq!(rotation["kind"], "signer");
    put_pool(&app, "guild", "default", &[("$wallet.example/two", 2)]).await;

    let reports = settled(&app, "guild", 2).await;
    assert_eq!(reports[1]["status"], "applied", "{reports:#?}");
    let new_signers: Vec<String> = [6, 7, 8]
        .iter()
        .map(|&i| deployment.chain.oracle_key(i).address().to_string())
        .collect();
    let mut signed_by: Vec<String> = reports[1]["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    signed_by.sort();
    let mut expected = new_signers.clone();
    expected.sort();
    assert_eq!(
        signed_by, expected,
        "the pool report after the rotation is signed by the new set"
    );
    let set = deployment.contract().signerSet().call().await.unwrap();
    assert_eq!(set.epoch, 2);
    assert_eq!(set.threshold, 3);
    assert_eq!(
        deployment.on_chain_entries("guild", "default").await,
        vec![("https://wallet.example/two".to_string(), 2)]
    );

    // The page checks each report against the set in force at its place: both verify.
    let html = String::from_utf8_lossy(&app.get("/c/guild").await.body).into_owned();
    assert_eq!(
        html.matches(r#"data-signatures="verified""#).count(),
        2,
        "{html}"
    );
    assert!(!html.contains(r#"data-signatures="invalid""#), "{html}");
}

async fn a_report_signed_before_a_restart_lands_exactly_once(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    // The first process signs and stores, and stops before relaying.
    let first = app(db, |c| deployment.configure(c, &[1], &[1], 1, false)).await;
    first.seed("studio", &[]).await;
    put_pool(&first, "studio", "default", &[("$wallet.example/ana", 1)]).await;
    put_pool(
        &first,
        "studio",
        "default",
        &[("$wallet.example/ana", 1), ("$wallet.example/ben", 1)],
    )
    .await;
    assert!(
        community_reports(&first, "studio")
            .await
            .iter()
            .all(|r| r["status"] == "pending")
    );

    // It had sent report 1 before it stopped, and never learnt the outcome.
    let open = first
        .state
        .store
        .next_open_report(first.state.oracle.as_ref().unwrap().domain())
        .await
        .unwrap()
        .unwrap();
    let revshare_oracle::store::StoredSigned::Pool(signed) = &open.signed else {
        panic!("the first open report is a pool report")
    };
    deployment
        .contract()
        .submitPoolReport(signed.report().into(), signed.blob().into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let sender = deployment.chain.oracle_key(0).address();
    let sent_before = deployment
        .chain
        .provider
        .get_transaction_count(sender)
        .await
        .unwrap();

    // The restarted process finds report 1 on chain, sends only report 2.
    let second = restart(first, |c| deployment.configure(c, &[1], &[1], 1, true)).await;
    let reports = settled(&second, "studio", 2).await;
    assert!(
        reports.iter().all(|r| r["status"] == "applied"),
        "{reports:#?}"
    );
    assert_eq!(
        deployment.applied_events().await,
        2,
        "each report applied exactly once"
    );
    let sent_after = deployment
        .chain
        .provider
        .get_transaction_count(sender)
        .await
        .unwrap();
    assert_eq!(
        sent_after,
        sent_before + 1,
        "only the report not yet on chain was sent"
    );
    assert_eq!(
        deployment.on_chain_entries("studio", "default").await,
        service_entries(&second, "studio", "default").await
    );
}

async fn reports_signed_while_the_node_is_down_land_in_order_when_it_is_back(db: TestDb) {
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("anvil-state.json");
    let port = support::anvil::free_port();
    let args = |file: &PathBuf| vec!["--state".to_string(), file.display().to_string()];
    let chain = LocalChain::start_on(port, &args(&state_file)).await;
    let deployment = Deployment::new(chain, &[1], 1).await;
    let app = app(db, |c| deployment.configure(c, &[1], &[1], 1, true)).await;
    app.seed("radio", &[]).await;
    put_pool(&app, "radio", "default", &[("$wallet.example/a", 1)]).await;
    settled(&app, "radio", 1).await;

    // The node goes away (saving its chain); three changes are signed meanwhile.
    let Deployment {
        chain,
        contract,
        dir,
    } = deployment;
    chain.stop_gracefully();
    put_pool(&app, "radio", "default", &[("$wallet.example/b", 2)]).await;
    put_pool(&app, "radio", "news", &[("$wallet.example/c", 3)]).await;
    put_pool(&app, "radio", "default", &[("$wallet.example/d", 4)]).await;
    let waiting = community_reports(&app, "radio").await;
    assert_eq!(waiting.len(), 4);
    assert!(
        waiting[1..]
            .iter()
            .all(|r| r["status"] == "pending" || r["status"] == "submitted")
    );

    // It comes back on the same port with the same chain: everything lands, each pool in order.
    let chain = LocalChain::start_on(port, &args(&state_file)).await;
    let deployment = Deployment {
        chain,
        contract,
        dir,
    };
    let reports = settled(&app, "radio", 4).await;
    assert!(
        reports.iter().all(|r| r["status"] == "applied"),
        "{reports:#?}"
    );
    let blocks: Vec<u64> = reports
        .iter()
        .filter(|r| r["pool"] == "default")
        .map(|r| r["block_number"].as_u64().unwrap())
        .collect();
    assert!(
        blocks.windows(2).all(|w| w[0] < w[1]),
        "each pool's chain landed in signing order: {blocks:?}"
    );
    assert_eq!(
        deployment.on_chain_entries("radio", "default").await,
        vec![("https://wallet.example/d".to_string(), 4)]
    );
    assert_eq!(
        deployment.on_chain_entries("radio", "news").await,
        vec![("https://wallet.example/c".to_string(), 3)]
    );
}

async fn one_pool_whose_report_cannot_land_yet_delays_no_other_pool(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    let chain_now = deployment
        .chain
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let now = revshare_oracle::domain::Timestamp(chain_now as i64 * 1_000);
    let clock = revshare_oracle::clock::Clock::manual(now);
    let app = common::app_on_clock(db, clock.clone(), |c| {
        deployment.configure(c, &[1], &[1], 1, true);
    })
    .await;
    app.seed("twin", &[]).await;

    // Signed a day ahead of the chain: the contract refuses it until its window opens, and the
    // relayer keeps trying.
    clock.set(revshare_oracle::domain::Timestamp(now.0 + 86_400_000));
    put_pool(&app, "twin", "later", &[("$wallet.example/later", 1)]).await;
    clock.set(now);
    put_pool(&app, "twin", "now", &[("$wallet.example/now", 2)]).await;

    let mut landed = None;
    for _ in 0..POLLS {
        let reports = community_reports(&app, "twin").await;
        if reports
            .iter()
            .any(|r| r["pool"] == "now" && r["status"] == "applied")
        {
            landed = Some(reports);
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let reports = landed.expect("the other pool's report lands while the first waits");
    let later = reports.iter().find(|r| r["pool"] == "later").unwrap();
    assert!(
        later["status"] == "pending" || later["status"] == "submitted",
        "the early report still waits, not refused: {later:#}"
    );
    assert_eq!(
        deployment.on_chain_entries("twin", "now").await,
        vec![("https://wallet.example/now".to_string(), 2)]
    );
    assert!(
        deployment
            .on_chain_entries("twin", "later")
            .await
            .is_empty()
    );

    // When the chain's clock reaches its window, it lands too.
    use alloy::providers::ext::AnvilApi;
    deployment
        .chain
        .provider
        .anvil_increase_time(86_400 + 60)
        .await
        .unwrap();
    deployment
        .chain
        .provider
        .anvil_mine(Some(1), None)
        .await
        .unwrap();
    let reports = settled(&app, "twin", 2).await;
    assert!(
        reports.iter().all(|r| r["status"] == "applied"),
        "{reports:#?}"
    );
    assert_eq!(
        deployment.on_chain_entries("twin", "later").await,
        vec![("https://wallet.example/later".to_string(), 1)]
    );
}

async fn a_report_that_can_never_land_is_refused_and_its_pool_moves_on(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    // Signed by a set the contract never had: neither report can ever land.
    let first = app(db, |c| deployment.configure(c, &[2], &[2], 1, false)).await;
    first.seed("lab", &[]).await;
    put_pool(&first, "lab", "default", &[("$wallet.example/x", 1)]).await;
    put_pool(&first, "lab", "default", &[("$wallet.example/y", 2)]).await;

    // Restarted with the contract's set, the first stored signature no longer verifies: it is
    // refused and never sent, and the report after it is re-signed at its seq and lands.
    let indexer = indexer_config(&deployment);
    let second = restart(first, |c| {
        deployment.configure(c, &[1], &[1], 1, true);
        c.indexer = Some(indexer.clone());
        c.chain.reconcile_interval_ms = 100;
    })
    .await;
    let index = revshare_oracle::workers::indexer::spawn(
        second.state.store.clone(),
        indexer,
        None,
        second.state.clock.clone(),
    );
    let reports = all_final(&second, "lab", 3).await;
    assert_eq!(reports[0]["status"], "refused", "{reports:#?}");
    let reason = reports[0]["last_error"].as_str().unwrap();
    assert!(reason.contains("local verification"), "{reason}");
    assert_eq!(reports[1]["status"], "superseded");
    assert_eq!(reports[1]["superseded_by"], reports[2]["digest"]);
    assert_eq!(reports[2]["status"], "applied", "{reports:#?}");
    assert_eq!(
        reports[2]["seq"], 1,
        "the refused report's seq is taken again"
    );
    assert_eq!(
        deployment.on_chain_entries("lab", "default").await,
        vec![("https://wallet.example/y".to_string(), 2)]
    );
    let metrics = String::from_utf8_lossy(&second.get("/metrics").await.body).into_owned();
    assert!(
        metrics.contains("revshare_oracle_reports_refused_total 1"),
        "{metrics}"
    );
    let html = String::from_utf8_lossy(&second.get("/c/lab").await.body).into_owned();
    assert!(html.contains(r#"data-signatures="invalid""#), "{html}");
    assert!(
        html.contains("it can never land (failed local verification"),
        "{html}"
    );
    let row = reconciled(&second, "lab/default", "in_sync").await;
    assert_eq!(row["refused"].as_array().unwrap().len(), 1, "{row}");
    assert_eq!(row["refused"][0]["seq"], 1);
    assert_eq!(row["refused"][0]["digest"], reports[0]["digest"]);
    let reason = row["refused"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("local verification"), "{reason}");

    // The next change follows the report that landed.
    put_pool(&second, "lab", "default", &[("$wallet.example/z", 3)]).await;
    let reports = all_final(&second, "lab", 4).await;
    assert_eq!(reports[3]["status"], "applied", "{reports:#?}");
    assert_eq!(reports[3]["seq"], 2);
    assert_eq!(reports[3]["prev_hash"], reports[2]["digest"]);
    assert_eq!(
        deployment.applied_events().await,
        2,
        "the refused report was never sent"
    );
    index.stop().await;
}

async fn reports_signed_before_a_rotation_that_landed_first_are_re_signed_and_land(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    let first = app(db, |c| deployment.configure(c, &[1, 2], &[1], 1, false)).await;
    first.seed("guild", &[]).await;
    put_pool(&first, "guild", "default", &[("$wallet.example/one", 1)]).await;
    let next = deployment.chain.oracle_key(2).address();
    let rotation = rotate_signers(&first, &[next], 1).await;

    // Anyone may apply the published rotation before the relayer sends the older pool report.
    let digest: alloy::primitives::B256 = rotation["digest"].as_str().unwrap().parse().unwrap();
    let stored = first
        .state
        .store
        .report_by_digest(digest)
        .await
        .unwrap()
        .unwrap();
    let revshare_oracle::store::StoredSigned::Signer(signed) = &stored.signed else {
        panic!("a signer report")
    };
    let pending = deployment
        .contract()
        .submitSignerReport(
            RevShare::SignerReport::from(signed.report()),
            alloy::primitives::Bytes::from(signed.blob()),
        )
        .send()
        .await
        .unwrap();
    assert!(
        pending.get_receipt().await.unwrap().status(),
        "the rotation landed"
    );

    let second = restart(first, |c| deployment.configure(c, &[1, 2], &[1], 1, true)).await;
    let reports = all_final(&second, "guild", 2).await;
    assert_eq!(reports[0]["status"], "superseded", "{reports:#?}");
    assert_eq!(
        reports[0]["tx_hash"],
        Value::Null,
        "the stranded report was never sent"
    );
    let successor = reports
        .iter()
        .find(|r| r["digest"] == reports[0]["superseded_by"])
        .expect("the successor is listed");
    assert_eq!(successor["status"], "applied", "{reports:#?}");
    assert_eq!(successor["seq"], 1);
    assert_eq!(
        successor["signers"],
        json!([next.to_string()]),
        "re-signed by the set in force"
    );
    assert_eq!(
        deployment.on_chain_entries("guild", "default").await,
        vec![("https://wallet.example/one".to_string(), 1)]
    );
    let set = deployment.contract().signerSet().call().await.unwrap();
    assert_eq!(set.epoch, 2);
}

/// Waits until the community has `expected` reports, each applied, refused or superseded (every
/// one final); returns them.
async fn all_final(app: &TestApp, community: &str, expected: usize) -> Vec<Value> {
    for _ in 0..POLLS {
        let reports = community_reports(app, community).await;
        let done = |r: &Value| {
            ["applied", "refused", "superseded"].contains(&r["status"].as_str().unwrap_or(""))
        };
        if reports.len() == expected && reports.iter().all(done) {
            return reports;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "the reports did not settle: {:#?}",
        community_reports(app, community).await
    );
}

/// `count` distinct wallets whose normal forms are `path_len` + 26 bytes long.
fn many_wallets(count: usize, path_len: usize) -> Vec<(String, u64)> {
    let path = "p".repeat(path_len);
    (0..count)
        .map(|i| (format!("$w{i:04}.example/{path}"), 1 + (i % 7) as u64))
        .collect()
}

async fn put_refused(app: &TestApp, community: &str, name: &str, entries: &[(String, u64)]) {
    let entries: Vec<(&str, u64)> = entries.iter().map(|(w, n)| (w.as_str(), *n)).collect();
    let reply = app
        .admin(
            "PUT",
            &format!("/v1/admin/communities/{community}/pools/{name}"),
            json!({"entries": pool(&entries)}),
        )
        .await;
    assert_eq!(
        reply.status,
        422,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let problem = reply.json();
    assert_eq!(problem["errors"][0]["field"], "entries", "{problem:#}");
    assert_eq!(problem["errors"][0]["rule"], "reportable", "{problem:#}");
}

async fn the_largest_report_lands_and_a_larger_change_is_refused_with_nothing_stored(db: TestDb) {
    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    let app = app(db, |c| deployment.configure(c, &[1], &[1], 1, true)).await;
    app.seed("crowd", &[]).await;
    let largest = many_wallets(revshare_oracle::report::MAX_REPORT_ENTRIES, 1);
    let entries: Vec<(&str, u64)> = largest.iter().map(|(w, n)| (w.as_str(), *n)).collect();
    put_pool(&app, "crowd", "default", &entries).await;
    let reports = settled(&app, "crowd", 1).await;
    assert_eq!(reports[0]["status"], "applied", "{reports:#?}");
    let on_chain = deployment.on_chain_entries("crowd", "default").await;
    assert_eq!(on_chain.len(), 1_000);
    assert_eq!(on_chain, service_entries(&app, "crowd", "default").await);

    // One entry more, or wallets longer than a report carries together: refused, nothing stored.
    put_refused(&app, "crowd", "default", &many_wallets(1_001, 1)).await;
    let long = many_wallets(40, 1_700);
    let bytes: usize = long.iter().map(|(w, _)| w.len() + 8).sum();
    assert!(bytes > revshare_oracle::report::MAX_REPORT_WALLET_BYTES);
    put_refused(&app, "crowd", "default", &long).await;
    put_refused(&app, "crowd", "other", &long).await;
    assert_eq!(service_entries(&app, "crowd", "default").await.len(), 1_000);
    assert_eq!(community_reports(&app, "crowd").await.len(), 1);
    let other = app.get("/v1/communities/crowd/pools/other").await;
    assert_eq!(other.status, 404, "a refused first version creates no pool");
}

on_both_databases!(
    a_pool_change_lands_on_chain_and_matches_the_service_pool,
    the_largest_report_lands_and_a_larger_change_is_refused_with_nothing_stored,
    three_of_five_sign_and_a_rotation_hands_over_to_the_next_set,
    a_report_signed_before_a_restart_lands_exactly_once,
    reports_signed_while_the_node_is_down_land_in_order_when_it_is_back,
    one_pool_whose_report_cannot_land_yet_delays_no_other_pool,
    a_report_that_can_never_land_is_refused_and_its_pool_moves_on,
    reports_signed_before_a_rotation_that_landed_first_are_re_signed_and_land,
    reconciliation_flags_a_report_missing_on_chain_and_a_chain_that_differs,
);

/// The chain indexer on the test chain, as `serve` runs it with `[indexer]` set.
fn indexer_config(deployment: &Deployment) -> revshare_oracle::config::IndexerConfig {
    toml::from_str(&format!(
        "rpc_url = {:?}\ncontract = \"{}\"\ndeployment_block = 0\nconfirmations = 1\npoll_interval_ms = 100\n",
        deployment.chain.rpc_url(),
        deployment.contract
    ))
    .unwrap()
}

/// Waits until the reconciliation shows `pool` with `standing`; returns that row.
async fn reconciled(app: &TestApp, pool: &str, standing: &str) -> Value {
    for _ in 0..POLLS {
        let reply = app.get("/v1/oracle/reconciliation").await;
        if reply.status == 200 {
            let rows = reply.json()["pools"].as_array().unwrap().clone();
            if let Some(row) = rows
                .iter()
                .find(|r| r["pool"] == pool && r["standing"] == standing)
            {
                return row.clone();
            }
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "{pool} never became {standing}: {}",
        String::from_utf8_lossy(&app.get("/v1/oracle/reconciliation").await.body)
    );
}

async fn reconciliation_flags_a_report_missing_on_chain_and_a_chain_that_differs(db: TestDb) {
    use alloy::providers::ext::AnvilApi;
    use revshare_oracle::report::{
        Digest, Head, PoolChange, PoolId, PoolReport, ReportEntry, SignedReport, ValidityWindow,
    };

    let deployment = Deployment::new(LocalChain::start().await, &[1], 1).await;
    let indexer = indexer_config(&deployment);
    let app = app(db, |c| {
        deployment.configure(c, &[1], &[1], 1, true);
        c.indexer = Some(indexer.clone());
        c.chain.reconcile_interval_ms = 100;
        c.chain.missing_after_blocks = 3;
    })
    .await;
    let index = revshare_oracle::workers::indexer::spawn(
        app.state.store.clone(),
        indexer,
        None,
        app.state.clock.clone(),
    );
    app.seed("guild", &[]).await;
    put_pool(&app, "guild", "default", &[("$wallet.example/one", 1)]).await;
    let landed = settled(&app, "guild", 1).await;
    let row = reconciled(&app, "guild/default", "in_sync").await;
    assert_eq!(row["chain_seq"], 1);

    // A report this oracle never stored lands on chain: the chain differs from the oracle.
    let key = deployment.chain.oracle_key(1);
    let id = PoolId::new(
        &revshare_oracle::domain::CommunitySlug::parse("guild").unwrap(),
        &revshare_oracle::domain::PoolName::parse("default").unwrap(),
    );
    let head = Head {
        seq: 1,
        digest: Digest::new(landed[0]["digest"].as_str().unwrap().parse().unwrap()),
    };
    let entry = ReportEntry::new(
        revshare_oracle::domain::WalletAddress::parse("$wallet.example/intruder").unwrap(),
        revshare_oracle::domain::Weight::new(9).unwrap(),
        None,
    );
    let change = PoolChange::new(
        id,
        vec![entry],
        alloy::primitives::B256::ZERO,
        0,
        1,
        ValidityWindow::new(0, u64::MAX).unwrap(),
    )
    .unwrap();
    let domain = *app.state.oracle.as_ref().unwrap().domain();
    let foreign =
        SignedReport::sign(PoolReport::after(head, change).unwrap(), domain, &[&key]).unwrap();
    // Sent from another account than the relayer's, whose nonces the test's provider does not track.
    let outsider = support::anvil::provider_for(&deployment.chain.anvil, 9);
    RevShare::new(deployment.contract, &outsider)
        .submitPoolReport(foreign.report().into(), foreign.blob().into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let row = reconciled(&app, "guild/default", "differs").await;
    assert_eq!(row["chain_seq"], 2);
    assert_eq!(row["local_seq"], 1);

    // A report the relayer cannot land (it is stopped) is flagged once blocks pass without it.
    app.state.workers.relayer.stop().await;
    put_pool(&app, "guild", "news", &[("$wallet.example/two", 2)]).await;
    reconciled(&app, "guild/news", "behind").await;
    deployment
        .chain
        .provider
        .anvil_mine(Some(5), None)
        .await
        .unwrap();
    let row = reconciled(&app, "guild/news", "missing_on_chain").await;
    assert_eq!(row["missing"], 1);
    let metrics = String::from_utf8_lossy(&app.get("/metrics").await.body).into_owned();
    assert!(
        metrics.contains("revshare_reconciliation_divergences 2"),
        "{metrics}"
    );

    // After a restart, with no block mined since, the report is still missing at once: the
    // patience is not waited again.
    index.stop().await;
    let app = restart(app, |c| {
        deployment.configure(c, &[1], &[1], 1, false);
        c.indexer = Some(indexer_config(&deployment));
        c.chain.reconcile_interval_ms = 100;
        c.chain.missing_after_blocks = 3;
    })
    .await;
    let row = reconciled(&app, "guild/news", "missing_on_chain").await;
    assert!(row["blocks"].as_u64().unwrap() >= 3, "{row}");
}
