//! What the policy suites share: a community `forum` on the fake Discourse with the default
//! policies, members who set wallets and vote, and a driver of the workers' passes.

use std::time::Duration;

use revshare_oracle::config::Config;
use revshare_oracle::domain::{CommunitySlug, PoolName, Timestamp};
use revshare_oracle::store::StoredProposal;
use serde_json::json;

use crate::common::{TestApp, TestDb, app};
use crate::support::discourse::{FakeDiscourse, FakeUser};
use crate::support::discourse_api::{API_USERNAME, FakeDiscourseApi, SentMessage};

pub const SECRET: &str = "secret-at-least-12";
pub const ANN_WALLET: &str = "$wallet.example/ann";

pub fn quick(config: &mut Config) {
    config.actions.retry_base_ms = 20;
    config.actions.retry_max_ms = 200;
    config.actions.poll_interval_ms = 50;
    config.discourse.backoff_base_ms = 10;
    config.discourse.backoff_max_ms = 50;
    config.voting.reread_interval_secs = 1;
    config.voting.retry_base_ms = 20;
    config.voting.retry_max_ms = 200;
}

pub struct Forum {
    pub app: TestApp,
    pub fake: FakeDiscourseApi,
    pub hooks: FakeDiscourse,
    pub id: i64,
}

impl Forum {
    pub async fn start(db: TestDb) -> Forum {
        Forum::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Forum {
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

    /// Stops every worker and starts the service again on the same database, as after a crash
    /// between two of the scheduler's steps.
    pub async fn restart(self) -> Forum {
        let Forum {
            app: TestApp { router, state, db },
            fake,
            hooks,
            id,
        } = self;
        state.workers.ingest.stop().await;
        state.workers.votes.abort().await;
        state.workers.actions.stop().await;
        state.workers.scheduler.abort().await;
        drop(router);
        drop(state);
        Forum {
            app: app(db, quick).await,
            fake,
            hooks,
            id,
        }
    }

    /// A member's profile as Discourse sends it after a change: a signed `user_updated`.
    pub async fn profile(&self, user: &FakeUser) {
        let reply = self
            .app
            .send(self.hooks.user_event("user_updated", user).request("forum"))
            .await;
        assert_eq!(reply.status, 202);
        self.app.state.ingest.drain().await.unwrap();
    }

    /// A voter known to the fake Discourse and, through a webhook, to the registry.
    pub async fn voter(&self, id: i64, username: &str, trust_level: u8) {
        self.fake.add_user(id, username, &[]);
        self.fake.promote(username, trust_level);
        let mut user = FakeUser::new(id, username, None);
        user.trust_level = trust_level;
        self.profile(&user).await;
    }

    /// Runs the voting worker's and the scheduler's passes until `done` (bounded in count).
    pub async fn settle<T>(&self, what: &str, done: impl AsyncFn(&Forum) -> Option<T>) -> T {
        for _ in 0..1_500 {
            self.app.state.votes.run_pass().await.unwrap();
            self.app.state.scheduler.run_pass(now()).await.unwrap();
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

    pub async fn proposals(&self) -> Vec<StoredProposal> {
        let mut all = Vec::new();
        for id in 1..=20 {
            if let Some(p) = self.app.state.store.proposal(id).await.unwrap() {
                all.push(p);
            }
        }
        all
    }

    pub async fn messages_to(&self, title: &str) -> Option<SentMessage> {
        self.fake
            .private_messages()
            .into_iter()
            .find(|m| m.title == title && m.recipients == ["ann"])
    }

    pub async fn default_pool(&self) -> revshare_oracle::domain::PoolVersion {
        self.app
            .state
            .store
            .current_pool(self.id, &PoolName::parse("default").unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    /// Ann sets her wallet; returns the poll's post id once she has been told of the vote.
    pub async fn ann_sets_her_wallet(&self) -> (i64, String) {
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

pub fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

pub fn wallets(pool: &revshare_oracle::domain::PoolVersion) -> Vec<(String, u64)> {
    pool.pool
        .entries()
        .iter()
        .map(|e| (e.wallet.payment_pointer(), e.weight.get()))
        .collect()
}
