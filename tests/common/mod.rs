//! Test databases: a fresh SQLite file per test, and a fresh PostgreSQL database per test when
//! `REVSHARE_TEST_POSTGRES_URL` names a server (the PostgreSQL half of each suite is skipped,
//! with a note on stderr, when it does not).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use revshare_oracle::store::Store;
use sqlx::{Connection, Executor, PgConnection};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "REVSHARE_TEST_POSTGRES_URL";

/// A store and the URL it was opened from, with whatever keeps it alive.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A store on a new SQLite file.
pub async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("revshare.db").display());
    let store = Store::connect(&url).await.expect("the SQLite store opens");
    TestDb { store, url, _dir: Some(dir) }
}

/// A store on a new PostgreSQL database, or `None` when no server was given.
pub async fn postgres_db() -> Option<TestDb> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        eprintln!("skipped on PostgreSQL: set {POSTGRES_URL_VAR} to run it");
        return None;
    };
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "revshare_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but the server refused: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("a test database can be created");
    let base = admin_url.rsplit_once('/').expect("the URL names a database").0;
    let url = format!("{base}/{name}");
    let store = Store::connect(&url).await.expect("the PostgreSQL store opens");
    Some(TestDb { store, url, _dir: None })
}

/// Runs each named `async fn(TestDb)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::sqlite_db().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = $crate::common::postgres_db().await else { return };
                    super::$name(db).await;
                }
            )*
        }
    };
}
