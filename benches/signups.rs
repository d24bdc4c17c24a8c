//! Sign-up load against the real release binary on loopback.
//!
//! Run with `cargo bench --bench signups`. For each data directory (the temporary directory,
//! and `/dev/shm` when it exists) it starts `pufa serve --demo` on 127.0.0.1, sets up through
//! the public API a program with [`SESSIONS`] unplaced sessions of [`CAPACITY`] seats and
//! [`ENTERPRISES`] logged-in enterprises, then lets [`CLIENTS`] concurrent tasks
//!
//! 1. (baseline) send `GET /healthz` once per (enterprise, session) pair, then
//! 2. sign every enterprise up for every session exactly once (`POST …/registrations`),
//!
//! and checks afterwards, through the organizer's roster, that no session is oversold and every
//! waitlist is numbered 1..N. Prints a Markdown table; exits non-zero when a check fails.
//!
//! Environment (all optional): `PUFA_BENCH_ENTERPRISES`, `PUFA_BENCH_SESSIONS`,
//! `PUFA_BENCH_CAPACITY`, `PUFA_BENCH_CLIENTS` change the sizes; `PUFA_BENCH_TMPFS=0` skips the
//! `/dev/shm` run; `PUFA_BENCH_PERF="record -g -o FILE"` (any `perf` arguments) runs
//! `perf ARGS -p SERVER_PID` during the sign-up phase of the first run;
//! `PUFA_BENCH_SERVER=PATH` runs another `pufa` binary (an older commit's) instead of this
//! build's; `PUFA_BENCH_RATE=1000` makes the load open-loop: request *i* of a phase is due at
//! *i* ÷ 1000 s, sent by the next free client at that instant (not earlier), and its latency
//! counts from the instant it was due, so a server that falls behind is charged the wait
//! (no coordinated omission). Without it each client sends its next request as soon as the
//! previous one is answered (closed loop: the server's throughput at saturation).
//!
//! The server runs with `--transcode-workers 0` so the demo recording is not transcoded while
//! the load runs. CPU use of the server, of this load generator and of everything else on the
//! machine is read from /proc for each phase, so a disturbed run shows itself.

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// The integration tests' credit-code fixtures (check characters from pufa's own validator).
#[path = "../tests/api/credit_code.rs"]
mod credit_code;
use credit_code::valid_uscc;

const ADMIN_PASSWORD: &str = "admin-bench-pass-1";
const ENTERPRISE_PASSWORD: &str = "enterprise-bench-1";
/// Concurrent load tasks.
const CLIENTS: usize = 64;
const ENTERPRISES: usize = 200;
const SESSIONS: usize = 100;
/// Seats per session; with 200 enterprises 80 per session end up on the waitlist.
const CAPACITY: i64 = 120;
/// Registrations and logins hash with Argon2 (19 MiB each): only a few at a time.
const SETUP_CONCURRENCY: usize = 4;
/// Every request of the load generator gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type BenchResult<T> = Result<T, String>;

struct Sizes {
    clients: usize,
    enterprises: usize,
    sessions: usize,
    capacity: i64,
}

fn env_size(name: &str, default: usize, max: usize) -> BenchResult<usize> {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("{name}={v:?}: expected an integer from 1 to {max}")),
        },
        Err(_) => Ok(default),
    }
}

impl Sizes {
    fn from_env() -> BenchResult<Sizes> {
        Ok(Sizes {
            clients: env_size("PUFA_BENCH_CLIENTS", CLIENTS, 1024)?,
            enterprises: env_size("PUFA_BENCH_ENTERPRISES", ENTERPRISES, 5_000)?,
            sessions: env_size("PUFA_BENCH_SESSIONS", SESSIONS, 1_000)?,
            capacity: env_size("PUFA_BENCH_CAPACITY", CAPACITY as usize, 100_000)? as i64,
        })
    }
}

// ---------- the server process ----------

/// A running `pufa serve`, killed (by its own pid) when dropped.
/// The server binary: `PUFA_BENCH_SERVER` when set (so one load generator can drive the
/// builds of several commits, see benches/signups_ab.sh), else this build's `pufa`.
fn server_binary() -> String {
    std::env::var("PUFA_BENCH_SERVER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pufa").to_string())
}

