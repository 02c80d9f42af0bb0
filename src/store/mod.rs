//! Persistence with sqlx: SQLite by default, PostgreSQL when the URL says `postgres://`.
//!
//! One set of queries serves both through sqlx's `Any` driver: placeholders are `$n`, times are
//! integer milliseconds, JSON is text. Each aggregate has its own module. History tables are
//! append-only, enforced by database triggers as well as by the absence of any update here.

mod actions;
mod chain;
mod chain_rows;
mod communities;
mod config;
mod deliveries;
mod loomio_hints;
mod loomio_sources;
mod members;
mod policies;
mod pools;
mod reconciliation;
mod relay;
mod replicas;
mod reports;
mod scheduler;
mod signer_timeline;
mod sources;
mod splits;
mod votes;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::domain::{CommunitySlug, PoolName};

pub use actions::{
    ActionAttempt, ActionKind, ActionState, AttemptOutcome, NewAction, StoredAction,
};
pub use chain::{
    BlockHeader, Confirmation, IndexBatch, IndexCursor, IndexedContract, IndexedEvent, RolledBack,
};
pub use communities::CommunityRow;
pub use deliveries::{DeliveryCounts, DeliveryTx, NewDelivery, PendingDelivery, StoredDelivery};
pub use loomio_hints::HintRecord;
pub use members::WalletHistoryEntry;
pub use policies::{DecisionLink, EvaluationRecord, ProposalState, StoredDecision, StoredProposal};
pub use pools::VersionSize;
pub use relay::Reissue;
pub use replicas::{ChangeFeed, ChangeNotice, LeaseRecord, LeaseSession, SingleProcessLock, Taken};
pub use reports::{RelayStatus, StoredReport, StoredSigned};
pub use scheduler::PendingWalletChange;
pub use signer_timeline::SignerTimeline;
pub use votes::{EvidenceDocument, NewVote, Reading, ReadingOutcome, VoteRecord};

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// What went wrong in the store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database.
    #[error("database URL must start with `sqlite:` or `postgres://`, found `{0}`")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder for {path}: {source}")]
    CreateDir {
        /// The folder.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The schema could not be brought up to date.
    #[error("database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A community with this slug exists already.
    #[error("community `{0}` already exists")]
    CommunityExists(CommunitySlug),
    /// No community with this slug.
    #[error("no community `{0}`")]
    UnknownCommunity(CommunitySlug),
    /// Split rules name a pool the community does not have.
    #[error("the split rules name pool `{0}`, which the community does not have yet")]
    UnknownPool(PoolName),
    /// Another writer recorded a version at the same moment.
    #[error("another change to {0} was recorded at the same time; read it and try again")]
    Conflict(String),
    /// A policy text was refused, or would leave the policies in force incoherent.
    #[error(transparent)]
    PolicyRefused(#[from] crate::policy::PolicyError),
    /// A stored value no longer parses: the database was changed outside the service.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The oracle could not sign the report of a change, so the change was not stored.
    #[error("the change was not stored: {0}")]
    Oracle(#[source] Box<crate::oracle::OracleError>),
    /// A second process tried to serve one SQLite file.
    #[error(
        "cannot serve {path}: {detail}; SQLite serves one process at a time: stop the other, or \
         run several replicas on PostgreSQL"
    )]
    SqliteInUse {
        /// The database file.
        path: String,
        /// Why it could not be locked.
        detail: String,
    },
    /// A feature of several replicas was asked of SQLite.
    #[error("{0} needs PostgreSQL")]
    NeedsPostgres(&'static str),
    /// The schema is older than this build, and this replica may not migrate it.
    #[error(
        "the database schema is at migration {found} and this build needs {needed}: start a \
         replica with the worker role (or `all`) to migrate it"
    )]
    SchemaBehind {
        /// The newest migration applied.
        found: i64,
        /// The newest migration this build has.
        needed: i64,
    },
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Kept for the connections of their own that leases and the change feed need.
    url: SecretString,
}

impl Store {
    /// Opens the database (creating an SQLite file and its folder on first run) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::open(url).await?;
        store.migrator().run(&store.pool).await?;
        Ok(store)
    }

    /// Opens the database without migrating it, for a replica whose role may not (or whose
    /// database role cannot) change the schema; refuses a schema older than this build's.
    pub async fn connect_migrated(url: &str) -> Result<Self, StoreError> {
        let store = Self::open(url).await?;
        let needed = store
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&store.pool)
                .await
                .unwrap_or(None);
        let found = found.unwrap_or(0);
        if found < needed {
            return Err(StoreError::SchemaBehind { found, needed });
        }
        Ok(store)
    }

    fn migrator(&self) -> sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        }
    }

    async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let connect_error = |source| StoreError::Connect {
            url: redact_url(&url),
            source,
        };
        let options = AnyConnectOptions::from_str(&url).map_err(connect_error)?;
        let mut pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool_options = pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(Store {
            pool,
            backend,
            url: SecretString::from(url),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection, for a clean shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// Creates the SQLite file's folder and asks for the file to be created when missing.
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
            path: path.to_string(),
            source,
        })?;
    }
    if query.split('&').any(|kv| kv.starts_with("mode=")) {
        Ok(url.to_string())
    } else if query.is_empty() {
        Ok(format!("sqlite://{path}?mode=rwc"))
    } else {
        Ok(format!("sqlite://{path}?{query}&mode=rwc"))
    }
}

/// The URL with its secrets replaced by `***`: the password in the userinfo, and the value of any
/// query parameter that carries one (`password`, `sslpassword`, `passwd`, `pwd`), which
/// PostgreSQL's drivers accept as well.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{user}:***{}", &rest[at..])
        }
        None => rest.to_string(),
    };
    let Some((before, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _))
                if ["password", "sslpassword", "passwd", "pwd"]
                    .iter()
                    .any(|secret| key.eq_ignore_ascii_case(secret)) =>
            {
                format!("{key}=***")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{scheme}://{before}?{}", query.join("&"))
}

/// Whether an error is a unique-key violation: another writer took the same version number.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact_url("postgres://oracle:s3cret@db:5432/revshare"),
            "postgres://oracle:***@db:5432/revshare"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(
            redact_url("postgres://db/revshare?user=oracle&Password=s3cret&sslmode=require"),
            "postgres://db/revshare?user=oracle&Password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://oracle:s3cret@db?sslpassword=k3y"),
            "postgres://oracle:***@db?sslpassword=***"
        );
    }

    #[test]
    fn sqlite_urls_ask_for_creation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", path.display())).unwrap();
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(path.parent().unwrap().is_dir());
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(matches!(
            backend_of("mysql://x"),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }
}
