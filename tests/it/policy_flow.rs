//! The grant report's wallet flow end to end, on SQLite and PostgreSQL, against the fake
//! Discourse over loopback, driven as members would: a member sets the wallet field on their
//! profile (a signed `user_updated` webhook); the scheduler opens a proposal under the default
//! policy, the voting worker starts a Discourse poll, and the member is told with its link; votes
//! arrive on the fake; the policy closes and decides; the pool changes (or not) with the decision
//! as its cause; the member is told. Removing the wallet takes it out with no vote. The 24-hour
//! close runs on a controlled clock.

use crate::common;
use crate::policy;
use crate::support;

use std::time::Duration;

use common::TestDb;
use policy::{ANN_WALLET, Forum, now, wallets};
use revshare_oracle::domain::{Cause, Timestamp};
use revshare_oracle::policy::Outcome;
use revshare_oracle::store::ProposalState;
use support::discourse::FakeUser;

async fn a_tl3_approval_passes_and_the_wallet_joins_with_equal_weight(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    let (post, _) = forum.ann_sets_her_wallet().await;
    let before = forum.default_pool().await;
    assert_eq!(wallets(&before), [("$pool.example/bob".to_string(), 1)]);

    forum
        .fake
        .vote(post, "revshare", "tess", "approve")
        .unwrap();
    let told = forum
        .settle("ann is told the vote passed", async |f| {
            f.messages_to("Your wallet joined the revenue share").await
        })
        .await;
    assert!(told.raw.contains("tl3-approval"), "{}", told.raw);

    let pool = forum.default_pool().await;
    assert_eq!(
        wallets(&pool),
        [
            ("$pool.example/bob".to_string(), 1),
            ("$wallet.example/ann".to_string(), 1)
        ],
        "equal weight, as the policy says"
    );
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
        .expect("the cause names a stored decision");
    assert_eq!(stored.outcome, Outcome::Passed);
    assert_eq!(stored.policy_version, 1);
    assert!(
        stored.reason.contains("closed by `tl3-approval`"),
        "{}",
        stored.reason
    );
    let evidence: serde_json::Value = serde_json::from_slice(&stored.evidence).unwrap();
    assert_eq!(evidence["facts"]["voters"][0]["trust_level"], 3);
    let (read, _) = revshare_oracle::policy::Evidence::verify(&stored.evidence).unwrap();
    assert_eq!(
        revshare_oracle::audit::check_ballots(&read),
        Ok(true),
        "the auditor finds the decided ballots in the kept Discourse documents"
    );
    assert_eq!(
        forum.fake.poll_status(post, "revshare").as_deref(),
        Some("closed"),
        "the policy closed the poll"
    );
    let proposals = forum.proposals().await;
    assert_eq!(proposals[0].state, ProposalState::Passed);

    // The public page shows the change with its decision: the reason, the evidence and the vote.
    let page = forum.app.get("/c/forum").await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    let vote_url = proposals[0]
        .proposal
        .vote
        .as_ref()
        .unwrap()
        .url
        .clone()
        .unwrap();
    assert!(
        html.contains(&format!(
            "<a href=\"{vote_url}\" rel=\"noopener noreferrer\" data-vote-link>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/v1/evidence/{decision}\"")),
        "{html}"
    );
    assert!(html.contains("closed by `tl3-approval`"), "{html}");

    // Another pass, and another, change nothing and send nothing again.
    let messages = forum.fake.private_messages().len();
    forum.app.state.scheduler.run_pass(now()).await.unwrap();
    forum.app.state.scheduler.run_pass(now()).await.unwrap();
    assert_eq!(forum.default_pool().await.version, pool.version);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(forum.fake.private_messages().len(), messages);

    // Ann clears the field: her entry leaves at once, with no vote.
    let polls_before = forum.proposals().await.len();
    forum.profile(&FakeUser::new(7, "ann", None)).await;
    let pool = forum
        .settle("ann's entry is removed", async |f| {
            let pool = f.default_pool().await;
            (pool.pool.entries().len() == 1).then_some(pool)
        })
        .await;
    assert_eq!(wallets(&pool), [("$pool.example/bob".to_string(), 1)]);
    assert!(matches!(pool.cause, Cause::Decision { .. }));
    let proposals = forum.proposals().await;
    assert_eq!(proposals.len(), polls_before + 1);
    let removal = proposals.last().unwrap();
    assert_eq!(removal.state, ProposalState::Passed);
    assert!(removal.proposal.vote.is_none(), "no vote was held");
    assert_eq!(removal.proposal.rule.as_str(), "wallet-removed");
}

