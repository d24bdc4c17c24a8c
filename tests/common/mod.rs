//! Test harness: the real server on port 0 with a temporary data directory.
#![allow(dead_code)]

pub mod webdriver;

use pufa::config::Config;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-test-pass-1";

/// A running pufa server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Start a server with the demo admin (password [`ADMIN_PASSWORD`]).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new(dir.path().join("data"), dir.path().join("media"));
        config.demo = true;
        config.admin_password = Some(ADMIN_PASSWORD.into());
        // tests drain the job queue themselves (and skip the demo recording)
        config.transcode_workers = 0;
        adjust(&mut config);
        Self::start(dir, config).await
    }

    async fn start(dir: TempDir, config: Config) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(pufa::serve(config, listener, async {
            let _ = rx.await;
        }));
        let app = TestApp {
            addr,
            dir,
            shutdown: Some(tx),
            handle: Some(handle),
        };
        // wait until it answers
        for _ in 0..200 {
            if let Ok(r) = app.anonymous().get(app.url("/healthz")).send().await {
                if r.status().is_success() {
                    return app;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("server did not come up");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A client with its own cookie jar that does not follow redirects.
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("client")
    }

    pub fn anonymous(&self) -> Client {
        self.client()
    }

    /// Stop the server gracefully and wait for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("join").expect("serve");
        }
    }

    /// A logged-in organizer client.
    pub async fn organizer(&self) -> Client {
        let c = self.client();
        let r = c
            .post(self.url("/api/v1/login"))
            .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK, "admin login");
        c
    }

    /// Register an enterprise through the API and return a logged-in client and its USCC.
    pub async fn enterprise(&self, n: u32) -> (Client, String) {
        let c = self.client();
        let uscc = valid_uscc(n);
        let mobile = format!("139{:08}", n);
        let r = c
            .post(self.url("/api/v1/enterprises"))
            .json(&json!({
                "name": format!("示例企业{n}有限公司"),
                "uscc": uscc,
                "industry": "E",
                "district": "示例区",
                "contact_name": "示例联系人",
                "mobile": mobile,
                "password": "enterprise-pass-1",
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap_or_default()
        );
        let r = c
            .post(self.url("/api/v1/login"))
            .json(&json!({"login": uscc, "password": "enterprise-pass-1"}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK);
        (c, uscc)
    }
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// A valid credit code derived from `n` (check characters computed per GB 32100 / GB 11714).
pub fn valid_uscc(n: u32) -> String {
    let org_body = format!("{:08}", n);
    let org_weights = [3u32, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = org_body
        .bytes()
        .zip(org_weights)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let c = 11 - sum % 11;
    let org_check = match c {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    };
    let first17 = format!("91350100{org_body}{org_check}");
    let total: u32 = first17
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = ALPHABET.iter().position(|a| *a == b).expect("alphabet") as u32;
            v * 3u32.pow(i as u32) % 31
        })
        .sum();
    let check = (31 - total % 31) % 31;
    format!("{first17}{}", ALPHABET[check as usize] as char)
}

/// The CSRF token from the cookie jar: fetch a page and read the hidden field.
pub async fn csrf_token(client: &Client, app: &TestApp, path: &str) -> String {
    let html = client
        .get(app.url(path))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    let end = html[start..].find('"').expect("end") + start;
    html[start..end].to_string()
}

pub async fn problem(r: reqwest::Response) -> Value {
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(ct, "application/problem+json");
    r.json().await.expect("problem json")
}

/// Start the real `pufa serve --demo` binary on a free port with the data and media folders in
/// `dir`; returns the process and its base URL. (For crash tests: kill it with SIGKILL.)
pub fn start_binary(
    dir: &std::path::Path,
    admin_password: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pufa"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .arg("--media")
        .arg(dir.join("media"))
        .args(extra)
        .env("PUFA_ADMIN_PASSWORD", admin_password)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pufa");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("server output").expect("line");
        if let Some(rest) = line.strip_prefix("pufa serving on ") {
            break rest.trim().to_string();
        }
    };
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Wait until a server at `url` answers /healthz.
pub async fn wait_ready(url: &str) {
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(format!("{url}/healthz")).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("server not ready");
}

/// The sessions of the demo program, as the API shows them.
pub async fn demo_sessions(app: &TestApp, c: &Client) -> Vec<Value> {
    let programs: Value = c
        .get(app.url("/api/v1/programs"))
        .send()
        .await
        .expect("programs")
        .json()
        .await
        .expect("json");
    let program: Value = c
        .get(app.url(&format!("/api/v1/programs/{}", programs[0]["id"])))
        .send()
        .await
        .expect("program")
        .json()
        .await
        .expect("json");
    program["sessions"].as_array().cloned().unwrap_or_default()
}

/// Upload `file` as the recording of `session`, with the CSRF header the upload page sends.
pub async fn upload_recording(
    app: &TestApp,
    c: &Client,
    session: i64,
    file: &std::path::Path,
) -> reqwest::Response {
    let token = csrf_token(c, app, "/").await;
    let bytes = std::fs::read(file).expect("clip");
    let part = reqwest::multipart::Part::bytes(bytes).file_name("lecture.mp4");
    c.post(app.url(&format!("/api/v1/sessions/{session}/recording")))
        .header("x-csrf-token", token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload")
}

/// Run queued transcode jobs to the end in this task (servers under test run no worker).
pub async fn drain_jobs(app: &TestApp) -> usize {
    let db = pufa::db::Db::open(&app.dir.path().join("data"))
        .await
        .expect("db");
    let worker = pufa::media::worker::Worker::new(
        db,
        std::sync::Arc::new(pufa::media::storage::LocalFs::new(
            app.dir.path().join("media"),
        )),
        std::time::Duration::from_secs(30),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut n = 0;
    while worker.run_one(&stop).await.expect("job").is_some() {
        n += 1;
    }
    n
}
