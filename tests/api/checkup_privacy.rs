//! Confidentiality of the legal health check: the enterprise confirms the notice (who reads the
//! report, how long it is kept, not legal advice) before its first page; every opening of a
//! report by someone else is logged and shown to the enterprise; organizers' dashboard, CSV and
//! 回访 list carry levels and dimensions, never what an enterprise admitted; the enterprise
//! deletes a check-up for good.

use crate::helpers::{add_staff, problem, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

pub(crate) async fn questionnaire(app: &TestApp) -> Value {
    app.get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await
}

/// The riskiest option of every item that applies to section E (the helpers' industry).
pub(crate) fn riskiest(q: &Value) -> Map<String, Value> {
    q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| match i["applies_to"]["industries"].as_array() {
            Some(list) => list.iter().any(|x| x == "E"),
            None => true,
        })
        .map(|i| {
            let worst = i["options"]
                .as_array()
                .unwrap()
                .iter()
                .max_by(|a, b| {
                    a["risk"]
                        .as_f64()
                        .unwrap()
                        .total_cmp(&b["risk"].as_f64().unwrap())
                })
                .unwrap();
            (i["id"].as_str().unwrap().to_string(), worst["id"].clone())
        })
        .collect()
}

async fn consent(app: &TestApp, c: &Client) -> reqwest::Response {
    c.post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap()
}

