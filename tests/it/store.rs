//! The store suite, run on SQLite and PostgreSQL alike.

use crate::common;

use common::TestDb;
use revshare_oracle::domain::{
    Cause, CommunitySlug, Entry, Label, MemberId, Pool, PoolName, SplitRules, Tag, TagRoute,
    Timestamp, TopicFacts, TopicId, WalletAddress, Weight,
};
use revshare_oracle::store::StoreError;
use sqlx::{Connection, Executor};

fn slug(s: &str) -> CommunitySlug {
    CommunitySlug::parse(s).unwrap()
}
fn pool_name(s: &str) -> PoolName {
    PoolName::parse(s).unwrap()
}
fn entry(wallet: &str, weight: u64) -> Entry {
    Entry {
        wallet: WalletAddress::parse(wallet).unwrap(),
        weight: Weight::new(weight).unwrap(),
        label: None,
        member: None,
    }
}
fn bootstrap() -> Cause {
    Cause::AdminBootstrap {
        note: Some("first pools".into()),
    }
}

async fn a_community_slug_is_taken_once(db: TestDb) {
    let store = db.store.clone();
    let created = store
        .create_community(&slug("forum"), "The Forum", Timestamp(1))
        .await
        .unwrap();
    assert_eq!(created.community.name, "The Forum");
    let again = store
        .create_community(&slug("forum"), "Other", Timestamp(2))
        .await;
    assert!(
        matches!(again, Err(StoreError::CommunityExists(_))),
        "{again:?}"
    );
    assert_eq!(store.community(&slug("forum")).await.unwrap(), created);
    assert!(matches!(
        store.community(&slug("nobody")).await,
        Err(StoreError::UnknownCommunity(_))
    ));
}

