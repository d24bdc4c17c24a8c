//! The harness: the real pufa server on a free port with a temporary data directory, either in
//! this process ([`TestApp::spawn`]) or as the `pufa` binary that a crash test can kill
//! ([`TestApp::start_binary`]), and typed requests for the flows many tests share.
//!
//! Every client has its own cookie jar and does not follow redirects, so a test sees each
//! `303 See Other` itself.

use pufa::config::Config;
use reqwest::multipart::{Form, Part};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::credit_code::valid_uscc;

/// The demo organizer `admin`'s password on every test server.
pub const ADMIN_PASSWORD: &str = "admin-test-pass-1";
/// The password of every enterprise made by [`TestApp::register_enterprise`].
pub const ENTERPRISE_PASSWORD: &str = "enterprise-pass-1";

/// A running pufa server with the demo month loaded.
pub struct TestApp {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub address: String,
    /// Holds the server's `data/` and `media/` folders; tests put their clips here too.
    pub dir: PathBuf,
    // Fields drop in order: the server stops before its temporary folder is removed.
    server: Server,
    _tempdir: Option<TempDir>,
}

enum Server {
    InProcess {
        shutdown: oneshot::Sender<()>,
        handle: JoinHandle<anyhow::Result<()>>,
    },
    Process(ChildGuard),
    /// A front (a reverse proxy) of servers the test started and stops itself.
    Front,
}

