//! A vote's start lands on Loomio exactly once across crashes: the real binary is asked to start
//! a vote while Loomio refuses connections, or is killed with SIGKILL while Loomio applies the
//! start without answering; after a restart the worker starts it, or finds the poll it started
//! by the vote's marker, and a further restart changes nothing. On SQLite and PostgreSQL alike.

use crate::common;
use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use common::{ADMIN_TOKEN, TestDb};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, Row};
use support::loomio::{FakeLoomio, Fault};

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");
const KEY: &str = "bot-api-key-5f0c9a7e1d2b";

/// The binary on a loopback port, its JSON log lines on a channel.
struct Service {
    child: Child,
    address: String,
    _lines: Receiver<Value>,
}

impl Service {
    /// Starts the service and reads its log until it listens and its voting worker caught up.
    /// Each platform call is tried `attempts` times with a timeout of `timeout_ms`.
    fn start(db: &TestDb, timeout_ms: u64, attempts: u32) -> Service {
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("REVSHARE_LISTEN", "127.0.0.1:0")
            .current_dir(db.workdir.path())
            .env("REVSHARE_DATABASE_URL", &db.url)
            .env("REVSHARE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("REVSHARE_LOG__FORMAT", "json")
            .env(
                "REVSHARE_VOTING__REQUEST_TIMEOUT_MS",
                timeout_ms.to_string(),
            )
            .env("REVSHARE_VOTING__CALL_ATTEMPTS", attempts.to_string())
            .env("REVSHARE_VOTING__RETRY_BASE_MS", "20")
            .env("REVSHARE_VOTING__RETRY_MAX_MS", "100")
            .env("REVSHARE_VOTING__MAX_RETRY_AFTER_SECS", "1")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let entry: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
                if send.send(entry).is_err() {
                    break;
                }
            }
        });
        let mut address = None;
        let mut caught_up = false;
        while address.is_none() || !caught_up {
            let entry = lines
                .recv()
                .expect("the service logs until it listens and catches up");
            match entry["message"].as_str() {
                Some("listening") => address = entry["address"].as_str().map(str::to_string),
                Some("voting worker caught up with due votes") => caught_up = true,
                _ => {}
            }
        }
        Service {
            child,
            address: format!("http://{}", address.unwrap()),
            _lines: lines,
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        self.child.wait().unwrap();
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn vote(&self, id: i64) -> Value {
        let (status, vote) = self
            .admin(
                reqwest::Method::GET,
                &format!("/v1/communities/coop/votes/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{vote}");
        vote
    }

    /// The vote once its state is `state`, reading it a bounded number of times.
    async fn vote_when(&self, id: i64, state: &str) -> Value {
        let mut vote = Value::Null;
        for _ in 0..1000 {
            vote = self.vote(id).await;
            if vote["state"] == state {
                return vote;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("vote {id} never became {state}: {vote}");
    }
}

fn vote_body() -> Value {
    let closes = jiff::Timestamp::now().as_millisecond() + 3 * 86_400_000;
    json!({"backend": "loomio", "title": "Add Ann to the default pool?", "details": "Ann maintains the docs.",
           "options": ["Yes", "No"],
           "closes_at": revshare_oracle::domain::Timestamp(closes).to_rfc3339()})
}

/// A community `coop` whose Loomio is `fake`.
async fn set_up(service: &Service, fake: &FakeLoomio) {
    let (status, body) = service
        .admin(
            reqwest::Method::POST,
            "/v1/admin/communities",
            Some(json!({"slug": "coop", "name": "Co-op"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = service
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/communities/coop/sources/loomio",
            Some(json!({"base_url": fake.base_url(), "api_key": KEY, "group_id": fake.group_id})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn marked_polls(fake: &FakeLoomio, vote: i64) -> usize {
    let marker = format!("revshare-oracle vote coop/{vote} ·");
    fake.polls()
        .iter()
        .filter(|p| p.details.contains(&marker))
        .count()
}

async fn a_start_while_loomio_is_down_lands_once_after_a_restart(db: TestDb) {
    let fake = FakeLoomio::start(KEY).await;
    fake.stop().await;
    let first = Service::start(&db, 500, 2);
    set_up(&first, &fake).await;
    let (status, problem) = first
        .admin(
            reqwest::Method::POST,
            "/v1/communities/coop/votes",
            Some(vote_body()),
        )
        .await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], "/problems/platform-unavailable");
    let id = problem["vote"]["id"].as_i64().unwrap();
    let stored = first.vote(id).await;
    assert_eq!(stored["state"], "starting");
    assert!(
        stored["last_error"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{stored}"
    );
    first.kill();

    fake.resume().await;
    let second = Service::start(&db, 500, 2);
    let open = second.vote_when(id, "open").await;
    assert_eq!(marked_polls(&fake, id), 1, "the stored start landed");
    assert_eq!(open["external_id"], fake.polls()[0].id.to_string());
    assert_eq!(fake.count("POST /api/b2/polls"), 1);
    second.kill();

    let third = Service::start(&db, 500, 2);
    let again = third.vote(id).await;
    assert_eq!(again["external_id"], open["external_id"]);
    assert_eq!(fake.polls().len(), 1, "and only once");
    assert_eq!(fake.count("POST /api/b2/polls"), 1);
    third.kill();
}

async fn a_start_killed_before_its_answer_is_found_by_its_marker(db: TestDb) {
    let fake = FakeLoomio::start(KEY).await;
    // A timeout far longer than the kill takes, so the service is still waiting when it dies.
    let first = Service::start(&db, 5_000, 1);
    set_up(&first, &fake).await;
    fake.inject(
        Some("POST /api/b2/polls"),
        Fault::ApplyThenStall(Duration::from_secs(30)),
        1,
    );
    let address = first.address.clone();
    let asking = tokio::spawn(async move {
        let _ = reqwest::Client::new()
            .post(format!("{address}/v1/communities/coop/votes"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&vote_body())
            .send()
            .await;
    });
    for _ in 0..1000 {
        if !fake.polls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.polls().len(), 1, "Loomio applied the start");
    first.kill();
    let _ = asking.await;

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let row = conn.fetch_one("SELECT id, state FROM votes").await.unwrap();
    let id: i64 = row.try_get("id").unwrap();
    assert_eq!(
        row.try_get::<String, _>("state").unwrap(),
        "starting",
        "its answer never came"
    );

    let second = Service::start(&db, 5_000, 1);
    let open = second.vote_when(id, "open").await;
    assert_eq!(
        open["external_id"],
        fake.polls()[0].id.to_string(),
        "the poll it started is used"
    );
    assert_eq!(fake.polls().len(), 1, "no second poll");
    assert_eq!(
        fake.count("POST /api/b2/polls"),
        1,
        "found, not created again"
    );
    assert_eq!(marked_polls(&fake, id), 1);
    second.kill();
}

on_both_databases!(
    a_start_while_loomio_is_down_lands_once_after_a_restart,
    a_start_killed_before_its_answer_is_found_by_its_marker,
);
