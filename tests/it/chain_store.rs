//! The chain index's storage, on SQLite and PostgreSQL alike: batches and their cursor commit
//! together, a moved cursor refuses a stale writer, rollbacks remove exactly what orphaned blocks
//! wrote, confirmations only ever advance, and an indexed event's content cannot be changed; the
//! block at which reconciliation first saw a report missing is kept once, and never rewritten.

use crate::common;

use alloy::primitives::aliases::U96;
use alloy::primitives::{Address, B256, Bytes, U256};
use common::TestDb;
use revshare_oracle::chain::events::{
    ContractEvent, LogPosition, PoolApplied, ReportEvent, SignersRotated,
};
use revshare_oracle::domain::Timestamp;
use revshare_oracle::report::{Digest, PoolId, abi};
use revshare_oracle::store::{
    BlockHeader, Confirmation, IndexBatch, IndexCursor, IndexedContract, Store, StoreError,
};
use sqlx::{Connection, Executor};

const INDEXED: IndexedContract = IndexedContract {
    chain_id: 31337,
    contract: Address::repeat_byte(0xc0),
};

fn hash(block: u64, fork: u8) -> B256 {
    B256::left_padding_from(&[fork, block as u8])
}

fn header(block: u64, fork: u8) -> BlockHeader {
    BlockHeader {
        number: block,
        hash: hash(block, fork),
        parent_hash: hash(block - 1, fork),
    }
}

fn position(block: u64, fork: u8, log_index: u64) -> LogPosition {
    LogPosition {
        block_number: block,
        block_hash: hash(block, fork),
        log_index,
        tx_hash: B256::repeat_byte(block as u8),
    }
}

fn pool_id(n: u8) -> PoolId {
    PoolId::from_hashes(B256::repeat_byte(0xaa), B256::repeat_byte(n))
}

fn pool_event(block: u64, fork: u8, pool: u8, seq: u64) -> ContractEvent {
    ContractEvent {
        position: position(block, fork, 0),
        event: ReportEvent::Pool(PoolApplied {
            digest: Digest::new(B256::left_padding_from(&[fork, pool, seq as u8])),
            signer_epoch: 1,
            signer_bitmap: U256::from(0b101),
            root: B256::repeat_byte(pool),
            report: abi::PoolReport {
                community: pool_id(pool).community(),
                pool: pool_id(pool).pool(),
                seq,
                prevHash: B256::ZERO,
                entries: vec![abi::Entry {
                    wallet: "https://wallet.example/a".into(),
                    weight: U96::from(seq),
                    payee: Address::ZERO,
                }],
                decisionHash: B256::repeat_byte(7),
                policyVersion: 1,
                observedAt: 10,
                validFrom: 0,
                validUntil: u64::MAX,
            },
            signatures: Bytes::from(vec![seq as u8; 65]),
        }),
    }
}

fn deployment(block: u64) -> ContractEvent {
    ContractEvent {
        position: position(block, 0, 0),
        event: ReportEvent::Signers(SignersRotated {
            epoch: 1,
            digest: Digest::ZERO,
            signer_bitmap: U256::ZERO,
            report: abi::SignerReport {
                seq: 0,
                prevHash: B256::ZERO,
                signers: vec![Address::repeat_byte(1), Address::repeat_byte(2)],
                threshold: 2,
                observedAt: 0,
                validFrom: 0,
                validUntil: 0,
            },
            signatures: Bytes::new(),
        }),
    }
}

/// Writes blocks `from..=to` of `fork` with `events`, after the cursor at `expected`.
async fn write(
    store: &Store,
    expected: Option<u64>,
    from: u64,
    to: u64,
    fork: u8,
    events: &[ContractEvent],
) -> Result<(), StoreError> {
    let headers: Vec<BlockHeader> = (from..=to).map(|n| header(n, fork)).collect();
    store
        .record_chain_batch(
            &INDEXED,
            expected,
            &IndexBatch {
                events,
                headers: &headers,
                head: to,
                confirmed_through: to.checked_sub(2),
                forget_below: to.saturating_sub(4),
                at: Timestamp(1),
            },
        )
        .await
}

