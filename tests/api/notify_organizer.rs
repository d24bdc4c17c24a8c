//! The organizer's side of notifications (issue 12): the deliveries page with its filters and
//! counts, and the message to everyone signed up for a session, which reaches each inbox once
//! even when the confirmation is posted twice. Only organizers get in.
//!
//! Delivery workers and contact verification are other parts of the issue; here contacts are
//! written verified and delivery outcomes are recorded directly in the database, as a worker
//! would record them.

use crate::helpers::TestApp;
use crate::notify_reminders::{app_on_manual_clock, pool, user_id};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::AnyPool;

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect(name) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

/// `POST /admin/sessions/{session}/message` as `c` with `fields` and the CSRF token.
async fn post_message(
    app: &TestApp,
    c: &Client,
    session: i64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let path = format!("/admin/sessions/{session}/message");
    let csrf = app.csrf_token(c, "/").await;
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    c.post(app.url(&path)).form(&form).send().await.unwrap()
}

async fn session_messages(db: &AnyPool, session: i64) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT user_id, body FROM notifications
         WHERE kind = 'session_message' AND session_id = $1 ORDER BY user_id",
    )
    .bind(session)
    .fetch_all(db)
    .await
    .unwrap()
}

fn refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn cards(html: &str) -> usize {
    html.matches("id=\"delivery-").count()
}

