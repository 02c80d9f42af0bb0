//! Test databases: a fresh SQLite file per test, and a fresh PostgreSQL database per test when
//! `TEST_POSTGRES_URL` names a server (the PostgreSQL half of each suite is skipped,
//! with a note on stderr, when it does not).

use std::sync::atomic::{AtomicU32, Ordering};

use revshare_oracle::store::Store;
use sqlx::{Connection, Executor, PgConnection};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "TEST_POSTGRES_URL";

/// A store and the URL it was opened from, with whatever keeps it alive.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    /// The working directory for a service process spawned on this database, so that its
    /// relative defaults (the oracle key generated in `data/`) stay out of the checkout and
    /// survive the process's restarts within one test.
    pub workdir: tempfile::TempDir,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server's admin URL and this test's database on it, dropped with the test.
    postgres: Option<(String, String)>,
}

impl Drop for TestDb {
    /// Drops the test's PostgreSQL database (forcing out the connections a service may still
    /// hold), so runs leave no databases behind. A drop that fails is reported, not fatal:
    /// `scripts/postgres-for-tests` removes leftovers too.
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the drop");
            runtime.block_on(async {
                let drop_it = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let mut admin = PgConnection::connect(&admin_url).await?;
                // A pool may be reconnecting as its connections are forced out: try once more.
                if admin.execute(drop_it.as_str()).await.is_err() {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    admin.execute(drop_it.as_str()).await?;
                }
                Ok::<(), sqlx::Error>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("the test database was not dropped: {e}"),
            Err(_) => eprintln!("dropping the test database panicked"),
        }
    }
}

fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary working directory")
}

/// A store on a new SQLite file.
pub async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("revshare.db").display());
    let store = Store::connect(&url).await.expect("the SQLite store opens");
    TestDb {
        store,
        url,
        workdir: workdir(),
        _dir: Some(dir),
        postgres: None,
    }
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
    let base = admin_url
        .rsplit_once('/')
        .expect("the URL names a database")
        .0;
    let url = format!("{base}/{name}");
    let store = Store::connect(&url)
        .await
        .expect("the PostgreSQL store opens");
    Some(TestDb {
        store,
        url,
        workdir: workdir(),
        _dir: None,
        postgres: Some((admin_url, name)),
    })
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

/// The admin token every test app is configured with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A service built on a test database, driven in-process through its router.
pub struct TestApp {
    pub router: axum::Router,
    pub state: revshare_oracle::server::Service,
    pub db: TestDb,
}

/// Stops a test service's workers and starts it again on the same database with a new config.
pub async fn restart(
    first: TestApp,
    adjust: impl FnOnce(&mut revshare_oracle::config::Config),
) -> TestApp {
    let TestApp { router, state, db } = first;
    state.workers.ingest.stop().await;
    state.workers.relayer.stop().await;
    state.workers.reconciler.stop().await;
    drop(router);
    drop(state);
    app(db, adjust).await
}

/// The service's current entries of a pool, as its public API shows them: (wallet, weight).
pub async fn service_entries(app: &TestApp, community: &str, pool: &str) -> Vec<(String, u64)> {
    let reply = app
        .get(&format!("/v1/communities/{community}/pools/{pool}"))
        .await;
    assert_eq!(reply.status, 200);
    reply.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["wallet"].as_str().unwrap().to_string(),
                e["weight"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The community's signed reports, oldest first.
pub async fn community_reports(app: &TestApp, community: &str) -> Vec<serde_json::Value> {
    let reply = app
        .get(&format!("/v1/communities/{community}/reports?limit=100"))
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let mut reports = reply.json().as_array().unwrap().clone();
    reports.reverse();
    reports
}

/// Asks the service to rotate the oracle's signer set to `signers`, `threshold` of them needed;
/// returns the signed rotation (202) as the API gives it.
pub async fn rotate_signers(
    app: &TestApp,
    signers: &[alloy::primitives::Address],
    threshold: u8,
) -> serde_json::Value {
    let signers: Vec<String> = signers.iter().map(ToString::to_string).collect();
    let rotation = app
        .admin(
            "PUT",
            "/v1/admin/oracle/signers",
            serde_json::json!({"signers": signers, "threshold": threshold}),
        )
        .await;
    assert_eq!(
        rotation.status,
        202,
        "{}",
        String::from_utf8_lossy(&rotation.body)
    );
    rotation.json()
}

/// Builds the service on `db`, with the admin token set and `adjust` applied to the config.
pub async fn app(db: TestDb, adjust: impl FnOnce(&mut revshare_oracle::config::Config)) -> TestApp {
    app_on_clock(db, revshare_oracle::clock::Clock::system(), adjust).await
}

/// As [`app`], with the service reading the time from `clock` (a manual one the test moves).
pub async fn app_on_clock(
    db: TestDb,
    clock: revshare_oracle::clock::Clock,
    adjust: impl FnOnce(&mut revshare_oracle::config::Config),
) -> TestApp {
    let mut config = revshare_oracle::config::Config {
        database_url: db.url.clone(),
        admin_token: Some(ADMIN_TOKEN.to_string().into()),
        ..Default::default()
    };
    // Suites about the oracle turn it on with their own keys and chain.
    config.oracle.enabled = false;
    // Suites about policies turn the scheduler on, or drive its passes themselves.
    config.policy.worker = false;
    adjust(&mut config);
    let state = revshare_oracle::server::Service::build_with_clock(config, clock)
        .await
        .expect("the service starts");
    TestApp {
        router: state.router(),
        state,
        db,
    }
}

/// A response as tests read it.
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem-details answer of this status and type slug; returns its JSON.
    pub fn assert_problem(&self, status: u16, slug: &str) -> serde_json::Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let json = self.json();
        assert_eq!(json["type"], format!("/problems/{slug}"), "{json}");
        assert_eq!(json["status"], status, "{json}");
        assert!(
            json["title"].is_string() && json["detail"].is_string(),
            "{json}"
        );
        json
    }
}

impl TestApp {
    /// Sends a request and reads the whole answer.
    pub async fn send(&self, request: axum::http::Request<axum::body::Body>) -> Reply {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    /// A GET.
    pub async fn get(&self, uri: &str) -> Reply {
        self.send(
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
    }

    /// An admin read with the right token.
    pub async fn get_admin(&self, uri: &str) -> Reply {
        self.send(
            axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
    }

    /// An admin write with a JSON body and the right token.
    pub async fn admin(&self, method: &str, uri: &str, body: serde_json::Value) -> Reply {
        self.send(
            axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Creates a community and sets its pools, asserting each step succeeds.
    pub async fn seed(&self, slug: &str, pools: &[(&str, serde_json::Value)]) {
        let created = self
            .admin(
                "POST",
                "/v1/admin/communities",
                serde_json::json!({"slug": slug, "name": slug}),
            )
            .await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        for (pool, entries) in pools {
            let put = self
                .admin(
                    "PUT",
                    &format!("/v1/admin/communities/{slug}/pools/{pool}"),
                    serde_json::json!({"entries": entries}),
                )
                .await;
            assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
        }
    }
}
