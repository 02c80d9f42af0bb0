//! Re-issuing expired reports in the store, on SQLite and PostgreSQL alike: the expired report and
//! the rest of its chain are superseded by re-signed copies in one transaction, the old rows stay
//! final and unchanged, a (chain, seq) is unique among the rows that are not superseded, and a
//! report already applied is never superseded.

use crate::common;

use alloy::primitives::{Address, keccak256};
use common::TestDb;
use revshare_oracle::domain::{
    Cause, CommunitySlug, Entry, Pool, PoolName, Timestamp, WalletAddress, Weight,
};
use revshare_oracle::oracle::{Oracle, OracleError};
use revshare_oracle::report::{Domain, SignerSet, SigningKey, verify};
use revshare_oracle::store::{RelayStatus, Store, StoreError, StoredReport, StoredSigned};
use sqlx::{Connection, Executor};

/// The chain's time when the re-issue happens: long after the reports' windows closed.
const CHAIN_TIME: u64 = 1_900_000_000;
const VALIDITY_SECS: u64 = 3_600;

fn key(i: u64) -> SigningKey {
    SigningKey::from_bytes(&keccak256(format!("reissue test signer {i}")).0).unwrap()
}

fn domain() -> Domain {
    Domain::new(31_337, Address::repeat_byte(0x5f))
}

/// An oracle holding `keys`, for a contract deployed with `genesis` alone as its signer.
fn oracle(keys: &[u64], genesis: u64) -> Oracle {
    let set = SignerSet::new(vec![key(genesis).address()], 1).unwrap();
    Oracle::new(
        keys.iter().map(|&i| key(i)).collect(),
        domain(),
        set,
        VALIDITY_SECS,
    )
}

fn pool_of(wallet: &str, weight: u64) -> Pool {
    Pool::new(vec![Entry {
        wallet: WalletAddress::parse(wallet).unwrap(),
        weight: Weight::new(weight).unwrap(),
        label: None,
        member: None,
    }])
    .unwrap()
}

/// A community whose pools the tests change.
async fn community(store: &Store) -> i64 {
    store
        .create_community(&CommunitySlug::parse("forum").unwrap(), "F", Timestamp(1))
        .await
        .unwrap()
        .id
}

/// Signs and stores the next version of `pool` (one entry of `weight`), observed at second `at`.
async fn change(store: &Store, community: i64, oracle: &Oracle, pool: &str, weight: u64, at: i64) {
    store
        .append_reported_pool_version(
            community,
            &CommunitySlug::parse("forum").unwrap(),
            &PoolName::parse(pool).unwrap(),
            &pool_of(&format!("$wallet.example/{pool}-{weight}"), weight),
            &Cause::AdminBootstrap { note: None },
            Timestamp(at * 1000),
            oracle,
            None,
        )
        .await
        .unwrap();
}

/// Every report of the community, oldest first.
async fn all(store: &Store, community: i64) -> Vec<StoredReport> {
    let mut reports = store.community_reports(community, 100).await.unwrap();
    reports.reverse();
    reports
}

fn pool_report(
    report: &StoredReport,
) -> &revshare_oracle::report::SignedReport<revshare_oracle::report::PoolReport> {
    match &report.signed {
        StoredSigned::Pool(signed) => signed,
        StoredSigned::Signer(_) => panic!("report {} is a signer report", report.id),
    }
}

