//! Media behind nginx with `X-Accel-Redirect` (issue 19): pufa checks every playlist and
//! segment request and answers with an empty body and `X-Accel-Redirect`; nginx, configured
//! with the documented `deploy/nginx/pufa-accel.conf`, sends the file. Through nginx an
//! authorised viewer gets the file's exact bytes (and byte ranges), an anonymous viewer of a
//! private lecture gets pufa's 401, and the internal prefix cannot be reached from outside.
//! Without the flag pufa serves segments itself, from its segment cache on repeated requests.

use crate::helpers::{master_playlist, TestApp};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";
const PREFIX: &str = "/_pufa_media/";

/// nginx in front of pufa with the accel location, killed on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Nginx {
    /// Start nginx on a free port proxying to `upstream`, with `deploy/nginx/pufa-accel.conf`
    /// (its media folder replaced by `media`) in the server block.
    fn start(dir: &Path, upstream: &str, media: &Path) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} missing: `make deps` installs nginx-light"
        );
        let documented = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/pufa-accel.conf"),
        )
        .expect("deploy/nginx/pufa-accel.conf");
        let placeholder = "alias /var/lib/pufa/media/;";
        assert!(
            documented.contains(placeholder),
            "pufa-accel.conf lost {placeholder:?}"
        );
        assert!(documented.contains(&format!("location {PREFIX} {{")));
        let accel = documented.replace(placeholder, &format!("alias {}/;", media.display()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let d = dir.display();
        // master_process off: one process as the current user (see tests/api/proxy.rs)
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 128; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    proxy_http_version 1.1;\n    \
             proxy_set_header Connection \"\";\n    proxy_set_header Host $host;\n    \
             location / {{ proxy_pass http://{upstream}; }}\n{accel}\n  }}\n}}\n"
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
            port,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nginx did not start: {}", nginx.error_log());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Upload an 8 s clip for the first demo session, transcode it; returns the lecture id (its
/// visibility is the default, `registered`).
async fn publish(app: &TestApp, org: &Client) -> i64 {
    let session = app.demo_session_ids(org).await[0];
    let clip = app.dir.join("clip.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 8.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = app.upload(org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    assert_eq!(app.drain_jobs().await, 1);
    let state = app.job(org, job).await;
    assert_eq!(state["state"], "done", "{state}");
    state["lecture_id"].as_i64().unwrap()
}

/// The first segment's URL path below `master` (a `/media/…/master.m3u8` path), reading the
/// playlists with `get`.
async fn first_segment(master: &str, get: impl AsyncFn(&str) -> String) -> String {
    let text = get(master).await;
    let media_name = text.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let base = master.trim_end_matches("master.m3u8");
    let media = get(&format!("{base}{media_name}")).await;
    let rel_dir = media_name
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/"))
        .unwrap_or_default();
    let segment = media.lines().find(|l| l.ends_with(".m4s")).unwrap();
    format!("{base}{rel_dir}{segment}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_sends_authorised_media_after_pufas_check() {
    let app = TestApp::spawn_with(|c| c.media_accel_redirect = Some(PREFIX.into())).await;
    let org = app.organizer().await;
    let lecture = publish(&app, &org).await;
    let (ent, _) = app.register_enterprise(1).await;
    let page = app.get_text(&ent, &format!("/lectures/{lecture}")).await;
    let master = master_playlist(&page);
    let nginx_dir = tempfile::tempdir().expect("tempdir");
    let upstream = app.address.trim_start_matches("http://").to_string();
    let nginx = Nginx::start(nginx_dir.path(), &upstream, &app.dir.join("media"));

    // pufa itself answers an authorised request with the redirect and no body
    let r = ent.get(app.url(&master)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let target = r.headers()["x-accel-redirect"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        target,
        format!("{PREFIX}{}", master.trim_start_matches("/media/"))
    );
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert!(r.bytes().await.unwrap().is_empty());

    // through nginx: the playlists and the segment, byte for byte the files on the disk
    let get = async |path: &str| {
        let r = ent.get(nginx.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}: {}", nginx.error_log());
        r.text().await.unwrap()
    };
    let segment = first_segment(&master, get).await;
    let file = app.dir.join(segment.trim_start_matches('/'));
    let on_disk = std::fs::read(&file).expect("segment file");
    let r = ent.get(nginx.url(&segment)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", nginx.error_log());
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], "video/mp4");
    let cache = headers["cache-control"].to_str().unwrap();
    assert!(
        cache.contains("private") && cache.contains("immutable"),
        "{cache}"
    );
    assert!(headers.get("x-accel-redirect").is_none(), "not passed on");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("last-modified") && headers.contains_key("etag"));
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), on_disk.len());
    assert_eq!(sha256(&body), sha256(&on_disk));

    // Range is answered by nginx from the file
    let r = ent
        .get(nginx.url(&segment))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &on_disk[100..200]);

    // refusals are pufa's: a private lecture needs a login, other versions do not exist
    let anon = app.anonymous();
    let r = anon.get(nginx.url(&segment)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("x-accel-redirect").is_none());
    let r = anon.get(app.url(&segment)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("x-accel-redirect").is_none());
    let base = master.trim_end_matches("master.m3u8");
    for bad in [
        format!("/media/lectures/{lecture}/v999/master.m3u8"),
        format!("{base}..%2F..%2F..%2Fdata%2Fpufa.db"),
        base.trim_end_matches('/').to_string(),
        format!(
            "{base}{}",
            segment.trim_start_matches(base).split('/').next().unwrap()
        ),
    ] {
        let r = ent.get(nginx.url(&bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{bad}"
        );
    }

    // the internal prefix is not reachable from outside, logged in or not
    let inside = target.replace("master.m3u8", "");
    for c in [&ent, &anon] {
        for path in [
            target.clone(),
            format!("{inside}{}", segment.trim_start_matches(base)),
        ] {
            let r = c.get(nginx.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    app.stop().await;
    drop(nginx);
}

/// Without accel, repeated requests for a segment come from pufa's cache with the same bytes
/// and headers as the first (read from the disk); Range requests still work.
#[tokio::test]
async fn pufa_alone_serves_repeated_segments_from_its_cache() {
    let app = TestApp::spawn_with(|c| c.media_sendfile = false).await;
    let org = app.organizer().await;
    let lecture = publish(&app, &org).await;
    let page = app.get_text(&org, &format!("/lectures/{lecture}")).await;
    let master = master_playlist(&page);
    let segment = first_segment(&master, async |p: &str| app.get_text(&org, p).await).await;
    let on_disk = std::fs::read(app.dir.join(segment.trim_start_matches('/'))).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = org.get(app.url(&segment)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers().clone();
        assert!(h.get("x-accel-redirect").is_none());
        assert_eq!(h["content-type"], "video/mp4");
        assert_eq!(h["content-length"], on_disk.len().to_string().as_str());
        assert_eq!(h["accept-ranges"], "bytes");
        let head: Vec<String> = ["cache-control", "last-modified"]
            .iter()
            .map(|k| h[*k].to_str().unwrap().to_string())
            .collect();
        seen.push(head);
        assert_eq!(sha256(&r.bytes().await.unwrap()), sha256(&on_disk));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    let r = org
        .get(app.url(&segment))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &on_disk[..10]);
    // logged out: refused even though the bytes are in memory
    let r = app.anonymous().get(app.url(&segment)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
