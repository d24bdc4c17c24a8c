//! Captions and chapters (issue 17): an organizer uploads SRT (GBK-encoded, as Chinese tools
//! save it) and WebVTT files for a lecture; broken files are refused with the line at fault;
//! the master playlist lists a Chinese `SUBTITLES` rendition whose playlist and WebVTT file are
//! served with the lecture's access rule; chapters appear on the player page; the form shows
//! its error beside it; removal takes the rendition away.

use crate::helpers::{master_playlist, problem, TestApp};
use crate::media::six_second_lecture;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

async fn post_captions(
    app: &TestApp,
    c: &Client,
    lecture: i64,
    kind: &str,
    name: &str,
    bytes: Vec<u8>,
    csrf: Option<&str>,
) -> Response {
    let mut req = c
        .post(app.url(&format!("/api/v1/lectures/{lecture}/captions")))
        .multipart(
            Form::new()
                .text("kind", kind.to_string())
                .part("file", Part::bytes(bytes).file_name(name.to_string())),
        );
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    req.send().await.expect("caption upload")
}

/// The first field message of a 422 problem.
async fn field_message(r: Response) -> String {
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    p["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `rel` resolved against the playlist at `base`.
fn beside(base: &str, rel: &str) -> String {
    format!("{}/{rel}", &base[..base.rfind('/').expect("slash")])
}

#[tokio::test]
async fn captions_become_an_hls_subtitle_rendition_and_chapters_a_list() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let lecture = six_second_lecture(&app, &org, session).await;
    let token = app.csrf_token(&org, "/").await;
    let csrf = Some(token.as_str());

    // broken files: each refused with the line at fault, nothing stored
    let bad = "1\n00:00:01,000 --> 00:00:02,000\n开场\n\n2\n00:00:03 --> 00:00:04,000\n第二条\n";
    let r = post_captions(
        &app,
        &org,
        lecture,
        "subtitles",
        "bad.srt",
        bad.into(),
        csrf,
    )
    .await;
    let msg = field_message(r).await;
    assert!(
        msg.starts_with("第 6 行：") && msg.contains("00:00:03"),
        "{msg}"
    );
    let late = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n开场\n\n00:01:30.000 --> 00:01:31.000\n别的课程\n";
    let r = post_captions(
        &app,
        &org,
        lecture,
        "subtitles",
        "late.vtt",
        late.into(),
        csrf,
    )
    .await;
    let msg = field_message(r).await;
    assert!(
        msg.starts_with("第 6 行：") && msg.contains("超出了课程时长"),
        "{msg}"
    );
    let r = post_captions(&app, &org, lecture, "lyrics", "a.vtt", late.into(), csrf).await;
    assert!(field_message(r).await.contains("字幕"));

    // who may upload: not anonymous, not an enterprise, not without the CSRF token
    let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\n各位企业家，<i>大家好</i>\r\n\r\n2\r\n00:00:03,000 --> 00:00:05,000\r\n劳动合同 & 社保\r\n";
    let (gbk, _, _) = encoding_rs::GB18030.encode(srt);
    let r = post_captions(
        &app,
        &app.anonymous(),
        lecture,
        "subtitles",
        "a.srt",
        gbk.to_vec(),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (ent, _) = app.register_enterprise(1).await;
    let ent_token = app.csrf_token(&ent, "/").await;
    let r = post_captions(
        &app,
        &ent,
        lecture,
        "subtitles",
        "a.srt",
        gbk.to_vec(),
        Some(&ent_token),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_captions(
        &app,
        &org,
        lecture,
        "subtitles",
        "a.srt",
        gbk.to_vec(),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // before any captions the master playlist has no subtitle rendition
    let page = app.get_text(&org, &format!("/lectures/{lecture}")).await;
    let master_path = master_playlist(&page);
    let master = app.get_text(&org, &master_path).await;
    assert!(!master.contains("SUBTITLES"), "{master}");
    assert!(!page.contains("id=\"cc\""));

    // a GBK-encoded SRT file is stored as WebVTT
    let r = post_captions(
        &app,
        &org,
        lecture,
        "subtitles",
        "lecture.srt",
        gbk.to_vec(),
        csrf,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["kind"], "subtitles");
    assert_eq!(stored["cues"], 2);
    assert_eq!(stored["source_format"], "srt");
    assert_eq!(stored["language"], "zh");

    let r = org.get(app.url(&master_path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    let master = r.text().await.unwrap();
    let media: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES"))
        .collect();
    assert_eq!(media.len(), 1, "{master}");
    assert!(media[0].contains("GROUP-ID=\"subs\"") && media[0].contains("LANGUAGE=\"zh\""));
    assert!(media[0].contains("URI=\"subs/zh.m3u8\""), "{master}");
    let variants: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    assert!(!variants.is_empty());
    assert!(
        variants.iter().all(|v| v.contains("SUBTITLES=\"subs\"")),
        "{master}"
    );

    let subs_path = beside(&master_path, "subs/zh.m3u8");
    let subs = app.get_text(&org, &subs_path).await;
    assert!(
        subs.contains("#EXT-X-PLAYLIST-TYPE:VOD") && subs.contains("\nzh.vtt\n"),
        "{subs}"
    );
    assert!(subs.trim_end().ends_with("#EXT-X-ENDLIST"));
    let vtt_path = beside(&subs_path, "zh.vtt");
    let r = org.get(app.url(&vtt_path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vtt"));
    let vtt = r.text().await.unwrap();
    assert!(
        vtt.starts_with("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n各位企业家，大家好\n"),
        "{vtt}"
    );
    assert!(vtt.contains("劳动合同 &amp; 社保"), "{vtt}");

    // the lecture is for registered accounts: its captions too
    let r = app
        .anonymous()
        .get(app.url(&vtt_path))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .anonymous()
        .get(app.url(&subs_path))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // an enterprise that may watch gets them
    assert_eq!(app.get_text(&ent, &vtt_path).await, vtt);
    // only the published version has them
    let other = vtt_path.replacen("/v", "/v9", 1);
    let r = org.get(app.url(&other)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // chapters: WebVTT, one title per cue; the page lists them and marks the timeline
    let chapters = "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n开场与案例\n\n00:00:03.000 --> 00:00:06.000\n劳动合同要点\n";
    let r = post_captions(
        &app,
        &org,
        lecture,
        "chapters",
        "chapters.vtt",
        chapters.into(),
        csrf,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = app.get_text(&ent, &format!("/lectures/{lecture}")).await;
    assert!(
        page.contains("id=\"cc\""),
        "the player offers its 字幕 button"
    );
    assert!(page.contains("<span class=\"chapter-at\">0:03</span><span>劳动合同要点</span>"));
    assert_eq!(page.matches("class=\"chapter-mark\"").count(), 2);
    assert!(
        page.contains("x=\"500\""),
        "the second marker halfway along"
    );
    // the enterprise does not see the captions form
    assert!(!page.contains("id=\"captions\""));

    // the page's form: a broken file is shown beside the form (422), a good one redirects
    let html = org
        .post(app.url(&format!("/lectures/{lecture}/captions")))
        .multipart(
            Form::new()
                .text("csrf", token.clone())
                .text("kind", "chapters")
                .part(
                    "file",
                    Part::bytes(bad.as_bytes().to_vec()).file_name("bad.srt"),
                ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = html.text().await.unwrap();
    assert!(
        body.contains("id=\"captions-error\"") && body.contains("第 6 行："),
        "{body}"
    );
    assert!(body.contains("aria-describedby=\"captions-error\""));
    let ok = org
        .post(app.url(&format!("/lectures/{lecture}/captions")))
        .multipart(
            Form::new()
                .text("csrf", token.clone())
                .text("kind", "chapters")
                .part(
                    "file",
                    Part::bytes(chapters.as_bytes().to_vec()).file_name("c.vtt"),
                ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let to = ok.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        to,
        format!("/lectures/{lecture}?notice=captions_saved#captions")
    );
    let page = app.get_text(&org, &to).await;
    assert!(
        page.contains("已保存") && page.contains("章节：2 个"),
        "{page}"
    );

    // every change is in the audit log
    let audit = app.get_text(&org, "/admin/audit").await;
    assert!(audit.contains("更改字幕或章节"));

    // removal: the rendition is gone, the files too
    let r = org
        .delete(app.url(&format!("/api/v1/lectures/{lecture}/captions/subtitles")))
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let master = app.get_text(&org, &master_path).await;
    assert!(!master.contains("SUBTITLES"), "{master}");
    let r = org.get(app.url(&vtt_path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = org
        .delete(app.url(&format!("/api/v1/lectures/{lecture}/captions/subtitles")))
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
