//! The indexer as a process: `revshare-oracle index`, killed with SIGKILL in the middle of a
//! batch (while the node holds its `eth_getLogs` unanswered) and restarted, ends with the same
//! rows as an uninterrupted run, on SQLite and PostgreSQL; and `serve` with an `[indexer]`
//! section follows the chain and reports it in its metrics.

use crate::common;
use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use common::TestDb;
use revshare_oracle::report::SignerSet;
use revshare_oracle::store::{IndexCursor, IndexedContract, IndexedEvent, Store};
use support::anvil::LocalChain;
use support::oracle::Oracle;
use support::rpc_proxy::{RpcProxy, Rules};

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");

/// Polls `condition` up to `tries` times, 5 ms apart; panics with `what` if it never holds.
async fn wait_until<F, Fut>(what: &str, tries: u32, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..tries {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what} never happened");
}

fn write_config(
    dir: &Path,
    database_url: &str,
    rpc: &str,
    contract: Address,
    block: u64,
) -> String {
    let path = dir.join("indexer.toml");
    std::fs::write(
        &path,
        format!(
            "database_url = \"{database_url}\"\n\
             [log]\nformat = \"json\"\n\
             [indexer]\nrpc_url = \"{rpc}\"\ncontract = \"{contract}\"\n\
             deployment_block = {block}\nbatch_size = 2\nconfirmations = 2\npoll_interval_ms = 20\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn start_indexer(config: &str, once: bool) -> Child {
    let mut command = Command::new(BIN);
    command.args(["index", "--config", config]);
    if once {
        command.arg("--once");
    }
    command
        .env_remove("RUST_LOG")
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

async fn run_once(config: &str) {
    let config = config.to_string();
    let status = tokio::task::spawn_blocking(move || start_indexer(&config, true).wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "index --once exits cleanly");
}

/// Reports on three pools with empty blocks in between: a few hundred blocks to read.
async fn busy_chain() -> (LocalChain, Address, u64, u64) {
    let chain = LocalChain::start().await;
    let set = SignerSet::new(vec![chain.oracle_key(1).address()], 1).unwrap();
    let (contract, block) = chain.deploy(&set).await;
    let mut oracle = Oracle::new(chain.provider.clone(), contract, vec![chain.oracle_key(1)]).await;
    for i in 0..90u64 {
        oracle.publish((i % 3) as u32, i + 1).await;
        chain.provider.anvil_mine(Some(3), None).await.unwrap();
    }
    let head = chain.provider.get_block_number().await.unwrap();
    (chain, contract, block, head)
}

async fn snapshot(
    store: &Store,
    indexed: &IndexedContract,
) -> (Option<IndexCursor>, Vec<IndexedEvent>) {
    (
        store.chain_cursor(indexed).await.unwrap(),
        store.chain_events(indexed).await.unwrap(),
    )
}

/// Lets the indexer pass `block`, holds its next log read, and kills it while it waits.
async fn kill_mid_batch(
    child: &mut Child,
    proxy: &RpcProxy,
    store: &Store,
    indexed: &IndexedContract,
    block: u64,
) -> IndexCursor {
    wait_until("the indexer passing the kill point", 20_000, || async {
        store
            .chain_cursor(indexed)
            .await
            .unwrap()
            .is_some_and(|c| c.block >= block)
    })
    .await;
    proxy.hold_logs();
    wait_until("a held log read", 20_000, || async { proxy.held() > 0 }).await;
    let cursor = store.chain_cursor(indexed).await.unwrap().unwrap();
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    proxy.release_logs();
    cursor
}

async fn a_killed_indexer_resumes_to_the_same_rows(db: TestDb) {
    let (chain, contract, block, head) = busy_chain().await;
    let indexed = IndexedContract {
        chain_id: chain.provider.get_chain_id().await.unwrap(),
        contract,
    };
    let proxy = RpcProxy::start(&chain.rpc_url(), Rules::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url, &proxy.url, contract, block);

    for kill_at in [block + 60, block + 200] {
        let mut child = start_indexer(&config, false);
        let cursor = kill_mid_batch(&mut child, &proxy, &db.store, &indexed, kill_at).await;
        let (after_kill, events) = snapshot(&db.store, &indexed).await;
        assert_eq!(
            after_kill,
            Some(cursor),
            "the batch in flight wrote nothing"
        );
        assert!(
            cursor.block < head,
            "killed before the end ({} of {head})",
            cursor.block
        );
        assert!(
            events
                .iter()
                .all(|e| e.event.position.block_number <= cursor.block),
            "no row beyond the cursor"
        );
        let filter = alloy::rpc::types::Filter::new()
            .address(contract)
            .from_block(block)
            .to_block(cursor.block);
        let in_chain = chain.provider.get_logs(&filter).await.unwrap();
        assert_eq!(events.len(), in_chain.len(), "every row up to the cursor");
    }
    run_once(&config).await;
    let resumed = snapshot(&db.store, &indexed).await;

    let uninterrupted = common::sqlite_db().await;
    let dir = tempfile::tempdir().unwrap();
    run_once(&write_config(
        dir.path(),
        &uninterrupted.url,
        &chain.rpc_url(),
        contract,
        block,
    ))
    .await;
    let expected = snapshot(&uninterrupted.store, &indexed).await;
    assert_eq!(
        resumed.0.map(|c| (c.block, c.hash)),
        expected.0.map(|c| (c.block, c.hash))
    );
    assert_eq!(resumed.1.len(), 91);
    assert_eq!(
        resumed.1, expected.1,
        "the same rows as an uninterrupted run"
    );
}

on_both_databases!(a_killed_indexer_resumes_to_the_same_rows);

#[tokio::test]
async fn the_service_follows_the_chain_when_configured() {
    let chain = LocalChain::start().await;
    let set = SignerSet::new(vec![chain.oracle_key(1).address()], 1).unwrap();
    let (contract, block) = chain.deploy(&set).await;
    let mut oracle = Oracle::new(chain.provider.clone(), contract, vec![chain.oracle_key(1)]).await;
    oracle.publish(0, 1).await;
    let db = common::sqlite_db().await;
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("REVSHARE_LISTEN", "127.0.0.1:0")
        .current_dir(db.workdir.path())
        .env("REVSHARE_DATABASE_URL", &db.url)
        .env("REVSHARE_LOG__FORMAT", "json")
        .env("REVSHARE_INDEXER__RPC_URL", chain.rpc_url())
        .env("REVSHARE_INDEXER__CONTRACT", contract.to_string())
        .env("REVSHARE_INDEXER__DEPLOYMENT_BLOCK", block.to_string())
        .env("REVSHARE_INDEXER__CONFIRMATIONS", "1")
        .env("REVSHARE_INDEXER__POLL_INTERVAL_MS", "20")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (send, lines) = channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let address = loop {
        let line = lines.recv().expect("the service logs until it listens");
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        if entry["message"] == "listening" {
            break entry["address"].as_str().unwrap().to_string();
        }
    };
    let indexed = IndexedContract {
        chain_id: chain.provider.get_chain_id().await.unwrap(),
        contract,
    };
    let indexed_count = |n: usize| {
        let store = db.store.clone();
        move || {
            let store = store.clone();
            async move { store.chain_events(&indexed).await.unwrap().len() == n }
        }
    };
    wait_until(
        "the service indexing the first report",
        20_000,
        indexed_count(2),
    )
    .await;
    oracle.publish(0, 2).await;
    wait_until(
        "the service indexing a new report",
        20_000,
        indexed_count(3),
    )
    .await;
    let head = chain.provider.get_block_number().await.unwrap();
    let metrics = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("revshare_chain_indexed_block {head}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("revshare_chain_indexed_events_total 3"),
        "{metrics}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
