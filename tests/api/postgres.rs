//! A throwaway PostgreSQL cluster from Debian's `postgresql` package (issue 18): `initdb` into
//! a temporary directory, `pg_ctl start` on a free port of 127.0.0.1, one fresh database per
//! test, the cluster stopped (`pg_ctl stop -m immediate`) and removed when the guard drops.
//! As root (CI), the server runs as the `postgres` user the package creates, since PostgreSQL
//! refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A running cluster; stopped and deleted on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// Debian's server binaries, newest version first (`/usr/lib/postgresql/15/bin`).
fn server_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (make test installs Debian's postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no initdb under /usr/lib/postgresql (make test installs postgresql)")
}

fn is_root() -> bool {
    // the effective user id, from `id -u`
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", path.display()))
    }

    /// `initdb` (UTF-8, C.UTF-8 collation so `pg_trgm` sees Chinese characters as word
    /// characters) and start the server.
    pub fn start() -> Cluster {
        let bin = server_bin();
        let dir = tempfile::Builder::new()
            .prefix("pufa-pg")
            .tempdir()
            .expect("tempdir");
        let as_postgres = is_root();
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(chown.success(), "chown the cluster directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cluster = Cluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data();
        let out = cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 \
             -c fsync=off -c synchronous_commit=off",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("log");
        let out = cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-o",
                &options,
                "-l",
                log.to_str().expect("utf-8 path"),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// A new empty database; its URL.
    pub async fn database(&self) -> String {
        create_database(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
        .await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }
}

/// A new empty database on the server of `admin` (a URL of its `postgres` database); its URL.
pub async fn create_database(admin: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let name = format!(
        "pufa_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .expect("connect to the test cluster");
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
}

/// Run the servers and workers started on `dir` against `url` (see
/// [`crate::helpers::TestApp::start_binary`]).
pub fn use_database(dir: &Path, url: &str) {
    std::fs::write(dir.join("database-url"), url).expect("write database-url");
}

/// The columns of every table of a database, as (table, column, kind of value).
type Columns = std::collections::BTreeSet<(String, String, &'static str)>;

/// What a column holds, in words both engines share (`INTEGER` 0/1 flags are `flag` on SQLite
/// only by name, so integer and flag compare as one kind there).
fn kind(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "boolean" => "integer or flag",
        "real" | "double precision" => "real",
        "text" | "" => "text",
        _ => "other",
    }
}

/// Both engines' migrations give the same tables and columns with the same kinds of value: a
/// migration added on one side only, or a column typed differently, fails here. (The search
/// tables are FTS5 tables on SQLite, whose row id is implicit, and plain tables with a `rowid`
/// column on PostgreSQL.)
#[tokio::test]
async fn both_engines_migrate_to_the_same_tables_and_columns() {
    let cluster = Cluster::start();
    let url = cluster.database().await;
    let dir = tempfile::tempdir().unwrap();
    pufa::db::Db::connect(Some(&url), dir.path())
        .await
        .expect("migrate PostgreSQL");
    pufa::db::Db::open(dir.path())
        .await
        .expect("migrate SQLite");

    let mut pg = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    let on_postgres: Columns = rows
        .iter()
        .filter(|(_, c, _)| c != "rowid")
        .map(|(t, c, ty)| (t.clone(), c.clone(), kind(ty)))
        .collect();

    let sqlite =
        sqlx::AnyPool::connect(&format!("sqlite:{}", dir.path().join("pufa.db").display()))
            .await
            .unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
          WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'
            AND NOT EXISTS (SELECT 1 FROM sqlite_master v
                             WHERE v.sql LIKE 'CREATE VIRTUAL TABLE%'
                               AND m.name LIKE v.name || '\\_%' ESCAPE '\\')",
    )
    .fetch_all(&sqlite)
    .await
    .unwrap();
    let on_sqlite: Columns = rows
        .iter()
        .map(|(t, c, ty)| (t.clone(), c.clone(), kind(ty)))
        .collect();
    assert!(on_sqlite.len() > 100, "{} columns", on_sqlite.len());
    // and the rows the migrations seed: the secret certificates and links are signed with
    let secret: String =
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'signing'")
            .fetch_one(&mut pg)
            .await
            .unwrap();
    assert_eq!(secret.len(), 64);
    let secret: String =
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'signing'")
            .fetch_one(&sqlite)
            .await
            .unwrap();
    assert_eq!(secret.len(), 64);
    let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
    let only_postgres: Vec<_> = on_postgres.difference(&on_sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only on SQLite: {only_sqlite:?}\nonly on PostgreSQL: {only_postgres:?}"
    );
}
