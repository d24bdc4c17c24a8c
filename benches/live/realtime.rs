//! Real-time factor of the live ladder on this machine: a 1080p30 H.264/AAC source published
//! in real time over RTMP for 10 minutes (the ffmpeg CLI with `-re` and stream copy, so the
//! publisher costs next to nothing), packaged by the server into its three-rung ladder (1080p
//! copied, 720p and 360p with x264 veryfast) with LL-HLS parts.
//!
//! Measured: the server's CPU seconds per media second (from /proc/PID/stat, less its idle
//! rate measured before the publish), the packager's lag and dropped rungs (organizer live
//! API, every 2 s), media seconds packaged per wall second, and the headroom = real time ÷
//! processing time, taking the processing time of one media second as its CPU seconds spread
//! over the machine's cores (what the ladder would need if the cores did nothing else).
//!
//! Baseline: the ffmpeg CLI doing the same ladder on the same input at the same pace (`-re`):
//! the command of `benches/live_ladder.sh` (1080p copied, 720p/360p x264 veryfast CRF 23 under
//! pufa's rate caps, IDRs at the source keyframes, AAC 48 kHz stereo, 2 s fMP4 segments).
//!
//! `PUFA_BENCH_SECONDS` (600) sets the length; the source is made once and kept in
//! `target/live-bench/`. `PUFA_BENCH_SIDES=cli` runs the baseline alone.

use crate::common::{self, percentile, sorted, Server};
use crate::{env_num, print_header};
use anyhow::{anyhow, bail, Context, Result};
use pufa::media::ladder::max_bitrate;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Side {
    cpu_s: f64,
    wall_s: f64,
    media_s: f64,
    lag_ms: Vec<f64>,
    dropped: usize,
    other_cpu_s: f64,
    /// Media seconds packaged per wall second between the first and the last sample of the
    /// organizer's live API (the server's own count).
    packaged_rate: Option<f64>,
}

pub async fn run() -> Result<()> {
    print_header("Live ladder in real time (1080p30)");
    let seconds = env_num("PUFA_BENCH_SECONDS", 600.0) as u32;
    let source = common::source_1080(seconds)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;

    if std::env::var("PUFA_BENCH_SIDES").is_ok_and(|v| v == "cli") {
        // the baseline alone, e.g. again after a run that other processes disturbed
        let cli = run_cli(&source, f64::from(seconds))?;
        println!(
            "ffmpeg CLI alone: media {:.1} s, wall {:.1} s, CPU s per media s {:.3}, headroom {:.2}×, other CPU {:.1} s",
            cli.media_s,
            cli.wall_s,
            cli.cpu_s / cli.media_s,
            cores * cli.media_s / cli.cpu_s,
            cli.other_cpu_s
        );
        return Ok(());
    }
    eprintln!("pufa: publishing {seconds} s in real time …");
    let pufa = run_pufa(&source, f64::from(seconds)).await?;
    eprintln!("ffmpeg CLI: the same ladder at the same pace …");
    let cli = run_cli(&source, f64::from(seconds))?;

    println!(
        "| | pufa live (RTMP in, LL-HLS out) | ffmpeg CLI (`-re`, same ladder) | pufa ÷ CLI |"
    );
    println!("|---|---:|---:|---:|");
    let per = |s: &Side| s.cpu_s / s.media_s;
    println!(
        "| media / wall | {:.1} s / {:.1} s | {:.1} s / {:.1} s | |",
        pufa.media_s, pufa.wall_s, cli.media_s, cli.wall_s
    );
    println!(
        "| media s packaged per wall s (server's count, from the live API) | {} | – | |",
        pufa.packaged_rate.map_or("–".into(), |r| format!("{r:.4}"))
    );
    println!(
        "| media s per wall s, publisher start to exit | {:.3} | {:.3} | |",
        pufa.media_s / pufa.wall_s,
        cli.media_s / cli.wall_s
    );
    println!(
        "| CPU s per media s | {:.3} | {:.3} | {:.2} |",
        per(&pufa),
        per(&cli),
        per(&pufa) / per(&cli)
    );
    println!(
        "| headroom ({cores} cores ÷ CPU s per media s) | {:.2}× | {:.2}× | |",
        cores / per(&pufa),
        cores / per(&cli)
    );
    let lag = sorted(pufa.lag_ms.clone());
    println!(
        "| packager lag p50 / p99 / max ({} samples) | {:.0} / {:.0} / {:.0} ms | – | |",
        lag.len(),
        percentile(&lag, 50.0),
        percentile(&lag, 99.0),
        percentile(&lag, 100.0)
    );
    println!("| rungs dropped | {} | – | |", pufa.dropped);
    println!(
        "| CPU of other processes during the run | {:.1} s | {:.1} s | |",
        pufa.other_cpu_s, cli.other_cpu_s
    );
    Ok(())
}

