//! What several replicas of one service share through PostgreSQL: job leases (advisory locks
//! held on a connection of their own, which the server drops, and with it the locks, when the
//! holder dies or stops answering), the change feed that keeps every replica's snapshots fresh
//! (`LISTEN` on the channel the triggers of migration 0014 notify), and the stamps a replica
//! compares when a notification may have been lost. SQLite serves one process, which
//! [`SingleProcessLock`] makes sure of.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection, PgConnection, Row};

use crate::domain::Timestamp;

use super::{Backend, Store, StoreError, redact_url};

/// The channel the change triggers notify.
const SNAPSHOT_CHANNEL: &str = "revshare_snapshot";

/// The first half of every job's advisory-lock key ("RSOR"), so the service's locks never meet
/// another application's on the same database.
const LOCK_CLASS: i32 = 0x5253_4f52;

/// A job's lease as the database records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// The job's name.
    pub job: String,
    /// The replica that took it last.
    pub holder: String,
    /// How many times it has been taken.
    pub token: i64,
    /// When it was taken last.
    pub acquired_at: Timestamp,
}

/// A lease just taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The lease's token now.
    pub token: i64,
    /// The replica that held it before, if any.
    pub previous: Option<String>,
    /// How long to wait before running the job: until the previous holder, whose lock may have
    /// been freed before it could notice, has surely stopped.
    pub wait: Duration,
}

/// The database's clock in milliseconds, for renewals every replica compares alike.
const DB_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// A connection of its own that holds this replica's job leases. The server ends the session,
/// releasing every lease, when the replica dies (its socket closes) or stops asking
/// (`idle_session_timeout`), so a replica that lost its network loses its leases by itself.
pub struct LeaseSession {
    conn: PgConnection,
    replica: String,
}

impl LeaseSession {
    /// Takes `job`'s lease (lock number `number`) if no replica holds it, recording this
    /// replica as its holder; `None` when another holds it. `fence` is how long after its last
    /// renewal another holder has surely stopped.
    pub async fn try_take(
        &mut self,
        job: &str,
        number: i32,
        at: Timestamp,
        fence: Duration,
    ) -> Result<Option<Taken>, StoreError> {
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(number)
            .fetch_one(&mut self.conn)
            .await?;
        if !taken {
            return Ok(None);
        }
        let before = sqlx::query(&format!(
            "SELECT holder, GREATEST(0, renewed_at_ms + $2 - {DB_NOW_MS}) AS wait_ms \
             FROM job_leases WHERE job = $1"
        ))
        .bind(job)
        .bind(i64::try_from(fence.as_millis()).unwrap_or(i64::MAX))
        .fetch_optional(&mut self.conn)
        .await?;
        let (previous, wait_ms) = match &before {
            Some(row) => (
                Some(row.try_get::<String, _>("holder")?),
                row.try_get::<i64, _>("wait_ms")?,
            ),
            None => (None, 0),
        };
        let token: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO job_leases (job, holder, token, acquired_at_ms, renewed_at_ms) \
             VALUES ($1, $2, 1, $3, {DB_NOW_MS}) \
             ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder, \
               token = job_leases.token + 1, acquired_at_ms = EXCLUDED.acquired_at_ms, \
               renewed_at_ms = EXCLUDED.renewed_at_ms \
             RETURNING token"
        ))
        .bind(job)
        .bind(&self.replica)
        .bind(at.millis())
        .fetch_one(&mut self.conn)
        .await?;
        let wait = match &previous {
            Some(holder) if *holder != self.replica => {
                Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0))
            }
            _ => Duration::ZERO,
        };
        Ok(Some(Taken {
            token,
            previous,
            wait,
        }))
    }

    /// Checks that the session still answers, and so that its leases are still held, and
    /// records the check on the leases this replica holds.
    pub async fn check(&mut self) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE job_leases SET renewed_at_ms = {DB_NOW_MS} WHERE holder = $1"
        ))
        .bind(&self.replica)
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    /// Ends the session, releasing every lease at once, and says so in the records, so the
    /// next holder need not wait out this replica's checks (a deploy's graceful stop).
    pub async fn close(mut self) {
        let _ = sqlx::query("UPDATE job_leases SET renewed_at_ms = 0 WHERE holder = $1")
            .bind(&self.replica)
            .execute(&mut self.conn)
            .await;
        let _ = self.conn.close().await;
    }
}

/// A notice that a community's configuration changed on some replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeNotice {
    /// The community's database id.
    pub community_id: i64,
    /// When the writing transaction started, by the database's clock.
    pub written_at: Timestamp,
}

/// The feed of committed configuration changes, from every replica.
pub struct ChangeFeed {
    listener: PgListener,
}

