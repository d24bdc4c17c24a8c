//! 500 concurrent viewers of one live on loopback, each its own enterprise with its own login
//! cookie (a confirmed sign-up: a live is for enrolled viewers by default), while a 1080p30
//! H.264 publish runs in real time (stream copy of the 1080p source into RTMP, so the ladder
//! is the full three-rung one). Every viewer loads the master, then one video rendition (round
//! robin over the variants) and the audio rendition as hls.js does: it reloads each media
//! playlist — with LL-HLS a blocking reload (`_HLS_msn`/`_HLS_part` of the next part), with
//! plain HLS after a target duration (half of it when nothing changed) — and fetches the init
//! segment once and each new segment.
//!
//! Baseline: nginx (Debian, a throwaway config in the temporary folder, 2 workers like the
//! server's 2 runtime threads) serving the same live folder's files statically — the
//! packager's own on-disk playlists and segments, no access check, no blocking reload — to the
//! same clients, right after, with the same live still running. With LL-HLS the nginx side
//! reloads plainly (a static server cannot hold a request until a part exists).
//!
//! Reported per phase: playlist and segment response times (p50/p99/max), errors (any
//! non-200 or failed request), the ingest's lag and dropped rungs from the organizer's live
//! API (sampled every 2 s) and the media seconds packaged per wall second, and CPU of the
//! server, nginx and this load generator. For LL-HLS also the fan-out delay: for each
//! (playlist, msn, part), how long after the first viewer each other viewer got its answer.
//!
//! `PUFA_BENCH_VIEWERS` (500), `PUFA_BENCH_SECONDS` per phase (60), `PUFA_BENCH_MODES`
//! (`plain,ll`), `PUFA_BENCH_SOURCE_SECONDS` (600: the source must outlast the setup and both
//! phases).

use crate::common::{self, parse_master, parse_media, percentile, resolve, sorted, Server};
use crate::{env_num, print_header};
use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Client, StatusCode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One reload loop's figures (merged over all loops of a phase).
#[derive(Default)]
struct Stats {
    playlist_ms: Vec<f64>,
    segment_ms: Vec<f64>,
    segment_bytes: u64,
    errors: HashMap<String, u64>,
    /// (playlist, msn, part) of a blocking reload and when its answer arrived.
    blocking: Vec<(String, u64, u64, Instant)>,
}

impl Stats {
    fn error(&mut self, what: String) {
        *self.errors.entry(what).or_default() += 1;
    }

