//! From the publisher stopping to the replay being published, with the default 30 s grace: a
//! 1080p30 source (`PUFA_BENCH_SECONDS`, default 120) is published in real time over RTMP, the
//! publisher ends, and the bench polls the live API (every 100 ms) until the session's
//! `lecture_id` appears. The breakdown comes from the server's database afterwards (read-only):
//! the publisher gone as the server saw it (`live_periods.ended_at`) → grace over and the
//! archive job queued (`jobs.created_at`) → job started (`started_at`) → replay built and
//! published (`finished_at`) → visible through the API.
//!
//! Baseline: the same recording (the source remuxed to MP4, same bits) uploaded as a recording
//! of another session of the same server, timed from the end of the upload to the transcoded
//! lecture being published (the same columns of its `transcode` job).
//!
//! `PUFA_BENCH_GRACE` (30) sets `--live-grace-secs`.

use crate::common::{self, Server};
use crate::{env_num, print_header};
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A job's timestamps from the database.
struct JobTimes {
    created: DateTime<Utc>,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
}

pub async fn run() -> Result<()> {
    print_header("From the end of a live to its replay");
    let seconds = env_num("PUFA_BENCH_SECONDS", 120.0) as u32;
    let grace = env_num("PUFA_BENCH_GRACE", 30.0) as u32;
    let source = common::source_1080(seconds)?;
    let recording = source.with_extension("mp4");
    if !recording.exists() {
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
            .arg(&source)
            .args(["-c", "copy", "-movflags", "+faststart"])
            .arg(&recording)
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("remuxing the source to MP4 failed");
        }
    }

    let tmp = tempfile::tempdir()?;
    let server = Server::start(tmp.path(), &["--live-grace-secs", &grace.to_string()]).await?;
    let org = common::organizer(&server).await?;
    let program = common::live_program(&server, &org).await?;
    let live_session = common::new_session(&server, &org, program, 10, 20).await?;
    let upload_session = common::new_session(&server, &org, program, 10, 120).await?;

    // ---- the live ----
    let url = common::rtmp_url(&server, &org, live_session).await?;
    eprintln!("publishing {seconds} s in real time, then waiting for the replay …");
    let mut publisher = common::publish_file(&source, &url)?;
    common::wait_live(&server, &org, live_session, Duration::from_secs(30), |i| {
        i["state"] == "live"
    })
    .await?;
    let status = publisher.wait_for(Duration::from_secs(u64::from(seconds) * 2 + 60))?;
    let stopped = Utc::now();
    let stopped_i = Instant::now();
    if !status.success() {
        bail!("the publisher failed ({status})");
    }
    let (_, ended_i) = common::wait_live(
        &server,
        &org,
        live_session,
        Duration::from_secs(u64::from(grace) + 120),
        |i| i["state"] == "ended",
    )
    .await?;
    let (info, visible_i) =
        common::wait_live(&server, &org, live_session, Duration::from_secs(600), |i| {
            i["lecture_id"].is_i64()
        })
        .await?;
    let visible = stopped + (visible_i - stopped_i);
    let lecture = info["lecture_id"].as_i64().unwrap_or_default();
    let db = server.db().await?;
    let gone: Option<String> = sqlx::query_scalar(
        "SELECT p.ended_at FROM live_periods p JOIN lives l ON l.id = p.live_id
          WHERE l.session_id = ? ORDER BY p.live_id DESC, p.period DESC LIMIT 1",
    )
    .bind(live_session)
    .fetch_one(&db)
    .await
    .context("the live's last period")?;
    let gone = gone
        .as_deref()
        .map(parse_ts)
        .transpose()?
        .ok_or_else(|| anyhow!("the live's period has no ended_at"))?;
    let live_job = job_times(&db, "live_archive", lecture).await?;
    let replay_rungs = rungs(&server, &org, lecture).await.unwrap_or_default();

    // ---- the baseline: the same recording as an upload ----
    eprintln!("uploading the same recording …");
    let bytes = std::fs::read(&recording)?;
    let size_mb = bytes.len() as f64 / 1e6;
    let token = csrf_token(&server, &org).await?;
    let upload_started = Instant::now();
    let r = org
        .post(server.url(&format!("/api/v1/sessions/{upload_session}/recording")))
        .header("x-csrf-token", token)
        .multipart(Form::new().part("file", Part::bytes(bytes).file_name("lecture.mp4")))
        .timeout(Duration::from_secs(600))
        .send()
        .await?;
    let queued = common::expect(r, StatusCode::ACCEPTED, "upload").await?;
    let uploaded = Utc::now();
    let upload_s = upload_started.elapsed().as_secs_f64();
    let job_id = queued["job_id"]
        .as_i64()
        .ok_or_else(|| anyhow!("upload answer without job_id: {queued}"))?;
    let upload_lecture = queued["lecture_id"].as_i64().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(3600);
    let upload_visible = loop {
        let job = common::get_json(&server, &org, &format!("/api/v1/jobs/{job_id}")).await?;
        match job["state"].as_str() {
            Some("done") => break Utc::now(),
            Some("failed") => bail!("the upload's transcode failed: {job}"),
            _ => {}
        }
        if Instant::now() > deadline {
            bail!("the upload's transcode did not finish within an hour");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let upload_job = job_times(&db, "transcode", upload_lecture).await?;
    let upload_rungs = rungs(&server, &org, upload_lecture)
        .await
        .unwrap_or_default();

    let s = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).as_seconds_f64();
    println!("{seconds} s of 1080p30 ({size_mb:.0} MB as MP4), grace {grace} s (`--live-grace-secs`), one transcode worker.\n");
    println!("| step | live → replay | upload → lecture (baseline) |");
    println!("|---|---:|---:|");
    println!(
        "| publisher stops → server sees it gone (`live_periods.ended_at`) | {:.2} s | – |",
        s(stopped, gone)
    );
    println!(
        "| grace → archive job queued | {:.2} s | upload transfer {:.2} s |",
        s(gone, live_job.created),
        upload_s
    );
    println!(
        "| job waits for a worker | {:.2} s | {:.2} s |",
        s(live_job.created, live_job.started),
        s(upload_job.created, upload_job.started)
    );
    println!(
        "| replay build / transcode, published | {:.2} s | {:.2} s |",
        s(live_job.started, live_job.finished),
        s(upload_job.started, upload_job.finished)
    );
    println!(
        "| published → visible in the API (polled every 100 ms) | {:.2} s | {:.2} s |",
        s(live_job.finished, visible),
        s(upload_job.finished, upload_visible)
    );
    println!(
        "| **total** | **{:.2} s** from the publisher stopping (state `ended` after {:.2} s) | **{:.2} s** from the end of the upload |",
        s(stopped, visible),
        (ended_i - stopped_i).as_secs_f64(),
        s(uploaded, upload_visible)
    );
    println!(
        "| without the grace period | {:.2} s | |",
        s(live_job.created, visible)
    );
    println!(
        "| renditions published | {} | {} |",
        replay_rungs.join(", "),
        upload_rungs.join(", ")
    );
    println!(
        "\nreplay build ÷ upload transcode: 1 : {:.0}; total {:.2} s against the goal of ≤ 60 s including the grace period.",
        s(upload_job.started, upload_job.finished) / s(live_job.started, live_job.finished),
        s(stopped, visible)
    );
    Ok(())
}

