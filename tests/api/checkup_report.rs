//! The check-up report across questionnaire versions: a report of v2026.1 keeps opening exactly
//! as it was computed after the server moves to the v2 questionnaire, and the next check-up is
//! compared with it per dimension; a v2 report leads with at most ten findings, folds the rest
//! into an appendix, marks 不清楚 as 需律师核实 with the next step, labels the company's own
//! exposure to loss, and says how current its legal basis is.

use crate::helpers::{TestApp, ENTERPRISE_PASSWORD};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

const V2026_1: &str = include_str!("../../src/checkup/questionnaire-2026.1.toml");

async fn questionnaire(app: &TestApp) -> Value {
    app.get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await
}

/// Answers for every item that applies to section E: the highest-risk option, or for the
/// items in `chosen` the option named there.
fn answers(q: &Value, chosen: &[(&str, &str)]) -> Map<String, Value> {
    q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| match i["applies_to"]["industries"].as_array() {
            Some(list) => list.iter().any(|x| x == "E"),
            None => true,
        })
        .map(|i| {
            let id = i["id"].as_str().unwrap();
            let riskiest = i["options"]
                .as_array()
                .unwrap()
                .iter()
                .max_by(|a, b| {
                    a["risk"]
                        .as_f64()
                        .unwrap()
                        .total_cmp(&b["risk"].as_f64().unwrap())
                })
                .unwrap()["id"]
                .clone();
            let pick = chosen
                .iter()
                .find(|(item, _)| *item == id)
                .map(|(_, option)| json!(option))
                .unwrap_or(riskiest);
            (id.to_string(), pick)
        })
        .collect()
}

/// Submit after confirming the notice before starting, where the server asks for it.
async fn submit(app: &TestApp, c: &Client, answers: &Map<String, Value>) -> Value {
    // the confirmation exists once the privacy notice is merged; without it, it is a 404
    let _ = c.post(app.url("/api/v1/checkup/consent")).send().await;
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": answers}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// What a report computed: everything but the lecture recommendations, which follow the
/// calendar.
fn results(report: &Value) -> Value {
    let mut r = report.clone();
    r.as_object_mut().unwrap().remove("recommended_sessions");
    r
}

#[tokio::test]
async fn reports_keep_their_version_and_compare_across_versions() {
    let dir = tempfile::tempdir().unwrap();
    let old_file = dir.path().join("questionnaire-2026.1.toml");
    std::fs::write(&old_file, V2026_1).unwrap();
    let (data, media) = (dir.path().join("data"), dir.path().join("media"));

    // a check-up answered on v2026.1
    let (d, m) = (data.clone(), media.clone());
    let app = TestApp::spawn_with(move |c| {
        c.data_dir = d;
        c.media_dir = m;
        c.questionnaire_path = Some(old_file);
    })
    .await;
    let q1 = questionnaire(&app).await;
    assert_eq!(q1["version"], "2026.1");
    let (c, uscc) = app.register_enterprise(1).await;
    let old = submit(&app, &c, &answers(&q1, &[])).await;
    let old_id = old["report_id"].as_i64().unwrap();
    assert_eq!(old["overall_level"], "high");
    app.stop().await;

    // the server now ships the v2 questionnaire
    let app = TestApp::spawn_with(move |c| {
        c.data_dir = data;
        c.media_dir = media;
    })
    .await;
    let q2 = questionnaire(&app).await;
    assert_eq!(q2["scoring"], 2);
    let law_date = q2["law_date"].as_str().unwrap().to_string();
    let c = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let reopened: Value = app
        .get_json(&c, &format!("/api/v1/checkup/reports/{old_id}"))
        .await;
    assert_eq!(
        results(&reopened),
        results(&old),
        "an old report opens as computed"
    );
    let old_page = app
        .get_text(&c, &format!("/checkup/reports/{old_id}"))
        .await;
    assert!(!old_page.contains("法律依据更新至"));
    assert!(!old_page.contains("class=\"appendix\""), "rules 1 list all");

    // a v2 check-up: 不清楚 on the dishonest list, no control against embezzlement
    let new = submit(
        &app,
        &c,
        &answers(
            &q2,
            &[
                ("disp-dishonest-list", "unchecked"),
                ("integ-embezzlement", "no"),
            ],
        ),
    )
    .await;
    let findings = new["findings"].as_array().unwrap();
    assert!(findings.len() > 10);
    // the JSON report says how it was computed and what 不清楚 needs
    assert_eq!(new["scoring"], 2);
    assert_eq!(new["law_date"].as_str(), Some(law_date.as_str()));
    assert_eq!(reopened["scoring"], 1);
    assert!(reopened["law_date"].is_null());
    let unsure = findings
        .iter()
        .find(|f| f["item_id"] == "disp-dishonest-list")
        .expect("the 不清楚 finding");
    assert_eq!(unsure["needs_lawyer"], true);
    assert!(unsure["verify"]
        .as_str()
        .unwrap()
        .contains("中国执行信息公开网"));
    let loss = findings
        .iter()
        .find(|f| f["item_id"] == "integ-embezzlement")
        .expect("the embezzlement finding");
    assert_eq!(loss["severity"], "loss");
    let page = app
        .get_text(&c, &format!("/checkup/reports/{}", new["report_id"]))
        .await;
    assert!(page.contains(&format!("法律依据更新至 {law_date}")));
    let (top, appendix) = page
        .split_once("<details class=\"appendix\">")
        .expect("an appendix");
    assert!(top.matches("<li class=\"finding card").count() <= 10);
    assert!(appendix.contains("<li class=\"finding card"));
    let verify = q2["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "disp-dishonest-list")
        .unwrap()["verify"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(page.contains("需律师核实") && page.contains("核实方法"));
    assert!(page.contains(&verify), "the next step for 不清楚");
    assert!(page.contains("经营损失风险"));
    assert!(
        page.contains("class=\"worst\""),
        "badges name their worst finding"
    );
    // compared with the v2026.1 report, per dimension, saying the versions differ
    assert!(page.contains("较上次"));
    assert!(page.contains("上次体检使用问卷 2026.1") && page.contains("评分规则也已更新"));
    app.stop().await;
}
