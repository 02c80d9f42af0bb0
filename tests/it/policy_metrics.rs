//! The policy scheduler's metrics, on SQLite and PostgreSQL, against the fake Discourse, read
//! from `/metrics` as an operator's Prometheus would: proposals opened, decisions by outcome,
//! decisions carried out, and passes that failed.

use crate::common;
use crate::policy;
use crate::support;

use common::TestDb;
use policy::{Forum, now};
use revshare_oracle::store::ProposalState;
use support::discourse::FakeUser;

/// The value of the sample `sample` (name and labels) in the served metrics; 0 when absent.
async fn metric(forum: &Forum, sample: &str) -> u64 {
    let reply = forum.app.get("/metrics").await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0, |value| {
            value
                .parse()
                .unwrap_or_else(|e| panic!("{sample}: {value}: {e}"))
        })
}

const OPENED: &str = "revshare_policy_proposals_opened_total";
const PASSED: &str = "revshare_policy_decisions_total{outcome=\"passed\"}";
const FAILED: &str = "revshare_policy_decisions_total{outcome=\"failed\"}";
const EXECUTED: &str = "revshare_policy_decisions_executed_total";
const PASSES_FAILED: &str = "revshare_policy_passes_failed_total";

/// The post id of proposal `index`'s poll, once its vote is attached.
async fn poll_of(forum: &Forum, index: usize) -> i64 {
    let vote = forum
        .settle("the vote is attached", async |f| {
            f.proposals().await.get(index)?.proposal.vote.clone()
        })
        .await;
    vote.external_id.split('/').next().unwrap().parse().unwrap()
}

async fn a_flow_moves_the_scheduler_metrics(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    for sample in [OPENED, PASSED, FAILED, EXECUTED, PASSES_FAILED] {
        assert_eq!(metric(&forum, sample).await, 0, "{sample} before any flow");
    }

    let (ann_post, _) = forum.ann_sets_her_wallet().await;
    assert_eq!(metric(&forum, OPENED).await, 1);
    forum.fake.add_user(8, "cat", &[]);
    forum
        .profile(&FakeUser::new(8, "cat", Some("$wallet.example/cat")))
        .await;
    let cat_post = poll_of(&forum, 1).await;
    assert_eq!(metric(&forum, OPENED).await, 2);
    assert_eq!(metric(&forum, EXECUTED).await, 0, "nothing decided yet");

    forum
        .fake
        .vote(ann_post, "revshare", "tess", "approve")
        .unwrap();
    forum
        .fake
        .vote(cat_post, "revshare", "tess", "disapprove")
        .unwrap();
    forum
        .settle("both proposals are decided and carried out", async |f| {
            let proposals = f.proposals().await;
            let decided = proposals.iter().all(|p| p.state != ProposalState::Open);
            (decided && metric(f, EXECUTED).await == 2).then_some(())
        })
        .await;
    let states: Vec<ProposalState> = forum.proposals().await.iter().map(|p| p.state).collect();
    assert_eq!(states, [ProposalState::Passed, ProposalState::Failed]);
    assert_eq!(metric(&forum, PASSED).await, 1);
    assert_eq!(metric(&forum, FAILED).await, 1);
    assert_eq!(metric(&forum, OPENED).await, 2, "deciding opens nothing");

    // Passes that find nothing new count nothing twice.
    for _ in 0..3 {
        forum.app.state.scheduler.run_pass(now()).await.unwrap();
    }
    assert_eq!(metric(&forum, PASSED).await, 1);
    assert_eq!(metric(&forum, EXECUTED).await, 2);
    assert_eq!(metric(&forum, PASSES_FAILED).await, 0);

    // The database goes away: the pass fails, and says so.
    forum.app.state.store.close().await;
    assert!(forum.app.state.scheduler.run_pass(now()).await.is_err());
    assert_eq!(metric(&forum, PASSES_FAILED).await, 1);
}

on_both_databases!(a_flow_moves_the_scheduler_metrics);
