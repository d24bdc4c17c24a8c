//! The audit log of organizer actions: written by the use cases, read on `/admin/audit`
//! (filters, paging) and exported as CSV, without personal data.

use crate::helpers::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn a_removal_and_a_cancellation_show_on_the_audit_page_and_in_the_csv() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sessions = app.demo_session_ids(&org).await;
    let (enterprise, _) = app.register_enterprise(21).await;
    let (status, _) = app.sign_up(&enterprise, sessions[2], 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let rows = app.roster(&org, sessions[2]).await;
    let enterprise_id = rows[0]["enterprise_id"].as_i64().unwrap();
    let r = org
        .post(app.url(&format!(
            "/api/v1/sessions/{}/registrations/{enterprise_id}/removal",
            sessions[2]
        )))
        .json(&json!({"reason": "重复报名"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.cancel_session(&org, sessions[3]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .update_session(&org, sessions[4], &json!({"title": "改过名字的示例课程"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let html = app.get_text(&org, "/admin/audit").await;
    for needle in [
        "移除报名",
        "重复报名",
        "取消课程",
        "修改课程",
        "查看报名名单",
        "admin",
    ] {
        assert!(
            html.contains(needle),
            "{needle} missing from the audit page"
        );
    }
    assert!(html.contains(&format!("课程 #{}", sessions[3])));
    // newest first: the edit comes before the cancellation, which comes before the removal
    let edit = html.find("修改课程").unwrap();
    let cancel = html.find("取消课程</td>").unwrap();
    let removal = html.find("移除报名</td>").unwrap();
    assert!(edit < cancel && cancel < removal, "order");
    // no personal data: the enterprise's mobile is not in the log
    assert!(!html.contains("13900000021"));

    // filter by action
    let only = app
        .get_text(&org, "/admin/audit?action=session.cancelled")
        .await;
    assert!(only.contains("取消课程</td>") && !only.contains("移除报名</td>"));
    // by actor: the organizer's own id
    let me: Value = app.get_json(&org, "/api/v1/me").await;
    let mine = app
        .get_text(&org, &format!("/admin/audit?actor={}&action=", me["id"]))
        .await;
    assert!(mine.contains("移除报名</td>"));
    let nobody = app.get_text(&org, "/admin/audit?actor=999999").await;
    assert!(nobody.contains("没有符合条件的记录"));

    let r = org
        .get(app.url("/admin/audit.csv?action=registration.removed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains("移除报名") && lines[1].contains("重复报名"),
        "{csv}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_audit_page_pages_back_in_time() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sid = app.demo_session_ids(&org).await[0];
    // 60 readings of a roster: more than one page
    for _ in 0..60 {
        app.roster(&org, sid).await;
    }
    let first = app.get_text(&org, "/admin/audit").await;
    assert_eq!(first.matches("查看报名名单</td>").count(), 50);
    let marker = "href=\"/admin/audit?";
    let start = first.find(marker).expect("link to older entries") + marker.len() - 1;
    let end = start + first[start..].find('"').unwrap();
    let next = first[start..end].replace("&amp;", "&");
    let second = app.get_text(&org, &format!("/admin/audit{next}")).await;
    assert_eq!(second.matches("查看报名名单</td>").count(), 10);
    assert!(!second.contains("更早的记录"));
    app.stop().await;
}

#[tokio::test]
async fn an_upload_and_a_visibility_change_are_audited() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sid = app.demo_session_ids(&org).await[5];
    let csrf = app.csrf_token(&org, "/").await;
    let r = org
        .post(app.url(&format!("/admin/sessions/{sid}/visibility")))
        .form(&[("csrf", csrf.as_str()), ("visibility", "public")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // the upload is queued, not transcoded (no worker in tests): enough for the log
    let clip = app.dir.join("not-really-a-video.mp4");
    std::fs::write(&clip, b"audit log test bytes").unwrap();
    let r = app.upload(&org, sid, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    let html = app.get_text(&org, "/admin/audit").await;
    assert!(html.contains("上传录像</td>"), "{html}");
    assert!(html.contains("更改回放公开范围</td>"));
    assert!(
        html.contains("&#34;visibility&#34;:&#34;public&#34;"),
        "{html}"
    );
    let uploads = app
        .get_text(&org, "/admin/audit?action=recording.uploaded")
        .await;
    assert_eq!(uploads.matches("上传录像</td>").count(), 1);
    app.stop().await;
}
