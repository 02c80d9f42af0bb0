//! Backfill and audit speed on a local Anvil, for BENCHMARKS.md:
//!
//! ```sh
//! cargo run --release --example chain_bench -- --reports 5000 [--database-url URL]...
//! ```
//!
//! Starts the repository's pinned Anvil, deploys RevShare with a 3-of-5 signer set, submits
//! `--reports` pool reports (three signatures each, over eight pools, one block each), then
//! times a backfill of the whole history into a fresh SQLite file and into each empty database
//! that `--database-url` names, and an audit: reading the history from the node, and verifying
//! it.

#[path = "../tests/it/support/anvil.rs"]
#[allow(dead_code)]
mod anvil;
#[path = "../tests/it/support/oracle.rs"]
#[allow(dead_code)]
mod oracle;

use std::time::Instant;

use revshare_oracle::audit::{AuditOptions, read_history, verify};
use revshare_oracle::config::IndexerConfig;
use revshare_oracle::report::SignerSet;
use revshare_oracle::store::Store;
use revshare_oracle::workers::indexer::Indexer;

struct Args {
    reports: u64,
    database_urls: Vec<String>,
}

fn args() -> Args {
    let mut args = Args {
        reports: 5_000,
        database_urls: Vec::new(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--reports" => args.reports = value.parse().expect("--reports takes a number"),
            "--database-url" => args.database_urls.push(value),
            other => panic!("unknown argument {other}; use --reports N, --database-url URL"),
        }
    }
    args
}

#[tokio::main]
async fn main() {
    let args = args();
    let chain = anvil::LocalChain::start().await;
    let set = SignerSet::new((1..=5).map(|i| chain.oracle_key(i).address()).collect(), 3).unwrap();
    let (contract, deployed_at) = chain.deploy(&set).await;
    let keys = vec![
        chain.oracle_key(1),
        chain.oracle_key(3),
        chain.oracle_key(5),
    ];
    let mut oracle = oracle::Oracle::new(chain.provider.clone(), contract, keys).await;
    let started = Instant::now();
    for i in 0..args.reports {
        oracle.publish((i % 8) as u32, i + 1).await;
    }
    eprintln!(
        "submitted {} reports in {:.1} s",
        args.reports,
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let config = IndexerConfig {
        rpc_url: chain.rpc_url().into(),
        contract,
        deployment_block: deployed_at,
        batch_size: 2_000,
        confirmations: 12,
        poll_interval_ms: 1_000,
        reorg_window: 128,
    };
    println!("| figure | value |");
    println!("| --- | ---: |");
    for url in std::iter::once(sqlite).chain(args.database_urls) {
        let store = Store::connect(&url).await.expect("the database opens");
        let mut indexer = Indexer::connect(store.clone(), &config, None)
            .await
            .unwrap();
        let started = Instant::now();
        let head = indexer.sync_to_head().await.unwrap();
        let backfill = started.elapsed().as_secs_f64();
        let events = store.chain_events(&indexer.indexed()).await.unwrap().len();
        println!(
            "| backfill into {:?}: {} blocks, {events} events | {backfill:.2} s, {:.0} events/s |",
            store.backend(),
            head - deployed_at + 1,
            events as f64 / backfill
        );
    }

    let options = AuditOptions {
        rpc_url: chain.rpc_url(),
        contract,
        from_block: None,
        evidence_from: None,
        signers: Some(set.clone()),
        progress: false,
    };
    let started = Instant::now();
    let history = read_history(&options).await.unwrap();
    let read = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let verdict = verify(&history, Some(&set));
    let verified = started.elapsed().as_secs_f64();
    assert!(verdict.verified, "{}", verdict.render());

    let reports = verdict.pool_reports as f64;
    println!(
        "| audit: read logs and views | {read:.2} s, {:.0} reports/s |",
        reports / read
    );
    println!(
        "| audit: verify (3-of-5, pure) | {verified:.3} s, {:.0} reports/s |",
        reports / verified
    );
    println!(
        "| audit: whole | {:.2} s, {:.0} reports/s |",
        read + verified,
        reports / (read + verified)
    );
}
