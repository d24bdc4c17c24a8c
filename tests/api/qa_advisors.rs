//! 5+1 advisor groups (issue 16): size is part of the enterprise profile; a group takes one
//! or two lawyers and up to five small or micro enterprises that have no advisor yet (each
//! refusal names the enterprise); a lawyer sees only its own groups' enterprises (audited);
//! an enterprise sees its advisors on 我的.

use crate::helpers::{add_staff, problem, valid_uscc, TestApp, ENTERPRISE_PASSWORD};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const LAWYER_PASSWORD: &str = "lawyer-adv-pass-1";

/// Register enterprise `n` with `size` (or none) and return its client and account id.
async fn enterprise(app: &TestApp, n: u32, size: Option<&str>) -> (Client, i64) {
    let c = app.client();
    let mut body = json!({
        "name": format!("顾问测试{n}有限公司"),
        "uscc": valid_uscc(n),
        "industry": "C",
        "contact_name": format!("联系人{n}"),
        "mobile": format!("139{n:08}"),
        "password": ENTERPRISE_PASSWORD,
        "privacy_consent": true,
    });
    if let Some(s) = size {
        body["size"] = json!(s);
    }
    let r = app.post_enterprise(&c, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["size"], json!(size), "{created}");
    let r = app.login(&c, &valid_uscc(n), ENTERPRISE_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = app.get_json(&c, "/api/v1/me/profile").await;
    assert_eq!(me["enterprise"]["size"], json!(size), "{me}");
    (c, me["id"].as_i64().unwrap())
}

async fn lawyer(app: &TestApp, name: &str) -> (Client, i64) {
    add_staff(app, "lawyer", name, LAWYER_PASSWORD);
    let c = app.logged_in(name, LAWYER_PASSWORD).await;
    let me: Value = app.get_json(&c, "/api/v1/me").await;
    (c, me["id"].as_i64().unwrap())
}

async fn create(app: &TestApp, c: &Client, body: &Value) -> reqwest::Response {
    c.post(app.url("/api/v1/advisor-groups"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn size_is_set_at_registration_and_in_the_profile() {
    let app = TestApp::spawn().await;
    let (c, _) = enterprise(&app, 901, Some("micro")).await;
    let (d, _) = enterprise(&app, 902, None).await;
    let r = app
        .post_enterprise(
            &app.client(),
            &json!({"name": "规模有误有限公司", "uscc": valid_uscc(903), "industry": "C",
                    "contact_name": "某人", "mobile": "13900000903",
                    "password": ENTERPRISE_PASSWORD, "privacy_consent": true, "size": "huge"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(r).await.to_string().contains("企业规模"));
    // the profile sets and clears it
    let r = d
        .put(app.url("/api/v1/me/profile"))
        .json(&json!({"size": "small"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let p: Value = app.get_json(&d, "/api/v1/me/profile").await;
    assert_eq!(p["enterprise"]["size"], "small");
    let page = app.get_text(&d, "/me/profile").await;
    assert!(page.contains("<option value=\"small\" selected>"));
    let csrf = app.csrf_token(&c, "/me/profile").await;
    let r = c
        .post(app.url("/me/profile"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "顾问测试901有限公司"),
            ("industry", "C"),
            ("district", ""),
            ("contact_name", "联系人901"),
            ("size", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let me: Value = app.get_json(&c, "/api/v1/me/profile").await;
    assert_eq!(me["enterprise"]["size"], Value::Null);
    assert!(app.get_text(&c, "/me").await.contains("企业规模"));
    // the registration form offers it
    assert!(app
        .get_text(&app.anonymous(), "/register")
        .await
        .contains("name=\"size\""));
}

#[tokio::test]
async fn groups_take_one_or_two_lawyers_and_up_to_five_small_enterprises() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (l1c, l1) = lawyer(&app, "adv-lawyer-1").await;
    let (_, l2) = lawyer(&app, "adv-lawyer-2").await;
    let (_, l3) = lawyer(&app, "adv-lawyer-3").await;
    let mut small = Vec::new();
    for n in 911..=916 {
        small.push(enterprise(&app, n, Some(if n % 2 == 0 { "small" } else { "micro" })).await);
    }
    let (_, medium) = enterprise(&app, 917, Some("medium")).await;
    let (_, unknown) = enterprise(&app, 918, None).await;
    let ids: Vec<i64> = small.iter().map(|(_, id)| *id).collect();

    // the organizer sees the small enterprises without an advisor, and those of unknown size
    let page = app.get_text(&org, "/admin/advisors").await;
    assert!(page.contains("顾问测试911有限公司") && page.contains("顾问测试918有限公司"));
    assert!(
        !page.contains("顾问测试917有限公司"),
        "medium is not listed"
    );
    let page = app.get_text(&org, "/admin/advisors?q=913").await;
    assert!(page.contains("顾问测试913有限公司") && !page.contains("顾问测试914有限公司"));

    // limits
    let r = create(
        &app,
        &org,
        &json!({"lawyer_ids": [l1], "enterprise_ids": ids}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(r).await.to_string().contains("1至5家"));
    let r = create(
        &app,
        &org,
        &json!({"lawyer_ids": [l1, l2, l3], "enterprise_ids": [ids[0]]}),
    )
    .await;
    assert!(problem(r).await.to_string().contains("1至2名律师"));
    let r = create(
        &app,
        &org,
        &json!({"lawyer_ids": [], "enterprise_ids": [ids[0]]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // eligibility, named
    let r = create(
        &app,
        &org,
        &json!({"lawyer_ids": [l1], "enterprise_ids": [ids[0], medium, unknown]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await.to_string();
    assert!(p.contains("顾问测试917有限公司为中型企业"), "{p}");
    assert!(p.contains("顾问测试918有限公司尚未填写企业规模"), "{p}");
    let r = create(
        &app,
        &org,
        &json!({"lawyer_ids": [ids[0]], "enterprise_ids": [l1]}),
    )
    .await;
    let p = problem(r).await.to_string();
    assert!(
        p.contains("不是律师账号") && p.contains("不是企业账号"),
        "{p}"
    );
    // only organizers
    let r = create(
        &app,
        &l1c,
        &json!({"lawyer_ids": [l1], "enterprise_ids": [ids[0]]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // five small enterprises and two lawyers
    let r = create(
        &app,
        &org,
        &json!({"name": "第一顾问组", "lawyer_ids": [l1, l2], "enterprise_ids": &ids[..5]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let g: Value = r.json().await.unwrap();
    assert_eq!(g["lawyers"].as_array().unwrap().len(), 2);
    assert_eq!(g["enterprises"].as_array().unwrap().len(), 5);
    let gid = g["id"].as_i64().unwrap();
    // an enterprise is in one group only
    let r = create(
        &app,
        &org,
        &json!({"lawyer_ids": [l3], "enterprise_ids": [ids[0]]}),
    )
    .await;
    let p = problem(r).await.to_string();
    assert!(p.contains("顾问测试911有限公司已在另一个法律顾问组"), "{p}");
    // the sixth has no advisor; the others left the list
    let page = app.get_text(&org, "/admin/advisors").await;
    assert!(page.contains("尚无法律顾问的小微企业（1）"), "{page}");

    // members are replaced under the same rules; a group is dissolved
    let r = org
        .put(app.url(&format!("/api/v1/advisor-groups/{gid}")))
        .json(&json!({"lawyer_ids": [l3], "enterprise_ids": [ids[0], ids[5]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let g: Value = r.json().await.unwrap();
    assert_eq!(g["name"], "第一顾问组");
    assert_eq!(g["lawyers"][0]["id"], l3);
    let list: Value = app.get_json(&org, "/api/v1/advisor-groups").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = org
        .delete(app.url(&format!("/api/v1/advisor-groups/{gid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list: Value = app.get_json(&org, "/api/v1/advisor-groups").await;
    assert!(list.as_array().unwrap().is_empty());

    // the page forms a group and adds and removes members
    let csrf = app.csrf_token(&org, "/admin/advisors").await;
    let r = org
        .post(app.url("/admin/advisors"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("lawyer_id", &l1.to_string()),
            ("enterprise_id", &ids[0].to_string()),
            ("enterprise_id", &ids[1].to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list: Value = app.get_json(&org, "/api/v1/advisor-groups").await;
    let gid = list[0]["id"].as_i64().unwrap();
    let r = org
        .post(app.url(&format!("/admin/advisors/{gid}/members")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "add"),
            ("kind", "enterprise"),
            ("member_id", &medium.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("为中型企业"));
    let r = org
        .post(app.url(&format!("/admin/advisors/{gid}/members")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "remove"),
            ("kind", "enterprise"),
            ("member_id", &ids[1].to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list: Value = app.get_json(&org, "/api/v1/advisor-groups").await;
    assert_eq!(list[0]["enterprises"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn lawyers_see_their_groups_and_enterprises_see_their_advisors() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (l1c, l1) = lawyer(&app, "adv-lawyer-a").await;
    let (l2c, l2) = lawyer(&app, "adv-lawyer-b").await;
    let (a, a_id) = enterprise(&app, 921, Some("small")).await;
    let (b, b_id) = enterprise(&app, 922, Some("micro")).await;
    let (c, _) = enterprise(&app, 923, Some("micro")).await;
    // the lawyer's contact for its advisees, from its profile
    let db = crate::helpers::pool_of(&app.dir).await;
    sqlx::query(
        "INSERT INTO lawyer_profiles (user_id, firm, contact, updated_at)
         VALUES ($1, '示例律师事务所', '0591-00000000', '2026-01-01T00:00:00Z')",
    )
    .bind(l1)
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    for (l, e) in [(l1, a_id), (l2, b_id)] {
        let r = create(
            &app,
            &org,
            &json!({"lawyer_ids": [l], "enterprise_ids": [e]}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    // each lawyer sees its own group's enterprise with contact and mobile, not the other's
    let page = app.get_text(&l1c, "/advisors").await;
    assert!(page.contains("顾问测试921有限公司") && page.contains("13900000921"));
    assert!(page.contains("联系人921"));
    assert!(!page.contains("顾问测试922有限公司") && !page.contains("13900000922"));
    let page = app.get_text(&l2c, "/advisors").await;
    assert!(page.contains("顾问测试922有限公司") && !page.contains("顾问测试921有限公司"));
    // enterprises and anonymous visitors do not get the page; lawyers not the organizer's
    let r = a.get(app.url("/advisors")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .anonymous()
        .get(app.url("/advisors"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for path in ["/admin/advisors", "/api/v1/advisor-groups"] {
        let r = l1c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // the opening is audited, without the mobiles
    let csv = app.get_text(&org, "/admin/audit.csv").await;
    assert!(csv.contains("查看顾问企业联系方式"), "{csv}");
    assert!(!csv.contains("13900000921"));

    // the enterprise sees its advisors on 我的
    let me = app.get_text(&a, "/me").await;
    assert!(me.contains("我的法律顾问"));
    assert!(me.contains("示例员工（账号）") && me.contains("示例律师事务所"));
    assert!(me.contains("0591-00000000"));
    let me = app.get_text(&b, "/me").await;
    assert!(!me.contains("0591-00000000"), "another group's lawyer");
    let me = app.get_text(&c, "/me").await;
    assert!(me.contains("暂未配备法律顾问"));
}
