//! Notification delivery to a real local SMTP server.
//!
//! Run with `cargo bench --bench notify` (needs `/usr/bin/python3` with Debian's
//! `python3-aiosmtpd`: `make test-deps`). Each run gets a fresh database in a temporary
//! directory and a fresh aiosmtpd sink (tests/support/smtp_sink.py) on loopback.
//!
//! 1. **Throughput**: [`USERS`] accounts with a verified e-mail address, [`BURST`] notifications
//!    committed first (one transaction each, as use cases do), then `W` delivery workers
//!    (`W` = 1, 2, 4) are started and timed until the sink holds every mail.
//! 2. **Latency**: with 2 workers running and idle, [`LATENCY_SAMPLES`] notifications are
//!    committed one at a time, [`LATENCY_GAP`] apart; for each, the time from just before its
//!    transaction to the sink's receipt of the mail (the sink stamps `received_at` with the same
//!    wall clock). This is the delivery part of "waitlist promotion → mail arrives": a
//!    promotion commits its notification in its own transaction, after which the same path runs.
//!
//! Prints Markdown tables. Environment (optional): `PUFA_BENCH_BURST`, `PUFA_BENCH_SAMPLES`.

use pufa::accounts::Role;
use pufa::app::notify::delivery::{self, Channels};
use pufa::config::Config;
use pufa::db::Db;
use pufa::notify::{ContactKind, Event};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USERS: usize = 100;
const BURST: usize = 1000;
const LATENCY_SAMPLES: usize = 200;
/// 10 notifications a second: below what two workers send (about 40 a second, see the
/// throughput table), so the figure is the delay of one mail, not of a queue.
const LATENCY_GAP: Duration = Duration::from_millis(100);

type BenchResult<T> = Result<T, String>;

/// The aiosmtpd sink process; killed on drop.
struct Sink {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    fn start() -> BenchResult<Sink> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            return Err("the SMTP sink did not start (python3-aiosmtpd installed?)".into());
        }
        Ok(Sink { port, dir, child })
    }

    fn json_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn wait_for(&self, n: usize, limit: Duration) -> BenchResult<()> {
        let start = Instant::now();
        while self.json_files().len() < n {
            if start.elapsed() > limit {
                return Err(format!(
                    "only {} of {n} mails after {limit:?}",
                    self.json_files().len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// Message-ID → arrival (Unix seconds).
    fn arrivals(&self) -> BenchResult<HashMap<String, f64>> {
        let mut out = HashMap::new();
        for p in self.json_files() {
            let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let id = v["message_id"].as_str().unwrap_or("").to_string();
            let at = v["received_at"].as_f64().unwrap_or(f64::NAN);
            out.entry(id).or_insert(at);
        }
        Ok(out)
    }
}

/// A fresh database with [`USERS`] accounts, each with a verified address, and the channels.
async fn setup(dir: &Path, sink: &Sink, workers: usize) -> BenchResult<(Db, Config, Vec<i64>)> {
    let mut config = Config::new(dir.join("data"), dir.join("media"));
    config.notify.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    config.notify.delivery_workers = workers;
    let db = Db::open(&config.data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let mut users = Vec::new();
    for i in 0..USERS {
        let id = db
            .insert_staff(Role::Lawyer, &format!("bench{i}"), "示例律师", "x")
            .await
            .map_err(|e| e.to_string())?;
        let address = format!("bench{i}@example.cn");
        db.store_contact_code(id, ContactKind::Email, &address, "x", now, now, true, now)
            .await
            .map_err(|e| e.to_string())?;
        db.mark_contact_verified(id, ContactKind::Email, &address, now)
            .await
            .map_err(|e| e.to_string())?;
        users.push(id);
    }
    Ok((db, config, users))
}

fn event(n: usize) -> Event {
    Event::CheckupReady {
        checkup_id: i64::try_from(n).unwrap_or(i64::MAX),
        level_zh: "中".into(),
    }
}

fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

async fn throughput(workers: usize, burst: usize) -> BenchResult<(f64, f64)> {
    let sink = Sink::start()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (db, config, users) = setup(dir.path(), &sink, workers).await?;
    let started = Instant::now();
    for n in 0..burst {
        db.notify_now(users[n % users.len()], &event(n), chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?;
    }
    let enqueue_rate = burst as f64 / started.elapsed().as_secs_f64();
    let channels = Arc::new(Channels::from_config(&config).map_err(|e| e.to_string())?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let handles = delivery::start(&db, &config, &channels, &stopped);
    sink.wait_for(burst, Duration::from_secs(600)).await?;
    let rate = burst as f64 / started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    for h in handles {
        h.await.map_err(|e| e.to_string())?;
    }
    Ok((rate, enqueue_rate))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn latency(samples: usize) -> BenchResult<Vec<f64>> {
    let sink = Sink::start()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (db, config, users) = setup(dir.path(), &sink, 2).await?;
    let channels = Arc::new(Channels::from_config(&config).map_err(|e| e.to_string())?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handles = delivery::start(&db, &config, &channels, &stopped);
    // let the workers go idle first
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut committed = Vec::new();
    for n in 0..samples {
        let before = unix_now();
        let id = db
            .notify_now(users[n % users.len()], &event(n), chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?
            .ok_or("stored twice")?;
        committed.push((format!("<pufa.notification.{id}@127.0.0.1>"), before));
        tokio::time::sleep(LATENCY_GAP).await;
    }
    sink.wait_for(samples, Duration::from_secs(120)).await?;
    let _ = stop.send(true);
    for h in handles {
        h.await.map_err(|e| e.to_string())?;
    }
    let arrivals = sink.arrivals()?;
    let mut ms: Vec<f64> = committed
        .iter()
        .map(|(id, before)| {
            arrivals
                .get(id)
                .map(|at| (at - before) * 1000.0)
                .ok_or(format!("{id} never arrived"))
        })
        .collect::<BenchResult<_>>()?;
    ms.sort_by(f64::total_cmp);
    Ok(ms)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run() -> BenchResult<()> {
    let burst = env_size("PUFA_BENCH_BURST", BURST);
    let samples = env_size("PUFA_BENCH_SAMPLES", LATENCY_SAMPLES);
    println!("### Delivery throughput ({burst} mails, {USERS} recipients, aiosmtpd on loopback)\n");
    println!("| workers | mails/s | enqueue (commits/s) |");
    println!("|---:|---:|---:|");
    for workers in [1, 2, 4] {
        let (rate, enqueue) = throughput(workers, burst).await?;
        println!("| {workers} | {rate:.0} | {enqueue:.0} |");
    }
    let ms = latency(samples).await?;
    println!("\n### Commit → mail in the sink ({samples} notifications, 2 workers, one every {LATENCY_GAP:?})\n");
    println!("| p50 | p90 | p99 | max |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
        percentile(&ms, 50.0),
        percentile(&ms, 90.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notify bench: {e}");
            ExitCode::FAILURE
        }
    }
}
