//! Safe, visible state changes (issue 17): 取消报名, 取消此课程 and 移除 ask first — a form
//! without `confirm=yes` changes nothing and shows what would happen —, a cancelled sign-up can
//! be undone from 我的, and an enterprise sees that it was removed, and why.

use crate::helpers::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// The roster entry of the enterprise with credit code `uscc`, if it is still signed up.
async fn entry(app: &TestApp, org: &Client, session: i64, uscc: &str) -> Option<Value> {
    app.roster(org, session)
        .await
        .into_iter()
        .find(|r| r["uscc"] == uscc && (r["status"] == "confirmed" || r["status"] == "waitlisted"))
}

/// Where a 303 answer points.
fn location(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn post_form(
    app: &TestApp,
    c: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.csrf_token(c, "/").await;
    let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    c.post(app.url(path)).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn cancelling_a_sign_up_asks_first_and_can_be_undone() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (ent, uscc) = app.register_enterprise(51).await;
    let r = ent
        .post(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .json(&json!({"seats": 2, "attendees": ["示例甲", "示例乙"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // 我的 and the session page link the confirmation, not a one-click form
    let me = app.get_text(&ent, "/me").await;
    assert!(
        me.contains(&format!("href=\"/sessions/{session}/cancel\"")),
        "{me}"
    );
    let page = app
        .get_text(&ent, &format!("/sessions/{session}/cancel"))
        .await;
    assert!(page.contains("取消报名？") && page.contains("确认取消报名"));
    assert!(page.contains("您的 2 个名额将立即让给候补企业"), "{page}");

    // a form without the confirmation changes nothing and lands on the question
    let r = post_form(&app, &ent, &format!("/sessions/{session}/cancel"), &[]).await;
    assert_eq!(location(&r), format!("/sessions/{session}/cancel"));
    assert!(entry(&app, &org, session, &uscc).await.is_some());

    // confirmed: cancelled, and 我的 offers the undo with the same seats and names
    let r = post_form(
        &app,
        &ent,
        &format!("/sessions/{session}/cancel"),
        &[("confirm", "yes")],
    )
    .await;
    let to = location(&r);
    assert_eq!(to, format!("/me?notice=cancelled&session={session}"));
    let me = app.get_text(&ent, &to).await;
    assert!(entry(&app, &org, session, &uscc).await.is_none());
    assert!(me.contains("撤销，重新报名"), "{me}");
    assert!(me.contains("name=\"seats\" value=\"2\""));
    assert!(me.contains("示例甲、示例乙"));

    // the undo signs up again under the normal rules
    let r = post_form(
        &app,
        &ent,
        &format!("/sessions/{session}/signup"),
        &[("seats", "2"), ("attendees", "示例甲、示例乙")],
    )
    .await;
    assert_eq!(
        location(&r),
        format!("/sessions/{session}?notice=confirmed")
    );
    let again = entry(&app, &org, session, &uscc)
        .await
        .expect("signed up again");
    assert_eq!(again["status"], "confirmed");
    assert_eq!(again["attendees"], json!(["示例甲", "示例乙"]));
    // the undo is offered only right after the cancellation
    assert!(!app.get_text(&ent, "/me").await.contains("撤销，重新报名"));
    app.stop().await;
}

#[tokio::test]
async fn cancelling_a_session_asks_first() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let status = async || {
        let all = app.demo_sessions(&org).await;
        let s = all
            .iter()
            .find(|s| s["id"] == session)
            .expect("the session");
        s["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status().await, "scheduled");

    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(page.contains(&format!("href=\"/admin/sessions/{session}/cancel\"")));
    let r = post_form(
        &app,
        &org,
        &format!("/admin/sessions/{session}/cancel"),
        &[],
    )
    .await;
    let to = location(&r);
    assert_eq!(to, format!("/admin/sessions/{session}/cancel"));
    let question = app.get_text(&org, &to).await;
    assert!(question.contains("取消此课程？") && question.contains("收到课程取消的通知"));
    assert_eq!(status().await, "scheduled", "nothing changed");

    let r = post_form(
        &app,
        &org,
        &format!("/admin/sessions/{session}/cancel"),
        &[("confirm", "yes")],
    )
    .await;
    assert!(location(&r).starts_with("/admin/programs/"));
    assert_eq!(status().await, "cancelled");
    // an enterprise cannot cancel a session, confirmed or not
    let (ent, _) = app.register_enterprise(52).await;
    let r = post_form(
        &app,
        &ent,
        &format!("/admin/sessions/{session}/cancel"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn a_removal_asks_first_and_the_enterprise_sees_why() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (ent, uscc) = app.register_enterprise(53).await;
    let (status, _) = app.sign_up(&ent, session, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let enterprise_id = entry(&app, &org, session, &uscc).await.unwrap()["enterprise_id"]
        .as_i64()
        .unwrap()
        .to_string();
    let path = format!("/sessions/{session}/removal");
    let reason = "示例原因：同一企业重复报名";

    // no reason: refused, nothing changes
    let r = post_form(
        &app,
        &org,
        &path,
        &[("enterprise_id", &enterprise_id), ("reason", " ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // with a reason: the question, naming the enterprise and the reason; nothing changes
    let r = post_form(
        &app,
        &org,
        &path,
        &[("enterprise_id", &enterprise_id), ("reason", reason)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let question = r.text().await.unwrap();
    assert!(question.contains("移除该企业的报名？") && question.contains("示例企业53有限公司"));
    assert!(question.contains(reason) && question.contains("确认移除"));
    assert!(entry(&app, &org, session, &uscc).await.is_some());
    // only organizers get that far
    let r = post_form(
        &app,
        &ent,
        &path,
        &[("enterprise_id", &enterprise_id), ("reason", reason)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = post_form(
        &app,
        &org,
        &path,
        &[
            ("enterprise_id", &enterprise_id),
            ("reason", reason),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(
        location(&r),
        format!("/sessions/{session}/roster?notice=removed")
    );
    assert!(entry(&app, &org, session, &uscc).await.is_none());

    // the enterprise sees the removal and the reason on 我的 and on the session page
    let me = app.get_text(&ent, "/me").await;
    assert!(
        me.contains("的报名已被组织方移除") && me.contains(reason),
        "{me}"
    );
    let page = app.get_text(&ent, &format!("/sessions/{session}")).await;
    assert!(
        page.contains("您的报名已被组织方移除") && page.contains(reason),
        "{page}"
    );
    // signing up again clears it
    let (status, _) = app.sign_up(&ent, session, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!app.get_text(&ent, "/me").await.contains("已被组织方移除"));
    app.stop().await;
}

/// A recording is refused (409, nothing kept) for a cancelled session and while an earlier
/// recording of the same session waits for or is in transcoding; the page disables the form
/// and says why.
#[tokio::test]
async fn uploads_wait_for_the_running_transcode_and_never_go_to_a_cancelled_session() {
    use pufa::media::testsrc::{generate_clip, ClipSpec};
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sessions = app.demo_session_ids(&org).await;
    let (session, other) = (sessions[0], sessions[1]);
    let clip = app.dir.join("short.mp4");
    generate_clip(&ClipSpec::new(320, 180, 25, 2.0), &clip).unwrap();
    let uploads = || std::fs::read_dir(app.dir.join("media/uploads")).map_or(0, |d| d.count());

    // the first upload is queued (no worker runs in tests); a second one waits for it
    let r = app.upload(&org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let kept = uploads();
    let r = app.upload(&org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "transcode_running");
    assert!(problem["detail"].as_str().unwrap().contains("正在转码"));
    assert_eq!(uploads(), kept, "the refused file is not kept");
    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(page.contains("转码完成后才能上传新的录像"));
    assert!(page.contains("disabled aria-describedby=\"upload-blocked\""));
    // once it is done, uploading is open again
    assert_eq!(app.drain_jobs().await, 1);
    let page = app
        .get_text(&org, &format!("/admin/sessions/{session}"))
        .await;
    assert!(!page.contains("upload-blocked"));

    // a cancelled session takes no recording
    let r = post_form(
        &app,
        &org,
        &format!("/admin/sessions/{other}/cancel"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app.upload(&org, other, &clip).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "session_cancelled"
    );
    let page = app
        .get_text(&org, &format!("/admin/sessions/{other}"))
        .await;
    assert!(page.contains("本课程已取消，不能上传录像"));
    app.stop().await;
}
