//! Notifications leave the building: mail to a real SMTP server process (Debian's
//! `python3-aiosmtpd`, tests/support/smtp_sink.py) and SMS to a local webhook receiver that
//! checks the signature. Contacts are verified through the real API with the codes read from
//! the sink and the receiver; retries are driven by a manual clock, not by sleeping; a server
//! killed with SIGKILL in the middle of a burst loses nothing and shows nothing twice.

use crate::helpers::{problem, TestApp};
use crate::outside::{Gateway, SmtpSink, SMS_SECRET};
use chrono::{Duration, Utc};
use pufa::app::notify::delivery::{run_due_once, Channels};
use pufa::clock::Clock;
use pufa::config::Config;
use pufa::db::deliveries::{SKIP_EXPIRED, SKIP_UNWANTED};
use pufa::db::Db;
use pufa::notify::{ContactKind, Event};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A test server with mail and SMS, no background delivery workers (the test drains the
/// queue itself) and a manual clock; with the handles to drive its deliveries.
struct Setup {
    app: TestApp,
    sink: SmtpSink,
    gw: Gateway,
    clock: Clock,
    db: Db,
    channels: Arc<Channels>,
}

fn notify_config(config: &mut Config, sink: &SmtpSink, gw: &Gateway, clock: &Clock) {
    config.notify.smtp_url = Some(sink.url());
    config.notify.sms_webhook_url = Some(gw.url.clone());
    config.notify.sms_webhook_secret = Some(SMS_SECRET.into());
    config.notify.delivery_workers = 0;
    config.clock = clock.clone();
}

impl Setup {
    async fn new() -> Setup {
        let sink = SmtpSink::start(0.0);
        let gw = Gateway::start().await;
        let clock = Clock::manual(Utc::now());
        let app = TestApp::spawn_with(|c| notify_config(c, &sink, &gw, &clock)).await;
        let db = app.db().await;
        let mut config = Config::new(app.dir.join("data"), app.dir.join("media"));
        notify_config(&mut config, &sink, &gw, &clock);
        let channels = Arc::new(Channels::from_config(&config).unwrap());
        Setup {
            app,
            sink,
            gw,
            clock,
            db,
            channels,
        }
    }

    async fn drain(&self) -> pufa::app::notify::delivery::Drained {
        run_due_once(&self.db, &self.clock, &self.channels)
            .await
            .unwrap()
    }

    async fn post(&self, c: &Client, path: &str, body: Value) -> reqwest::Response {
        c.post(self.app.url(path)).json(&body).send().await.unwrap()
    }

    /// Verify `address` as `c`'s e-mail through the API, with the code from the sink.
    async fn verify_email(&self, c: &Client, address: &str) {
        let r = self
            .post(
                c,
                "/api/v1/me/contacts",
                json!({"kind": "email", "value": address}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "{}",
            r.text().await.unwrap()
        );
        let code = self.sink.code_for(address);
        let r = self
            .post(
                c,
                "/api/v1/me/contacts/verify",
                json!({"kind": "email", "code": code}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["verified"], true);
    }

    /// Verify `mobile` as `c`'s mobile through the API, with the code from the receiver.
    async fn verify_mobile(&self, c: &Client, mobile: &str) {
        let r = self
            .post(
                c,
                "/api/v1/me/contacts",
                json!({"kind": "mobile", "value": mobile}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "{}",
            r.text().await.unwrap()
        );
        let code = self.gw.code_for(mobile);
        let r = self
            .post(
                c,
                "/api/v1/me/contacts/verify",
                json!({"kind": "mobile", "code": code}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["verified"], true);
    }

    async fn user_id(&self, c: &Client) -> i64 {
        let me: Value = self.app.get_json(c, "/api/v1/me").await;
        me["id"].as_i64().unwrap()
    }

    /// A session of `capacity` seats starting `days` from now.
    async fn session(&self, org: &Client, capacity: i64) -> i64 {
        let start = Utc::now().date_naive() + Duration::days(30);
        let end = start + Duration::days(30);
        let r = org
            .post(self.app.url("/api/v1/programs"))
            .json(&json!({
                "title": "通知测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
                "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
            }))
            .send()
            .await
            .unwrap();
        let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let r = self
            .app
            .add_session(
                org,
                pid,
                &json!({
                    "title": "劳动用工合规", "category": "劳动用工",
                    "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                    "minutes": 90, "capacity": capacity,
                    "starts_at": format!("{}T10:00+08:00", start + Duration::days(3)),
                }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}

/// Store `event` for `user` as the change causing it would (idempotent: once the change's
/// own transaction stores it, this is a no-op and returns the same row's absence).
async fn notify(db: &Db, user: i64, event: &Event, now: chrono::DateTime<Utc>) -> Option<i64> {
    db.notify_now(user, event, now).await.unwrap()
}

/// The id of the notification with `key` for `user`, stored by whichever path came first.
async fn notification_id(dir: &std::path::Path, user: i64, key: &str) -> i64 {
    let pool = crate::helpers::pool_of(dir).await;
    sqlx::query_scalar("SELECT id FROM notifications WHERE user_id = $1 AND key = $2")
        .bind(user)
        .bind(key)
        .fetch_one(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_waitlist_promotion_reaches_the_promoted_enterprise_by_mail_and_sms() {
    let s = Setup::new().await;
    let org = s.app.organizer().await;
    let sid = s.session(&org, 1).await;
    let (first, _) = s.app.register_enterprise(1).await;
    let (second, _) = s.app.register_enterprise(2).await;
    // the promoted enterprise verifies both contacts through the API
    s.verify_email(&second, "fawu@example.cn").await;
    s.verify_mobile(&second, "13900000002").await;
    let user = s.user_id(&second).await;
    assert_eq!(s.app.sign_up(&first, sid, 1).await.0, StatusCode::CREATED);
    let (status, answer) = s.app.sign_up(&second, sid, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "waitlisted");
    let registration_id = answer["registration_id"].as_i64().unwrap();
    // the first withdraws: the second is promoted
    assert_eq!(
        s.app.cancel_sign_up(&first, sid).await,
        StatusCode::NO_CONTENT
    );
    let roster = s.app.roster(&org, sid).await;
    assert!(roster.iter().any(|r| r["status"] == "confirmed"));
    // the promotion stored its notification in its own transaction
    let session = s.db.notification_session(sid).await.unwrap().unwrap();
    let event = Event::Promoted {
        session,
        registration_id,
    };
    assert_eq!(
        notify(&s.db, user, &event, s.clock.now()).await,
        None,
        "already stored by the promotion"
    );
    let nid = notification_id(&s.app.dir, user, &event.key()).await;
    let drained = s.drain().await;
    // 候补 by mail (SMS is off for it by default), then 候补转正 by mail and SMS
    assert_eq!((drained.sent, drained.failed), (3, 0), "{drained:?}");

    let mails = s.sink.notifications_to("fawu@example.cn");
    assert_eq!(mails.len(), 2, "{mails:?}");
    let mail = mails
        .iter()
        .find(|m| m["subject"] == "候补转正：劳动用工合规")
        .expect("the promotion's mail");
    assert_eq!(mail["subject"], "候补转正：劳动用工合规");
    assert_eq!(
        mail["message_id"],
        format!("<pufa.notification.{nid}@127.0.0.1>")
    );
    assert!(mail["from"].as_str().unwrap().contains("noreply@localhost"));
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("已自动转为正式报名"), "{text}");
    assert!(
        text.contains(&format!("http://127.0.0.1:8080/sessions/{sid}")),
        "absolute link: {text}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("<h1") && html.contains("候补转正"), "{html}");
    assert_eq!(mail["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    let secret = s.db.signing_secret().await.unwrap();
    assert_eq!(
        mail["list_unsubscribe"],
        format!(
            "<http://127.0.0.1:8080/unsubscribe/{}>",
            pufa::notify::unsubscribe_token(&secret, user)
        )
    );

    let sms = s.gw.notifications_to("13900000002");
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0]["template"], "PUFA_PROMOTED");
    assert_eq!(sms[0]["params"]["title"], "劳动用工合规");
    let text = pufa::notify::sms_text(
        "PUFA_PROMOTED",
        &serde_json::from_value(sms[0]["params"].clone()).unwrap(),
    )
    .unwrap();
    assert!(text.chars().count() <= pufa::notify::SMS_MAX_CHARS);
    assert_eq!(s.gw.bad_signatures.load(Ordering::SeqCst), 0);

    let rows = s.db.deliveries_of(nid).await.unwrap();
    let states: Vec<_> = rows
        .iter()
        .map(|r| (r.channel.as_str(), r.state.as_str(), r.attempts))
        .collect();
    assert_eq!(states, [("email", "sent", 1), ("sms", "sent", 1)]);
    // nothing more is due, and the other enterprise (no verified contact) got nothing
    assert_eq!(s.drain().await.sent, 0);
    assert_eq!(
        s.sink.mails().len(),
        3,
        "one code mail, the waitlist notice and the promotion"
    );
    // operators see the deliveries in /metrics
    let metrics = s
        .app
        .anonymous()
        .get(s.app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pufa_notification_deliveries{channel=\"email\",state=\"sent\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pufa_notification_deliveries{channel=\"sms\",state=\"sent\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn gateway_errors_are_retried_with_backoff_until_the_sms_goes_out() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(3).await;
    s.verify_mobile(&c, "13900000003").await;
    let user = s.user_id(&c).await;
    let org = s.app.organizer().await;
    let sid = s.session(&org, 10).await;
    let session = s.db.notification_session(sid).await.unwrap().unwrap();
    s.gw.fail_next.store(2, Ordering::SeqCst);
    let nid = notify(
        &s.db,
        user,
        &Event::SessionCancelled { session },
        s.clock.now(),
    )
    .await
    .unwrap();
    // attempt 1: 500, queued again 30 s later
    assert_eq!(s.drain().await.failed, 1);
    let row = s.db.deliveries_of(nid).await.unwrap().remove(0);
    assert_eq!((row.state.as_str(), row.attempts), ("queued", 1));
    assert_eq!(row.last_error.as_deref(), Some("短信网关返回 HTTP 500"));
    assert_eq!(row.next_attempt_at, s.clock.now() + Duration::seconds(30));
    // not before the backoff has passed
    s.clock.advance(Duration::seconds(29));
    assert_eq!(s.drain().await, Default::default());
    // attempt 2: 500 again, now 60 s
    s.clock.advance(Duration::seconds(1));
    assert_eq!(s.drain().await.failed, 1);
    let row = s.db.deliveries_of(nid).await.unwrap().remove(0);
    assert_eq!(row.next_attempt_at, s.clock.now() + Duration::seconds(60));
    s.clock.advance(Duration::seconds(59));
    assert_eq!(s.drain().await, Default::default());
    // attempt 3 goes through
    s.clock.advance(Duration::seconds(1));
    assert_eq!(s.drain().await.sent, 1);
    assert_eq!(s.gw.failed.load(Ordering::SeqCst), 2);
    let sms = s.gw.notifications_to("13900000003");
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["template"], "PUFA_CANCELLED");
    let row = s.db.deliveries_of(nid).await.unwrap().remove(0);
    assert_eq!((row.state.as_str(), row.attempts), ("sent", 3));
    let attempts = s.db.delivery_attempts(row.id).await.unwrap();
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_deref(), a.error.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, Some("error"), Some("短信网关返回 HTTP 500")),
            (2, Some("error"), Some("短信网关返回 HTTP 500")),
            (3, Some("sent"), None),
        ]
    );
    // the number never reaches the recorded errors
    assert!(attempts
        .iter()
        .all(|a| !a.error.as_deref().unwrap_or("").contains("13900000003")));
}

#[tokio::test]
async fn an_unsubscribed_account_receives_no_mail() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(4).await;
    s.verify_email(&c, "boss@example.cn").await;
    let user = s.user_id(&c).await;
    let checkup = |n| Event::CheckupReady {
        checkup_id: n,
        level_zh: "中".into(),
    };
    notify(&s.db, user, &checkup(1), s.clock.now())
        .await
        .unwrap();
    assert_eq!(s.drain().await.sent, 1);
    let mail = s.sink.notifications_to("boss@example.cn").remove(0);
    // queued before the unsubscription: must be skipped at send time
    let pending = notify(&s.db, user, &checkup(2), s.clock.now())
        .await
        .unwrap();

    let link = mail["list_unsubscribe"].as_str().unwrap();
    let path = &link[link.find("/unsubscribe/").unwrap()..link.len() - 1];
    // opening the link only asks
    let page = s.app.get_text(&s.app.anonymous(), path).await;
    assert!(page.contains("确认退订"), "{page}");
    // the mail client's one-click POST: no login, no cookie, no form token
    let r = reqwest::Client::new()
        .post(s.app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("已退订"));
    let contacts: Value = s.app.get_json(&c, "/api/v1/me/contacts").await;
    assert!(contacts["contacts"][0]["email_unsubscribed_at"].is_string());

    let later = notify(&s.db, user, &checkup(3), s.clock.now())
        .await
        .unwrap();
    let drained = s.drain().await;
    assert_eq!((drained.sent, drained.skipped), (0, 1));
    let skipped = s.db.deliveries_of(pending).await.unwrap().remove(0);
    assert_eq!(skipped.state, "skipped");
    assert_eq!(skipped.last_error.as_deref(), Some(SKIP_UNWANTED));
    assert!(
        s.db.deliveries_of(later).await.unwrap().is_empty(),
        "no mail is even queued"
    );
    assert_eq!(s.sink.notifications_to("boss@example.cn").len(), 1);

    // a forged link is refused with a Chinese page
    let forged = path.replacen(&format!("/unsubscribe/{user}."), "/unsubscribe/1.", 1);
    let r = s
        .app
        .anonymous()
        .post(s.app.url(&forged))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("退订链接无效"));
}

#[tokio::test]
async fn a_reminder_that_comes_due_after_the_start_is_skipped() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(5).await;
    s.verify_email(&c, "hr@example.cn").await;
    let user = s.user_id(&c).await;
    let org = s.app.organizer().await;
    let sid = s.session(&org, 10).await;
    let mut session = s.db.notification_session(sid).await.unwrap().unwrap();
    // a session an hour from the clock's now, its one-hour reminder written now
    session.starts_at = Some(s.clock.now() + Duration::hours(1));
    let nid = notify(
        &s.db,
        user,
        &Event::Reminder {
            session,
            offset: Duration::hours(1),
        },
        s.clock.now(),
    )
    .await
    .unwrap();
    // the server was down until after the start
    s.clock.advance(Duration::hours(2));
    let drained = s.drain().await;
    assert_eq!((drained.sent, drained.skipped), (0, 1));
    let row = s.db.deliveries_of(nid).await.unwrap().remove(0);
    assert_eq!(row.state, "skipped");
    assert_eq!(row.last_error.as_deref(), Some(SKIP_EXPIRED));
    assert!(s.sink.notifications_to("hr@example.cn").is_empty());
}

#[tokio::test]
async fn codes_are_limited_and_checked() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(6).await;
    // bad input
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts",
            json!({"kind": "email", "value": "not-an-address"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts",
            json!({"kind": "mobile", "value": "12345"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // a code, then none for a minute
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts",
            json!({"kind": "mobile", "value": "+86 139-0000-0006"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["value"], "13900000006");
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts",
            json!({"kind": "mobile", "value": "13900000006"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "60");
    // a wrong code
    let right = s.gw.code_for("13900000006");
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts/verify",
            json!({"kind": "mobile", "code": wrong}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "bad_code");
    let contacts: Value = s.app.get_json(&c, "/api/v1/me/contacts").await;
    assert_eq!(contacts["contacts"][0]["verified"], false);
    // five codes an hour
    for _ in 0..4 {
        s.clock.advance(Duration::seconds(61));
        let r = s
            .post(
                &c,
                "/api/v1/me/contacts",
                json!({"kind": "mobile", "value": "13900000006"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    s.clock.advance(Duration::seconds(61));
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts",
            json!({"kind": "mobile", "value": "13900000006"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // the refused request left the latest code in place, but ten minutes end it
    let code = s.gw.code_for("13900000006");
    s.clock.advance(Duration::minutes(10));
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts/verify",
            json!({"kind": "mobile", "code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "expired");
    assert_eq!(s.gw.received().len(), 5);

    // the page: the registered mobile offered, the state shown
    let page = s.app.get_text(&c, "/me/contacts").await;
    assert!(
        page.contains("13900000006") && page.contains("未验证"),
        "{page}"
    );

    // a server without an SMS gateway says so
    let plain = TestApp::spawn().await;
    let (c, _) = plain.register_enterprise(7).await;
    let r = c
        .post(plain.url("/api/v1/me/contacts"))
        .json(&json!({"kind": "mobile", "value": "13900000007"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "channel_unavailable");
}

/// SIGKILL in the middle of a burst of 100 mails: after a restart every notification is in
/// the inbox exactly once and every mail arrived at least once (duplicates carry the same
/// Message-ID), none lost.
#[tokio::test]
async fn a_server_killed_during_a_burst_loses_no_notification() {
    let sink = SmtpSink::start(0.03);
    let dir = tempfile::tempdir().unwrap();
    let smtp = sink.url();
    let flags = [
        "--smtp-url",
        smtp.as_str(),
        "--delivery-workers",
        "2",
        "--delivery-lease-secs",
        "5",
    ];
    let app = TestApp::start_binary(dir.path(), &flags).await;
    let mut users = Vec::new();
    for n in 11..21 {
        let (c, _) = app.register_enterprise(n).await;
        let me: Value = app.get_json(&c, "/api/v1/me").await;
        users.push(me["id"].as_i64().unwrap());
    }
    let db = crate::helpers::db_of(dir.path()).await;
    let now = Utc::now();
    for (i, user) in users.iter().enumerate() {
        let address = format!("qiye{i}@example.cn");
        db.store_contact_code(
            *user,
            ContactKind::Email,
            &address,
            "x",
            now,
            now,
            true,
            now,
        )
        .await
        .unwrap();
        assert!(db
            .mark_contact_verified(*user, ContactKind::Email, &address, now)
            .await
            .unwrap());
    }
    let anon = app.anonymous();
    let sid = app.demo_session_ids(&anon).await[0];
    let session = db.notification_session(sid).await.unwrap().unwrap();
    let events: Vec<(i64, Event)> = (0..100)
        .map(|i| {
            (
                users[i % users.len()],
                Event::SessionMessage {
                    session: session.clone(),
                    message_id: format!("burst-{i}"),
                    subject: format!("第{i}号通知"),
                    text: "会议链接已更新".into(),
                },
            )
        })
        .collect();
    for (user, event) in &events {
        assert!(db
            .notify_now(*user, event, Utc::now())
            .await
            .unwrap()
            .is_some());
    }
    // kill the server while the mails are going out
    for _ in 0..1000 {
        if sink.mails().len() >= 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.crash();
    let pool = crate::helpers::pool_of(dir.path()).await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // mails the sink accepted just before the kill may not be recorded as sent yet: those go
    // out again after the restart (at least once)
    let sent_at_kill = count("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'").await;
    assert!(
        (1..100).contains(&sent_at_kill),
        "killed mid-burst: {sent_at_kill} sent"
    );

    // the same events once more (a retried request): stored once
    for (user, event) in events.iter().take(10) {
        assert!(db
            .notify_now(*user, event, Utc::now())
            .await
            .unwrap()
            .is_none());
    }
    let app = TestApp::start_binary(dir.path(), &flags).await;
    let mut sent = 0;
    for _ in 0..600 {
        sent = count("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'").await;
        if sent == 100 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 100, "every delivery sent after the restart");
    let inbox =
        count("SELECT COUNT(*) FROM notifications WHERE key LIKE 'session_message:burst-%'").await;
    let distinct = count(
        "SELECT COUNT(DISTINCT user_id || key) FROM notifications
         WHERE key LIKE 'session_message:burst-%'",
    )
    .await;
    assert_eq!((inbox, distinct), (100, 100), "exactly once in the inbox");
    let ids: std::collections::BTreeSet<String> = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM notifications WHERE key LIKE 'session_message:burst-%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|id| format!("<pufa.notification.{id}@127.0.0.1>"))
    .collect();
    let mails = sink.mails();
    let arrived: std::collections::BTreeSet<String> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        arrived, ids,
        "every mail arrived, under its stable Message-ID"
    );
    assert!(mails.len() >= 100);
    let interrupted =
        count("SELECT COUNT(*) FROM delivery_attempts WHERE error LIKE '发送中断%'").await;
    eprintln!(
        "burst: {sent_at_kill} sent before SIGKILL, {} mails for 100 notifications, {interrupted} interrupted attempts",
        mails.len()
    );
    app.stop().await;
}

/// The page twin of the API: the registered mobile is offered, 发送验证码 and 验证 are CSRF
/// forms, errors are shown in Chinese on the page.
#[tokio::test]
async fn the_contacts_page_sends_and_checks_codes() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(8).await;
    let page = s.app.get_text(&c, "/me/contacts").await;
    assert!(
        page.contains("value=\"13900000008\""),
        "registered mobile offered"
    );
    assert!(page.contains("发送验证码"));
    let csrf = s.app.csrf_token(&c, "/me/contacts").await;
    let form = |pairs: &[(&str, &str)]| {
        let mut all: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("csrf".into(), csrf.clone()));
        all
    };
    // without the form token: refused
    let r = c
        .post(s.app.url("/me/contacts"))
        .form(&[("kind", "email"), ("value", "x@example.cn")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(s.app.url("/me/contacts"))
        .form(&form(&[("kind", "email"), ("value", "Office@Example.CN")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/me/contacts?sent=email");
    let page = s.app.get_text(&c, "/me/contacts?sent=email").await;
    assert!(page.contains("验证码已发送到您的电子邮箱"), "{page}");
    assert!(page.contains("Office@example.cn") && page.contains("未验证"));
    // a wrong code: the page says so
    let code = s.sink.code_for("Office@example.cn");
    let wrong = if code == "999999" { "999998" } else { "999999" };
    let r = c
        .post(s.app.url("/me/contacts/verify"))
        .form(&form(&[("kind", "email"), ("code", wrong)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("验证码不正确或已过期"));
    let r = c
        .post(s.app.url("/me/contacts/verify"))
        .form(&form(&[("kind", "email"), ("code", &code)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = s.app.get_text(&c, "/me/contacts?verified=email").await;
    assert!(page.contains("电子邮箱已验证"), "{page}");
    assert!(page.contains("已验证"));
    // too soon for another code: shown on the page with 429
    let r = c
        .post(s.app.url("/me/contacts"))
        .form(&form(&[("kind", "email"), ("value", "office@example.cn")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("操作过于频繁"));
}

/// A mailbox the relay refuses (550) is not retried: the delivery fails at once with the
/// SMTP code as its reason, never the server's text (which quotes the address).
#[tokio::test]
async fn a_permanent_smtp_refusal_fails_at_once_with_its_code() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(9).await;
    let user = s.user_id(&c).await;
    let now = s.clock.now();
    let address = "bounce@example.cn";
    s.db.store_contact_code(user, ContactKind::Email, address, "x", now, now, true, now)
        .await
        .unwrap();
    assert!(s
        .db
        .mark_contact_verified(user, ContactKind::Email, address, now)
        .await
        .unwrap());
    let nid = notify(
        &s.db,
        user,
        &Event::CheckupReady {
            checkup_id: 9,
            level_zh: "高".into(),
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(s.drain().await.failed, 1);
    let row = s.db.deliveries_of(nid).await.unwrap().remove(0);
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 1));
    assert_eq!(row.last_error.as_deref(), Some("SMTP 550（永久错误）"));
    s.clock.advance(Duration::hours(2));
    assert_eq!(s.drain().await, Default::default(), "not retried");
}

#[tokio::test]
async fn a_code_the_gateway_refuses_is_a_clear_503_and_does_not_hold_the_next_one() {
    let s = Setup::new().await;
    let (c, _) = s.app.register_enterprise(7).await;
    s.gw.fail_next.store(1, Ordering::SeqCst);
    let r = s
        .post(
            &c,
            "/api/v1/me/contacts",
            json!({"kind": "mobile", "value": "13900000007"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "send_failed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("短信服务暂时不可用"),
        "{problem}"
    );
    // the failed code does not count against the one-a-minute limit
    s.verify_mobile(&c, "13900000007").await;
}