struct Server {
    child: Child,
    url: String,
    log_lines: Arc<AtomicUsize>,
    log_sample: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Start the release binary on a free loopback port with its data under `root`, on
    /// `database` (a PostgreSQL URL) when given, else SQLite in `root/data`.
    fn start(root: &Path, database: Option<&str>) -> BenchResult<Server> {
        let binary = server_binary();
        let mut command = Command::new(&binary);
        match database {
            Some(url) => command.env("PUFA_DATABASE_URL", url),
            None => command.env_remove("PUFA_DATABASE_URL"),
        };
        let mut child = command
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(root.join("data"))
            .arg("--media")
            .arg(root.join("media"))
            // the demo queues a recording to transcode at start; no transcoding during the load
            .args(["--transcode-workers", "0"])
            .env("PUFA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // no live ingest: its fixed default ports may be taken by another server on the
            // machine, and it plays no part in sign-ups
            .env("PUFA_RTMP_LISTEN", "off")
            .env("PUFA_SRT_LISTEN", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {binary}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout of pufa")?;
        let stderr = child.stderr.take().ok_or("no stderr of pufa")?;
        let log_lines = Arc::new(AtomicUsize::new(0));
        let log_sample = Arc::new(Mutex::new(Vec::new()));
        // stderr: count and keep a few lines (warnings and errors at RUST_LOG=warn)
        {
            let (count, sample) = (log_lines.clone(), log_sample.clone());
            std::thread::spawn(move || drain(BufReader::new(stderr).lines(), &count, &sample));
        }
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("pufa serving on ") {
                        break rest.trim().to_string();
                    }
                }
                Some(Err(e)) => return Err(format!("reading pufa stdout: {e}")),
                None => {
                    let status = child.wait().map_err(|e| e.to_string())?;
                    return Err(format!(
                        "pufa exited ({status}) before printing its address"
                    ));
                }
            }
        };
        if !url.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("refusing to load a non-loopback address {url}"));
        }
        // keep draining stdout (the tracing output goes there) so the child never blocks
        {
            let (count, sample) = (log_lines.clone(), log_sample.clone());
            std::thread::spawn(move || drain(lines, &count, &sample));
        }
        Ok(Server {
            child,
            url,
            log_lines,
            log_sample,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    async fn wait_ready(&self) -> BenchResult<()> {
        let client = client()?;
        for _ in 0..400 {
            if let Ok(r) = client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("{} did not answer /healthz within 10 s", self.url))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain(
    lines: impl Iterator<Item = std::io::Result<String>>,
    count: &AtomicUsize,
    sample: &Mutex<Vec<String>>,
) {
    for line in lines.map_while(Result::ok) {
        // only warnings and errors (the demo prints a notice about the admin account)
        if !(line.contains("WARN") || line.contains("ERROR")) {
            continue;
        }
        count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = sample.lock() {
            if s.len() < 5 {
                s.push(line);
            }
        }
    }
}

// ---------- CPU accounting from /proc ----------

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds of a process (all its threads), or 0 when /proc is unavailable.
fn cpu_seconds(proc_stat: &str, ticks: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(proc_stat) else {
        return 0.0;
    };
    // the fields after the parenthesised command name; utime and stime are fields 14 and 15
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |k: usize| fields.get(k).and_then(|v| v.parse::<f64>().ok());
    match (get(11), get(12)) {
        (Some(u), Some(s)) => (u + s) / ticks,
        _ => 0.0,
    }
}

/// Busy (not idle, not iowait) CPU seconds of the whole machine since boot, from /proc/stat.
fn machine_busy_seconds(ticks: f64) -> f64 {
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
    (v.iter().sum::<f64>() - v[3] - v[4]) / ticks
}

// ---------- setup through the public API ----------

fn client() -> BenchResult<Client> {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("building an HTTP client: {e}"))
}

async fn expect(r: reqwest::Response, want: StatusCode, what: &str) -> BenchResult<Value> {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if status != want {
        return Err(format!("{what}: expected {want}, got {status}: {text}"));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{what}: answer is not JSON ({e}): {text}"))
}

async fn login(server: &Server, c: &Client, login: &str, password: &str) -> BenchResult<()> {
    let r = c
        .post(server.url("/api/v1/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .map_err(|e| format!("login {login}: {e}"))?;
    expect(r, StatusCode::OK, &format!("login {login}")).await?;
    Ok(())
}

/// A program with `n` unplaced sessions (open for sign-up until placed) of `capacity` seats.
async fn create_program(
    server: &Server,
    org: &Client,
    n: usize,
    capacity: i64,
) -> BenchResult<(i64, Vec<i64>)> {
    let start = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let end = start + chrono::Duration::days(60);
    let r = org
        .post(server.url("/api/v1/programs"))
        .json(&json!({
            "title": "示例压力测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "09:30", "minutes": 90},
                      {"weekday": 4, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .map_err(|e| format!("create program: {e}"))?;
    let program = expect(r, StatusCode::CREATED, "create program").await?;
    let pid = program["id"]
        .as_i64()
        .ok_or_else(|| format!("program answer without id: {program}"))?;
    let categories = ["合同管理", "劳动用工", "知识产权", "财税"];
    let mut sessions = Vec::with_capacity(n);
    for i in 0..n {
        let r = org
            .post(server.url(&format!("/api/v1/programs/{pid}/sessions")))
            .json(&json!({
                "title": format!("示例压力测试课程{}", i + 1),
                "category": categories[i % categories.len()],
                "lecturer": {"name": format!("示例律师{}", i % 10), "firm": "示例律师事务所"},
                "minutes": 90, "capacity": capacity, "max_seats_per_enterprise": 1,
            }))
            .send()
            .await
            .map_err(|e| format!("create session {i}: {e}"))?;
        let session = expect(r, StatusCode::CREATED, &format!("create session {i}")).await?;
        sessions.push(
            session["id"]
                .as_i64()
                .ok_or_else(|| format!("session answer without id: {session}"))?,
        );
    }
    Ok((pid, sessions))
}

/// Register enterprise `n` and log it in with its own cookie jar.
async fn enterprise(server: &Server, n: u32) -> BenchResult<Client> {
    let c = client()?;
    let uscc = valid_uscc(n);
    let mut body = json!({
        "name": format!("示例压测企业{n}有限公司"), "uscc": uscc, "industry": "C",
        "district": "示例区", "contact_name": "示例联系人",
        "mobile": format!("138{:08}", n), "password": ENTERPRISE_PASSWORD,
        "privacy_consent": true,
    });
    let mut r = c
        .post(server.url("/api/v1/enterprises"))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("register enterprise {n}: {e}"))?;
    if r.status() == StatusCode::BAD_REQUEST {
        // a server from before the privacy notice (commit c0de434, benches/signups_ab.sh)
        // refuses the field it does not know: register as it expects
        let answer = r.text().await.unwrap_or_default();
        if !answer.contains("privacy_consent") {
            return Err(format!(
                "register enterprise {n}: 400 Bad Request: {answer}"
            ));
        }
        if let Some(fields) = body.as_object_mut() {
            fields.remove("privacy_consent");
        }
        r = c
            .post(server.url("/api/v1/enterprises"))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("register enterprise {n}: {e}"))?;
    }
    expect(r, StatusCode::CREATED, &format!("register enterprise {n}")).await?;
    login(server, &c, &uscc, ENTERPRISE_PASSWORD).await?;
    Ok(c)
}

async fn enterprises(server: &Arc<Server>, n: usize) -> BenchResult<Vec<Client>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(SETUP_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (server, gate) = (server.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((i, enterprise(&server, 70_000 + i as u32).await?))
        });
    }
    let mut out = Vec::with_capacity(n);
    for r in set.join_all().await {
        out.push(r?);
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, c)| c).collect())
}

// ---------- load ----------

/// Tiny deterministic generator so every run sends the same order.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Every (enterprise, session) pair once, in a fixed shuffled order.
fn pairs(enterprises: usize, sessions: usize) -> Vec<(usize, usize)> {
    let mut all: Vec<(usize, usize)> = (0..enterprises)
        .flat_map(|e| (0..sessions).map(move |s| (e, s)))
        .collect();
    let mut rng = Lcg(20_250_501);
    for i in (1..all.len()).rev() {
        let j = rng.below(i + 1);
        all.swap(i, j);
    }
    all
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Healthz,
    SignUp,
}

/// One answered (or failed) request.
struct Sample {
    latency: Duration,
    /// HTTP status, 0 for a transport error.
    status: u16,
    session: usize,
    confirmed: bool,
}

struct Load {
    samples: Vec<Sample>,
    wall: Duration,
    server_cpu: f64,
    client_cpu: f64,
    /// CPU seconds used by everything else on the machine meanwhile (other processes, kernel).
    other_cpu: f64,
    first_error: Option<String>,
}

/// `PUFA_BENCH_RATE`: requests per second of an open-loop phase, or `None` (closed loop).
fn bench_rate() -> Option<f64> {
    std::env::var("PUFA_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| r.is_finite() && *r > 0.0)
}

async fn run_load(
    servers: &Arc<Vec<Arc<Server>>>,
    clients: &Arc<Vec<Client>>,
    sessions: &Arc<Vec<i64>>,
    work: &Arc<Vec<(usize, usize)>>,
    tasks: usize,
    target: Target,
    ticks: f64,
) -> BenchResult<Load> {
    let next = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let server_stats: Vec<String> = servers
        .iter()
        .map(|s| format!("/proc/{}/stat", s.pid()))
        .collect();
    let servers_cpu = || -> f64 { server_stats.iter().map(|st| cpu_seconds(st, ticks)).sum() };
    let server_cpu0 = servers_cpu();
    let client_cpu0 = cpu_seconds("/proc/self/stat", ticks);
    let busy0 = machine_busy_seconds(ticks);
    let rate = bench_rate();
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (servers, clients, sessions, work, next, first_error) = (
            servers.clone(),
            clients.clone(),
            sessions.clone(),
            work.clone(),
            next.clone(),
            first_error.clone(),
        );
        set.spawn(async move {
            let mut out = Vec::with_capacity(work.len() / tasks + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(e, s)) = work.get(i) else { break };
                let c = &clients[e];
                // several replicas: each enterprise stays on one, half the clients on each
                let server = &servers[e % servers.len()];
                let t0 = match rate {
                    Some(rate) => {
                        let due = started + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                        due
                    }
                    None => Instant::now(),
                };
                let sent = match target {
                    Target::Healthz => c.get(server.url("/healthz")).send().await,
                    Target::SignUp => {
                        c.post(
                            server.url(&format!("/api/v1/sessions/{}/registrations", sessions[s])),
                        )
                        .json(&json!({"seats": 1}))
                        .send()
                        .await
                    }
                };
                let answer = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.bytes().await.map(|b| (status, b))
                    }
                    Err(e) => Err(e),
                };
                let latency = t0.elapsed();
                let (status, confirmed) = match answer {
                    Ok((status, body)) => {
                        let want = if target == Target::SignUp { 201 } else { 200 };
                        if status != want {
                            if let Ok(mut f) = first_error.lock() {
                                f.get_or_insert_with(|| {
                                    format!(
                                        "HTTP {status}: {}",
                                        String::from_utf8_lossy(&body)
                                            .chars()
                                            .take(300)
                                            .collect::<String>()
                                    )
                                });
                            }
                        }
                        let confirmed = target == Target::SignUp
                            && serde_json::from_slice::<Value>(&body)
                                .is_ok_and(|v| v["status"] == "confirmed");
                        (status, confirmed)
                    }
                    Err(err) => {
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert_with(|| format!("transport error: {err}"));
                        }
                        (0, false)
                    }
                };
                out.push(Sample {
                    latency,
                    status,
                    session: s,
                    confirmed,
                });
            }
            out
        });
    }
    let mut samples = Vec::with_capacity(work.len());
    for part in set.join_all().await {
        samples.extend(part);
    }
    let wall = started.elapsed();
    let first_error = first_error.lock().ok().and_then(|mut f| f.take());
    let server_cpu = servers_cpu() - server_cpu0;
    let client_cpu = cpu_seconds("/proc/self/stat", ticks) - client_cpu0;
    let busy = machine_busy_seconds(ticks) - busy0;
    Ok(Load {
        samples,
        wall,
        server_cpu,
        client_cpu,
        other_cpu: (busy - server_cpu - client_cpu).max(0.0),
        first_error,
    })
}

