//! Two `pufa serve` processes on one database work as one site (issue 18, stateless replicas;
//! here on SQLite, so on one machine): 200 concurrent sign-ups spread over both give exactly
//! the capacity confirmed and one ordered waitlist; a login on one is valid on the other and a
//! logout on one ends it on both; a recording uploaded through one is transcoded by a
//! `pufa worker` and plays from the other. Once on SQLite, once on a real PostgreSQL.

use crate::helpers::{published_master, wait_until_done, TestApp};
use crate::signups::{enterprises, session_with};
use crate::workers::start_worker;
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Serve only: the jobs are the worker's.
const SERVE_ONLY: &[&str] = &["--transcode-workers", "0", "--delivery-workers", "0"];

#[tokio::test]
async fn two_replicas_on_one_database_act_as_one_site() {
    let dir = tempfile::tempdir().unwrap();
    one_site(dir.path()).await;
}

/// The same on PostgreSQL: a throwaway cluster, the replicas and the worker on one database;
/// the seats are decided under the session's row lock (`SELECT … FOR UPDATE`), the job is
/// claimed with `FOR UPDATE SKIP LOCKED`.
#[tokio::test]
async fn two_replicas_on_postgresql_act_as_one_site() {
    let cluster = crate::postgres::Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    crate::postgres::use_database(dir.path(), &cluster.database().await);
    one_site(dir.path()).await;
}

/// Every enterprise of `ents` signs up for `session` at the same instant, enterprise `i`
/// through `through(i)`; every answer must be 201. Returns how many were confirmed.
pub(crate) async fn sign_up_at_once(
    ents: &[(reqwest::Client, String)],
    session: i64,
    through: impl Fn(usize) -> Arc<TestApp>,
) -> usize {
    let barrier = Arc::new(tokio::sync::Barrier::new(ents.len()));
    let mut set = tokio::task::JoinSet::new();
    for (i, (c, uscc)) in ents.iter().cloned().enumerate() {
        let app = through(i);
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            let (status, body) = app.sign_up(&c, session, 1).await;
            (uscc, status, body)
        });
    }
    let answers = set.join_all().await;
    for (uscc, status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{uscc}: {body}");
    }
    answers
        .iter()
        .filter(|(_, _, b)| b["status"] == "confirmed")
        .count()
}