impl ChangeFeed {
    /// The next notice; `None` when the connection was lost (notices may have been missed; the
    /// next call reconnects).
    pub async fn next(&mut self) -> Result<Option<ChangeNotice>, StoreError> {
        let Some(notification) = self.listener.try_recv().await? else {
            return Ok(None);
        };
        let payload = notification.payload();
        let parsed = payload.split_once(':').and_then(|(id, at)| {
            Some(ChangeNotice {
                community_id: id.parse().ok()?,
                written_at: Timestamp(at.parse().ok()?),
            })
        });
        parsed
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("change notice `{payload}`")))
    }
}

impl Store {
    fn postgres_options(&self, application: &str) -> Result<PgConnectOptions, StoreError> {
        let url = self.url.expose_secret();
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Connect {
            url: redact_url(url),
            source,
        })?;
        Ok(options.application_name(application))
    }

    /// Opens the connection that holds `replica`'s job leases, which the server ends after
    /// `timeout` without a query. PostgreSQL only.
    pub async fn lease_session(
        &self,
        replica: &str,
        timeout: Duration,
    ) -> Result<LeaseSession, StoreError> {
        self.require_postgres("job leases")?;
        let options = self.postgres_options("revshare-leases")?;
        let mut conn = PgConnection::connect_with(&options).await?;
        sqlx::query(&format!(
            "SET idle_session_timeout = {}",
            timeout.as_millis()
        ))
        .execute(&mut conn)
        .await?;
        Ok(LeaseSession {
            conn,
            replica: replica.to_string(),
        })
    }

    /// Starts listening for committed configuration changes. PostgreSQL only.
    pub async fn change_feed(&self) -> Result<ChangeFeed, StoreError> {
        self.require_postgres("the change feed")?;
        let options = self.postgres_options("revshare-changes")?;
        let mut listener =
            PgListener::connect_with(&sqlx::PgPool::connect_lazy_with(options)).await?;
        listener.listen(SNAPSHOT_CHANNEL).await?;
        Ok(ChangeFeed { listener })
    }

    /// Every community's change stamp, for the fallback comparison; empty on SQLite, where one
    /// process writes and refreshes its own snapshots.
    pub async fn community_stamps(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("SELECT community_id, stamp FROM community_stamps")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("community_id")?, row.try_get("stamp")?)))
            .collect()
    }

    /// One community's change stamp (0 on SQLite, or before its first change).
    pub async fn community_stamp(&self, community_id: i64) -> Result<i64, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        let stamp: Option<i64> =
            sqlx::query_scalar("SELECT stamp FROM community_stamps WHERE community_id = $1")
                .bind(community_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(stamp.unwrap_or(0))
    }

    /// Every job's lease record, by job; empty on SQLite, where one process runs every job.
    pub async fn job_leases(&self) -> Result<Vec<LeaseRecord>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query("SELECT job, holder, token, acquired_at_ms FROM job_leases ORDER BY job")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(LeaseRecord {
                    job: row.try_get("job")?,
                    holder: row.try_get("holder")?,
                    token: row.try_get("token")?,
                    acquired_at: Timestamp(row.try_get("acquired_at_ms")?),
                })
            })
            .collect()
    }

    fn require_postgres(&self, what: &'static str) -> Result<(), StoreError> {
        match self.backend {
            Backend::Postgres => Ok(()),
            Backend::Sqlite => Err(StoreError::NeedsPostgres(what)),
        }
    }
}

/// An exclusive lock on an SQLite database file, held while one process serves it: a second
/// process on the same file would run every job twice, so it is refused at start.
#[derive(Debug)]
pub struct SingleProcessLock {
    _file: Option<File>,
}

impl SingleProcessLock {
    /// Locks the SQLite file `url` names (creating it, and its folder, when missing); nothing to
    /// lock for PostgreSQL or an in-memory database.
    pub fn acquire(url: &str) -> Result<Self, StoreError> {
        let Some(path) = sqlite_file(url) else {
            return Ok(SingleProcessLock { _file: None });
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: path.display().to_string(),
                source,
            })?;
        }
        let in_use = |detail: String| StoreError::SqliteInUse {
            path: path.display().to_string(),
            detail,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| in_use(e.to_string()))?;
        match file.try_lock() {
            Ok(()) => Ok(SingleProcessLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(in_use("another process is serving it".into()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(in_use(e.to_string())),
        }
    }
}

/// The file an `sqlite:` URL names, unless it is in memory or not SQLite.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    (path != ":memory:" && !path.is_empty()).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_sqlite_file_is_refused_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("sub/x.db").display()
        );
        let first = SingleProcessLock::acquire(&url).expect("the first serves");
        let second = SingleProcessLock::acquire(&url).expect_err("the second is refused");
        let message = second.to_string();
        assert!(
            message.contains("another process is serving it"),
            "{message}"
        );
        assert!(message.contains("PostgreSQL"), "{message}");
        drop(first);
        SingleProcessLock::acquire(&url).expect("free again once the first stops");
    }

    #[test]
    fn only_sqlite_files_are_locked() {
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/x"), None);
        assert_eq!(
            sqlite_file("sqlite://data/x.db?mode=rwc"),
            Some(PathBuf::from("data/x.db"))
        );
    }
}
