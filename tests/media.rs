//! Issues 5 and 6 over HTTP: recording upload, the durable job queue drained deterministically,
//! protected HLS serving, watch progress and attendance.

mod common;

use common::{problem, TestApp};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

/// The organizer's CSRF token (the `pufa_csrf` cookie, as the upload page sends it).
async fn csrf(app: &TestApp, c: &Client) -> String {
    common::csrf_token(c, app, "/").await
}

async fn first_session(app: &TestApp, c: &Client) -> i64 {
    common::demo_sessions(app, c).await[0]["id"]
        .as_i64()
        .unwrap()
}

async fn upload(app: &TestApp, c: &Client, session: i64, file: &Path) -> reqwest::Response {
    common::upload_recording(app, c, session, file).await
}

async fn drain(app: &TestApp) -> usize {
    common::drain_jobs(app).await
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.transcode_workers = 0).await
}

#[tokio::test]
async fn upload_transcode_and_protected_playback() {
    let app = spawn().await;
    let org = app.organizer().await;
    let session = first_session(&app, &org).await;
    let clip = app.dir.path().join("clip.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 8.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();

    // enterprises cannot upload; a request without the CSRF token is refused
    let (ent, _) = app.enterprise(1).await;
    assert_eq!(
        upload(&app, &ent, session, &clip).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = org
        .post(app.url(&format!("/api/v1/sessions/{session}/recording")))
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(vec![1, 2, 3])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = upload(&app, &org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let job = answer["job_id"].as_i64().unwrap();
    let job_url = app.url(&format!("/api/v1/jobs/{job}"));
    let state: Value = org
        .get(&job_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"], "queued");

    assert_eq!(drain(&app).await, 1);
    let state: Value = org
        .get(&job_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["progress"], 1.0);
    let lecture = state["lecture_id"].as_i64().unwrap();

    // the player page shows the quality menu and the master playlist
    let page = ent
        .get(app.url(&format!("/lectures/{lecture}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("data-src=\"").unwrap() + 10;
    let master = page[start..start + page[start..].find('"').unwrap()].to_string();
    assert!(master.ends_with("/master.m3u8"));
    assert!(page.contains("360p"), "quality menu lists the rung");

    // private by default: every playlist and segment needs a login
    let anon = app.anonymous();
    assert_eq!(
        anon.get(app.url(&master)).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = ent.get(app.url(&master)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=10"));
    let text = r.text().await.unwrap();
    assert!(text.contains("#EXT-X-STREAM-INF") && text.contains("RESOLUTION=640x360"));
    let media_name = text.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let base = master.trim_end_matches("master.m3u8");
    let media = ent
        .get(app.url(&format!("{base}{media_name}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rel_dir = media_name
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/"))
        .unwrap_or_default();
    let segment = media.lines().find(|l| l.ends_with(".m4s")).unwrap();
    let seg_url = app.url(&format!("{base}{rel_dir}{segment}"));
    assert_eq!(
        anon.get(&seg_url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = ent
        .get(&seg_url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    // poster
    let poster = ent
        .get(app.url(&format!("{base}poster.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(poster.headers()["content-type"], "image/jpeg");

    // path traversal and other versions are not served
    for bad in [
        format!("{base}..%2F..%2F..%2Fdata%2Fpufa.db"),
        format!("/media/lectures/{lecture}/v999/master.m3u8"),
        format!("{base}.hidden"),
    ] {
        let r = ent.get(app.url(&bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }

    // made public, anyone may watch
    let token = csrf(&app, &org).await;
    let r = org
        .post(app.url(&format!("/admin/lectures/{lecture}/visibility")))
        .form(&[("csrf", token.as_str()), ("visibility", "public")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anon.get(app.url(&master)).send().await.unwrap().status(),
        StatusCode::OK
    );

    // the archive lists and finds it (Chinese full-text search)
    let title = state_title(&app, &org, session).await;
    let needle: String = title.chars().take(4).collect();
    let archive = anon
        .get(app.url(&format!("/archive?q={}", urlencode(&needle))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        archive.contains(&format!("/lectures/{lecture}")),
        "search for {needle}"
    );
    let short: String = title.chars().take(2).collect();
    let archive = anon
        .get(app.url(&format!("/archive?q={}", urlencode(&short))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        archive.contains(&format!("/lectures/{lecture}")),
        "two-character search"
    );
    let none = anon
        .get(app.url("/archive?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E8%AF%BE"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!none.contains(&format!("/lectures/{lecture}")));
}

async fn state_title(app: &TestApp, c: &Client, session: i64) -> String {
    common::demo_sessions(app, c)
        .await
        .iter()
        .find(|s| s["id"] == session)
        .unwrap()["title"]
        .as_str()
        .unwrap()
        .to_string()
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn corrupt_upload_fails_with_a_reason_and_can_be_rerun() {
    let app = spawn().await;
    let org = app.organizer().await;
    let session = first_session(&app, &org).await;
    let junk = app.dir.path().join("junk.mp4");
    std::fs::write(
        &junk,
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let r = upload(&app, &org, session, &junk).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    drain(&app).await;
    let state: Value = org
        .get(app.url(&format!("/api/v1/jobs/{job}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"], "failed");
    let reason = state["error"].as_str().unwrap();
    assert!(
        reason
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "Chinese reason: {reason}"
    );
    // the organizer page shows it with a re-run button
    let page = org
        .get(app.url(&format!("/admin/sessions/{session}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("失败原因") && page.contains("重新转码"));
    let r = org
        .post(app.url(&format!("/api/v1/jobs/{job}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "queued");
    drain(&app).await;
    let r = org
        .post(app.url(&format!("/api/v1/jobs/{job}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "failed again, may be re-run again"
    );
    // the server keeps serving
    let r = app
        .anonymous()
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // no lecture was published
    let r = org
        .get(app.url(&format!("/api/v1/jobs/{job}")))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let lecture = r["lecture_id"].as_i64().unwrap();
    let r = app
        .anonymous()
        .get(app.url(&format!("/lectures/{lecture}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn too_large_upload_is_413_and_leaves_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.transcode_workers = 0;
        c.max_upload_bytes = 64 * 1024;
    })
    .await;
    let org = app.organizer().await;
    let session = first_session(&app, &org).await;
    let big = app.dir.path().join("big.mp4");
    std::fs::write(&big, vec![7u8; 300 * 1024]).unwrap();
    let r = upload(&app, &org, session, &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(r).await["code"], "payload_too_large");
    let uploads = app.dir.path().join("media").join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    // no job was queued
    assert_eq!(drain(&app).await, 0);
    // a request without a file is a clear 422
    let token = csrf(&app, &org).await;
    let r = org
        .post(app.url(&format!("/api/v1/sessions/{session}/recording")))
        .header("x-csrf-token", token)
        .multipart(reqwest::multipart::Form::new().text("note", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn watch_progress_becomes_attendance() {
    let app = spawn().await;
    let org = app.organizer().await;
    let session = first_session(&app, &org).await;
    let (ent, uscc) = app.enterprise(1).await;
    let r = ent
        .post(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .json(&json!({"seats": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let clip = app.dir.path().join("clip.mp4");
    generate_clip(&ClipSpec::new(320, 180, 10, 6.0), &clip).unwrap();
    let job = upload(&app, &org, session, &clip)
        .await
        .json::<Value>()
        .await
        .unwrap();
    drain(&app).await;
    let lecture = job["lecture_id"].as_i64().unwrap();
    let url = app.url(&format!("/api/v1/lectures/{lecture}/progress"));
    // anonymous reports are refused; a forged position beyond the end too
    let r = app
        .anonymous()
        .post(&url)
        .json(&json!({"position_s": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = ent
        .post(&url)
        .json(&json!({"position_s": 9999.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // real playback: reports a few seconds apart
    let mut last = Value::Null;
    for pos in [0.0, 2.0, 4.0, 5.9] {
        last = ent
            .post(&url)
            .json(&json!({"position_s": pos}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    assert!(last["share"].as_f64().unwrap() > 0.9, "{last}");
    assert_eq!(last["attended"], true);
    // seeking back does not count twice
    ent.post(&url)
        .json(&json!({"position_s": 1.0}))
        .send()
        .await
        .unwrap();
    let again: Value = ent
        .post(&url)
        .json(&json!({"position_s": 2.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        (again["watched_s"].as_f64().unwrap() - last["watched_s"].as_f64().unwrap()).abs() < 1e-6
    );
    // attendance shows for the enterprise and the organizer
    let me = ent
        .get(app.url("/me"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(me.contains("已出勤"));
    let roster: Vec<Value> = org
        .get(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = roster.iter().find(|r| r["uscc"] == uscc.as_str()).unwrap();
    assert_eq!(row["attended"], true);
    let stats = org
        .get(app.url(&format!("/admin/lectures/{lecture}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stats.contains(&uscc) && stats.contains("已出勤"));
    // the certificate prints for the organizer and the enterprise, not for another enterprise
    let eid = row["enterprise_id"].as_i64().unwrap();
    let cert = app.url(&format!("/lectures/{lecture}/certificate/{eid}"));
    let r = org.get(&cert).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("学习证明"));
    assert_eq!(
        ent.get(&cert).send().await.unwrap().status(),
        StatusCode::OK
    );
    let (other, _) = app.enterprise(2).await;
    assert_eq!(
        other.get(&cert).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
