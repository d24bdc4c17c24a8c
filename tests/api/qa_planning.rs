//! Precision planning (issue 16): next month's topics proposed from check-ups, questions and
//! lectures held; adopting them makes a draft program with unplaced sessions.

use crate::helpers::{add_staff, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    crate::helpers::pool_of(&app.dir).await
}

/// Answers for section E: the riskiest option on the items of `risky` dimensions, the safest
/// elsewhere.
async fn answers(app: &TestApp, risky: &[&str]) -> Map<String, Value> {
    let q: Value = app
        .get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await;
    q["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| match i["applies_to"]["industries"].as_array() {
            Some(list) => list.iter().any(|x| x == "E"),
            None => true,
        })
        .map(|i| {
            let worst = risky.contains(&i["dimension"].as_str().unwrap());
            let options = i["options"].as_array().unwrap().iter();
            let risk = |o: &&Value| o["risk"].as_f64().unwrap();
            let pick = if worst {
                options.max_by(|a, b| risk(a).total_cmp(&risk(b)))
            } else {
                options.min_by(|a, b| risk(a).total_cmp(&risk(b)))
            }
            .unwrap();
            (i["id"].as_str().unwrap().to_string(), pick["id"].clone())
        })
        .collect()
}

async fn submit(app: &TestApp, c: &Client, answers: &Map<String, Value>) {
    let r = c
        .post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// A lawyer whose profile lists `topic` (profiles are edited on another part of issue 16's
/// pages; the test writes the rows those pages write).
async fn lawyer_for(app: &TestApp, name: &str, topic: &str) -> (Client, i64) {
    add_staff(app, "lawyer", name, "lawyer-test-pass-1");
    let c = app.logged_in(name, "lawyer-test-pass-1").await;
    let id = app.get_json::<Value>(&c, "/api/v1/me").await["id"]
        .as_i64()
        .unwrap();
    let db = pool(app).await;
    sqlx::query(
        "INSERT INTO lawyer_profiles (user_id, firm, updated_at) VALUES ($1, '示例律师事务所', '2026-12-01T00:00:00Z')",
    )
    .bind(id)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO lawyer_topics (user_id, topic) VALUES ($1, $2)")
        .bind(id)
        .bind(topic)
        .execute(&db)
        .await
        .unwrap();
    (c, id)
}

#[tokio::test]
async fn proposals_rank_topics_by_affected_enterprises_and_adopting_drafts_a_program() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (lawyer, lawyer_id) = lawyer_for(&app, "labour1690", "labour").await;
    let labour = answers(&app, &["labour"]).await;
    for n in 1690..1693 {
        let (c, _) = app.register_enterprise(n).await;
        submit(&app, &c, &labour).await;
    }
    let (c, _) = app.register_enterprise(1693).await;
    submit(&app, &c, &answers(&app, &["contracts"]).await).await;

    let v: Value = app.get_json(&org, "/api/v1/planning/proposals").await;
    let p = v["proposals"].as_array().unwrap();
    assert_eq!(p[0]["topic"], "labour", "{v}");
    assert_eq!(p[0]["high_enterprises"], 3);
    assert_eq!(p[0]["evidence"][0], "3 家建筑业企业劳动用工为高风险");
    assert_eq!(p[0]["lawyers"][0]["id"], lawyer_id);
    assert_eq!(p[0]["category"], "劳动用工");
    assert_eq!(p[1]["topic"], "contracts");
    assert_eq!(p[1]["medium_enterprises"], 1, "{v}");
    assert_eq!(p[1]["evidence"][0], "1 家企业合同管理为中风险");
    assert!(p[1]["lawyers"].as_array().unwrap().is_empty());
    let page = app.get_text(&org, "/admin/planning").await;
    assert!(page.contains("3 家建筑业企业劳动用工为高风险"), "{page}");

    // only organizers plan
    let r = lawyer
        .get(app.url("/api/v1/planning/proposals"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let adopt = |c: &Client, body: Value| {
        c.post(app.url("/api/v1/planning/programs"))
            .json(&body)
            .send()
    };
    let r = adopt(&org, json!({"topics": ["nonsense"]})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = adopt(&org, json!({"topics": []})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = adopt(&lawyer, json!({"topics": ["labour"]})).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = adopt(&org, json!({"topics": ["labour", "contracts"]}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let draft: Value = r.json().await.unwrap();
    let program = draft["id"].as_i64().unwrap();
    assert_eq!(draft["session_ids"].as_array().unwrap().len(), 2);
    let db = pool(&app).await;
    let rows: Vec<(String, Option<String>, Option<i64>, String)> = sqlx::query_as(
        "SELECT s.category, s.starts_at, l.user_id, l.name
           FROM lecture_sessions s JOIN lecturers l ON l.id = s.lecturer_id
          WHERE s.program_id = $1 ORDER BY s.id",
    )
    .bind(program)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.1.is_none()), "sessions are unplaced");
    assert_eq!(rows[0].0, "劳动用工");
    assert_eq!(rows[0].2, Some(lawyer_id));
    assert_eq!(rows[1].0, "合同管理");
    assert_eq!(rows[1].3, "待定");
    let p: Value = app
        .get_json(&org, &format!("/api/v1/programs/{program}"))
        .await;
    assert!(p.to_string().contains("精准普法（草案）"), "{p}");
}
