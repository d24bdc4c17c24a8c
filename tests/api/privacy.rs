//! Privacy at registration (the notice, an explicit consent stored with its version, the
//! credit-code notice) and rosters with masked mobile numbers for lawyers.

use crate::helpers::{problem, valid_uscc, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

fn signup(n: u32) -> Value {
    json!({
        "name": format!("示例隐私{n}有限公司"), "uscc": valid_uscc(n), "industry": "E",
        "contact_name": "示例联系人", "mobile": format!("137{n:08}"),
        "password": "correct horse battery staple",
    })
}

#[tokio::test]
async fn registration_needs_explicit_consent_and_stores_its_version() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let html = app.get_text(&c, "/register").await;
    for needle in [
        "个人信息处理说明",
        "href=\"/privacy\"",
        "name=\"privacy_consent\"",
        "本企业自己的代码",
        "主讲律师",
    ] {
        assert!(
            html.contains(needle),
            "{needle} missing from the registration page"
        );
    }
    let checkbox = &html[html.find("name=\"privacy_consent\"").unwrap()..];
    let checkbox = &checkbox[..checkbox.find('>').unwrap()];
    assert!(
        !checkbox.contains("checked"),
        "the consent box starts unchecked: {checkbox}"
    );
    let page = app.get_text(&c, "/privacy").await;
    assert!(page.contains("保存多久") && page.contains("您的权利") && page.contains("2026-1"));

    // without consent: refused, and nothing is stored (the same code registers afterwards)
    let r = app.post_enterprise(&c, &signup(11)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    let errors = p["errors"].as_array().unwrap();
    let consent = errors
        .iter()
        .find(|e| e["field"] == "privacy_consent")
        .expect("consent error");
    assert!(consent["message"].as_str().unwrap().contains("同意"));
    let mut body = signup(11);
    body["privacy_consent"] = json!(false);
    let r = app.post_enterprise(&c, &body).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // consent to an older notice is not consent to this one
    body["privacy_consent"] = json!(true);
    body["privacy_notice_version"] = json!("2020-1");
    let r = app.post_enterprise(&c, &body).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem(r).await["errors"][0]["field"],
        "privacy_notice_version"
    );

    body["privacy_notice_version"] = json!("2026-1");
    let r = app.post_enterprise(&c, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["privacy_notice_version"], "2026-1");
    assert!(created["privacy_consent_at"].is_string(), "{created}");
    // and it is kept with the account
    let c = app
        .logged_in("13700000011", "correct horse battery staple")
        .await;
    let me: Value = app.get_json(&c, "/api/v1/me/privacy").await;
    assert_eq!(me["notice_version"], "2026-1");
    app.stop().await;
}

#[tokio::test]
async fn the_registration_form_refuses_an_unchecked_box_and_keeps_the_values() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let csrf = app.csrf_token(&c, "/register").await;
    let uscc = valid_uscc(12);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", "示例表单隐私公司"),
        ("uscc", uscc.as_str()),
        ("industry", "F"),
        ("contact_name", "示例"),
        ("mobile", "13700000012"),
        ("password", "correct horse battery staple"),
        ("privacy_notice_version", "2026-1"),
    ];
    let r = c
        .post(app.url("/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("请阅读并勾选同意"), "{html}");
    assert!(html.contains("示例表单隐私公司"));
    // a guessable password is explained in Chinese on the form too
    form[6] = ("password", "password");
    form.push(("privacy_consent", "true"));
    let r = c
        .post(app.url("/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("密码太容易被猜到"));
    form[6] = ("password", "correct horse battery staple");
    let r = c
        .post(app.url("/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let me: Value = app.get_json(&c, "/api/v1/me/privacy").await;
    assert_eq!(me["notice_version"], "2026-1");
    app.stop().await;
}

async fn lawyer_session(app: &TestApp, org: &Client, lawyer: &str) -> i64 {
    let r = org
        .post(app.url("/api/v1/admin/accounts"))
        .json(&json!({"role": "lawyer", "username": lawyer, "password": "river bamboo kettle 42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let sid = app.demo_session_ids(org).await[1];
    let lecturer = json!({"name": "示例隐私律师", "firm": "示例律师事务所", "account": lawyer});
    let r = app
        .update_session(org, sid, &json!({ "lecturer": lecturer }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    sid
}

async fn csv(app: &TestApp, c: &Client, sid: i64) -> String {
    let r = c
        .get(app.url(&format!("/sessions/{sid}/roster.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

#[tokio::test]
async fn lawyers_see_masked_mobiles_until_the_organizer_allows_them() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sid = lawyer_session(&app, &org, "lawyer.mask").await;
    let (enterprise, _) = app.register_enterprise(13).await;
    let (status, _) = app.sign_up(&enterprise, sid, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let full = "13900000013";
    let masked = "139****0013";

    let lawyer = app.logged_in("lawyer.mask", "river bamboo kettle 42").await;
    let rows = app.roster(&lawyer, sid).await;
    assert_eq!(rows[0]["mobile"], masked);
    let page = app
        .get_text(&lawyer, &format!("/sessions/{sid}/roster"))
        .await;
    assert!(page.contains(masked) && !page.contains(full), "{page}");
    assert!(page.contains("隐去中间四位"));
    assert!(
        !page.contains("允许主讲律师查看完整手机号"),
        "the switch is the organizer's"
    );
    let text = csv(&app, &lawyer, sid).await;
    assert!(text.contains(masked) && !text.contains(full), "{text}");
    // the lawyer cannot allow itself
    let csrf = app
        .csrf_token(&lawyer, &format!("/sessions/{sid}/roster"))
        .await;
    let r = lawyer
        .post(app.url(&format!("/sessions/{sid}/roster/mobiles")))
        .form(&[("csrf", csrf.as_str()), ("full_mobiles", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // organizers always see the numbers
    assert_eq!(app.roster(&org, sid).await[0]["mobile"], full);
    assert!(csv(&app, &org, sid).await.contains(full));

    // the organizer allows full numbers for this session
    let csrf = app
        .csrf_token(&org, &format!("/sessions/{sid}/roster"))
        .await;
    let r = org
        .post(app.url(&format!("/sessions/{sid}/roster/mobiles")))
        .form(&[("csrf", csrf.as_str()), ("full_mobiles", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.roster(&lawyer, sid).await[0]["mobile"], full);
    assert!(csv(&app, &lawyer, sid).await.contains(full));
    let page = app
        .get_text(&lawyer, &format!("/sessions/{sid}/roster"))
        .await;
    assert!(page.contains(full));
    // and takes it back: an unchecked box sends nothing
    let r = org
        .post(app.url(&format!("/sessions/{sid}/roster/mobiles")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.roster(&lawyer, sid).await[0]["mobile"], masked);
    app.stop().await;
}
