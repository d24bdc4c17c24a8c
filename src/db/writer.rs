//! The dedicated writer: a whole write transaction as ONE hand-off to one thread.
//!
//! sqlx runs every SQLite statement on the connection's own worker thread, so a transaction of
//! six statements is six round trips between a tokio worker and that thread, and the database
//! write lock is held across all of them: every other sign-up waits for the hand-offs, not for
//! SQLite (BENCHMARKS.md, "Where the time goes"). The hot write paths (a sign-up, a
//! cancellation or removal with its waitlist promotions and notifications) therefore run here:
//! one thread owns one more sqlx connection to the same file (same options: WAL,
//! `synchronous`, foreign keys, `secure_delete`, busy timeout), takes its raw handle once with
//! sqlx's [`sqlx::sqlite::SqliteConnection::lock_handle`], and runs each job — `BEGIN
//! IMMEDIATE`, the statements, `COMMIT` — as plain blocking calls into SQLite. The caller waits
//! for one reply. A job still queues in this process's fair write queue (the same one
//! [`Db::begin_write`](super::Db) uses), so it never fights the pool's writers in SQLite's
//! sleep-and-retry busy handler.
//!
//! **Group commit.** Jobs that queue while the writer is busy are run as one batch: one `BEGIN
//! IMMEDIATE`, each job in its own `SAVEPOINT` (a job that fails is rolled back to it alone, as
//! if it had run by itself), one `COMMIT`, and only then every job's reply. Jobs run in arrival
//! order, each seeing the ones before it, so a batch decides exactly what the same jobs would
//! decide one transaction each; it only pays for one commit (and its share of WAL and
//! checkpoint work) instead of one per job. Nobody is answered before the commit, so an
//! acknowledged write is as durable as before. A batch ends at [`MAX_BATCH`] jobs or when the
//! queue is empty — an idle writer never waits for company.
//!
//! The unsafe surface is the private `ffi` module: prepare (cached), bind, step, read a column,
//! reset, finalize — each call on the handle this thread owns exclusively. Errors are SQLite's
//! own, read back through sqlx ([`LockedSqliteHandle::last_error`]), so callers still see
//! `sqlx::Error::Database` with unique violations recognised by [`super::is_unique_violation`].

use chrono::{DateTime, Utc};
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnectOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

/// Most jobs in one transaction.
pub(crate) const MAX_BATCH: usize = 64;

/// A job for the writer thread: its statements run inside the batch's transaction (in a
/// savepoint of their own); it answers its caller once the batch's outcome is known.
trait Job: Send {
    /// Run the statements; returns how to finish once the batch committed (or did not).
    fn run(self: Box<Self>, conn: &mut WriterConn<'_>) -> Box<dyn Done>;
    /// The batch's transaction could not begin: answer with this error without running.
    fn refuse(self: Box<Self>, error: sqlx::Error);
}

/// The second half of a job that ran.
trait Done: Send {
    /// `committed` is the batch's `COMMIT` (or the error that lost the transaction).
    fn finish(self: Box<Self>, committed: Result<(), &sqlx::Error>);
}

/// A job and its caller's reply channel.
struct TxJob<T, F, A> {
    f: F,
    after_commit: A,
    reply: tokio::sync::oneshot::Sender<Result<T, sqlx::Error>>,
}

/// A job that ran, waiting for the commit.
struct Ran<T, A> {
    result: Result<T, sqlx::Error>,
    after_commit: A,
    reply: tokio::sync::oneshot::Sender<Result<T, sqlx::Error>>,
}

impl<T, F, A> Job for TxJob<T, F, A>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&mut WriterConn<'c>) -> Result<T, sqlx::Error> + Send + 'static,
    A: FnOnce() + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut WriterConn<'_>) -> Box<dyn Done> {
        let TxJob {
            f,
            after_commit,
            reply,
        } = *self;
        let result = conn.in_savepoint(f);
        Box::new(Ran {
            result,
            after_commit,
            reply,
        })
    }

    fn refuse(self: Box<Self>, error: sqlx::Error) {
        let _ = self.reply.send(Err(error));
    }
}

