//! Separate workers (issue 18): `pufa serve --transcode-workers 0 --delivery-workers 0` only
//! serves; `pufa worker` processes on the same data and media run the jobs. A worker killed
//! with SIGKILL mid-transcode stops its heartbeat, and another worker takes the job over and
//! publishes it.

use crate::helpers::{
    first_line_after, published_master, wait_until_done, wait_until_transcoding, ChildGuard,
    TestApp,
};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Start `pufa worker` on the test's data and media, running transcodes only; returns once it
/// says it runs.
pub(crate) fn start_worker(dir: &Path) -> ChildGuard {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pufa"));
    crate::helpers::use_database_of(dir, &mut command);
    command
        .args(["worker", "--kinds", "transcode", "--job-stale-secs", "5"])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--media")
        .arg(dir.join("media"))
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let (child, stdout) = ChildGuard::spawn_piped(&mut command).expect("start pufa worker");
    first_line_after(stdout, "pufa worker running").expect("the worker exited before it ran");
    child
}

#[tokio::test]
async fn a_worker_killed_mid_transcode_is_replaced_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    generate_clip(
        &ClipSpec::new(1280, 720, 30, 40.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    // the server only serves: the demo recording and the upload wait for a worker
    let app = TestApp::start_binary(
        dir.path(),
        &["--transcode-workers", "0", "--delivery-workers", "0"],
    )
    .await;
    let c = app.organizer().await;
    let session = app.demo_session_ids(&c).await[1];
    let r = app.upload(&c, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let id = answer["job_id"].as_i64().unwrap();
    let lecture = answer["lecture_id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.job(&c, id).await["state"],
        "queued",
        "serve-only ran it"
    );

    let first = start_worker(dir.path());
    if !wait_until_transcoding(
        &app,
        &c,
        id,
        "workers::a_worker_killed_mid_transcode_is_replaced_by_another",
    )
    .await
    {
        return;
    }
    first.kill();

    let _second = start_worker(dir.path());
    let done = wait_until_done(&app, &c, id).await;
    assert_eq!(done["attempts"], 2, "{done}");
    // the serving process plays what the worker published
    let master = published_master(&app, &c, lecture).await;
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 3);
}

/// A worker shutting down hands its job back without counting the attempt — on PostgreSQL
/// too, where the SQL used SQLite's two-argument `MAX` (no such function there) until the
/// second run of this suite on PostgreSQL met it.
#[tokio::test]
async fn a_job_handed_back_is_queued_again_with_its_attempt_returned() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[1];
    let db = app.db().await;
    let (_, job) = db
        .queue_recording(session, "uploads/handed-back.mp4")
        .await
        .unwrap()
        .unwrap();
    let claimed = db.claim_job_except("w-test", &[]).await.unwrap().unwrap();
    assert_eq!(claimed.id, job);
    assert_eq!(claimed.attempts, 1);
    db.release_job(job, "w-test").await.unwrap();
    let row = db.job(job).await.unwrap().unwrap();
    assert_eq!(row.state, pufa::db::jobs::JobState::Queued);
    assert_eq!(row.attempts, 0);
    assert_eq!(row.worker, None);
    // passed over by a worker that cannot run it, claimed by another
    assert!(db
        .claim_job_except("w-test", &[job])
        .await
        .unwrap()
        .is_none());
    assert_eq!(db.claim_job("w-2").await.unwrap().unwrap().id, job);
}
