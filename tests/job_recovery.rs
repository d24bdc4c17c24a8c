//! A crash mid-transcode resumes: the real server is killed with SIGKILL while a job runs; after
//! a restart the job is found orphaned, run again and published, and the half-made output was
//! never served.

mod common;

use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const PASSWORD: &str = "admin-recovery-1";

fn start(dir: &Path) -> (Child, String) {
    common::start_binary(dir, PASSWORD, &["--job-stale-secs", "5"])
}

async fn admin(url: &str) -> (Client, String) {
    let c = Client::builder().cookie_store(true).build().unwrap();
    common::wait_ready(url).await;
    let r = c
        .post(format!("{url}/api/v1/login"))
        .json(&json!({"login": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = c
        .get(format!("{url}/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let token = html[start..start + html[start..].find('"').unwrap()].to_string();
    (c, token)
}

async fn job(c: &Client, url: &str, id: i64) -> Value {
    c.get(format!("{url}/api/v1/jobs/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_crash_mid_transcode_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    generate_clip(
        &ClipSpec::new(1280, 720, 30, 40.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();

    let (mut child, url) = start(dir.path());
    let (c, token) = admin(&url).await;
    let programs: Value = c
        .get(format!("{url}/api/v1/programs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let program: Value = c
        .get(format!("{url}/api/v1/programs/{}", programs[0]["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // the first session already has the demo recording
    let session = program["sessions"][1]["id"].as_i64().unwrap();
    let part = reqwest::multipart::Part::bytes(std::fs::read(&clip).unwrap()).file_name("long.mp4");
    let r = c
        .post(format!("{url}/api/v1/sessions/{session}/recording"))
        .header("x-csrf-token", &token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let id = answer["job_id"].as_i64().unwrap();
    let lecture = answer["lecture_id"].as_i64().unwrap();

    // wait until the transcode is under way, then kill the server
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let j = job(&c, &url, id).await;
        if j["state"] == "running" && j["progress"].as_f64().unwrap_or(0.0) > 0.02 {
            break;
        }
        assert!(
            j["state"] != "done",
            "transcode finished before the crash could be staged"
        );
        assert!(Instant::now() < deadline, "job never started: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // half-made output exists on disk but is not served
    let r = c
        .get(format!("{url}/lectures/{lecture}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let (mut child, url) = start(dir.path());
    let (c, _) = admin(&url).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let j = job(&c, &url, id).await;
        if j["state"] == "done" {
            break j;
        }
        assert!(j["state"] != "failed", "job failed after restart: {j}");
        assert!(Instant::now() < deadline, "job did not resume: {j}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(done["attempts"], 2, "{done}");
    let page = c
        .get(format!("{url}/lectures/{lecture}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let start = html.find("data-src=\"").unwrap() + 10;
    let master = &html[start..start + html[start..].find('"').unwrap()];
    let r = c.get(format!("{url}{master}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
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
    child.kill().ok();
    child.wait().ok();
}
