//! 回访 follow-ups (issue 16): a high-risk check-up opens one for the enterprise's advisor (or
//! the organizers' queue), the advisor records contacts, 已整改 invites a retake, the next
//! report is recorded on the follow-up with the change of levels; who may see what; overdue
//! on a manual clock; the loop dashboard's counts.

use crate::helpers::{add_staff, TestApp};
use chrono::{DateTime, Duration, TimeZone, Utc};
use pufa::clock::Clock;
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

const LAWYER_PASSWORD: &str = "lawyer-test-pass-1";

/// A server on a manual clock standing at `at`, with logins lasting the weeks a test spans.
async fn app_at(at: DateTime<Utc>) -> (TestApp, Clock) {
    let clock = Clock::manual(at);
    let app = TestApp::spawn_with(|c| {
        c.clock = clock.clone();
        c.session_hours = 24 * 120;
    })
    .await;
    (app, clock)
}

fn december() -> DateTime<Utc> {
    // 10:00 in Shanghai
    Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).unwrap()
}

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    crate::helpers::pool_of(&app.dir).await
}

/// `answers` choosing for every item applying to section E its riskiest (or safest) option.
async fn answers(app: &TestApp, riskiest: bool) -> Map<String, Value> {
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
            let options = i["options"].as_array().unwrap().iter();
            let risk = |o: &&Value| o["risk"].as_f64().unwrap();
            let pick = if riskiest {
                options.max_by(|a, b| risk(a).total_cmp(&risk(b)))
            } else {
                options.min_by(|a, b| risk(a).total_cmp(&risk(b)))
            }
            .unwrap();
            (i["id"].as_str().unwrap().to_string(), pick["id"].clone())
        })
        .collect()
}

/// Confirm the notice and submit `answers`; the report.
async fn submit(app: &TestApp, c: &Client, answers: &Map<String, Value>) -> Value {
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
    r.json().await.unwrap()
}

async fn me(app: &TestApp, c: &Client) -> i64 {
    let v: Value = app.get_json(c, "/api/v1/me").await;
    v["id"].as_i64().unwrap()
}

async fn lawyer(app: &TestApp, name: &str) -> (Client, i64) {
    add_staff(app, "lawyer", name, LAWYER_PASSWORD);
    let c = app.logged_in(name, LAWYER_PASSWORD).await;
    let id = me(app, &c).await;
    (c, id)
}

/// An advisor group of `lawyer` and `enterprise` (written as the organizer's advisor-group
/// page would: that page belongs to another part of issue 16).
async fn group(app: &TestApp, lawyer: i64, enterprise: i64) {
    let db = pool(app).await;
    let g: i64 = sqlx::query_scalar(
        "INSERT INTO advisor_groups (name, created_at) VALUES ('示例顾问组', '2026-12-01T00:00:00Z') RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO advisor_group_lawyers (group_id, lawyer_id) VALUES ($1, $2)")
        .bind(g)
        .bind(lawyer)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO advisor_group_enterprises (group_id, enterprise_id) VALUES ($1, $2)")
        .bind(g)
        .bind(enterprise)
        .execute(&db)
        .await
        .unwrap();
}

