//! Accounts: an enterprise registers with its credit code (normalised, each bad field named
//! in Chinese), logs in by code or mobile, and logs out; failed logins are throttled per account
//! and per address; forms carry a CSRF token and cross-site posts are refused; unknown routes
//! and missing logins answer as a browser or an API client expects.

use crate::helpers::{problem, valid_uscc, TestApp, ADMIN_PASSWORD, ENTERPRISE_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn health_and_openapi() {
    let app = TestApp::spawn().await;
    let c = app.anonymous();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");

    let doc: Value = app.get_json(&c, "/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/login", "/api/v1/enterprises", "/api/v1/logout"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn enterprise_registers_logs_in_and_sees_me() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let uscc = valid_uscc(1);
    // lower case and full-width input is normalised
    let fullwidth: String = uscc
        .to_lowercase()
        .chars()
        .map(|ch| char::from_u32(ch as u32 + 0xFEE0).unwrap())
        .collect();
    let r = app
        .post_enterprise(
            &c,
            &json!({
                "name": "示例建筑有限公司",
                "uscc": fullwidth,
                "industry": "e",
                "district": "示例区",
                "contact_name": "示例联系人",
                "mobile": "+86 139-0000-0001",
                "password": "a-good-password",
                "privacy_consent": true,
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["uscc"], uscc);
    assert_eq!(body["industry"], "E");
    assert_eq!(body["mobile"], "13900000001");

    // second account for the same code is refused
    let r = app
        .post_enterprise(
            &c,
            &json!({
                "name": "另一家示例公司", "uscc": uscc, "industry": "C",
                "contact_name": "示例", "mobile": "13900000002", "password": "a-good-password",
                "privacy_consent": true,
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert_eq!(p["code"], "uscc_taken");
    assert!(p["detail"].as_str().unwrap().contains("已注册"));

    // log in by credit code, then by mobile
    for login in [uscc.as_str(), "139 0000 0001"] {
        let c = app.client();
        let r = app.login(&c, login, "a-good-password").await;
        assert_eq!(r.status(), StatusCode::OK, "login by {login}");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|v| v.starts_with("pufa_session="))
            .expect("session cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        let me: Value = app.get_json(&c, "/api/v1/me").await;
        assert_eq!(me["role"], "enterprise");
        let page = c.get(app.url("/me")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("示例建筑有限公司") && html.contains(&uscc));
    }
    app.stop().await;
}

#[tokio::test]
async fn each_bad_field_gets_a_specific_message() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let r = app
        .post_enterprise(
            &c,
            &json!({
                "name": "", "uscc": "91350100M000100Y44", "industry": "Z",
                "contact_name": "", "mobile": "12345", "password": "123",
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    assert_eq!(p["code"], "validation_failed");
    let errors = p["errors"].as_array().unwrap();
    let msg = |f: &str| {
        errors
            .iter()
            .find(|e| e["field"] == f)
            .and_then(|e| e["message"].as_str())
            .unwrap_or_else(|| panic!("no message for {f}"))
            .to_string()
    };
    assert!(msg("uscc").contains("第18位"), "{}", msg("uscc"));
    assert!(msg("uscc").contains('3'), "names the expected check char");
    for f in ["name", "industry", "contact_name", "mobile", "password"] {
        assert!(!msg(f).is_empty());
    }

    // malformed JSON and wrong content type are problems too
    let r = c
        .post(app.url("/api/v1/enterprises"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(r).await["code"], "malformed_json");
    let r = c
        .post(app.url("/api/v1/enterprises"))
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // oversized body
    let big = "x".repeat(2 * 1024 * 1024);
    let r = app.post_enterprise(&c, &json!({"name": big})).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_is_401_and_failures_are_throttled() {
    let app = TestApp::spawn().await;
    let (_, uscc) = app.register_enterprise(7).await;
    let c = app.client();
    for _ in 0..5 {
        let r = app.login(&c, &uscc, "wrong-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let p = problem(r).await;
        assert_eq!(p["code"], "bad_credentials");
        assert_eq!(p["detail"], "账号或密码错误，请重新输入。");
    }
    // the account is now throttled: even the right password is refused for a while
    let r = app.login(&c, &uscc, ENTERPRISE_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // another account from the same address is not affected
    let r = app.login(&c, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    // successful logins are not throttled
    for _ in 0..8 {
        let r = app.login(&app.client(), "admin", ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    app.stop().await;
}

#[tokio::test]
async fn failures_are_throttled_per_address() {
    let app = TestApp::spawn().await;
    let c = app.client();
    // 20 failures spread over unknown accounts from one address
    for i in 0..20 {
        let r = app.login(&c, &format!("nobody{i}"), "wrong-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.login(&c, "someone-else", "wrong-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let (c, _) = app.register_enterprise(3).await;
    assert_eq!(
        c.get(app.url("/api/v1/me")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let r = c.post(app.url("/api/v1/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(r).await["code"], "unauthenticated");
    app.stop().await;
}

/// The registration form as a browser posts it, for the credit code `uscc`.
fn registration_form<'a>(csrf: &'a str, uscc: &'a str) -> [(&'static str, &'a str); 8] {
    [
        ("csrf", csrf),
        ("name", "示例表单公司"),
        ("uscc", uscc),
        ("industry", "F"),
        ("contact_name", "示例"),
        ("mobile", "13900000009"),
        ("password", "form-pass-1"),
        ("privacy_consent", "true"),
    ]
}

#[tokio::test]
async fn html_registration_and_login_forms() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let page = c.get(app.url("/register")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("统一社会信用代码"));
    let csrf = app.csrf_token(&c, "/register").await;

    // invalid: the form comes back with the message and the entered values
    let r = c
        .post(app.url("/register"))
        .form(&registration_form(&csrf, "91110000600037341M"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("第18位校验码应为“L”"), "{html}");
    assert!(html.contains("示例表单公司"));

    let r = c
        .post(app.url("/register"))
        .form(&registration_form(&csrf, "91110000600037341L"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = app.get_text(&c, "/me").await;
    assert!(html.contains("示例表单公司"));

    // organizer logs in through the form and lands on the workspace, which lists it
    let o = app.client();
    let csrf = app.csrf_token(&o, "/login").await;
    let r = o
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin");
    let admin = o.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
    assert!(admin.text().await.unwrap().contains("91110000600037341L"));

    // an enterprise may not open the organizer workspace
    let r = c.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // logout through the form
    let csrf = app.csrf_token(&o, "/admin").await;
    let r = o
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = o
        .get(app.url("/admin"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "logged out → login redirect"
    );
    app.stop().await;
}

#[tokio::test]
async fn csrf_is_enforced() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let csrf = app.csrf_token(&c, "/login").await;
    // cross-origin form post
    let r = c
        .post(app.url("/login"))
        .header("origin", "http://evil.example")
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // same-origin post without the token
    let r = c
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[("login", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("请求来源校验失败"));
    // a JSON API call from another site is refused too
    let r = c
        .post(app.url("/api/v1/login"))
        .header("origin", "http://evil.example")
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(r).await["code"], "csrf_rejected");
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_login_redirects() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let r = c
        .get(app.url("/no/such/page"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("页面不存在"));
    let r = c.get(app.url("/api/v1/nothing")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem(r).await["code"], "not_found");
    let r = c
        .get(app.url("/me"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=/me");
    let r = c.delete(app.url("/api/v1/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}
