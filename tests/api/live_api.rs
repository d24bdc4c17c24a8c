//! Live lectures over HTTP: the live API answers only those who may watch (enrolled: confirmed
//! enterprises, the session's lawyer and organizers; not the waitlist, not another lawyer) and
//! shows the stream key only to organizers and the session's lawyer; only organizers rotate it
//! (with the CSRF token) and the old key is refused by the ingest from then on; enrolled
//! recordings are served to the enrolled only; a live published with the ffmpeg CLI is
//! served to an enrolled enterprise and refused to others, and its watch reports count.

use crate::helpers::{add_staff, problem, TestApp};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Instant;

const LAWYER_PASSWORD: &str = "lawyer-pass-1";

/// Everyone the access rule tells apart, around one session starting soon with one seat.
struct Cast {
    app: TestApp,
    session: i64,
    organizer: Client,
    /// Holds the only seat.
    confirmed: Client,
    /// Second in line: waitlisted.
    waitlisted: Client,
    /// Registered, not signed up.
    stranger: Client,
    /// The session's linked lawyer.
    lecturer: Client,
    /// A lawyer of another session.
    other_lawyer: Client,
}

/// A program around today with one session starting at `start`, taught by `lawyer`.
async fn session_at(app: &TestApp, org: &Client, start: DateTime<Utc>, lawyer: &str) -> i64 {
    let today = Utc::now().date_naive();
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "直播测试项目", "starts_on": (today - Duration::days(1)).to_string(),
            "ends_on": (today + Duration::days(30)).to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let program = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    let r = app
        .add_session(
            org,
            program,
            &json!({
                "title": "直播测试课程", "category": "合同管理",
                "lecturer": {"name": "示例律师", "firm": "示例律师事务所", "account": lawyer},
                "minutes": 60, "capacity": 1,
                "starts_at": start.with_timezone(&china).format("%Y-%m-%dT%H:%M%:z").to_string(),
            }),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn cast(app: TestApp) -> Cast {
    add_staff(&app, "lawyer", "live-lawyer-1", LAWYER_PASSWORD);
    add_staff(&app, "lawyer", "live-lawyer-2", LAWYER_PASSWORD);
    let organizer = app.organizer().await;
    let session = session_at(
        &app,
        &organizer,
        Utc::now() + Duration::minutes(10),
        "live-lawyer-1",
    )
    .await;
    let (confirmed, _) = app.register_enterprise(1).await;
    let (waitlisted, _) = app.register_enterprise(2).await;
    let (stranger, _) = app.register_enterprise(3).await;
    assert_eq!(
        app.sign_up(&confirmed, session, 1).await.1["status"],
        "confirmed"
    );
    assert_eq!(
        app.sign_up(&waitlisted, session, 1).await.1["status"],
        "waitlisted"
    );
    let lecturer = app.logged_in("live-lawyer-1", LAWYER_PASSWORD).await;
    let other_lawyer = app.logged_in("live-lawyer-2", LAWYER_PASSWORD).await;
    Cast {
        app,
        session,
        organizer,
        confirmed,
        waitlisted,
        stranger,
        lecturer,
        other_lawyer,
    }
}

/// A server with RTMP ingest on a free port and a short reconnect grace.
async fn spawn_with_rtmp() -> TestApp {
    TestApp::spawn_with(|c| {
        c.rtmp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.live_grace = std::time::Duration::from_secs(2);
    })
    .await
}

async fn live_json(app: &TestApp, c: &Client, session: i64) -> (StatusCode, Value) {
    let r = c
        .get(app.url(&format!("/api/v1/sessions/{session}/live")))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The CSRF cookie of `c` (every page sets one), read back from a page's hidden field.
async fn csrf(app: &TestApp, c: &Client) -> String {
    app.csrf_token(c, "/").await
}

async fn rotate(app: &TestApp, c: &Client, session: i64, token: Option<&str>) -> reqwest::Response {
    let mut request = c.post(app.url(&format!("/api/v1/sessions/{session}/live/key")));
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    request.send().await.unwrap()
}

/// Publish `seconds` of a 640×360 test picture with a tone to `url` with the ffmpeg CLI,
/// in real time; returns ffmpeg's exit status.
async fn publish(url: &str, seconds: u32) -> std::process::ExitStatus {
    tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
        .args(["-c:a", "aac", "-b:a", "96k", "-f", "flv", url])
        .kill_on_drop(true)
        .status()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_live_is_for_the_enrolled_and_the_key_for_its_managers() {
    let c = cast(spawn_with_rtmp().await).await;
    let (app, sid) = (&c.app, c.session);

    // who may see the live: enrolled = confirmed sign-up, the session's lawyer, organizers
    let (status, body) = live_json(app, &app.anonymous(), sid).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for (who, client) in [
        ("waitlisted", &c.waitlisted),
        ("not signed up", &c.stranger),
        ("another lawyer", &c.other_lawyer),
    ] {
        let r = client
            .get(app.url(&format!("/api/v1/sessions/{sid}/live")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who}");
        assert_eq!(problem(r).await["code"], "forbidden", "{who}");
    }
    let (status, viewer) = live_json(app, &c.confirmed, sid).await;
    assert_eq!(status, StatusCode::OK, "{viewer}");
    assert_eq!(viewer["state"], "idle");
    assert_eq!(viewer["hls_url"], Value::Null);
    assert_eq!(viewer["lecture_id"], Value::Null);
    assert_eq!(viewer["replay_pending"], false);
    assert!(viewer["starts_at"].as_str().unwrap().ends_with("+08:00"));
    // the key and the figures are not for viewers
    assert_eq!(viewer["stream_key"], Value::Null);
    assert_eq!(viewer["rtmp_url"], Value::Null);
    assert_eq!(viewer["figures"], Value::Null);

    // organizers and the session's lawyer get the key and the ingest URLs
    let (_, org) = live_json(app, &c.organizer, sid).await;
    let key = org["stream_key"].as_str().unwrap().to_string();
    assert!(key.len() >= 22, "at least 128 random bits: {key}");
    let rtmp = org["rtmp_url"].as_str().unwrap().to_string();
    assert!(
        rtmp.starts_with("rtmp://127.0.0.1:") && rtmp.ends_with(&format!("/live/{key}")),
        "{rtmp}"
    );
    assert_eq!(org["srt_url"], Value::Null, "SRT ingest is off here");
    assert_eq!(org["figures"]["viewers"], 0);
    let (status, lawyer) = live_json(app, &c.lecturer, sid).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lawyer["stream_key"], key.as_str());
    assert!(lawyer["figures"].is_object());

    // the organizer's live page: organizers and the session's lawyer
    let page = format!("/admin/sessions/{sid}/live");
    for (client, expected, rotates) in [
        (&c.organizer, StatusCode::OK, true),
        (&c.lecturer, StatusCode::OK, false),
        (&c.other_lawyer, StatusCode::FORBIDDEN, false),
        (&c.confirmed, StatusCode::FORBIDDEN, false),
    ] {
        let r = client.get(app.url(&page)).send().await.unwrap();
        assert_eq!(r.status(), expected);
        if expected == StatusCode::OK {
            let html = r.text().await.unwrap();
            assert!(
                html.contains("显示密钥") && html.contains(&key),
                "key on the page, hidden"
            );
            assert_eq!(html.contains("更换密钥"), rotates, "only organizers rotate");
        }
    }

    // the session page: a countdown for the enrolled, the reason for the others
    let html = app
        .get_text(&c.confirmed, &format!("/sessions/{sid}"))
        .await;
    assert!(
        html.contains("即将开始") && html.contains("data-poll=\"1\""),
        "{html}"
    );
    let html = app.get_text(&c.stranger, &format!("/sessions/{sid}")).await;
    assert!(html.contains("报名后可观看") && html.contains("data-poll=\"0\""));
    let html = app
        .get_text(&app.anonymous(), &format!("/sessions/{sid}"))
        .await;
    assert!(html.contains("登录后可观看"));

    // only organizers rotate, and only with the CSRF token
    let token = csrf(app, &c.lecturer).await;
    assert_eq!(
        rotate(app, &c.lecturer, sid, Some(&token)).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = rotate(app, &c.organizer, sid, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(r).await["code"], "csrf_rejected");
    let token = csrf(app, &c.organizer).await;
    let r = c
        .organizer
        .post(app.url(&format!("/api/v1/sessions/{sid}/live/key")))
        .header("x-csrf-token", &token)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "cross-site");
    let r = rotate(app, &c.organizer, sid, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fresh: Value = r.json().await.unwrap();
    let new_key = fresh["stream_key"].as_str().unwrap();
    assert_ne!(new_key, key);
    assert!(fresh["rtmp_url"].as_str().unwrap().ends_with(new_key));
    assert_eq!(
        live_json(app, &c.lecturer, sid).await.1["stream_key"],
        new_key
    );
    // the page's 更换密钥 form: organizers only, back to the page with a notice
    let form = format!("/admin/sessions/{sid}/live/key");
    let token = csrf(app, &c.lecturer).await;
    let r = c
        .lecturer
        .post(app.url(&form))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let token = csrf(app, &c.organizer).await;
    let r = c
        .organizer
        .post(app.url(&form))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/admin/sessions/{sid}/live?notice=rotated").as_str()
    );
    let (_, org) = live_json(app, &c.organizer, sid).await;
    assert_ne!(org["stream_key"], new_key, "rotated again");

    // the old key stops working: the ingest refuses it, and the organizer sees why
    let status = publish(&rtmp, 2).await;
    assert!(
        !status.success(),
        "publishing with the replaced key must fail"
    );
    let refusals = wait_for(app, &c.organizer, sid, 10, |live| {
        let log = live["figures"]["refusals"].as_array()?;
        (!log.is_empty()).then(|| log.clone())
    })
    .await;
    assert_eq!(refusals[0]["code"], "rotated_key");
    assert_eq!(refusals[0]["protocol"], "rtmp");
    assert!(refusals[0]["reason"]
        .as_str()
        .unwrap()
        .contains("推流码已更换"));
    assert_eq!(refusals[0]["remote"], "127.0.0.1");
    let (_, lawyer) = live_json(app, &c.lecturer, sid).await;
    assert_eq!(
        lawyer["figures"]["refusals"][0]["remote"],
        Value::Null,
        "addresses are for organizers"
    );
    assert_eq!(live_json(app, &c.confirmed, sid).await.1["state"], "idle");
}

/// Poll the live API as `c` every 200 ms until `pick` finds something (at most `secs`).
async fn wait_for<T>(
    app: &TestApp,
    c: &Client,
    session: i64,
    secs: u64,
    pick: impl Fn(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (_, live) = live_json(app, c, session).await;
        if let Some(found) = pick(&live) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting; last answer {live}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn enrolled_recordings_are_served_to_the_enrolled_only() {
    let c = cast(TestApp::spawn().await).await;
    let (app, sid) = (&c.app, c.session);
    let clip = app.dir.join("clip.mp4");
    generate_clip(
        &ClipSpec::new(320, 180, 25, 2.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = app.upload(&c.organizer, sid, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    assert_eq!(app.drain_jobs().await, 1);
    let lecture = app.job(&c.organizer, job).await["lecture_id"]
        .as_i64()
        .unwrap();
    let token = csrf(app, &c.organizer).await;
    let r = c
        .organizer
        .post(app.url(&format!("/admin/lectures/{lecture}/visibility")))
        .form(&[("csrf", token.as_str()), ("visibility", "enrolled")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = app
        .get_text(&c.organizer, &format!("/admin/sessions/{sid}"))
        .await;
    assert!(
        page.contains("value=\"enrolled\" selected"),
        "the form offers 仅已报名企业"
    );

    let page = app
        .get_text(&c.confirmed, &format!("/lectures/{lecture}"))
        .await;
    let master = crate::helpers::master_playlist(&page);
    let segment_dir = master.trim_end_matches("master.m3u8");
    let first_rung = app
        .get_text(&c.confirmed, &master)
        .await
        .lines()
        .find(|l| l.ends_with(".m3u8"))
        .unwrap()
        .to_string();
    let rung = format!("{segment_dir}{first_rung}");
    for (who, client, expected) in [
        ("confirmed", &c.confirmed, StatusCode::OK),
        ("lecturer", &c.lecturer, StatusCode::OK),
        ("organizer", &c.organizer, StatusCode::OK),
        ("waitlisted", &c.waitlisted, StatusCode::FORBIDDEN),
        ("stranger", &c.stranger, StatusCode::FORBIDDEN),
        ("other lawyer", &c.other_lawyer, StatusCode::FORBIDDEN),
        ("visitor", &app.anonymous(), StatusCode::UNAUTHORIZED),
    ] {
        for path in [&master, &rung] {
            let r = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), expected, "{who} {path}");
            if expected == StatusCode::OK {
                assert!(r.headers()["cache-control"]
                    .to_str()
                    .unwrap()
                    .starts_with("private"));
            }
        }
    }
    // the page says why, and progress reports of those who may not watch are refused
    let page = app
        .get_text(&c.stranger, &format!("/lectures/{lecture}"))
        .await;
    assert!(
        page.contains("报名后可观看") && !page.contains("data-src"),
        "{page}"
    );
    let archive = app.get_text(&c.stranger, "/archive").await;
    assert!(archive.contains("已报名企业可看"));
    let report = |client: &Client| {
        client
            .post(app.url(&format!("/api/v1/lectures/{lecture}/progress")))
            .json(&json!({"position_s": 1.0}))
            .send()
    };
    assert_eq!(
        report(&c.stranger).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(report(&c.confirmed).await.unwrap().status(), StatusCode::OK);
}

/// The `#EXT-X-PROGRAM-DATE-TIME` values and segment URIs of a media playlist, in order.
fn segments(playlist: &str) -> Vec<(DateTime<Utc>, String)> {
    let mut out = Vec::new();
    let mut date = None;
    for line in playlist.lines() {
        if let Some(d) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            date = DateTime::parse_from_rfc3339(d)
                .ok()
                .map(|d| d.with_timezone(&Utc));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            if let Some(d) = date {
                out.push((d, line.trim().to_string()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_published_with_ffmpeg_is_served_to_the_enrolled_and_watching_counts() {
    let c = cast(spawn_with_rtmp().await).await;
    let (app, sid) = (&c.app, c.session);
    let rtmp = live_json(app, &c.organizer, sid).await.1["rtmp_url"]
        .as_str()
        .unwrap()
        .to_string();
    let publisher = tokio::spawn(async move { publish(&rtmp, 9).await });

    let hls = wait_for(app, &c.confirmed, sid, 15, |live| {
        (live["state"] == "live")
            .then(|| live["hls_url"].as_str().map(str::to_string))
            .flatten()
    })
    .await;
    assert!(hls.starts_with(&format!("/live/{sid}/")), "{hls}");
    // the stable address redirects to the current live's
    let r = c
        .confirmed
        .get(app.url(&format!("/live/{sid}/master.m3u8")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["location"], hls.as_str());

    // the master playlist: the enrolled get it, the others are refused
    let r = c.confirmed.get(app.url(&hls)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(r.headers()["cache-control"], "private, no-cache");
    let master = r.text().await.unwrap();
    assert!(master.starts_with("#EXTM3U"), "{master}");
    for (client, expected) in [
        (&c.stranger, StatusCode::FORBIDDEN),
        (&c.waitlisted, StatusCode::FORBIDDEN),
        (&app.anonymous(), StatusCode::UNAUTHORIZED),
        (&c.lecturer, StatusCode::OK),
    ] {
        assert_eq!(
            client.get(app.url(&hls)).send().await.unwrap().status(),
            expected
        );
    }

    // a media playlist with segments, and a segment
    let base = hls.trim_end_matches("master.m3u8");
    let media = format!(
        "{base}{}",
        master.lines().find(|l| l.ends_with(".m3u8")).unwrap()
    );
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    let listed = loop {
        let text = app.get_text(&c.confirmed, &media).await;
        let listed = segments(&text);
        if listed.len() >= 2 {
            break listed;
        }
        assert!(Instant::now() < deadline, "no segments: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let rendition_dir = &media[..media.rfind('/').unwrap() + 1];
    let segment = format!("{rendition_dir}{}", listed[0].1);
    let r = c.confirmed.get(app.url(&segment)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(
        r.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );
    assert!(!r.bytes().await.unwrap().is_empty());
    let r = c.stranger.get(app.url(&segment)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, org) = live_json(app, &c.organizer, sid).await;
    assert!(org["viewers"].as_u64().unwrap() >= 1, "{org}");

    // watch reports: mapped to positions and added up; unknown times are refused
    let watch = |client: &Client, at: DateTime<Utc>| {
        client
            .post(app.url(&format!("/api/v1/sessions/{sid}/live/watch")))
            .json(&json!({ "playing_date": at.to_rfc3339() }))
            .send()
    };
    let first = listed[0].0 + Duration::milliseconds(500);
    let r = watch(&c.confirmed, first).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert!(answer["position_s"].as_f64().unwrap() >= 0.0);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let r = watch(&c.confirmed, listed[1].0 + Duration::milliseconds(500))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert!(answer["watched_s"].as_f64().unwrap() > 1.0, "{answer}");
    let r = watch(&c.confirmed, first - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(r).await["errors"][0]["field"], "playing_date");
    assert_eq!(
        watch(&c.stranger, first).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // the organizer sees the ingest
    let (_, org) = live_json(app, &c.organizer, sid).await;
    let figures = &org["figures"];
    assert!(
        figures["incoming_bitrate_bps"].as_u64().unwrap() > 0,
        "{figures}"
    );
    assert!(
        !figures["rungs"].as_array().unwrap().is_empty(),
        "{figures}"
    );

    assert!(publisher.await.unwrap().success());
    let ended = wait_for(app, &c.confirmed, sid, 20, |live| {
        (live["state"] == "ended").then(|| live.clone())
    })
    .await;
    assert!(ended["ended_at"].is_string(), "{ended}");
}
