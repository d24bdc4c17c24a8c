//! Database access. All SQL of the application lives in this module, one file per aggregate.
//!
//! SQLite (WAL, foreign keys, busy timeout) is the default backend; queries are written in
//! portable SQL so a PostgreSQL sibling can follow (see the README's architecture section).

pub mod accounts;
pub mod checkups;
pub mod jobs;
pub mod lectures;
pub mod login_sessions;
pub mod media;
pub mod registrations;
pub mod schedule;
pub mod throttle;
pub mod watch;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: SqlitePool,
    /// Write transactions of this process queue here before `BEGIN IMMEDIATE`: SQLite admits
    /// one writer at a time anyway, and waiting in a fair queue replaces SQLite's
    /// retry-and-sleep on a busy lock, which gave sign-ups a tail of up to a second under load
    /// (see BENCHMARKS.md). Other processes are still serialized by SQLite itself.
    write_queue: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction holding this process's place in the write queue.
pub(crate) type WriteTx = (
    tokio::sync::OwnedMutexGuard<()>,
    sqlx::Transaction<'static, sqlx::Sqlite>,
);

impl Db {
    /// Open (creating if missing) `DATA_DIR/pufa.db` and apply pending migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Db> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let path = data_dir.join("pufa.db");
        // synchronous=NORMAL in WAL mode: a committed transaction survives a crash of the
        // process (it is in the WAL file); only an OS crash or power loss can lose the last
        // commits. See BENCHMARKS.md for the durability setting the figures were taken with.
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // a local file does not go away between uses; skipping the ping saves a round trip
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("opening database {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("applying database migrations")?;
        Ok(Db {
            pool,
            write_queue: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE`) after taking this process's turn.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = self.write_queue.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((turn, tx))
    }

    /// A cheap query that proves the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Write a consistent copy of the database to `dest` (which must not exist).
    pub async fn backup_to(&self, dest: &Path) -> anyhow::Result<()> {
        let dest = dest
            .to_str()
            .context("backup path must be valid UTF-8")?
            .to_string();
        sqlx::query("VACUUM INTO ?")
            .bind(dest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// True when `e` is a unique-constraint violation (mapped to 409 by callers, without a pre-check
/// query that would race).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The column named in a SQLite unique violation message ("UNIQUE constraint failed: t.col").
pub fn unique_violation_column(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => db
            .message()
            .rsplit(": ")
            .next()
            .map(|cols| cols.split(", ").next().unwrap_or(cols).to_string()),
        _ => None,
    }
}
