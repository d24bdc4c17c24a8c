//! Recordings: only an organizer uploads (with a CSRF token); the upload becomes a durable
//! transcode job, drained here deterministically; the published lecture is private by default
//! and served the way a player expects (playlists, byte ranges, poster, nothing outside the
//! lecture's folder); a public lecture is found in the archive; a corrupt or oversized upload
//! fails with a reason and leaves nothing; watch progress becomes attendance and a certificate.

use crate::helpers::{master_playlist, problem, TestApp};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::future::Future;

/// A lecture published from an 8 s 640×360 clip with stereo audio.
struct Lecture {
    session: i64,
    id: i64,
    /// Path of the master playlist, as the player page names it.
    master: String,
}

/// Upload a clip for the first demo session as `org`, transcode it and return the lecture.
async fn publish(app: &TestApp, org: &Client) -> Lecture {
    let session = app.demo_session_ids(org).await[0];
    let clip = app.dir.join("clip.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 8.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = app.upload(org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    assert_eq!(app.drain_jobs().await, 1);
    let state = app.job(org, job).await;
    assert_eq!(state["state"], "done", "{state}");
    let id = state["lecture_id"].as_i64().unwrap();
    let page = app.get_text(org, &format!("/lectures/{id}")).await;
    Lecture {
        session,
        id,
        master: master_playlist(&page),
    }
}

#[tokio::test]
async fn upload_needs_an_organizer_and_a_csrf_token_and_queues_a_job() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let clip = app.dir.join("clip.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 8.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();

    // enterprises cannot upload; a request without the CSRF token is refused
    let (ent, _) = app.register_enterprise(1).await;
    assert_eq!(
        app.upload(&ent, session, &clip).await.status(),
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

    let r = app.upload(&org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let job = answer["job_id"].as_i64().unwrap();
    assert_eq!(app.job(&org, job).await["state"], "queued");

    assert_eq!(app.drain_jobs().await, 1);
    let state = app.job(&org, job).await;
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["progress"], 1.0);
    assert_eq!(state["lecture_id"], answer["lecture_id"]);
    // a 2 s-GOP H.264 clip at the top rung's size: the fast path, recorded on the job and
    // shown to the organizer beside it
    assert_eq!(state["path"], "remux", "{state}");
    assert_eq!(state["path_reason"], "eligible");
    assert_eq!(state["path_note"], "快速路径：复制原视频（GOP 2.0 s）");
    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(page.contains("快速路径：复制原视频（GOP 2.0 s）"), "{page}");
}

#[tokio::test]
async fn published_lecture_is_private_and_served_as_a_player_expects() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let lecture = publish(&app, &org).await;
    let (ent, _) = app.register_enterprise(1).await;

    // the player page shows the quality menu and the master playlist
    let page = app
        .get_text(&ent, &format!("/lectures/{}", lecture.id))
        .await;
    let master = master_playlist(&page);
    assert_eq!(master, lecture.master);
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
    let media = app.get_text(&ent, &format!("{base}{media_name}")).await;
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
        format!("/media/lectures/{}/v999/master.m3u8", lecture.id),
        format!("{base}.hidden"),
    ] {
        let r = ent.get(app.url(&bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }
}

#[tokio::test]
async fn public_lecture_is_open_to_anyone_and_found_in_the_archive() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let lecture = publish(&app, &org).await;
    let anon = app.anonymous();

    // made public, anyone may watch
    let token = app.csrf_token(&org, "/").await;
    let r = org
        .post(app.url(&format!("/admin/lectures/{}/visibility", lecture.id)))
        .form(&[("csrf", token.as_str()), ("visibility", "public")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anon.get(app.url(&lecture.master))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // the archive lists and finds it (Chinese full-text search)
    let link = format!("/lectures/{}", lecture.id);
    let title = session_title(&app, &org, lecture.session).await;
    let needle: String = title.chars().take(4).collect();
    let archive = app
        .get_text(&anon, &format!("/archive?q={}", urlencode(&needle)))
        .await;
    assert!(archive.contains(&link), "search for {needle}");
    let short: String = title.chars().take(2).collect();
    let archive = app
        .get_text(&anon, &format!("/archive?q={}", urlencode(&short)))
        .await;
    assert!(archive.contains(&link), "two-character search");
    let none = app
        .get_text(
            &anon,
            "/archive?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E8%AF%BE",
        )
        .await;
    assert!(!none.contains(&link));
}

async fn session_title(app: &TestApp, c: &Client, session: i64) -> String {
    app.demo_sessions(c)
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
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let junk = app.dir.join("junk.mp4");
    std::fs::write(
        &junk,
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let r = app.upload(&org, session, &junk).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    app.drain_jobs().await;
    let state = app.job(&org, job).await;
    assert_eq!(state["state"], "failed");
    let reason = state["error"].as_str().unwrap();
    assert!(
        reason
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "Chinese reason: {reason}"
    );
    // the organizer page shows it with a re-run button
    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(page.contains("失败原因") && page.contains("重新转码"));
    let retry = app.url(&format!("/api/v1/jobs/{job}/retry"));
    let r = org.post(&retry).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "queued");
    app.drain_jobs().await;
    let r = org.post(&retry).send().await.unwrap();
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
    let lecture = app.job(&org, job).await["lecture_id"].as_i64().unwrap();
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
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 64 * 1024).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let big = app.dir.join("big.mp4");
    std::fs::write(&big, vec![7u8; 300 * 1024]).unwrap();
    let r = app.upload(&org, session, &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(r).await["code"], "payload_too_large");
    let uploads = app.dir.join("media").join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    // no job was queued
    assert_eq!(app.drain_jobs().await, 0);
    // a request without a file is a clear 422
    let token = app.csrf_token(&org, "/").await;
    let r = org
        .post(app.url(&format!("/api/v1/sessions/{session}/recording")))
        .header("x-csrf-token", token)
        .multipart(reqwest::multipart::Form::new().text("note", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Watched time may not outrun the server's clock, so the scenario runs on a manual clock that
/// is moved instead of waited for.
#[tokio::test]
async fn watch_progress_becomes_attendance() {
    let clock = pufa::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    watch_progress_becomes_attendance_after(&app, || {
        assert!(clock.advance(chrono::Duration::milliseconds(1100)));
        std::future::ready(())
    })
    .await;
}

/// Publish a 6 s 320×180 clip without audio for `session`; returns the lecture id.
pub(crate) async fn six_second_lecture(app: &TestApp, org: &Client, session: i64) -> i64 {
    let clip = app.dir.join("clip.mp4");
    generate_clip(&ClipSpec::new(320, 180, 10, 6.0), &clip).unwrap();
    let job = app
        .upload(org, session, &clip)
        .await
        .json::<Value>()
        .await
        .unwrap();
    app.drain_jobs().await;
    job["lecture_id"].as_i64().unwrap()
}

/// An enterprise signs up, plays the lecture with reports `pause()` apart, and is counted as
/// attending; forged or repeated reports do not add watched time.
async fn watch_progress_becomes_attendance_after<F: Future<Output = ()>>(
    app: &TestApp,
    pause: impl Fn() -> F,
) {
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (ent, uscc) = app.register_enterprise(1).await;
    let (status, _) = app.sign_up(&ent, session, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let lecture = six_second_lecture(app, &org, session).await;
    let url = app.url(&format!("/api/v1/lectures/{lecture}/progress"));
    let report = |c: &Client, position_s: f64| {
        c.post(&url)
            .json(&json!({ "position_s": position_s }))
            .send()
    };
    // anonymous reports are refused; a forged position beyond the end too
    let r = report(&app.anonymous(), 1.0).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = report(&ent, 9999.0).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // real playback: reports a few seconds apart
    let mut last = Value::Null;
    for pos in [0.0, 2.0, 4.0, 5.9] {
        last = report(&ent, pos).await.unwrap().json().await.unwrap();
        pause().await;
    }
    assert!(last["share"].as_f64().unwrap() > 0.9, "{last}");
    assert_eq!(last["attended"], true);
    // seeking back does not count twice
    report(&ent, 1.0).await.unwrap();
    let again: Value = report(&ent, 2.0).await.unwrap().json().await.unwrap();
    assert!(
        (again["watched_s"].as_f64().unwrap() - last["watched_s"].as_f64().unwrap()).abs() < 1e-6
    );
    // attendance shows for the enterprise and the organizer
    let me = app.get_text(&ent, "/me").await;
    assert!(me.contains("已出勤"));
    let roster = app.roster(&org, session).await;
    let row = roster.iter().find(|r| r["uscc"] == uscc.as_str()).unwrap();
    assert_eq!(row["attended"], true);
    let stats = app
        .get_text(&org, &format!("/admin/lectures/{lecture}"))
        .await;
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
    let (other, _) = app.register_enterprise(2).await;
    assert_eq!(
        other.get(&cert).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

/// Watched time is measured on the server's clock: a 5.9 s step right after the previous
/// report is a jump and earns nothing; the same step once the clock has moved on 3 s is
/// playback.
#[tokio::test]
async fn watched_time_follows_the_servers_clock() {
    let clock = pufa::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let lecture = six_second_lecture(&app, &org, session).await;
    let (ent, _) = app.register_enterprise(1).await;
    let url = app.url(&format!("/api/v1/lectures/{lecture}/progress"));
    let watched = |position_s: f64| {
        let request = ent.post(&url).json(&json!({ "position_s": position_s }));
        async move {
            let answer: Value = request.send().await.unwrap().json().await.unwrap();
            answer["watched_s"].as_f64().unwrap()
        }
    };
    assert_eq!(watched(0.0).await, 0.0);
    assert_eq!(watched(5.9).await, 0.0, "a jump is not playback");
    assert_eq!(watched(0.0).await, 0.0, "seeking back earns nothing");
    assert!(clock.advance(chrono::Duration::seconds(3)));
    let after = watched(5.9).await;
    assert!(
        (after - 5.9).abs() < 1e-6,
        "3 s of clock time allow 5.9 s: {after}"
    );
}

/// The `pufa_session=…` pair of a fresh organizer login, for hand-written requests.
async fn organizer_cookie(app: &TestApp) -> String {
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/login"))
        .json(&json!({"login": "admin", "password": crate::helpers::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pufa_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string()
}

/// Before the fix an upload that declared 10 GB against a 64 KiB limit opened a `.part` file
/// and waited for the body; now it is answered 413 at once, before a byte of it is sent.
#[tokio::test]
async fn declared_oversize_upload_is_refused_before_its_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 64 * 1024).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let cookie = organizer_cookie(&app).await;
    let mut s = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/sessions/{session}/recording HTTP/1.1\r\nHost: test\r\n\
         Cookie: {cookie}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n\
         Content-Length: 10000000000\r\n\r\n--XyZ\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    let uploads = app.dir.join("media").join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Before the fix a second `file` field silently replaced the first; one request carries one
/// recording, and nothing of a refused request stays stored.
#[tokio::test]
async fn a_second_file_in_one_upload_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let token = app.csrf_token(&org, "/").await;
    let part =
        |name: &str| reqwest::multipart::Part::bytes(vec![7u8; 2048]).file_name(name.to_string());
    let r = org
        .post(app.url(&format!("/api/v1/sessions/{session}/recording")))
        .header("x-csrf-token", token)
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", part("a.mp4"))
                .part("file", part("b.mp4")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    assert_eq!(p["errors"][0]["field"], "file");
    assert!(p["detail"].as_str().unwrap().contains("一个录像"));
    let left: Vec<_> = std::fs::read_dir(app.dir.join("media").join("uploads"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(app.drain_jobs().await, 0);
}

/// Before the fix a `.part` file of an upload cut off by a crash stayed for ever; the
/// server now removes them when it starts, and keeps the finished uploads.
#[tokio::test]
async fn partial_uploads_are_removed_at_startup() {
    let mut planted = None;
    let app = TestApp::spawn_with(|c| {
        let uploads = c.media_dir.join("uploads");
        std::fs::create_dir_all(&uploads).unwrap();
        std::fs::write(uploads.join("3f2a.mp4.part"), b"half a recording").unwrap();
        std::fs::write(uploads.join("5b7c.mp4"), b"a finished upload").unwrap();
        planted = Some(uploads);
    })
    .await;
    let uploads = planted.unwrap();
    assert!(!uploads.join("3f2a.mp4.part").exists());
    assert!(uploads.join("5b7c.mp4").exists());
    app.stop().await;
}

/// Before the fix these were axum's `400 text/plain` in English ("Invalid `boundary` for
/// `multipart/form-data` request").
#[tokio::test]
async fn multipart_rejections_are_chinese_problems() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let token = app.csrf_token(&org, "/").await;
    let url = app.url(&format!("/api/v1/sessions/{session}/recording"));
    for content_type in [
        "application/json",
        "multipart/form-data",
        "text/plain; boundary=abc",
    ] {
        let r = org
            .post(&url)
            .header("x-csrf-token", &token)
            .header("content-type", content_type)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{content_type}");
        let p = problem(r).await;
        assert_eq!(p["code"], "invalid_multipart", "{content_type}");
        assert!(p["detail"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data"));
    }
    // bodies that do not match their (empty or other) boundary
    let body = "--BBB\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nxx\r\n--BBB--\r\n";
    for content_type in [
        "multipart/form-data; boundary=AAA",
        "multipart/form-data; boundary=",
    ] {
        let r = org
            .post(&url)
            .header("x-csrf-token", &token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
        let p = problem(r).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{detail}"
        );
    }
    assert_eq!(app.drain_jobs().await, 0);
}

/// Before the fix a folder of a published version (a rung's) was answered `200`,
/// `Content-Length: 4096`, a one-year immutable cache header and an aborted body.
#[tokio::test]
async fn folders_under_media_are_not_served() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let lecture = six_second_lecture(&app, &org, session).await;
    let page = app.get_text(&org, &format!("/lectures/{lecture}")).await;
    let master = master_playlist(&page);
    let text = app.get_text(&org, &master).await;
    let media_name = text.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let (rung, _) = media_name.rsplit_once('/').expect("rungs live in folders");
    let base = master.trim_end_matches("master.m3u8");
    // the files are served …
    let r = org
        .get(app.url(&format!("{base}{media_name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // … the folders are not
    for folder in [format!("{base}{rung}"), format!("{base}{rung}/")] {
        let r = org.get(app.url(&folder)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{folder}");
        assert!(r
            .headers()
            .get("cache-control")
            .is_none_or(|v| !v.to_str().unwrap().contains("immutable")));
        assert_eq!(problem(r).await["code"], "not_found");
    }
}

/// The raw answers to `requests`, written in one go on one connection (pipelined): each
/// response's status line, lower-cased headers and body (`Content-Length` framing), read
/// until the server closes the connection.
async fn pipelined(
    app: &TestApp,
    requests: &str,
    heads: &[bool],
) -> Vec<(String, Vec<(String, String)>, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(requests.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("the server closes after `Connection: close`")
    .unwrap();
    let mut responses = Vec::new();
    let mut at = 0;
    for head_only in heads {
        let end = raw[at..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head")
            + at;
        let head = String::from_utf8(raw[at..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_string();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        at = end + 4;
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let body_len = if *head_only { 0 } else { len };
        responses.push((status, headers.clone(), raw[at..at + body_len].to_vec()));
        at += body_len;
    }
    assert_eq!(at, raw.len(), "nothing after the last response");
    responses
}

/// Segments go out with `sendfile` (src/server/direct.rs): a whole private segment, its HEAD,
/// a refused anonymous fetch and then an API call, pipelined on one connection, are answered
/// in order — the media requests on the sendfile path, the API call by hyper after the
/// hand-over — with the file's exact bytes; with `--media-sendfile false` the same bytes.
#[tokio::test]
async fn segments_are_sent_with_sendfile_and_the_connection_moves_on_to_hyper() {
    for sendfile in [true, false] {
        let app = TestApp::spawn_with(|c| c.media_sendfile = sendfile).await;
        let org = app.organizer().await;
        let lecture = publish(&app, &org).await;
        let cookie = organizer_cookie(&app).await;
        let master = app.get_text(&org, &lecture.master).await;
        let variant = master.lines().find(|l| l.ends_with(".m3u8")).unwrap();
        let base = lecture.master.trim_end_matches("master.m3u8");
        let variant_path = format!("{base}{variant}");
        let playlist = app.get_text(&org, &variant_path).await;
        let segment = playlist.lines().find(|l| l.ends_with(".m4s")).unwrap();
        let seg_path = format!(
            "{}{segment}",
            variant_path.rsplit_once('/').unwrap().0.to_owned() + "/"
        );
        let file = std::fs::read(app.dir.join(seg_path.trim_start_matches('/'))).unwrap();
        assert!(file.len() > 1000);

        let requests = format!(
            "GET {seg_path} HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\n\r\n\
             HEAD {seg_path} HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\n\r\n\
             GET {seg_path} HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /api/v1/me HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        );
        let answers = pipelined(&app, &requests, &[false, true, false, false]).await;
        let header = |i: usize, name: &str| {
            answers[i]
                .1
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(answers[0].0, "HTTP/1.1 200 OK", "sendfile {sendfile}");
        assert_eq!(answers[0].2, file, "the segment's exact bytes");
        assert_eq!(header(0, "content-type").as_deref(), Some("video/mp4"));
        assert!(header(0, "cache-control").unwrap().contains("immutable"));
        assert!(header(0, "last-modified").is_some() && header(0, "date").is_some());
        assert_eq!(
            header(0, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(header(0, "content-encoding"), None);
        assert_eq!(answers[1].0, "HTTP/1.1 200 OK");
        assert_eq!(header(1, "content-length"), Some(file.len().to_string()));
        assert!(answers[1].2.is_empty());
        assert_eq!(answers[2].0, "HTTP/1.1 401 Unauthorized");
        assert_eq!(
            header(2, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let problem: Value = serde_json::from_slice(&answers[2].2).unwrap();
        assert_eq!(problem["status"], 401);
        assert_eq!(answers[3].0, "HTTP/1.1 200 OK");
        let me: Value = serde_json::from_slice(&answers[3].2).unwrap();
        assert_eq!(me["username"], "admin", "{me}");

        // a Range request is answered from the file too, on the sendfile path
        let r = org
            .get(app.url(&seg_path))
            .header("range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(&r.bytes().await.unwrap()[..], &file[10..20]);
        app.stop().await;
    }
}

/// A counter or gauge from `/metrics`.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.get_text(&app.anonymous(), "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Media grants (src/server/grants.rs): once the router has authorised a session cookie for
/// a lecture version's segment, the next segment of that version for that cookie is sent
/// without the database check — same bytes, same headers — while another cookie or none is
/// still checked; logging out and a visibility change forget the grants at once.
#[tokio::test]
async fn a_checked_session_gets_further_segments_from_a_grant_until_it_logs_out() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let lecture = publish(&app, &org).await;
    let cookie = organizer_cookie(&app).await;
    let master = app.get_text(&org, &lecture.master).await;
    let base = lecture.master.trim_end_matches("master.m3u8");
    let variant = master.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let variant_path = format!("{base}{variant}");
    let dir = variant_path.rsplit_once('/').unwrap().0.to_string();
    let playlist = app.get_text(&org, &variant_path).await;
    let segments: Vec<String> = playlist
        .lines()
        .filter(|l| l.ends_with(".m4s"))
        .map(|s| format!("{dir}/{s}"))
        .collect();
    assert!(segments.len() >= 2, "{playlist}");
    let file = |p: &str| std::fs::read(app.dir.join(p.trim_start_matches('/'))).unwrap();
    assert_eq!(metric(&app, "pufa_media_grant_hits_total").await, 0.0);

    let (first, second) = (&segments[0], &segments[1]);
    let requests = format!(
        "GET {first} HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\n\r\n\
         GET {second} HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\n\r\n\
         GET {second} HTTP/1.1\r\nHost: t\r\n\r\n\
         GET {second} HTTP/1.1\r\nHost: t\r\nCookie: pufa_session=forged\r\nConnection: close\r\n\r\n"
    );
    let answers = pipelined(&app, &requests, &[false, false, false, false]).await;
    assert_eq!(answers[0].0, "HTTP/1.1 200 OK");
    assert_eq!(answers[0].2, file(first));
    assert_eq!(answers[1].0, "HTTP/1.1 200 OK");
    assert_eq!(answers[1].2, file(second), "the granted answer is the file");
    // the same headers as the router's answer, apart from those of each response and file
    let names = |i: usize| {
        let mut n: Vec<String> = answers[i]
            .1
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| {
                !matches!(
                    k.as_str(),
                    "date" | "x-request-id" | "content-length" | "last-modified"
                )
            })
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(0), names(1));
    for h in [
        "content-type",
        "cache-control",
        "x-content-type-options",
        "content-security-policy",
    ] {
        assert!(
            answers[1].1.iter().any(|(k, _)| k == h),
            "{h} in {:?}",
            answers[1].1
        );
    }
    assert_eq!(metric(&app, "pufa_media_grant_hits_total").await, 1.0);
    // no cookie, or another one: checked, and refused
    assert_eq!(answers[2].0, "HTTP/1.1 401 Unauthorized");
    assert_eq!(answers[3].0, "HTTP/1.1 401 Unauthorized");

    // logging out forgets the session's grants: the next segment is refused at once
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/logout"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let answers = pipelined(
        &app,
        &format!(
            "GET {second} HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
        &[false],
    )
    .await;
    assert_eq!(answers[0].0, "HTTP/1.1 401 Unauthorized");

    // a visibility change forgets every grant
    let other = organizer_cookie(&app).await;
    let answers = pipelined(
        &app,
        &format!("GET {first} HTTP/1.1\r\nHost: t\r\nCookie: {other}\r\nConnection: close\r\n\r\n"),
        &[false],
    )
    .await;
    assert_eq!(answers[0].0, "HTTP/1.1 200 OK");
    assert!(metric(&app, "pufa_media_grants").await >= 1.0);
    let token = app
        .csrf_token(&org, &format!("/admin/sessions/{}", lecture.session))
        .await;
    let r = org
        .post(app.url(&format!("/admin/lectures/{}/visibility", lecture.id)))
        .form(&[("csrf", token.as_str()), ("visibility", "enrolled")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());
    assert_eq!(metric(&app, "pufa_media_grants").await, 0.0);
    app.stop().await;
}
