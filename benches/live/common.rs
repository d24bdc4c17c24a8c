//! What the live benchmarks share: the release server as a child process with its data in a
//! temporary folder, setup through the public API (organizer, a live session, enterprises
//! signed up for it), ffmpeg publishers and the 1080p30 test source, CPU figures from /proc,
//! HLS playlist parsing and percentiles.

use crate::credit_code::valid_uscc;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{Duration as ChronoDuration, Utc};
use futures_util::stream::{self, StreamExt};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "admin-bench-pass-1";
pub const ENTERPRISE_PASSWORD: &str = "enterprise-bench-1";
/// Registrations and logins hash with Argon2 (19 MiB each): only a few at a time.
const SETUP_CONCURRENCY: usize = 4;

// ---------- child processes ----------

/// A child process that is killed (SIGKILL, by its own pid) and reaped when dropped, so a
/// failing benchmark never leaves a server, publisher or browser driver running. The same
/// API as the integration tests' guard, which `tests/api/webdriver.rs` uses.
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Spawn `command` with its standard output piped to the caller.
    pub fn spawn_piped(command: &mut Command) -> std::io::Result<(ChildGuard, ChildStdout)> {
        let mut child = ChildGuard(command.stdout(Stdio::piped()).spawn()?);
        let stdout = child
            .0
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no piped stdout"))?;
        Ok((child, stdout))
    }

    /// Spawn `command` with its standard output discarded.
    pub fn spawn(command: &mut Command) -> std::io::Result<ChildGuard> {
        Ok(ChildGuard(command.stdout(Stdio::null()).spawn()?))
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.try_wait()
    }

    /// Wait up to `limit` for the process to exit by itself.
    pub fn wait_for(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("process {} did not exit within {limit:?}", self.0.id());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the process and reap it.
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Read `stdout` up to the first line starting with `prefix` and return the rest of that line;
/// the output after it is drained on a thread so the child never blocks on a full pipe.
pub fn first_line_after(stdout: ChildStdout, prefix: &str) -> Option<String> {
    let mut lines = BufReader::new(stdout).lines();
    let found = lines.by_ref().map_while(Result::ok).find_map(|line| {
        line.strip_prefix(prefix)
            .map(|rest| rest.trim().to_string())
    })?;
    std::thread::spawn(move || lines.for_each(drop));
    Some(found)
}

/// A free local TCP port: bound, read and released.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

// ---------- the server ----------

/// `pufa serve --demo` (the release binary `cargo bench` builds) with its data and media in
/// `root`, RTMP ingest on a free port and SRT off; its log goes to `root/server.log`.
pub struct Server {
    child: ChildGuard,
    pub url: String,
    pub root: PathBuf,
}

impl Server {
    /// Start the server with `extra` arguments (e.g. `--live-part-ms 0`); RTMP listens on a
    /// free port and the organizer's live API hands out the URL.
    pub async fn start(root: &Path, extra: &[&str]) -> Result<Server> {
        let rtmp = format!("127.0.0.1:{}", free_port()?);
        let log = std::fs::File::create(root.join("server.log"))?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_pufa"));
        command
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(root.join("data"))
            .arg("--media")
            .arg(root.join("media"))
            .args(["--rtmp-listen", &rtmp, "--srt-listen", "off"])
            .args(extra)
            .env("PUFA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env(
                "RUST_LOG",
                std::env::var("PUFA_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stderr(log);
        let (child, stdout) = ChildGuard::spawn_piped(&mut command)
            .with_context(|| format!("starting {}", env!("CARGO_BIN_EXE_pufa")))?;
        let url = first_line_after(stdout, "pufa serving on ")
            .ok_or_else(|| anyhow!("pufa exited before it said where it serves"))?;
        if !url.starts_with("http://127.0.0.1:") {
            bail!("refusing to load a non-loopback address {url}");
        }
        let server = Server {
            child,
            url,
            root: root.to_path_buf(),
        };
        let c = client()?;
        for _ in 0..400 {
            if let Ok(r) = c.get(server.url("/healthz")).send().await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("{} did not answer /healthz within 10 s", server.url)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// The server's SQLite database, read-only (timestamps of lives and jobs).
    pub async fn db(&self) -> Result<sqlx::SqlitePool> {
        let path = self.root.join("data").join("pufa.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .read_only(true);
        Ok(sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?)
    }

    /// Warnings and errors the server logged so far (a few lines, and how many).
    pub fn log_summary(&self) -> (usize, Vec<String>) {
        let text = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(str::to_string)
            .collect();
        let sample = lines.iter().take(5).cloned().collect();
        (lines.len(), sample)
    }
}

// ---------- setup through the public API ----------

/// A client with its own cookie jar that does not follow redirects.
pub fn client() -> Result<Client> {
    Ok(Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// The JSON answer of `r` when its status is `want`, an error naming `what` otherwise.
pub async fn expect(r: reqwest::Response, want: StatusCode, what: &str) -> Result<Value> {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if status != want {
        bail!("{what}: expected {want}, got {status}: {text}");
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: answer is not JSON: {text}"))
}

pub async fn login(server: &Server, c: &Client, login: &str, password: &str) -> Result<()> {
    let r = c
        .post(server.url("/api/v1/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await?;
    expect(r, StatusCode::OK, &format!("login {login}")).await?;
    Ok(())
}

/// A client logged in as the demo organizer `admin`.
pub async fn organizer(server: &Server) -> Result<Client> {
    let c = client()?;
    login(server, &c, "admin", ADMIN_PASSWORD).await?;
    Ok(c)
}

/// A program covering today (sessions of it can go live now).
pub async fn live_program(server: &Server, org: &Client) -> Result<i64> {
    let today = Utc::now().date_naive();
    let r = org
        .post(server.url("/api/v1/programs"))
        .json(&json!({
            "title": "直播基准测试项目（示例）",
            "starts_on": (today - ChronoDuration::days(1)).to_string(),
            "ends_on": (today + ChronoDuration::days(2)).to_string(),
            "timezone": "Asia/Shanghai",
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await?;
    expect(r, StatusCode::CREATED, "create program").await?["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("program without id"))
}

/// A 60-minute session of `capacity` seats in `program` starting in `minutes` (20 puts it in
/// its publishing window, which opens 60 minutes before the start), each with its own lecturer.
/// Sessions of one program must not overlap.
pub async fn new_session(
    server: &Server,
    org: &Client,
    program: i64,
    capacity: i64,
    minutes: i64,
) -> Result<i64> {
    static LECTURER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let lecturer = LECTURER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let starts = (Utc::now() + ChronoDuration::minutes(minutes))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let r = org
        .post(server.url(&format!("/api/v1/programs/{program}/sessions")))
        .json(
            &json!({"title": "直播：劳动合同常见风险（示例）", "category": "劳动用工",
                      "lecturer": {"name": format!("示例律师{lecturer}"), "firm": "示例律师事务所"},
                      "minutes": 60, "capacity": capacity, "starts_at": starts}),
        )
        .send()
        .await?;
    expect(r, StatusCode::CREATED, "create session").await?["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("session without id"))
}

/// A new program covering today with one live session of `capacity` seats.
pub async fn live_session(server: &Server, org: &Client, capacity: i64) -> Result<i64> {
    let program = live_program(server, org).await?;
    new_session(server, org, program, capacity, 20).await
}

/// `n` enterprises, each registered, logged in with its own cookie jar and signed up
/// (confirmed) for `session`: numbers `first..first + n`. Returns each client with its login.
pub async fn enterprises(
    server: &Server,
    session: i64,
    first: u32,
    n: u32,
) -> Result<Vec<(Client, String)>> {
    let results: Vec<Result<(Client, String)>> = stream::iter(first..first + n)
        .map(|i| async move {
            let c = client()?;
            let uscc = valid_uscc(i);
            let r = c
                .post(server.url("/api/v1/enterprises"))
                .json(&json!({
                    "name": format!("示例观众企业{i}有限公司"),
                    "uscc": uscc, "industry": "E", "district": "示例区",
                    "contact_name": "示例联系人", "mobile": format!("139{i:08}"),
                    "password": ENTERPRISE_PASSWORD,
                    "privacy_consent": true,
                }))
                .send()
                .await?;
            expect(r, StatusCode::CREATED, &format!("register enterprise {i}")).await?;
            login(server, &c, &uscc, ENTERPRISE_PASSWORD).await?;
            let r = c
                .post(server.url(&format!("/api/v1/sessions/{session}/registrations")))
                .json(&json!({"seats": 1}))
                .send()
                .await?;
            let reg = expect(r, StatusCode::CREATED, &format!("sign-up {i}")).await?;
            if reg["status"] != "confirmed" {
                bail!("enterprise {i} is not confirmed: {reg}");
            }
            Ok((c, uscc))
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

pub async fn get_json(server: &Server, c: &Client, path: &str) -> Result<Value> {
    let r = c.get(server.url(path)).send().await?;
    expect(r, StatusCode::OK, &format!("GET {path}")).await
}

/// `GET /api/v1/sessions/{id}/live` as `c`.
pub async fn live_info(server: &Server, c: &Client, session: i64) -> Result<Value> {
    get_json(server, c, &format!("/api/v1/sessions/{session}/live")).await
}

/// Poll the live API (every 100 ms) until `done` holds; the answer and when it was seen.
pub async fn wait_live(
    server: &Server,
    c: &Client,
    session: i64,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<(Value, Instant)> {
    let deadline = Instant::now() + limit;
    loop {
        let info = live_info(server, c, session).await?;
        if done(&info) {
            return Ok((info, Instant::now()));
        }
        if Instant::now() > deadline {
            bail!("live state never arrived within {limit:?}: {info}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first value under `key` anywhere in `v` (the organizer's ingest figures are nested).
pub fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|x| find(x, key))),
        Value::Array(items) => items.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

/// What the organizer's live API says about ingest health: the packager's lag and the rungs
/// the real-time guard dropped.
#[derive(Clone, Debug, Default)]
pub struct Ingest {
    pub lag_ms: Option<f64>,
    pub dropped: usize,
    pub media_time_s: Option<f64>,
    pub fps: Option<f64>,
}

impl Ingest {
    pub fn of(info: &Value) -> Ingest {
        let num = |k: &str| find(info, k).and_then(Value::as_f64);
        Ingest {
            lag_ms: num("lag_ms"),
            dropped: find(info, "dropped_rungs")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
            media_time_s: num("media_time_s"),
            fps: num("incoming_fps").or_else(|| num("fps")),
        }
    }
}

// ---------- publishers and sources ----------

/// Where generated sources are kept between runs (`target/live-bench`).
pub fn cache_dir() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("live-bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A 1080p30 H.264/AAC FLV of `seconds` (testsrc2, x264 veryfast, 5 Mbit/s, 2 s GOP — what
/// a lecturer's OBS sends with the README's settings), made once and kept in the cache.
pub fn source_1080(seconds: u32) -> Result<PathBuf> {
    let path = cache_dir()?.join(format!("src1080-{seconds}s.flv"));
    if path.exists() {
        return Ok(path);
    }
    eprintln!("making the {seconds} s 1080p30 source {} …", path.display());
    let tmp = path.with_extension("tmp.flv");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args(["-g", "60", "-keyint_min", "60", "-sc_threshold", "0"])
        .args(["-b:v", "5M", "-maxrate", "5M", "-bufsize", "10M"])
        .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv"])
        .arg(&tmp)
        .status()?;
    if !status.success() {
        bail!("ffmpeg could not make the source ({status})");
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The ffmpeg CLI publishing `file` in real time (`-re`, stream copy) to the RTMP `url`.
pub fn publish_file(file: &Path, url: &str) -> Result<ChildGuard> {
    Ok(ChildGuard::spawn(
        Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-re",
                "-i",
            ])
            .arg(file)
            .args(["-c", "copy", "-f", "flv", url])
            .stderr(Stdio::null()),
    )?)
}

/// The organizer's RTMP URL (with the key) for `session`.
pub async fn rtmp_url(server: &Server, org: &Client, session: i64) -> Result<String> {
    let info = live_info(server, org, session).await?;
    info["rtmp_url"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the organizer's live API has no rtmp_url: {info}"))
}

// ---------- CPU from /proc ----------

/// Clock ticks per second of /proc's CPU times.
pub fn ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds of process `pid` (all its threads); 0 once it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // the fields after the parenthesised command name; utime and stime are fields 14 and 15
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |k: usize| fields.get(k).and_then(|v| v.parse::<f64>().ok());
    match (get(11), get(12)) {
        (Some(u), Some(s)) => (u + s) / ticks(),
        _ => 0.0,
    }
}

/// CPU seconds of this process (the load generator).
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id())
}

/// Busy (not idle, not iowait) CPU seconds of the whole machine since boot, from /proc/stat.
pub fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let v: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return 0.0;
    }
    (v.iter().sum::<f64>() - v[3] - v[4]) / ticks()
}

/// The 1-minute load average, for the report.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------- HLS playlists ----------

/// What a viewer needs from a media playlist.
#[derive(Debug, Default, Clone)]
pub struct MediaPlaylist {
    /// `(msn, uri)` of every complete segment listed.
    pub segments: Vec<(u64, String)>,
    /// The init segment (`EXT-X-MAP`).
    pub map: Option<String>,
    /// Parts listed after the last complete segment (of the open segment).
    pub trailing_parts: u64,
    /// The next segment number (the open one).
    pub next_msn: u64,
    pub target_s: f64,
    pub part_target_s: Option<f64>,
    pub ended: bool,
}

pub fn parse_media(text: &str) -> MediaPlaylist {
    let mut p = MediaPlaylist {
        target_s: 2.0,
        ..MediaPlaylist::default()
    };
    let mut msn = 0u64;
    let mut pending_segment = false;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            p.target_s = v.parse().unwrap_or(2.0);
        } else if let Some(v) = line.strip_prefix("#EXT-X-PART-INF:PART-TARGET=") {
            p.part_target_s = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("#EXT-X-MAP:") {
            p.map = attribute(v, "URI");
        } else if line.starts_with("#EXT-X-PART:") {
            p.trailing_parts += 1;
        } else if line.starts_with("#EXTINF:") {
            pending_segment = true;
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
        } else if !line.starts_with('#') && !line.is_empty() && pending_segment {
            p.segments.push((msn, line.to_string()));
            msn += 1;
            pending_segment = false;
            p.trailing_parts = 0;
        }
    }
    p.next_msn = msn;
    p
}

/// `KEY="value"` (or `KEY=value`) from an attribute list.
pub fn attribute(list: &str, key: &str) -> Option<String> {
    let at = list.find(&format!("{key}="))? + key.len() + 1;
    let rest = &list[at..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?.to_string(),
        None => rest.split(',').next()?.to_string(),
    })
}

/// The media playlists a master names: video variants, then renditions (`EXT-X-MEDIA`).
pub fn parse_master(text: &str) -> (Vec<String>, Vec<String>) {
    let variants = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect();
    let media = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-MEDIA:"))
        .filter_map(|l| attribute(l, "URI"))
        .collect();
    (variants, media)
}

/// `uri` resolved against the playlist at `base` (a path like `/live/3/720p/index.m3u8`).
pub fn resolve(base: &str, uri: &str) -> String {
    if uri.starts_with('/') || uri.starts_with("http") {
        return uri.to_string();
    }
    let dir = base.split('?').next().unwrap_or(base);
    let dir = dir.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/{uri}")
}

// ---------- statistics ----------

/// The `p`-th percentile (nearest rank) of `sorted`, or NaN when it is empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}