/// `app`'s roster of `session`, as `org` sees it: `confirmed` confirmed and the waitlist
/// numbered 1..=`waitlisted` in order.
pub(crate) async fn assert_roster(
    app: &TestApp,
    org: &reqwest::Client,
    session: i64,
    confirmed: usize,
    waitlisted: i64,
) {
    let rows = app.roster(org, session).await;
    assert_eq!(
        rows.iter().filter(|r| r["status"] == "confirmed").count(),
        confirmed
    );
    let positions: Vec<i64> = rows
        .iter()
        .filter(|r| r["status"] == "waitlisted")
        .map(|r| r["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (1..=waitlisted).collect::<Vec<_>>());
}

async fn one_site(dir: &std::path::Path) {
    let a = Arc::new(TestApp::start_binary(dir, SERVE_ONLY).await);
    let b = Arc::new(TestApp::start_binary(dir, SERVE_ONLY).await);
    assert_ne!(a.url("/"), b.url("/"));
    let org = a.organizer().await;
    let sid = session_with(&a, &org, 50, json!({})).await;
    // registered and logged in through A; the cookie jar sends the same login to B (one host)
    let ents = enterprises(&a, 3000, 200).await;

    let confirmed = sign_up_at_once(
        &ents,
        sid,
        |i| if i % 2 == 0 { a.clone() } else { b.clone() },
    )
    .await;
    assert_eq!(confirmed, 50);
    // both replicas show the same roster: 50 confirmed, the waitlist 1..150 in order
    for replica in [&a, &b] {
        assert_roster(replica, &org, sid, 50, 150).await;
    }

    // a login made on A is valid on B; logging out on B ends it on A too
    let (c, _) = &ents[0];
    let on_a: Value = a.get_json(c, "/api/v1/me").await;
    let on_b: Value = b.get_json(c, "/api/v1/me").await;
    assert_eq!(on_a["id"], on_b["id"]);
    let token = b.csrf_token(c, "/").await;
    let r = c
        .post(b.url("/api/v1/logout"))
        .header("x-csrf-token", token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "logout: {}", r.status());
    let r = c.get(a.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // a recording uploaded through A, transcoded by a worker, plays from B
    let clip = dir.join("short.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 4.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = a.upload(&org, sid, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let job = answer["job_id"].as_i64().unwrap();
    let lecture = answer["lecture_id"].as_i64().unwrap();
    let _worker = start_worker(dir);
    let done = wait_until_done(&b, &org, job).await;
    assert_eq!(done["state"], "done");
    let master = published_master(&b, &org, lecture).await;
    assert!(master.contains("#EXT-X-STREAM-INF"));
}

/// A live belongs to the replica ingesting it. Before its heartbeat (issue 18), a second
/// replica starting on the same database marked every running live interrupted and queued its
/// replay while the lecturer was still streaming to the first.
#[tokio::test]
async fn a_replica_starting_leaves_the_live_of_another_running() {
    use crate::live::{free_port, live_info, live_session, publish, wait_live};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port(false).to_string();
    let rtmp = format!("127.0.0.1:{port}");
    let a =
        TestApp::start_binary(dir.path(), &["--rtmp-listen", &rtmp, "--srt-listen", "off"]).await;
    let org = a.organizer().await;
    let session = live_session(&a, &org).await;
    let url = live_info(&a, &org, session).await["rtmp_url"]
        .as_str()
        .unwrap()
        .to_string();
    let _publisher = publish(&url, 30, "flv");
    wait_live(&a, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "live"
    })
    .await;

    let b = TestApp::start_binary(dir.path(), SERVE_ONLY).await;
    // a few heartbeats and sweeps of both replicas
    tokio::time::sleep(Duration::from_secs(7)).await;
    let state: String = sqlx::query_scalar(
        "SELECT state FROM lives WHERE session_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(session)
    .fetch_one(&b.pool().await)
    .await
    .unwrap();
    assert_eq!(state, "live", "B's start ended A's live");
    assert_eq!(live_info(&a, &org, session).await["state"], "live");
}

/// A live ingested by replica A plays from replica B (issue 18): A mirrors its playlists and
/// segments into the media storage (`--live-mirror`), B serves them as plain HLS after its own
/// access check, and A's viewer count includes B's viewers; once the replay is published the
/// mirror is deleted.
#[tokio::test]
async fn a_live_ingested_by_one_replica_plays_from_another() {
    use crate::live::{free_port, live_info, live_session, publish, wait_exit, wait_live};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port(false).to_string();
    let rtmp = format!("127.0.0.1:{port}");
    let a = TestApp::start_binary(
        dir.path(),
        &[
            "--rtmp-listen",
            &rtmp,
            "--srt-listen",
            "off",
            "--live-grace-secs",
            "2",
            "--live-mirror",
            "true",
        ],
    )
    .await;
    let b = TestApp::start_binary(
        dir.path(),
        &[
            "--transcode-workers",
            "0",
            "--delivery-workers",
            "0",
            "--live-mirror",
            "true",
        ],
    )
    .await;
    let org = a.organizer().await;
    let session = live_session(&a, &org).await;
    let url = live_info(&a, &org, session).await["rtmp_url"]
        .as_str()
        .unwrap()
        .to_string();
    let mut publisher = publish(&url, 14, "flv");
    // B, which has no publisher, shows the live and hands out its player URL
    let info = wait_live(&b, &org, session, Duration::from_secs(30), |i| {
        i["state"] == "live" && i["hls_url"].is_string()
    })
    .await;
    let master_url = info["hls_url"].as_str().unwrap().to_string();
    let anonymous = b.anonymous().get(b.url(&master_url)).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "B checks access"
    );
    let master = b.get_text(&org, &master_url).await;
    assert!(master.contains("#EXT-X-STREAM-INF"), "{master}");
    let rendition = master
        .lines()
        .find(|l| l.ends_with("index.m3u8") && !l.starts_with('#'))
        .unwrap()
        .to_string();
    let base = master_url.trim_end_matches("master.m3u8").to_string();
    // the mirror is plain HLS: segments and their init, no parts
    let mut playlist = String::new();
    for _ in 0..50 {
        playlist = b.get_text(&org, &format!("{base}{rendition}")).await;
        if playlist.contains("seg_") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        playlist.contains("#EXT-X-MAP:URI=\"init_0.mp4\""),
        "{playlist}"
    );
    assert!(!playlist.contains("#EXT-X-PART"), "{playlist}");
    let rendition_dir = rendition.trim_end_matches("index.m3u8");
    let segment = playlist.lines().find(|l| l.starts_with("seg_")).unwrap();
    for file in [segment, "init_0.mp4"] {
        let r = org
            .get(b.url(&format!("{base}{rendition_dir}{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(r.headers()["content-type"], "video/mp4");
        assert!(r.bytes().await.unwrap().len() > 100, "{file}");
    }

    // a watch report sent to B is mapped on the mirrored timeline, as A maps it
    let pdt = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
        .unwrap();
    let at =
        chrono::DateTime::parse_from_rfc3339(pdt).unwrap() + chrono::Duration::milliseconds(500);
    let watch = |at: String| {
        org.post(b.url(&format!("/api/v1/sessions/{session}/live/watch")))
            .json(&serde_json::json!({ "playing_date": at }))
            .send()
    };
    let mut report = None;
    for _ in 0..30 {
        let r = watch(at.to_rfc3339()).await.unwrap();
        if r.status() == StatusCode::OK {
            report = Some(r.json::<Value>().await.unwrap());
            break;
        }
        // the timeline is written with the next mirror pass
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = report.expect("B maps the watch report");
    assert!(report["position_s"].as_f64().unwrap() >= 0.0, "{report}");
    let early = (at - chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(
        watch(early).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // the organizer watched on B only; A, which ingests, counts that viewer (once)
    wait_live(&a, &org, session, Duration::from_secs(20), |i| {
        i["viewers"] == 1
    })
    .await;

    // the live ends on A, its replay is published, and the mirror goes
    assert!(wait_exit(&mut publisher, Duration::from_secs(40))
        .await
        .success());
    let info = wait_live(&a, &org, session, Duration::from_secs(120), |i| {
        i["lecture_id"].is_i64()
    })
    .await;
    assert_eq!(info["state"], "ended", "{info}");
    let live = info["live_id"].as_i64().unwrap();
    let mirror = dir.path().join(format!("media/lives/{session}/{live}"));
    for _ in 0..50 {
        if !mirror.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !mirror.exists(),
        "the mirror is deleted with the replay published"
    );
}
