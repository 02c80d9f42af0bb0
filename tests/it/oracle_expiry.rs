//! Reports that expire before they land, on a real Anvil chain: the chain's clock moves past their
//! windows while the relayer is away; when it comes back it re-issues them with fresh windows
//! (the rest of each chain re-linked), and each chain lands in order. The chain then equals the
//! service, reconciliation is in sync, the old digests stay served as superseded, and the auditor,
//! reading only the chain, verifies the history.

use crate::common;
use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::{Address, keccak256};
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use alloy::rpc::types::BlockNumberOrTag;
use common::{TestApp, TestDb, app, community_reports, restart, rotate_signers, service_entries};
use revshare_oracle::audit::AuditOptions;
use revshare_oracle::chain::contract::RevShare;
use revshare_oracle::config::KeySource;
use revshare_oracle::config::{Config, IndexerConfig};
use revshare_oracle::keys::write_key_file;
use revshare_oracle::report::SignerSet;
use serde_json::{Value, json};
use support::anvil::LocalChain;

/// Most polls while waiting for the relayer or the reconciliation; each sleeps `POLL`.
const POLLS: usize = 1_200;
const POLL: Duration = Duration::from_millis(50);
/// The reports' validity in this suite: an hour.
const VALIDITY_SECS: u64 = 3_600;

/// Anvil with RevShare deployed for Anvil's account 1 alone, and that account's key file.
struct Deployment {
    chain: LocalChain,
    contract: Address,
    set: SignerSet,
    _dir: tempfile::TempDir,
    key: PathBuf,
    next_key: PathBuf,
    sender: PathBuf,
}

impl Deployment {
    async fn new() -> Self {
        let chain = LocalChain::start().await;
        let set = SignerSet::new(vec![chain.oracle_key(1).address()], 1).unwrap();
        let (contract, _) = chain.deploy(&set).await;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("oracle.key");
        let next_key = dir.path().join("next.key");
        let sender = dir.path().join("sender.key");
        write_key_file(&key, &chain.oracle_key(1)).unwrap();
        write_key_file(&next_key, &chain.oracle_key(2)).unwrap();
        write_key_file(&sender, &chain.oracle_key(0)).unwrap();
        Deployment {
            chain,
            contract,
            set,
            _dir: dir,
            key,
            next_key,
            sender,
        }
    }

    /// The oracle on, with a one-hour window, relaying when `relayer` is on; the chain indexer
    /// on too, so that reconciliation runs. The node also holds Anvil's key 2, for a rotation.
    fn configure(&self, config: &mut Config, relayer: bool) {
        let source = |path: &PathBuf| KeySource {
            path: path.clone(),
            password_file: None,
            generate: false,
        };
        config.oracle.enabled = true;
        config.oracle.keys = vec![source(&self.key), source(&self.next_key)];
        config.oracle.signers = self.set.signers().to_vec();
        config.oracle.threshold = 1;
        config.oracle.chain_id = 31_337;
        config.oracle.contract = self.contract;
        config.oracle.validity_secs = VALIDITY_SECS;
        config.chain.relayer = relayer;
        config.chain.rpc_url = self.chain.rpc_url().into();
        config.chain.sender = Some(source(&self.sender));
        config.chain.poll_interval_ms = 100;
        config.chain.max_backoff_ms = 300;
        config.chain.receipt_timeout_secs = 30;
        config.chain.reconcile_interval_ms = 100;
        config.indexer = Some(self.indexer());
    }

    fn indexer(&self) -> IndexerConfig {
        toml::from_str(&format!(
            "rpc_url = {:?}\ncontract = \"{}\"\ndeployment_block = 0\nconfirmations = 1\npoll_interval_ms = 100\n",
            self.chain.rpc_url(),
            self.contract
        ))
        .unwrap()
    }

    /// The entries the contract holds for a pool: (wallet, weight).
    async fn on_chain_entries(&self, community: &str, pool: &str) -> Vec<(String, u64)> {
        support::oracle::on_chain_entries(&self.chain.provider, self.contract, community, pool)
            .await
    }

