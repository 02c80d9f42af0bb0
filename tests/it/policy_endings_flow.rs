//! Proposals that end without their vote's verdict, on SQLite and PostgreSQL, against the fake
//! Discourse: a member (or an admin) who clears or replaces the wallet while its vote runs
//! supersedes that proposal (failed, the poll closed, the member told once, and a late approval
//! adds nothing); a poll Discourse refuses to create (403), or a vote an admin cancels through
//! the voting API before it started, fails the proposal, names why and tells the member, instead
//! of leaving it open forever.

use crate::common;
use crate::policy;
use crate::support;

use common::TestDb;
use policy::{ANN_WALLET, Forum, now, wallets};
use revshare_oracle::store::ProposalState;
use support::discourse::FakeUser;

const BOB: &str = "$pool.example/bob";

fn titled(forum: &Forum, title: &str) -> Vec<String> {
    forum
        .fake
        .private_messages()
        .into_iter()
        .filter(|m| m.title == title && m.recipients == ["ann"])
        .map(|m| m.raw)
        .collect()
}

async fn passes(forum: &Forum, count: usize) {
    for _ in 0..count {
        forum.app.state.votes.run_pass().await.unwrap();
        forum.app.state.scheduler.run_pass(now()).await.unwrap();
    }
}

/// A proposal whose vote never ran: failed with its vote in `vote_state`, ann told once (with
/// `said` in the message and no link), never told of a vote, and the pool as it was.
async fn failed_without_a_vote(forum: &Forum, proposal: i64, vote_state: &str, said: &str) {
    let read = forum
        .app
        .get_admin(&format!("/v1/admin/communities/forum/proposals/{proposal}"))
        .await
        .json();
    assert_eq!(read["vote"]["state"], vote_state, "{read}");
    assert_eq!(read["decision"]["outcome"], "failed", "{read}");

    let told = forum
        .settle("ann is told the vote did not run", async |f| {
            let told = titled(f, "Your wallet was not added");
            (!told.is_empty()).then_some(told)
        })
        .await;
    assert!(told[0].contains(said), "{}", told[0]);
    assert!(told[0].contains("no vote was started"), "{}", told[0]);

    passes(forum, 3).await;
    assert_eq!(
        titled(forum, "Your wallet was not added").len(),
        1,
        "told once"
    );
    assert!(titled(forum, "Your wallet is being voted on").is_empty());
    assert_eq!(wallets(&forum.default_pool().await), [(BOB.to_string(), 1)]);
}

async fn a_cleared_wallet_supersedes_its_running_vote(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    let (post, _) = forum.ann_sets_her_wallet().await;

    // Ann clears her wallet; before the scheduler sees it, a TL3 member approves the old vote and
    // the voting worker reads the approval.
    forum.profile(&FakeUser::new(7, "ann", None)).await;
    forum
        .fake
        .vote(post, "revshare", "tess", "approve")
        .unwrap();
    forum.app.state.votes.run_pass().await.unwrap();
    forum.app.state.scheduler.run_pass(now()).await.unwrap();

    let proposals = forum.proposals().await;
    assert_eq!(proposals.len(), 2, "{proposals:#?}");
    assert_eq!(proposals[0].state, ProposalState::Failed);
    assert_eq!(proposals[1].proposal.rule.as_str(), "wallet-removed");
    let decision = forum
        .app
        .state
        .store
        .decision_of(proposals[0].id)
        .await
        .unwrap()
        .expect("the superseded proposal is decided");
    assert!(
        decision.reason.starts_with("superseded by a newer change"),
        "{}",
        decision.reason
    );
    let (evidence, _) = revshare_oracle::policy::Evidence::verify(&decision.evidence).unwrap();
    assert_eq!(
        revshare_oracle::audit::check_ballots(&evidence),
        Ok(true),
        "the approval read before the supersession is in the kept documents"
    );
    assert_eq!(
        forum.fake.poll_status(post, "revshare").as_deref(),
        Some("closed"),
        "the old poll is closed through the voting API"
    );
    let read = forum
        .app
        .get_admin(&format!(
            "/v1/admin/communities/forum/proposals/{}",
            proposals[0].id
        ))
        .await
        .json();
    assert_eq!(read["state"], "failed", "{read}");
    assert_eq!(read["decision"]["reason"], decision.reason.as_str());

    let told = forum
        .settle("ann is told her old vote ended", async |f| {
            let told = titled(f, "Your wallet was not added");
            (!told.is_empty()).then_some(told)
        })
        .await;
    assert!(told[0].contains("superseded"), "{}", told[0]);
    forum
        .settle("ann is told her wallet left", async |f| {
            f.messages_to("Your wallet left the revenue share").await
        })
        .await;

    // However often the scheduler and the voting worker look again, the approval adds nothing.
    passes(&forum, 3).await;
    assert_eq!(wallets(&forum.default_pool().await), [(BOB.to_string(), 1)]);
    assert_eq!(
        titled(&forum, "Your wallet was not added").len(),
        1,
        "told once"
    );
    assert!(titled(&forum, "Your wallet joined the revenue share").is_empty());
    assert_eq!(forum.proposals().await[0].state, ProposalState::Failed);
}