impl<T, A> Done for Ran<T, A>
where
    T: Send + 'static,
    A: FnOnce() + Send + 'static,
{
    fn finish(self: Box<Self>, committed: Result<(), &sqlx::Error>) {
        let Ran {
            result,
            after_commit,
            reply,
        } = *self;
        let result = match (committed, result) {
            (Ok(()), Ok(v)) => {
                after_commit();
                Ok(v)
            }
            // the job's own error: its savepoint was rolled back whatever the batch did
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => Err(lost(e)),
        };
        let _ = reply.send(result);
    }
}

/// The error a job gets when the batch's transaction it ran in did not commit.
fn lost(e: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the write transaction did not commit: {e}"))
}

/// Handle to the writer thread; the thread ends (and closes its connection) when the last
/// handle is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    counts: Arc<Counts>,
}

/// What the writer has done, for `/metrics` and tests.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Transactions begun (one per batch, plus restarts after a lost transaction).
    pub transactions: AtomicU64,
    /// Jobs run.
    pub jobs: AtomicU64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Open the writer's connection with `options` and start its thread. Each batch takes
    /// this process's turn in `queue` (the fair write queue of [`super::Db::begin_write`]).
    pub(crate) async fn start_sqlite(
        options: &SqliteConnectOptions,
        queue: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Writer, sqlx::Error> {
        let conn = options.connect().await?;
        Writer::spawn(queue, move |inbox, queue, counts, ready| {
            serve_sqlite(conn, inbox, queue, counts, ready)
        })
        .await
    }

    /// The writer on PostgreSQL: the same thread and batches, its statements sent on a
    /// connection of its own (each one a blocking round trip, as SQLite's calls block), with
    /// the row locks PostgreSQL needs where SQLite's single writer serialized (see
    /// [`WriterConn::lock`]).
    pub(crate) async fn start_postgres(
        url: &str,
        queue: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Writer, sqlx::Error> {
        let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
        Writer::spawn(queue, move |inbox, queue, counts, ready| {
            serve_postgres(options, inbox, queue, counts, ready)
        })
        .await
    }

    async fn spawn(
        queue: Arc<tokio::sync::Mutex<()>>,
        serve: impl FnOnce(
                mpsc::Receiver<Box<dyn Job>>,
                Arc<tokio::sync::Mutex<()>>,
                Arc<Counts>,
                tokio::sync::oneshot::Sender<Result<(), sqlx::Error>>,
            ) + Send
            + 'static,
    ) -> Result<Writer, sqlx::Error> {
        let (jobs, inbox) = mpsc::channel::<Box<dyn Job>>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let counts = Arc::new(Counts::default());
        let counted = counts.clone();
        std::thread::Builder::new()
            .name("pufa-writer".into())
            .spawn(move || serve(inbox, queue, counted, ready_tx))
            .map_err(sqlx::Error::Io)?;
        ready_rx.await.map_err(|_| sqlx::Error::WorkerCrashed)??;
        Ok(Writer { jobs, counts })
    }

    /// Transactions begun and jobs run so far: jobs ÷ transactions is the batching.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.counts.transactions.load(Ordering::Relaxed),
            self.counts.jobs.load(Ordering::Relaxed),
        )
    }

    /// Run `f` as one write transaction — alone or in a batch with the jobs queued beside it,
    /// in a savepoint of its own either way (rolled back when it returns an error) — on the
    /// writer thread. `after_commit` runs on the writer thread once the transaction committed
    /// (even when the caller stopped waiting, e.g. the client went away).
    pub(crate) async fn transaction<T, F>(
        &self,
        after_commit: impl FnOnce() + Send + 'static,
        f: F,
    ) -> Result<T, sqlx::Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&mut WriterConn<'c>) -> Result<T, sqlx::Error> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(TxJob {
                f,
                after_commit,
                reply,
            }))
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// The writer thread on SQLite: take the raw handle once, then run batches until every
/// [`Writer`] is gone.
fn serve_sqlite(
    mut conn: sqlx::SqliteConnection,
    inbox: mpsc::Receiver<Box<dyn Job>>,
    queue: Arc<tokio::sync::Mutex<()>>,
    counts: Arc<Counts>,
    ready: tokio::sync::oneshot::Sender<Result<(), sqlx::Error>>,
) {
    // lock_handle() is a future (a message to sqlx's worker thread, which then parks until the
    // handle is released); a small runtime of this thread's own drives it once
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(sqlx::Error::Io(e)));
            return;
        }
    };
    let handle = match runtime.block_on(conn.lock_handle()) {
        Ok(h) => h,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    drop(runtime);
    let mut writer = WriterConn {
        inner: Inner::Sqlite(ffi::Raw::new(handle)),
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    serve_batches(&mut writer, &inbox, &queue, &counts);
    drop(writer);
    // close through sqlx (its worker thread owns the connection again)
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    if let Ok(rt) = runtime {
        let _ = rt.block_on(conn.close());
    }
}

/// The writer thread on PostgreSQL: a runtime of its own drives its connection.
fn serve_postgres(
    options: sqlx::postgres::PgConnectOptions,
    inbox: mpsc::Receiver<Box<dyn Job>>,
    queue: Arc<tokio::sync::Mutex<()>>,
    counts: Arc<Counts>,
    ready: tokio::sync::oneshot::Sender<Result<(), sqlx::Error>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(sqlx::Error::Io(e)));
            return;
        }
    };
    let conn = match runtime.block_on(options.connect()) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut writer = WriterConn {
        inner: Inner::Postgres(pg::Conn::new(conn, runtime)),
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    serve_batches(&mut writer, &inbox, &queue, &counts);
    if let Inner::Postgres(conn) = writer.inner {
        conn.close();
    }
}

