//! A crash mid-transcode resumes: the real server is killed with SIGKILL while a job runs; after
//! a restart the job is found orphaned, run again and published, and the half-made output was
//! never served.

use crate::helpers::{published_master, wait_until_done, wait_until_transcoding, TestApp};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::StatusCode;
use serde_json::Value;

/// Orphaned jobs are picked up again after this many seconds without a heartbeat.
const STALE_AFTER: &[&str] = &["--job-stale-secs", "5"];

#[tokio::test]
async fn a_crash_mid_transcode_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    generate_clip(
        &ClipSpec::new(1280, 720, 30, 40.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();

    let app = TestApp::start_binary(dir.path(), STALE_AFTER).await;
    let c = app.organizer().await;
    // the first session already has the demo recording
    let session = app.demo_session_ids(&c).await[1];
    let r = app.upload(&c, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let id = answer["job_id"].as_i64().unwrap();
    let lecture = answer["lecture_id"].as_i64().unwrap();

    // wait until the transcode is under way, then kill the server
    if !wait_until_transcoding(
        &app,
        &c,
        id,
        "job_recovery::a_crash_mid_transcode_resumes_after_restart",
    )
    .await
    {
        return;
    }
    // half-made output exists on disk but is not served
    let r = c
        .get(app.url(&format!("/lectures/{lecture}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.crash();

    let app = TestApp::start_binary(dir.path(), STALE_AFTER).await;
    let c = app.organizer().await;
    let done = wait_until_done(&app, &c, id).await;
    assert_eq!(done["attempts"], 2, "{done}");
    let text = published_master(&app, &c, lecture).await;
    assert_eq!(
        text.matches("#EXT-X-STREAM-INF").count(),
        3,
        "720/480/360:\n{text}"
    );
    // nothing half-made is left behind
    let lecture_dir = dir
        .path()
        .join("media")
        .join("lectures")
        .join(lecture.to_string());
    let names: Vec<String> = std::fs::read_dir(&lecture_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec![format!("v{id}")], "{names:?}");
}
