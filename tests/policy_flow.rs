//! The grant report's wallet flow end to end, on SQLite and PostgreSQL, against the fake
//! Discourse over loopback, driven as members would: a member sets the wallet field on their
//! profile (a signed `user_updated` webhook); the scheduler opens a proposal under the default
//! policy, the voting worker starts a Discourse poll, and the member is told with its link; votes
//! arrive on the fake; the policy closes and decides; the pool changes (or not) with the decision
//! as its cause; the member is told. Removing the wallet takes it out with no vote. The 24-hour
//! close runs on a controlled clock.

mod common;
mod support;

use std::time::Duration;

use common::{TestApp, TestDb, app};
use revshare_oracle::app::ingest::drain;
use revshare_oracle::app::policy::run_pass;
use revshare_oracle::config::Config;
use revshare_oracle::domain::{Cause, CommunitySlug, PoolName, Timestamp};
use revshare_oracle::keys::{KeySource, write_key_file};
use revshare_oracle::policy::Outcome;
use revshare_oracle::report::SigningKey;
use revshare_oracle::store::{ProposalState, StoredProposal};
use serde_json::json;
use support::discourse::{FakeDiscourse, FakeUser};
use support::discourse_api::{API_USERNAME, FakeDiscourseApi, SentMessage};

const SECRET: &str = "secret-at-least-12";
const ANN_WALLET: &str = "$wallet.example/ann";

fn quick(config: &mut Config) {
    config.actions.retry_base_ms = 20;
    config.actions.retry_max_ms = 200;
    config.actions.poll_interval_ms = 50;
    config.discourse.backoff_base_ms = 10;
    config.discourse.backoff_max_ms = 50;
    config.voting.reread_interval_secs = 1;
    config.voting.retry_base_ms = 20;
    config.voting.retry_max_ms = 200;
}

struct Forum {
    app: TestApp,
    fake: FakeDiscourseApi,
    hooks: FakeDiscourse,
    id: i64,
}

impl Forum {
    async fn start(db: TestDb) -> Forum {
        Forum::start_with(db, |_| {}).await
    }