/// Run batches until every [`Writer`] is gone.
fn serve_batches(
    writer: &mut WriterConn<'_>,
    inbox: &mpsc::Receiver<Box<dyn Job>>,
    queue: &tokio::sync::Mutex<()>,
    counts: &Counts,
) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // the writer thread is no tokio thread: a blocking wait for the turn is allowed
        let turn = queue.blocking_lock();
        run_batch(writer, batch, counts);
        drop(turn);
    }
}

/// Run `batch` in as few transactions as possible (one, unless a job's failure took the
/// transaction with it) and answer every job after its transaction's outcome.
fn run_batch(w: &mut WriterConn<'_>, batch: Vec<Box<dyn Job>>, counts: &Counts) {
    let mut jobs = batch.into_iter().peekable();
    while jobs.peek().is_some() {
        if let Err(e) = w.begin() {
            w.rollback_if_open();
            for job in jobs.by_ref() {
                job.refuse(sqlx::Error::Protocol(format!(
                    "the write transaction did not begin: {e}"
                )));
            }
            return;
        }
        counts.transactions.fetch_add(1, Ordering::Relaxed);
        let mut ran: Vec<Box<dyn Done>> = Vec::new();
        let mut lost_transaction = None;
        for job in jobs.by_ref() {
            counts.jobs.fetch_add(1, Ordering::Relaxed);
            // a panicking job must not take the writer (and every later sign-up) down with
            // it: its savepoint is rolled back and its caller sees WorkerCrashed (the reply
            // went down with the job)
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(w))) {
                Ok(done) => ran.push(done),
                Err(_) => {
                    tracing::error!("a job of the database writer panicked; rolled back");
                    if !w.undo_savepoint() {
                        lost_transaction = Some(sqlx::Error::WorkerCrashed);
                    }
                }
            }
            if lost_transaction.is_none() && !w.in_transaction() {
                // SQLite ended the transaction itself (e.g. a full disk): the jobs before
                // lost their writes
                lost_transaction = Some(sqlx::Error::Protocol(
                    "SQLite rolled the transaction back".into(),
                ));
            }
            if lost_transaction.is_some() {
                break;
            }
        }
        let committed = match lost_transaction {
            Some(e) => {
                w.rollback_if_open();
                Err(e)
            }
            None => w.execute("COMMIT", &[]).map(|_| ()).inspect_err(|_| {
                w.rollback_if_open();
            }),
        };
        for done in ran {
            done.finish(committed.as_ref().map(|_| ()));
        }
    }
}

/// A value bound to a statement parameter (`?1`, `?2` … in order).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// NULL in a text column.
    Null,
    /// NULL in an integer column (PostgreSQL types its parameters).
    NullInt,
    Int(i64),
    Text(&'a str),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::NullInt, Arg::Int)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Arg::Null, Arg::Text)
    }
}

impl<'a> From<Option<&'a String>> for Arg<'a> {
    fn from(v: Option<&'a String>) -> Self {
        v.map_or(Arg::Null, |s| Arg::Text(s))
    }
}

/// A column value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// One result row, read by column index.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Value>);

