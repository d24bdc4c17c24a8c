//! Glass-to-glass latency of a live: the publisher burns its wall clock (UTC, milliseconds)
//! into every frame before encoding; a logged-in enterprise watches the session page in
//! headless chromium; the bench screenshots the page and notes its own clock around each
//! screenshot (same machine, same clock); tesseract reads the burned time from the video's
//! area. Glass-to-glass = screenshot time − burned time. The page's player is asked too:
//! `Date.now() − hls.playingDate` (the PROGRAM-DATE-TIME of what is on screen, i.e. the
//! server's arrival time of that frame: this leaves out the publisher's encoder and the
//! network to the server).
//!
//! Runs LL-HLS (`--live-part-ms 500`) and plain HLS (`--live-part-ms 0`), the baseline, in the
//! same session. `PUFA_BENCH_SHOTS` (default 20) screenshots per mode, one every
//! `PUFA_BENCH_SHOT_EVERY` seconds (1.5) after `PUFA_BENCH_SETTLE` seconds (20) of playing, so
//! the player has reached its steady latency. `PUFA_BENCH_MODES=ll` or `plain` runs one.

use crate::common::{self, percentile, sorted, ChildGuard, Server};
use crate::webdriver::Browser;
use crate::{env_num, print_header};
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";

/// The publisher: 1280×720 at 30 fps with the wall clock drawn in the middle (white on a black
/// box, 96 px), x264 veryfast with 2 s keyframes (the README's OBS settings) and AAC, over RTMP.
/// `setpts=RTCTIME` makes the frame's timestamp the wall clock at the moment it is drawn, so
/// `%{pts:gmtime}` gives the second and `t` the milliseconds; the timestamps are reset after.
fn publish_clock(url: &str) -> Result<ChildGuard> {
    let text = "%{pts\\:gmtime\\:0\\:%T}.%{eif\\:mod(floor(t*1000)\\,1000)\\:d\\:3}";
    let filter = format!(
        "settb=1/1000000,setpts=RTCTIME,drawtext=fontfile={FONT}:fontsize=96:fontcolor=white:\
         box=1:boxcolor=black:boxborderw=16:x=(w-tw)/2:y=(h-th)/2:text='{text}',\
         setpts=PTS-STARTPTS"
    );
    Ok(ChildGuard::spawn(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-t", "3600", "-vf", &filter, "-fps_mode", "cfr", "-r", "30"])
            .args([
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ])
            .args(["-g", "60", "-keyint_min", "60", "-sc_threshold", "0"])
            .args(["-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k"])
            .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv", url])
            .stderr(Stdio::null()),
    )?)
}

/// One screenshot: the bench's clock before and after it, and what the page said.
struct Shot {
    png: PathBuf,
    before: DateTime<Utc>,
    after: DateTime<Utc>,
    /// `Date.now() − hls.playingDate` in ms, when the page's player exposes hls.js.
    playing_date_ms: Option<f64>,
    /// hls.js' own latency estimate (s), when exposed.
    hls_latency_s: Option<f64>,
    /// The video element's box in CSS pixels: x, y, width, height.
    rect: Option<(f64, f64, f64, f64)>,
}

/// The page's hls.js instance: the live player keeps it to itself, so the bench wraps
/// `Hls.prototype.loadSource` (the vendored hls.js is a global) before the live starts and
/// keeps the instance that loads the live.
const CAPTURE_HLS: &str = "if (!window.Hls) return false; \
    if (!window.__benchPatched) { var o = window.Hls.prototype.loadSource; \
      window.Hls.prototype.loadSource = function (u) { window.__benchHls = this; return o.call(this, u); }; \
      window.__benchPatched = true; } return true;";
const HLS: &str = "var v=document.querySelector('video'); var h=window.__benchHls||null;";

pub async fn run() -> Result<()> {
    print_header("Live latency (glass-to-glass)");
    let modes = std::env::var("PUFA_BENCH_MODES").unwrap_or_else(|_| "ll,plain".into());
    let mut rows = Vec::new();
    for mode in modes.split(',').map(str::trim) {
        let part_ms = match mode {
            "ll" => "500",
            "plain" => "0",
            other => bail!("PUFA_BENCH_MODES: unknown mode {other}"),
        };
        rows.push((mode.to_string(), measure(part_ms).await?));
    }
    println!("| mode | screenshots read | glass-to-glass p50 | min | p90 | max | screenshot window (±) | Date.now() − hls.playingDate p50 | hls.js latency p50 |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut p50s = Vec::new();
    for (mode, r) in &rows {
        let g = sorted(r.glass.clone());
        let pd = sorted(r.playing_date.clone());
        let hl = sorted(r.hls_latency.clone());
        p50s.push(percentile(&g, 50.0));
        println!(
            "| {} | {}/{} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {} | {} |",
            if mode == "ll" {
                "LL-HLS (`--live-part-ms 500`)"
            } else {
                "plain HLS (`--live-part-ms 0`, baseline)"
            },
            g.len(),
            r.shots,
            percentile(&g, 50.0),
            percentile(&g, 0.0),
            percentile(&g, 90.0),
            percentile(&g, 100.0),
            r.window_s,
            fmt_s(percentile(&pd, 50.0)),
            fmt_s(percentile(&hl, 50.0)),
        );
    }
    if p50s.len() == 2 {
        println!(
            "\nLL-HLS ÷ plain HLS (p50 glass-to-glass): {:.2}×; references (not run here): Owncast about 10–20 s by default, plain HLS through a CDN 20–30 s.",
            p50s[0] / p50s[1]
        );
    }
    Ok(())
}

fn fmt_s(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.2} s")
    }
}