impl TestApp {
    /// Start a server in this process with the demo admin (password [`ADMIN_PASSWORD`]).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], with the configuration changed by `adjust` first. No transcode
    /// worker runs (tests call [`TestApp::drain_jobs`]), so the demo recording is not
    /// transcoded either.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(0, adjust).await
    }

    /// Like [`TestApp::spawn_with`] on `127.0.0.1:port` (0: a free port), for a test that
    /// has to name the port before the server starts (a proxy in front of it).
    pub async fn spawn_on(port: u16, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let tempdir = tempfile::tempdir().expect("tempdir");
        let dir = tempdir.path().to_path_buf();
        let mut config = Config::new(dir.join("data"), dir.join("media"));
        config.demo = true;
        config.admin_password = Some(ADMIN_PASSWORD.into());
        config.transcode_workers = 0;
        adjust(&mut config);
        if config.database_url.is_none() {
            // a test that restarts on its own data directory finds its database again
            let home = config.data_dir.parent().unwrap_or(&dir).to_path_buf();
            config.database_url = database_for(&home).await;
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let local = listener.local_addr().expect("addr");
        let address = format!("http://{local}");
        // as `pufa serve` does without --public-url: the address it listens on
        let default_url =
            pufa::config::PublicUrl::for_listen(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
        if config.public_url == default_url {
            config.public_url = pufa::config::PublicUrl::for_listen(local);
        }
        let (shutdown, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(pufa::serve(config, listener, async {
            // Either a stop() or the sender dropped with the TestApp ends the server.
            stopped.await.ok();
        }));
        let app = TestApp {
            address,
            dir,
            server: Server::InProcess { shutdown, handle },
            _tempdir: Some(tempdir),
        };
        app.wait_until_healthy().await;
        app
    }

    /// Start the real `pufa serve --demo` binary on a free port with its data and media in
    /// `dir` (which outlives the process, so a test can restart on the same data). The process
    /// is killed when the returned app is dropped, also when an assertion fails.
    pub async fn start_binary(dir: &Path, extra: &[&str]) -> TestApp {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pufa"));
        // the live ingest listens on fixed ports by default; servers started side by side by
        // concurrent tests would fight over them, so it is off unless the test asks for it
        for (flag, env) in [
            ("--rtmp-listen", "PUFA_RTMP_LISTEN"),
            ("--srt-listen", "PUFA_SRT_LISTEN"),
        ] {
            if !extra.contains(&flag) {
                command.env(env, "off");
            }
        }
        database_for(dir).await;
        use_database_of(dir, &mut command);
        command
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.join("data"))
            .arg("--media")
            .arg(dir.join("media"))
            .args(extra)
            .env("PUFA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null());
        let (child, stdout) = ChildGuard::spawn_piped(&mut command).expect("start pufa");
        let address = first_line_after(stdout, "pufa serving on ")
            .expect("pufa exited before it said where it serves");
        let app = TestApp {
            address,
            dir: dir.to_path_buf(),
            server: Server::Process(child),
            _tempdir: None,
        };
        app.wait_until_healthy().await;
        app
    }

    async fn wait_until_healthy(&self) {
        for _ in 0..400 {
            if let Ok(r) = self.anonymous().get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server at {} did not come up", self.address);
    }

    /// Stop the server: an in-process one gracefully (its error, if any, fails the test), a
    /// process by killing it.
    pub async fn stop(self) {
        match self.server {
            Server::InProcess { shutdown, handle } => {
                // A server that already ended has dropped its receiver; the join says why.
                shutdown.send(()).ok();
                handle.await.expect("join").expect("serve");
            }
            Server::Process(child) => child.kill(),
            Server::Front => {}
        }
    }

    /// Kill the server process with SIGKILL, as a power cut would, and reap it.
    pub fn crash(self) {
        match self.server {
            Server::Process(child) => child.kill(),
            Server::InProcess { .. } | Server::Front => {
                panic!("only a server started with start_binary can crash")
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The site as reached through a reverse proxy at `address` (e.g. nginx over HTTPS with
    /// a throwaway certificate, which the clients of this app accept) in front of servers
    /// working on `dir`.
    pub fn front(address: String, dir: &Path) -> TestApp {
        TestApp {
            address,
            dir: dir.to_path_buf(),
            server: Server::Front,
            _tempdir: None,
        }
    }

    /// A client with its own cookie jar that does not follow redirects.
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            // only a front's throwaway certificate (tests/api/proxy.rs checks it with curl)
            .danger_accept_invalid_certs(self.address.starts_with("https://"))
            .build()
            .expect("client")
    }

    /// A client that never logs in.
    pub fn anonymous(&self) -> Client {
        self.client()
    }

    /// `GET path` as `c`, decoded from JSON (a problem document decodes as a [`Value`] too).
    pub async fn get_json<T: DeserializeOwned>(&self, c: &Client, path: &str) -> T {
        let r = c.get(self.url(path)).send().await.expect(path);
        r.json().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET path` as `c`, the body as text (an HTML page).
    pub async fn get_text(&self, c: &Client, path: &str) -> String {
        let r = c.get(self.url(path)).send().await.expect(path);
        r.text().await.expect(path)
    }

    /// `POST /api/v1/login` in `c`'s cookie jar.
    pub async fn login(&self, c: &Client, login: &str, password: &str) -> Response {
        c.post(self.url("/api/v1/login"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .expect("login")
    }

    /// A new client logged in as `login`; the login must succeed.
    pub async fn logged_in(&self, login: &str, password: &str) -> Client {
        let c = self.client();
        let r = self.login(&c, login, password).await;
        assert_eq!(r.status(), StatusCode::OK, "login as {login}");
        c
    }

    /// A client logged in as the demo organizer `admin`.
    pub async fn organizer(&self) -> Client {
        self.logged_in("admin", ADMIN_PASSWORD).await
    }

    /// `POST /api/v1/enterprises` with `body` (a self-registration).
    pub async fn post_enterprise(&self, c: &Client, body: &Value) -> Response {
        c.post(self.url("/api/v1/enterprises"))
            .json(body)
            .send()
            .await
            .expect("register")
    }

    /// Register enterprise number `n` (industry E, credit code [`valid_uscc`]`(n)`, mobile
    /// 139 + `n`) and return a client logged in as it, with its credit code.
    pub async fn register_enterprise(&self, n: u32) -> (Client, String) {
        let c = self.client();
        let uscc = valid_uscc(n);
        let r = self
            .post_enterprise(
                &c,
                &json!({
                    "name": format!("示例企业{n}有限公司"),
                    "uscc": uscc,
                    "industry": "E",
                    "district": "示例区",
                    "contact_name": "示例联系人",
                    "mobile": format!("139{n:08}"),
                    "password": ENTERPRISE_PASSWORD,
                    "privacy_consent": true,
                }),
            )
            .await;
        let status = r.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            r.text().await.expect("body")
        );
        let r = self.login(&c, &uscc, ENTERPRISE_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "login as {uscc}");
        (c, uscc)
    }

    /// The CSRF token of `c`'s session, read from the hidden field of the page at `path`.
    pub async fn csrf_token(&self, c: &Client, path: &str) -> String {
        let html = self.get_text(c, path).await;
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).expect("csrf field") + marker.len();
        let end = html[start..].find('"').expect("end of csrf field") + start;
        html[start..end].to_string()
    }

    /// The sessions of the demo program, as the API shows them.
    pub async fn demo_sessions(&self, c: &Client) -> Vec<Value> {
        let programs: Value = self.get_json(c, "/api/v1/programs").await;
        let path = format!("/api/v1/programs/{}", programs[0]["id"]);
        let program: Value = self.get_json(c, &path).await;
        program["sessions"].as_array().cloned().expect("sessions")
    }

    /// The ids of the demo program's sessions, in the API's order.
    pub async fn demo_session_ids(&self, c: &Client) -> Vec<i64> {
        self.demo_sessions(c)
            .await
            .iter()
            .map(|s| s["id"].as_i64().expect("session id"))
            .collect()
    }

    /// `POST /api/v1/programs/{program}/sessions`: add a session described by `body`.
    pub async fn add_session(&self, c: &Client, program: i64, body: &Value) -> Response {
        c.post(self.url(&format!("/api/v1/programs/{program}/sessions")))
            .json(body)
            .send()
            .await
            .expect("add session")
    }

    /// `PUT /api/v1/sessions/{session}`: change the fields in `changes`.
    pub async fn update_session(&self, c: &Client, session: i64, changes: &Value) -> Response {
        c.put(self.url(&format!("/api/v1/sessions/{session}")))
            .json(changes)
            .send()
            .await
            .expect("update session")
    }

    /// `DELETE /api/v1/sessions/{session}`: cancel the session.
    pub async fn cancel_session(&self, c: &Client, session: i64) -> Response {
        c.delete(self.url(&format!("/api/v1/sessions/{session}")))
            .send()
            .await
            .expect("cancel session")
    }

    /// Sign `c`'s enterprise up for `seats` seats of `session`: the status and the JSON answer
    /// (the registration, or a problem document).
    pub async fn sign_up(&self, c: &Client, session: i64, seats: i64) -> (StatusCode, Value) {
        let r = c
            .post(self.url(&format!("/api/v1/sessions/{session}/registrations")))
            .json(&json!({ "seats": seats }))
            .send()
            .await
            .expect("sign up");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Withdraw `c`'s enterprise from `session`.
    pub async fn cancel_sign_up(&self, c: &Client, session: i64) -> StatusCode {
        c.delete(self.url(&format!("/api/v1/sessions/{session}/registrations/mine")))
            .send()
            .await
            .expect("cancel")
            .status()
    }

    /// The roster of `session` as `c` (an organizer or the session's lecturer) sees it.
    pub async fn roster(&self, c: &Client, session: i64) -> Vec<Value> {
        self.get_json(c, &format!("/api/v1/sessions/{session}/registrations"))
            .await
    }

    /// Upload `file` as the recording of `session`, with the CSRF header the upload page sends.
    pub async fn upload(&self, c: &Client, session: i64, file: &Path) -> Response {
        let token = self.csrf_token(c, "/").await;
        let bytes = std::fs::read(file).expect("clip");
        let part = Part::bytes(bytes).file_name("lecture.mp4");
        c.post(self.url(&format!("/api/v1/sessions/{session}/recording")))
            .header("x-csrf-token", token)
            .multipart(Form::new().part("file", part))
            .send()
            .await
            .expect("upload")
    }

    /// The server's database, opened beside it (SQLite or PostgreSQL, as the server's).
    pub async fn db(&self) -> pufa::db::Db {
        db_of(&self.dir).await
    }

    /// A pool on the server's database, for tests that read or write rows directly (`$N`
    /// placeholders, which both engines read).
    pub async fn pool(&self) -> sqlx::AnyPool {
        pool_of(&self.dir).await
    }

    /// A transcode job as `GET /api/v1/jobs/{id}` shows it.
    pub async fn job(&self, c: &Client, id: i64) -> Value {
        self.get_json(c, &format!("/api/v1/jobs/{id}")).await
    }

    /// Run the queued transcode jobs to the end in this task; returns how many ran.
    pub async fn drain_jobs(&self) -> usize {
        let db = self.db().await;
        let worker = pufa::media::worker::Worker::new(
            db,
            std::sync::Arc::new(pufa::media::storage::LocalFs::new(self.dir.join("media"))),
            Duration::from_secs(30),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut n = 0;
        while worker.run_one(&stop).await.expect("job").is_some() {
            n += 1;
        }
        n
    }
}

/// The problem+json body of an error response (the content type is checked).
pub async fn problem(r: Response) -> Value {
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(ct, "application/problem+json");
    r.json().await.expect("problem json")
}

/// A child process that is killed and reaped when dropped, so a failing assertion never leaves
/// a server or a browser driver running.
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Guard a spawned process.
    pub fn from_child(child: Child) -> ChildGuard {
        ChildGuard(child)
    }

    /// Spawn `command` with its standard output piped to the caller.
    pub fn spawn_piped(command: &mut Command) -> std::io::Result<(ChildGuard, ChildStdout)> {
        let mut child = ChildGuard(command.stdout(Stdio::piped()).spawn()?);
        let stdout = child.0.stdout.take().expect("piped stdout");
        Ok((child, stdout))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.try_wait()
    }

    /// SIGKILL the process and reap it.
    pub fn kill(mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Killing a process that already exited is not an error; anything else is worth a line.
        if let Err(e) = self.0.kill().and_then(|()| self.0.wait().map(drop)) {
            eprintln!("could not stop child process {}: {e}", self.0.id());
        }
    }
}

/// Read `stdout` up to the first line starting with `prefix` and return the rest of that line;
/// the output after it is drained on a thread so the child never blocks on a full pipe.
/// `None` when the output ends first (the process exited).
pub fn first_line_after(stdout: ChildStdout, prefix: &str) -> Option<String> {
    let mut lines = BufReader::new(stdout).lines();
    let found = lines.by_ref().map_while(Result::ok).find_map(|line| {
        line.strip_prefix(prefix)
            .map(|rest| rest.trim().to_string())
    })?;
    std::thread::spawn(move || lines.for_each(drop));
    Some(found)
}

/// The master playlist path a lecture page hands to its player (the `data-src` attribute).
pub fn master_playlist(lecture_page: &str) -> String {
    let marker = "data-src=\"";
    let start = lecture_page.find(marker).expect("player data-src") + marker.len();
    let end = lecture_page[start..].find('"').expect("end of data-src") + start;
    lecture_page[start..end].to_string()
}

/// The database of the servers started on `dir`: the one named in `dir/database-url` (written
/// by [`crate::postgres::use_database`], or here); otherwise, when the suite runs on PostgreSQL
/// (`PUFA_TEST_POSTGRES`, set by scripts/with-postgres.sh), a new database on that server,
/// written there; otherwise `None`: SQLite in `dir/data`.
pub async fn database_for(dir: &Path) -> Option<String> {
    if let Ok(url) = std::fs::read_to_string(dir.join("database-url")) {
        return Some(url.trim().to_string());
    }
    let admin = std::env::var("PUFA_TEST_POSTGRES").ok()?;
    let url = crate::postgres::create_database(&admin).await;
    crate::postgres::use_database(dir, &url);
    Some(url)
}

/// The database of the servers started on `dir`, opened (see [`database_for`]).
pub async fn db_of(dir: &Path) -> pufa::db::Db {
    pufa::db::Db::connect(database_for(dir).await.as_deref(), &dir.join("data"))
        .await
        .expect("open the database")
}

/// A pool on the database of the servers started on `dir` (see [`TestApp::pool`]).
pub async fn pool_of(dir: &Path) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match database_for(dir).await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.join("data/pufa.db").display()),
    };
    sqlx::AnyPool::connect(&url).await.expect("pool")
}

/// Whether this run of the suite is on PostgreSQL (see [`database_for`]).
pub fn on_postgres() -> bool {
    std::env::var_os("PUFA_TEST_POSTGRES").is_some()
}

/// `true` (with a SKIPPED line on stderr naming `test`) when the suite runs on PostgreSQL, for
/// what only SQLite has: `pufa backup` copies the SQLite file (PostgreSQL is backed up with
/// `pg_dump`); the SQLite run of the suite covers it.
pub fn sqlite_only(test: &str) -> bool {
    use std::io::Write;
    let skip = on_postgres();
    if skip {
        #[allow(clippy::explicit_write)]
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test} on PostgreSQL: pufa backup is SQLite's"
        );
    }
    skip
}

/// Point `command` at the database named in `dir/database-url` (PostgreSQL, written by
/// [`crate::postgres::use_database`]); without the file, `pufa.db` in `dir/data` is used.
/// Likewise the media storage: the bucket named in `dir/storage.env` (`KEY=VALUE` lines
/// written by [`crate::object_storage::S3Server::use_for`]); without it, the media folder.
pub fn use_database_of<'c>(dir: &Path, command: &'c mut Command) -> &'c mut Command {
    match std::fs::read_to_string(dir.join("database-url")) {
        Ok(url) => command.env("PUFA_DATABASE_URL", url.trim()),
        Err(_) => command.env_remove("PUFA_DATABASE_URL"),
    };
    match std::fs::read_to_string(dir.join("storage.env")) {
        Ok(settings) => {
            for (key, value) in settings.lines().filter_map(|l| l.split_once('=')) {
                command.env(key, value);
            }
            command
        }
        Err(_) => command.env_remove("PUFA_STORAGE"),
    }
}

/// Create a staff account (`role` `lawyer` or `organizer`) with `password` through the CLI,
/// against the running server's data directory.
pub fn add_staff(app: &TestApp, role: &str, name: &str, password: &str) {
    use std::io::Write;
    let mut child = use_database_of(&app.dir, &mut Command::new(env!("CARGO_BIN_EXE_pufa")))
        .args(["admin", "--data"])
        .arg(app.dir.join("data"))
        .args([
            "add-user",
            "--role",
            role,
            name,
            "--display-name",
            "示例员工（账号）",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pufa admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("pufa admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The text of `page` between the first `start` and the next `end` after it (an id in a link,
/// say); panics naming `start` when it is not there.
pub fn text_between(page: &str, start: &str, end: &str) -> String {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in the page"))
        + start.len();
    let to = page[from..].find(end).expect("end marker") + from;
    page[from..to].to_string()
}

/// Wait until transcode job `id` runs and has made some progress, so that the process running
/// it can be killed mid-job. `false` (with a SKIPPED line on stderr naming `test`) when the job
/// finished first: a machine that transcodes the clip between two polls leaves no moment to
/// kill in, which is not a failure of the server.
pub async fn wait_until_transcoding(app: &TestApp, c: &Client, id: i64, test: &str) -> bool {
    use std::io::Write;
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let j = app.job(c, id).await;
        if j["state"] == "running" && j["progress"].as_f64().unwrap_or(0.0) > 0.02 {
            return true;
        }
        if j["state"] == "done" {
            // straight to stderr: the harness captures eprintln! of passing tests
            #[allow(clippy::explicit_write)]
            writeln!(
                std::io::stderr(),
                "SKIPPED {test}: the transcode finished before it could be interrupted"
            )
            .unwrap();
            return false;
        }
        assert!(j["state"] != "failed", "{j}");
        assert!(
            std::time::Instant::now() < deadline,
            "job never started: {j}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait (5 minutes at most) until transcode job `id` is done after an interruption; returns
/// the job.
pub async fn wait_until_done(app: &TestApp, c: &Client, id: i64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let j = app.job(c, id).await;
        if j["state"] == "done" {
            return j;
        }
        assert!(
            j["state"] != "failed",
            "job failed after the interruption: {j}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not resume: {j}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Where a browser test saves a screenshot to look at: cargo's scratch folder of the target
/// directory in use (`CARGO_TARGET_DIR` respected), `target/tmp/NAME` by default.
pub fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The master playlist of published `lecture`, fetched as `c` from `app` through the lecture
/// page (both answer 200).
pub async fn published_master(app: &TestApp, c: &Client, lecture: i64) -> String {
    let page = c
        .get(app.url(&format!("/lectures/{lecture}")))
        .send()
        .await
        .expect("lecture page");
    assert_eq!(page.status(), StatusCode::OK);
    let master = master_playlist(&page.text().await.expect("page text"));
    let r = c
        .get(app.url(&master))
        .send()
        .await
        .expect("master playlist");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("playlist text")
}