fn decode_error(what: &str, index: usize) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: format!("expected {what}").into(),
    }
}

impl Row {
    fn get(&self, index: usize) -> Result<&Value, sqlx::Error> {
        self.0
            .get(index)
            .ok_or(sqlx::Error::ColumnIndexOutOfBounds {
                index,
                len: self.0.len(),
            })
    }

    pub(crate) fn int(&self, index: usize) -> Result<i64, sqlx::Error> {
        self.opt_int(index)?
            .ok_or_else(|| decode_error("an integer", index))
    }

    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, sqlx::Error> {
        match self.get(index)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(decode_error("an integer", index)),
        }
    }

    pub(crate) fn text(&self, index: usize) -> Result<&str, sqlx::Error> {
        self.opt_text(index)?
            .ok_or_else(|| decode_error("text", index))
    }

    pub(crate) fn opt_text(&self, index: usize) -> Result<Option<&str>, sqlx::Error> {
        match self.get(index)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            _ => Err(decode_error("text", index)),
        }
    }

    /// A timestamp column (as [`super::ts`] writes them), or NULL.
    pub(crate) fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.opt_text(index)?
            .map(|t| super::types::parse_ts(t).map_err(|_| decode_error("a timestamp", index)))
            .transpose()
    }
}

/// The writer thread's connection, lent to one job at a time.
pub(crate) struct WriterConn<'c> {
    inner: Inner<'c>,
}

enum Inner<'c> {
    Sqlite(ffi::Raw<'c>),
    Postgres(pg::Conn),
}

impl WriterConn<'_> {
    /// Run a statement; returns its rows.
    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Row>, sqlx::Error> {
        let mut rows = Vec::new();
        self.run(sql, args, Some(&mut |values| rows.push(Row(values))))?;
        Ok(rows)
    }

    /// Run a statement that returns at most one row.
    pub(crate) fn query_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Run a statement that returns exactly one row.
    pub(crate) fn query_one(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Row, sqlx::Error> {
        self.query_optional(sql, args)?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Run a statement; returns the number of rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<u64, sqlx::Error> {
        self.run(sql, args, None)
    }

    fn run(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        mut row: Option<&mut dyn FnMut(Vec<Value>)>,
    ) -> Result<u64, sqlx::Error> {
        match &mut self.inner {
            Inner::Sqlite(raw) => raw.run(sql, args, &mut |values| {
                if let Some(row) = row.as_deref_mut() {
                    row(values)
                }
            }),
            Inner::Postgres(conn) => conn.run(sql, args, row),
        }
    }

    /// Lock the rows `sql` selects until the transaction ends, on PostgreSQL (`sql` ends in
    /// `FOR UPDATE`); nothing on SQLite, whose single writer excludes every other writer.
    pub(crate) fn lock(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<(), sqlx::Error> {
        match &mut self.inner {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(conn) => conn.run(sql, args, None).map(|_| ()),
        }
    }

    /// Begin a batch. On PostgreSQL the batch also takes the writers' advisory lock (as
    /// [`super::Db::begin_write`] does): a batch locks the rows of several sessions in the
    /// order its jobs came, so two replicas' batches locking the same two sessions in
    /// opposite orders deadlocked (PostgreSQL aborted one: HTTP 500s, found by the sign-up
    /// benchmark with two replicas). Batches now take turns across processes, as SQLite's
    /// `BEGIN IMMEDIATE` makes them do.
    fn begin(&mut self) -> Result<u64, sqlx::Error> {
        match &self.inner {
            Inner::Sqlite(_) => self.execute("BEGIN IMMEDIATE", &[]),
            Inner::Postgres(_) => {
                let begun = self.execute("BEGIN", &[])?;
                self.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[Arg::Int(super::WRITE_LOCK)],
                )?;
                Ok(begun)
            }
        }
    }

    fn in_transaction(&mut self) -> bool {
        match &mut self.inner {
            Inner::Sqlite(raw) => raw.in_transaction(),
            Inner::Postgres(conn) => conn.in_transaction(),
        }
    }

    fn rollback_if_open(&mut self) {
        match &mut self.inner {
            Inner::Sqlite(raw) => raw.rollback_if_open(),
            Inner::Postgres(conn) => conn.rollback_if_open(),
        }
    }

    /// Run `f` in a savepoint of the batch's transaction; roll back to it when `f` fails.
    fn in_savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        self.execute("SAVEPOINT job", &[])?;
        let result = f(self);
        if result.is_err() {
            self.undo_savepoint();
        } else if self.in_transaction() {
            // RELEASE only fails without the savepoint, which then has nothing to release
            let _ = self.execute("RELEASE job", &[]);
        }
        result
    }

    /// Roll back to and drop the job's savepoint; `false` when the transaction is gone or
    /// the savepoint could not be found (the batch must then not commit).
    fn undo_savepoint(&mut self) -> bool {
        self.in_transaction()
            && self.execute("ROLLBACK TO job", &[]).is_ok()
            && self.execute("RELEASE job", &[]).is_ok()
    }
}

