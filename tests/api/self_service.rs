//! Self-service (issue 15): the password reset through a verified mobile with a real SMS
//! webhook receiver, profile editing with a new login mobile proven by a code, and the
//! deletion of an enterprise account — checked in the database tables themselves.

use crate::helpers::{problem, valid_uscc, TestApp, ENTERPRISE_PASSWORD};
use crate::outside::{Gateway, SMS_SECRET};
use chrono::{Duration, Utc};
use pufa::app::notify::delivery::{run_due_once, Channels};
use pufa::clock::Clock;
use pufa::config::Config;
use pufa::db::Db;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::AnyPool;
use std::sync::Arc;

const NEW_PASSWORD: &str = "harbor lamp orchard 7";

/// A test server with SMS (no background delivery workers: the test drains) and a manual
/// clock.
struct Setup {
    app: TestApp,
    gw: Gateway,
    clock: Clock,
    db: Db,
    channels: Arc<Channels>,
}

fn configure(config: &mut Config, gw: &Gateway, clock: &Clock) {
    config.notify.sms_webhook_url = Some(gw.url.clone());
    config.notify.sms_webhook_secret = Some(SMS_SECRET.into());
    config.notify.delivery_workers = 0;
    config.clock = clock.clone();
}

impl Setup {
    async fn new() -> Setup {
        let gw = Gateway::start().await;
        let clock = Clock::manual(Utc::now());
        let app = TestApp::spawn_with(|c| configure(c, &gw, &clock)).await;
        let db = app.db().await;
        let mut config = Config::new(app.dir.join("data"), app.dir.join("media"));
        configure(&mut config, &gw, &clock);
        let channels = Arc::new(Channels::from_config(&config).unwrap());
        Setup {
            app,
            gw,
            clock,
            db,
            channels,
        }
    }

    async fn pool(&self) -> AnyPool {
        crate::helpers::pool_of(&self.app.dir).await
    }

    async fn post(&self, c: &Client, path: &str, body: Value) -> reqwest::Response {
        c.post(self.app.url(path)).json(&body).send().await.unwrap()
    }

