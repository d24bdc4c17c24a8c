//! Security of logins and personal data (issue 14): the throttle holds when wrong passwords
//! arrive all at once and counts an enterprise's login names together; `next` after login is
//! followed only as a local path; absolute links come from the configured public URL, never
//! from `Host`; the calendar token can be replaced and logout can end every session; personal
//! responses are not stored by caches.

use crate::helpers::{problem, TestApp, ADMIN_PASSWORD, ENTERPRISE_PASSWORD};
use pufa::app::login::Verifications;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

/// A test server whose password checks are counted in the returned counter.
async fn counted_app() -> (TestApp, Verifications) {
    let counter = Verifications::default();
    let shared = counter.clone();
    let app = TestApp::spawn_with(move |c| c.password_verifications = shared).await;
    (app, counter)
}

/// Before the fix the failure counter was read, the password checked and only then the failure
/// written: 200 wrong passwords sent at once were all checked (and a lucky guess among them
/// logged in). Now each attempt is reserved in the database first; the count of Argon2 runs,
/// not a timing, shows that no more than the limit got through.
#[tokio::test]
async fn two_hundred_simultaneous_wrong_logins_check_at_most_five_passwords() {
    let (app, verified) = counted_app().await;
    let (_, uscc) = app.register_enterprise(41).await;
    let before = verified.count();
    let c = app.anonymous();
    let attempts = (0..200).map(|i| {
        let c = c.clone();
        let url = app.url("/api/v1/login");
        let body = json!({"login": uscc, "password": format!("wrong-password-{i}")});
        tokio::spawn(async move { c.post(url).json(&body).send().await })
    });
    let mut unauthorized = 0;
    let mut throttled = 0;
    for attempt in futures_util::future::join_all(attempts).await {
        let r = attempt.unwrap().unwrap();
        match r.status() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().get("retry-after").is_some());
                throttled += 1;
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    let checked = verified.count() - before;
    assert!(checked <= 5, "{checked} passwords checked, the limit is 5");
    assert_eq!(unauthorized, checked, "every checked password was wrong");
    assert_eq!(unauthorized + throttled, 200);
    // the account stays closed, also for the right password
    let r = app.login(&app.client(), &uscc, ENTERPRISE_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(verified.count() - before, checked);
    app.stop().await;
}

/// Before the fix the throttle was keyed by the login string: the credit code and the mobile
/// number of one enterprise had 5 guesses each.
#[tokio::test]
async fn credit_code_and_mobile_number_share_one_counter() {
    let (app, verified) = counted_app().await;
    let (_, uscc) = app.register_enterprise(42).await;
    let mobile = "13900000042";
    let c = app.client();
    for login in [
        uscc.as_str(),
        mobile,
        uscc.as_str(),
        mobile,
        " 139 0000 0042 ",
    ] {
        let r = app.login(&c, login, "wrong-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{login}");
    }
    let before = verified.count();
    for login in [mobile, uscc.as_str(), &uscc.to_lowercase()] {
        let r = app.login(&c, login, ENTERPRISE_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{login}");
        assert_eq!(problem(r).await["code"], "too_many_requests");
    }
    assert_eq!(
        verified.count(),
        before,
        "a throttled login checks no password"
    );
    // probing unknown logins is throttled per login as before
    for _ in 0..5 {
        let r = app.login(&c, "nobody-here", "wrong-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.login(&c, "nobody-here", "wrong-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

/// The login form as a browser posts it, with `next`.
async fn login_form(app: &TestApp, c: &Client, next: &str) -> Response {
    let csrf = app.csrf_token(c, "/login").await;
    c.post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

/// Before the fix a `next` with CR or LF ended a successful login in a `text/plain` 500, and
/// `/\t/evil.example` was followed (browsers drop the tab: `//evil.example`).
#[tokio::test]
async fn next_after_login_is_only_a_local_path() {
    let app = TestApp::spawn().await;
    for (next, expected) in [
        ("/admin/checkups", "/admin/checkups"),
        ("/me\r\nSet-Cookie: pufa_session=forged", "/admin"),
        ("/me\nLocation: //evil.example", "/admin"),
        ("/\r/evil.example", "/admin"),
        ("/\t/evil.example", "/admin"),
        ("/\u{0B}/evil.example", "/admin"),
        ("//evil.example", "/admin"),
        ("/\\evil.example", "/admin"),
        ("https://evil.example/", "/admin"),
        ("/ /evil.example", "/admin"),
    ] {
        let r = login_form(&app, &app.client(), next).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(r.headers()["location"], expected, "{next:?}");
        assert!(r
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|v| !v.to_str().unwrap().contains("forged")));
    }
    // the login page does not carry a bad `next` into its form either
    let html = app
        .get_text(
            &app.anonymous(),
            "/login?next=/%0D%0ALocation:%20//evil.example",
        )
        .await;
    assert!(!html.contains("evil.example"), "{html}");
    app.stop().await;
}

/// The first calendar feed path (`/calendar/….ics`) inside `text`.
fn calendar_path(text: &str) -> String {
    let start = text.find("/calendar/").expect("calendar URL");
    let end = text[start..].find(".ics").expect("end of calendar URL") + start + 4;
    text[start..end].to_string()
}

/// Before the fix the feeds' links were built from the request's `Host`, so `Host:
/// evil.example` put links to evil.example into calendars.
#[tokio::test]
async fn absolute_links_use_the_public_url_not_the_host_header() {
    let public = "https://pufa.example.cn";
    let app = TestApp::spawn_with(|c| c.public_url = public.parse().unwrap()).await;
    let anonymous = app.anonymous();
    let programs: Value = app.get_json(&anonymous, "/api/v1/programs").await;
    let feed = anonymous
        .get(app.url(&format!("/programs/{}/calendar.ics", programs[0]["id"])))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let feed = feed.text().await.unwrap();
    assert!(feed.contains(&format!("{public}/sessions/")), "{feed}");
    assert!(!feed.contains("evil.example"), "{feed}");

    let (c, _) = app.register_enterprise(43).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (status, _) = app.sign_up(&c, session, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let me = c
        .get(app.url("/me"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!me.contains("evil.example"));
    assert!(me.contains(&format!("{public}/calendar/")));
    // a subscription link for calendar apps and a QR code of it for phones
    assert!(
        me.contains("href=\"webcal://pufa.example.cn/calendar/"),
        "{me}"
    );
    assert!(me.contains("<svg class=\"qr\" role=\"img\""), "{me}");
    let program_page = app
        .get_text(&anonymous, &format!("/programs/{}", programs[0]["id"]))
        .await;
    assert!(program_page.contains(&format!(
        "href=\"webcal://pufa.example.cn/programs/{}/calendar.ics\"",
        programs[0]["id"]
    )));
    let path = calendar_path(&me);
    let feed = anonymous
        .get(app.url(&path))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        feed.contains(&format!("URL:{public}/sessions/{session}")),
        "{feed}"
    );
    // the event rings 30 minutes before and names the watch page in its notes
    let unfolded = feed.replace("\r\n ", "");
    assert!(
        unfolded.contains("BEGIN:VALARM") && unfolded.contains("TRIGGER;RELATED=START:-PT1800S")
    );
    assert!(
        unfolded.contains(&format!("观看与报名：{public}/sessions/{session}")),
        "{unfolded}"
    );
    assert!(!feed.contains("evil.example"));
    app.stop().await;
}

/// Before the fix a calendar address, once shared, worked for good: there was no way to
/// replace it.
#[tokio::test]
async fn the_calendar_token_can_be_replaced_and_the_old_feed_is_gone() {
    let app = TestApp::spawn().await;
    let (c, _) = app.register_enterprise(44).await;
    let anonymous = app.anonymous();
    let feed_status = |path: String| {
        let r = anonymous.get(app.url(&path)).send();
        async move { r.await.unwrap().status() }
    };
    let old = calendar_path(&app.get_text(&c, "/me").await);
    assert_eq!(feed_status(old.clone()).await, StatusCode::OK);

    let r = c
        .post(app.url("/api/v1/me/calendar-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let url = r.json::<Value>().await.unwrap()["calendar_url"]
        .as_str()
        .unwrap()
        .to_string();
    let new = calendar_path(&url);
    assert_ne!(new, old);
    assert_eq!(feed_status(old).await, StatusCode::NOT_FOUND);
    assert_eq!(feed_status(new.clone()).await, StatusCode::OK);
    assert!(app.get_text(&c, "/me").await.contains(&new));

    // the button on 我的 does the same, with the CSRF token of the page
    let csrf = app.csrf_token(&c, "/me").await;
    let r = c
        .post(app.url("/me/calendar-token"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let me = app.get_text(&c, "/me?notice=calendar_token").await;
    assert!(me.contains("已更换日历订阅地址"));
    let newest = calendar_path(&me);
    assert_ne!(newest, new);
    assert_eq!(feed_status(new).await, StatusCode::NOT_FOUND);
    let r = c
        .post(app.url("/me/calendar-token"))
        .form(&[("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // staff have no calendar token; nobody without a login may replace one
    let org = app.organizer().await;
    let r = org
        .post(app.url("/api/v1/me/calendar-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = anonymous
        .post(app.url("/api/v1/me/calendar-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn me_status(app: &TestApp, c: &Client) -> StatusCode {
    c.get(app.url("/api/v1/me")).send().await.unwrap().status()
}

/// Before the fix logout ended the one session it was sent from; a session left open on
/// another computer could not be ended.
#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_account() {
    let app = TestApp::spawn().await;
    let (phone, uscc) = app.register_enterprise(45).await;
    let laptop = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let office = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let (other, _) = app.register_enterprise(46).await;

    let logout =
        |client: &Client, body: Value| client.post(app.url("/api/v1/logout")).json(&body).send();
    // an empty body still ends only this session
    let r = office.post(app.url("/api/v1/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &office).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &laptop).await, StatusCode::OK);
    // so does an explicit `false`
    let office = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let r = logout(&office, json!({"everywhere": false})).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &laptop).await, StatusCode::OK);

    let r = logout(&phone, json!({"everywhere": true})).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &other).await,
        StatusCode::OK,
        "another account"
    );

    // 「退出所有设备」 on 我的
    let first = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let second = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let me = app.get_text(&first, "/me").await;
    assert!(me.contains("退出所有设备"));
    let csrf = app.csrf_token(&first, "/me").await;
    let r = first
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str()), ("everywhere", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(&app, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &second).await, StatusCode::UNAUTHORIZED);

    // a misspelled field is an error, not a silent "this session only"
    let third = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let r = logout(&third, json!({"everywere": true})).await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(me_status(&app, &third).await, StatusCode::OK);
    app.stop().await;
}

async fn cache_control(c: &Client, url: String) -> Option<String> {
    let r = c.get(&url).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
}

/// Answers for every item of the questionnaire that applies to industry E (the first option).
fn safest_answers(q: &Value) -> serde_json::Map<String, Value> {
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

/// Before the fix personal pages and exports had no `Cache-Control`, so a shared computer's
/// browser cache or a proxy could keep them after logout.
#[tokio::test]
async fn personal_responses_are_not_stored_by_caches() {
    let app = TestApp::spawn().await;
    let (c, _) = app.register_enterprise(47).await;
    let q: Value = app
        .get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await;
    let r = c
        .post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": safest_answers(&q)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let report = r.json::<Value>().await.unwrap()["report_id"].clone();
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];

    let no_store = Some("no-store".to_string());
    for path in [
        "/me".to_string(),
        "/api/v1/me".to_string(),
        format!("/checkup/reports/{report}"),
        format!("/api/v1/checkup/reports/{report}"),
    ] {
        assert_eq!(cache_control(&c, app.url(&path)).await, no_store, "{path}");
    }
    for path in [
        format!("/sessions/{session}/roster.csv"),
        format!("/sessions/{session}/roster"),
        "/admin/checkups.csv".to_string(),
    ] {
        assert_eq!(
            cache_control(&org, app.url(&path)).await,
            no_store,
            "{path}"
        );
    }
    // the login answer itself opens a session
    let r = app.login(&app.client(), "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.headers()["cache-control"], "no-store");

    // public assets keep their own caching, also for a logged-in browser; public pages seen
    // without a login are not marked
    for client in [&c, &app.anonymous()] {
        assert_eq!(
            cache_control(client, app.url("/assets/pufa.css")).await,
            Some("public, max-age=300".to_string())
        );
    }
    assert_eq!(cache_control(&app.anonymous(), app.url("/")).await, None);
    assert_eq!(
        cache_control(&app.anonymous(), app.url("/api/v1/programs")).await,
        None
    );
    app.stop().await;
}