/// The writer's PostgreSQL connection: each statement a blocking round trip on the writer
/// thread's own runtime.
mod pg {
    use super::{Arg, Value};
    use sqlx::postgres::PgRow;
    use sqlx::{Column, Connection, PgConnection, Row, TypeInfo, ValueRef};

    pub(super) struct Conn {
        conn: PgConnection,
        runtime: tokio::runtime::Runtime,
        in_transaction: bool,
    }

    fn values(row: &PgRow) -> Result<Vec<Value>, sqlx::Error> {
        let mut values = Vec::with_capacity(row.len());
        for (i, column) in row.columns().iter().enumerate() {
            if row.try_get_raw(i)?.is_null() {
                values.push(Value::Null);
                continue;
            }
            values.push(match column.type_info().name() {
                "INT2" => Value::Int(i64::from(row.try_get::<i16, _>(i)?)),
                "INT4" => Value::Int(i64::from(row.try_get::<i32, _>(i)?)),
                "INT8" => Value::Int(row.try_get::<i64, _>(i)?),
                "BOOL" => Value::Int(i64::from(row.try_get::<bool, _>(i)?)),
                "FLOAT4" => Value::Real(f64::from(row.try_get::<f32, _>(i)?)),
                "FLOAT8" => Value::Real(row.try_get::<f64, _>(i)?),
                _ => Value::Text(row.try_get::<String, _>(i)?),
            });
        }
        Ok(values)
    }

    impl Conn {
        pub(super) fn new(conn: PgConnection, runtime: tokio::runtime::Runtime) -> Self {
            Conn {
                conn,
                runtime,
                in_transaction: false,
            }
        }

        pub(super) fn run(
            &mut self,
            sql: &'static str,
            args: &[Arg<'_>],
            row: Option<&mut dyn FnMut(Vec<Value>)>,
        ) -> Result<u64, sqlx::Error> {
            let mut q = sqlx::query(sql);
            for arg in args {
                q = match arg {
                    Arg::Null => q.bind(None::<String>),
                    Arg::NullInt => q.bind(None::<i64>),
                    Arg::Int(v) => q.bind(*v),
                    Arg::Text(t) => q.bind(t.to_string()),
                };
            }
            let conn = &mut self.conn;
            let result = self.runtime.block_on(async {
                match row {
                    Some(row) => {
                        let rows = q.fetch_all(conn).await?;
                        for r in &rows {
                            row(values(r)?);
                        }
                        Ok::<u64, sqlx::Error>(rows.len() as u64)
                    }
                    None => Ok(q.execute(conn).await?.rows_affected()),
                }
            });
            match sql {
                "BEGIN" if result.is_ok() => self.in_transaction = true,
                "COMMIT" | "ROLLBACK" => self.in_transaction = false,
                _ => {}
            }
            result
        }

        pub(super) fn in_transaction(&self) -> bool {
            self.in_transaction
        }

        pub(super) fn rollback_if_open(&mut self) {
            if self.in_transaction {
                let _ = self.run("ROLLBACK", &[], None);
                self.in_transaction = false;
            }
        }

        pub(super) fn close(self) {
            let Conn { conn, runtime, .. } = self;
            let _ = runtime.block_on(conn.close());
        }
    }
}

/// The raw SQLite calls. Every function here is called only by the writer thread, on the
/// handle that sqlx lent it (`LockedSqliteHandle` keeps sqlx's own worker off the connection
/// for as long as it lives), with statements prepared on that same handle.
#[allow(unsafe_code)]
mod ffi {
    use super::{Arg, LockedSqliteHandle, Value};
    use libsqlite3_sys as sys;
    use std::collections::HashMap;
    use std::ffi::c_int;
    use std::ptr::NonNull;