struct ModeResult {
    shots: usize,
    glass: Vec<f64>,
    playing_date: Vec<f64>,
    hls_latency: Vec<f64>,
    window_s: f64,
}

async fn measure(part_ms: &str) -> Result<ModeResult> {
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
    let session = common::live_session(&server, &org, 10).await?;
    let (_viewer, login) = common::enterprises(&server, session, 7001, 1)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no enterprise"))?;
    // the session page before the live (the countdown), so hls.js can be wrapped first
    let browser = Browser::start(1280, 1000).await;
    browser
        .goto(&server.url(&format!("/login?next=/sessions/{session}")))
        .await;
    browser.fill("#login", &login).await;
    browser.fill("#password", common::ENTERPRISE_PASSWORD).await;
    browser
        .eval("document.querySelector('form.stack').submit();", vec![])
        .await;
    // whatever happens, the browser is closed (a dropped driver would leave chromium running)
    let watched = watch(&browser, &server, &org, session, tmp.path()).await;
    browser.quit().await;
    let (shots, info) = watched?;

    let dropped = common::Ingest::of(&info).dropped;

    // read the burned clocks after the timed part (tesseract costs CPU)
    let mut result = ModeResult {
        shots: shots.len(),
        glass: Vec::new(),
        playing_date: Vec::new(),
        hls_latency: Vec::new(),
        window_s: 0.0,
    };
    let mut windows = Vec::new();
    for shot in &shots {
        let mid = shot.before + (shot.after - shot.before) / 2;
        windows.push((shot.after - shot.before).as_seconds_f64() / 2.0);
        if let Some(ms) = shot.playing_date_ms {
            result.playing_date.push(ms / 1000.0);
        }
        if let Some(l) = shot.hls_latency_s {
            result.hls_latency.push(l);
        }
        match read_clock(&shot.png, shot.rect)? {
            Some(burned) => {
                let g = (mid - on_day_of(burned, mid)).as_seconds_f64();
                // a misread digit gives an impossible latency; such a shot counts as unread
                if (0.0..60.0).contains(&g) {
                    result.glass.push(g);
                } else {
                    eprintln!("implausible clock {burned} in {}", shot.png.display());
                }
            }
            None => eprintln!("no clock read in {}", shot.png.display()),
        }
    }
    result.window_s = windows.iter().sum::<f64>() / windows.len().max(1) as f64;
    if dropped > 0 {
        eprintln!("note: the ingest dropped {dropped} rung(s) during this run");
    }
    if std::env::var("PUFA_BENCH_KEEP").is_ok() {
        let keep = common::cache_dir()?.join(format!("latency-shots-{part_ms}"));
        let _ = std::fs::remove_dir_all(&keep);
        let dir = tmp.path().join("shots");
        std::fs::rename(&dir, &keep).or_else(|_| copy_dir(&dir, &keep))?;
        eprintln!("screenshots kept in {}", keep.display());
    }
    Ok(result)
}