/// Timestamps as pufa stores them (RFC 3339, or SQLite's `YYYY-MM-DD HH:MM:SS.fff+00:00`).
fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc())
        })
        .with_context(|| format!("timestamp {s:?}"))
}

async fn job_times(db: &sqlx::SqlitePool, kind: &str, lecture: i64) -> Result<JobTimes> {
    let (created, started, finished): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT created_at, started_at, finished_at FROM jobs
          WHERE kind = ? AND lecture_id = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(kind)
    .bind(lecture)
    .fetch_one(db)
    .await
    .with_context(|| format!("the {kind} job of lecture {lecture}"))?;
    let need = |v: Option<String>, what: &str| -> Result<DateTime<Utc>> {
        parse_ts(&v.ok_or_else(|| anyhow!("the {kind} job has no {what}"))?)
    };
    Ok(JobTimes {
        created: parse_ts(&created)?,
        started: need(started, "started_at")?,
        finished: need(finished, "finished_at")?,
    })
}

/// The renditions of a published lecture, from its master playlist.
async fn rungs(server: &Server, c: &Client, lecture: i64) -> Result<Vec<String>> {
    let page = c
        .get(server.url(&format!("/lectures/{lecture}")))
        .send()
        .await?
        .text()
        .await?;
    let marker = "data-src=\"";
    let start = page.find(marker).ok_or_else(|| anyhow!("no player"))? + marker.len();
    let end = page[start..]
        .find('"')
        .ok_or_else(|| anyhow!("no data-src end"))?
        + start;
    let master_path = &page[start..end];
    let master = c.get(server.url(master_path)).send().await?.text().await?;
    let mut names: Vec<String> = master
        .lines()
        .filter_map(|l| common::attribute(l, "RESOLUTION"))
        .map(|r| format!("{}p", r.rsplit('x').next().unwrap_or(&r)))
        .collect();
    if master.contains("TYPE=AUDIO") {
        names.push("audio".into());
    }
    Ok(names)
}

/// The CSRF token of `c`'s session, from the hidden field of the home page.
async fn csrf_token(server: &Server, c: &Client) -> Result<String> {
    let html = c.get(server.url("/")).send().await?.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let start = html
        .find(marker)
        .ok_or_else(|| anyhow!("no csrf field on the home page"))?
        + marker.len();
    let end = html[start..]
        .find('"')
        .ok_or_else(|| anyhow!("no end of the csrf field"))?
        + start;
    Ok(html[start..end].to_string())
}