async fn a_batch_and_its_cursor_commit_together(db: TestDb) {
    let store = db.store.clone();
    assert_eq!(store.chain_cursor(&INDEXED).await.unwrap(), None);
    write(
        &store,
        None,
        1,
        3,
        0,
        &[deployment(1), pool_event(3, 0, 1, 1)],
    )
    .await
    .unwrap();
    assert_eq!(
        store.chain_cursor(&INDEXED).await.unwrap(),
        Some(IndexCursor {
            block: 3,
            hash: hash(3, 0),
            head: 3
        })
    );
    write(
        &store,
        Some(3),
        4,
        6,
        0,
        &[pool_event(5, 0, 1, 2), pool_event(6, 0, 2, 1)],
    )
    .await
    .unwrap();
    let events = store.chain_events(&INDEXED).await.unwrap();
    let expected = vec![
        deployment(1),
        pool_event(3, 0, 1, 1),
        pool_event(5, 0, 1, 2),
        pool_event(6, 0, 2, 1),
    ];
    assert_eq!(
        events.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        expected,
        "events round-trip exactly, in chain order"
    );
    let confirmations: Vec<Confirmation> = events.iter().map(|e| e.confirmation).collect();
    assert_eq!(
        confirmations,
        vec![
            Confirmation::Confirmed,
            Confirmation::Confirmed,
            Confirmation::Seen,
            Confirmation::Seen
        ]
    );
    let kept: Vec<u64> = store
        .chain_headers(&INDEXED)
        .await
        .unwrap()
        .iter()
        .map(|h| h.number)
        .collect();
    assert_eq!(
        kept,
        vec![2, 3, 4, 5, 6],
        "blocks beyond the window are forgotten"
    );
}

async fn a_batch_of_many_rows_round_trips(db: TestDb) {
    let store = db.store.clone();
    let events: Vec<ContractEvent> = (1..=150).map(|n| pool_event(n, 0, 1, n)).collect();
    write(&store, None, 1, 150, 0, &events).await.unwrap();
    let stored: Vec<ContractEvent> = store
        .chain_events(&INDEXED)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(stored, events);
    assert_eq!(store.chain_headers(&INDEXED).await.unwrap().len(), 5);
}

async fn a_stale_writer_writes_nothing(db: TestDb) {
    let store = db.store.clone();
    write(&store, None, 1, 3, 0, &[deployment(1)])
        .await
        .unwrap();
    let stale = write(&store, Some(2), 4, 5, 0, &[pool_event(4, 0, 1, 1)]).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let again = write(&store, None, 1, 3, 0, &[deployment(1)]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.chain_events(&INDEXED).await.unwrap().len(), 1);
    assert_eq!(
        store.chain_cursor(&INDEXED).await.unwrap().unwrap().block,
        3
    );
}

async fn a_rollback_removes_what_orphaned_blocks_wrote(db: TestDb) {
    let store = db.store.clone();
    write(
        &store,
        None,
        1,
        4,
        0,
        &[deployment(1), pool_event(3, 0, 1, 1)],
    )
    .await
    .unwrap();
    write(
        &store,
        Some(4),
        5,
        7,
        0,
        &[pool_event(5, 0, 1, 2), pool_event(7, 0, 1, 3)],
    )
    .await
    .unwrap();
    let fork = header(5, 0);
    let rolled = store
        .roll_back_chain(&INDEXED, 7, Some(&fork), Timestamp(2))
        .await
        .unwrap();
    assert_eq!(rolled.events, 1);
    let cursor = store.chain_cursor(&INDEXED).await.unwrap().unwrap();
    assert_eq!((cursor.block, cursor.hash), (5, hash(5, 0)));
    assert_eq!(
        store
            .chain_headers(&INDEXED)
            .await
            .unwrap()
            .last()
            .unwrap()
            .number,
        5
    );
    let stale = store
        .roll_back_chain(&INDEXED, 7, Some(&header(4, 0)), Timestamp(3))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");

    write(&store, Some(5), 6, 8, 1, &[pool_event(8, 1, 1, 3)])
        .await
        .unwrap();
    let seqs: Vec<(u64, u64)> = store
        .chain_pool_reports(&INDEXED, pool_id(1), false)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.event.position.block_number, e.event.event.seq()))
        .collect();
    assert_eq!(seqs, vec![(3, 1), (5, 2), (8, 3)]);

    store
        .roll_back_chain(&INDEXED, 8, None, Timestamp(4))
        .await
        .unwrap();
    assert_eq!(store.chain_cursor(&INDEXED).await.unwrap(), None);
    assert!(store.chain_events(&INDEXED).await.unwrap().is_empty());
    assert!(store.chain_headers(&INDEXED).await.unwrap().is_empty());
}