async fn followups(app: &TestApp, c: &Client, query: &str) -> Value {
    let r = c
        .get(app.url(&format!("/api/v1/followups{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn followup(app: &TestApp, c: &Client, id: i64) -> (StatusCode, Value) {
    let r = c
        .get(app.url(&format!("/api/v1/followups/{id}")))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn contact(app: &TestApp, c: &Client, id: i64, outcome: &str, note: &str) -> StatusCode {
    c.post(app.url(&format!("/api/v1/followups/{id}/contacts")))
        .json(&json!({"outcome": outcome, "note": note}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn inbox_kinds(app: &TestApp, c: &Client) -> Vec<String> {
    let v: Value = app.get_json(c, "/api/v1/notifications").await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The enterprise's own follow-ups (the newest first).
async fn own(app: &TestApp, c: &Client) -> Vec<Value> {
    followups(app, c, "").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_high_report_is_followed_up_to_a_retaken_check_up() {
    let (app, clock) = app_at(december()).await;
    let (ent, _) = app.register_enterprise(1601).await;
    let ent_id = me(&app, &ent).await;
    let (adv, adv_id) = lawyer(&app, "advisor1601").await;
    group(&app, adv_id, ent_id).await;
    let risky = answers(&app, true).await;

    let report = submit(&app, &ent, &risky).await;
    let list = own(&app, &ent).await;
    assert_eq!(list.len(), 1);
    let f = &list[0];
    let id = f["id"].as_i64().unwrap();
    assert_eq!(f["advisor_id"], adv_id);
    assert_eq!(f["status"], "open");
    // opened 12-03 in Shanghai, due 15 days later
    assert_eq!(f["due_on"], "2026-12-18");
    assert_eq!(f["levels"]["overall"], "high");
    assert!(inbox_kinds(&app, &adv)
        .await
        .contains(&"followup_due".into()));
    let page = app
        .get_text(&ent, &format!("/checkup/reports/{}", report["report_id"]))
        .await;
    assert!(page.contains("本报告已安排回访"), "{page}");
    // the advisor sees it in its list; the snapshot carries levels, no answer text
    let mine = followups(&app, &adv, "").await;
    assert_eq!(mine["items"][0]["id"], id);
    let (status, detail) = followup(&app, &adv, id).await;
    assert_eq!(status, StatusCode::OK);
    let text = detail.to_string();
    for finding in report["findings"].as_array().unwrap() {
        for key in ["answer", "finding", "question"] {
            let s = finding[key].as_str().unwrap_or_default();
            if s.chars().count() > 4 {
                assert!(!text.contains(s), "{key} text in the follow-up: {s}");
            }
        }
    }
    assert_eq!(detail["mobile"], "13900001601");

    // 已联系, then 已整改 a few days later
    clock.advance(Duration::days(2));
    assert_eq!(
        contact(&app, &adv, id, "contacted", "电话联系，约定整改").await,
        StatusCode::CREATED
    );
    assert_eq!(
        followup(&app, &adv, id).await.1["followup"]["status"],
        "contacted"
    );
    clock.advance(Duration::days(5));
    assert_eq!(
        contact(&app, &adv, id, "rectified", "劳动合同已补签").await,
        StatusCode::CREATED
    );
    assert!(inbox_kinds(&app, &ent)
        .await
        .contains(&"retake_invited".into()));
    // the enterprise sees the outcome, not the advisor's notes
    let (_, seen) = followup(&app, &ent, id).await;
    assert_eq!(seen["followup"]["status"], "rectified");
    assert_eq!(seen["contacts"].as_array().unwrap().len(), 2);
    assert!(seen["contacts"][1]["note"].is_null());
    assert!(seen["mobile"].is_null());
    assert!(!seen.to_string().contains("劳动合同已补签"));
    let page = app.get_text(&ent, &format!("/followups/{id}")).await;
    assert!(page.contains("重新体检"), "{page}");

    // the retake: a safe check-up closes the follow-up and shows the change
    clock.advance(Duration::days(1));
    let retake = submit(&app, &ent, &answers(&app, false).await).await;
    let (_, after) = followup(&app, &adv, id).await;
    assert_eq!(after["followup"]["status"], "closed");
    assert_eq!(after["followup"]["retake_checkup_id"], retake["report_id"]);
    assert_eq!(after["retake"]["overall_before"], "high");
    assert_ne!(after["retake"]["overall_after"], "high");
    let changes = after["retake"]["changes"].as_array().unwrap();
    assert!(changes
        .iter()
        .any(|c| c["before"] == "high" && c["after"] == "low"));
    // a calm report opens no new follow-up
    assert_eq!(own(&app, &ent).await.len(), 1);
    let page = app.get_text(&adv, &format!("/followups/{id}")).await;
    assert!(page.contains("整改后复查"), "{page}");
    let page = app
        .get_text(&ent, &format!("/checkup/reports/{}", retake["report_id"]))
        .await;
    assert!(page.contains("本报告为整改后复查"), "{page}");
    // a closed follow-up takes no more contacts
    assert_eq!(
        contact(&app, &adv, id, "contacted", "").await,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn without_an_advisor_it_waits_for_the_organizer_who_assigns_it() {
    let (app, _clock) = app_at(december()).await;
    let org = app.organizer().await;
    let (ent, _) = app.register_enterprise(1602).await;
    submit(&app, &ent, &answers(&app, true).await).await;
    let id = own(&app, &ent).await[0]["id"].as_i64().unwrap();

    let queue = followups(&app, &org, "?unassigned=true").await;
    assert!(queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == id));
    assert!(queue["queue"].as_i64().unwrap() >= 1);
    assert!(inbox_kinds(&app, &org)
        .await
        .contains(&"followup_due".into()));
    // the organizer's opening is audited
    assert_eq!(followup(&app, &org, id).await.0, StatusCode::OK);
    let audit = app.get_text(&org, "/admin/audit").await;
    assert!(audit.contains("查看回访"), "{audit}");

    let (adv, adv_id) = lawyer(&app, "advisor1602").await;
    assert_eq!(followup(&app, &adv, id).await.0, StatusCode::NOT_FOUND);
    // a lawyer may not assign; an enterprise id is no lawyer
    let assign = |c: &Client, advisor: i64| {
        c.post(app.url(&format!("/api/v1/followups/{id}/assignment")))
            .json(&json!({"advisor_id": advisor}))
            .send()
    };
    assert_eq!(
        assign(&adv, adv_id).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let ent_id = me(&app, &ent).await;
    assert_eq!(
        assign(&org, ent_id).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = assign(&org, adv_id).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["advisor_id"], adv_id);
    assert_eq!(followup(&app, &adv, id).await.0, StatusCode::OK);
    assert!(inbox_kinds(&app, &adv)
        .await
        .contains(&"followup_due".into()));

    // a newer high-risk report supersedes the open follow-up
    submit(&app, &ent, &answers(&app, true).await).await;
    let list = own(&app, &ent).await;
    assert_eq!(list.len(), 2);
    let (_, old) = followup(&app, &org, id).await;
    assert_eq!(old["followup"]["status"], "closed");
    assert_eq!(old["superseded_by"], list[0]["id"]);
}

#[tokio::test]
async fn each_sees_only_its_own_follow_ups() {
    let (app, _clock) = app_at(december()).await;
    let (a, _) = app.register_enterprise(1603).await;
    let (b, _) = app.register_enterprise(1604).await;
    let a_id = me(&app, &a).await;
    let (adv, adv_id) = lawyer(&app, "advisor1603").await;
    let (other, _) = lawyer(&app, "other1603").await;
    group(&app, adv_id, a_id).await;
    let risky = answers(&app, true).await;
    submit(&app, &a, &risky).await;
    submit(&app, &b, &risky).await;
    let fa = own(&app, &a).await[0]["id"].as_i64().unwrap();
    let fb = own(&app, &b).await[0]["id"].as_i64().unwrap();

    assert_eq!(followup(&app, &a, fb).await.0, StatusCode::NOT_FOUND);
    assert_eq!(followup(&app, &b, fa).await.0, StatusCode::NOT_FOUND);
    assert_eq!(followup(&app, &other, fa).await.0, StatusCode::NOT_FOUND);
    assert_eq!(followup(&app, &adv, fb).await.0, StatusCode::NOT_FOUND);
    assert_eq!(followups(&app, &other, "").await["total"], 0);
    let seen: Vec<i64> = followups(&app, &adv, "").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, vec![fa]);
    // pages too
    let r = other
        .get(app.url(&format!("/followups/{fa}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // only the advisor (or an organizer) records contacts
    assert_eq!(
        contact(&app, &a, fa, "contacted", "").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        contact(&app, &other, fa, "contacted", "").await,
        StatusCode::NOT_FOUND
    );
    let long = "字".repeat(1001);
    assert_eq!(
        contact(&app, &adv, fa, "contacted", &long).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // the loop dashboard is for organizers
    let r = adv.get(app.url("/api/v1/loop")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn overdue_after_the_due_day_until_an_outcome() {
    let (app, clock) = app_at(december()).await;
    let (ent, _) = app.register_enterprise(1605).await;
    let ent_id = me(&app, &ent).await;
    let (adv, adv_id) = lawyer(&app, "advisor1605").await;
    group(&app, adv_id, ent_id).await;
    submit(&app, &ent, &answers(&app, true).await).await;
    let id = own(&app, &ent).await[0]["id"].as_i64().unwrap();

    // due 2026-12-18: still in time at 23:00 that day in Shanghai
    clock.set(Utc.with_ymd_and_hms(2026, 12, 18, 15, 0, 0).unwrap());
    assert_eq!(
        followup(&app, &adv, id).await.1["followup"]["overdue"],
        false
    );
    assert_eq!(followups(&app, &adv, "?overdue=true").await["total"], 0);
    clock.set(Utc.with_ymd_and_hms(2026, 12, 18, 16, 30, 0).unwrap());
    assert_eq!(
        followup(&app, &adv, id).await.1["followup"]["overdue"],
        true
    );
    let overdue = followups(&app, &adv, "?overdue=true").await;
    assert_eq!(overdue["total"], 1);
    assert_eq!(overdue["overdue"], 1);
    let page = app.get_text(&adv, "/followups").await;
    assert!(page.contains("已逾期"), "{page}");
    // 已联系 does not end it; 未整改 does
    assert_eq!(
        contact(&app, &adv, id, "contacted", "").await,
        StatusCode::CREATED
    );
    assert_eq!(
        followup(&app, &adv, id).await.1["followup"]["overdue"],
        true
    );
    assert_eq!(
        contact(&app, &adv, id, "not_rectified", "拒绝整改").await,
        StatusCode::CREATED
    );
    assert_eq!(
        followup(&app, &adv, id).await.1["followup"]["overdue"],
        false
    );
}

#[tokio::test]
async fn the_loop_dashboard_counts_a_small_month() {
    let (app, clock) = app_at(december()).await;
    // the demo month is December; the scenario runs in February
    clock.set(Utc.with_ymd_and_hms(2027, 2, 3, 2, 0, 0).unwrap());
    let (a, _) = app.register_enterprise(1606).await;
    let (b, _) = app.register_enterprise(1607).await;
    let (c, _) = app.register_enterprise(1608).await;
    let a_id = me(&app, &a).await;
    let (adv, adv_id) = lawyer(&app, "advisor1606").await;
    group(&app, adv_id, a_id).await;
    submit(&app, &a, &answers(&app, true).await).await;
    submit(&app, &b, &answers(&app, true).await).await;
    submit(&app, &c, &answers(&app, false).await).await;
    let fa = own(&app, &a).await[0]["id"].as_i64().unwrap();
    clock.advance(Duration::hours(6));
    assert_eq!(
        contact(&app, &adv, fa, "contacted", "").await,
        StatusCode::CREATED
    );
    clock.advance(Duration::hours(18));
    assert_eq!(
        contact(&app, &adv, fa, "rectified", "").await,
        StatusCode::CREATED
    );
    clock.advance(Duration::days(2));
    submit(&app, &a, &answers(&app, false).await).await;
    // b's follow-up stays in the queue past its due date
    clock.set(Utc.with_ymd_and_hms(2027, 2, 25, 2, 0, 0).unwrap());
    let org = app.organizer().await;

    let v: Value = app.get_json(&org, "/api/v1/loop?month=2027-02").await;
    assert_eq!(v["month"], "2027-02");
    let stages = v["stages"].as_array().unwrap();
    let total = |k: &str| {
        stages.iter().find(|s| s["key"] == k).unwrap()["total"]
            .as_i64()
            .unwrap()
    };
    // 4 check-ups (a twice, b, c), 2 follow-ups of which a's went all the way round
    assert_eq!(total("collected"), 4);
    assert_eq!(total("assigned"), 1);
    assert_eq!(total("handled"), 1);
    assert_eq!(total("fed_back"), 1);
    assert_eq!(total("followed_up"), 1);
    let handled = stages.iter().find(|s| s["key"] == "handled").unwrap();
    assert_eq!(handled["median_hours"], 6.0);
    assert_eq!(v["overdue_followups"], 1);
    let empty: Value = app.get_json(&org, "/api/v1/loop?month=2027-03").await;
    assert_eq!(empty["stages"][0]["total"], 0);
    let r = org
        .get(app.url("/api/v1/loop?month=2027-13"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = app.get_text(&org, "/admin/loop?month=2027-02").await;
    assert!(page.contains("<svg") && page.contains("跟进"), "{page}");
}
