//! The in-app inbox: every change an enterprise must hear about lands in its inbox once, in
//! the transaction of the change (a refused or rolled-back change stores nothing); the bell
//! on every page counts the unread; only the owner reads and marks its notifications; the
//! preferences round-trip and refuse unknown kinds in Chinese.

use crate::helpers::{problem, TestApp};
use chrono::{DateTime, Utc};
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

/// A program with one session of `capacity` seats, 33 days from now at 10:00 Beijing time;
/// returns the session id and its start.
async fn session_with(app: &TestApp, org: &Client, capacity: i64) -> (i64, DateTime<Utc>) {
    let start = Utc::now().date_naive() + chrono::Duration::days(30);
    let end = start + chrono::Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "通知测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let starts_at = format!("{}T10:00:00+08:00", start + chrono::Duration::days(3));
    let r = app
        .add_session(
            org,
            pid,
            &json!({
                "title": "劳动用工合规", "category": "劳动用工",
                "lecturer": {"name": "通知律师", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": capacity, "starts_at": starts_at,
            }),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let at = DateTime::parse_from_rfc3339(&starts_at).unwrap().to_utc();
    (id, at)
}

/// `c`'s inbox as the API shows it.
async fn inbox(app: &TestApp, c: &Client) -> Value {
    let r = c
        .get(app.url("/api/v1/notifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The kinds in `c`'s inbox, newest first.
async fn kinds(app: &TestApp, c: &Client) -> Vec<String> {
    inbox(app, c).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The newest notification of `kind` in `c`'s inbox.
async fn newest(app: &TestApp, c: &Client, kind: &str) -> Value {
    let all = inbox(app, c).await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} in {all}"))
}

/// The number in the header's bell on `path` (0 when there is none).
async fn bell(app: &TestApp, c: &Client, path: &str) -> u32 {
    let html = app.get_text(c, path).await;
    assert!(
        html.contains("href=\"/me/notifications\""),
        "no bell on {path}"
    );
    let Some(at) = html.find("class=\"bell-count\"") else {
        return 0;
    };
    let rest = &html[at..];
    let digits: String = rest
        .split("</span>")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

async fn mark_read(app: &TestApp, c: &Client, id: i64) -> StatusCode {
    c.post(app.url(&format!("/api/v1/notifications/{id}/read")))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_promotion_reaches_the_promoted_enterprise_and_only_it() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (sid, _) = session_with(&app, &org, 1).await;
    let (a, _) = app.register_enterprise(1).await;
    let (b, _) = app.register_enterprise(2).await;
    assert_eq!(app.sign_up(&a, sid, 1).await.0, StatusCode::CREATED);
    assert_eq!(app.sign_up(&b, sid, 1).await.0, StatusCode::CREATED);
    // a repeated sign-up changes nothing and tells nothing
    assert_eq!(app.sign_up(&b, sid, 1).await.0, StatusCode::OK);
    assert_eq!(kinds(&app, &b).await, ["signup_waitlisted"]);
    assert!(newest(&app, &b, "signup_waitlisted").await["body"]
        .as_str()
        .unwrap()
        .contains("候补名单第 1 位"));

    // A withdraws: B is promoted and told; A, who withdrew itself, is told nothing new
    assert_eq!(app.cancel_sign_up(&a, sid).await, StatusCode::NO_CONTENT);
    assert_eq!(kinds(&app, &b).await, ["promoted", "signup_waitlisted"]);
    assert_eq!(kinds(&app, &a).await, ["signup_confirmed"]);
    let promoted = newest(&app, &b, "promoted").await;
    assert_eq!(promoted["link"], format!("/sessions/{sid}"));
    assert!(promoted["title"].as_str().unwrap().contains("候补转正"));
    assert_eq!(promoted["read_at"], Value::Null);
    let page = inbox(&app, &b).await;
    assert_eq!(page["unread"], 2);
    assert_eq!(page["next_before"], Value::Null);

    // the bell on any page counts B's unread notifications
    assert_eq!(bell(&app, &b, "/").await, 2);
    assert_eq!(bell(&app, &b, "/programs").await, 2);

    // A can neither see nor mark B's notification
    let id = promoted["id"].as_i64().unwrap();
    assert_eq!(mark_read(&app, &a, id).await, StatusCode::NOT_FOUND);
    let r = a
        .post(app.url(&format!("/api/v1/notifications/{id}/read")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await["code"], "not_found");
    let token = app.csrf_token(&a, "/me/notifications").await;
    let r = a
        .post(app.url(&format!("/me/notifications/{id}/open")))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!app
        .get_text(&a, "/me/notifications")
        .await
        .contains("候补转正"));
    assert_eq!(inbox(&app, &b).await["unread"], 2);

    // B marks it read (twice is harmless); the bell follows
    assert_eq!(mark_read(&app, &b, id).await, StatusCode::NO_CONTENT);
    let read_at = newest(&app, &b, "promoted").await["read_at"].clone();
    assert!(read_at.is_string());
    assert_eq!(mark_read(&app, &b, id).await, StatusCode::NO_CONTENT);
    assert_eq!(newest(&app, &b, "promoted").await["read_at"], read_at);
    assert_eq!(bell(&app, &b, "/").await, 1);

    // opening an entry on the page marks it read and follows its link
    let waitlisted = newest(&app, &b, "signup_waitlisted").await["id"]
        .as_i64()
        .unwrap();
    let page = app.get_text(&b, "/me/notifications").await;
    assert!(page.contains("class=\"unread\""));
    assert!(page.contains("全部标为已读"));
    // the bell is the current entry of the navigation, not 我的课程
    assert!(page.contains("href=\"/me/notifications\" aria-current=\"page\""));
    assert!(!page.contains("href=\"/me\" aria-current"));
    let token = app.csrf_token(&b, "/me/notifications").await;
    let r = b
        .post(app.url(&format!("/me/notifications/{waitlisted}/open")))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/sessions/{sid}"));
    assert_eq!(bell(&app, &b, "/").await, 0);
    // without the CSRF token the form is refused
    let r = b
        .post(app.url(&format!("/me/notifications/{waitlisted}/open")))
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // anonymous visitors have no inbox and no bell
    let anon = app.anonymous();
    let r = anon
        .get(app.url("/api/v1/notifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!app
        .get_text(&anon, "/")
        .await
        .contains("href=\"/me/notifications\""));
}

#[tokio::test]
async fn read_all_paging_and_limits() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (c, _) = app.register_enterprise(3).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (sid, _) = session_with(&app, &org, 5).await;
        assert_eq!(app.sign_up(&c, sid, 1).await.0, StatusCode::CREATED);
        sessions.push(sid);
    }
    let r = c
        .get(app.url("/api/v1/notifications?limit=2"))
        .send()
        .await
        .unwrap();
    let first: Value = r.json().await.unwrap();
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["link"], format!("/sessions/{}", sessions[2]));
    let next = first["next_before"].as_i64().unwrap();
    assert_eq!(next, items[1]["id"].as_i64().unwrap());
    let second: Value = app
        .get_json(&c, &format!("/api/v1/notifications?limit=2&before={next}"))
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_before"], Value::Null);
    assert_eq!(second["unread"], 3);

    for bad in ["limit=0", "limit=101"] {
        let r = c
            .get(app.url(&format!("/api/v1/notifications?{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let p = problem(r).await;
        assert_eq!(p["errors"][0]["field"], "limit");
    }

    let r = c
        .post(app.url("/api/v1/notifications/read-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(inbox(&app, &c).await["unread"], 0);
    assert_eq!(bell(&app, &c, "/me").await, 0);
}

#[tokio::test]
async fn preferences_round_trip_and_refuse_unknown_kinds() {
    let app = TestApp::spawn().await;
    let (c, _) = app.register_enterprise(4).await;
    let prefs: Value = app
        .get_json(&c, "/api/v1/me/notification-preferences")
        .await;
    let items = prefs["items"].as_array().unwrap();
    assert_eq!(items.len(), pufa::notify::Kind::ALL.len());
    let find = |p: &Value, kind: &str| {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == kind)
            .cloned()
            .unwrap()
    };
    let reminder = find(&prefs, "reminder");
    assert_eq!(reminder["label"], "开课提醒");
    assert_eq!(
        (&reminder["email"], &reminder["sms"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(find(&prefs, "session_message")["sms"], false);
    assert_eq!(
        prefs["contacts"],
        json!({"email": {"value": null, "verified": false},
               "mobile": {"value": null, "verified": false}})
    );

    let put = |body: Value| {
        let c = c.clone();
        let url = app.url("/api/v1/me/notification-preferences");
        async move { c.put(url).json(&body).send().await.unwrap() }
    };
    let r = put(
        json!({"items": [{"kind": "reminder", "email": false, "sms": true},
                                   {"kind": "session_message", "email": true, "sms": true}]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(find(&saved, "reminder")["email"], false);
    assert_eq!(find(&saved, "session_message")["sms"], true);
    let again: Value = app
        .get_json(&c, "/api/v1/me/notification-preferences")
        .await;
    assert_eq!(again, saved);

    // an unknown kind is a 422 in Chinese, and nothing of the request is saved
    let r = put(
        json!({"items": [{"kind": "reminder", "email": true, "sms": true},
                                   {"kind": "spam", "email": true, "sms": false}]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    assert_eq!(p["code"], "validation_failed");
    assert_eq!(p["errors"][0]["field"], "items[1].kind");
    assert!(p["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("未知的通知类型"));
    let unchanged: Value = app
        .get_json(&c, "/api/v1/me/notification-preferences")
        .await;
    assert_eq!(unchanged, saved);
    // a field of the wrong type is the JSON extractor's 400
    let r = put(json!({"items": [{"kind": "reminder", "email": "yes", "sms": true}]})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // the settings page shows the grid, says the contacts are missing and saves the form
    let page = app.get_text(&c, "/me/notifications/settings").await;
    assert!(page.contains("name=\"reminder.sms\""));
    assert!(page.contains("href=\"/me/contacts\""));
    assert!(page.contains("您还没有设置接收通知的电子邮箱"));
    let token = app.csrf_token(&c, "/me/notifications/settings").await;
    let r = c
        .post(app.url("/me/notifications/settings"))
        .form(&[("csrf", token.as_str()), ("promoted.email", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after: Value = app
        .get_json(&c, "/api/v1/me/notification-preferences")
        .await;
    assert_eq!(
        (
            &find(&after, "promoted")["email"],
            &find(&after, "promoted")["sms"]
        ),
        (&json!(true), &json!(false))
    );
    assert_eq!(find(&after, "reminder")["email"], false);
    let page = app
        .get_text(&c, "/me/notifications/settings?notice=saved")
        .await;
    assert!(page.contains("通知设置已保存"));
}

#[tokio::test]
async fn moves_cancellations_and_removals_are_told_to_registrants() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (sid, before) = session_with(&app, &org, 2).await;
    let (a, _) = app.register_enterprise(5).await;
    let (b, _) = app.register_enterprise(6).await;
    let (c, _) = app.register_enterprise(7).await;
    assert_eq!(app.sign_up(&a, sid, 2).await.0, StatusCode::CREATED);
    assert_eq!(app.sign_up(&b, sid, 1).await.0, StatusCode::CREATED);

    // a change the database refuses stores nothing: capacity below the confirmed seats
    let later = before + chrono::Duration::hours(5);
    let r = app
        .update_session(
            &org,
            sid,
            &json!({"capacity": 1, "starts_at": later.to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "capacity_below_confirmed");
    assert_eq!(kinds(&app, &a).await, ["signup_confirmed"]);

    // the move is told to the confirmed and the waitlisted, with the old and the new time
    let r = app
        .update_session(&org, sid, &json!({"starts_at": later.to_rfc3339()}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let tz = chrono_tz::Asia::Shanghai;
    for who in [&a, &b] {
        let moved = newest(&app, who, "session_moved").await;
        let body = moved["body"].as_str().unwrap();
        assert!(
            body.contains(&pufa::schedule::datetime_zh(&before, tz)),
            "{body}"
        );
        assert!(
            body.contains(&pufa::schedule::datetime_zh(&later, tz)),
            "{body}"
        );
    }
    // saving again without a new time tells nothing more
    let r = app
        .update_session(&org, sid, &json!({"summary": "补充说明"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(kinds(&app, &a).await, ["session_moved", "signup_confirmed"]);

    // a removal by the organizer carries its reason; the waitlist head is promoted
    let roster = app.roster(&org, sid).await;
    let a_id = roster.iter().find(|r| r["status"] == "confirmed").unwrap()["enterprise_id"]
        .as_i64()
        .unwrap();
    let r = org
        .post(app.url(&format!(
            "/api/v1/sessions/{sid}/registrations/{a_id}/removal"
        )))
        .json(&json!({"reason": "重复报名"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let removed = newest(&app, &a, "removed").await;
    assert!(removed["body"].as_str().unwrap().contains("原因：重复报名"));
    assert_eq!(
        kinds(&app, &b).await,
        ["promoted", "session_moved", "signup_waitlisted"]
    );

    // cancelled: the active registrants are told; the removed one is not told again
    let r = app.cancel_session(&org, sid).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        kinds(&app, &b).await,
        [
            "session_cancelled",
            "promoted",
            "session_moved",
            "signup_waitlisted"
        ]
    );
    assert_eq!(
        kinds(&app, &a).await,
        ["removed", "session_moved", "signup_confirmed"]
    );
    // cancelling again changes nothing and tells nothing
    app.cancel_session(&org, sid).await;
    assert_eq!(kinds(&app, &b).await.len(), 4);

    // a sign-up refused for the cancelled session stores no notification
    let (status, _) = app.sign_up(&c, sid, 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(kinds(&app, &c).await.is_empty());
}

/// Answers choosing the first (safest) option of every item that applies to industry E.
async fn safe_answers(app: &TestApp) -> Map<String, Value> {
    let q: Value = app
        .get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await;
    q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| match i["applies_to"]["industries"].as_array() {
            Some(list) => list.iter().any(|x| x == "E"),
            None => true,
        })
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["options"][0]["id"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_submitted_check_up_tells_its_enterprise() {
    let app = TestApp::spawn().await;
    let (c, _) = app.register_enterprise(8).await;
    let (other, _) = app.register_enterprise(9).await;
    c.post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap();
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": safe_answers(&app).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    let level = match report["overall_level"].as_str().unwrap() {
        "low" => "低",
        "medium" => "中",
        _ => "高",
    };
    let ready = newest(&app, &c, "checkup_ready").await;
    assert_eq!(
        ready["link"],
        format!("/checkup/reports/{}", report["report_id"])
    );
    assert!(ready["body"]
        .as_str()
        .unwrap()
        .contains(&format!("总体风险等级：{level}")));
    assert!(kinds(&app, &other).await.is_empty());
}

#[tokio::test]
async fn a_published_recording_is_told_to_the_sessions_registrants() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (sid, _) = session_with(&app, &org, 1).await;
    let (a, _) = app.register_enterprise(10).await;
    let (b, _) = app.register_enterprise(11).await;
    let (outsider, _) = app.register_enterprise(12).await;
    assert_eq!(app.sign_up(&a, sid, 1).await.0, StatusCode::CREATED);
    assert_eq!(app.sign_up(&b, sid, 1).await.0, StatusCode::CREATED);

    let clip = app.dir.join("clip.mp4");
    generate_clip(&ClipSpec::new(320, 180, 10, 2.0), &clip).unwrap();
    let r = app.upload(&org, sid, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // nothing is told before the version is published
    assert!(!kinds(&app, &a)
        .await
        .contains(&"recording_published".into()));
    assert_eq!(app.drain_jobs().await, 1);
    for who in [&a, &b] {
        let n = newest(&app, who, "recording_published").await;
        assert!(n["title"].as_str().unwrap().contains("回放已上线"));
        assert_eq!(n["link"], format!("/sessions/{sid}"));
    }
    assert!(kinds(&app, &outsider).await.is_empty());

    // a second recording replaces the first: registrants already know there is one
    let r = app.upload(&org, sid, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(app.drain_jobs().await, 1);
    let published = kinds(&app, &a)
        .await
        .into_iter()
        .filter(|k| k == "recording_published")
        .count();
    assert_eq!(published, 1);
}

#[tokio::test]
async fn a_sign_up_that_walks_the_queue_hears_it_is_confirmed_and_raises_promote() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (sid, _) = session_with(&app, &org, 3).await;
    let (a, _) = app.register_enterprise(13).await;
    let (b, _) = app.register_enterprise(14).await;
    let (c, _) = app.register_enterprise(15).await;
    assert_eq!(app.sign_up(&a, sid, 2).await.1["status"], "confirmed");
    // two seats do not fit into the one left: B waits at the head
    assert_eq!(app.sign_up(&b, sid, 2).await.1["status"], "waitlisted");
    // one seat fits behind it: C gets it at once and is told it signed up, not promoted
    assert_eq!(app.sign_up(&c, sid, 1).await.1["status"], "confirmed");
    assert_eq!(kinds(&app, &c).await, ["signup_confirmed"]);
    assert_eq!(kinds(&app, &b).await, ["signup_waitlisted"]);

    // the organizer raises the capacity: B is promoted in the same transaction and told
    let r = app.update_session(&org, sid, &json!({"capacity": 5})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(kinds(&app, &b).await, ["promoted", "signup_waitlisted"]);
    // the start did not move: nobody hears of a move
    assert_eq!(kinds(&app, &a).await, ["signup_confirmed"]);
}

#[tokio::test]
async fn the_scheduler_placing_a_session_tells_who_signed_up_for_it() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let start = Utc::now().date_naive() + chrono::Duration::days(30);
    let end = start + chrono::Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "排课通知项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .add_session(
            &org,
            pid,
            &json!({
                "title": "合同审查", "category": "合同管理",
                "lecturer": {"name": "排课律师", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": 10,
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (c, _) = app.register_enterprise(16).await;
    assert_eq!(app.sign_up(&c, sid, 1).await.0, StatusCode::CREATED);

    let r = org
        .post(app.url(&format!("/api/v1/programs/{pid}/schedule")))
        .json(&json!({"apply": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["applied"], true);
    let session: Value = app
        .get_json(&app.anonymous(), &format!("/api/v1/programs/{pid}"))
        .await;
    let starts_at = session["sessions"][0]["starts_at"].as_str().unwrap();
    let at = DateTime::parse_from_rfc3339(starts_at).unwrap().to_utc();
    let moved = newest(&app, &c, "session_moved").await;
    let body = moved["body"].as_str().unwrap();
    assert!(body.contains("原时间：时间待定"), "{body}");
    assert!(
        body.contains(&pufa::schedule::datetime_zh(&at, chrono_tz::Asia::Shanghai)),
        "{body}"
    );
}
