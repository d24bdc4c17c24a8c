//! The scale-out topology on one machine (issue 18): a throwaway PostgreSQL cluster, an S3
//! server process (s3s-fs), two serve-only `pufa serve` replicas behind nginx (the documented
//! site, `deploy/nginx/pufa.conf`, with both replicas in its `upstream`) and two
//! `pufa worker`s.
//!
//! - through nginx, 200 concurrent sign-ups on a 50-seat session, spread over both replicas,
//!   give exactly 50 confirmed and one ordered waitlist, which both replicas show;
//! - a login made on replica A is valid on replica B;
//! - a recording uploaded through A is claimed by one worker; that worker is killed with
//!   SIGKILL mid-transcode, the other takes the job over after the heartbeat goes stale and
//!   publishes it to the bucket, and the lecture plays from B (segments streamed from the
//!   bucket).

use crate::helpers::{published_master, wait_until_done, wait_until_transcoding, TestApp};
use crate::object_storage::S3Server;
use crate::proxy::{free_port, Nginx};
use crate::replicas::{assert_roster, sign_up_at_once};
use crate::signups::{enterprises, session_with};
use crate::workers::start_worker;
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_two_workers_postgresql_and_a_bucket_behind_nginx() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cluster = crate::postgres::Cluster::start();
    crate::postgres::use_database(dir, &cluster.database().await);
    let s3 = S3Server::start();
    s3.use_for(dir);

    // the public URL is nginx's, known before the replicas start
    let (https_port, http_port) = (free_port(), free_port());
    let public = format!("https://localhost:{https_port}");
    let replica = [
        "--transcode-workers",
        "0",
        "--delivery-workers",
        "0",
        "--public-url",
        public.as_str(),
        "--trusted-proxies",
        "127.0.0.1,::1",
    ];
    let a = TestApp::start_binary(dir, &replica).await;
    let b = TestApp::start_binary(dir, &replica).await;
    let (a_addr, b_addr) = (
        a.address.trim_start_matches("http://").to_string(),
        b.address.trim_start_matches("http://").to_string(),
    );
    let nginx_dir = dir.join("nginx");
    std::fs::create_dir(&nginx_dir).unwrap();
    let nginx = Nginx::start_on(
        &nginx_dir,
        &format!("{a_addr}; server {b_addr}"),
        https_port,
        http_port,
    );
    let site = Arc::new(TestApp::front(public.clone(), dir));

    // 200 concurrent sign-ups through nginx
    let org = site.organizer().await;
    let sid = session_with(&site, &org, 50, json!({})).await;
    let ents = enterprises(&site, 7000, 200).await;
    let confirmed = sign_up_at_once(&ents, sid, |_| site.clone()).await;
    assert_eq!(confirmed, 50);
    // nginx spread them over both replicas
    let log = nginx.access_log();
    let signups_on = |addr: &str| {
        log.lines()
            .filter(|l| {
                l.starts_with(addr) && l.contains(&format!("/sessions/{sid}/registrations"))
            })
            .count()
    };
    let (on_a, on_b) = (signups_on(&a_addr), signups_on(&b_addr));
    assert_eq!(on_a + on_b, 200, "{log}");
    assert!(on_a >= 50 && on_b >= 50, "A {on_a}, B {on_b}");

    // sign-ups for two sessions at once, half the enterprises in one order and half in the
    // other: the replicas' group-commit batches lock both sessions' rows (before the writers'
    // advisory lock they deadlocked: PostgreSQL aborted one batch, HTTP 500)
    let pair = [
        session_with(&site, &org, 50, json!({})).await,
        session_with(&site, &org, 50, json!({})).await,
    ];
    let barrier = Arc::new(tokio::sync::Barrier::new(ents.len()));
    let mut set = tokio::task::JoinSet::new();
    for (i, (c, uscc)) in ents.iter().cloned().enumerate() {
        let site = site.clone();
        let barrier = barrier.clone();
        let order = if i % 2 == 0 { pair } else { [pair[1], pair[0]] };
        set.spawn(async move {
            barrier.wait().await;
            let mut answers = Vec::new();
            for session in order {
                answers.push(site.sign_up(&c, session, 1).await);
            }
            (uscc, answers)
        });
    }
    for (uscc, answers) in set.join_all().await {
        for (status, body) in answers {
            assert_eq!(status, StatusCode::CREATED, "{uscc}: {body}");
        }
    }

    // each replica, asked directly, shows the same roster; a login on A is valid on B
    let org_a = a.organizer().await;
    let me_a: Value = a.get_json(&org_a, "/api/v1/me").await;
    let me_b: Value = b.get_json(&org_a, "/api/v1/me").await;
    assert_eq!(me_a["id"], me_b["id"], "{me_b}");
    for replica in [&a, &b] {
        assert_roster(replica, &org_a, sid, 50, 150).await;
    }

    // a recording uploaded through A; one of two workers claims it and is killed mid-job
    let clip = dir.join("long.mp4");
    generate_clip(
        &ClipSpec::new(1280, 720, 30, 40.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = a.upload(&org_a, sid, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let (job, lecture) = (
        answer["job_id"].as_i64().unwrap(),
        answer["lecture_id"].as_i64().unwrap(),
    );
    let first = start_worker(dir);
    let second = start_worker(dir);
    let test = "topology::two_replicas_two_workers_postgresql_and_a_bucket_behind_nginx";
    if wait_until_transcoding(&b, &org_a, job, test).await {
        let holder = job_worker(&a, job).await;
        let (killed, survivor) = if worker_pid(&holder) == first.id() {
            (first, second)
        } else {
            assert_eq!(worker_pid(&holder), second.id(), "{holder}");
            (second, first)
        };
        let survivor_pid = survivor.id();
        killed.kill();
        let done = wait_until_done(&b, &org_a, job).await;
        assert_eq!(done["attempts"], 2, "{done}");
        assert_eq!(worker_pid(&job_worker(&a, job).await), survivor_pid);
        drop(survivor);
    } else {
        drop((first, second));
    }

    // it plays from B: the master playlist and a segment, from the bucket
    let master = published_master(&b, &org_a, lecture).await;
    assert!(master.contains("#EXT-X-STREAM-INF"), "{master}");
    let keys = s3.keys();
    assert!(
        keys.contains(&format!("lectures/{lecture}/v{job}/master.m3u8")),
        "{keys:?}"
    );
    let rung = master.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let base = format!("/media/lectures/{lecture}/v{job}/");
    let playlist = b.get_text(&org_a, &format!("{base}{rung}")).await;
    let segment = playlist
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    let rung_dir = rung.rsplit_once('/').map_or("", |(d, _)| d);
    let r = org_a
        .get(b.url(&format!("{base}{rung_dir}/{segment}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().len() > 1000);
}

/// The worker that holds (or last held) `job`.
async fn job_worker(app: &TestApp, job: i64) -> String {
    sqlx::query_scalar::<_, String>("SELECT worker FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&app.pool().await)
        .await
        .unwrap()
}

/// The process id in a worker id (`host:pid:random`).
fn worker_pid(worker: &str) -> u32 {
    worker.split(':').nth(1).unwrap().parse().unwrap()
}
