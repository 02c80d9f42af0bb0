//! The chain indexer against a real Anvil: it stores every report event, confirms them at the
//! configured depth, survives reorgs of 1 to 64 blocks (`anvil_reorg`) and a chain reverted to a
//! snapshot with rows equal to a fresh index of the canonical chain, and still reads everything
//! through a node that refuses wide `eth_getLogs` ranges.

use crate::common;
use crate::support;

use std::collections::HashMap;

use alloy::eips::BlockId;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::anvil::{ReorgOptions, TransactionData};
use common::TestDb;
use revshare_oracle::chain::contract::RevShare;
use revshare_oracle::chain::events::ReportEvent;
use revshare_oracle::config::IndexerConfig;
use revshare_oracle::report::{Digest, Head, SignerSet};
use revshare_oracle::store::{Confirmation, IndexedEvent, Store};
use revshare_oracle::workers::indexer::{Indexer, Step};
use support::anvil::LocalChain;
use support::oracle::{Oracle, pool};
use support::rpc_proxy::{RpcProxy, Rules};

fn settings(rpc_url: &str, contract: Address, deployment_block: u64) -> IndexerConfig {
    IndexerConfig {
        rpc_url: rpc_url.to_string().into(),
        contract,
        deployment_block,
        batch_size: 1_000,
        confirmations: 2,
        poll_interval_ms: 50,
        reorg_window: 128,
    }
}

/// A chain with RevShare deployed for one signer, and an oracle signing with that signer.
async fn deployed() -> (LocalChain, Oracle, u64) {
    let chain = LocalChain::start().await;
    let set = SignerSet::new(vec![chain.oracle_key(1).address()], 1).unwrap();
    let (contract, block) = chain.deploy(&set).await;
    let oracle = Oracle::new(chain.provider.clone(), contract, vec![chain.oracle_key(1)]).await;
    (chain, oracle, block)
}

async fn index(store: &Store, config: &IndexerConfig) -> Vec<IndexedEvent> {
    let mut indexer = Indexer::connect(store.clone(), config, None)
        .await
        .expect("the indexer connects");
    indexer
        .sync_to_head()
        .await
        .expect("the indexer catches up");
    store.chain_events(&indexer.indexed()).await.unwrap()
}

/// What a new index of the chain as it is now holds.
async fn fresh_index(config: &IndexerConfig) -> Vec<IndexedEvent> {
    let db = common::sqlite_db().await;
    index(&db.store, config).await
}

fn weights(events: &[IndexedEvent]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.event.event {
            ReportEvent::Pool(applied) => Some(applied.report.entries[0].weight.to::<u64>()),
            ReportEvent::Signers(_) => None,
        })
        .collect()
}

async fn reports_are_stored_then_confirmed_at_depth(db: TestDb) {
    let (chain, mut oracle, block) = deployed().await;
    for weight in 1..=3 {
        oracle.publish(0, weight).await;
    }
    let mut config = settings(&chain.rpc_url(), oracle.contract, block);
    config.confirmations = 3;
    let events = index(&db.store, &config).await;
    assert_eq!(weights(&events), vec![1, 2, 3]);
    assert!(
        matches!(events[0].event.event, ReportEvent::Signers(_)),
        "the deployment's set comes first"
    );
    let statuses: Vec<Confirmation> = events.iter().map(|e| e.confirmation).collect();
    assert_eq!(
        statuses,
        vec![
            Confirmation::Confirmed,
            Confirmation::Confirmed,
            Confirmation::Seen,
            Confirmation::Seen
        ],
        "the head and the block below it have fewer than 3 confirmations"
    );
    let mut indexer = Indexer::connect(db.store.clone(), &config, None)
        .await
        .unwrap();
    let indexed = indexer.indexed();
    let head = db
        .store
        .chain_pool_head(&indexed, pool(0), false)
        .await
        .unwrap()
        .unwrap();
    let confirmed = db
        .store
        .chain_pool_head(&indexed, pool(0), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.event.event.seq(), confirmed.event.event.seq()),
        (3, 1)
    );
    let by_digest = db
        .store
        .chain_event_by_digest(&indexed, head.event.event.digest())
        .await
        .unwrap();
    assert_eq!(by_digest, Some(head.clone()));
    assert_eq!(
        db.store
            .chain_event_by_digest(&indexed, Digest::new(B256::repeat_byte(0x42)))
            .await
            .unwrap(),
        None
    );

    chain.provider.anvil_mine(Some(2), None).await.unwrap();
    indexer.sync_to_head().await.unwrap();
    let events = db.store.chain_events(&indexed).await.unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.confirmation == Confirmation::Confirmed)
    );
    assert_eq!(
        db.store
            .chain_pool_reports(&indexed, pool(0), true)
            .await
            .unwrap()
            .len(),
        3
    );
}

on_both_databases!(reports_are_stored_then_confirmed_at_depth);

