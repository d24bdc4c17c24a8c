//! pufa behind a reverse proxy (issue 15): the documented nginx site `deploy/nginx/pufa.conf`
//! runs in front of a pufa server with a throwaway self-signed certificate, and a client
//! logs in over HTTPS (the browser's `Origin` names the public URL while pufa sees nginx's
//! `Host`), gets `Secure` cookies, uploads a clip and follows the transcode progress to the end;
//! the per-address login throttle reads `X-Forwarded-For` from the right, so a forged leftmost
//! entry does not give a client a fresh address.

use crate::helpers::{problem, TestApp, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Debian's nginx serving the documented site, killed on drop.
pub(crate) struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// `deploy/nginx/pufa.conf` with the test's ports, upstream and certificate; every placeholder
/// must be present, so the file the README documents is the file tested.
fn site(https_port: u16, http_port: u16, upstream: &str, dir: &Path) -> String {
    let documented = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/pufa.conf"),
    )
    .expect("deploy/nginx/pufa.conf");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let mut replacements = vec![
        ("server 127.0.0.1:8080;", format!("server {upstream};")),
        (
            "listen 443 ssl http2;",
            format!("listen 127.0.0.1:{https_port} ssl http2;"),
        ),
        ("listen [::]:443 ssl http2;", String::new()),
        ("listen 80;", format!("listen 127.0.0.1:{http_port};")),
        ("listen [::]:80;", String::new()),
        (
            "server_name pufa.example.cn;",
            "server_name localhost;".into(),
        ),
        (
            "/etc/letsencrypt/live/pufa.example.cn/fullchain.pem",
            cert.display().to_string(),
        ),
        (
            "/etc/letsencrypt/live/pufa.example.cn/privkey.pem",
            key.display().to_string(),
        ),
    ];
    let cache = dir.join("cache");
    replacements.push(("/var/cache/nginx/pufa", cache.display().to_string()));
    let mut text = documented;
    for (from, to) in replacements {
        assert!(text.contains(from), "pufa.conf no longer has {from:?}");
        text = text.replace(from, &to);
    }
    text
}

impl Nginx {
    /// Start nginx in `dir` (certificate, configuration, temp files, logs) in front of
    /// `upstream` (`127.0.0.1:PORT`); returns once it accepts connections.
    fn start(dir: &Path, upstream: &str) -> (Nginx, u16, u16) {
        let (https_port, http_port) = (free_port(), free_port());
        let nginx = Nginx::start_on(dir, upstream, https_port, http_port);
        (nginx, https_port, http_port)
    }

    /// [`start`](Self::start) on given ports; `upstream` may name several servers
    /// (`127.0.0.1:1; server 127.0.0.1:2`). The access log (`dir/access.log`) names the
    /// upstream server of each request first.
    pub(crate) fn start_on(dir: &Path, upstream: &str, https_port: u16, http_port: u16) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} missing: `make deps` installs nginx-light"
        );
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (make deps installs it)");
        assert!(status.success(), "openssl could not make a certificate");
        let d = dir.display();
        // master_process off: one process as the current user, so the temp folders in `dir`
        // need no permissions for nginx's worker user when the tests run as root
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  log_format upstream '$upstream_addr \"$request\" $status';\n  \
             access_log {d}/access.log upstream;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{}\n}}\n",
            site(https_port, http_port, upstream, dir)
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
        let child = Command::new(NGINX)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx {
            child,
            dir: dir.to_path_buf(),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", https_port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nginx did not start: {}", nginx.error_log());
    }

    /// The access log so far: `UPSTREAM "REQUEST LINE" STATUS` per request.
    pub(crate) fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

/// `curl` over HTTPS trusting the throwaway certificate, with a cookie jar in `dir`; the
/// response headers are written to `dir/headers`.
async fn curl(dir: &Path, args: &[&str]) -> (String, String) {
    let cert = dir.join("cert.pem");
    let jar = dir.join("cookies.txt");
    let headers = dir.join("headers");
    let mut command = tokio::process::Command::new("curl");
    command
        .args(["-sS", "--max-time", "120", "--cacert"])
        .arg(&cert)
        .arg("-b")
        .arg(&jar)
        .arg("-c")
        .arg(&jar)
        .arg("-D")
        .arg(&headers)
        .args(args);
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().await.expect("curl");
    assert!(
        status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&stderr)
    );
    let head = std::fs::read_to_string(&headers).expect("headers");
    (head, String::from_utf8_lossy(&stdout).into_owned())
}

fn status_of(head: &str) -> u16 {
    head.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

/// A cookie's value in curl's jar, and whether it is marked `Secure`.
fn jar_cookie(dir: &Path, name: &str) -> Option<(String, bool)> {
    let jar = std::fs::read_to_string(dir.join("cookies.txt")).ok()?;
    jar.lines().find_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        (f.len() == 7 && f[5] == name).then(|| (f[6].to_string(), f[3] == "TRUE"))
    })
}