/// Confirm the notice and submit `answers`; the report.
pub(crate) async fn submit(app: &TestApp, c: &Client, answers: &Map<String, Value>) -> Value {
    assert_eq!(consent(app, c).await.status(), StatusCode::OK);
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn status(c: &Client, url: String) -> StatusCode {
    c.get(url).send().await.unwrap().status()
}

async fn delete(app: &TestApp, c: &Client, id: i64) -> StatusCode {
    c.delete(app.url(&format!("/api/v1/checkup/reports/{id}")))
        .send()
        .await
        .unwrap()
        .status()
}

async fn csv(app: &TestApp, org: &Client) -> String {
    let bytes = org
        .get(app.url("/admin/checkups.csv"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    String::from_utf8(bytes[3..].to_vec()).unwrap()
}

#[tokio::test]
async fn the_notice_is_shown_and_confirmed_before_the_first_page() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await;
    let home = app.get_text(&c, "/checkup").await;
    assert!(home.contains("href=\"/checkup/notice\">开始体检"), "{home}");

    // no page, no draft, no submission before the notice is confirmed
    let r = c.get(app.url("/checkup/fill/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/checkup/notice");
    let csrf = app.csrf_token(&c, "/checkup/notice").await;
    let r = c
        .post(app.url("/checkup/fill/1"))
        .form(&[("csrf", csrf.as_str()), ("action", "save")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/checkup/notice");
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": {}, "draft": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "consent_required");
    assert_eq!(
        status(&c, app.url("/api/v1/checkup/draft")).await,
        StatusCode::NOT_FOUND
    );
    let before: Value = app.get_json(&c, "/api/v1/checkup/consent").await;
    assert!(before["consented_at"].is_null());
    assert_eq!(before["questionnaire_version"], q["version"]);

    // the notice says who reads the report, how long it is kept, and that it is no legal advice
    let notice = app.get_text(&c, "/checkup/notice").await;
    for promise in [
        "谁能看到您的报告",
        "商会（工商联）组织者账号",
        "法律顾问团律师账号和其他企业都不能在系统中查看您的报告",
        "直到贵企业自己删除",
        "不构成对具体事项的法律意见",
        "查阅记录",
    ] {
        assert!(notice.contains(promise), "{promise} missing");
    }
    assert!(notice.contains(q["version"].as_str().unwrap()));
    let sections = before["notice"].as_array().unwrap();
    assert_eq!(sections.len(), 3);
    assert!(sections[1]["points"].as_array().unwrap().len() >= 3);

    // the box must be ticked
    let r = c
        .post(app.url("/checkup/notice"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("请先勾选"));
    let r = c
        .post(app.url("/checkup/notice"))
        .form(&[("agree", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "CSRF token required");
    let r = c
        .post(app.url("/checkup/notice"))
        .form(&[("csrf", csrf.as_str()), ("agree", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/checkup/fill/1");

    // recorded with its time and the questionnaire version; a second confirmation keeps it
    let after: Value = app.get_json(&c, "/api/v1/checkup/consent").await;
    let at = after["consented_at"].as_str().unwrap().to_string();
    assert!(chrono::DateTime::parse_from_rfc3339(&at).is_ok(), "{at}");
    assert_eq!(after["questionnaire_version"], q["version"]);
    let again: Value = consent(&app, &c).await.json().await.unwrap();
    assert_eq!(again["consented_at"], at.as_str());
    assert_eq!(status(&c, app.url("/checkup/fill/1")).await, StatusCode::OK);
    let home = app.get_text(&c, "/checkup").await;
    assert!(home.contains("href=\"/checkup/fill/1\">开始体检"));
    assert!(app.get_text(&c, "/checkup/notice").await.contains("已于"));

    // only enterprises confirm; a login is needed
    let org = app.organizer().await;
    assert_eq!(consent(&app, &org).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        consent(&app, &app.anonymous()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test]
async fn an_organizer_opening_a_report_is_logged_and_shown_to_the_enterprise() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await;
    let id = submit(&app, &c, &riskiest(&q)).await["report_id"]
        .as_i64()
        .unwrap();
    let report_page = format!("/checkup/reports/{id}");
    let report_api = format!("/api/v1/checkup/reports/{id}");
    let log_api = format!("/api/v1/checkup/reports/{id}/access-log");

    // the enterprise's own openings are not logged
    assert_eq!(status(&c, app.url(&report_page)).await, StatusCode::OK);
    assert_eq!(status(&c, app.url(&report_api)).await, StatusCode::OK);
    let log: Value = app.get_json(&c, &log_api).await;
    assert_eq!(log["report_id"], id);
    assert!(log["entries"].as_array().unwrap().is_empty());
    assert!(app
        .get_text(&c, &report_page)
        .await
        .contains("还没有人打开过本报告"));

    // an organizer opens the page, then the API: two entries, newest first
    let org = app.organizer().await;
    let me: Value = app.get_json(&org, "/api/v1/me").await;
    let organizer_page = app.get_text(&org, &report_page).await;
    assert!(organizer_page.contains("您对本报告的查阅已记录"));
    assert!(!organizer_page.contains("永久删除本报告"));
    assert_eq!(status(&org, app.url(&report_api)).await, StatusCode::OK);
    let log: Value = app.get_json(&c, &log_api).await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert_eq!(e["viewer_id"], me["id"]);
        assert_eq!(e["viewer_role"], "organizer");
        assert_eq!(e["viewer_name"], me["display_name"]);
        assert!(chrono::DateTime::parse_from_rfc3339(e["accessed_at"].as_str().unwrap()).is_ok());
    }
    assert!(entries[0]["accessed_at"].as_str() >= entries[1]["accessed_at"].as_str());
    // …and the report page shows them to the enterprise
    let own_page = app.get_text(&c, &report_page).await;
    assert!(own_page.contains("查阅记录与保密"));
    assert!(own_page.contains(&format!(
        "{}（账号 {}）",
        me["display_name"].as_str().unwrap(),
        me["id"]
    )));
    assert!(own_page.contains("组织者"));
    assert!(own_page.contains(&format!("/checkup/reports/{id}/delete")));

    // the log is the enterprise's own: organizers 403; others see neither report nor log
    let r = org.get(app.url(&log_api)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(r).await["code"], "forbidden");
    let (other, _) = app.register_enterprise(2).await;
    add_staff(&app, "lawyer", "lawyer-privacy", "lawyer-pass-123");
    let lawyer = app.logged_in("lawyer-privacy", "lawyer-pass-123").await;
    for stranger in [&other, &lawyer] {
        for path in [&report_page, &report_api, &log_api] {
            assert_eq!(
                status(stranger, app.url(path)).await,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
    assert_eq!(
        status(&app.anonymous(), app.url(&log_api)).await,
        StatusCode::UNAUTHORIZED
    );
    // refused openings are not logged
    let log: Value = app.get_json(&c, &log_api).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_report_is_gone_for_everyone_and_from_the_dashboard() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, uscc) = app.register_enterprise(1).await;
    let (other, _) = app.register_enterprise(2).await;
    let org = app.organizer().await;
    let id = submit(&app, &c, &riskiest(&q)).await["report_id"]
        .as_i64()
        .unwrap();
    assert_eq!(csv(&app, &org).await.lines().count(), 2);
    assert!(app.get_text(&org, "/admin/checkups").await.contains(&uscc));
    let report_api = format!("/api/v1/checkup/reports/{id}");
    assert_eq!(status(&org, app.url(&report_api)).await, StatusCode::OK);

    // only the enterprise deletes
    assert_eq!(delete(&app, &org, id).await, StatusCode::FORBIDDEN);
    assert_eq!(delete(&app, &other, id).await, StatusCode::NOT_FOUND);
    assert_eq!(
        delete(&app, &app.anonymous(), id).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(delete(&app, &c, id).await, StatusCode::NO_CONTENT);

    // then 404 for everyone, everywhere
    for who in [&c, &org] {
        for path in [
            report_api.clone(),
            format!("/checkup/reports/{id}"),
            format!("/api/v1/checkup/reports/{id}/access-log"),
        ] {
            assert_eq!(
                status(who, app.url(&path)).await,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
    assert_eq!(delete(&app, &c, id).await, StatusCode::NOT_FOUND);
    // no dashboard, 回访 list or export counts it
    assert_eq!(csv(&app, &org).await.lines().count(), 1, "only the header");
    let dashboard = app.get_text(&org, "/admin/checkups").await;
    assert!(!dashboard.contains(&uscc));
    assert!(dashboard.contains("还没有企业提交体检"));
    assert!(!app.get_text(&c, "/checkup").await.contains("我的体检报告"));

    // through the pages: a confirmation, then a CSRF-protected form
    let second = submit(&app, &c, &riskiest(&q)).await["report_id"]
        .as_i64()
        .unwrap();
    assert!(second > id, "a deleted report's id is never reused");
    let confirm = format!("/checkup/reports/{second}/delete");
    assert!(app
        .get_text(&c, &format!("/checkup/reports/{second}"))
        .await
        .contains(&confirm));
    let page = app.get_text(&c, &confirm).await;
    assert!(page.contains("确认永久删除") && page.contains("无法撤销"));
    assert_eq!(status(&org, app.url(&confirm)).await, StatusCode::FORBIDDEN);
    assert_eq!(
        status(&other, app.url(&confirm)).await,
        StatusCode::NOT_FOUND
    );
    let r = c
        .post(app.url(&confirm))
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "CSRF token required");
    let csrf = app.csrf_token(&c, &confirm).await;
    let r = c
        .post(app.url(&confirm))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/checkup?notice=report_deleted");
    assert!(app
        .get_text(&c, "/checkup?notice=report_deleted")
        .await
        .contains("报告已永久删除"));
    assert_eq!(
        status(&org, app.url(&format!("/api/v1/checkup/reports/{second}"))).await,
        StatusCode::NOT_FOUND
    );

    // a draft is deleted the same way, by its draft id
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": {}, "draft": true}))
        .send()
        .await
        .unwrap();
    let draft_id = r.json::<Value>().await.unwrap()["draft_id"]
        .as_i64()
        .unwrap();
    assert!(app
        .get_text(&c, "/checkup")
        .await
        .contains(&format!("/checkup/reports/{draft_id}/delete")));
    assert_eq!(delete(&app, &org, draft_id).await, StatusCode::NOT_FOUND);
    assert_eq!(delete(&app, &c, draft_id).await, StatusCode::NO_CONTENT);
    assert_eq!(
        status(&c, app.url("/api/v1/checkup/draft")).await,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn organizer_outputs_carry_levels_and_dimensions_never_admissions() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let answers = riskiest(&q);
    let mut reports = Vec::new();
    // enough enterprises for items to be listed as frequent
    for n in 1..=3 {
        let (c, _) = app.register_enterprise(n).await;
        reports.push(submit(&app, &c, &answers).await);
    }
    let findings = reports[0]["findings"].as_array().unwrap();
    // a known admission: the text of a red-line finding (today "存在虚开发票…")
    let admission = findings
        .iter()
        .find(|f| f["red_line"] == true)
        .expect("the answers admit a red-line matter")["finding"]
        .as_str()
        .unwrap();
    let org = app.organizer().await;
    // it is in the full report, which an organizer may open (and which is logged)…
    let full = app
        .get_text(
            &org,
            &format!("/checkup/reports/{}", reports[0]["report_id"]),
        )
        .await;
    assert!(full.contains(admission), "{admission}");
    // …and nowhere in the dashboard, the 回访 list or the export
    let dashboard = app.get_text(&org, "/admin/checkups").await;
    let export = csv(&app, &org).await;
    assert_eq!(export.lines().count(), 4);
    assert!(dashboard.contains("回访名单") && dashboard.contains("最常见的风险点"));
    for shown in [&dashboard, &export] {
        assert!(!shown.contains(admission), "{admission}");
        assert!(!shown.contains("虚开发票"));
        for f in findings {
            let finding = f["finding"].as_str().unwrap();
            assert!(!shown.contains(finding), "{finding}");
            let answer = f["answer"].as_str().unwrap();
            if answer.chars().count() >= 4 {
                assert!(!shown.contains(answer), "{answer}");
            }
        }
    }
    // what they do show: levels by dimension, and item ids among the frequent ones
    let items = q["items"].as_array().unwrap();
    let high = findings.iter().find(|f| f["level"] == "high").unwrap();
    let item = items.iter().find(|i| i["id"] == high["item_id"]).unwrap();
    let dimension = reports[0]["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == item["dimension"])
        .unwrap();
    let tag = format!("{}：高", dimension["name"].as_str().unwrap());
    assert!(dashboard.contains(&tag), "{tag}");
    assert!(export.contains(&tag), "{tag}");
    assert!(findings
        .iter()
        .any(|f| dashboard.contains(f["item_id"].as_str().unwrap())));
    assert!(!export.lines().next().unwrap().contains("红线"));
    app.stop().await;
}