/// Reports on two pools, one block each, then `anvil_reorg` of `depth` blocks whose new fork
/// carries other reports; the index must end equal to a fresh index of the new chain.
async fn reorg_of_depth(depth: u64) {
    let (chain, mut oracle, block) = deployed().await;
    for i in 0..depth + 4 {
        oracle.publish((i % 2) as u32, i + 1).await;
    }
    let config = settings(&chain.rpc_url(), oracle.contract, block);
    let db = common::sqlite_db().await;
    let before = index(&db.store, &config).await;
    assert_eq!(before.len() as u64, depth + 5);

    let head = chain.provider.get_block_number().await.unwrap();
    let fork = head - depth;
    let contract = RevShare::new(oracle.contract, &chain.provider);
    let sender = chain.anvil.addresses()[0];
    let mut heads: HashMap<u32, Head> = HashMap::new();
    let mut tx_block_pairs = Vec::new();
    for slot in 0..depth.min(3) {
        let pool_number = (slot % 2) as u32;
        let previous = match heads.get(&pool_number) {
            Some(head) => *head,
            None => {
                let id = pool(pool_number);
                let at_fork = contract
                    .poolHead(id.community(), id.pool())
                    .block(BlockId::number(fork))
                    .call()
                    .await
                    .unwrap();
                Head {
                    seq: at_fork.version,
                    digest: Digest::new(at_fork.lastDigest),
                }
            }
        };
        let signed = oracle.report_after(pool_number, previous, 1_000 + slot);
        heads.insert(pool_number, Head::of(signed.report(), &oracle.domain));
        let tx = TransactionRequest::default()
            .from(sender)
            .with_to(oracle.contract)
            .with_gas_limit(2_000_000)
            .with_input(Oracle::pool_call(&signed));
        tx_block_pairs.push((TransactionData::JSON(tx), slot));
    }
    chain
        .provider
        .anvil_reorg(ReorgOptions {
            depth,
            tx_block_pairs,
        })
        .await
        .expect("anvil reorganises its chain");

    let mut indexer = Indexer::connect(db.store.clone(), &config, None)
        .await
        .unwrap();
    let step = indexer.step().await.unwrap();
    assert!(
        matches!(step, Step::RolledBack { fork: Some(at), .. } if at <= fork),
        "expected a rollback to block {fork} or below, found {step:?}"
    );
    indexer.sync_to_head().await.unwrap();
    let after = db.store.chain_events(&indexer.indexed()).await.unwrap();
    assert_eq!(
        after,
        fresh_index(&config).await,
        "the index equals a fresh index of the new chain"
    );
    assert_ne!(after, before, "the reorg changed what the chain holds");
    let replaced = weights(&after).iter().filter(|w| **w >= 1_000).count() as u64;
    assert_eq!(replaced, depth.min(3), "the new fork's reports are in");
}

#[tokio::test]
async fn a_reorg_of_1_block_is_rolled_back() {
    reorg_of_depth(1).await;
}

#[tokio::test]
async fn a_reorg_of_2_blocks_is_rolled_back() {
    reorg_of_depth(2).await;
}

#[tokio::test]
async fn a_reorg_of_7_blocks_is_rolled_back() {
    reorg_of_depth(7).await;
}

#[tokio::test]
async fn a_reorg_of_32_blocks_is_rolled_back() {
    reorg_of_depth(32).await;
}

#[tokio::test]
async fn a_reorg_of_64_blocks_is_rolled_back() {
    reorg_of_depth(64).await;
}

#[tokio::test]
async fn a_chain_reverted_to_a_snapshot_is_rolled_back() {
    let (chain, mut oracle, block) = deployed().await;
    for weight in 1..=3 {
        oracle.publish(0, weight).await;
    }
    let snapshot = chain.provider.anvil_snapshot().await.unwrap();
    let at_snapshot = oracle.heads();
    for weight in 4..=8 {
        oracle.publish(0, weight).await;
    }
    let config = settings(&chain.rpc_url(), oracle.contract, block);
    let db = common::sqlite_db().await;
    assert_eq!(
        weights(&index(&db.store, &config).await),
        (1..=8).collect::<Vec<_>>()
    );

    assert!(chain.provider.anvil_revert(snapshot).await.unwrap());
    oracle.restore_heads(at_snapshot);
    // A new provider: the old one's nonce cache still counts the reverted transactions.
    oracle.provider = support::anvil::provider_for(&chain.anvil, 0);
    for weight in [40, 50] {
        oracle.publish(0, weight).await;
    }
    let after = index(&db.store, &config).await;
    assert_eq!(weights(&after), vec![1, 2, 3, 40, 50]);
    assert_eq!(after, fresh_index(&config).await);
}

#[tokio::test]
async fn a_node_that_refuses_wide_log_ranges_still_gives_everything() {
    let (chain, mut oracle, block) = deployed().await;
    for i in 0..20 {
        oracle.publish(i % 3, u64::from(i) + 1).await;
    }
    let proxy = RpcProxy::start(
        &chain.rpc_url(),
        Rules {
            max_log_blocks: Some(4),
            ..Rules::default()
        },
    )
    .await;
    let through_proxy = settings(&proxy.url, oracle.contract, block);
    let db = common::sqlite_db().await;
    let events = index(&db.store, &through_proxy).await;
    assert!(proxy.refused() > 0, "the proxy refused the wide ranges");
    assert!(
        proxy.widest_served() <= 4,
        "no range wider than the limit was served"
    );
    assert_eq!(events.len(), 21);
    assert_eq!(
        events,
        fresh_index(&settings(&chain.rpc_url(), oracle.contract, block)).await
    );
}

#[tokio::test]
async fn a_wrong_configuration_is_refused_before_reading() {
    let chain = LocalChain::start().await;
    let db = common::sqlite_db().await;
    let mut config = settings(&chain.rpc_url(), Address::repeat_byte(1), 0);
    config.reorg_window = 1;
    let err = Indexer::connect(db.store.clone(), &config, None)
        .await
        .err()
        .expect("a window below the confirmations is refused");
    assert!(err.to_string().contains("reorg_window"), "{err}");
}
