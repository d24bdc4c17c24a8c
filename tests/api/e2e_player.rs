//! End to end in a real browser (Debian's chromium through chromedriver): an organizer's
//! upload is transcoded, a logged-in enterprise opens the lecture page, the video plays past
//! 2 s, the quality menu lists the rungs, captions show in time with the picture and a chapter
//! seeks. A screenshot is saved to target/tmp/e2e-lecture.png.

use crate::helpers::{valid_uscc, TestApp};
use crate::webdriver::Browser;
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test]
async fn enterprise_watches_a_lecture_in_chromium() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];

    let clip = app.dir.join("lecture.mp4");
    generate_clip(
        &ClipSpec::new(1280, 720, 25, 12.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = app.upload(&org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let lecture = r.json::<Value>().await.unwrap()["lecture_id"]
        .as_i64()
        .unwrap();
    app.drain_jobs().await;
    // captions and chapters for it (tests/api/captions.rs has the rules)
    let token = app.csrf_token(&org, "/").await;
    for (kind, text) in [
        ("subtitles", "1\n00:00:00,500 --> 00:00:06,000\n示例字幕一\n\n2\n00:00:06,000 --> 00:00:11,500\n示例字幕二\n"),
        ("chapters", "WEBVTT\n\n00:00:00.000 --> 00:00:06.000\n开场\n\n00:00:06.000 --> 00:00:12.000\n第二部分\n"),
    ] {
        let r = org
            .post(app.url(&format!("/api/v1/lectures/{lecture}/captions")))
            .header("x-csrf-token", &token)
            .multipart(
                reqwest::multipart::Form::new().text("kind", kind).part(
                    "file",
                    reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("c.srt"),
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    // an enterprise account to log in with
    let r = app
        .post_enterprise(
            &app.client(),
            &json!({"name": "示例浏览器测试企业", "uscc": valid_uscc(4242), "industry": "C",
                    "contact_name": "示例", "mobile": "13912345678", "password": "browser-pass-1",
                    "privacy_consent": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let browser = Browser::start(1280, 900).await;
    browser
        .goto(&app.url(&format!("/login?next=/lectures/{lecture}")))
        .await;
    browser.fill("#login", "13912345678").await;
    browser.fill("#password", "browser-pass-1").await;
    browser
        .eval("document.querySelector('form.stack').submit();", vec![])
        .await;
    // wait for the lecture page and the player's manifest
    let deadline = Instant::now() + Duration::from_secs(30);
    let levels = loop {
        let v = browser
            .eval(
                "var q=document.getElementById('quality'); if(!q) return null; \
                 return Array.from(q.options).map(function(o){return o.textContent;});",
                vec![],
            )
            .await;
        if let Some(list) = v.as_array() {
            if list.len() > 1 && list.iter().any(|o| o == "720p") && browser_ready(&browser).await {
                break list.clone();
            }
        }
        assert!(Instant::now() < deadline, "player did not load: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let names: Vec<&str> = levels.iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(names, vec!["自动", "720p", "480p", "360p"]);

    browser
        .eval(
            "var v=document.getElementById('video'); v.muted=true; v.play();",
            vec![],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut current = 0.0;
    while current <= 2.0 {
        current = browser
            .eval(
                "return document.getElementById('video').currentTime;",
                vec![],
            )
            .await
            .as_f64()
            .unwrap_or(0.0);
        if Instant::now() > deadline {
            let err = browser
                .eval("var v=document.getElementById('video'); return [v.readyState, v.networkState, v.error && v.error.message];", vec![])
                .await;
            panic!("video did not advance past 2 s (at {current}): {err}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // captions: the 字幕 button shows the HLS subtitle rendition, in time with the picture
    browser
        .eval("document.getElementById('cc').click();", vec![])
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let cue = browser
            .eval(
                "var v=document.getElementById('video'); \
                 for (var i=0;i<v.textTracks.length;i++){var t=v.textTracks[i]; \
                   if(t.mode==='showing' && t.activeCues && t.activeCues.length) return t.activeCues[0].text;} \
                 return null;",
                vec![],
            )
            .await;
        if cue.as_str().is_some_and(|t| t.starts_with("示例字幕")) {
            break;
        }
        assert!(Instant::now() < deadline, "no caption showing: {cue}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let pressed = browser
        .eval(
            "return document.getElementById('cc').getAttribute('aria-pressed');",
            vec![],
        )
        .await;
    assert_eq!(pressed, "true");
    // a chapter in the list seeks; the caption follows the picture
    browser
        .eval("document.querySelectorAll('.chapter')[1].click();", vec![])
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = browser
            .eval(
                "var v=document.getElementById('video'); var c=null; \
                 for (var i=0;i<v.textTracks.length;i++){var t=v.textTracks[i]; \
                   if(t.mode==='showing' && t.activeCues && t.activeCues.length) c=t.activeCues[0].text;} \
                 return [v.currentTime, c];",
                vec![],
            )
            .await;
        if v[0].as_f64().unwrap_or(0.0) >= 6.0 && v[1] == "示例字幕二" {
            break;
        }
        assert!(Instant::now() < deadline, "chapter did not seek: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // switch to a fixed quality through the menu and keep playing
    browser
        .eval(
            "var q=document.getElementById('quality'); q.selectedIndex=3; q.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shot = crate::helpers::screenshot_path("e2e-lecture.png");
    browser.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));
    browser.quit().await;
}

async fn browser_ready(b: &Browser) -> bool {
    b.eval("return document.readyState === 'complete';", vec![])
        .await
        .as_bool()
        .unwrap_or(false)
}