/// A 2 s 320×240 clip with sound, made by ffmpeg's lavfi sources.
fn lavfi_clip(path: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ])
        .arg(path)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg could not make the clip");
}

/// The `(event, data)` pairs of a server-sent event stream.
fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = Some(e.trim().to_string());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            event.map(|e| (e, data))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_upload_and_progress_through_nginx_over_https() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // the public URL is only known once nginx has its port, so nginx starts first with a
    // reserved upstream port that pufa then listens on
    let upstream_port = free_port();
    let upstream = format!("127.0.0.1:{upstream_port}");
    let (nginx, https_port, http_port) = Nginx::start(dir, &upstream);
    let public = format!("https://localhost:{https_port}");
    let args = [
        "pufa",
        "serve",
        "--public-url",
        public.as_str(),
        "--trusted-proxies",
        "127.0.0.1,::1",
    ];
    let from_cli = pufa::config::Config::from_args(&serve_args(&args));
    assert!(
        from_cli.secure_cookies,
        "an https public URL makes cookies Secure"
    );
    let app = TestApp::spawn_on(upstream_port, move |c| {
        c.public_url = from_cli.public_url;
        c.secure_cookies = from_cli.secure_cookies;
        c.trusted_proxies = from_cli.trusted_proxies;
        c.transcode_workers = 1;
    })
    .await;

    // plain HTTP is redirected to the public HTTPS address
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://localhost:{http_port}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);

    // the login page hands out a Secure CSRF cookie
    let (head, _) = curl(dir, &[&format!("{public}/login")]).await;
    assert_eq!(status_of(&head), 200, "{head}\n{}", nginx.error_log());
    let (csrf, secure) = jar_cookie(dir, "pufa_csrf").expect("csrf cookie");
    assert!(secure, "the CSRF cookie is Secure:\n{head}");

    // a form posted from another site is still refused through the proxy
    let login = |origin: String| {
        let csrf = csrf.clone();
        let url = format!("{public}/login");
        async move {
            let body = format!("login=admin&password={ADMIN_PASSWORD}&csrf={csrf}&next=%2F");
            let origin = format!("Origin: {origin}");
            let args = ["-H", origin.as_str(), "--data", body.as_str(), url.as_str()];
            curl(dir, &args).await
        }
    };
    let (head, _) = login("https://evil.example".into()).await;
    assert_eq!(status_of(&head), 403, "{head}");
    // the browser's Origin is the public URL, while nginx passes `Host: localhost` (no port):
    // before issue 15 this was a 403
    let (head, _) = login(public.clone()).await;
    assert_eq!(status_of(&head), 303, "{head}");
    let (_, secure) = jar_cookie(dir, "pufa_session").expect("session cookie");
    assert!(secure, "the session cookie is Secure:\n{head}");

    // the demo program's second session, through the proxy (the demo's own recording of the
    // first is still being transcoded, and a session takes no upload until that is done)
    let (_, programs) = curl(dir, &[&format!("{public}/api/v1/programs")]).await;
    let programs: Value = serde_json::from_str(&programs).expect("programs");
    let url = format!("{public}/api/v1/programs/{}", programs[0]["id"]);
    let (_, program) = curl(dir, &[&url]).await;
    let program: Value = serde_json::from_str(&program).expect("program");
    let session = program["sessions"][1]["id"].as_i64().expect("session id");

    // upload a clip as the upload page does (multipart, CSRF header, same-site Origin)
    let clip = dir.join("clip.mp4");
    lavfi_clip(&clip);
    let file = format!("file=@{};filename=lecture.mp4", clip.display());
    let origin = format!("Origin: {public}");
    let token = format!("x-csrf-token: {csrf}");
    let url = format!("{public}/api/v1/sessions/{session}/recording");
    let (head, body) = curl(
        dir,
        &["-H", &origin, "-H", &token, "-F", &file, url.as_str()],
    )
    .await;
    assert_eq!(status_of(&head), 202, "{head}{body}");
    let answer: Value = serde_json::from_str(&body).expect("upload answer");
    let job = answer["job_id"].as_i64().expect("job id");

    // follow the progress until the stream ends with the finished job
    let url = format!("{public}/api/v1/jobs/{job}/events");
    let (head, body) = curl(dir, &["-N", url.as_str()]).await;
    assert_eq!(status_of(&head), 200, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("text/event-stream"),
        "{head}"
    );
    let events = sse_events(&body);
    let (kind, last) = events.last().expect("job events");
    assert_eq!(kind, "job", "{body}");
    let last: Value = serde_json::from_str(last).expect("job event data");
    assert_eq!(last["state"], "done", "{body}");
    assert_eq!(last["progress"], 1.0);

    // the recording is published: its lecture page answers through the proxy
    let lecture = last["lecture_id"].as_i64().expect("lecture id");
    let (head, page) = curl(dir, &[&format!("{public}/lectures/{lecture}")]).await;
    assert_eq!(status_of(&head), 200, "{head}");

    // nginx keeps public segments, never private ones: first as it is (registered only)
    let master = crate::helpers::master_playlist(&page);
    let (_, master_text) = curl(dir, &[&format!("{public}{master}")]).await;
    let rung = master_text
        .lines()
        .find(|l| l.ends_with(".m3u8"))
        .expect("a media playlist")
        .to_string();
    let base = master
        .rsplit_once('/')
        .expect("version folder")
        .0
        .to_string();
    let (_, playlist) = curl(dir, &[&format!("{public}{base}/{rung}")]).await;
    let rung_dir = rung.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let segments: Vec<String> = playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| format!("{public}{base}/{rung_dir}/{l}"))
        .collect();
    let cache_status = |head: &str| {
        head.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-cache-status:")
                    .map(|v| v.trim().to_uppercase())
            })
            .unwrap_or_default()
    };
    for _ in 0..2 {
        let (head, _) = curl(dir, &[&segments[0]]).await;
        assert_eq!(status_of(&head), 200, "{head}");
        assert_ne!(
            cache_status(&head),
            "HIT",
            "a private segment was cached:\n{head}"
        );
    }
    // made public, a segment is fetched from pufa once and then from nginx's cache, also
    // for a viewer without a login
    let visibility = format!("{public}/admin/lectures/{lecture}/visibility");
    let form = format!("csrf={csrf}&visibility=public");
    let (head, _) = curl(dir, &["-H", &origin, "--data", &form, &visibility]).await;
    assert_eq!(status_of(&head), 303, "{head}");
    let last = segments.last().expect("a segment");
    let anonymous = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = anonymous.get(last).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        seen.push(
            r.headers()
                .get("x-cache-status")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default(),
        );
    }
    assert_eq!(seen, ["MISS", "HIT"], "{}", nginx.error_log());

    app.stop().await;
    drop(nginx);
}