    pub(super) struct Raw<'c> {
        handle: LockedSqliteHandle<'c>,
        db: NonNull<sys::sqlite3>,
        /// Prepared statements by their (static) SQL text, kept for the connection's life.
        cache: HashMap<&'static str, NonNull<sys::sqlite3_stmt>>,
    }

    impl<'c> Raw<'c> {
        pub(super) fn new(mut handle: LockedSqliteHandle<'c>) -> Self {
            let db = handle.as_raw_handle();
            Raw {
                handle,
                db,
                cache: HashMap::new(),
            }
        }

        /// SQLite's error for the last failed call on this handle, through sqlx's error type.
        fn error(&mut self) -> sqlx::Error {
            match self.handle.last_error() {
                Some(e) => sqlx::Error::Database(Box::new(e)),
                None => sqlx::Error::Protocol("SQLite reported an error without a code".into()),
            }
        }

        fn statement(
            &mut self,
            sql: &'static str,
        ) -> Result<NonNull<sys::sqlite3_stmt>, sqlx::Error> {
            if let Some(stmt) = self.cache.get(sql) {
                return Ok(*stmt);
            }
            let len = c_int::try_from(sql.len())
                .map_err(|_| sqlx::Error::Protocol("statement too long".into()))?;
            let mut stmt: *mut sys::sqlite3_stmt = std::ptr::null_mut();
            // SAFETY: `db` is the open handle this thread owns; `sql` outlives the call and
            // `len` is its length in bytes; `stmt` is a valid out-pointer.
            let rc = unsafe {
                sys::sqlite3_prepare_v3(
                    self.db.as_ptr(),
                    sql.as_ptr().cast(),
                    len,
                    sys::SQLITE_PREPARE_PERSISTENT,
                    &mut stmt,
                    std::ptr::null_mut(),
                )
            };
            if rc != sys::SQLITE_OK {
                return Err(self.error());
            }
            let stmt = NonNull::new(stmt)
                .ok_or_else(|| sqlx::Error::Protocol("empty statement".into()))?;
            self.cache.insert(sql, stmt);
            Ok(stmt)
        }

