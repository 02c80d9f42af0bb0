//! The grant report's policy with its vote on Loomio, by changing one line of the policy file, on
//! SQLite and PostgreSQL, against the fake Discourse (the member's profile and messages) and the
//! fake Loomio (the vote): the member sets a wallet, a Loomio poll opens and the member is told
//! with its link, the group votes, the poll is closed in Loomio, and the majority decides.

use crate::common;
use crate::support;
use crate::voting;

use std::time::Duration;

use common::{TestDb, app};
use revshare_oracle::domain::{Cause, PoolName, Timestamp};
use revshare_oracle::policy::GRANT_REPORT_POLICY;
use revshare_oracle::store::ProposalState;
use serde_json::json;
use support::discourse::{FakeDiscourse, FakeUser};
use support::discourse_api::{API_USERNAME, FakeDiscourseApi};
use support::loomio::FakeLoomio;

const SECRET: &str = "secret-at-least-12";

fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

async fn the_same_policy_runs_its_vote_on_loomio(db: TestDb) {
    let discourse = FakeDiscourseApi::start(&[(1, "Wallet")]).await;
    let loomio = FakeLoomio::start(voting::KEY).await;
    let app = app(db, |c| {
        c.voting.reread_interval_secs = 1;
        c.actions.poll_interval_ms = 50;
    })
    .await;
    app.seed(
        "forum",
        &[(
            "default",
            json!([{"wallet": "$pool.example/bob", "weight": 1}]),
        )],
    )
    .await;
    let set = app
        .admin(
            "PUT",
            "/v1/admin/communities/forum/sources/discourse",
            json!({"base_url": discourse.base_url, "webhook_secret": SECRET,
                   "wallet_field": "Wallet", "api_key": discourse.api_key,
                   "api_username": API_USERNAME, "poll_topic_id": 10}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    let set = voting::configure(&app, "forum", &loomio, loomio.group_id).await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    let id = voting::community_id(&app, "forum");

    // The one line.
    let on_loomio = GRANT_REPORT_POLICY.replace("backend = \"discourse\"", "backend = \"loomio\"");
    assert_ne!(on_loomio, GRANT_REPORT_POLICY);
    let adopted = app
        .state
        .store
        .adopt_policies(
            id,
            &[on_loomio.as_str()],
            &Cause::AdminBootstrap { note: None },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(adopted[0].version, 3);

    discourse.add_user(7, "ann", &[]);
    let hooks = FakeDiscourse::new(&discourse.base_url, SECRET);
    let reply = app
        .send(
            hooks
                .user_event(
                    "user_updated",
                    &FakeUser::new(7, "ann", Some("$wallet.example/ann")),
                )
                .request("forum"),
        )
        .await;
    assert_eq!(reply.status, 202);
    app.state.ingest.drain().await.unwrap();

    let settle = async |done: &dyn Fn() -> bool| {
        for _ in 0..1_500 {
            app.state.votes.run_pass().await.unwrap();
            app.state.scheduler.run_pass(now()).await.unwrap();
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("never settled");
    };
    let told = |title: &str| {
        discourse
            .private_messages()
            .into_iter()
            .find(|m| m.title == title && m.recipients == ["ann"])
    };
    settle(&|| told("Your wallet is being voted on").is_some()).await;
    let polls = loomio.polls();
    assert_eq!(polls.len(), 1, "the vote runs on Loomio");
    let poll = &polls[0];
    assert_eq!(poll.title, "Add ann's wallet to the revenue share?");
    let message = told("Your wallet is being voted on").unwrap();
    assert!(
        message.raw.contains(&format!("/p/{}", poll.key)),
        "the message links the Loomio poll: {}",
        message.raw
    );
    let proposal = app.state.store.proposal(1).await.unwrap().unwrap();
    assert_eq!(proposal.proposal.policy_version, 3);

    let [ann, bob, cat] = [&loomio.members[0], &loomio.members[1], &loomio.members[2]];
    loomio.vote(poll.id, ann, &["approve"]);
    loomio.vote(poll.id, bob, &["approve"]);
    loomio.vote(poll.id, cat, &["disapprove"]);
    loomio.close_by(poll.id, &loomio.bot);
    settle(&|| told("Your wallet joined the revenue share").is_some()).await;
    let message = told("Your wallet joined the revenue share").unwrap();
    assert!(
        message.raw.contains("closed on the platform"),
        "{}",
        message.raw
    );
    assert!(message.raw.contains("majority-approved"), "{}", message.raw);
    let pool = app
        .state
        .store
        .current_pool(id, &PoolName::parse("default").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        pool.pool
            .entries()
            .iter()
            .any(|e| e.wallet.payment_pointer() == "$wallet.example/ann")
    );
    let Cause::Decision { decision } = &pool.cause else {
        panic!("the pool version's cause is {:?}", pool.cause);
    };
    let stored = app
        .state
        .store
        .decision(&decision.parse().unwrap())
        .await
        .unwrap()
        .expect("the cause names a stored decision");
    let (read, _) = revshare_oracle::policy::Evidence::verify(&stored.evidence).unwrap();
    assert_eq!(
        revshare_oracle::audit::check_ballots(&read),
        Ok(true),
        "the auditor finds the decided ballots in the kept Loomio documents"
    );
    let decided = app.state.store.proposal(1).await.unwrap().unwrap();
    assert_eq!(decided.state, ProposalState::Passed);
}

on_both_databases!(the_same_policy_runs_its_vote_on_loomio);
