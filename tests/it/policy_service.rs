//! The policy scheduler as a running service, on SQLite and PostgreSQL, against the fake
//! Discourse: woken by the facts rather than its tick; with the oracle on, the decided pool
//! version's signed report commits to the decision's evidence; and a restart between two of its
//! steps neither loses nor doubles a proposal, a vote, a pool change or a message.

use crate::common;
use crate::policy;
use crate::support;

use std::time::Duration;

use common::TestDb;
use policy::{ANN_WALLET, Forum, now, wallets};
use revshare_oracle::config::KeySource;
use revshare_oracle::domain::Cause;
use revshare_oracle::keys::write_key_file;
use revshare_oracle::report::SigningKey;
use revshare_oracle::store::ProposalState;
use support::discourse::FakeUser;

async fn the_running_service_decides_on_its_own(db: TestDb) {
    // The scheduler's tick is long: wake-ups after the wallet change, the vote's start and its
    // readings drive it.
    let forum = Forum::start_with(db, |config| {
        config.policy.worker = true;
        config.policy.tick_interval_ms = 600_000;
    })
    .await;
    forum.voter(20, "tess", 3).await;
    forum.fake.add_user(7, "ann", &[]);
    forum
        .profile(&FakeUser::new(7, "ann", Some(ANN_WALLET)))
        .await;
    let mut post = None;
    for _ in 0..1_500 {
        let told = forum.messages_to("Your wallet is being voted on").await;
        if let Some(vote) = forum
            .proposals()
            .await
            .first()
            .and_then(|p| p.proposal.vote.clone())
            && told.is_some()
        {
            post = vote
                .external_id
                .split('/')
                .next()
                .unwrap()
                .parse::<i64>()
                .ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let post = post.expect("the running service started the poll and told ann");
    forum
        .fake
        .vote(post, "revshare", "tess", "approve")
        .unwrap();
    for _ in 0..1_500 {
        if forum
            .messages_to("Your wallet joined the revenue share")
            .await
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(wallets(&forum.default_pool().await).contains(&(ANN_WALLET.to_string(), 1)));
    assert_eq!(forum.proposals().await[0].state, ProposalState::Passed);
}

async fn with_the_oracle_on_the_report_commits_to_the_decision(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[0x11; 32]).unwrap();
    let path = dir.path().join("oracle.key");
    write_key_file(&path, &key).unwrap();
    let forum = Forum::start_with(db, |config| {
        config.oracle.enabled = true;
        config.oracle.keys = vec![KeySource {
            path,
            password_file: None,
            generate: false,
        }];
        config.oracle.signers = vec![key.address()];
        config.oracle.threshold = 1;
        config.oracle.chain_id = 31_337;
        config.oracle.contract = alloy::primitives::Address::repeat_byte(0x42);
        config.chain.relayer = false;
    })
    .await;
    forum.voter(20, "tess", 3).await;
    let (post, _) = forum.ann_sets_her_wallet().await;
    forum
        .fake
        .vote(post, "revshare", "tess", "approve")
        .unwrap();
    forum
        .settle("ann is told the vote passed", async |f| {
            f.messages_to("Your wallet joined the revenue share").await
        })
        .await;
    let pool = forum.default_pool().await;
    let Cause::Decision { decision } = &pool.cause else {
        panic!("the pool version's cause is {:?}", pool.cause);
    };
    let stored = forum
        .app
        .state
        .store
        .decision(&decision.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let reports = forum
        .app
        .state
        .store
        .community_reports(forum.id, 10)
        .await
        .unwrap();
    let report = reports
        .iter()
        .find(|r| r.pool_version == Some(pool.version))
        .expect("the decided pool version is reported");
    assert_eq!(
        report.evidence, stored.evidence,
        "the report commits to the decision's bytes"
    );
    assert_eq!(alloy::primitives::keccak256(&report.evidence), stored.hash);
    let served = forum
        .app
        .get(&format!("/v1/evidence/{}", stored.hash))
        .await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body.as_ref(), stored.evidence.as_slice());
}

async fn a_restart_between_steps_neither_loses_nor_doubles_anything(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    forum.fake.add_user(7, "ann", &[]);
    forum
        .profile(&FakeUser::new(7, "ann", Some(ANN_WALLET)))
        .await;
    // The proposal opens and its vote's intent is stored; then the service stops.
    forum.app.state.scheduler.run_pass(now()).await.unwrap();
    assert_eq!(forum.proposals().await.len(), 1);
    let forum = forum.restart().await;
    forum
        .settle("ann is told of the vote", async |f| {
            f.messages_to("Your wallet is being voted on").await
        })
        .await;
    let vote = forum.proposals().await[0].proposal.vote.clone().unwrap();
    let post: i64 = vote.external_id.split('/').next().unwrap().parse().unwrap();
    forum
        .fake
        .vote(post, "revshare", "tess", "approve")
        .unwrap();
    forum
        .settle("ann is told the vote passed", async |f| {
            f.messages_to("Your wallet joined the revenue share").await
        })
        .await;
    let pool = forum.default_pool().await;
    let messages = forum.fake.private_messages().len();

    // Restarted after the decision: passes repeat nothing.
    let forum = forum.restart().await;
    for _ in 0..3 {
        forum.app.state.votes.run_pass().await.unwrap();
        forum.app.state.scheduler.run_pass(now()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(forum.proposals().await.len(), 1, "one proposal");
    assert!(
        forum
            .app
            .state
            .store
            .vote(forum.id, 2)
            .await
            .unwrap()
            .is_none(),
        "one vote"
    );
    assert_eq!(
        forum.default_pool().await.version,
        pool.version,
        "one pool change"
    );
    assert_eq!(
        forum.fake.private_messages().len(),
        messages,
        "no message twice"
    );
    assert_eq!(messages, 2, "told of the vote, then of the outcome");
}

on_both_databases!(
    the_running_service_decides_on_its_own,
    with_the_oracle_on_the_report_commits_to_the_decision,
    a_restart_between_steps_neither_loses_nor_doubles_anything,
);