        /// Bind `args`, step through every row (handing each to `row`), reset. Returns the
        /// number of rows the statement changed.
        pub(super) fn run(
            &mut self,
            sql: &'static str,
            args: &[Arg<'_>],
            row: &mut dyn FnMut(Vec<Value>),
        ) -> Result<u64, sqlx::Error> {
            let stmt = self.statement(sql)?;
            let s = stmt.as_ptr();
            let result = self.bind_and_step(s, args, row);
            // SAFETY: `s` is a statement of this handle; reset ends the step (releasing read
            // locks) and clearing the bindings drops the copies of the text arguments.
            unsafe {
                sys::sqlite3_reset(s);
                sys::sqlite3_clear_bindings(s);
            }
            result
        }

        fn bind_and_step(
            &mut self,
            s: *mut sys::sqlite3_stmt,
            args: &[Arg<'_>],
            row: &mut dyn FnMut(Vec<Value>),
        ) -> Result<u64, sqlx::Error> {
            // SAFETY (whole function): `s` is a live statement of this thread's handle; text
            // arguments are copied by SQLite (SQLITE_TRANSIENT) before the bind returns; column
            // pointers are read before the next step, as the SQLite API requires.
            unsafe {
                let wanted = sys::sqlite3_bind_parameter_count(s);
                if usize::try_from(wanted).ok() != Some(args.len()) {
                    return Err(sqlx::Error::Protocol(format!(
                        "statement has {wanted} parameters, {} given",
                        args.len()
                    )));
                }
                for i in 1..=wanted {
                    // `$N` (or `?N`) names the argument; SQLite numbers parameters in order of
                    // first appearance, which need not be N
                    let name = sys::sqlite3_bind_parameter_name(s, i);
                    let n = if name.is_null() {
                        None
                    } else {
                        std::ffi::CStr::from_ptr(name)
                            .to_str()
                            .ok()
                            .and_then(|n| n.get(1..))
                            .and_then(|n| n.parse::<usize>().ok())
                    };
                    let Some(arg) = n.and_then(|n| n.checked_sub(1)).and_then(|n| args.get(n))
                    else {
                        return Err(sqlx::Error::Protocol(format!(
                            "parameter {i} is not of the form $N with N at most {}",
                            args.len()
                        )));
                    };
                    let rc = match arg {
                        Arg::Null | Arg::NullInt => sys::sqlite3_bind_null(s, i),
                        Arg::Int(v) => sys::sqlite3_bind_int64(s, i, *v),
                        Arg::Text(t) => sys::sqlite3_bind_text64(
                            s,
                            i,
                            t.as_ptr().cast(),
                            t.len() as u64,
                            sys::SQLITE_TRANSIENT(),
                            sys::SQLITE_UTF8 as u8,
                        ),
                    };
                    if rc != sys::SQLITE_OK {
                        return Err(self.error());
                    }
                }
                loop {
                    match sys::sqlite3_step(s) {
                        sys::SQLITE_ROW => {
                            let n = sys::sqlite3_column_count(s);
                            let mut values = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
                            for c in 0..n {
                                values.push(match sys::sqlite3_column_type(s, c) {
                                    sys::SQLITE_INTEGER => {
                                        Value::Int(sys::sqlite3_column_int64(s, c))
                                    }
                                    sys::SQLITE_FLOAT => {
                                        Value::Real(sys::sqlite3_column_double(s, c))
                                    }
                                    sys::SQLITE_NULL => Value::Null,
                                    _ => {
                                        // text (or a blob, read as text): pointer first, then
                                        // the length, as the SQLite documentation orders them
                                        let p = sys::sqlite3_column_text(s, c);
                                        let len = sys::sqlite3_column_bytes(s, c);
                                        if p.is_null() {
                                            Value::Text(String::new())
                                        } else {
                                            let bytes = std::slice::from_raw_parts(
                                                p,
                                                usize::try_from(len).unwrap_or(0),
                                            );
                                            Value::Text(String::from_utf8_lossy(bytes).into_owned())
                                        }
                                    }
                                });
                            }
                            row(values);
                        }
                        sys::SQLITE_DONE => {
                            return Ok(u64::try_from(sys::sqlite3_changes64(self.db.as_ptr()))
                                .unwrap_or(0));
                        }
                        _ => return Err(self.error()),
                    }
                }
            }
        }

        /// Whether a transaction is open on the connection.
        pub(super) fn in_transaction(&mut self) -> bool {
            // SAFETY: a plain call on this thread's open handle.
            unsafe { sys::sqlite3_get_autocommit(self.db.as_ptr()) == 0 }
        }

        /// Roll back when a transaction is still open (a failed statement or a panic).
        pub(super) fn rollback_if_open(&mut self) {
            // SAFETY: plain calls on this thread's open handle with a static NUL-terminated
            // statement.
            unsafe {
                if sys::sqlite3_get_autocommit(self.db.as_ptr()) == 0 {
                    sys::sqlite3_exec(
                        self.db.as_ptr(),
                        c"ROLLBACK".as_ptr(),
                        None,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    );
                }
            }
        }
    }

    impl Drop for Raw<'_> {
        fn drop(&mut self) {
            for (_, stmt) in self.cache.drain() {
                // SAFETY: each statement was prepared on this handle and is finalized once,
                // before sqlx gets the handle back.
                unsafe {
                    sys::sqlite3_finalize(stmt.as_ptr());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{is_unique_violation, violated_unique_constraint, Db, USERS_USERNAME_KEY};
    use chrono::Utc;

    const USER: &str =
        "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
         VALUES ($1, 'lawyer', $2, 'L', 'x', $3)";

    async fn users(db: &Db) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&db.pool)
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn a_failed_statement_rolls_the_job_back_with_sqlites_own_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let before = users(&db).await;
        let now = crate::db::ts(Utc::now());
        let err = db
            .write(move |c| {
                c.execute(USER, &[10.into(), "same".into(), (&now).into()])?;
                c.execute(USER, &[11.into(), "same".into(), (&now).into()])
            })
            .await
            .expect_err("the second user violates the unique name");
        assert!(is_unique_violation(&err));
        assert_eq!(
            violated_unique_constraint(&err).as_deref(),
            Some(USERS_USERNAME_KEY)
        );
        assert_eq!(users(&db).await, before, "the first insert was rolled back");

        // a job that panics is rolled back too, and the writer goes on
        let now = crate::db::ts(Utc::now());
        let crashed = db
            .write(move |c| -> Result<(), sqlx::Error> {
                c.execute(USER, &[12.into(), "p".into(), (&now).into()])?;
                panic!("a bug in a job");
            })
            .await;
        assert!(matches!(crashed, Err(sqlx::Error::WorkerCrashed)));
        assert_eq!(users(&db).await, before);
        let now = crate::db::ts(Utc::now());
        let rows = db
            .write(move |c| {
                c.execute(USER, &[13.into(), "q".into(), (&now).into()])?;
                c.query(
                    "SELECT id, username, NULL, 1.5 FROM users WHERE id = $1",
                    &[13.into()],
                )
            })
            .await
            .expect("the writer still works");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].int(0).expect("id"), 13);
        assert_eq!(rows[0].text(1).expect("name"), "q");
        assert_eq!(rows[0].opt_text(2).expect("null"), None);
        assert!(rows[0].int(1).is_err(), "text is no integer");
        assert_eq!(users(&db).await, before + 1);
    }