/// Publish, let the page's player start and settle, and take the screenshots; the organizer's
/// last live answer comes back too (dropped rungs).
async fn watch(
    browser: &Browser,
    server: &Server,
    org: &reqwest::Client,
    session: i64,
    tmp: &Path,
) -> Result<(Vec<Shot>, Value)> {
    let n_shots = env_num("PUFA_BENCH_SHOTS", 20.0) as usize;
    let every = Duration::from_secs_f64(env_num("PUFA_BENCH_SHOT_EVERY", 1.5));
    let settle = Duration::from_secs_f64(env_num("PUFA_BENCH_SETTLE", 20.0));
    let deadline = Instant::now() + Duration::from_secs(15);
    while browser.eval(CAPTURE_HLS, vec![]).await != Value::Bool(true) {
        if Instant::now() > deadline {
            bail!("the session page has no hls.js (window.Hls)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let url = common::rtmp_url(server, org, session).await?;
    let mut publisher = publish_clock(&url)?;
    common::wait_live(server, org, session, Duration::from_secs(30), |i| {
        i["state"] == "live"
    })
    .await?;

    // the live player appears by itself; start it muted (autoplay policy) and wait for it to play
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = browser
            .eval(
                "var v=document.querySelector('video'); if(!v) return null; \
                 if(v.paused){v.muted=true; v.play().catch(function(){});} return v.currentTime;",
                vec![],
            )
            .await;
        if t.as_f64().is_some_and(|t| t > 1.0) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the live player did not start playing: {t}");
        }
        if publisher.try_wait()?.is_some() {
            bail!("the publisher exited");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(settle).await;

    let dir = tmp.join("shots");
    std::fs::create_dir_all(&dir)?;
    let mut shots = Vec::with_capacity(n_shots);
    for i in 0..n_shots {
        let page = browser
            .eval(
                &format!(
                    "{HLS} if(v) v.scrollIntoView({{block: 'center'}}); \
                     var r=v?v.getBoundingClientRect():null; return {{\
                     pd: (h&&h.playingDate)?(Date.now()-h.playingDate.getTime()):null, \
                     lat: (h&&isFinite(h.latency))?h.latency:null, \
                     rect: r?[r.left,r.top,r.width,r.height]:null}};"
                ),
                vec![],
            )
            .await;
        let png = dir.join(format!("shot-{i:02}.png"));
        let before = Utc::now();
        browser.screenshot(&png).await;
        let after = Utc::now();
        let rect = page["rect"].as_array().and_then(|r| {
            let v: Vec<f64> = r.iter().filter_map(Value::as_f64).collect();
            (v.len() == 4).then(|| (v[0], v[1], v[2], v[3]))
        });
        shots.push(Shot {
            png,
            before,
            after,
            playing_date_ms: page["pd"].as_f64(),
            hls_latency_s: page["lat"].as_f64(),
            rect,
        });
        tokio::time::sleep(every).await;
    }
    let info = common::live_info(server, org, session).await?;
    publisher.kill();
    Ok((shots, info))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        std::fs::copy(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}

/// The burned time of day (UTC) in a screenshot: the band in the middle of the video's box is
/// cropped out and inverted (ffmpeg) and read by tesseract as one line of digits; the first
/// `HH:MM:SS.mmm` wins.
fn read_clock(png: &Path, rect: Option<(f64, f64, f64, f64)>) -> Result<Option<NaiveTime>> {
    let input = match rect {
        Some((x, y, w, h)) if w > 16.0 && h > 16.0 => {
            let crop = png.with_extension("crop.png");
            let status = Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
                .arg(png)
                .args([
                    "-vf",
                    // the video's box (clamped to the screenshot), then the band in its middle
                    // where the clock is, dark digits on light for tesseract
                    &format!(
                        "crop=w='min({w},iw-{x})':h='min({h},ih-{y})':x={x}:y={y},\
                         crop=iw*0.8:ih*0.2:iw*0.1:ih*0.4,format=gray,negate",
                        w = w.floor(),
                        h = h.floor(),
                        x = x.max(0.0).floor(),
                        y = y.max(0.0).floor()
                    ),
                ])
                .arg(&crop)
                .status()?;
            if status.success() {
                crop
            } else {
                png.to_path_buf()
            }
        }
        _ => png.to_path_buf(),
    };
    let out = Command::new("tesseract")
        .arg(&input)
        .args([
            "-",
            "--psm",
            "7",
            "-c",
            "tessedit_char_whitelist=0123456789:.",
        ])
        .stderr(Stdio::null())
        .output()
        .context("tesseract (Debian package tesseract-ocr) must be installed")?;
    Ok(find_clock(&String::from_utf8_lossy(&out.stdout)))
}

/// The first `HH:MM:SS.mmm` in OCR output (anywhere: a stray mark at the box's edge may be
/// read as a digit glued to the clock).
fn find_clock(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    let digit = |i: usize| b[i].is_ascii_digit();
    (0..b.len().saturating_sub(11)).find_map(|i| {
        let shape = (0..12).all(|k| match k {
            2 | 5 => b[i + k] == b':',
            8 => b[i + k] == b'.',
            _ => digit(i + k),
        });
        if !shape {
            return None;
        }
        std::str::from_utf8(&b[i..i + 12])
            .ok()
            .and_then(|w| NaiveTime::parse_from_str(w, "%H:%M:%S%.3f").ok())
    })
}

/// The burned time of day as a full timestamp on the day of `near` (the day before when the
/// clock was burned just before midnight).
fn on_day_of(burned: NaiveTime, near: DateTime<Utc>) -> DateTime<Utc> {
    let t = near.date_naive().and_time(burned).and_utc();
    if t - near > TimeDelta::hours(12) {
        t - TimeDelta::days(1)
    } else {
        t
    }
}