async fn five_votes_close_it_and_the_majority_decides(db: TestDb) {
    let forum = Forum::start(db).await;
    for (i, name) in ["v1", "v2", "v3", "v4", "v5"].iter().enumerate() {
        forum.voter(30 + i as i64, name, 1).await;
    }
    let (post, _) = forum.ann_sets_her_wallet().await;
    for (name, choice) in [
        ("v1", "approve"),
        ("v2", "approve"),
        ("v3", "disapprove"),
        ("v4", "approve"),
    ] {
        forum.fake.vote(post, "revshare", name, choice).unwrap();
    }
    // Four votes: no close condition holds, however often the scheduler looks.
    for _ in 0..3 {
        forum.app.state.votes.run_pass().await.unwrap();
        forum.app.state.scheduler.run_pass(now()).await.unwrap();
    }
    assert_eq!(forum.proposals().await[0].state, ProposalState::Open);
    forum
        .fake
        .vote(post, "revshare", "v5", "disapprove")
        .unwrap();
    let told = forum
        .settle("ann is told the vote passed", async |f| {
            f.messages_to("Your wallet joined the revenue share").await
        })
        .await;
    assert!(told.raw.contains("five-votes"), "{}", told.raw);
    assert!(told.raw.contains("majority-approved"), "{}", told.raw);
    assert!(wallets(&forum.default_pool().await).contains(&(ANN_WALLET.to_string(), 1)));
}

async fn a_tl3_disapproval_fails_and_the_pool_stays(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    forum.voter(21, "uma", 1).await;
    let (post, _) = forum.ann_sets_her_wallet().await;
    let before = forum.default_pool().await;
    forum.fake.vote(post, "revshare", "uma", "approve").unwrap();
    forum
        .fake
        .vote(post, "revshare", "tess", "disapprove")
        .unwrap();
    let told = forum
        .settle("ann is told the vote failed", async |f| {
            f.messages_to("Your wallet was not added").await
        })
        .await;
    assert!(told.raw.contains("tl3-disapproved"), "{}", told.raw);
    let after = forum.default_pool().await;
    assert_eq!(after.version, before.version, "the pool stays as it was");
    assert_eq!(forum.proposals().await[0].state, ProposalState::Failed);
    assert!(
        forum
            .messages_to("Your wallet joined the revenue share")
            .await
            .is_none()
    );
}

async fn a_day_without_votes_closes_it_on_the_clock(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.ann_sets_her_wallet().await;
    let opened = forum.proposals().await[0].proposal.opened_at;
    let day = 24 * 60 * 60 * 1000;
    forum
        .app
        .state
        .scheduler
        .run_pass(Timestamp(opened.millis() + day - 1))
        .await
        .unwrap();
    assert_eq!(
        forum.proposals().await[0].state,
        ProposalState::Open,
        "not yet"
    );
    forum
        .app
        .state
        .scheduler
        .run_pass(Timestamp(opened.millis() + day))
        .await
        .unwrap();
    let proposal = &forum.proposals().await[0];
    assert_eq!(
        proposal.state,
        ProposalState::Failed,
        "no approvals: `otherwise` fails it"
    );
    let evaluations = forum
        .app
        .state
        .store
        .proposal_evaluations(proposal.id)
        .await
        .unwrap();
    let last = evaluations.last().unwrap();
    assert!(
        last.reason.contains("closed by `day-passed`"),
        "{}",
        last.reason
    );
    assert_eq!(last.evaluated_at.millis(), opened.millis() + day);
    forum
        .settle("ann is told the vote failed", async |f| {
            f.messages_to("Your wallet was not added").await
        })
        .await;
    assert!(!wallets(&forum.default_pool().await).contains(&(ANN_WALLET.to_string(), 1)));
}

async fn a_new_community_is_governed_by_the_default_policies(db: TestDb) {
    let forum = Forum::start(db).await;
    let policies = forum.app.state.store.policies(forum.id).await.unwrap();
    let names: Vec<String> = policies
        .versions()
        .iter()
        .map(|v| v.policy.name().to_string())
        .collect();
    assert_eq!(names, ["revshare", "constitution"]);
}