struct Stats {
    count: usize,
    ok: usize,
    wall: Duration,
    per_second: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    server_cpu: f64,
    client_cpu: f64,
    other_cpu: f64,
}

/// Nearest-rank percentile of sorted latencies.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Stats {
    fn of(load: &Load, ok_status: u16) -> Stats {
        let mut lat: Vec<Duration> = load.samples.iter().map(|s| s.latency).collect();
        lat.sort_unstable();
        Stats {
            count: load.samples.len(),
            ok: load
                .samples
                .iter()
                .filter(|s| s.status == ok_status)
                .count(),
            wall: load.wall,
            per_second: load.samples.len() as f64 / load.wall.as_secs_f64().max(f64::EPSILON),
            p50: percentile(&lat, 50.0),
            p90: percentile(&lat, 90.0),
            p99: percentile(&lat, 99.0),
            max: lat.last().copied().unwrap_or_default(),
            server_cpu: load.server_cpu,
            client_cpu: load.client_cpu,
            other_cpu: load.other_cpu,
        }
    }
}

// ---------- the oversell check ----------

/// Compare every roster and session count with what the load was answered. Returns the
/// problems found (empty = no oversell, waitlists numbered without gaps).
async fn check_rosters(
    server: &Server,
    org: &Client,
    program_id: i64,
    sessions: &[i64],
    capacity: i64,
    load: &Load,
) -> BenchResult<(Vec<String>, usize, usize)> {
    let mut created = vec![0i64; sessions.len()];
    let mut answered_confirmed = vec![0i64; sessions.len()];
    for s in load.samples.iter().filter(|s| s.status == 201) {
        created[s.session] += 1;
        answered_confirmed[s.session] += i64::from(s.confirmed);
    }
    let r = org
        .get(server.url(&format!("/api/v1/programs/{program_id}")))
        .send()
        .await
        .map_err(|e| format!("get program: {e}"))?;
    let program = expect(r, StatusCode::OK, "get program").await?;
    let views: HashMap<i64, &Value> = program["sessions"]
        .as_array()
        .ok_or_else(|| format!("program without sessions: {program}"))?
        .iter()
        .filter_map(|s| Some((s["id"].as_i64()?, s)))
        .collect();
    let mut problems = Vec::new();
    let (mut total_confirmed, mut total_waitlisted) = (0, 0);
    for (k, &sid) in sessions.iter().enumerate() {
        let r = org
            .get(server.url(&format!("/api/v1/sessions/{sid}/registrations")))
            .send()
            .await
            .map_err(|e| format!("roster of {sid}: {e}"))?;
        let rows = expect(r, StatusCode::OK, &format!("roster of {sid}")).await?;
        let rows = rows
            .as_array()
            .ok_or_else(|| format!("roster of {sid} is not a list"))?;
        let confirmed_seats: i64 = rows
            .iter()
            .filter(|r| r["status"] == "confirmed")
            .map(|r| r["seats"].as_i64().unwrap_or(0))
            .sum();
        let positions: Vec<i64> = rows
            .iter()
            .filter(|r| r["status"] == "waitlisted")
            .map(|r| r["position"].as_i64().unwrap_or(-1))
            .collect();
        let mut enterprises: Vec<i64> = rows
            .iter()
            .filter_map(|r| r["enterprise_id"].as_i64())
            .collect();
        enterprises.sort_unstable();
        enterprises.dedup();
        total_confirmed += confirmed_seats as usize;
        total_waitlisted += positions.len();
        let expected_confirmed = capacity.min(created[k]);
        if confirmed_seats > capacity {
            problems.push(format!(
                "session {sid}: OVERSOLD {confirmed_seats} confirmed > capacity {capacity}"
            ));
        }
        if confirmed_seats != expected_confirmed {
            problems.push(format!(
                "session {sid}: {confirmed_seats} confirmed, expected min({capacity}, {}) = {expected_confirmed}",
                created[k]
            ));
        }
        if answered_confirmed[k] != confirmed_seats {
            problems.push(format!(
                "session {sid}: {} answers said confirmed, roster has {confirmed_seats}",
                answered_confirmed[k]
            ));
        }
        if positions != (1..=positions.len() as i64).collect::<Vec<_>>() {
            problems.push(format!(
                "session {sid}: waitlist positions are not 1..{}",
                positions.len()
            ));
        }
        if confirmed_seats + positions.len() as i64 != created[k] || enterprises.len() != rows.len()
        {
            problems.push(format!(
                "session {sid}: roster has {} rows of {} enterprises for {} sign-ups",
                rows.len(),
                enterprises.len(),
                created[k]
            ));
        }
        match views.get(&sid) {
            Some(v) => {
                let left = v["seats_left"].as_i64().unwrap_or(-1);
                let waitlisted = v["waitlisted"].as_i64().unwrap_or(-1);
                if left != capacity - confirmed_seats || waitlisted != positions.len() as i64 {
                    problems.push(format!(
                        "session {sid}: session view says {left} seats left and {waitlisted} waitlisted, roster {confirmed_seats} confirmed and {} waitlisted",
                        positions.len()
                    ));
                }
            }
            None => problems.push(format!("session {sid} missing from its program")),
        }
    }
    Ok((problems, total_confirmed, total_waitlisted))
}

