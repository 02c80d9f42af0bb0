//! Several replicas as real processes on one PostgreSQL: a change through one is picked on the
//! others (by its notice, and by the stamp comparison when the notice is lost), a public replica
//! runs on a read-only database role, each job runs on exactly one replica and moves to a
//! survivor when its holder is killed or loses its lease connection, and replicas started
//! together migrate once. On SQLite, a second process on one file is refused.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};

use crate::common::{self, POSTGRES_URL_VAR};
use crate::support::replica_process::{ADMIN_TOKEN, Replica};

/// The jobs a replica runs with the oracle off: the relayer, indexer and reconciler need it.
const JOBS: [&str; 4] = ["actions", "ingest", "scheduler", "votes"];

/// Fast checks, so a test waits seconds, not tens of seconds, for what it provokes.
const FAST: [(&str, &str); 3] = [
    ("REVSHARE_REPLICAS__LEASE_CHECK_MS", "200"),
    ("REVSHARE_REPLICAS__LEASE_TIMEOUT_MS", "2000"),
    ("REVSHARE_REPLICAS__SNAPSHOT_CHECK_MS", "500"),
];

/// Polls `check` until it returns `Some`, up to `patience`; `what` names it in the failure.
async fn eventually<T>(
    what: &str,
    patience: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin_put(client: &reqwest::Client, replica: &Replica, path: &str, body: Value) -> u16 {
    client
        .put(format!("{}{path}", replica.address))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("the replica answers")
        .status()
        .as_u16()
}

/// The wallet a replica picks from the one-entry pool `main` of `forum`, if it knows one.
async fn picked(client: &reqwest::Client, replica: &Replica) -> Option<String> {
    let reply = client
        .get(format!(
            "{}/v1/communities/forum/pools/main/pick",
            replica.address
        ))
        .send()
        .await
        .ok()?;
    if reply.status() != 200 {
        return None;
    }
    let pick: Value = reply.json().await.ok()?;
    pick["wallet"].as_str().map(str::to_string)
}

async fn one_entry_pool(client: &reqwest::Client, through: &Replica, wallet: &str) {
    let status = admin_put(
        client,
        through,
        "/v1/admin/communities/forum/pools/main",
        json!({"entries": [{"wallet": wallet, "weight": 1}]}),
    )
    .await;
    assert_eq!(status, 200, "the pool change is stored");
}

async fn metric(client: &reqwest::Client, replica: &Replica, name: &str) -> f64 {
    let text = client
        .get(format!("{}/metrics", replica.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// Where each job runs, from every live replica's `/readyz`; panics when two claim one job.
async fn holders(client: &reqwest::Client, replicas: &[&Replica]) -> BTreeMap<String, String> {
    let mut holders = BTreeMap::new();
    for replica in replicas {
        for job in replica.jobs(client).await {
            if let Some(other) = holders.insert(job.clone(), replica.name.clone()) {
                panic!("job {job} runs on both {other} and {}", replica.name);
            }
        }
    }
    holders
}

/// The read-only login role `scripts/postgres-for-tests` makes, granted reads on the test's
/// database (the grants go with the database when the test drops it): a public replica's URL.
async fn read_only_url(db: &common::TestDb) -> String {
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let user: String = sqlx::query_scalar("SELECT current_user")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let reader = format!("{user}_reader");
    for statement in [
        format!("GRANT CONNECT ON DATABASE {database} TO {reader}"),
        format!("GRANT USAGE ON SCHEMA public TO {reader}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}"),
    ] {
        conn.execute(statement.as_str()).await.unwrap();
    }
    let rest = db.url.split_once("://").unwrap().1;
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("postgres://{reader}:{user}_reader@{host}")
}

#[tokio::test]
async fn a_change_through_one_replica_is_picked_on_the_others_even_when_its_notice_is_lost() {
    let Some(db) = common::postgres_db().await else {
        return;
    };
    let read_only = read_only_url(&db).await;
    let client = reqwest::Client::new();
    let workdir = db.workdir.path();
    let a = Replica::start("a", "all", &db.url, workdir, &FAST);
    let b = Replica::start("b", "all", &db.url, workdir, &FAST);
    let c = Replica::start("c", "public", &read_only, workdir, &FAST);

    let created = client
        .post(format!("{}/v1/admin/communities", a.address))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"slug": "forum", "name": "Forum"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for (n, wallet) in ["https://one.example/pay", "https://two.example/pay"]
        .iter()
        .enumerate()
    {
        one_entry_pool(&client, &a, wallet).await;
        let expected = wallet.to_string();
        for other in [&b, &c] {
            eventually(
                &format!("change {n} picked on {}", other.name),
                Duration::from_secs(30),
                async || (picked(&client, other).await.as_deref() == Some(&expected)).then_some(()),
            )
            .await;
        }
    }
    let notices = metric(&client, &b, "revshare_snapshot_notice_lag_seconds_count").await;
    assert!(notices >= 2.0, "b heard the changes by notice ({notices})");

    // Notices lost: the stamp still moves, and the comparison finds it.
    let fallback_before = metric(&client, &b, "revshare_snapshot_fallback_refreshes_total").await;
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    admin
        .execute("ALTER TABLE community_stamps DISABLE TRIGGER community_stamps_notify")
        .await
        .unwrap();
    one_entry_pool(&client, &a, "https://three.example/pay").await;
    for other in [&b, &c] {
        eventually(
            &format!("the unannounced change picked on {}", other.name),
            Duration::from_secs(30),
            async || {
                (picked(&client, other).await.as_deref() == Some("https://three.example/pay"))
                    .then_some(())
            },
        )
        .await;
    }
    let fallback_after = metric(&client, &b, "revshare_snapshot_fallback_refreshes_total").await;
    assert!(
        fallback_after > fallback_before,
        "the comparison refreshed b ({fallback_before} → {fallback_after})"
    );
    admin
        .execute("ALTER TABLE community_stamps ENABLE TRIGGER community_stamps_notify")
        .await
        .unwrap();

    // The public replica: public reads only, no jobs, and it never wrote (its role cannot).
    let ready: Value = client
        .get(format!("{}/readyz", c.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["role"], "public");
    assert_eq!(ready["jobs"], json!([]));
    let refused = client
        .post(format!("{}/v1/admin/communities", c.address))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"slug": "other", "name": "Other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        404,
        "a public replica takes no admin writes"
    );
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let jobs = holders(&client, &[&a, &b, &c]).await;
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<Vec<_>>(),
        JOBS,
        "every job runs, each on one replica"
    );
}

#[tokio::test]
async fn the_jobs_move_to_a_survivor_when_their_holder_dies_or_loses_its_lease_connection() {
    let Some(db) = common::postgres_db().await else {
        return;
    };
    let client = reqwest::Client::new();
    let workdir = db.workdir.path();
    let mut a = Replica::start("a", "all", &db.url, workdir, &FAST);
    let mut b = Replica::start("b", "worker", &db.url, workdir, &FAST);
    let c = Replica::start("c", "all", &db.url, workdir, &FAST);
    let first = holders(&client, &[&a, &b, &c]).await;
    assert!(
        first.values().all(|holder| holder == "a"),
        "the first replica up takes every job: {first:?}"
    );

    a.kill();
    let moved = eventually(
        "every job taken over after a was killed",
        Duration::from_secs(60),
        async || {
            let now = holders(&client, &[&b, &c]).await;
            (now.len() == JOBS.len()).then_some(now)
        },
    )
    .await;
    for (job, holder) in &moved {
        let survivor = if holder == "b" { &b } else { &c };
        let taken = survivor.logged(|l| {
            l["message"] == "job lease taken" && l["job"] == job.as_str() && l["takeover"] == true
        });
        assert_eq!(taken.len(), 1, "{holder} logged its takeover of {job} once");
    }
    let leases: Value = client
        .get(format!("{}/v1/oracle/jobs", c.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for lease in leases["leases"].as_array().unwrap() {
        let job = lease["job"].as_str().unwrap();
        assert_eq!(
            lease["holder"],
            moved[job].as_str(),
            "the record follows the holder"
        );
        assert_eq!(lease["token"], 2, "{job} was taken twice");
    }

    // The new holder's lease connection cut (the database restarted it, say): it stops its jobs
    // and the jobs run again, each on one replica.
    let holder = if moved.values().any(|h| h == "b") {
        &mut b
    } else {
        panic!("b, the worker, took some jobs: {moved:?}")
    };
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'revshare-leases' AND datname = current_database()",
        )
        .await
        .unwrap();
    holder.wait_for_log(Duration::from_secs(30), |l| {
        l["message"] == "job lease lost"
    });
    eventually(
        "every job runs again after the lease connections were cut",
        Duration::from_secs(60),
        async || (holders(&client, &[&b, &c]).await.len() == JOBS.len()).then_some(()),
    )
    .await;
}

#[tokio::test]
async fn replicas_started_together_migrate_the_database_once() {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        eprintln!("skipped on PostgreSQL: set {POSTGRES_URL_VAR} to run it");
        return;
    };
    let name = format!("revshare_t_empty_{}", std::process::id());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let workdir = tempfile::tempdir().unwrap();
    let mut together: Vec<Replica> = ["a", "b", "c"]
        .iter()
        .map(|id| Replica::spawn(id, "all", &url, workdir.path(), &FAST))
        .collect();
    for replica in &mut together {
        replica.wait_for_log(Duration::from_secs(60), |l| l["message"] == "listening");
    }
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(rows.len(), files, "each migration recorded once: {rows:?}");
    assert!(rows.iter().all(|(_, success)| *success));
    drop(together);
    conn.close().await.unwrap();
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_process_on_one_sqlite_file_is_refused_saying_why() {
    let db = common::sqlite_db().await;
    let workdir = db.workdir.path();
    let mut first = Replica::start("first", "all", &db.url, workdir, &[]);
    let mut second = Replica::spawn("second", "all", &db.url, workdir, &[]);
    let status = second.wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "the second process stops");
    let log = second.log_text();
    assert!(
        log.contains("SQLite serves one process at a time") && log.contains("PostgreSQL"),
        "it says why: {log}"
    );
    first.kill();
    Replica::start("third", "all", &db.url, workdir, &[]);
}