async fn a_policy_change_is_put_to_the_constitution_vote_and_adopted(db: TestDb) {
    use revshare_oracle::policy::GRANT_REPORT_POLICY;
    let forum = Forum::start(db).await;
    for (i, name) in ["ada", "ben", "cy"].iter().enumerate() {
        forum.voter(40 + i as i64, name, 4).await;
    }
    let versions = |f: &Forum| {
        let store = f.app.state.store.clone();
        let id = f.id;
        async move { store.policies(id).await.unwrap().versions().len() }
    };
    assert_eq!(versions(&forum).await, 2);

    let refused = forum
        .app
        .admin(
            "POST",
            "/v1/admin/communities/forum/policies",
            serde_json::json!({"source": "name = \"revshare\"\n[vote]\nbackend = \"nowhere\"\n"}),
        )
        .await;
    refused.assert_problem(422, "invalid-field");
    assert!(
        forum.proposals().await.is_empty(),
        "a refused text opens nothing"
    );

    let source = GRANT_REPORT_POLICY.replace(r#"when = "total >= 5""#, r#"when = "total >= 3""#);
    assert_ne!(source, GRANT_REPORT_POLICY);
    let proposed = forum
        .app
        .admin(
            "POST",
            "/v1/admin/communities/forum/policies",
            serde_json::json!({ "source": source }),
        )
        .await;
    assert_eq!(
        proposed.status,
        202,
        "{}",
        String::from_utf8_lossy(&proposed.body)
    );
    let id = proposed.json()["proposal"].as_i64().unwrap();
    let post = forum
        .settle("the constitution's vote starts", async |f| {
            let proposals = f.proposals().await;
            let vote = proposals
                .iter()
                .find(|p| p.id == id)?
                .proposal
                .vote
                .clone()?;
            vote.external_id.split('/').next()?.parse::<i64>().ok()
        })
        .await;
    let raw = forum.fake.post_raw(post).unwrap();
    assert!(
        raw.contains("Adopt a new version of the revshare policy?"),
        "{raw}"
    );

    for name in ["ada", "ben", "cy"] {
        forum.fake.vote(post, "revshare", name, "approve").unwrap();
    }
    forum
        .settle("the new version is adopted", async |f| {
            (versions(f).await == 3).then_some(())
        })
        .await;
    let proposals = forum.proposals().await;
    let change = proposals.iter().find(|p| p.id == id).unwrap();
    assert_eq!(change.state, ProposalState::Passed);
    let policies = forum.app.state.store.policies(forum.id).await.unwrap();
    assert_eq!(policies.versions().last().unwrap().version, 3);
}

/// Ann's share is on `wallet` once the scheduler has settled it.
async fn ann_holds(forum: &Forum, wallet: &str) {
    let expected = [
        ("$pool.example/bob".to_string(), 1),
        (wallet.to_string(), 1),
    ];
    forum
        .settle(&format!("the pool holds ann's {wallet}"), async |f| {
            (wallets(&f.default_pool().await) == expected).then_some(())
        })
        .await;
}

/// Ann's `n`-th proposal's poll, once it runs.
async fn poll_of(forum: &Forum, n: usize) -> i64 {
    forum
        .settle("the change's vote starts", async |f| {
            let vote = f.proposals().await.get(n)?.proposal.vote.clone()?;
            vote.external_id.split('/').next()?.parse().ok()
        })
        .await
}

async fn a_decided_state(forum: &Forum, n: usize) -> ProposalState {
    forum
        .settle("the change is decided", async |f| {
            let state = f.proposals().await.get(n)?.state;
            (state != ProposalState::Open).then_some(state)
        })
        .await
}

async fn a_member_whose_change_was_refused_still_holds_one_entry(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    let (post, _) = forum.ann_sets_her_wallet().await;
    forum
        .fake
        .vote(post, "revshare", "tess", "approve")
        .unwrap();
    ann_holds(&forum, ANN_WALLET).await;

    // The community refuses her change to b, so her entry keeps the first wallet.
    let ann = |wallet: Option<&str>| FakeUser::new(7, "ann", wallet);
    forum.profile(&ann(Some("$wallet.example/ann-b"))).await;
    let refused = poll_of(&forum, 1).await;
    forum
        .fake
        .vote(refused, "revshare", "tess", "disapprove")
        .unwrap();
    assert_eq!(a_decided_state(&forum, 1).await, ProposalState::Failed);
    ann_holds(&forum, ANN_WALLET).await;

    // Her change from b to c passes: c takes her entry's place, the first wallet does not stay.
    forum.profile(&ann(Some("$wallet.example/ann-c"))).await;
    let approved = poll_of(&forum, 2).await;
    forum
        .fake
        .vote(approved, "revshare", "tess", "approve")
        .unwrap();
    assert_eq!(a_decided_state(&forum, 2).await, ProposalState::Passed);
    ann_holds(&forum, "$wallet.example/ann-c").await;

    // A change to d is refused, then she clears the field: her entry (still c) leaves.
    forum.profile(&ann(Some("$wallet.example/ann-d"))).await;
    let refused = poll_of(&forum, 3).await;
    forum
        .fake
        .vote(refused, "revshare", "tess", "disapprove")
        .unwrap();
    assert_eq!(a_decided_state(&forum, 3).await, ProposalState::Failed);
    forum.profile(&ann(None)).await;
    forum
        .settle("ann's entry leaves with her wallet", async |f| {
            (wallets(&f.default_pool().await) == [("$pool.example/bob".to_string(), 1)])
                .then_some(())
        })
        .await;
}

on_both_databases!(
    a_member_whose_change_was_refused_still_holds_one_entry,
    a_policy_change_is_put_to_the_constitution_vote_and_adopted,
    a_tl3_approval_passes_and_the_wallet_joins_with_equal_weight,
    five_votes_close_it_and_the_majority_decides,
    a_tl3_disapproval_fails_and_the_pool_stays,
    a_day_without_votes_closes_it_on_the_clock,
    a_new_community_is_governed_by_the_default_policies,
);
