//! The legal health check: the questionnaire has the promised shape; bad answers are named
//! item by item; a report scores each dimension, cites the law, recommends lectures and is
//! private to its enterprise; the check can be filled page by page with a draft; organizers see
//! a risk dashboard and a CSV; a broken questionnaire file stops the server with its line.

use crate::helpers::{problem, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

async fn questionnaire(app: &TestApp) -> Value {
    app.get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await
}

/// Answers for every item that applies to `industry`, choosing with `pick(item)`.
fn answers(q: &Value, industry: &str, pick: impl Fn(&Value) -> Value) -> Map<String, Value> {
    q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| match i["applies_to"]["industries"].as_array() {
            Some(list) => list.iter().any(|x| x == industry),
            None => true,
        })
        .map(|i| (i["id"].as_str().unwrap().to_string(), pick(i)))
        .collect()
}

fn safest(i: &Value) -> Value {
    i["options"][0]["id"].clone()
}

fn riskiest(i: &Value) -> Value {
    let opts = i["options"].as_array().unwrap();
    opts.iter()
        .max_by(|a, b| {
            a["risk"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["risk"].as_f64().unwrap())
        })
        .unwrap()["id"]
        .clone()
}

/// Confirm the notice (answers are refused before) and submit; the confirmation is refused
/// for accounts that are not enterprises, which the submission then reports too.
async fn submit(app: &TestApp, c: &Client, answers: &Map<String, Value>) -> reqwest::Response {
    c.post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap();
    c.post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": answers}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn questionnaire_has_the_promised_shape() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    assert!(!q["version"].as_str().unwrap().is_empty());
    assert!(q["dimensions"].as_array().unwrap().len() >= 10);
    let items = q["items"].as_array().unwrap();
    assert!(items.len() >= 60);
    for i in items {
        for key in [
            "id",
            "dimension",
            "text",
            "options",
            "weight",
            "red_line",
            "applies_to",
            "legal_basis",
        ] {
            assert!(!i[key].is_null(), "{key} missing in {}", i["id"]);
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_answers_are_named() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await; // industry E
    let mut a = answers(&q, "E", safest);
    a.insert("no-such-item".into(), json!("yes"));
    a.insert("gov-capital-paid-5y".into(), json!("no-such-option"));
    a.insert("safe-discharge-permit".into(), json!("yes")); // B, C, D, N only
    let missing = a.keys().find(|k| k.starts_with("lab-")).unwrap().clone();
    a.remove(&missing);
    let r = submit(&app, &c, &a).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    let fields: Vec<String> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert!(fields.contains(&"answers.no-such-item".to_string()));
    assert!(fields.contains(&"answers.gov-capital-paid-5y".to_string()));
    assert!(fields.contains(&"answers.safe-discharge-permit".to_string()));
    let all = p["detail"].as_str().unwrap();
    assert!(all.contains(&missing), "missing item named: {all}");
    // organizers do not take the check
    let org = app.organizer().await;
    assert_eq!(submit(&app, &org, &a).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        submit(&app, &app.anonymous(), &a).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test]
async fn report_scores_links_lectures_and_is_private() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await;
    // compliant everywhere except labour
    let mut a = answers(&q, "E", safest);
    for i in q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["dimension"] == "labour")
    {
        a.insert(i["id"].as_str().unwrap().into(), riskiest(i));
    }
    let r = submit(&app, &c, &a).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        report["overall_level"], "high",
        "no written contracts is a red line"
    );
    let labour = report["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "labour")
        .unwrap();
    assert_eq!(labour["level"], "high");
    assert!(labour["score"].as_u64().unwrap() < 20);
    for d in report["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["id"] != "labour")
    {
        assert_eq!(d["score"], 100);
    }
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert!(findings
        .iter()
        .all(|f| f["legal_basis"].as_str().is_some_and(|s| !s.is_empty())));
    assert!(findings
        .iter()
        .all(|f| f["recommendation"].as_str().is_some_and(|s| !s.is_empty())));
    // the demo month's employment lectures come first
    let recs = report["recommended_sessions"].as_array().unwrap();
    assert!(!recs.is_empty());
    assert_eq!(recs[0]["category"], "劳动用工");
    assert!(recs[0]["id"].as_i64().is_some() && recs[0]["title"].is_string());

    let id = report["report_id"].as_i64().unwrap();
    let page = c
        .get(app.url(&format!("/checkup/reports/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg class=\"radar\""));
    assert!(html.contains("法律依据") && html.contains(recs[0]["title"].as_str().unwrap()));

    // another enterprise cannot see it, an organizer can
    let (other, _) = app.register_enterprise(2).await;
    let r = other
        .get(app.url(&format!("/api/v1/checkup/reports/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = other
        .get(app.url(&format!("/checkup/reports/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let org = app.organizer().await;
    let r = org
        .get(app.url(&format!("/api/v1/checkup/reports/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // a second check-up after fixing labour shows the change
    let fixed = answers(&q, "E", safest);
    let r = submit(&app, &c, &fixed).await;
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["overall_level"], "low");
    assert!(second["findings"].as_array().unwrap().is_empty());
    let html = app
        .get_text(&c, &format!("/checkup/reports/{}", second["report_id"]))
        .await;
    assert!(html.contains("较上次") && html.contains("↑"));
    app.stop().await;
}

#[tokio::test]
async fn page_by_page_with_drafts_and_missing_items() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await;
    let r = c
        .post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the notice confirmed first");
    let page1 = app.get_text(&c, "/checkup/fill/1").await;
    assert!(page1.contains("公司治理"));
    // construction appears for section E
    let all_pages: Vec<String> = {
        let mut v = Vec::new();
        for p in 1..=12 {
            let r = c
                .get(app.url(&format!("/checkup/fill/{p}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            v.push(r.text().await.unwrap());
        }
        v
    };
    assert!(all_pages.iter().any(|p| p.contains("<h1>建设工程</h1>")));
    let r = c.get(app.url("/checkup/fill/13")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let csrf = app.csrf_token(&c, "/checkup/fill/1").await;
    let gov: Vec<(String, String)> = q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["dimension"] == "governance")
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                safest(i).as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut form = vec![
        ("csrf".to_string(), csrf.clone()),
        ("action".into(), "next".into()),
    ];
    form.extend(gov.iter().cloned());
    let r = c
        .post(app.url("/checkup/fill/1"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/checkup/fill/2");
    // the draft is kept
    let draft: Value = app.get_json(&c, "/api/v1/checkup/draft").await;
    assert_eq!(draft["answers"].as_object().unwrap().len(), gov.len());
    assert!(!draft["unanswered"].as_array().unwrap().is_empty());
    // submitting now lists every open item
    let r = c
        .post(app.url("/checkup/fill/2"))
        .form(&[("csrf", csrf.as_str()), ("action", "submit")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("道题未作答"));
    let open = draft["unanswered"].as_array().unwrap();
    assert!(html.contains(&format!("#q-{}", open[0].as_str().unwrap())));
    // answer the rest through the API draft, then submit through the page
    let all = answers(&q, "E", safest);
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({"answers": all, "draft": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(app.url("/checkup/fill/12"))
        .form(&[("csrf", csrf.as_str()), ("action", "submit")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/checkup/reports/"));
    let r = c
        .get(app.url("/api/v1/checkup/draft"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "draft consumed by the submission"
    );
    app.stop().await;
}

#[tokio::test]
async fn organizer_dashboard_and_csv() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c1, uscc1) = app.register_enterprise(1).await;
    let (c2, _) = app.register_enterprise(2).await;
    submit(&app, &c1, &answers(&q, "E", riskiest)).await;
    submit(&app, &c2, &answers(&q, "E", safest)).await;
    let org = app.organizer().await;
    let r = org.get(app.url("/admin/checkups")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("class=\"heat\""));
    assert!(
        html.contains(&uscc1),
        "high-risk enterprise listed for follow-up"
    );
    let r = org
        .get(app.url("/admin/checkups.csv"))
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains(&uscc1) && text.contains("总体风险"));
    let r = c1.get(app.url("/admin/checkups")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn a_broken_questionnaire_stops_the_server_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.toml");
    let text =
        pufa::checkup::questionnaire::BUILTIN.replacen("weight = 4", "weight = \"heavy\"", 1);
    std::fs::write(&file, text).unwrap();
    let mut config = pufa::config::Config::new(dir.path().join("data"), dir.path().join("media"));
    config.questionnaire_path = Some(file);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = pufa::serve(config, listener, std::future::ready(()))
        .await
        .expect_err("must refuse to start");
    let msg = err.to_string();
    assert!(msg.contains("line"), "{msg}");
}