async fn run_pufa(source: &std::path::Path, media_s: f64) -> Result<Side> {
    let tmp = tempfile::tempdir()?;
    let server = Server::start(
        tmp.path(),
        &["--live-grace-secs", "5", "--transcode-workers", "0"],
    )
    .await?;
    let org = common::organizer(&server).await?;
    let session = common::live_session(&server, &org, 10).await?;
    let url = common::rtmp_url(&server, &org, session).await?;
    // the server's own idle rate (the viewer sampler, timers), taken out of the figure
    let idle0 = common::cpu_seconds(server.pid());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rate = (common::cpu_seconds(server.pid()) - idle0) / 5.0;

    let cpu0 = common::cpu_seconds(server.pid());
    let machine0 = common::machine_busy_seconds();
    let start = Instant::now();
    let mut publisher = common::publish_file(source, &url)?;
    let publisher_pid = publisher.id();
    let mut lag = Vec::new();
    let mut dropped = 0;
    let mut publisher_cpu = 0.0;
    // (media seconds packaged, when) at the first and the last sample
    let mut first: Option<(f64, Instant)> = None;
    let mut last: Option<(f64, Instant)> = None;
    let mut next_sample = Instant::now() + Duration::from_secs(2);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(status) = publisher.try_wait()? {
            if !status.success() {
                bail!("the publisher failed ({status})");
            }
            break;
        }
        if Instant::now() < next_sample {
            continue;
        }
        next_sample += Duration::from_secs(2);
        publisher_cpu = f64::max(publisher_cpu, common::cpu_seconds(publisher_pid));
        if let Ok(info) = common::live_info(&server, &org, session).await {
            let i = common::Ingest::of(&info);
            if let Some(l) = i.lag_ms {
                lag.push(l);
            }
            dropped = dropped.max(i.dropped);
            if let Some(m) = i.media_time_s {
                first.get_or_insert((m, Instant::now()));
                last = Some((m, Instant::now()));
            }
        }
        if start.elapsed().as_secs_f64() > media_s * 1.5 + 60.0 {
            bail!("the publish did not end in time");
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // the last frames are still in the ladder for up to the lag
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = common::cpu_seconds(server.pid()) - cpu0 - idle_rate * (wall + 3.0);
    let machine = common::machine_busy_seconds() - machine0;
    let own = cpu + idle_rate * (wall + 3.0);
    let (warnings, sample) = server.log_summary();
    if warnings > 0 {
        eprintln!("the server logged {warnings} warnings/errors, e.g. {sample:?}");
    }
    Ok(Side {
        cpu_s: cpu,
        wall_s: wall,
        media_s,
        lag_ms: lag,
        dropped,
        other_cpu_s: (machine - own - publisher_cpu).max(0.0),
        packaged_rate: match (first, last) {
            (Some((m0, t0)), Some((m1, t1))) if t1 > t0 => {
                Some((m1 - m0) / (t1 - t0).as_secs_f64())
            }
            _ => None,
        },
    })
}

/// The ffmpeg CLI with `-re` doing pufa's ladder (as `benches/live_ladder.sh`), timed by
/// `/usr/bin/time`.
fn run_cli(source: &std::path::Path, media_s: f64) -> Result<Side> {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path();
    let m720 = max_bitrate(1280, 720, 30.0);
    let m360 = max_bitrate(640, 360, 30.0);
    for r in ["1080p", "720p", "360p", "audio"] {
        std::fs::create_dir_all(out.join(r))?;
    }
    let timing = out.join("time.txt");
    let machine0 = common::machine_busy_seconds();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%e %U %S", "-o"])
        .arg(&timing)
        .args(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-re", "-i"])
        .arg(source)
        .args(["-filter_complex", "[0:v]split=2[a][b];[a]scale=-2:720[v720];[b]scale=-2:360[v360]"])
        .args(["-map", "0:v", "-map", "[v720]", "-map", "[v360]", "-map", "0:a"])
        .args(["-c:v:0", "copy"])
        .args(["-c:v:1", "libx264", "-preset", "veryfast", "-crf", "23"])
        .args(["-maxrate:v:1", &m720.to_string(), "-bufsize:v:1", &(m720 * 2).to_string()])
        .args(["-force_key_frames:v:1", "source", "-sc_threshold:v:1", "0"])
        .args(["-c:v:2", "libx264", "-preset", "veryfast", "-crf", "23"])
        .args(["-maxrate:v:2", &m360.to_string(), "-bufsize:v:2", &(m360 * 2).to_string()])
        .args(["-force_key_frames:v:2", "source", "-sc_threshold:v:2", "0"])
        .args(["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"])
        .args(["-f", "hls", "-hls_time", "2", "-hls_list_size", "0"])
        .args(["-hls_segment_type", "fmp4", "-hls_flags", "independent_segments"])
        .args(["-master_pl_name", "master.m3u8"])
        .args([
            "-var_stream_map",
            "v:0,agroup:aud,name:1080p v:1,agroup:aud,name:720p v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio",
        ])
        .arg("-hls_segment_filename")
        .arg(out.join("%v/seg_%05d.m4s"))
        .arg(out.join("%v/index.m3u8"))
        .stdout(Stdio::null())
        .status()
        .context("/usr/bin/time and ffmpeg must be installed")?;
    if !status.success() {
        bail!("the ffmpeg CLI ladder failed ({status})");
    }
    let machine = common::machine_busy_seconds() - machine0;
    let t = std::fs::read_to_string(&timing)?;
    let v: Vec<f64> = t
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let [wall, user, sys] = v[..] else {
        return Err(anyhow!("unexpected /usr/bin/time output: {t}"));
    };
    Ok(Side {
        cpu_s: user + sys,
        wall_s: wall,
        media_s,
        lag_ms: Vec::new(),
        dropped: 0,
        other_cpu_s: (machine - user - sys).max(0.0),
        packaged_rate: None,
    })
}