#[tokio::test]
async fn only_organizers_see_deliveries_and_send_messages() {
    let (app, _clock) = app_on_manual_clock().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (ent, _) = app.register_enterprise(1).await;
    for path in [
        "/admin/notifications".to_string(),
        format!("/admin/sessions/{session}/message"),
    ] {
        let r = ent.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let r = app.anonymous().get(app.url(&path)).send().await.unwrap();
        assert_ne!(r.status(), StatusCode::OK, "{path}");
        assert!(org
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .status()
            .is_success());
    }
    let r = post_message(
        &app,
        &ent,
        session,
        &[
            ("message_id", "6f1c1d3e-2f0a-4d7e-9a55-0b6c1d2e3f40"),
            ("subject", "x"),
            ("text", "y"),
            ("action", "send"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // and a form without the CSRF token is refused even for the organizer
    let r = org
        .post(app.url(&format!("/admin/sessions/{session}/message")))
        .form(&[("subject", "x"), ("text", "y"), ("action", "send")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // nobody is signed up yet: the preview says so and sending is refused
    let empty = [
        ("message_id", "6f1c1d3e-2f0a-4d7e-9a55-0b6c1d2e3f40"),
        ("subject", "x"),
        ("text", "y"),
    ];
    let preview = [&empty[..], &[("action", "preview")]].concat();
    let html = post_message(&app, &org, session, &preview)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("没有可以通知的对象") && !html.contains("确认发送"));
    let send = [&empty[..], &[("action", "send")]].concat();
    let r = post_message(&app, &org, session, &send).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("本场暂无报名企业"));
    assert!(session_messages(&pool(&app).await, session)
        .await
        .is_empty());
}

#[tokio::test]
async fn a_session_message_reaches_every_registrant_once() {
    let (app, _clock) = app_on_manual_clock().await;
    let db = pool(&app).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[2];
    let r = app
        .update_session(&org, session, &json!({"capacity": 1}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (a, a_uscc) = app.register_enterprise(1).await;
    let (b, b_uscc) = app.register_enterprise(2).await;
    let (_c, c_uscc) = app.register_enterprise(3).await;
    assert_eq!(app.sign_up(&a, session, 1).await.1["status"], "confirmed");
    assert_eq!(app.sign_up(&b, session, 1).await.1["status"], "waitlisted");

    let form = app
        .get_text(&org, &format!("/admin/sessions/{session}/message"))
        .await;
    assert!(form.contains("已确认 1 家企业，候补 1 家"), "{form}");
    let message_id = hidden(&form, "message_id");
    let fields = |action: &'static str, waitlist: bool| {
        let mut f = vec![
            ("message_id", message_id.clone()),
            ("subject", "直播链接更新".to_string()),
            (
                "text",
                "请于开课前十分钟进入课程页面。\n如有问题请联系组织方。".to_string(),
            ),
            ("action", action.to_string()),
        ];
        if waitlist {
            f.push(("include_waitlist", "1".to_string()));
        }
        f
    };
    // 预览: the inbox text, the SMS text and the number of recipients; nothing is stored
    let r = post_message(&app, &org, session, &refs(&fields("preview", false))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview = r.text().await.unwrap();
    assert!(
        preview.contains("将发送给 <strong>1</strong> 家企业"),
        "{preview}"
    );
    assert!(preview.contains("直播链接更新"), "{preview}");
    assert!(preview.contains("组织方通知，详见站内消息。"), "{preview}");
    assert!(preview.contains("确认发送"));
    assert_eq!(hidden(&preview, "message_id"), message_id);
    assert!(session_messages(&db, session).await.is_empty());

    // 确认发送, including the waitlist, twice (a double click, a reload)
    let send_fields = fields("send", true);
    let send = refs(&send_fields);
    let first = post_message(&app, &org, session, &send).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let location = first.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/admin/notifications?session={session}&sent=2")
    );
    let again = post_message(&app, &org, session, &send).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        format!("/admin/notifications?session={session}&sent=0")
    );
    let stored = session_messages(&db, session).await;
    let mut expected = vec![user_id(&db, &a_uscc).await, user_id(&db, &b_uscc).await];
    expected.sort();
    assert_eq!(
        stored.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        expected,
        "each registrant once, nobody else ({c_uscc} is not signed up)"
    );
    assert!(stored[0]
        .1
        .contains("请于开课前十分钟进入课程页面。\n如有问题"));
    let page = app.get_text(&org, &location).await;
    assert!(page.contains("通知已发送给 2 家企业"), "{page}");
    let page = app
        .get_text(
            &org,
            &format!("/admin/notifications?session={session}&sent=0"),
        )
        .await;
    assert!(page.contains("没有重复发送"), "{page}");

    // a new form is a new message; an empty subject is sent back with the reason
    let r = post_message(
        &app,
        &org,
        session,
        &[
            ("message_id", "not-a-uuid"),
            ("subject", " "),
            ("text", "内容"),
            ("action", "send"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("请填写通知标题"), "{body}");
    assert_ne!(hidden(&body, "message_id"), "not-a-uuid");
    assert_eq!(session_messages(&db, session).await.len(), 2);

    // the API twin: the client's message id makes a retry safe
    let url = app.url(&format!("/api/v1/sessions/{session}/messages"));
    let body = json!({
        "message_id": "0b8f5c3a-51e4-4b8e-8a3e-2f4d8c9e1a77",
        "subject": "座位调整",
        "text": "已确认的企业请按时进入。",
    });
    let r = org.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["recipients"], 1);
    assert_eq!(answer["stored"], 1);
    let r = org.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 0);
    assert_eq!(session_messages(&db, session).await.len(), 3);
    let r = org
        .post(&url)
        .json(&json!({"subject": "", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = b.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// Record a delivery outcome the way a worker does: the state, attempts and their rows.
async fn record(db: &AnyPool, delivery: i64, state: &str, errors: &[&str], sent: bool) {
    let now: DateTime<Utc> = Utc::now();
    let attempts = errors.len() as i64 + i64::from(sent);
    sqlx::query(
        "UPDATE deliveries SET state = $1, attempts = $2, last_error = $3,
                sent_at = CASE WHEN $4 THEN $5 END WHERE id = $6",
    )
    .bind(state)
    .bind(attempts)
    .bind(errors.last().copied())
    .bind(sent)
    .bind(pufa::db::ts(now))
    .bind(delivery)
    .execute(db)
    .await
    .unwrap();
    for (i, e) in errors.iter().enumerate() {
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, worker, started_at,
                                            finished_at, outcome, error)
             VALUES ($1, $2, 'w1', $3, $4, 'error', $5)",
        )
        .bind(delivery)
        .bind(i as i64 + 1)
        .bind(pufa::db::ts(now))
        .bind(pufa::db::ts(now))
        .bind(*e)
        .execute(db)
        .await
        .unwrap();
    }
    if sent {
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, worker, started_at,
                                            finished_at, outcome)
             VALUES ($1, $2, 'w1', $3, $4, 'sent')",
        )
        .bind(delivery)
        .bind(attempts)
        .bind(pufa::db::ts(now))
        .bind(pufa::db::ts(now))
        .execute(db)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn the_deliveries_page_lists_filters_and_counts_reach() {
    let (app, _clock) = app_on_manual_clock().await;
    let db = pool(&app).await;
    let org = app.organizer().await;
    let sessions: Vec<Value> = app.demo_sessions(&org).await;
    let s1 = sessions[0]["id"].as_i64().unwrap();
    let start = DateTime::parse_from_rfc3339(sessions[0]["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let s2 = sessions[1]["id"].as_i64().unwrap();
    let (a, a_uscc) = app.register_enterprise(1).await;
    let (b, _) = app.register_enterprise(2).await;
    let a_id = user_id(&db, &a_uscc).await;
    for c in [&a, &b] {
        assert_eq!(app.sign_up(c, s1, 1).await.0, StatusCode::CREATED);
    }
    assert_eq!(app.sign_up(&a, s2, 1).await.0, StatusCode::CREATED);
    // after the sign-ups, so their confirmations stay in the inbox: enterprise 1 has a
    // verified e-mail address and mobile, enterprise 2 has neither
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO contacts (user_id, kind, value, verified_at, updated_at)
         VALUES ($1, 'email', 'boss@qiye1.example.cn', $2, $2),
                ($1, 'mobile', '13912345678', $2, $2)",
    )
    .bind(a_id)
    .bind(pufa::db::ts(now))
    .execute(&db)
    .await
    .unwrap();
    // the 24 h reminders of s1: mail and SMS for enterprise 1, the inbox only for 2
    let pufa_db = app.db().await;
    let offsets = pufa::config::ReminderOffsets::default().0;
    let stored =
        pufa::app::notify::reminders::run_due(&pufa_db, start - Duration::hours(24), &offsets)
            .await
            .unwrap();
    assert_eq!(stored, 2);
    // a message to s2: organizer messages go by mail only by default
    let form = app
        .get_text(&org, &format!("/admin/sessions/{s2}/message"))
        .await;
    let id = hidden(&form, "message_id");
    let r = post_message(
        &app,
        &org,
        s2,
        &[
            ("message_id", id.as_str()),
            ("subject", "资料下载"),
            ("text", "课件已上传。"),
            ("action", "send"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let ids: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT d.id, d.channel, n.kind FROM deliveries d
         JOIN notifications n ON n.id = d.notification_id ORDER BY d.id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let find = |channel: &str, kind: &str| {
        ids.iter()
            .find(|(_, c, k)| c == channel && k == kind)
            .map(|(id, _, _)| *id)
            .unwrap()
    };
    assert_eq!(ids.len(), 3, "{ids:?}");
    record(
        &db,
        find("sms", "reminder"),
        "failed",
        &["网关返回 500", "网关超时"],
        false,
    )
    .await;
    record(&db, find("email", "reminder"), "sent", &[], true).await;

    let all = app.get_text(&org, "/admin/notifications").await;
    assert_eq!(cards(&all), 3);
    assert!(all.contains("示例企业1有限公司"));
    assert!(!all.contains("boss@qiye1.example.cn") && !all.contains("13912345678"));
    assert!(all.contains("最近错误：网关超时"));
    assert!(all.contains("尝试记录（2）") && all.contains("网关返回 500"));
    assert!(all.contains("开课提醒") && all.contains("组织方通知"));
    // newest first: the organizer's message is on top
    let message_pos = all.find("资料下载").unwrap();
    let reminder_pos = all.find("开课提醒：").unwrap();
    assert!(message_pos < reminder_pos);
    // reach: 2 reminders in inboxes, one of them (enterprise 2's) in the inbox only
    let reminders = app
        .get_text(&org, "/admin/notifications?kind=reminder")
        .await;
    assert_eq!(cards(&reminders), 2);
    assert!(
        reminders.contains("站内消息共 2 条，其中仅站内消息 <strong>1</strong> 条"),
        "{reminders}"
    );
    // and the state counts of the same filter
    assert!(reminders.contains("失败 <strong>1</strong>"), "{reminders}");
    assert!(
        reminders.contains("已发送 <strong>1</strong>"),
        "{reminders}"
    );

    let failed = app
        .get_text(&org, "/admin/notifications?state=failed")
        .await;
    assert_eq!(cards(&failed), 1);
    assert!(failed.contains("短信") && failed.contains("清除筛选"));
    let by_kind = app
        .get_text(
            &org,
            "/admin/notifications?kind=session_message&state=&channel=",
        )
        .await;
    assert_eq!(cards(&by_kind), 1);
    let by_session = app
        .get_text(&org, &format!("/admin/notifications?session={s1}"))
        .await;
    assert_eq!(cards(&by_session), 2);
    let by_channel = app
        .get_text(&org, "/admin/notifications?channel=email")
        .await;
    assert_eq!(cards(&by_channel), 2);
    let none = app
        .get_text(
            &org,
            &format!("/admin/notifications?session={s2}&channel=sms"),
        )
        .await;
    assert_eq!(cards(&none), 0);
    assert!(none.contains("没有符合条件的发送记录"));

    // the API twin: the same rows, the same filters, the same counts
    let list: Value = app.get_json(&org, "/api/v1/deliveries").await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["deliveries"].as_array().unwrap().len(), 3);
    let failed: Value = app
        .get_json(&org, "/api/v1/deliveries?state=failed&kind=reminder")
        .await;
    assert_eq!(failed["total"], 1);
    let d = &failed["deliveries"][0];
    assert_eq!(d["channel"], "sms");
    assert_eq!(d["recipient"], "示例企业1有限公司");
    assert_eq!(d["last_error"], "网关超时");
    assert_eq!(d["attempt_log"].as_array().unwrap().len(), 2);
    assert_eq!(failed["summary"]["sent"], 1);
    assert_eq!(failed["summary"]["inbox_only"], 1);
    assert!(!failed.to_string().contains("13912345678"));
    let r = org
        .get(app.url("/api/v1/deliveries?state=lost"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = a.get(app.url("/api/v1/deliveries")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