    /// Verify `mobile` as `c`'s mobile contact with the code from the receiver.
    async fn verify_mobile(&self, c: &Client, mobile: &str) {
        let before = self.gw.codes_to(mobile).len();
        let r = self
            .post(
                c,
                "/api/v1/me/contacts",
                json!({"kind": "mobile", "value": mobile}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let code = self.gw.code(mobile, before).await;
        let r = self
            .post(
                c,
                "/api/v1/me/contacts/verify",
                json!({"kind": "mobile", "code": code}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn user_id(&self, c: &Client) -> i64 {
        let me: Value = self.app.get_json(c, "/api/v1/me").await;
        me["id"].as_i64().unwrap()
    }

    async fn forgot(&self, login: &str) -> reqwest::Response {
        self.post(
            &self.app.anonymous(),
            "/api/v1/password/forgot",
            json!({"login": login, "kind": "mobile"}),
        )
        .await
    }

    async fn reset(&self, login: &str, code: &str, password: &str) -> reqwest::Response {
        self.post(
            &self.app.anonymous(),
            "/api/v1/password/reset",
            json!({"login": login, "kind": "mobile", "code": code, "new_password": password}),
        )
        .await
    }

    /// A program starting in 30 days, and in it sessions starting `days` after its start
    /// with `capacity` seats; their ids.
    async fn sessions(&self, org: &Client, specs: &[(i64, i64)]) -> (i64, Vec<i64>) {
        let start = Utc::now().date_naive() + Duration::days(30);
        let end = start + Duration::days(40);
        let r = org
            .post(self.app.url("/api/v1/programs"))
            .json(&json!({
                "title": "自助服务测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
                "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let mut ids = Vec::new();
        for (days, capacity) in specs {
            let r = self
                .app
                .add_session(
                    org,
                    pid,
                    &json!({
                        "title": format!("合规课程{days}"), "category": "劳动用工",
                        "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                        "minutes": 90, "capacity": capacity,
                        "starts_at": format!("{}T10:00+08:00", start + Duration::days(*days)),
                    }),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
        }
        (pid, ids)
    }
}

fn mobile_of(n: u32) -> String {
    format!("139{n:08}")
}

async fn count(pool: &AnyPool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn a_password_is_reset_with_an_sms_code_and_every_session_ends() {
    let s = Setup::new().await;
    let (c, uscc) = s.app.register_enterprise(1).await;
    let mobile = mobile_of(1);
    s.verify_mobile(&c, &mobile).await;
    let id = s.user_id(&c).await;
    let other_device = s.app.logged_in(&mobile, ENTERPRISE_PASSWORD).await;
    // one code a minute per account: the verification code was just sent
    s.clock.advance(Duration::seconds(61));

    let r = s.forgot(&uscc).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("如果该账号有已验证的联系方式"));
    let code = s.gw.code(&mobile, 1).await;

    // a weak password is refused without using the code up
    let r = s.reset(&uscc, &code, "password").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    assert_eq!(p["errors"][0]["field"], "new_password", "{p}");
    // the company's own credit code is guessable too
    let r = s.reset(&uscc, &code, &uscc).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // a wrong code is refused
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = s.reset(&uscc, wrong, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "bad_code");

    // the mobile login names the same account
    let r = s.reset(&mobile, &code, NEW_PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "{}",
        r.text().await.unwrap()
    );
    // single use
    let r = s.reset(&uscc, &code, "another river stone 9").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // every session of the account ended
    for client in [&c, &other_device] {
        let r = client.get(s.app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let pool = s.pool().await;
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM login_sessions WHERE user_id = $1",
            id
        )
        .await,
        0
    );
    assert_eq!(
        s.app
            .login(&s.app.client(), &uscc, ENTERPRISE_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let c = s.app.logged_in(&uscc, NEW_PASSWORD).await;

    // told in the inbox and by SMS
    let inbox: Value = s.app.get_json(&c, "/api/v1/notifications").await;
    let item = &inbox["items"][0];
    assert_eq!(item["kind"], "account_security", "{inbox}");
    assert_eq!(item["title"], "密码已重置");
    let drained = run_due_once(&s.db, &s.clock, &s.channels).await.unwrap();
    assert_eq!(drained.sent, 1);
    let sms: Vec<Value> =
        s.gw.to(&mobile)
            .into_iter()
            .filter(|m| m["template"] == "PUFA_SECURITY")
            .collect();
    assert_eq!(sms.len(), 1);

    // and in the audit log, by the account itself, without the code or the mobile
    let (actor, detail): (Option<i64>, String) = sqlx::query_as(
        "SELECT actor_user_id, detail FROM audit_log
         WHERE action = 'account.password_reset' AND target_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, Some(id));
    assert!(
        !detail.contains(&code) && !detail.contains(&mobile),
        "{detail}"
    );
}

#[tokio::test]
async fn the_answer_is_the_same_for_unknown_logins_and_unverified_accounts() {
    let s = Setup::new().await;
    // an account without a verified contact, and one that does not exist
    let (_c, uscc) = s.app.register_enterprise(2).await;
    let unknown = valid_uscc(99);
    let mut answers = Vec::new();
    for login in [
        uscc.as_str(),
        unknown.as_str(),
        "nobody.here",
        &mobile_of(77),
    ] {
        let r = s.forgot(login).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{login}");
        answers.push(r.text().await.unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // nothing went out: the registered mobile was never verified
    tokio::task::yield_now().await;
    assert!(s.gw.codes_to(&mobile_of(2)).is_empty());
    // a reset for an unknown login reads like a wrong code
    let unknown_reset = problem(s.reset(&unknown, "123456", NEW_PASSWORD).await).await;
    let wrong_code = problem(s.reset(&uscc, "123456", NEW_PASSWORD).await).await;
    assert_eq!(unknown_reset["code"], "bad_code");
    assert_eq!(unknown_reset, wrong_code);
    // a server without the channel says so for every login alike
    let r = s
        .post(
            &s.app.anonymous(),
            "/api/v1/password/forgot",
            json!({"login": unknown, "kind": "email"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "channel_unavailable");

    // the pages: the login page links to the form, which sends the same sentence
    let anon = s.app.anonymous();
    assert!(s
        .app
        .get_text(&anon, "/login")
        .await
        .contains("/password/forgot"));
    let page = s.app.get_text(&anon, "/password/forgot").await;
    assert!(
        page.contains("pufa admin reset-password"),
        "staff without a contact"
    );
    let token = s.app.csrf_token(&anon, "/password/forgot").await;
    let r = anon
        .post(s.app.url("/password/forgot"))
        .form(&[
            ("csrf", token.as_str()),
            ("login", unknown.as_str()),
            ("kind", "mobile"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("如果该账号有已验证的联系方式，验证码已发送"));
    assert!(html.contains("name=\"new_password\""));
}

#[tokio::test]
async fn reset_requests_are_throttled_per_login_and_per_address() {
    let s = Setup::new().await;
    let login = valid_uscc(50);
    for _ in 0..5 {
        assert_eq!(s.forgot(&login).await.status(), StatusCode::ACCEPTED);
    }
    let r = s.forgot(&login).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // other logins from the same address: 20 requests an hour in all
    for n in 0..14 {
        let r = s.forgot(&format!("someone{n}")).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "request {}", n + 7);
    }
    assert_eq!(
        s.forgot("someone-else").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // an hour later it works again
    s.clock.advance(Duration::minutes(61));
    assert_eq!(s.forgot(&login).await.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn profiles_are_edited_with_the_registration_rules_and_the_mobile_with_a_code() {
    let s = Setup::new().await;
    let (a, _) = s.app.register_enterprise(3).await;
    let (b, uscc_b) = s.app.register_enterprise(4).await;
    let profile: Value = s.app.get_json(&a, "/api/v1/me/profile").await;
    assert_eq!(profile["enterprise"]["mobile"], mobile_of(3));

    let put = |c: &Client, body: Value| c.put(s.app.url("/api/v1/me/profile")).json(&body).send();
    let r = put(
        &a,
        json!({"name": "新名称科技有限公司", "industry": "i", "district": "", "contact_name": "王五"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["enterprise"]["name"], "新名称科技有限公司");
    assert_eq!(p["enterprise"]["industry"], "I");
    assert!(p["enterprise"]["district"].is_null());
    assert_eq!(p["display_name"], "新名称科技有限公司");
    // the same rules as registration
    let r = put(&a, json!({"industry": "Z", "contact_name": ""}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let errors = problem(r).await["errors"].to_string();
    assert!(
        errors.contains("industry") && errors.contains("contact_name"),
        "{errors}"
    );
    // the credit code is not editable here
    let r = put(&a, json!({"uscc": uscc_b})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = s.app.get_text(&a, "/me/profile").await;
    assert!(page.contains("信用代码错误或被占用请走申诉流程") && page.contains("/claims/new"));
    // B is untouched: every route acts on the logged-in account
    let pb: Value = s.app.get_json(&b, "/api/v1/me/profile").await;
    assert_eq!(pb["enterprise"]["name"], "示例企业4有限公司");

    // a new login mobile: another enterprise's is refused, a free one needs its code
    let r = s
        .post(
            &a,
            "/api/v1/me/profile/mobile",
            json!({"mobile": mobile_of(4)}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "mobile_taken");
    let new_mobile = "13700137000";
    let r = s
        .post(
            &a,
            "/api/v1/me/profile/mobile",
            json!({"mobile": "137-0013-7000"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let code = s.gw.code(new_mobile, 0).await;
    // until confirmed, the old mobile stays the login
    let still: Value = s.app.get_json(&a, "/api/v1/me/profile").await;
    assert_eq!(still["enterprise"]["mobile"], mobile_of(3));
    let r = s
        .post(
            &a,
            "/api/v1/me/profile/mobile/verify",
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["enterprise"]["mobile"], new_mobile);
    let contacts: Value = s.app.get_json(&a, "/api/v1/me/contacts").await;
    let mobile_contact = contacts["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "mobile")
        .cloned()
        .unwrap();
    assert_eq!(mobile_contact["value"], new_mobile);
    assert_eq!(mobile_contact["verified"], true);
    s.app.logged_in(new_mobile, ENTERPRISE_PASSWORD).await;
    assert_eq!(
        s.app
            .login(&s.app.client(), &mobile_of(3), ENTERPRISE_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // staff edit their display name, and it is audited
    let org = s.app.organizer().await;
    let r = put(&org, json!({"display_name": "  工商联 管理员 "}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["display_name"],
        "工商联 管理员"
    );
    let r = put(&org, json!({"name": "不是企业"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let pool = s.pool().await;
    let org_id = s.user_id(&org).await;
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.profile_edited' AND actor_user_id = $1",
            org_id
        )
        .await,
        1
    );

    // the form twin, with CSRF
    let token = s.app.csrf_token(&b, "/me/profile").await;
    let r = b
        .post(s.app.url("/me/profile"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "表单企业有限公司"),
            ("industry", "C"),
            ("district", "示例区"),
            ("contact_name", "赵六"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pb: Value = s.app.get_json(&b, "/api/v1/me/profile").await;
    assert_eq!(pb["enterprise"]["contact_name"], "赵六");
    let r = b
        .post(s.app.url("/me/profile"))
        .form(&[
            ("name", "没有令牌有限公司"),
            ("industry", "C"),
            ("contact_name", "赵六"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // nobody anonymous
    let anon = s.app.anonymous();
    for r in [
        anon.get(s.app.url("/api/v1/me/profile"))
            .send()
            .await
            .unwrap(),
        put(&anon, json!({"name": "x"})).await.unwrap(),
        anon.delete(s.app.url("/api/v1/me"))
            .json(&json!({"password": "x", "confirm": true}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_deleted_account_leaves_only_anonymous_attendance() {
    let s = Setup::new().await;
    let org = s.app.organizer().await;
    // P takes place before the deletion, F after it (one seat)
    let (program, ids) = s.sessions(&org, &[(3, 10), (20, 1)]).await;
    let (past, future) = (ids[0], ids[1]);
    let (x, uscc_x) = s.app.register_enterprise(5).await;
    let (y, _) = s.app.register_enterprise(6).await;
    let x_id = s.user_id(&x).await;
    let y_id = s.user_id(&y).await;
    s.verify_mobile(&x, &mobile_of(5)).await;
    assert_eq!(s.app.sign_up(&x, past, 2).await.0, StatusCode::CREATED);
    assert_eq!(s.app.sign_up(&x, future, 1).await.0, StatusCode::CREATED);
    let (status, waiting) = s.app.sign_up(&y, future, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(waiting["status"], "waitlisted");
    // preferences, a check-up draft with a report opening, a watched lecture
    let r = x
        .put(s.app.url("/api/v1/me/notification-preferences"))
        .json(&json!({"items": [{"kind": "reminder", "email": true, "sms": false}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(
        x.post(s.app.url("/api/v1/checkup/consent"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let r = x
        .post(s.app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": {}, "draft": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let pool = s.pool().await;
    let checkup: i64 = sqlx::query_scalar("SELECT id FROM checkups WHERE enterprise_id = $1")
        .bind(x_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO checkup_access (checkup_id, viewer_id, viewer_role, accessed_at)
         VALUES ($1, 1, 'organizer', '2026-01-01T00:00:00Z')",
    )
    .bind(checkup)
    .execute(&pool)
    .await
    .unwrap();
    let (lecture, _) =
        s.db.queue_recording(past, "uploads/a.mp4")
            .await
            .unwrap()
            .expect("nothing running");
    let watched = pufa::db::watch::WatchUpdate {
        ranges: &[(0.0, 600.0)],
        watched_s: 600.0,
        last_position: 600.0,
        at: s.clock.now(),
        attended: true,
    };
    s.db.save_watch(x_id, lecture, &watched).await.unwrap();

    // P takes place; sessions of the time before have expired
    s.clock.advance(Duration::days(35));
    let x = s.app.logged_in(&uscc_x, ENTERPRISE_PASSWORD).await;
    let page = s.app.get_text(&x, "/me/delete").await;
    for promise in [
        "个人信息保护法",
        "将删除",
        "将保留",
        "已注销企业",
        "不能撤销",
    ] {
        assert!(page.contains(promise), "{promise}");
    }
    let delete = |body: Value| x.delete(s.app.url("/api/v1/me")).json(&body).send();
    let r = delete(json!({"password": ENTERPRISE_PASSWORD}))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "confirmation missing"
    );
    let r = delete(json!({"password": "wrong-pass-1", "confirm": true}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "wrong_password");
    let r = delete(json!({"password": ENTERPRISE_PASSWORD, "confirm": true}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // gone
    for sql in [
        "SELECT COUNT(*) FROM login_sessions WHERE user_id = $1",
        "SELECT COUNT(*) FROM contacts WHERE user_id = $1",
        "SELECT COUNT(*) FROM contact_codes WHERE user_id = $1",
        "SELECT COUNT(*) FROM notification_prefs WHERE user_id = $1",
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1",
        "SELECT COUNT(*) FROM checkups WHERE enterprise_id = $1",
        "SELECT COUNT(*) FROM checkup_consents WHERE enterprise_id = $1",
        "SELECT COUNT(*) FROM watch_progress WHERE user_id = $1 AND ranges <> '[]'",
        "SELECT COUNT(*) FROM registrations WHERE enterprise_id = $1 AND attendees <> '[]'",
    ] {
        assert_eq!(count(&pool, sql, x_id).await, 0, "{sql}");
    }
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM checkup_access WHERE checkup_id = $1",
            checkup
        )
        .await,
        0
    );
    let (company, code, login_mobile, contact, district): (
        String,
        String,
        String,
        String,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT name, uscc, mobile, contact_name, district FROM enterprises WHERE user_id = $1",
    )
    .bind(x_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(company, format!("已注销企业 #{x_id}"));
    assert_eq!(code, pufa::accounts::released_uscc(x_id));
    assert_eq!(login_mobile, pufa::accounts::released_mobile(x_id));
    assert_eq!((contact.as_str(), district), ("", None));
    let active: Vec<(i64, String)> = sqlx::query_as(
        "SELECT session_id, status FROM registrations WHERE enterprise_id = $1 ORDER BY id",
    )
    .bind(x_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        active,
        [
            (past, "confirmed".to_string()),
            (future, "cancelled".to_string())
        ]
    );
    let (name, password_hash): (String, String) =
        sqlx::query_as("SELECT display_name, password_hash FROM users WHERE id = $1")
            .bind(x_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(name, format!("已注销企业 #{x_id}"));
    assert!(!password_hash.starts_with("$argon2"));
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.deleted' AND target_id = $1 AND detail = '{}'",
            x_id
        )
        .await,
        1
    );
    // the session cookie is dead and no login works
    let r = x.get(s.app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for login in [uscc_x.as_str(), &mobile_of(5)] {
        let r = s
            .app
            .login(&s.app.client(), login, ENTERPRISE_PASSWORD)
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{login}");
    }

    // the waitlist moved up and the promoted enterprise was told
    let org = s.app.organizer().await;
    let y = s.app.logged_in(&mobile_of(6), ENTERPRISE_PASSWORD).await;
    let roster = s.app.roster(&org, future).await;
    assert_eq!(roster.len(), 1);
    assert_eq!(roster[0]["enterprise_id"], y_id);
    assert_eq!(roster[0]["status"], "confirmed");
    let inbox: Value = s.app.get_json(&y, "/api/v1/notifications").await;
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "promoted"),
        "{inbox}"
    );

    // past attendance still counts in the organizer's figures, anonymised
    let roster = s.app.roster(&org, past).await;
    assert_eq!(roster.len(), 1);
    assert_eq!(roster[0]["company"], format!("已注销企业 #{x_id}"));
    assert_eq!(roster[0]["seats"], 2);
    assert_eq!(roster[0]["contact_name"], "");
    assert_ne!(roster[0]["mobile"], mobile_of(5));
    let program: Value = s
        .app
        .get_json(&org, &format!("/api/v1/programs/{program}"))
        .await;
    let p = program["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == past)
        .cloned()
        .unwrap();
    assert_eq!(p["seats_left"], 8);
    let viewers = s.db.viewers(lecture).await.unwrap();
    assert_eq!(viewers.len(), 1);
    assert_eq!(viewers[0].watched_s, 600.0);

    // the real company can register its credit code and mobile again
    let r = s
        .app
        .post_enterprise(
            &s.app.client(),
            &json!({
                "name": "示例企业5有限公司", "uscc": uscc_x, "industry": "E",
                "contact_name": "新联系人", "mobile": mobile_of(5),
                "password": ENTERPRISE_PASSWORD, "privacy_consent": true,
            }),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
}

#[tokio::test]
async fn staff_cannot_delete_themselves_here() {
    let s = Setup::new().await;
    let org = s.app.organizer().await;
    let page = s.app.get_text(&org, "/me/delete").await;
    assert!(page.contains("请联系组织方在“账号管理”中停用"));
    let r = org
        .delete(s.app.url("/api/v1/me"))
        .json(&json!({"password": crate::helpers::ADMIN_PASSWORD, "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "staff_account");
    assert_eq!(
        org.get(s.app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// POST an urlencoded form with the CSRF token of `page`.
async fn form(
    s: &Setup,
    c: &Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = s.app.csrf_token(c, page).await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    c.post(s.app.url(action)).form(&all).send().await.unwrap()
}

#[tokio::test]
async fn the_pages_reset_change_the_mobile_and_delete() {
    let s = Setup::new().await;
    let (c, uscc) = s.app.register_enterprise(7).await;
    let mobile = mobile_of(7);
    s.verify_mobile(&c, &mobile).await;
    s.clock.advance(Duration::seconds(61));

    // 忘记密码 → 重置密码, in the browser
    let anon = s.app.client();
    let r = form(
        &s,
        &anon,
        "/password/forgot",
        "/password/forgot",
        &[("login", &uscc), ("kind", "mobile")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let code = s.gw.code(&mobile, 1).await;
    let fields = |password: &'static str| {
        [
            ("login", uscc.clone()),
            ("kind", "mobile".to_string()),
            ("code", code.clone()),
            ("new_password", password.to_string()),
        ]
    };
    let weak = fields("12345678");
    let weak: Vec<(&str, &str)> = weak.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = form(&s, &anon, "/password/reset", "/password/reset", &weak).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"new_password-err\""));
    let good = fields(NEW_PASSWORD);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = form(&s, &anon, "/password/reset", "/password/reset", &good).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("密码已重置"));
    assert_eq!(
        c.get(s.app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let c = s.app.logged_in(&mobile, NEW_PASSWORD).await;
    let me = s.app.get_text(&c, "/me").await;
    assert!(me.contains("href=\"/me/profile\"") && me.contains("href=\"/me/delete\""));

    // a new login mobile through the profile page (a minute after the reset code: one mobile
    // code a minute per account)
    s.clock.advance(Duration::seconds(61));
    let r = form(
        &s,
        &c,
        "/me/profile",
        "/me/profile/mobile",
        &[("mobile", "13600136000")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("action=\"/me/profile/mobile/verify\""));
    let code = s.gw.code("13600136000", 0).await;
    let r = form(
        &s,
        &c,
        "/me/profile",
        "/me/profile/mobile/verify",
        &[("code", &code), ("mobile", "13600136000")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(s
        .app
        .get_text(&c, "/me/profile?saved=mobile")
        .await
        .contains("13600136000"));

    // 注销账号: the confirmation box is required
    let r = form(
        &s,
        &c,
        "/me/delete",
        "/me/delete",
        &[("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"confirm-err\""));
    let r = form(
        &s,
        &c,
        "/me/delete",
        "/me/delete",
        &[("password", NEW_PASSWORD), ("confirm", "true")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("pufa_session=;")));
    assert!(r.text().await.unwrap().contains("账号已注销"));
    assert_eq!(
        s.app
            .login(&s.app.client(), "13600136000", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}
