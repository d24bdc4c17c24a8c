//! End to end in chromium (issue 16), on a phone-sized window: an enterprise opens its check-up
//! report, clicks 向律师提问 on a finding, finds the form pre-filled with the finding, submits;
//! the lawyer answers in Markdown (API); the enterprise reads the rendered answer on the thread
//! page. Screenshots go to target/tmp/e2e-qa-*.png.

use crate::checkup_privacy::riskiest;
use crate::helpers::{TestApp, ENTERPRISE_PASSWORD};
use crate::qa_questions::{lawyer, post_json};
use crate::webdriver::Browser;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn an_enterprise_asks_from_a_report_finding_and_reads_the_answer_in_chromium() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let q: Value = app
        .get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await;
    let all_topics: Vec<Value> = q["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    let (law, l) = lawyer(&app, "lawyer-browser").await;
    let r = org
        .put(app.url(&format!("/api/v1/lawyers/{l}/profile")))
        .json(&json!({"firm": "示例律师事务所", "topics": all_topics, "industries": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let (ent, uscc) = app.register_enterprise(7).await;
    let r = post_json(&app, &ent, "/api/v1/checkup/consent", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = ent
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({ "answers": riskiest(&q) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    let report_id = report["report_id"].as_i64().unwrap();
    let first = &report["findings"][0];

    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/login?next=/checkup/reports/{report_id}")))
        .await;
    browser.fill("#login", &uscc).await;
    browser.fill("#password", ENTERPRISE_PASSWORD).await;
    browser
        .eval("document.querySelector('form.stack').submit();", vec![])
        .await;
    // the report, with a 向律师提问 link on the finding
    let item = first["item_id"].as_str().unwrap();
    let href = browser.wait_for(
        &format!(
            "var a=document.querySelector('#f-{item} a.ask-lawyer'); return a ? a.getAttribute('href') : null;"
        ),
    )
    .await;
    assert!(href
        .as_str()
        .unwrap()
        .contains(&format!("checkup_id={report_id}")));
    browser
        .eval(
            &format!("document.querySelector('#f-{item} a.ask-lawyer').click();"),
            vec![],
        )
        .await;
    let prefilled = browser
        .wait_for(
            "var t=document.getElementById('q-title'); if(!t) return null; \
         return {title: t.value, topic: document.getElementById('q-topic').value, \
                 body: document.getElementById('q-body').value, \
                 checkup: document.querySelector('input[name=checkup_id]').value, \
                 finding: document.querySelector('input[name=finding]').value};",
        )
        .await;
    let expected_title: String = first["question"]
        .as_str()
        .unwrap()
        .chars()
        .take(60)
        .collect();
    assert_eq!(prefilled["title"], expected_title.as_str(), "{prefilled}");
    assert!(
        !prefilled["topic"].as_str().unwrap().is_empty(),
        "{prefilled}"
    );
    assert_eq!(prefilled["body"], first["finding"], "{prefilled}");
    assert_eq!(prefilled["checkup"], report_id.to_string().as_str());
    assert_eq!(prefilled["finding"], item);
    browser
        .screenshot(&crate::helpers::screenshot_path("e2e-qa-form.png"))
        .await;
    browser
        .eval("document.querySelector('form.stack').submit();", vec![])
        .await;
    let path = browser.wait_for(
        "return document.body.textContent.indexOf('问题已提交') >= 0 ? location.pathname : null;",
    )
    .await;
    let id: i64 = path
        .as_str()
        .unwrap()
        .trim_start_matches("/questions/")
        .parse()
        .unwrap();

    // the lawyer got it (everything matches) and answers in Markdown
    let v: Value = app.get_json(&law, &format!("/api/v1/questions/{id}")).await;
    assert_eq!(v["assigned_lawyer_id"], l);
    assert_eq!(v["checkup_id"], report_id);
    assert_eq!(v["finding"], item);
    let r = post_json(
        &app,
        &law,
        &format!("/api/v1/questions/{id}/messages"),
        json!({"body": "**整改要点**：\n\n1. 补签书面合同\n2. 保存送达证据\n\n<img src=x onerror=alert(1)>"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    browser.goto(&app.url(&format!("/questions/{id}"))).await;
    let answer = browser
        .wait_for(
            "var a=document.querySelector('.msg-answer .msg-body'); return a ? a.innerHTML : null;",
        )
        .await;
    let html = answer.as_str().unwrap();
    assert!(html.contains("<strong>整改要点</strong>"), "{html}");
    assert!(html.contains("<li>补签书面合同</li>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    let status = browser
        .eval(
            "return document.getElementById('q-status').textContent;",
            vec![],
        )
        .await;
    assert_eq!(status, "已答复");
    // the page fits the phone: nothing wider than the window
    let overflow = browser
        .eval(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await;
    assert_eq!(overflow, false);
    browser
        .screenshot(&crate::helpers::screenshot_path("e2e-qa-thread.png"))
        .await;
    browser.quit().await;
    app.stop().await;
}
