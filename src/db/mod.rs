//! Database access. All SQL of the application lives in this module, one file per aggregate.
//!
//! SQLite (WAL, foreign keys, busy timeout) is the default backend; queries are written in
//! portable SQL so a PostgreSQL sibling can follow (see the README's architecture section).

pub mod accounts;
pub mod advisors;
pub mod audit;
pub mod backup;
pub mod captions;
pub mod certificates;
pub mod checkups;
pub mod claims;
pub mod contacts;
pub mod deliveries;
pub mod followups;
pub mod inbox;
pub mod jobs;
pub mod lawyers;
pub mod lecturers;
pub mod lectures;
pub mod live;
pub mod live_views;
pub mod login_sessions;
pub mod metrics;
pub mod month;
pub mod notifications;
pub mod outbox_admin;
pub mod planning;
pub mod qa_entries;
pub mod questions;
pub mod registrations;
pub mod reminders;
pub mod schedule;
pub mod self_service;
pub mod throttle;
pub mod watch;
pub(crate) mod writer;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

mod types;
pub(crate) use types::RowExt;
pub use types::{day, ts, Day, Flag, Json, OptDay, OptTs, Ts};

/// The database engine behind a [`Db`]. Only this module and its files look at it (to pick a
/// lock clause or a search expression); use cases never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file in the data directory.
    Sqlite,
    /// A PostgreSQL server (`postgres://…`), for several replicas and workers.
    Postgres,
}

impl Backend {
    /// The engine `conn` speaks to (for helpers that are handed a connection).
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Appended to a `SELECT` of rows the transaction will change: `FOR UPDATE` on PostgreSQL,
    /// nothing on SQLite, whose write transactions exclude each other already.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to the `SELECT` of a row to claim: on PostgreSQL, claimers at the same moment
    /// take different rows instead of queueing on the first one's lock.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Write transactions of this process queue here before they begin: SQLite admits one
    /// writer at a time anyway, and waiting in a fair queue replaces SQLite's
    /// retry-and-sleep on a busy lock, which gave sign-ups a tail of up to a second under load
    /// (see BENCHMARKS.md). Other processes are still serialized by the database itself.
    write_queue: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Wakes this process's delivery workers after a transaction stored notifications
    /// (workers also poll, for notifications written by other processes).
    outbox: std::sync::Arc<tokio::sync::Notify>,
    /// One more connection, on a thread of its own, that runs a sign-up's or a cancellation's
    /// whole transaction as one hand-off ([`writer`]; BENCHMARKS.md, "One hand-off per
    /// sign-up").
    writer: writer::Writer,
}

/// A write transaction holding this process's place in the write queue.
pub(crate) type WriteTx = (
    tokio::sync::OwnedMutexGuard<()>,
    sqlx::Transaction<'static, sqlx::Any>,
);

/// Key of the PostgreSQL advisory lock every [`Db::begin_write`] transaction holds: writers
/// take turns across all processes, as SQLite's `BEGIN IMMEDIATE` makes them do. The hot paths
/// lock rows besides: a sign-up batch its sessions' rows, and a job claim skips locked jobs.
pub(crate) const WRITE_LOCK: i64 = 0x7075_6661; // "pufa"

