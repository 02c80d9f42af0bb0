//! Exactly once across a crash: the real binary stores signed deliveries with its ingest worker
//! off, is killed with SIGKILL before acting on them, and on restart with the worker on applies
//! each one once; a further restart applies nothing. On SQLite and PostgreSQL alike.

use crate::common;
use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};

use common::TestDb;
use revshare_oracle::domain::{CommunitySlug, MemberId, Timestamp, TopicId, WalletAddress};
use revshare_oracle::sources::discourse::DiscourseSource;
use support::discourse::{FakeDiscourse, FakeTopic, FakeUser};

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");
const SECRET: &str = "secret-at-least-12";
const BASE_URL: &str = "https://forum.example";

/// The binary on a loopback port, with its JSON log lines arriving on a channel.
struct Service {
    child: Child,
    address: String,
    lines: Receiver<serde_json::Value>,
    /// `applied` from the worker's first pass, when the worker is on.
    caught_up: Option<u64>,
}

impl Service {
    /// Starts the service and reads its log until it listens (and, with the worker on, until
    /// the worker has applied what was stored before).
    fn start(db: &TestDb, worker: bool) -> Service {
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("REVSHARE_LISTEN", "127.0.0.1:0")
            .current_dir(db.workdir.path())
            .env("REVSHARE_DATABASE_URL", &db.url)
            .env("REVSHARE_LOG__FORMAT", "json")
            .env("REVSHARE_INGEST__WORKER", worker.to_string())
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let entry: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
                if send.send(entry).is_err() {
                    break;
                }
            }
        });
        let mut address = None;
        let mut caught_up = None;
        while address.is_none() || (worker && caught_up.is_none()) {
            let entry = lines
                .recv()
                .expect("the service logs until it listens and catches up");
            match entry["message"].as_str() {
                Some("listening") => address = entry["address"].as_str().map(str::to_string),
                Some("ingest worker caught up with stored deliveries") => {
                    caught_up = entry["applied"].as_u64();
                }
                _ => {}
            }
        }
        Service {
            child,
            address: format!("http://{}", address.unwrap()),
            lines,
            caught_up,
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        self.child.wait().unwrap();
        drop(self.lines);
    }
}

fn member(name: &str) -> MemberId {
    MemberId::parse(name).unwrap()
}

fn wallet(w: &str) -> WalletAddress {
    WalletAddress::parse(w).unwrap()
}

async fn a_delivery_stored_before_a_sigkill_is_applied_once_after_restart(db: TestDb) {
    let community = db
        .store
        .create_community(
            &CommunitySlug::parse("forum").unwrap(),
            "Forum",
            Timestamp(1),
        )
        .await
        .unwrap();
    db.store
        .put_discourse_source(
            community.id,
            &DiscourseSource::webhooks_only(
                BASE_URL,
                SECRET.to_string().into(),
                "Wallet",
                "1",
                Timestamp(1),
            ),
        )
        .await
        .unwrap();
    let fake = FakeDiscourse::new(BASE_URL, SECRET);
    let ann = FakeUser::new(7, "ann", Some("$wallet.example/ann"));
    let topic = FakeTopic {
        id: 42,
        author: (7, "ann".into()),
        tags: vec!["dev".into()],
        category_id: 5,
        private: false,
    };
    let updated = fake.user_event("user_updated", &ann.with_wallet(Some("$new.example/ann")));
    let deliveries = [
        fake.user_event("user_created", &ann),
        updated.clone(),
        fake.topic_created(&topic),
        fake.post_created(&topic, 2, (8, "bob")),
        updated.clone(),
    ];
    let client = reqwest::Client::new();

    let storing = Service::start(&db, false);
    assert_eq!(storing.caught_up, None);
    let mut statuses = Vec::new();
    for delivery in &deliveries {
        statuses.push(delivery.send(&client, &storing.address, "forum").await.0);
    }
    assert_eq!(
        statuses,
        [202, 202, 202, 202, 200],
        "answered only once stored"
    );
    storing.kill();

    let counts = db.store.delivery_counts(community.id).await.unwrap();
    assert_eq!(
        (counts.stored, counts.pending),
        (4, 4),
        "stored, not acted on"
    );
    assert!(
        db.store
            .member(community.id, &member("ann"))
            .await
            .unwrap()
            .is_none()
    );

    let applying = Service::start(&db, true);
    assert_eq!(
        applying.caught_up,
        Some(4),
        "each stored delivery applied once"
    );
    let (status, _) = updated.send(&client, &applying.address, "forum").await;
    assert_eq!(status, 200, "a redelivery after processing is a duplicate");
    applying.kill();

    let counts = db.store.delivery_counts(community.id).await.unwrap();
    assert_eq!((counts.stored, counts.pending), (4, 0));
    let record = db
        .store
        .member(community.id, &member("ann"))
        .await
        .unwrap()
        .expect("ann is registered");
    assert_eq!(record.wallet, Some(wallet("$new.example/ann")));
    let history = db
        .store
        .wallet_history(community.id, &member("ann"))
        .await
        .unwrap();
    let changes: Vec<_> = history
        .iter()
        .map(|h| (h.from.clone(), h.to.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (None, Some(wallet("$wallet.example/ann"))),
            (
                Some(wallet("$wallet.example/ann")),
                Some(wallet("$new.example/ann"))
            ),
        ],
        "one history row per change, not two"
    );
    let (facts, _) = db
        .store
        .topic_record(community.id, &TopicId::parse("42").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.participants, [member("bob")]);

    let again = Service::start(&db, true);
    assert_eq!(again.caught_up, Some(0), "nothing is applied twice");
    again.kill();
    assert_eq!(
        db.store
            .wallet_history(community.id, &member("ann"))
            .await
            .unwrap()
            .len(),
        2
    );
}

on_both_databases!(a_delivery_stored_before_a_sigkill_is_applied_once_after_restart);