    async fn start_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Forum {
        let fake = FakeDiscourseApi::start(&[(1, "Wallet"), (2, "City")]).await;
        let app = app(db, |config| {
            quick(config);
            adjust(config);
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
                json!({"base_url": fake.base_url, "webhook_secret": SECRET,
                       "wallet_field": "Wallet", "api_key": fake.api_key,
                       "api_username": API_USERNAME, "poll_topic_id": 10}),
            )
            .await;
        assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
        let id = app
            .state
            .snapshots
            .get(&CommunitySlug::parse("forum").unwrap())
            .unwrap()
            .id;
        let hooks = FakeDiscourse::new(&fake.base_url, SECRET);
        Forum {
            app,
            fake,
            hooks,
            id,
        }
    }

    /// A member's profile as Discourse sends it after a change: a signed `user_updated`.
    async fn profile(&self, user: &FakeUser) {
        let reply = self
            .app
            .send(self.hooks.user_event("user_updated", user).request("forum"))
            .await;
        assert_eq!(reply.status, 202);
        drain(&self.app.state).await.unwrap();
    }

    /// A voter known to the fake Discourse and, through a webhook, to the registry.
    async fn voter(&self, id: i64, username: &str, trust_level: u8) {
        self.fake.add_user(id, username, &[]);
        self.fake.promote(username, trust_level);
        let mut user = FakeUser::new(id, username, None);
        user.trust_level = trust_level;
        self.profile(&user).await;
    }

    /// Runs the voting worker's and the scheduler's passes until `done` (bounded in count).
    async fn settle<T>(&self, what: &str, done: impl AsyncFn(&Forum) -> Option<T>) -> T {
        for _ in 0..1_500 {
            revshare_oracle::app::voting::run_pass(&self.app.state)
                .await
                .unwrap();
            run_pass(&self.app.state, now()).await.unwrap();
            if let Some(found) = done(self).await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let votes = self.app.state.store.vote(self.id, 1).await.unwrap();
        panic!(
            "never reached: {what}\nproposals: {:#?}\nvote: {votes:#?}\nactions: {:#?}\nmessages: {:#?}",
            self.proposals().await,
            self.app.state.store.actions(self.id, 10).await.unwrap(),
            self.fake.private_messages()
        );
    }

    async fn proposals(&self) -> Vec<StoredProposal> {
        let mut all = Vec::new();
        for id in 1..=20 {
            if let Some(p) = self.app.state.store.proposal(id).await.unwrap() {
                all.push(p);
            }
        }
        all
    }

    async fn messages_to(&self, title: &str) -> Option<SentMessage> {
        self.fake
            .private_messages()
            .into_iter()
            .find(|m| m.title == title && m.recipients == ["ann"])
    }

    async fn default_pool(&self) -> revshare_oracle::domain::PoolVersion {
        self.app
            .state
            .store
            .current_pool(self.id, &PoolName::parse("default").unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    /// Ann sets her wallet; returns the poll's post id once she has been told of the vote.
    async fn ann_sets_her_wallet(&self) -> (i64, String) {
        self.fake.add_user(7, "ann", &[]);
        self.profile(&FakeUser::new(7, "ann", Some(ANN_WALLET)))
            .await;
        let told = self
            .settle("ann is told of the vote", async |f| {
                f.messages_to("Your wallet is being voted on").await
            })
            .await;
        let proposals = self.proposals().await;
        assert_eq!(proposals.len(), 1, "one proposal for one wallet change");
        let vote = proposals[0]
            .proposal
            .vote
            .clone()
            .expect("the vote is attached");
        let url = vote.url.clone().unwrap();
        assert!(
            told.raw.contains(&url),
            "the message links the poll: {}",
            told.raw
        );
        assert!(told.raw.contains(ANN_WALLET), "{}", told.raw);
        let post: i64 = vote.external_id.split('/').next().unwrap().parse().unwrap();
        let raw = self.fake.post_raw(post).unwrap();
        assert!(
            raw.contains("Add ann's wallet to the revenue share?"),
            "{raw}"
        );
        assert!(raw.contains("[poll"), "{raw}");
        assert_eq!(
            self.fake.poll_status(post, "revshare").as_deref(),
            Some("open")
        );
        (post, url)
    }
}

fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

fn wallets(pool: &revshare_oracle::domain::PoolVersion) -> Vec<(String, u64)> {
    pool.pool
        .entries()
        .iter()
        .map(|e| (e.wallet.payment_pointer(), e.weight.get()))
        .collect()
}

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
    assert_eq!(
        forum.fake.poll_status(post, "revshare").as_deref(),
        Some("closed"),
        "the policy closed the poll"
    );
    let proposals = forum.proposals().await;
    assert_eq!(proposals[0].state, ProposalState::Passed);

    // Another pass, and another, change nothing and send nothing again.
    let messages = forum.fake.private_messages().len();
    run_pass(&forum.app.state, now()).await.unwrap();
    run_pass(&forum.app.state, now()).await.unwrap();
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
        revshare_oracle::app::voting::run_pass(&forum.app.state)
            .await
            .unwrap();
        run_pass(&forum.app.state, now()).await.unwrap();
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
    run_pass(&forum.app.state, Timestamp(opened.millis() + day - 1))
        .await
        .unwrap();
    assert_eq!(
        forum.proposals().await[0].state,
        ProposalState::Open,
        "not yet"
    );
    run_pass(&forum.app.state, Timestamp(opened.millis() + day))
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

on_both_databases!(
    a_tl3_approval_passes_and_the_wallet_joins_with_equal_weight,
    five_votes_close_it_and_the_majority_decides,
    a_tl3_disapproval_fails_and_the_pool_stays,
    a_day_without_votes_closes_it_on_the_clock,
    a_new_community_is_governed_by_the_default_policies,
    the_running_service_decides_on_its_own,
    with_the_oracle_on_the_report_commits_to_the_decision,
);