impl Db {
    /// Open (creating if missing) `DATA_DIR/pufa.db` and apply pending migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Db> {
        Db::connect(None, data_dir).await
    }

    /// Open the database at `url` (`postgres://…` or `sqlite:PATH`), or `DATA_DIR/pufa.db` when
    /// there is none, and apply pending migrations.
    pub async fn connect(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        match url {
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                Db::open_postgres(url).await
            }
            Some(url) => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .with_context(|| {
                        "the database URL must start with postgres:// or sqlite:".to_string()
                    })?;
                Db::open_sqlite(Path::new(path)).await
            }
            None => {
                std::fs::create_dir_all(data_dir)
                    .with_context(|| format!("creating data directory {}", data_dir.display()))?;
                Db::open_sqlite(&data_dir.join("pufa.db")).await
            }
        }
    }

    async fn open_sqlite(path: &Path) -> anyhow::Result<Db> {
        // synchronous=NORMAL in WAL mode: a committed transaction survives a crash of the
        // process (it is in the WAL file); only an OS crash or power loss can lose the last
        // commits. See BENCHMARKS.md for the durability setting the figures were taken with.
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // deleted rows are overwritten, not left in free pages: an enterprise that deletes
            // its check-up (written admissions) must be able to rely on it being gone
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        // The pool speaks through sqlx's `Any` driver, which takes a URL; the pragmas the URL
        // cannot carry are set on each new connection (WAL is a property of the file, set
        // once by the writer's connection below, which uses `options` itself).
        let writer_conn = options
            .connect()
            .await
            .with_context(|| format!("opening database {}", path.display()))?;
        drop(writer_conn);
        let url = format!("sqlite://{}", path.display());
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            // a local file does not go away between uses; skipping the ping saves a round trip
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                         PRAGMA secure_delete = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(AnyConnectOptions::from_str(&url)?)
            .await
            .with_context(|| format!("opening database {}", path.display()))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .context("applying database migrations")?;
        let write_queue = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let writer = writer::Writer::start_sqlite(&options, write_queue.clone())
            .await
            .with_context(|| format!("opening the database writer for {}", path.display()))?;
        Ok(Db {
            pool,
            backend: Backend::Sqlite,
            write_queue,
            outbox: Default::default(),
            writer,
        })
    }

    async fn open_postgres(url: &str) -> anyhow::Result<Db> {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .connect_with(AnyConnectOptions::from_str(url)?)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .context("applying database migrations")?;
        let write_queue = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let writer = writer::Writer::start_postgres(url, write_queue.clone())
            .await
            .context("opening the database writer on PostgreSQL")?;
        Ok(Db {
            pool,
            backend: Backend::Postgres,
            write_queue,
            outbox: Default::default(),
            writer,
        })
    }

    /// Which engine this is (for the database module's own SQL choices).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begin a write transaction after taking this process's turn: `BEGIN IMMEDIATE` on
    /// SQLite; on PostgreSQL a transaction holding the writers' advisory lock, so writers of
    /// all processes take turns as on SQLite.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = self.write_queue.clone().lock_owned().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        Ok((turn, tx))
    }

    /// The start of a condition "the JSON array in `column` holds the next bound value"; the
    /// caller binds the value and closes one parenthesis.
    pub(crate) fn json_array_contains(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each({column}) j WHERE j.value = ")
            }
            Backend::Postgres => format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}::jsonb) j WHERE j = "
            ),
        }
    }

    /// A condition on the rows of the search table `table` (columns `columns`): they contain
    /// `text`. SQLite: an FTS5 trigram phrase query, or `LIKE` for text under three characters,
    /// which a trigram index cannot match. PostgreSQL: `ILIKE` on each column, which the
    /// tables' `pg_trgm` GIN indexes answer (README, "Search").
    pub(crate) fn push_text_search(
        &self,
        q: &mut types::Sql<'_>,
        columns: &[&str],
        table: &str,
        text: &str,
    ) {
        let like = format!("%{}%", text.replace(['%', '_', '\\'], ""));
        let op = match self.backend {
            Backend::Sqlite if text.chars().count() >= 3 => {
                // a phrase query: quotes doubled so user input cannot inject FTS syntax
                q.push(table)
                    .push(" MATCH ")
                    .push_bind(format!("\"{}\"", text.replace('"', "\"\"")));
                return;
            }
            Backend::Sqlite => " LIKE ",
            Backend::Postgres => " ILIKE ",
        };
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push(column).push(op).push_bind(like.clone());
        }
    }

    /// Run `f` as one write transaction on the writer thread, in this process's write queue,
    /// and wake the delivery workers after it committed (it may have stored notifications).
    /// One hand-off for the whole transaction instead of one per statement; writes queued at
    /// the same time share one commit (`db/writer.rs`, group commit).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, sqlx::Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&mut writer::WriterConn<'c>) -> Result<T, sqlx::Error> + Send + 'static,
    {
        let outbox = self.outbox.clone();
        self.writer
            .transaction(move || outbox.notify_waiters(), f)
            .await
    }

    /// Tell this process's delivery workers that notifications were committed. Call it after
    /// the commit of a transaction that called [`notifications::enqueue`].
    pub fn wake_outbox(&self) {
        self.outbox.notify_waiters();
    }

    /// The signal [`Db::wake_outbox`] sends (delivery workers wait on it between polls).
    pub fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// A cheap query that proves the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close the pool (tests and `restore` reopen the database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Write a consistent copy of the database to `dest` (which must not exist). SQLite only:
    /// a PostgreSQL database is backed up with its own tools (`pg_dump`).
    pub async fn backup_to(&self, dest: &Path) -> anyhow::Result<()> {
        if self.backend == Backend::Postgres {
            anyhow::bail!(
                "pufa backup copies a SQLite database; back PostgreSQL up with pg_dump \
                 and the media store with its own tools"
            );
        }
        let dest = dest
            .to_str()
            .context("backup path must be valid UTF-8")?
            .to_string();
        sqlx::query("VACUUM INTO $1")
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

/// A staff login name is taken.
pub const USERS_USERNAME_KEY: &str = "users_username_key";
/// An enterprise with this credit code is registered.
pub const ENTERPRISES_USCC_KEY: &str = "enterprises_uscc_key";
/// An enterprise with this mobile number is registered.
pub const ENTERPRISES_MOBILE_KEY: &str = "enterprises_mobile_key";
/// A claim for this credit code by this contact is open already.
pub const CLAIMS_ONE_OPEN_KEY: &str = "claims_one_open";

/// The stable name of every unique constraint of the schema, by the `table.column[, …]` SQLite
/// names in its message ("UNIQUE constraint failed: enterprises.mobile"). SQLite does not
/// report constraint names (sqlx's `constraint()` is `None` there), so this table gives each
/// one the name PostgreSQL gives it by default (`<table>_<columns>_key`, `<table>_pkey`) or the
/// name of its `CREATE UNIQUE INDEX`; a PostgreSQL backend reports the same names itself.
const UNIQUE_CONSTRAINTS: &[(&str, &str)] = &[
    ("users.username", USERS_USERNAME_KEY),
    ("enterprises.user_id", "enterprises_pkey"),
    ("enterprises.uscc", ENTERPRISES_USCC_KEY),
    ("enterprises.mobile", ENTERPRISES_MOBILE_KEY),
    (
        "enterprises.calendar_token",
        "enterprises_calendar_token_key",
    ),
    ("login_sessions.token_hash", "login_sessions_pkey"),
    ("login_failures.scope", "login_failures_pkey"),
    ("lecturers.name, lecturers.firm", "lecturers_name_firm_key"),
    (
        "registrations.session_id, registrations.enterprise_id",
        "registrations_active",
    ),
    ("questionnaires.version", "questionnaires_pkey"),
    ("checkups.enterprise_id", "checkups_one_draft"),
    (
        "checkup_consents.enterprise_id, checkup_consents.version, checkup_consents.notice",
        "checkup_consents_enterprise_id_version_notice_key",
    ),
    ("lectures.session_id", "lectures_session_id_key"),
    (
        "watch_progress.user_id, watch_progress.lecture_id",
        "watch_progress_pkey",
    ),
    ("claims.uscc, claims.contact_key", CLAIMS_ONE_OPEN_KEY),
    ("claims.token_hash", "claims_token_hash_key"),
];

/// The stable name of the unique constraint `e` violated (see [`UNIQUE_CONSTRAINTS`]), for
/// callers that turn a particular violation into a message of their own. `None` when `e` is
/// not a unique violation. A violation of a constraint missing from the table is named by
/// what the database reported, prefixed with `unlisted:`, so it matches no caller's name.
pub fn violated_unique_constraint(e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    if let Some(name) = db.constraint() {
        return Some(name.to_string());
    }
    let message = db.message();
    let columns = message.split_once(": ").map_or(message, |(_, cols)| cols);
    Some(
        UNIQUE_CONSTRAINTS
            .iter()
            .find(|(reported, _)| *reported == columns)
            .map(|(_, name)| (*name).to_string())
            .unwrap_or_else(|| format!("unlisted:{columns}")),
    )
}

/// Test support: a database in `dir` with the migrations before `version` applied, and the
/// migrator of all of them, so a test can seed rows in the old schema and then migrate.
#[cfg(test)]
pub(crate) async fn migrated_before(
    dir: &Path,
    version: i64,
) -> (sqlx::SqlitePool, sqlx::migrate::Migrator) {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("pufa.db"))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("pool");
    let all = sqlx::migrate!("./migrations/sqlite");
    let mut before = sqlx::migrate!("./migrations/sqlite");
    before.migrations = all
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&pool).await.expect("the earlier migrations");
    (pool, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn violation(db: &Db, sql: &str) -> sqlx::Error {
        sqlx::query(sql)
            .execute(&db.pool)
            .await
            .expect_err("must violate a unique constraint")
    }

    #[tokio::test]
    async fn unique_violations_are_named_by_constraint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (1, 'organizer', 'admin', 'A', 'x', '2026-12-01T00:00:00Z'),
                    (2, 'enterprise', NULL, 'E', 'x', '2026-12-01T00:00:00Z'),
                    (3, 'enterprise', NULL, 'F', 'x', '2026-12-01T00:00:00Z');
             INSERT INTO enterprises (user_id, name, uscc, industry, contact_name, mobile,
                                      calendar_token)
             VALUES (2, 'E', 'U1', 'C', 'c', '13800000001', 't1')",
        )
        .execute(&db.pool)
        .await
        .expect("seed");
        let named = |e: sqlx::Error| violated_unique_constraint(&e);
        let insert = |uscc: &str, mobile: &str, token: &str| {
            format!(
                "INSERT INTO enterprises (user_id, name, uscc, industry, contact_name, mobile,
                                          calendar_token)
                 VALUES (3, 'F', '{uscc}', 'C', 'c', '{mobile}', '{token}')"
            )
        };
        assert_eq!(
            named(violation(&db, &insert("U1", "13800000002", "t2")).await).as_deref(),
            Some(ENTERPRISES_USCC_KEY)
        );
        assert_eq!(
            named(violation(&db, &insert("U2", "13800000001", "t2")).await).as_deref(),
            Some(ENTERPRISES_MOBILE_KEY)
        );
        assert_eq!(
            named(violation(&db, &insert("U2", "13800000002", "t1")).await).as_deref(),
            Some("enterprises_calendar_token_key")
        );
        let taken = "INSERT INTO users (role, username, display_name, password_hash, created_at)
                     VALUES ('lawyer', 'admin', 'B', 'x', '2026-12-01T00:00:00Z')";
        assert_eq!(
            named(violation(&db, taken).await).as_deref(),
            Some(USERS_USERNAME_KEY)
        );
        let not_unique = sqlx::query("SELECT * FROM no_such_table")
            .execute(&db.pool)
            .await
            .expect_err("no table");
        assert_eq!(violated_unique_constraint(&not_unique), None);
    }

    /// Migration 0007 rebuilds `lectures` and `jobs` (new CHECK constraints): the lectures,
    /// their jobs and everyone's watch progress written before it must all survive, and the
    /// foreign keys must still cascade afterwards.
    #[tokio::test]
    async fn the_live_migration_keeps_lectures_jobs_and_watch_progress() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pool, all) = migrated_before(dir.path(), 7).await;
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (1, 'enterprise', NULL, 'E', 'x', '2026-11-01T00:00:00Z');
             INSERT INTO programs (id, title, starts_on, ends_on, timezone, slots, blackout_dates,
                                   created_at, updated_at)
             VALUES (1, 'P', '2026-11-01', '2026-11-30', 'Asia/Shanghai', '[]', '[]',
                     '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z');
             INSERT INTO lecturers (id, name, firm) VALUES (1, 'L', 'F');
             INSERT INTO lecture_sessions (id, program_id, title, category, lecturer_id, minutes,
                                           capacity, created_at, updated_at)
             VALUES (1, 1, 'S', 'C', 1, 90, 10, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z');
             INSERT INTO lectures (id, session_id, visibility, hls_path, duration_s, published_at,
                                   created_at, updated_at)
             VALUES (1, 1, 'public', 'lectures/1/v1', 12.5, '2026-11-02T00:00:00Z',
                     '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z');
             INSERT INTO jobs (id, kind, lecture_id, input_path, state, created_at, updated_at)
             VALUES (1, 'transcode', 1, 'uploads/a.mp4', 'done', '2026-11-01T00:00:00Z',
                     '2026-11-02T00:00:00Z');
             INSERT INTO watch_progress (user_id, lecture_id, ranges, watched_s, last_position,
                                         last_report, first_seen)
             VALUES (1, 1, '[[0,7]]', 7, 7, '2026-11-03T00:00:00Z', '2026-11-03T00:00:00Z');",
        )
        .execute(&pool)
        .await
        .expect("seed");
        all.run(&pool).await.expect("migration 7");
        let kept: (String, f64, i64, f64) = sqlx::query_as(
            "SELECT l.visibility, l.duration_s, j.id, w.watched_s
             FROM lectures l JOIN jobs j ON j.lecture_id = l.id
             JOIN watch_progress w ON w.lecture_id = l.id WHERE l.id = 1",
        )
        .fetch_one(&pool)
        .await
        .expect("rows kept");
        assert_eq!(kept, ("public".to_string(), 12.5, 1, 7.0));
        // the new constraints hold and the old cascades still work
        sqlx::query("UPDATE lectures SET visibility = 'enrolled' WHERE id = 1")
            .execute(&pool)
            .await
            .expect("enrolled is allowed");
        sqlx::query("UPDATE lectures SET visibility = 'everyone' WHERE id = 1")
            .execute(&pool)
            .await
            .expect_err("unknown visibility refused");
        sqlx::query("DELETE FROM lectures WHERE id = 1")
            .execute(&pool)
            .await
            .expect("delete");
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM watch_progress)",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(
            left, 0,
            "jobs and watch progress cascade with their lecture"
        );
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&pool)
            .await
            .expect("foreign key check");
        assert!(dangling.is_empty(), "no dangling references");
    }
}