async fn pool_versions_count_up_and_keep_every_state(db: TestDb) {
    let store = db.store.clone();
    let c = store
        .create_community(&slug("forum"), "F", Timestamp(1))
        .await
        .unwrap();
    let name = pool_name("default");
    let mut labelled = entry("$a.example/alice", 3);
    labelled.label = Some(Label::parse("Alice").unwrap());
    labelled.member = Some(MemberId::parse("alice").unwrap());
    let first = Pool::new(vec![labelled, entry("$b.example", 1)]).unwrap();
    let second = Pool::new(vec![entry("$c.example", 5)]).unwrap();

    let v1 = store
        .append_pool_version(c.id, &name, &first, &bootstrap(), Timestamp(10))
        .await
        .unwrap();
    let v2 = store
        .append_pool_version(c.id, &name, &second, &bootstrap(), Timestamp(20))
        .await
        .unwrap();
    let v3 = store
        .append_pool_version(c.id, &name, &Pool::default(), &bootstrap(), Timestamp(30))
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version, v3.version), (1, 2, 3));

    let current = store.current_pool(c.id, &name).await.unwrap().unwrap();
    assert_eq!(current, v3);
    let oldest_first = store
        .pool_history(c.id, &name, None, 100, false)
        .await
        .unwrap();
    assert_eq!(oldest_first, vec![v1.clone(), v2.clone(), v3.clone()]);
    assert_eq!(
        oldest_first[0].pool.entries()[0]
            .label
            .as_ref()
            .unwrap()
            .as_str(),
        "Alice"
    );
    let page = store
        .pool_history(c.id, &name, Some(1), 1, false)
        .await
        .unwrap();
    assert_eq!(page, vec![v2.clone()]);
    let newest_first = store
        .pool_history(c.id, &name, Some(3), 10, true)
        .await
        .unwrap();
    assert_eq!(newest_first, vec![v2, v1]);
    assert!(
        store
            .current_pool(c.id, &pool_name("dev"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn history_rows_cannot_be_changed_or_deleted(db: TestDb) {
    let store = db.store.clone();
    let c = store
        .create_community(&slug("forum"), "F", Timestamp(1))
        .await
        .unwrap();
    let pool = Pool::new(vec![entry("$a.example", 1)]).unwrap();
    store
        .append_pool_version(
            c.id,
            &pool_name("default"),
            &pool,
            &bootstrap(),
            Timestamp(2),
        )
        .await
        .unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "UPDATE pool_versions SET recorded_at_ms = 0",
        "DELETE FROM pool_versions",
        "UPDATE pool_entries SET weight = 99",
        "DELETE FROM pool_entries",
    ] {
        let outcome = conn.execute(statement).await;
        let message = outcome.expect_err(statement).to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
    let still = store
        .current_pool(c.id, &pool_name("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.pool, pool);
}

async fn a_large_pool_round_trips_in_order(db: TestDb) {
    let store = db.store.clone();
    let c = store
        .create_community(&slug("big"), "Big", Timestamp(1))
        .await
        .unwrap();
    let entries: Vec<Entry> = (0..1_234)
        .map(|i| entry(&format!("$w{i}.example"), i + 1))
        .collect();
    let pool = Pool::new(entries).unwrap();
    store
        .append_pool_version(
            c.id,
            &pool_name("default"),
            &pool,
            &bootstrap(),
            Timestamp(2),
        )
        .await
        .unwrap();
    let read = store
        .current_pool(c.id, &pool_name("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.pool, pool);
}

async fn concurrent_writers_never_share_a_version(db: TestDb) {
    let store = db.store.clone();
    let c = store
        .create_community(&slug("busy"), "Busy", Timestamp(1))
        .await
        .unwrap();
    let name = pool_name("default");
    let writers: Vec<_> = (0..8u64)
        .map(|i| {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move {
                let pool = Pool::new(vec![entry(&format!("$w{i}.example"), 1)]).unwrap();
                store
                    .append_pool_version(c.id, &name, &pool, &bootstrap(), Timestamp(2))
                    .await
            })
        })
        .collect();
    let mut written = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            Ok(version) => written.push(version.version),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a concurrent write may conflict, but failed with {other}"),
        }
    }
    written.sort();
    assert!(!written.is_empty());
    assert_eq!(written, (1..=written.len() as u64).collect::<Vec<_>>());
    let history = store
        .pool_history(c.id, &name, None, 100, false)
        .await
        .unwrap();
    assert_eq!(history.len(), written.len());
}

async fn split_rules_must_name_existing_pools(db: TestDb) {
    let store = db.store.clone();
    let c = store
        .create_community(&slug("forum"), "F", Timestamp(1))
        .await
        .unwrap();
    let pool = Pool::new(vec![entry("$a.example", 1)]).unwrap();
    store
        .append_pool_version(
            c.id,
            &pool_name("default"),
            &pool,
            &bootstrap(),
            Timestamp(2),
        )
        .await
        .unwrap();
    let rules = SplitRules {
        author_bps: 5000,
        tag_routes: vec![TagRoute {
            tag: Tag::parse("dev").unwrap(),
            pool: pool_name("dev"),
        }],
        ..SplitRules::default()
    };
    let refused = store
        .append_split_version(c.id, &rules, &bootstrap(), Timestamp(3))
        .await;
    assert!(
        matches!(refused, Err(StoreError::UnknownPool(ref p)) if p.as_str() == "dev"),
        "{refused:?}"
    );
    assert!(store.split_history(c.id).await.unwrap().is_empty());

    store
        .append_pool_version(c.id, &pool_name("dev"), &pool, &bootstrap(), Timestamp(4))
        .await
        .unwrap();
    let v1 = store
        .append_split_version(c.id, &rules, &bootstrap(), Timestamp(5))
        .await
        .unwrap();
    let v2 = store
        .append_split_version(c.id, &SplitRules::default(), &bootstrap(), Timestamp(6))
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(store.split_history(c.id).await.unwrap(), vec![v1, v2]);
}

async fn community_config_holds_only_the_current_state(db: TestDb) {
    let store = db.store.clone();
    let c = store
        .create_community(&slug("forum"), "F", Timestamp(1))
        .await
        .unwrap();
    let other = store
        .create_community(&slug("other"), "O", Timestamp(1))
        .await
        .unwrap();
    let name = pool_name("default");
    store
        .append_pool_version(
            c.id,
            &name,
            &Pool::new(vec![entry("$old.example", 1)]).unwrap(),
            &bootstrap(),
            Timestamp(2),
        )
        .await
        .unwrap();
    let current = Pool::new(vec![entry("$new.example", 2)]).unwrap();
    store
        .append_pool_version(c.id, &name, &current, &bootstrap(), Timestamp(3))
        .await
        .unwrap();
    store
        .append_pool_version(
            other.id,
            &name,
            &Pool::new(vec![entry("$x.example", 1)]).unwrap(),
            &bootstrap(),
            Timestamp(3),
        )
        .await
        .unwrap();
    let ann = MemberId::parse("ann").unwrap();
    let bob = MemberId::parse("bob").unwrap();
    let wallet = WalletAddress::parse("$ann.example").unwrap();
    store
        .set_member_wallet(c.id, &ann, Some(&wallet), Timestamp(4))
        .await
        .unwrap();
    store
        .set_member_wallet(c.id, &bob, Some(&wallet), Timestamp(4))
        .await
        .unwrap();
    store
        .set_member_wallet(c.id, &bob, None, Timestamp(5))
        .await
        .unwrap();
    let facts = TopicFacts {
        author: ann.clone(),
        participants: vec![bob.clone()],
        tags: vec![Tag::parse("dev").unwrap()],
    };
    let topic = TopicId::parse("42").unwrap();
    store
        .put_topic(c.id, &topic, &facts, Timestamp(6))
        .await
        .unwrap();
    let newer = TopicFacts {
        participants: vec![],
        ..facts
    };
    store
        .put_topic(c.id, &topic, &newer, Timestamp(7))
        .await
        .unwrap();

    let config = store.community_config(c.id).await.unwrap();
    assert_eq!(config.pools.len(), 1);
    assert_eq!(config.pools[0].1.version, 2);
    assert_eq!(config.pools[0].1.pool, current);
    assert_eq!(config.member_wallets, vec![(ann, wallet)]);
    assert_eq!(config.topics, vec![(topic, newer)]);
    assert!(config.splits.is_none());

    let all = store.all_community_configs().await.unwrap();
    let slugs: Vec<&str> = all
        .iter()
        .map(|(row, _)| row.community.slug.as_str())
        .collect();
    assert_eq!(slugs, ["forum", "other"]);
    assert_eq!(
        all[1].1.pools[0].1.pool.entries()[0].wallet.as_str(),
        "https://x.example/.well-known/pay"
    );
}

async fn reopening_keeps_data_and_migrations_are_idempotent(db: TestDb) {
    let c = db
        .store
        .create_community(&slug("forum"), "F", Timestamp(1))
        .await
        .unwrap();
    db.store.close().await;
    let reopened = revshare_oracle::store::Store::connect(&db.url)
        .await
        .unwrap();
    assert_eq!(reopened.community(&slug("forum")).await.unwrap(), c);
}

on_both_databases!(
    a_community_slug_is_taken_once,
    pool_versions_count_up_and_keep_every_state,
    history_rows_cannot_be_changed_or_deleted,
    a_large_pool_round_trips_in_order,
    concurrent_writers_never_share_a_version,
    split_rules_must_name_existing_pools,
    community_config_holds_only_the_current_state,
    reopening_keeps_data_and_migrations_are_idempotent,
);