async fn an_expired_report_and_the_rest_of_its_chain_are_reissued_together(db: TestDb) {
    let store = db.store.clone();
    let oracle = oracle(&[1], 1);
    let c = community(&store).await;
    change(&store, c, &oracle, "default", 1, 1_000).await;
    change(&store, c, &oracle, "default", 2, 1_100).await;
    change(&store, c, &oracle, "default", 3, 1_200).await;
    change(&store, c, &oracle, "other", 4, 1_300).await;
    let before = all(&store, c).await;
    store
        .mark_report_applied(before[0].id, None, Some(7), Timestamp(2))
        .await
        .unwrap();
    let expired = store.next_open_report(&domain()).await.unwrap().unwrap();
    assert_eq!(expired.id, before[1].id);

    let reissued = store
        .reissue_expired(&expired, &oracle, CHAIN_TIME, Timestamp(3))
        .await
        .unwrap();
    assert_eq!(reissued.len(), 2, "seq 2 and the open seq 3 after it");
    assert_eq!((reissued[0].seq, reissued[1].seq), (2, 3));
    assert_eq!(reissued[0].superseded, before[1].signed.digest());
    assert_eq!(reissued[1].superseded, before[2].signed.digest());

    let after = all(&store, c).await;
    assert_eq!(after.len(), 6, "the old rows stay beside their successors");
    for (old, reissue) in [(&after[1], reissued[0]), (&after[2], reissued[1])] {
        assert_eq!(old.status, RelayStatus::Superseded);
        assert_eq!(old.superseded_by, Some(reissue.successor.get()));
        let by_digest = store
            .report_by_digest(reissue.superseded.get())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_digest.status, RelayStatus::Superseded);
    }
    assert_eq!(
        after[3].status,
        RelayStatus::Pending,
        "other pools are left alone"
    );
    assert_eq!(after[3].signed.digest(), before[3].signed.digest());

    let (second, third) = (pool_report(&after[4]), pool_report(&after[5]));
    assert_eq!(second.digest(), reissued[0].successor);
    assert_eq!(third.digest(), reissued[1].successor);
    assert_eq!(second.report().prev_hash(), before[0].signed.digest());
    assert_eq!(third.report().prev_hash(), second.digest());
    for (new, old) in [(second, &before[1]), (third, &before[2])] {
        let old = pool_report(old);
        assert_eq!(new.report().entries(), old.report().entries());
        assert_eq!(new.report().decision_hash(), old.report().decision_hash());
        assert_eq!(new.report().observed_at(), old.report().observed_at());
        assert_eq!(new.report().window().valid_from(), CHAIN_TIME);
        assert_eq!(
            new.report().window().valid_until(),
            CHAIN_TIME + VALIDITY_SECS
        );
        verify(new, oracle.genesis()).unwrap();
    }
    assert_eq!(after[4].pool_version, before[1].pool_version);
    assert_eq!(after[4].evidence, before[1].evidence);

    // The successor takes its predecessor's place in the outbox, ahead of the other pool.
    let next = store.next_open_report(&domain()).await.unwrap().unwrap();
    assert_eq!(next.signed.digest(), reissued[0].successor);
    let latest = store.latest_pool_reports(&domain()).await.unwrap();
    let mut digests: Vec<_> = latest.iter().map(|r| r.signed.digest()).collect();
    let mut expected = vec![reissued[1].successor, before[3].signed.digest()];
    digests.sort();
    expected.sort();
    assert_eq!(
        digests, expected,
        "each pool's live head, superseded reports left out"
    );
    let decision = pool_report(&before[1]).report().decision_hash();
    assert_eq!(
        store.evidence(decision).await.unwrap(),
        Some(before[1].evidence.clone())
    );

    // The next change follows the re-issued chain.
    change(&store, c, &oracle, "default", 5, 1_400).await;
    let newest = all(&store, c).await.pop().unwrap();
    assert_eq!(newest.signed.seq(), 4);
    assert_eq!(
        pool_report(&newest).report().prev_hash(),
        reissued[1].successor
    );
}

async fn a_reissue_that_cannot_sign_every_report_changes_nothing(db: TestDb) {
    let store = db.store.clone();
    // Genesis is key 1; a rotation hands over to key 2 between the two reports.
    let both = oracle(&[1, 2], 1);
    let c = community(&store).await;
    change(&store, c, &both, "default", 1, 1_000).await;
    let next = SignerSet::new(vec![key(2).address()], 1).unwrap();
    store
        .append_signer_rotation(next.clone(), Timestamp(1_050_000), &both)
        .await
        .unwrap();
    change(&store, c, &both, "default", 2, 1_100).await;
    let before = all(&store, c).await;
    let expired = store.next_open_report(&domain()).await.unwrap().unwrap();
    assert_eq!(expired.id, before[0].id);

    // A node holding only the first set's key signs seq 1 again but cannot sign seq 2.
    let first_only = oracle(&[1], 1);
    let failed = store
        .reissue_expired(&expired, &first_only, CHAIN_TIME, Timestamp(3))
        .await;
    assert!(
        matches!(&failed, Err(StoreError::Oracle(e)) if matches!(**e, OracleError::TooFewKeys { .. })),
        "{failed:?}"
    );
    let unchanged = all(&store, c).await;
    assert_eq!(unchanged.len(), 2, "no successor was kept");
    assert!(unchanged.iter().all(|r| r.status == RelayStatus::Pending));

    // With both keys, each successor is signed by the set in force at its place in the outbox.
    let reissued = store
        .reissue_expired(&expired, &both, CHAIN_TIME, Timestamp(3))
        .await
        .unwrap();
    assert_eq!(reissued.len(), 2);
    let after = all(&store, c).await;
    let (first, second) = (&after[2], &after[3]);
    let first_set = store.signer_set_before(first.id, &both).await.unwrap();
    let second_set = store.signer_set_before(second.id, &both).await.unwrap();
    assert_eq!(&first_set, both.genesis());
    assert_eq!(second_set, next);
    verify(pool_report(first), &first_set).unwrap();
    verify(pool_report(second), &second_set).unwrap();
    assert!(verify(pool_report(second), &first_set).is_err());
}