// ---------- one run ----------

struct Run {
    label: String,
    filesystem: String,
    setup: Duration,
    healthz: Stats,
    signups: Stats,
    confirmed: usize,
    waitlisted: usize,
    problems: Vec<String>,
    server_log_lines: usize,
    server_log_sample: Vec<String>,
}

fn filesystem_of(path: &Path) -> String {
    Command::new("df")
        .arg("--output=fstype")
        .arg(path)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().nth(1).map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// `perf ARGS -p SERVER_PID` while `f` runs, when `PUFA_BENCH_PERF` holds the ARGS.
async fn with_perf<T>(pid: u32, args: Option<&str>, f: impl std::future::Future<Output = T>) -> T {
    let perf = args.and_then(|args| {
        Command::new("perf")
            .args(args.split_whitespace())
            .args(["-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| eprintln!("perf not started: {e}"))
            .ok()
    });
    if perf.is_some() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let result = f.await;
    if let Some(mut perf) = perf {
        // stop exactly the perf process started above, by its id, so it writes its file
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    result
}

async fn run(
    label: &str,
    root: &Path,
    sizes: &Sizes,
    ticks: f64,
    perf: Option<&str>,
    database: Option<&str>,
    replicas: usize,
) -> BenchResult<Run> {
    let setup_started = Instant::now();
    let mut started = Vec::new();
    for _ in 0..replicas.max(1) {
        let replica = Server::start(root, database)?;
        replica.wait_ready().await?;
        started.push(Arc::new(replica));
    }
    let servers = Arc::new(started);
    let server = &servers[0];
    let org = client()?;
    login(server, &org, "admin", ADMIN_PASSWORD).await?;
    let (program_id, sessions) =
        create_program(server, &org, sizes.sessions, sizes.capacity).await?;
    eprintln!(
        "[{label}] {} sessions created; registering {} enterprises ({} at a time)…",
        sessions.len(),
        sizes.enterprises,
        SETUP_CONCURRENCY
    );
    let clients = Arc::new(enterprises(server, sizes.enterprises).await?);
    let setup = setup_started.elapsed();
    let sessions = Arc::new(sessions);
    let work = Arc::new(pairs(sizes.enterprises, sizes.sessions));

    // warm-up (not counted): every client opens its connections
    let warm: Arc<Vec<(usize, usize)>> = Arc::new((0..sizes.enterprises).map(|e| (e, 0)).collect());
    run_load(
        &servers,
        &clients,
        &sessions,
        &warm,
        sizes.clients,
        Target::Healthz,
        ticks,
    )
    .await?;

    eprintln!("[{label}] baseline: {} × GET /healthz…", work.len());
    let healthz_load = run_load(
        &servers,
        &clients,
        &sessions,
        &work,
        sizes.clients,
        Target::Healthz,
        ticks,
    )
    .await?;
    let healthz = Stats::of(&healthz_load, 200);
    let mut problems = Vec::new();
    if healthz.ok != healthz.count {
        problems.push(format!(
            "/healthz: {} of {} answered 200; first: {}",
            healthz.ok,
            healthz.count,
            healthz_load.first_error.as_deref().unwrap_or("?")
        ));
    }

    eprintln!("[{label}] load: {} sign-ups…", work.len());
    let signup_load = with_perf(
        server.pid(),
        perf,
        run_load(
            &servers,
            &clients,
            &sessions,
            &work,
            sizes.clients,
            Target::SignUp,
            ticks,
        ),
    )
    .await?;
    let signups = Stats::of(&signup_load, 201);
    if signups.ok != signups.count {
        problems.push(format!(
            "sign-ups: {} of {} answered 201; first: {}",
            signups.ok,
            signups.count,
            signup_load.first_error.as_deref().unwrap_or("?")
        ));
    }
    let (roster_problems, confirmed, waitlisted) = check_rosters(
        server,
        &org,
        program_id,
        &sessions,
        sizes.capacity,
        &signup_load,
    )
    .await?;
    problems.extend(roster_problems);
    let server_log_sample: Vec<String> = servers
        .iter()
        .flat_map(|s| s.log_sample.lock().map(|s| s.clone()).unwrap_or_default())
        .collect();
    Ok(Run {
        label: label.to_string(),
        filesystem: filesystem_of(root),
        setup,
        healthz,
        signups,
        confirmed,
        waitlisted,
        problems,
        server_log_lines: servers
            .iter()
            .map(|s| s.log_lines.load(Ordering::Relaxed))
            .sum(),
        server_log_sample,
    })
}

// ---------- report ----------

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

fn dratio(a: Duration, b: Duration) -> String {
    ratio(a.as_secs_f64(), b.as_secs_f64())
}

fn print_report(runs: &[Run], sizes: &Sizes) {
    println!();
    println!(
        "{} concurrent clients, {} enterprises × {} sessions = {} requests per phase, capacity {} per session, loopback 127.0.0.1, release build, `pufa serve --demo --transcode-workers 0`",
        sizes.clients,
        sizes.enterprises,
        sizes.sessions,
        sizes.enterprises * sizes.sessions,
        sizes.capacity
    );
    match bench_rate() {
        Some(rate) => println!(
            "open loop at {rate:.0} requests/s (PUFA_BENCH_RATE): latency counts from each request's due instant"
        ),
        None => println!("closed loop: each client sends its next request when the previous one is answered"),
    }
    println!();
    println!("| data dir | phase | requests | wall s | req/s | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/req | load-generator CPU ms/req | other CPU s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        for (phase, s) in [
            ("GET /healthz (baseline)", &r.healthz),
            ("POST sign-up", &r.signups),
        ] {
            let per = |cpu: f64| format!("{:.3}", cpu * 1000.0 / s.count.max(1) as f64);
            println!(
                "| {} ({}) | {} | {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} | {:.2} |",
                r.label,
                r.filesystem,
                phase,
                s.count,
                s.wall.as_secs_f64(),
                s.per_second,
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ms(s.max),
                per(s.server_cpu),
                per(s.client_cpu),
                s.other_cpu,
            );
        }
    }
    println!();
    println!("| data dir | sign-ups/s ÷ healthz req/s | sign-up p50 ÷ healthz p50 | sign-up p99 ÷ healthz p99 | confirmed | waitlisted | oversell |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let oversold = r.problems.iter().filter(|p| p.contains("OVERSOLD")).count();
        println!(
            "| {} ({}) | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.filesystem,
            ratio(r.signups.per_second, r.healthz.per_second),
            dratio(r.signups.p50, r.healthz.p50),
            dratio(r.signups.p99, r.healthz.p99),
            r.confirmed,
            r.waitlisted,
            oversold
        );
    }
    if let [first, rest @ ..] = runs {
        println!();
        for r in rest {
            println!(
                "{} vs {} (baseline): sign-ups/s {}, p99 {}",
                r.label,
                first.label,
                ratio(r.signups.per_second, first.signups.per_second),
                dratio(r.signups.p99, first.signups.p99)
            );
        }
    }
    println!();
    for r in runs {
        let s = &r.signups;
        let wall = s.wall.as_secs_f64();
        println!(
            "[{}] setup {:.1} s; during sign-ups the server used {:.2} CPU s ({:.0}% of one core), the load generator {:.2} CPU s ({:.0}%), everything else {:.2} CPU s, of {} × {:.2} s available; server warnings/errors logged: {}",
            r.label,
            r.setup.as_secs_f64(),
            s.server_cpu,
            100.0 * s.server_cpu / wall,
            s.client_cpu,
            100.0 * s.client_cpu / wall,
            s.other_cpu,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            wall,
            r.server_log_lines
        );
        for line in &r.server_log_sample {
            println!("    server: {line}");
        }
        let goal_rate = s.per_second >= 1000.0;
        let goal_p99 = s.p99 < Duration::from_millis(50);
        println!(
            "[{}] goal ≥ 1000 sign-ups/s: {} ({:.0}/s); p99 < 50 ms: {} ({} ms); oversell: {}",
            r.label,
            if goal_rate { "met" } else { "NOT met" },
            s.per_second,
            if goal_p99 { "met" } else { "NOT met" },
            ms(s.p99),
            r.problems.iter().filter(|p| p.contains("OVERSOLD")).count()
        );
    }
}

async fn bench() -> BenchResult<bool> {
    let sizes = Sizes::from_env()?;
    let ticks = clock_ticks_per_second();
    let perf = std::env::var("PUFA_BENCH_PERF").ok();
    let mut runs = Vec::new();

    let disk = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    runs.push(
        run(
            "tempdir",
            disk.path(),
            &sizes,
            ticks,
            perf.as_deref(),
            None,
            1,
        )
        .await?,
    );
    drop(disk);

    // issue 18: the same load on PostgreSQL with one and with two replicas (each enterprise
    // on one replica, half of them on each), against SQLite with one above
    if let Ok(admin) = std::env::var("PUFA_BENCH_POSTGRES") {
        for replicas in [1, 2] {
            let database = create_database(&admin, replicas).await?;
            let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
            let label = format!("postgres×{replicas}");
            runs.push(
                run(
                    &label,
                    dir.path(),
                    &sizes,
                    ticks,
                    None,
                    Some(&database),
                    replicas,
                )
                .await?,
            );
        }
    }

    let shm = Path::new("/dev/shm");
    let want_tmpfs = std::env::var("PUFA_BENCH_TMPFS").map_or(true, |v| v != "0");
    if want_tmpfs && shm.is_dir() {
        let dir = tempfile::Builder::new()
            .prefix("pufa-bench-")
            .tempdir_in(shm)
            .map_err(|e| format!("directory in /dev/shm: {e}"))?;
        runs.push(run("/dev/shm", dir.path(), &sizes, ticks, None, None, 1).await?);
    } else {
        eprintln!("skipping the /dev/shm run");
    }

    print_report(&runs, &sizes);
    let mut ok = true;
    for r in &runs {
        for p in &r.problems {
            eprintln!("[{}] CHECK FAILED: {p}", r.label);
            ok = false;
        }
        if r.problems.is_empty() {
            println!(
                "[{}] oversell: 0; every sign-up answered 201; waitlists numbered 1..N",
                r.label
            );
        }
    }
    Ok(ok)
}

/// A new database on the PostgreSQL server of `admin` (a URL with rights to create one).
async fn create_database(admin: &str, n: usize) -> BenchResult<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .map_err(|e| format!("connecting to {admin}: {e}"))?;
    let name = format!("pufa_bench_{}_{n}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| format!("no database name in {admin}"))?;
    Ok(format!("{base}/{name}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match bench().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("signups bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