    /// Jobs that queue while the writer is busy run as one batch in one transaction: each
    /// sees the ones before it, a failing one is rolled back alone, the others commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_jobs_share_a_transaction_and_a_failing_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = std::sync::Arc::new(Db::open(dir.path()).await.expect("open"));
        let before = users(&db).await;
        let (began, _) = db.writer.counts();

        // hold the writer busy until the other jobs have queued
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |_| {
                    let _ = started_tx.send(());
                    let _ = go_rx.recv();
                    Ok(())
                })
                .await
            })
        };
        while started_rx.try_recv().is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let mut jobs = Vec::new();
        for i in 0..10i64 {
            let db = db.clone();
            let mut job = Box::pin(async move {
                let now = crate::db::ts(Utc::now());
                db.write(move |c| {
                    let name = format!("b{i}");
                    c.execute(USER, &[(100 + i).into(), (&name).into(), (&now).into()])?;
                    if i == 5 {
                        // the name of job 0, written earlier in the same transaction
                        c.execute(USER, &[205.into(), "b0".into(), (&now).into()])?;
                    }
                    // each job sees the rows of the jobs before it
                    c.query_one("SELECT COUNT(*) FROM users WHERE id >= 100", &[])?
                        .int(0)
                })
                .await
            });
            // the first poll queues the job (and then waits for its answer): the jobs queue
            // in the order 0..9 whichever worker thread later drives them
            assert!(futures_util::poll!(&mut job).is_pending());
            jobs.push(tokio::spawn(job));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        go_tx.send(()).expect("release the writer");
        blocker.await.expect("join").expect("the blocker commits");
        let mut seen = Vec::new();
        for (i, job) in jobs.into_iter().enumerate() {
            match job.await.expect("join") {
                Ok(count) => seen.push(count),
                Err(e) => {
                    assert_eq!(i, 5, "only job 5 fails: {e}");
                    assert!(is_unique_violation(&e), "{e}");
                }
            }
        }
        assert_eq!(seen.len(), 9);
        assert_eq!(users(&db).await, before + 9, "job 5 left nothing behind");
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id >= 100 ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("ids");
        assert_eq!(ids, vec![100, 101, 102, 103, 104, 106, 107, 108, 109]);
        let transactions = db.writer.counts().0 - began;
        assert!(
            transactions <= 3,
            "the queued jobs shared a transaction ({transactions} transactions for 11 jobs)"
        );
    }

    /// Timestamps written by the writer are the text sqlx writes, so both paths' rows compare
    /// and decode alike.
    #[tokio::test]
    async fn timestamps_are_written_as_sqlx_writes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        for now in [
            Utc::now(),
            chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
                .expect("time")
                .to_utc(),
        ] {
            let by_sqlx: String = sqlx::query_scalar("SELECT $1")
                .bind(crate::db::ts(now))
                .fetch_one(&db.pool)
                .await
                .expect("select");
            assert_eq!(crate::db::ts(now), by_sqlx);
            let text = crate::db::ts(now);
            let back = db
                .write(move |c| c.query_one("SELECT $1", &[(&text).into()])?.opt_time(0))
                .await
                .expect("read back");
            assert_eq!(back, Some(now));
        }
    }
}