    fn merge(&mut self, o: Stats) {
        self.playlist_ms.extend(o.playlist_ms);
        self.segment_ms.extend(o.segment_ms);
        self.segment_bytes += o.segment_bytes;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.blocking.extend(o.blocking);
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The ingest as the organizer's live API showed it during a phase.
#[derive(Default)]
struct IngestSamples {
    lag_ms: Vec<f64>,
    dropped: usize,
    media_start: Option<(f64, Instant)>,
    media_end: Option<(f64, Instant)>,
}

struct Phase {
    label: String,
    stats: Stats,
    wall_s: f64,
    ingest: IngestSamples,
    server_cpu_s: f64,
    nginx_cpu_s: Option<f64>,
    generator_cpu_s: f64,
    machine_cpu_s: f64,
}

pub async fn run() -> Result<()> {
    print_header("Live viewers (concurrent, loopback)");
    let viewers = env_num("PUFA_BENCH_VIEWERS", 500.0) as u32;
    let seconds = env_num("PUFA_BENCH_SECONDS", 60.0);
    let source = common::source_1080(env_num("PUFA_BENCH_SOURCE_SECONDS", 600.0) as u32)?;
    let modes = std::env::var("PUFA_BENCH_MODES").unwrap_or_else(|_| "plain,ll".into());
    let mut phases = Vec::new();
    for mode in modes.split(',').map(str::trim) {
        let part_ms = match mode {
            "ll" => "500",
            "plain" => "0",
            other => bail!("PUFA_BENCH_MODES: unknown mode {other}"),
        };
        phases.extend(run_mode(mode, part_ms, viewers, seconds, &source).await?);
    }
    println!("| server | served by | reload | playlist requests | playlist p50 / p99 / max ms | segments | segment p50 / p99 ms | MB/s | errors | ingest lag p50 / max ms | dropped rungs | media s per wall s | server CPU | nginx CPU | load generator CPU | machine CPU |");
    println!("|---|---|---|---:|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    for p in &phases {
        let pl = sorted(p.stats.playlist_ms.clone());
        let sg = sorted(p.stats.segment_ms.clone());
        let lag = sorted(p.ingest.lag_ms.clone());
        let rate = match (p.ingest.media_start, p.ingest.media_end) {
            (Some((m0, t0)), Some((m1, t1))) if t1 > t0 => {
                format!("{:.3}", (m1 - m0) / (t1 - t0).as_secs_f64())
            }
            _ => "–".into(),
        };
        println!(
            "| {} | {:.0} | {:.2} / {:.2} / {:.2} | {} | {:.2} / {:.2} | {:.1} | {} | {:.0} / {:.0} | {} | {} | {:.0} % | {} | {:.0} % | {:.0} % |",
            p.label,
            pl.len(),
            percentile(&pl, 50.0),
            percentile(&pl, 99.0),
            percentile(&pl, 100.0),
            sg.len(),
            percentile(&sg, 50.0),
            percentile(&sg, 99.0),
            p.stats.segment_bytes as f64 / 1e6 / p.wall_s,
            p.stats.error_count(),
            percentile(&lag, 50.0),
            percentile(&lag, 100.0),
            p.ingest.dropped,
            rate,
            100.0 * p.server_cpu_s / p.wall_s,
            p.nginx_cpu_s
                .map_or("–".into(), |c| format!("{:.0} %", 100.0 * c / p.wall_s)),
            100.0 * p.generator_cpu_s / p.wall_s,
            100.0 * p.machine_cpu_s / p.wall_s,
        );
    }
    for p in &phases {
        if !p.stats.errors.is_empty() {
            println!(
                "\nerrors in {}: {:?}",
                p.label.replace(" | ", ", "),
                p.stats.errors
            );
        }
        if !p.stats.blocking.is_empty() {
            let fan = sorted(fanout_ms(&p.stats.blocking));
            println!(
                "\nfan-out of blocking reloads in {}: {} answers; after the first viewer's answer the others had theirs within p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                p.label.replace(" | ", ", "),
                fan.len(),
                percentile(&fan, 50.0),
                percentile(&fan, 99.0),
                percentile(&fan, 100.0),
            );
        }
    }
    Ok(())
}

/// For every blocking reload, how long after the first answer to the same request it came.
fn fanout_ms(answers: &[(String, u64, u64, Instant)]) -> Vec<f64> {
    let mut first: HashMap<(&str, u64, u64), Instant> = HashMap::new();
    for (p, m, i, t) in answers {
        let e = first.entry((p.as_str(), *m, *i)).or_insert(*t);
        if *t < *e {
            *e = *t;
        }
    }
    answers
        .iter()
        .map(|(p, m, i, t)| (*t - first[&(p.as_str(), *m, *i)]).as_secs_f64() * 1000.0)
        .collect()
}

async fn run_mode(
    mode: &str,
    part_ms: &str,
    viewers: u32,
    seconds: f64,
    source: &Path,
) -> Result<Vec<Phase>> {
    let tmp = tempfile::tempdir()?;
    let server = Server::start(
        tmp.path(),
        &[
            "--live-part-ms",
            part_ms,
            "--live-grace-secs",
            "5",
            "--transcode-workers",
            "0",
        ],
    )
    .await?;
    let org = common::organizer(&server).await?;
    let session = common::live_session(&server, &org, i64::from(viewers) + 100).await?;
    eprintln!("{mode}: registering {viewers} enterprises …");
    let clients: Vec<Client> = common::enterprises(&server, session, 10_000, viewers)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let url = common::rtmp_url(&server, &org, session).await?;
    let mut publisher = common::publish_file(source, &url)?;
    let (info, _) = common::wait_live(&server, &org, session, Duration::from_secs(30), |i| {
        i["state"] == "live" && i["hls_url"].is_string()
    })
    .await?;
    let master = info["hls_url"]
        .as_str()
        .ok_or_else(|| anyhow!("no hls_url"))?
        .to_string();
    // wait until the top rendition lists a few segments
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = get_text(&org, &server.url(&master))
            .await
            .unwrap_or_default();
        let (variants, _) = parse_master(&text);
        if let Some(v) = variants.first() {
            let pl = get_text(&org, &server.url(&resolve(&master, v)))
                .await
                .unwrap_or_default();
            if parse_media(&pl).segments.len() >= 3 {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!("the live did not list 3 segments within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let blocking = part_ms != "0";
    let server_label = if blocking {
        "LL-HLS (`--live-part-ms 500`)"
    } else {
        "plain HLS (`--live-part-ms 0`)"
    };
    let mut phases = Vec::new();
    eprintln!("{mode}: {viewers} viewers on pufa for {seconds} s …");
    let p = phase(
        &server,
        &org,
        session,
        &clients,
        &server.url,
        &master,
        blocking,
        seconds,
        None,
    )
    .await?;
    phases.push(Phase {
        label: format!(
            "{server_label} | pufa | {}",
            if blocking { "blocking" } else { "plain" }
        ),
        ..p
    });
    if publisher.try_wait()?.is_some() {
        bail!("the publisher exited during the pufa phase");
    }

    let live_dir = find_live_dir(&server.root.join("media"))
        .context("the live's folder (a master.m3u8 under media/)")?;
    let nginx = Nginx::start(tmp.path(), &live_dir).await?;
    eprintln!("{mode}: {viewers} viewers on nginx for {seconds} s …");
    let p = phase(
        &server,
        &org,
        session,
        &clients,
        &nginx.url,
        "/master.m3u8",
        false,
        seconds,
        Some(&nginx),
    )
    .await?;
    phases.push(Phase {
        label: format!("{server_label} | nginx (static files, baseline) | plain"),
        ..p
    });
    drop(nginx);
    publisher.kill();
    let (warnings, sample) = server.log_summary();
    if warnings > 0 {
        eprintln!("{mode}: the server logged {warnings} warnings/errors, e.g. {sample:?}");
    }
    Ok(phases)
}

async fn get_text(c: &Client, url: &str) -> Result<String> {
    let r = c.get(url).send().await?;
    if r.status() != StatusCode::OK {
        bail!("GET {url}: {}", r.status());
    }
    Ok(r.text().await?)
}

/// One phase: every client watches through `base` for `seconds`; the ingest is sampled
/// through the organizer's live API meanwhile.
#[allow(clippy::too_many_arguments)]
async fn phase(
    server: &Server,
    org: &Client,
    session: i64,
    clients: &[Client],
    base: &str,
    master: &str,
    blocking: bool,
    seconds: f64,
    nginx: Option<&Nginx>,
) -> Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, org, url) = (stop.clone(), org.clone(), server.url(""));
        tokio::spawn(async move {
            let mut s = IngestSamples::default();
            while !stop.load(Ordering::Relaxed) {
                let path = format!("{url}/api/v1/sessions/{session}/live");
                if let Ok(r) = org.get(&path).send().await {
                    if let Ok(v) = r.json::<serde_json::Value>().await {
                        let i = common::Ingest::of(&v);
                        if let Some(l) = i.lag_ms {
                            s.lag_ms.push(l);
                        }
                        s.dropped = s.dropped.max(i.dropped);
                        if let Some(m) = i.media_time_s {
                            let now = (m, Instant::now());
                            s.media_start.get_or_insert(now);
                            s.media_end = Some(now);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            s
        })
    };
    let server_cpu0 = common::cpu_seconds(server.pid());
    let nginx_cpu0 = nginx.map(Nginx::cpu_seconds);
    let own0 = common::own_cpu_seconds();
    let machine0 = common::machine_busy_seconds();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in clients.iter().enumerate() {
        let (c, base, master) = (c.clone(), base.to_string(), master.to_string());
        // spread the first requests over a second, as viewers do not arrive all at once
        let delay = Duration::from_millis((i as u64 * 1000) / clients.len().max(1) as u64);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            viewer(c, base, master, i, blocking, deadline).await
        });
    }
    let mut stats = Stats::default();
    while let Some(r) = tasks.join_next().await {
        stats.merge(r?);
    }
    let wall_s = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let ingest = sampler.await?;
    Ok(Phase {
        label: String::new(),
        stats,
        wall_s,
        ingest,
        server_cpu_s: common::cpu_seconds(server.pid()) - server_cpu0,
        nginx_cpu_s: nginx.zip(nginx_cpu0).map(|(n, c0)| n.cpu_seconds() - c0),
        generator_cpu_s: common::own_cpu_seconds() - own0,
        machine_cpu_s: common::machine_busy_seconds() - machine0,
    })
}

/// One viewer: the master, then the `n`-th video variant and every `EXT-X-MEDIA` rendition
/// reloaded side by side until `deadline`.
async fn viewer(
    c: Client,
    base: String,
    master: String,
    n: usize,
    blocking: bool,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let t0 = Instant::now();
    let text = match get_text(&c, &format!("{base}{master}")).await {
        Ok(t) => t,
        Err(e) => {
            stats.error(format!("master: {e}"));
            return stats;
        }
    };
    stats.playlist_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    let (variants, media) = parse_master(&text);
    let Some(variant) = variants.get(n % variants.len().max(1)) else {
        stats.error("master without variants".into());
        return stats;
    };
    let mut loops = vec![resolve(&master, variant)];
    loops.extend(media.iter().map(|m| resolve(&master, m)));
    let results = futures_util::future::join_all(
        loops
            .into_iter()
            .map(|pl| reload_loop(c.clone(), base.clone(), pl, blocking, deadline)),
    )
    .await;
    for r in results {
        stats.merge(r);
    }
    stats
}

/// Reload one media playlist until `deadline`, fetching the init segment once and then each
/// new segment (at the start only the newest, as a player joining at the live edge).
async fn reload_loop(
    c: Client,
    base: String,
    playlist: String,
    blocking: bool,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut last_fetched: Option<u64> = None;
    let mut next: Option<(u64, u64)> = None;
    let mut init_done = false;
    let mut last_text = String::new();
    while Instant::now() < deadline {
        let query = match next {
            Some((m, p)) if blocking => format!("?_HLS_msn={m}&_HLS_part={p}"),
            _ => String::new(),
        };
        let t0 = Instant::now();
        let text = match c.get(format!("{base}{playlist}{query}")).send().await {
            Ok(r) if r.status() == StatusCode::OK => match r.text().await {
                Ok(t) => t,
                Err(e) => {
                    stats.error(format!("playlist body: {e}"));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
            Ok(r) => {
                stats.error(format!("playlist {}", r.status().as_u16()));
                tokio::time::sleep(Duration::from_millis(500)).await;
                next = None;
                continue;
            }
            Err(e) => {
                stats.error(format!("playlist request: {}", kind(&e)));
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        stats.playlist_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        if let (true, Some((m, p))) = (blocking, next) {
            stats
                .blocking
                .push((playlist.clone(), m, p, Instant::now()));
        }
        let pl = parse_media(&text);
        if !init_done {
            if let Some(map) = &pl.map {
                fetch(&c, &base, &resolve(&playlist, map), &mut stats).await;
            }
            init_done = true;
        }
        let from = match last_fetched {
            Some(l) => l + 1,
            None => pl.segments.last().map_or(0, |s| s.0),
        };
        for (msn, uri) in pl.segments.iter().filter(|(m, _)| *m >= from) {
            if Instant::now() >= deadline {
                break;
            }
            fetch(&c, &base, &resolve(&playlist, uri), &mut stats).await;
            last_fetched = Some(*msn);
        }
        if pl.ended {
            break;
        }
        if blocking && pl.part_target_s.is_some() {
            next = Some((pl.next_msn, pl.trailing_parts));
        } else {
            // hls.js: a target duration after a changed playlist, half of it otherwise
            let wait = if text != last_text {
                pl.target_s
            } else {
                pl.target_s / 2.0
            };
            let until = t0 + Duration::from_secs_f64(wait);
            if until > Instant::now() {
                tokio::time::sleep_until(until.into()).await;
            }
        }
        last_text = text;
    }
    stats
}

async fn fetch(c: &Client, base: &str, path: &str, stats: &mut Stats) {
    let t0 = Instant::now();
    match c.get(format!("{base}{path}")).send().await {
        Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
            Ok(b) => {
                stats.segment_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                stats.segment_bytes += b.len() as u64;
            }
            Err(e) => stats.error(format!("segment body: {e}")),
        },
        Ok(r) => stats.error(format!("segment {}", r.status().as_u16())),
        Err(e) => stats.error(format!("segment request: {}", kind(&e))),
    }
}

fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    }
}

/// The live's current period folder: the newest `master.m3u8` under the media root.
fn find_live_dir(media: &Path) -> Option<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<(std::time::SystemTime, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, found);
            } else if p.file_name().is_some_and(|n| n == "master.m3u8") {
                if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                    found.push((m, dir.to_path_buf()));
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(media, &mut found);
    found.into_iter().max_by_key(|(m, _)| *m).map(|(_, d)| d)
}

/// nginx serving `root` on a free loopback port from a throwaway config; stopped with
/// SIGTERM (its master then stops its workers) when dropped.
struct Nginx {
    child: common::ChildGuard,
    url: String,
}

impl Nginx {
    async fn start(tmp: &Path, root: &Path) -> Result<Nginx> {
        let dir = tmp.join("nginx");
        for sub in ["", "body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let port = common::free_port()?;
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let d = dir.display();
        let conf = format!(
            "{user}worker_processes 2;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 8192; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }}\n\
               default_type application/octet-stream;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {root};\n\
                 location ~ \\.m3u8$ {{ add_header Cache-Control no-cache; }}\n  }}\n}}\n",
            user = if is_root { "user root root;\n" } else { "" },
            root = root.display(),
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let child = common::ChildGuard::spawn(
            Command::new("nginx")
                .arg("-p")
                .arg(&dir)
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .stderr(Stdio::null()),
        )
        .context("nginx (Debian package nginx-light or nginx) must be installed")?;
        let nginx = Nginx {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let c = Client::new();
        for _ in 0..200 {
            if let Ok(r) = c.get(format!("{}/master.m3u8", nginx.url)).send().await {
                if r.status() == StatusCode::OK {
                    return Ok(nginx);
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("nginx did not serve {}/master.m3u8", root.display())
    }

    /// CPU seconds of the master and its workers.
    fn cpu_seconds(&self) -> f64 {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        common::cpu_seconds(pid)
            + children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .map(common::cpu_seconds)
                .sum::<f64>()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait_for(Duration::from_secs(5));
    }
}