    /// The latest block's timestamp: the chain's clock.
    async fn chain_time(&self) -> u64 {
        self.chain
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }
}

async fn put_pool(app: &TestApp, name: &str, wallet: &str, weight: u64) {
    let reply = app
        .admin(
            "PUT",
            &format!("/v1/admin/communities/guild/pools/{name}"),
            json!({"entries": [{"wallet": wallet, "weight": weight}]}),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// Waits until `live` reports that are not superseded are all applied; returns every report.
async fn applied(app: &TestApp, live: usize) -> Vec<Value> {
    for _ in 0..POLLS {
        let all = community_reports(app, "guild").await;
        let current: Vec<&Value> = all.iter().filter(|r| r["status"] != "superseded").collect();
        if current.len() == live && current.iter().all(|r| r["status"] == "applied") {
            return all;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "the reports did not land: {:#?}",
        community_reports(app, "guild").await
    );
}

/// Waits until the reconciliation shows `pool` in sync; returns that row.
async fn in_sync(app: &TestApp, pool: &str) -> Value {
    for _ in 0..POLLS {
        let reply = app.get("/v1/oracle/reconciliation").await;
        if reply.status == 200 {
            let rows = reply.json()["pools"].as_array().unwrap().clone();
            if let Some(row) = rows
                .iter()
                .find(|r| r["pool"] == pool && r["standing"] == "in_sync")
            {
                return row.clone();
            }
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "{pool} never came in sync: {}",
        String::from_utf8_lossy(&app.get("/v1/oracle/reconciliation").await.body)
    );
}

fn find<'a>(reports: &'a [Value], digest: &Value) -> &'a Value {
    reports
        .iter()
        .find(|r| r["digest"] == *digest)
        .unwrap_or_else(|| panic!("no report {digest}: {reports:#?}"))
}

async fn reports_that_expired_unsent_are_reissued_and_land_in_order(db: TestDb) {
    let deployment = Deployment::new().await;
    let first = app(db, |c| deployment.configure(c, true)).await;
    first.seed("guild", &[]).await;
    put_pool(&first, "default", "$wallet.example/a", 1).await;
    let landed = applied(&first, 1).await;

    // The relayer goes away; three changes are signed meanwhile, and the chain's clock passes
    // their windows (the service's own clock does not move).
    first.state.workers.relayer.stop().await;
    put_pool(&first, "default", "$wallet.example/b", 2).await;
    put_pool(&first, "news", "$wallet.example/c", 3).await;
    put_pool(&first, "default", "$wallet.example/d", 4).await;
    let waiting = community_reports(&first, "guild").await;
    assert!(
        waiting[1..].iter().all(|r| r["status"] == "pending"),
        "{waiting:#?}"
    );
    let provider = &deployment.chain.provider;
    provider
        .anvil_increase_time(2 * VALIDITY_SECS)
        .await
        .unwrap();
    provider.anvil_mine(Some(1), None).await.unwrap();
    let reissued_after = deployment.chain_time().await;
    assert!(
        waiting[1..]
            .iter()
            .all(|r| r["valid_until"].as_u64().unwrap() < reissued_after)
    );

    let second = restart(first, |c| deployment.configure(c, true)).await;
    let index = revshare_oracle::workers::indexer::spawn(
        second.state.store.clone(),
        deployment.indexer(),
        None,
        second.state.clock.clone(),
    );
    let all = applied(&second, 4).await;

    // The report applied before the outage is untouched; the three that expired are superseded.
    assert_eq!(all[0]["digest"], landed[0]["digest"]);
    assert_eq!(all[0]["status"], "applied");
    let superseded: Vec<&Value> = all.iter().filter(|r| r["status"] == "superseded").collect();
    assert_eq!(superseded.len(), 3, "{all:#?}");
    for old in &superseded {
        let successor = find(&all, &old["superseded_by"]);
        assert_eq!(successor["status"], "applied");
        assert_eq!(
            (
                &successor["pool"],
                &successor["seq"],
                &successor["pool_version"]
            ),
            (&old["pool"], &old["seq"], &old["pool_version"])
        );
        assert_eq!(successor["decision_hash"], old["decision_hash"]);
        let from = successor["valid_from"].as_u64().unwrap();
        assert!(
            from >= reissued_after,
            "a fresh window by the chain's clock: {successor:#}"
        );
        assert_eq!(
            successor["valid_until"].as_u64().unwrap(),
            from + VALIDITY_SECS
        );
    }

    // Each pool's live chain links digest to digest, and landed in signing order.
    let live: Vec<&Value> = all.iter().filter(|r| r["status"] == "applied").collect();
    let default: Vec<&&Value> = live.iter().filter(|r| r["pool"] == "default").collect();
    let seqs: Vec<u64> = default.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(default[1]["prev_hash"], default[0]["digest"]);
    assert_eq!(default[2]["prev_hash"], default[1]["digest"]);
    // Each pool's chain lands in its own order; the pools are relayed independently.
    for pool in ["default", "news"] {
        let blocks: Vec<u64> = superseded
            .iter()
            .filter(|old| old["pool"] == pool)
            .map(|old| {
                find(&all, &old["superseded_by"])["block_number"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(
            blocks.windows(2).all(|w| w[0] < w[1]),
            "pool {pool} landed in outbox order: {blocks:?}"
        );
    }

    // The chain equals the service.
    for pool in ["default", "news"] {
        assert_eq!(
            deployment.on_chain_entries("guild", pool).await,
            service_entries(&second, "guild", pool).await
        );
    }
    let head = RevShare::new(deployment.contract, provider)
        .poolHead(keccak256("guild"), keccak256("default"))
        .call()
        .await
        .unwrap();
    assert_eq!(head.version, 3);
    assert_eq!(
        head.lastDigest.to_string(),
        default[2]["digest"].as_str().unwrap()
    );

    // The old digest is still served, superseded, naming its successor; so is the evidence.
    let old = superseded[0];
    let reply = second
        .get(&format!("/v1/reports/{}", old["digest"].as_str().unwrap()))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "superseded");
    assert_eq!(reply.json()["superseded_by"], old["superseded_by"]);
    let hash = old["decision_hash"].as_str().unwrap();
    let evidence = second.get(&format!("/v1/evidence/{hash}")).await;
    assert_eq!(evidence.status, 200);
    assert_eq!(keccak256(&evidence.body).to_string(), hash);

    // The page shows the superseded reports; the metrics count the re-issues.
    let html = String::from_utf8_lossy(&second.get("/c/guild").await.body).into_owned();
    assert_eq!(
        html.matches(r#"data-report-status="superseded""#).count(),
        3,
        "{html}"
    );
    let metrics = String::from_utf8_lossy(&second.get("/metrics").await.body).into_owned();
    assert!(
        metrics.contains("revshare_oracle_reports_reissued_total 3"),
        "{metrics}"
    );

    // Reconciliation is in sync with the re-issued heads: nothing superseded is missing.
    let row = in_sync(&second, "guild/default").await;
    assert_eq!(row["local_digest"], default[2]["digest"]);
    in_sync(&second, "guild/news").await;
    index.stop().await;

    // The auditor, from the chain alone, verifies the whole history.
    let verdict = revshare_oracle::audit::run(&AuditOptions {
        rpc_url: deployment.chain.rpc_url(),
        contract: deployment.contract,
        from_block: None,
        evidence_from: None,
        signers: Some(deployment.set.clone()),
        progress: false,
    })
    .await
    .unwrap();
    assert!(verdict.verified, "{}", verdict.render());
    assert_eq!(verdict.pool_reports, 4);
    assert_eq!(verdict.pools, 2);
}

async fn a_report_the_contract_refuses_as_expired_is_reissued_without_being_sent(db: TestDb) {
    let deployment = Deployment::new().await;
    let first = app(db, |c| deployment.configure(c, false)).await;
    first.seed("guild", &[]).await;
    put_pool(&first, "default", "$wallet.example/a", 1).await;
    let signed = community_reports(&first, "guild").await;
    let valid_until = signed[0]["valid_until"].as_u64().unwrap();

    // By the latest block the report is still valid, but the next block comes after its window:
    // the contract refuses it as expired when the relayer estimates the transaction.
    let provider = &deployment.chain.provider;
    provider
        .anvil_set_next_block_timestamp(valid_until - 10)
        .await
        .unwrap();
    provider.anvil_mine(Some(1), None).await.unwrap();
    assert_eq!(deployment.chain_time().await, valid_until - 10);
    provider
        .anvil_set_next_block_timestamp(valid_until + 1)
        .await
        .unwrap();

    let second = restart(first, |c| deployment.configure(c, true)).await;
    let all = applied(&second, 1).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0]["status"], "superseded");
    assert_eq!(all[0]["superseded_by"], all[1]["digest"]);
    assert_eq!(
        all[0]["tx_hash"],
        Value::Null,
        "the expired report was never sent"
    );
    assert_eq!(all[1]["valid_from"].as_u64().unwrap(), valid_until - 10);
    assert_eq!(
        deployment.on_chain_entries("guild", "default").await,
        service_entries(&second, "guild", "default").await
    );
}

async fn reports_around_an_expired_rotation_are_reissued_by_the_set_in_force_at_their_place(
    db: TestDb,
) {
    let deployment = Deployment::new().await;
    let first = app(db, |c| deployment.configure(c, false)).await;
    first.seed("guild", &[]).await;
    put_pool(&first, "default", "$wallet.example/a", 1).await;
    let next = deployment.chain.oracle_key(2).address();
    rotate_signers(&first, &[next], 1).await;
    put_pool(&first, "default", "$wallet.example/b", 2).await;
    let provider = &deployment.chain.provider;
    provider
        .anvil_increase_time(2 * VALIDITY_SECS)
        .await
        .unwrap();
    provider.anvil_mine(Some(1), None).await.unwrap();

    let second = restart(first, |c| deployment.configure(c, true)).await;
    let all = applied(&second, 2).await;
    let live: Vec<&Value> = all.iter().filter(|r| r["status"] == "applied").collect();
    assert_eq!(live.len(), 2);
    let signers = |report: &Value| report["signers"].clone();
    assert_eq!(
        signers(live[0]),
        json!([deployment.chain.oracle_key(1).address().to_string()]),
        "the first report is re-signed by the set before the rotation"
    );
    assert_eq!(
        signers(live[1]),
        json!([next.to_string()]),
        "the report after the rotation is re-signed by the new set"
    );
    let contract = RevShare::new(deployment.contract, provider);
    let set = contract.signerSet().call().await.unwrap();
    assert_eq!(
        set.epoch, 2,
        "the expired rotation was re-issued and applied"
    );
    assert_eq!(set.signers, vec![next]);
    assert_eq!(
        deployment.on_chain_entries("guild", "default").await,
        service_entries(&second, "guild", "default").await
    );
    let verdict = revshare_oracle::audit::run(&AuditOptions {
        rpc_url: deployment.chain.rpc_url(),
        contract: deployment.contract,
        from_block: None,
        evidence_from: None,
        signers: Some(deployment.set.clone()),
        progress: false,
    })
    .await
    .unwrap();
    assert!(verdict.verified, "{}", verdict.render());
    assert_eq!((verdict.pool_reports, verdict.signer_reports), (2, 1));
}

on_both_databases!(
    reports_around_an_expired_rotation_are_reissued_by_the_set_in_force_at_their_place,
    reports_that_expired_unsent_are_reissued_and_land_in_order,
    a_report_the_contract_refuses_as_expired_is_reissued_without_being_sent,
);
