//! Live lectures end to end with the ffmpeg CLI as the publisher (RTMP and SRT): a wrong key is
//! refused before any media; the live playlists advance; when the publisher stops and grace
//! runs out, the replay is published with every rung; a publisher that comes back within grace
//! continues the same live (one lecture, with a discontinuity); and a server killed during a
//! live archives what it had ingested after restart.

use crate::helpers::{ChildGuard, TestApp};
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A program covering today and a session starting in 20 minutes (inside its publishing
/// window, which opens 60 minutes before the start).
pub async fn live_session(app: &TestApp, org: &Client) -> i64 {
    let today = Utc::now().date_naive();
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "直播测试项目（示例）",
            "starts_on": (today - ChronoDuration::days(1)).to_string(),
            "ends_on": (today + ChronoDuration::days(2)).to_string(),
            "timezone": "Asia/Shanghai",
            "slots": [{"weekday": 1, "start": "09:00", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let program = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let starts = (Utc::now() + ChronoDuration::minutes(20)).to_rfc3339();
    let r = app
        .add_session(
            org,
            program,
            &json!({"title": "直播：劳动合同常见风险（示例）", "category": "劳动用工",
                    "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                    "minutes": 60, "capacity": 100, "starts_at": starts}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// `GET /api/v1/sessions/{id}/live` as `c`.
pub async fn live_info(app: &TestApp, c: &Client, session: i64) -> Value {
    app.get_json(c, &format!("/api/v1/sessions/{session}/live"))
        .await
}

/// A free local port (TCP or UDP): bound, read and released.
pub fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// The ffmpeg CLI publishing `seconds` of a 1280×720 30 fps test picture with a tone, in real
/// time (`-re`), keyframes every second, to `url` (`flv` for RTMP, `mpegts` for SRT).
pub fn publish(url: &str, seconds: u32, container: &str) -> ChildGuard {
    let (child, _stdout) = ChildGuard::spawn_piped(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-t", &seconds.to_string()])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "30"])
            .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"])
            .args(["-f", container, url])
            .stdin(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("start ffmpeg");
    child
}

/// Wait up to `limit` for the publisher to exit (without blocking the runtime: an in-process
/// server runs on it).
pub async fn wait_exit(child: &mut ChildGuard, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "the publisher did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll the live API until `done` holds (or panic after `limit`); returns the last answer.
pub async fn wait_live(
    app: &TestApp,
    c: &Client,
    session: i64,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let info = live_info(app, c, session).await;
        if done(&info) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "live state never arrived: {info}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .expect("media sequence")
        .trim()
        .parse()
        .unwrap()
}

/// Sum of the EXTINF durations of a media playlist.
fn extinf_total(playlist: &str) -> f64 {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse::<f64>().unwrap())
        .sum()
}

/// The media playlists of a replay (each rendition's text), read through the lecture page's
/// master playlist as a viewer `c`.
async fn replay_playlists(app: &TestApp, c: &Client, lecture: i64) -> Vec<(String, String)> {
    let page = app.get_text(c, &format!("/lectures/{lecture}")).await;
    let master_path = crate::helpers::master_playlist(&page);
    let master = app.get_text(c, &master_path).await;
    let base = master_path.rsplit_once('/').unwrap().0.to_string();
    let mut uris: Vec<String> = master
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect();
    // the audio rendition is named in an EXT-X-MEDIA URI attribute
    for l in master.lines().filter(|l| l.starts_with("#EXT-X-MEDIA:")) {
        if let Some(rest) = l.split("URI=\"").nth(1) {
            uris.push(rest.split('"').next().unwrap().to_string());
        }
    }
    let mut out = Vec::new();
    for uri in uris {
        let text = app.get_text(c, &format!("{base}/{uri}")).await;
        out.push((uri, text));
    }
    out
}

#[tokio::test]
async fn an_rtmp_live_plays_and_becomes_a_replay_with_every_rung() {
    let app = TestApp::spawn_with(|c| {
        c.rtmp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.live_grace = Duration::from_secs(2);
    })
    .await;
    let org = app.organizer().await;
    let session = live_session(&app, &org).await;
    let info = live_info(&app, &org, session).await;
    assert_eq!(info["state"], "idle");
    let rtmp = info["rtmp_url"].as_str().expect("rtmp url").to_string();
    let key = info["stream_key"].as_str().expect("key").to_string();
    assert!(key.len() >= 22, "at least 128 random bits: {key}");
    assert!(rtmp.ends_with(&key));

    // a wrong key is refused before any media: ffmpeg gives up at once
    let wrong = format!("{}wrong-{key}", rtmp.strip_suffix(&key).unwrap());
    let mut refused = publish(&wrong, 5, "flv");
    let status = wait_exit(&mut refused, Duration::from_secs(10)).await;
    assert!(!status.success(), "a wrong key must be refused");
    assert_eq!(live_info(&app, &org, session).await["state"], "idle");

    let mut publisher = publish(&rtmp, 8, "flv");
    let info = wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "live" && i["hls_url"].is_string()
    })
    .await;
    let master_url = info["hls_url"].as_str().unwrap().to_string();
    // the master lists the source (copied) and the 360p rung
    let master = loop {
        let r = org.get(app.url(&master_url)).send().await.unwrap();
        if r.status() == StatusCode::OK {
            break r.text().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(master.contains("RESOLUTION=1280x720"), "{master}");
    assert!(master.contains("RESOLUTION=640x360"), "{master}");
    // the live playlist advances
    let base = master_url.rsplit_once('/').unwrap().0.to_string();
    let media = format!("{base}/720p/index.m3u8");
    let deadline = Instant::now() + Duration::from_secs(15);
    let first = loop {
        let text = app.get_text(&org, &media).await;
        if text.contains("#EXTINF") {
            break text;
        }
        assert!(Instant::now() < deadline, "no segment: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(first.contains("#EXT-X-PROGRAM-DATE-TIME:"), "{first}");
    let last_segments = first.matches("#EXTINF").count() as u64 + media_sequence(&first);
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let later = app.get_text(&org, &media).await;
    assert!(
        later.matches("#EXTINF").count() as u64 + media_sequence(&later) > last_segments,
        "the live playlist did not advance:\n{first}\n{later}"
    );

    assert!(wait_exit(&mut publisher, Duration::from_secs(30))
        .await
        .success());
    // grace, then the live ends and its replay is queued
    let info = wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "ended"
    })
    .await;
    assert!(info["ended_at"].is_string(), "{info}");
    assert_eq!(app.drain_jobs().await, 1);
    let info = live_info(&app, &org, session).await;
    let lecture = info["lecture_id"].as_i64().expect("replay published");

    let playlists = replay_playlists(&app, &org, lecture).await;
    assert_eq!(
        playlists.len(),
        3,
        "two video rungs and audio: {playlists:?}"
    );
    let counts: Vec<usize> = playlists
        .iter()
        .filter(|(uri, _)| !uri.starts_with("audio"))
        .map(|(_, p)| p.matches("#EXTINF").count())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
    for (uri, p) in &playlists {
        assert!(p.contains("#EXT-X-ENDLIST"), "{uri}: {p}");
        let total = extinf_total(p);
        assert!((6.5..=9.5).contains(&total), "{uri}: {total} s of 8 s");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_publisher_back_within_grace_continues_the_same_live() {
    let app = TestApp::spawn_with(|c| {
        c.rtmp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.live_grace = Duration::from_secs(8);
    })
    .await;
    let org = app.organizer().await;
    let session = live_session(&app, &org).await;
    let rtmp = live_info(&app, &org, session).await["rtmp_url"]
        .as_str()
        .unwrap()
        .to_string();

    let mut first = publish(&rtmp, 4, "flv");
    wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "live"
    })
    .await;
    assert!(wait_exit(&mut first, Duration::from_secs(20))
        .await
        .success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // within grace the session still counts as live
    assert_eq!(live_info(&app, &org, session).await["state"], "live");
    let mut second = publish(&rtmp, 4, "flv");
    assert!(wait_exit(&mut second, Duration::from_secs(20))
        .await
        .success());
    wait_live(&app, &org, session, Duration::from_secs(30), |i| {
        i["state"] == "ended"
    })
    .await;
    assert_eq!(app.drain_jobs().await, 1, "one live, one replay job");
    let lecture = live_info(&app, &org, session).await["lecture_id"]
        .as_i64()
        .expect("replay published");
    for (uri, p) in replay_playlists(&app, &org, lecture).await {
        assert_eq!(
            p.matches("#EXT-X-DISCONTINUITY\n").count(),
            1,
            "{uri}: one discontinuity between the two connections\n{p}"
        );
        let total = extinf_total(&p);
        assert!((6.5..=9.5).contains(&total), "{uri}: {total} s of 4 + 4 s");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_srt_publisher_goes_live_with_its_stream_id() {
    let app = TestApp::spawn_with(|c| {
        c.srt_listen = Some(format!("127.0.0.1:{}", free_port(true)).parse().unwrap());
        c.live_grace = Duration::from_secs(1);
    })
    .await;
    let org = app.organizer().await;
    let session = live_session(&app, &org).await;
    let info = live_info(&app, &org, session).await;
    assert!(info["rtmp_url"].is_null(), "RTMP is off: {info}");
    let srt = info["srt_url"].as_str().expect("srt url").to_string();
    assert!(
        srt.starts_with("srt://") && srt.contains("streamid="),
        "{srt}"
    );

    let mut publisher = publish(&srt, 5, "mpegts");
    wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "live"
    })
    .await;
    assert!(wait_exit(&mut publisher, Duration::from_secs(30))
        .await
        .success());
    wait_live(&app, &org, session, Duration::from_secs(30), |i| {
        i["state"] == "ended"
    })
    .await;
    assert_eq!(app.drain_jobs().await, 1);
    let lecture = live_info(&app, &org, session).await["lecture_id"]
        .as_i64()
        .expect("replay published");
    let playlists = replay_playlists(&app, &org, lecture).await;
    assert!(playlists.len() >= 2, "{playlists:?}");
    for (uri, p) in playlists {
        let total = extinf_total(&p);
        assert!((3.5..=6.5).contains(&total), "{uri}: {total} s of 5 s");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_server_killed_during_a_live_archives_it_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(false).to_string();
    let args = [
        "--rtmp-listen",
        &format!("127.0.0.1:{port}"),
        "--srt-listen",
        "off",
        "--live-grace-secs",
        "2",
    ];
    let app = TestApp::start_binary(dir.path(), &args).await;
    let org = app.organizer().await;
    let session = live_session(&app, &org).await;
    let rtmp = live_info(&app, &org, session).await["rtmp_url"]
        .as_str()
        .unwrap()
        .to_string();
    let mut publisher = publish(&rtmp, 30, "flv");
    wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "live"
    })
    .await;
    // some seconds of media acknowledged on the wire, then a power cut
    tokio::time::sleep(Duration::from_secs(6)).await;
    app.crash();
    wait_exit(&mut publisher, Duration::from_secs(10)).await;

    let app = TestApp::start_binary(dir.path(), &args).await;
    let org = app.organizer().await;
    // the restarted server's own worker archives the interrupted live
    let info = wait_live(&app, &org, session, Duration::from_secs(90), |i| {
        i["lecture_id"].is_i64()
    })
    .await;
    assert_eq!(info["state"], "ended", "{info}");
    let lecture = info["lecture_id"].as_i64().unwrap();
    let playlists = replay_playlists(&app, &org, lecture).await;
    assert!(playlists.len() >= 2, "{playlists:?}");
    for (uri, p) in playlists {
        assert!(p.contains("#EXT-X-ENDLIST"), "{uri}");
        let total = extinf_total(&p);
        // everything that arrived before the kill (about 6 s, the last partial second aside)
        assert!(total >= 4.0, "{uri}: only {total} s archived");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_organizer_chooses_who_may_watch_before_the_first_live() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = live_session(&app, &org).await;
    let path = format!("/api/v1/sessions/{session}/live");
    // a live defaults to enrolled viewers: a visitor is asked to log in
    let r = app.anonymous().get(app.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(
        page.contains(&format!("/admin/sessions/{session}/visibility")),
        "the form is offered before any live or upload"
    );
    let csrf = app
        .csrf_token(&org, &format!("/admin/sessions/{session}"))
        .await;
    let r = org
        .post(app.url(&format!("/admin/sessions/{session}/visibility")))
        .form(&[("csrf", csrf.as_str()), ("visibility", "nobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = org
        .post(app.url(&format!("/admin/sessions/{session}/visibility")))
        .form(&[("csrf", csrf.as_str()), ("visibility", "public")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let info: Value = app.get_json(&app.anonymous(), &path).await;
    assert_eq!(info["state"], "idle");
    assert!(info["stream_key"].is_null(), "never the key for a visitor");
    // an enterprise cannot change it
    let (ent, _) = app.register_enterprise(7).await;
    let csrf = app.csrf_token(&ent, "/me").await;
    let r = ent
        .post(app.url(&format!("/admin/sessions/{session}/visibility")))
        .form(&[("csrf", csrf.as_str()), ("visibility", "enrolled")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