async fn pool_queries_see_only_their_pool_and_contract(db: TestDb) {
    let store = db.store.clone();
    let events = [
        deployment(1),
        pool_event(2, 0, 1, 1),
        pool_event(3, 0, 2, 1),
        pool_event(4, 0, 1, 2),
        pool_event(6, 0, 1, 3),
    ];
    write(&store, None, 1, 6, 0, &events).await.unwrap();
    let latest = store
        .chain_pool_head(&INDEXED, pool_id(1), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.event, pool_event(6, 0, 1, 3));
    assert_eq!(latest.confirmation, Confirmation::Seen);
    let confirmed = store
        .chain_pool_head(&INDEXED, pool_id(1), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.event, pool_event(4, 0, 1, 2));
    let digest = pool_event(3, 0, 2, 1).event.digest();
    assert_eq!(
        store
            .chain_event_by_digest(&INDEXED, digest)
            .await
            .unwrap()
            .map(|e| e.event),
        Some(pool_event(3, 0, 2, 1))
    );
    let other = IndexedContract {
        chain_id: 1,
        ..INDEXED
    };
    assert_eq!(store.chain_cursor(&other).await.unwrap(), None);
    assert!(store.chain_events(&other).await.unwrap().is_empty());
    assert_eq!(
        store
            .chain_pool_head(&other, pool_id(1), false)
            .await
            .unwrap(),
        None
    );
}

async fn an_indexed_event_cannot_be_rewritten(db: TestDb) {
    write(
        &db.store,
        None,
        1,
        5,
        0,
        &[deployment(1), pool_event(5, 0, 1, 1)],
    )
    .await
    .unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for (statement, refusal) in [
        ("UPDATE chain_events SET seq = 9", "does not change"),
        ("UPDATE chain_events SET report = '0x00'", "does not change"),
        (
            "UPDATE chain_events SET status = 'seen' WHERE status = 'confirmed'",
            "stays confirmed",
        ),
    ] {
        let message = conn
            .execute(statement)
            .await
            .expect_err(statement)
            .to_string();
        assert!(message.contains(refusal), "{statement}: {message}");
    }
    assert_eq!(
        db.store.chain_events(&INDEXED).await.unwrap()[1].event,
        pool_event(5, 0, 1, 1)
    );
}

async fn a_report_first_seen_missing_keeps_its_first_block(db: TestDb) {
    let report = Digest::new(B256::repeat_byte(0x77));
    let other = IndexedContract {
        chain_id: 31337,
        contract: Address::repeat_byte(0xc1),
    };
    assert_eq!(
        db.store.first_missing(&INDEXED, report).await.unwrap(),
        None
    );
    let at = Timestamp(1_700_000_000_000);
    assert_eq!(
        db.store
            .record_first_missing(&INDEXED, report, 10, at)
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        db.store
            .record_first_missing(&INDEXED, report, 25, at)
            .await
            .unwrap(),
        10,
        "a later sighting keeps the first block"
    );
    assert_eq!(
        db.store.first_missing(&INDEXED, report).await.unwrap(),
        Some(10)
    );
    assert_eq!(
        db.store.first_missing(&other, report).await.unwrap(),
        None,
        "another contract's index has its own patience"
    );
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "UPDATE reconciliation_missing SET first_block = 30",
        "DELETE FROM reconciliation_missing",
    ] {
        let message = conn
            .execute(statement)
            .await
            .expect_err(statement)
            .to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
}

on_both_databases!(
    a_batch_and_its_cursor_commit_together,
    a_batch_of_many_rows_round_trips,
    a_stale_writer_writes_nothing,
    a_rollback_removes_what_orphaned_blocks_wrote,
    pool_queries_see_only_their_pool_and_contract,
    an_indexed_event_cannot_be_rewritten,
    a_report_first_seen_missing_keeps_its_first_block,
);