async fn a_replaced_wallet_supersedes_and_opens_its_own_vote(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.voter(20, "tess", 3).await;
    let (old_post, _) = forum.ann_sets_her_wallet().await;
    forum
        .profile(&FakeUser::new(7, "ann", Some("$wallet.example/ann-new")))
        .await;
    let new_post = forum
        .settle("the new wallet's vote starts", async |f| {
            let proposals = f.proposals().await;
            let vote = proposals.get(1)?.proposal.vote.clone()?;
            vote.external_id.split('/').next()?.parse::<i64>().ok()
        })
        .await;
    assert_ne!(new_post, old_post);
    let proposals = forum.proposals().await;
    assert_eq!(proposals[0].state, ProposalState::Failed);
    assert_eq!(proposals[1].proposal.rule.as_str(), "wallet-changed");
    assert_eq!(
        forum.fake.poll_status(old_post, "revshare").as_deref(),
        Some("closed")
    );
    forum
        .fake
        .vote(new_post, "revshare", "tess", "approve")
        .unwrap();
    forum
        .settle("ann is told her share moved", async |f| {
            f.messages_to("Your share moved to your new wallet").await
        })
        .await;
    assert_eq!(
        wallets(&forum.default_pool().await),
        [
            (BOB.to_string(), 1),
            ("$wallet.example/ann-new".to_string(), 1)
        ],
        "only the wallet ann states now joins"
    );
}

async fn an_admin_clearing_the_wallet_supersedes_the_vote_too(db: TestDb) {
    let forum = Forum::start(db).await;
    let (post, _) = forum.ann_sets_her_wallet().await;
    let cleared = forum
        .app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/members/ann",
            serde_json::json!({"wallet": null}),
        )
        .await;
    assert_eq!(
        cleared.status,
        204,
        "{}",
        String::from_utf8_lossy(&cleared.body)
    );
    forum.app.state.scheduler.run_pass(now()).await.unwrap();
    let proposals = forum.proposals().await;
    assert_eq!(proposals.len(), 1, "an admin's change opens no proposal");
    assert_eq!(proposals[0].state, ProposalState::Failed);
    assert_eq!(
        forum.fake.poll_status(post, "revshare").as_deref(),
        Some("closed")
    );
    forum
        .settle("ann is told her old vote ended", async |f| {
            let told = titled(f, "Your wallet was not added");
            (!told.is_empty()).then_some(())
        })
        .await;
    assert_eq!(wallets(&forum.default_pool().await), [(BOB.to_string(), 1)]);
}

async fn a_poll_discourse_refuses_fails_the_proposal_and_tells_the_member(db: TestDb) {
    let forum = Forum::start(db).await;
    forum.fake.forbid_replies_in(10);
    forum.fake.add_user(7, "ann", &[]);
    forum
        .profile(&FakeUser::new(7, "ann", Some(ANN_WALLET)))
        .await;
    let proposal = forum
        .settle("the proposal fails", async |f| {
            let proposals = f.proposals().await;
            let first = proposals.into_iter().next()?;
            (first.state == ProposalState::Failed).then_some(first)
        })
        .await;
    let decision = forum
        .app
        .state
        .store
        .decision_of(proposal.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        decision.reason.contains("refused to start the vote") && decision.reason.contains("403"),
        "{}",
        decision.reason
    );
    let (evidence, _) = revshare_oracle::policy::Evidence::verify(&decision.evidence).unwrap();
    assert_eq!(
        revshare_oracle::audit::check_ballots(&evidence),
        Ok(false),
        "a vote that never started has no documents and no ballots to check"
    );
    failed_without_a_vote(&forum, proposal.id, "failed", "403").await;
    assert_eq!(
        forum.fake.count(axum::http::Method::POST, "/posts.json")
            - forum.fake.private_messages().len(),
        1,
        "the refused poll is not retried"
    );
}

async fn a_vote_cancelled_before_it_started_fails_the_proposal_and_tells_the_member(db: TestDb) {
    let forum = Forum::start_with(db, |config| config.voting.worker = false).await;
    forum.fake.add_user(7, "ann", &[]);
    forum
        .profile(&FakeUser::new(7, "ann", Some(ANN_WALLET)))
        .await;
    forum.app.state.scheduler.run_pass(now()).await.unwrap();
    let proposal = forum.proposals().await.remove(0);
    let vote = forum
        .app
        .state
        .scheduler
        .proposal_vote(forum.id, proposal.id)
        .await
        .unwrap()
        .expect("the vote's intent is stored");
    assert_eq!(vote.state.as_str(), "starting");

    let closed = forum
        .app
        .admin(
            "POST",
            &format!("/v1/communities/forum/votes/{}/close", vote.id),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        closed.status,
        200,
        "{}",
        String::from_utf8_lossy(&closed.body)
    );
    assert_eq!(closed.json()["state"], "cancelled");

    let proposal = forum
        .settle("the proposal fails", async |f| {
            let first = f.proposals().await.into_iter().next()?;
            (first.state == ProposalState::Failed).then_some(first)
        })
        .await;
    let decision = forum
        .app
        .state
        .store
        .decision_of(proposal.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        decision.reason, "the vote was cancelled before it started, failed",
        "the reason names the cancellation"
    );
    failed_without_a_vote(&forum, proposal.id, "cancelled", "cancelled").await;
    assert_eq!(
        forum.fake.count(axum::http::Method::POST, "/posts.json")
            - forum.fake.private_messages().len(),
        0,
        "the cancelled poll is never created"
    );
}

on_both_databases!(
    a_cleared_wallet_supersedes_its_running_vote,
    a_replaced_wallet_supersedes_and_opens_its_own_vote,
    an_admin_clearing_the_wallet_supersedes_the_vote_too,
    a_poll_discourse_refuses_fails_the_proposal_and_tells_the_member,
    a_vote_cancelled_before_it_started_fails_the_proposal_and_tells_the_member,
);