async fn an_applied_report_is_never_superseded(db: TestDb) {
    let store = db.store.clone();
    let oracle = oracle(&[1], 1);
    let c = community(&store).await;
    change(&store, c, &oracle, "default", 1, 1_000).await;
    let stale = store.next_open_report(&domain()).await.unwrap().unwrap();
    store
        .mark_report_applied(stale.id, None, Some(3), Timestamp(2))
        .await
        .unwrap();

    let refused = store
        .reissue_expired(&stale, &oracle, CHAIN_TIME, Timestamp(3))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let reports = all(&store, c).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, RelayStatus::Applied);

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let forced = conn
        .execute(
            format!(
                "UPDATE oracle_reports SET status = 'superseded', superseded_by = '0x01' WHERE id = {}",
                stale.id
            )
            .as_str(),
        )
        .await;
    let message = forced.expect_err("an applied report is final").to_string();
    assert!(message.contains("final"), "{message}");
}

async fn superseded_reports_are_final_and_seq_is_unique_among_live_reports(db: TestDb) {
    let store = db.store.clone();
    let oracle = oracle(&[1], 1);
    let c = community(&store).await;
    change(&store, c, &oracle, "default", 1, 1_000).await;
    let expired = store.next_open_report(&domain()).await.unwrap().unwrap();
    store
        .reissue_expired(&expired, &oracle, CHAIN_TIME, Timestamp(3))
        .await
        .unwrap();
    let live = store.next_open_report(&domain()).await.unwrap().unwrap();

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let old = expired.id;
    for (statement, refusal) in [
        (
            format!("UPDATE oracle_reports SET status = 'pending' WHERE id = {old}"),
            "final",
        ),
        (
            format!("UPDATE oracle_reports SET superseded_by = '0x02' WHERE id = {old}"),
            "final",
        ),
        (
            format!("DELETE FROM oracle_reports WHERE id = {old}"),
            "append-only",
        ),
        (
            format!(
                "UPDATE oracle_reports SET outbox_position = 99 WHERE id = {}",
                live.id
            ),
            "does not change",
        ),
        (
            format!(
                "UPDATE oracle_reports SET status = 'superseded' WHERE id = {}",
                live.id
            ),
            "check constraint",
        ),
    ] {
        let outcome = conn.execute(statement.as_str()).await;
        let message = outcome.expect_err(&statement).to_string().to_lowercase();
        assert!(message.contains(refusal), "{statement}: {message}");
    }

    // Another live report at the same (chain, seq) is refused; a superseded one is not.
    let copy = |digest: &str, status: &str, successor: &str, id: i64| {
        format!(
            "INSERT INTO oracle_reports (kind, community_id, pool, pool_version, chain_id, contract, \
               community_hash, pool_hash, seq, prev_hash, digest, report, signatures, decision_hash, \
               evidence, created_at_ms, updated_at_ms, status, superseded_by) \
             SELECT kind, community_id, pool, pool_version, chain_id, contract, community_hash, \
               pool_hash, seq, prev_hash, '{digest}', report, signatures, decision_hash, evidence, \
               created_at_ms, updated_at_ms, '{status}', {successor} FROM oracle_reports WHERE id = {id}"
        )
    };
    let twin = copy("0xaa", "pending", "NULL", live.id);
    let message = conn
        .execute(twin.as_str())
        .await
        .expect_err("two live reports at one seq")
        .to_string()
        .to_lowercase();
    assert!(message.contains("unique"), "{message}");
    let older = copy("0xbb", "superseded", "'0xaa'", old);
    conn.execute(older.as_str())
        .await
        .expect("superseded reports may share a seq");
}

on_both_databases!(
    an_expired_report_and_the_rest_of_its_chain_are_reissued_together,
    a_reissue_that_cannot_sign_every_report_changes_nothing,
    an_applied_report_is_never_superseded,
    superseded_reports_are_final_and_seq_is_unique_among_live_reports,
);
