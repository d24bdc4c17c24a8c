//! A live lecture end to end in a real browser (Debian's chromium through chromedriver): the
//! ffmpeg CLI publishes over RTMP, a confirmed enterprise opens the session page, which turns
//! into the live player by itself (from the 即将开始 countdown); the video plays (its
//! `currentTime` advances) under the 直播中 badge. The publisher stops, grace (2 s) runs out,
//! the page says 回放生成中; once the replay job has run, the same page — still without a
//! reload — offers the replay, which has the live's length and plays. Screenshots go to target/tmp/e2e-live.png and
//! target/tmp/e2e-live-replay.png.

use crate::helpers::ChildGuard;
use crate::helpers::{TestApp, ENTERPRISE_PASSWORD};
use crate::live::{live_info, publish, wait_live};
use crate::webdriver::Browser;
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Seconds the publisher streams.
const LIVE_SECONDS: u32 = 14;

/// A program around today and a session starting in 20 minutes (inside its publishing window,
/// which opens 60 minutes before the start).
async fn live_session(app: &TestApp, org: &Client) -> i64 {
    let today = Utc::now().date_naive();
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "直播浏览器测试项目（示例）",
            "starts_on": (today - ChronoDuration::days(1)).to_string(),
            "ends_on": (today + ChronoDuration::days(2)).to_string(),
            "timezone": "Asia/Shanghai",
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let program = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let starts = (Utc::now() + ChronoDuration::minutes(20)).format("%Y-%m-%dT%H:%M:%SZ");
    let r = app
        .add_session(
            org,
            program,
            &json!({"title": "直播：劳动合同常见风险（示例）", "category": "劳动用工",
                    "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                    "minutes": 60, "capacity": 10, "starts_at": starts.to_string()}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// Poll `script` in the page every 250 ms until it returns something other than null/false.
async fn wait_page(browser: &Browser, script: &str, limit: Duration, what: &str) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v = browser.eval(script, vec![]).await;
        if !(v.is_null() || v == Value::Bool(false)) {
            return v;
        }
        if Instant::now() > deadline {
            let text = browser
                .eval(
                    "return document.body ? document.body.innerText.slice(0, 600) : '';",
                    vec![],
                )
                .await;
            panic!("{what} did not happen within {limit:?}; the page says: {text}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Wait for the publisher to finish without blocking the runtime (the server runs on it and
/// must keep reading the publisher's stream).
async fn publisher_exits(child: &mut ChildGuard, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the publisher did not exit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first video's `currentTime`, starting it muted if it is paused (autoplay policy).
const PLAY_AND_TIME: &str = "var v=document.querySelector('video'); if(!v) return null; \
    if(v.paused && v.readyState>=2){v.muted=true; v.play().catch(function(){});} \
    return {t: v.currentTime, d: isFinite(v.duration) ? v.duration : null};";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_watches_a_live_and_then_its_replay_in_chromium() {
    let app = TestApp::spawn_with(|c| {
        c.rtmp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.live_grace = Duration::from_secs(2);
        c.live_part = Some(Duration::from_millis(500));
    })
    .await;
    let org = app.organizer().await;
    let session = live_session(&app, &org).await;
    // a live is for enrolled viewers: a confirmed sign-up
    let (viewer, uscc) = app.register_enterprise(7301).await;
    let (status, reg) = app.sign_up(&viewer, session, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["status"], "confirmed", "{reg}");

    let browser = Browser::start(1280, 900).await;
    browser
        .goto(&app.url(&format!("/login?next=/sessions/{session}")))
        .await;
    browser.fill("#login", &uscc).await;
    browser.fill("#password", ENTERPRISE_PASSWORD).await;
    browser
        .eval("document.querySelector('form.stack').submit();", vec![])
        .await;
    wait_page(
        &browser,
        &format!(
            "return document.readyState === 'complete' && \
             location.pathname === '/sessions/{session}';"
        ),
        Duration::from_secs(15),
        "the session page after login",
    )
    .await;
    // before the publisher connects: the countdown, no live badge
    let before = browser
        .eval("return document.body.innerText;", vec![])
        .await;
    let before = before.as_str().unwrap_or("");
    assert!(before.contains("即将开始"), "no countdown: {before}");
    assert!(
        !before.contains("直播中"),
        "直播中 before any publisher: {before}"
    );

    let rtmp = live_info(&app, &org, session).await["rtmp_url"]
        .as_str()
        .expect("the organizer sees the RTMP URL")
        .to_string();
    let mut publisher = publish(&rtmp, LIVE_SECONDS, "flv");
    wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "live"
    })
    .await;

    // the page turns into the live player by itself, with the badge
    wait_page(
        &browser,
        "return document.body.innerText.indexOf('直播中') >= 0 && !!document.querySelector('video');",
        Duration::from_secs(20),
        "the 直播中 badge and the live player",
    )
    .await;
    let first = wait_page(
        &browser,
        &format!("var r=(function(){{{PLAY_AND_TIME}}})(); return r && r.t > 0.5 ? r : null;"),
        Duration::from_secs(20),
        "the live video playing",
    )
    .await;
    let t0 = first["t"].as_f64().unwrap();
    let later = wait_page(
        &browser,
        &format!(
            "var r=(function(){{{PLAY_AND_TIME}}})(); return r && r.t > {} ? r : null;",
            t0 + 2.0
        ),
        Duration::from_secs(10),
        "the live video advancing by 2 s",
    )
    .await;
    assert!(later["t"].as_f64().unwrap() > t0 + 2.0);
    assert!(
        browser
            .eval("return document.body.innerText;", vec![])
            .await
            .as_str()
            .unwrap()
            .contains("直播中"),
        "the badge stays while live"
    );
    let shot = crate::helpers::screenshot_path("e2e-live.png");
    browser.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000));

    // the publisher ends; after grace the page says the replay is being made
    assert!(publisher_exits(&mut publisher, Duration::from_secs(40))
        .await
        .success());
    wait_live(&app, &org, session, Duration::from_secs(20), |i| {
        i["state"] == "ended"
    })
    .await;
    wait_page(
        &browser,
        "return document.body.innerText.indexOf('回放生成中') >= 0 && \
                document.body.innerText.indexOf('直播中') < 0;",
        Duration::from_secs(15),
        "回放生成中 after the end",
    )
    .await;

    // the replay job (no worker runs in TestApp::spawn) publishes the lecture
    assert_eq!(app.drain_jobs().await, 1);
    let lecture = live_info(&app, &org, session).await["lecture_id"]
        .as_i64()
        .expect("replay published");

    // the page offers the replay without a reload: the recorded player in place, or a link to
    // the lecture page (either visible)
    let offer = wait_page(
        &browser,
        &format!(
            "if (document.body.innerText.indexOf('回放生成中') >= 0) return null; \
             var v=document.querySelector('video[data-lecture=\"{lecture}\"]'); \
             if (v && v.offsetParent) return 'player'; \
             var a=document.querySelector('a[href$=\"/lectures/{lecture}\"]'); \
             return a && a.offsetParent ? 'link' : null;"
        ),
        Duration::from_secs(20),
        "the replay on the session page",
    )
    .await;
    if offer == "link" {
        browser
            .goto(&app.url(&format!("/lectures/{lecture}")))
            .await;
    }
    let start = wait_page(
        &browser,
        &format!("var r=(function(){{{PLAY_AND_TIME}}})(); return r && r.d ? r : null;"),
        Duration::from_secs(20),
        "the replay loading",
    )
    .await;
    let duration = start["d"].as_f64().unwrap();
    assert!(
        (f64::from(LIVE_SECONDS) - 3.0..=f64::from(LIVE_SECONDS) + 1.5).contains(&duration),
        "the replay lasts about the {LIVE_SECONDS} s that were published: {start}"
    );
    // (it may resume where the live viewing left off: attendance is shared)
    let t1 = start["t"].as_f64().unwrap();
    wait_page(
        &browser,
        &format!(
            "var r=(function(){{{PLAY_AND_TIME}}})(); return r && r.t > {} ? r : null;",
            t1 + 1.5
        ),
        Duration::from_secs(20),
        "the replay playing",
    )
    .await;
    browser
        .screenshot(&crate::helpers::screenshot_path("e2e-live-replay.png"))
        .await;
    browser.quit().await;
    app.stop().await;
}