/// `pufa serve` arguments parsed as the binary parses them.
fn serve_args(args: &[&str]) -> pufa::config::ServeArgs {
    use clap::Parser;
    match pufa::config::Cli::try_parse_from(args)
        .expect("arguments")
        .command
    {
        pufa::config::Command::Serve(a) => *a,
        _ => panic!("not serve"),
    }
}

/// pufa's job stream tells nginx (and any proxy honouring it) not to buffer the events.
#[tokio::test]
async fn job_events_ask_proxies_not_to_buffer() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let clip = app.dir.join("clip.mp4");
    lavfi_clip(&clip);
    let r = app.upload(&org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    let r = org
        .get(app.url(&format!("/api/v1/jobs/{job}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    drop(r);
    app.stop().await;
}

/// Before issue 15 the client address was the leftmost `X-Forwarded-For` entry, which the
/// client writes itself: a new made-up entry per attempt meant a new throttle counter. Now the
/// address is the rightmost entry not written by a trusted proxy — the one nginx appended.
#[tokio::test]
async fn a_forged_leftmost_forwarded_for_does_not_escape_the_address_throttle() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = "127.0.0.1,::1".parse().expect("proxies");
    })
    .await;
    let c = app.anonymous();
    let attempt = |i: u32, real: &'static str| {
        let c = c.clone();
        let url = app.url("/api/v1/login");
        async move {
            // a different login each time: only the per-address counter can refuse it
            c.post(url)
                .header("x-forwarded-for", format!("10.{i}.0.1, {real}"))
                .json(&json!({"login": format!("nobody-{i}"), "password": "wrong-password"}))
                .send()
                .await
                .unwrap()
        }
    };
    let limit = u32::try_from(pufa::app::login::IP_FAILURE_LIMIT).unwrap();
    for i in 0..limit {
        let r = attempt(i, "198.51.100.7").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = attempt(limit, "198.51.100.7").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem(r).await["code"], "too_many_requests");
    // another client behind the same proxy has its own counter
    let r = attempt(limit + 1, "198.51.100.8").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// The upload form states the limit the server enforces (it said "0.0 GB" for limits below
/// 100 MB), so an operator who lowers `--max-upload-bytes` to match the proxy sees it there.
#[tokio::test]
async fn the_upload_form_states_the_configured_limit() {
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 50 * 1024 * 1024).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(page.contains("最大 50 MB"), "{page}");
    app.stop().await;
}
