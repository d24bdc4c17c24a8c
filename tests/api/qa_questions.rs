//! 企问律答 threads (issue 16): routing (specialty, least loaded, advisors first, no match →
//! the organizer's queue, reassignment), the thread's state machine with its notifications,
//! Markdown answers rendered safely, the throttle, lawyer profiles, the overdue flag with a
//! manual clock across a weekend, and the live lecture's questions over SSE.

use crate::helpers::{add_staff, problem, TestApp, ENTERPRISE_PASSWORD};
use chrono::{TimeZone, Utc};
use pufa::clock::Clock;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::AnyPool;

pub const LAWYER_PASSWORD: &str = "lawyer-pass-123";

/// A lawyer account `name`, logged in, with its account id.
pub async fn lawyer(app: &TestApp, name: &str) -> (Client, i64) {
    add_staff(app, "lawyer", name, LAWYER_PASSWORD);
    let c = app.logged_in(name, LAWYER_PASSWORD).await;
    let me: Value = app.get_json(&c, "/api/v1/me").await;
    (c, me["id"].as_i64().unwrap())
}

/// The account id behind `c`.
pub async fn id_of(app: &TestApp, c: &Client) -> i64 {
    let me: Value = app.get_json(c, "/api/v1/me").await;
    me["id"].as_i64().unwrap()
}

pub async fn set_profile(
    app: &TestApp,
    org: &Client,
    id: i64,
    topics: &[&str],
    industries: &[&str],
) {
    let r = org
        .put(app.url(&format!("/api/v1/lawyers/{id}/profile")))
        .json(&json!({"firm": "示例律师事务所", "topics": topics, "industries": industries}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

/// Ask `topic` as `c`; the status and the body.
pub async fn ask(app: &TestApp, c: &Client, body: Value) -> (StatusCode, Value) {
    let r = c
        .post(app.url("/api/v1/questions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

pub async fn ask_ok(app: &TestApp, c: &Client, topic: &str, title: &str) -> Value {
    let (status, body) = ask(
        app,
        c,
        json!({"title": title, "body": "示例：问题的具体情况。", "topic": topic}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn ask_body(app: &TestApp, c: &Client, body: &Value) -> (StatusCode, Value) {
    ask(app, c, body.clone()).await
}

pub async fn question(app: &TestApp, c: &Client, id: i64) -> Value {
    app.get_json(c, &format!("/api/v1/questions/{id}")).await
}

pub async fn post_json(app: &TestApp, c: &Client, path: &str, body: Value) -> reqwest::Response {
    c.post(app.url(path)).json(&body).send().await.unwrap()
}

pub async fn pool(app: &TestApp) -> AnyPool {
    crate::helpers::pool_of(&app.dir).await
}

async fn inbox_titles(app: &TestApp, c: &Client) -> Vec<String> {
    let v: Value = app.get_json(c, "/api/v1/notifications").await;
    let list = v["items"].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|n| n["title"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn questions_go_to_the_matching_least_loaded_lawyer_or_wait_for_the_organizer() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (_, a) = lawyer(&app, "lawyer-a").await;
    let (_, b) = lawyer(&app, "lawyer-b").await;
    let (c_client, c) = lawyer(&app, "lawyer-c").await;
    set_profile(&app, &org, a, &["labour"], &["E"]).await;
    set_profile(&app, &org, b, &["labour"], &[]).await;
    set_profile(&app, &org, c, &["contracts"], &["C"]).await;
    let (ent, _) = app.register_enterprise(1).await; // industry E

    // specialty and industry match; both free: the lowest id
    let q1 = ask_ok(&app, &ent, "labour", "试用期可以不签劳动合同吗").await;
    assert_eq!(q1["status"], "assigned");
    let v = question(&app, &ent, q1["id"].as_i64().unwrap()).await;
    assert_eq!(v["assigned_lawyer_id"], a);
    assert_eq!(v["assigned_by"], "match");
    assert_eq!(v["industry"], "E");
    assert_eq!(v["messages"][0]["kind"], "question");
    assert_eq!(v["messages"][0]["author_role"], "enterprise");
    // least loaded next
    let q2 = ask_ok(&app, &ent, "labour", "加班费怎么算").await;
    let v = question(&app, &ent, q2["id"].as_i64().unwrap()).await;
    assert_eq!(v["assigned_lawyer_id"], b);
    // contracts: lawyer C answers contracts for section C only: nobody for an E enterprise
    let q3 = ask_ok(&app, &ent, "contracts", "合同违约金过高").await;
    assert_eq!(q3["status"], "pending");
    let q3 = q3["id"].as_i64().unwrap();
    let v = question(&app, &org, q3).await;
    assert_eq!(v["assigned_lawyer_id"], Value::Null);
    let pending: Value = app.get_json(&org, "/api/v1/questions?status=pending").await;
    assert_eq!(pending["total"], 1);
    assert_eq!(pending["questions"][0]["id"], q3);

    // the organizer gives it to C, who is told and now sees it
    let r = post_json(
        &app,
        &org,
        &format!("/api/v1/questions/{q3}/assignment"),
        json!({"lawyer_id": c}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].clone(), v["assigned_lawyer_id"].clone()),
        (json!("assigned"), json!(c))
    );
    let mine: Value = app.get_json(&c_client, "/api/v1/questions").await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["questions"][0]["id"], q3);
    assert_eq!(question(&app, &org, q3).await["assigned_by"], "organizer");
    assert!(inbox_titles(&app, &c_client)
        .await
        .iter()
        .any(|t| t.contains("合同违约金过高")));
    // not a lawyer account: 422 naming the field
    let r = post_json(
        &app,
        &org,
        &format!("/api/v1/questions/{q3}/assignment"),
        json!({"lawyer_id": id_of(&app, &ent).await}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // advisors first, whatever the topic: enterprise 2 is advised by C
    let (ent2, _) = app.register_enterprise(2).await;
    let e2 = id_of(&app, &ent2).await;
    let db = pool(&app).await;
    sqlx::query("INSERT INTO advisor_groups (id, name, created_at) VALUES (1, '示例顾问组', '2026-01-01T00:00:00Z')")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO advisor_group_lawyers (group_id, lawyer_id) VALUES (1, $1)")
        .bind(c)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO advisor_group_enterprises (group_id, enterprise_id) VALUES (1, $1)")
        .bind(e2)
        .execute(&db)
        .await
        .unwrap();
    let q4 = ask_ok(&app, &ent2, "labour", "顾问先答").await;
    let v = question(&app, &ent2, q4["id"].as_i64().unwrap()).await;
    assert_eq!(
        (v["assigned_lawyer_id"].clone(), v["assigned_by"].clone()),
        (json!(c), json!("advisor"))
    );

    // a lawyer who stops accepting gets no new questions
    let r = org
        .put(app.url(&format!("/api/v1/lawyers/{a}/profile")))
        .json(&json!({"firm": "示例律师事务所", "topics": ["labour"], "industries": ["E"], "accepting": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let q5 = ask_ok(&app, &ent, "labour", "暂停接收").await;
    let v = question(&app, &ent, q5["id"].as_i64().unwrap()).await;
    assert_eq!(v["assigned_lawyer_id"], b);

    // the organizer's list of lawyers shows the load
    let lawyers: Value = app.get_json(&org, "/api/v1/lawyers").await;
    let load_of = |id: i64| {
        lawyers
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .map(|l| l["load"].as_i64().unwrap())
    };
    assert_eq!(
        (load_of(a), load_of(b), load_of(c)),
        (Some(1), Some(2), Some(2))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_thread_runs_from_question_to_closed_with_safe_markdown() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (law, l) = lawyer(&app, "lawyer-thread").await;
    set_profile(&app, &org, l, &["labour"], &[]).await;
    let (ent, _) = app.register_enterprise(1).await;
    let id = ask_ok(&app, &ent, "labour", "员工离职补偿").await["id"]
        .as_i64()
        .unwrap();

    // the lawyer asks for details, then answers in Markdown with hostile bits
    let path = format!("/api/v1/questions/{id}/messages");
    let r = post_json(
        &app,
        &law,
        &path,
        json!({"body": "请补充劳动合同期限。", "kind": "request"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(question(&app, &ent, id).await["status"], "answered");
    let r = post_json(&app, &ent, &path, json!({"body": "合同三年，已履行两年。"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(question(&app, &ent, id).await["status"], "followup");
    let answer = "**经济补偿**按工作年限计算。<script>alert(1)</script> [法条](javascript:alert(1)) [全文](https://flk.npc.gov.cn/)";
    let r = post_json(&app, &law, &path, json!({"body": answer})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = question(&app, &ent, id).await;
    assert_eq!(v["status"], "answered");
    let kinds: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["question", "request", "question", "answer"]);
    assert_eq!(
        v["messages"][3]["body"], answer,
        "the API gives the text as written"
    );

    // the enterprise was told twice (request, answer)
    let told = inbox_titles(&app, &ent).await;
    assert_eq!(
        told.iter().filter(|t| t.contains("员工离职补偿")).count(),
        2,
        "{told:?}"
    );
    // and the lawyer was told of the enterprise's follow-up (the details it asked for)
    let told = inbox_titles(&app, &law).await;
    assert_eq!(
        told.iter().filter(|t| t.starts_with("企业追问")).count(),
        1,
        "{told:?}"
    );

    // the page renders the Markdown safely
    let page = app.get_text(&ent, &format!("/questions/{id}")).await;
    assert!(page.contains("<strong>经济补偿</strong>"), "{page}");
    assert!(!page.contains("<script>alert(1)"));
    assert!(page.contains("&lt;script&gt;"));
    assert!(!page.contains("href=\"javascript:"));
    assert!(page.contains("<a href=\"https://flk.npc.gov.cn/\" rel=\"nofollow noopener\">全文</a>"));
    assert!(page.contains("已答复"));

    // an enterprise cannot answer; a lawyer cannot write a follow-up
    let r = post_json(&app, &ent, &path, json!({"body": "x", "kind": "answer"})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_json(&app, &law, &path, json!({"body": "x", "kind": "question"})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // the lawyer closes; writing in a closed thread is a 409 in Chinese
    let r = post_json(
        &app,
        &law,
        &format!("/api/v1/questions/{id}/close"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(question(&app, &ent, id).await["status"], "closed");
    let r = post_json(&app, &ent, &path, json!({"body": "还有一个问题"})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert_eq!(p["code"], "question_closed");
    assert!(p["detail"].as_str().unwrap().contains("已关闭"));
    let r = post_json(
        &app,
        &org,
        &format!("/api/v1/questions/{id}/close"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn asking_is_checked_and_throttled() {
    let clock = Clock::manual(Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap());
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let (ent, _) = app.register_enterprise(1).await;
    let org = app.organizer().await;

    let bad = [
        json!({"title": "", "body": "x", "topic": "labour"}),
        json!({"title": "题".repeat(61), "body": "x", "topic": "labour"}),
        json!({"title": "t", "body": "字".repeat(4001), "topic": "labour"}),
        json!({"title": "t", "body": "x", "topic": "astrology"}),
        json!({"title": "t", "body": "x", "topic": "labour", "session_id": 999999}),
        json!({"title": "t", "body": "x", "topic": "labour", "checkup_id": 999999}),
    ];
    for body in bad {
        let (status, p) = ask_body(&app, &ent, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {p}");
    }
    let (status, p) = ask(
        &app,
        &ent,
        json!({"title": "t", "body": "x", "topic": "astrology"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.to_string().contains("astrology"), "names the topic: {p}");
    // staff do not ask
    let (status, _) = ask(
        &app,
        &org,
        json!({"title": "t", "body": "x", "topic": "labour"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    for n in 0..10 {
        ask_ok(&app, &ent, "labour", &format!("第 {n} 个问题")).await;
        clock.advance(chrono::Duration::minutes(1));
    }
    let (status, p) = ask(
        &app,
        &ent,
        json!({"title": "t", "body": "x", "topic": "labour"}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("分钟"));
    clock.advance(chrono::Duration::minutes(51));
    ask_ok(&app, &ent, "labour", "一小时后").await;

    // the list pages and counts
    let list: Value = app.get_json(&ent, "/api/v1/questions").await;
    assert_eq!(list["total"], 11);
    assert_eq!(list["questions"].as_array().unwrap().len(), 11);
    let r = ent
        .get(app.url("/api/v1/questions?status=open"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn lawyer_profiles_refuse_unknown_topics_and_industries() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (law, l) = lawyer(&app, "lawyer-profile").await;
    let (other, o) = lawyer(&app, "lawyer-other").await;
    let put = |c: &Client, id: i64, body: Value| {
        c.put(app.url(&format!("/api/v1/lawyers/{id}/profile")))
            .json(&body)
            .send()
    };
    let r = put(
        &org,
        l,
        json!({"firm": "f", "topics": ["labour", "astrology"], "industries": []}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(r).await.to_string().contains("astrology"));
    let r = put(
        &org,
        l,
        json!({"firm": "f", "topics": ["labour"], "industries": ["Z9"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(r).await.to_string().contains("Z9"));
    // a lawyer edits its own profile, not another's, and does not list everyone
    let r = put(&law, l, json!({"firm": "自己的所", "topics": ["tax"], "industries": ["c"], "contact": "示例电话 010-0000"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["industries"], json!(["C"]));
    assert_eq!(v["contact"], "示例电话 010-0000");
    let r = put(
        &law,
        o,
        json!({"firm": "x", "topics": [], "industries": []}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = other.get(app.url("/api/v1/lawyers")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // the pages
    let page = app.get_text(&org, "/lawyers").await;
    assert!(page.contains("自己的所") && page.contains("财税"), "{page}");
    let page = app.get_text(&law, &format!("/lawyers/{l}")).await;
    assert!(page.contains("自己的所"));
    app.stop().await;
}

#[tokio::test]
async fn unanswered_questions_are_flagged_after_three_working_days_not_over_the_weekend() {
    // Friday 2026-12-04 10:00 in Shanghai
    let friday = Utc.with_ymd_and_hms(2026, 12, 4, 2, 0, 0).unwrap();
    let clock = Clock::manual(friday);
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let (ent, uscc) = app.register_enterprise(1).await;
    let old = ask_ok(&app, &ent, "labour", "周五的问题").await["id"]
        .as_i64()
        .unwrap();
    let db = app.db().await;
    let run = |at| {
        let db = db.clone();
        async move {
            pufa::app::qa::questions::run_overdue(&db, at, 3)
                .await
                .unwrap()
        }
    };
    // Monday and Tuesday evening: two and three calendar days of weekend do not count
    assert_eq!(
        run(Utc.with_ymd_and_hms(2026, 12, 7, 2, 0, 0).unwrap()).await,
        0
    );
    assert_eq!(
        run(Utc.with_ymd_and_hms(2026, 12, 8, 14, 0, 0).unwrap()).await,
        0
    );
    clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 14, 0, 0).unwrap());
    // days later: log in again
    let ent = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let newer = ask_ok(&app, &ent, "labour", "周二的问题").await["id"]
        .as_i64()
        .unwrap();
    // Wednesday 10:01: the Friday question, not the Tuesday one
    let wednesday = Utc.with_ymd_and_hms(2026, 12, 9, 2, 1, 0).unwrap();
    assert_eq!(run(wednesday).await, 1);
    assert_eq!(run(wednesday).await, 0, "flagged once");
    clock.set(wednesday);
    let org = app.organizer().await;
    assert_eq!(question(&app, &org, old).await["overdue"], true);
    assert_eq!(question(&app, &org, newer).await["overdue"], false);
    // the organizer's list shows it first, and its filter
    let list: Value = app.get_json(&org, "/api/v1/questions").await;
    assert_eq!(list["questions"][0]["id"], old);
    let only: Value = app.get_json(&org, "/api/v1/questions?overdue=true").await;
    assert_eq!(only["total"], 1);
    let page = app.get_text(&org, "/questions").await;
    assert!(page.contains("class=\"overdue\"") && page.contains("超时未答"));
    // the organizer was told once
    let told = inbox_titles(&app, &org).await;
    assert_eq!(
        told.iter().filter(|t| t.contains("周五的问题")).count(),
        1,
        "{told:?}"
    );
    app.stop().await;
}

/// Read the SSE stream until an event's data contains `needle` (or 15 s pass).
async fn wait_for_event(resp: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await;
        match chunk {
            Ok(Ok(Some(bytes))) => {
                seen.push_str(&String::from_utf8_lossy(&bytes));
                if seen.contains(needle) {
                    return seen;
                }
            }
            _ => break,
        }
    }
    panic!("no event with {needle:?} in {seen}");
}

#[tokio::test]
async fn questions_of_a_session_reach_the_lecturer_live_and_can_be_answered_in_the_lecture() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (lecturer, lecturer_id) = lawyer(&app, "lawyer-lecturer").await;
    let (stranger, _) = lawyer(&app, "lawyer-stranger").await;
    let db = pool(&app).await;
    sqlx::query(
        "UPDATE lecturers SET user_id = $1
         WHERE id = (SELECT lecturer_id FROM lecture_sessions WHERE id = $2)",
    )
    .bind(lecturer_id)
    .bind(session)
    .execute(&db)
    .await
    .unwrap();
    let (ent, _) = app.register_enterprise(1).await;

    let events = format!("/sessions/{session}/questions/events");
    let r = stranger.get(app.url(&events)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ent.get(app.url(&events)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let mut stream = lecturer.get(app.url(&events)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    wait_for_event(&mut stream, "event: questions").await;
    let (status, asked) = ask(
        &app,
        &ent,
        json!({"title": "直播中提问：竞业限制", "body": "竞业限制补偿标准？", "topic": "labour", "session_id": session}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = asked["id"].as_i64().unwrap();
    let seen = wait_for_event(&mut stream, "直播中提问：竞业限制").await;
    assert!(
        seen.contains("竞业限制补偿标准？"),
        "the panel shows the text: {seen}"
    );
    drop(stream);

    // the lecturer marks it answered in the lecture; the enterprise sees it and is told
    let r = post_json(
        &app,
        &stranger,
        &format!("/api/v1/questions/{id}/answered-live"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post_json(
        &app,
        &lecturer,
        &format!("/api/v1/questions/{id}/answered-live"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = question(&app, &ent, id).await;
    assert_eq!(v["status"], "answered");
    assert!(v["answered_live_at"].is_string());
    assert!(v["messages"][1]["body"]
        .as_str()
        .unwrap()
        .contains("已在直播中解答"));
    assert!(inbox_titles(&app, &ent)
        .await
        .iter()
        .any(|t| t.contains("竞业限制")));
    let r = post_json(
        &app,
        &lecturer,
        &format!("/api/v1/questions/{id}/answered-live"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let list: Value = app
        .get_json(&lecturer, &format!("/api/v1/sessions/{session}/questions"))
        .await;
    assert_eq!(list[0]["id"], id);
    app.stop().await;
}

#[tokio::test]
async fn the_pages_ask_answer_and_reassign() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (law, l) = lawyer(&app, "lawyer-pages").await;
    let (_, l2) = lawyer(&app, "lawyer-pages-2").await;
    set_profile(&app, &org, l, &["contracts"], &[]).await;
    let (ent, _) = app.register_enterprise(1).await;

    let form = app
        .get_text(
            &ent,
            "/questions/new?topic=contracts&title=%E7%A4%BA%E4%BE%8B%E6%A0%87%E9%A2%98",
        )
        .await;
    assert!(form.contains("value=\"示例标题\""), "pre-filled");
    assert!(form.contains("<option value=\"contracts\" selected>"));
    let csrf = app.csrf_token(&ent, "/questions/new").await;
    let r = ent
        .post(app.url("/questions/new"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", ""),
            ("body", "x"),
            ("topic", "contracts"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("请填写标题"));
    let r = ent
        .post(app.url("/questions/new"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "网页提问"),
            ("body", "合同没有盖章是否有效？"),
            ("topic", "contracts"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = to
        .trim_start_matches("/questions/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page = app.get_text(&ent, &to).await;
    assert!(page.contains("问题已提交") && page.contains("合同没有盖章是否有效？"));
    assert!(app.get_text(&ent, "/questions").await.contains("网页提问"));

    // the lawyer answers on the page
    let csrf_l = app.csrf_token(&law, &format!("/questions/{id}")).await;
    let r = law
        .post(app.url(&format!("/questions/{id}/messages")))
        .form(&[
            ("csrf", csrf_l.as_str()),
            ("body", "需要*双方*签字或盖章。"),
            ("kind", "answer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = app.get_text(&ent, &format!("/questions/{id}")).await;
    assert!(page.contains("<em>双方</em>"));

    // the organizer reassigns on the page; the first lawyer loses the thread
    let csrf_o = app.csrf_token(&org, &format!("/questions/{id}")).await;
    let r = org
        .post(app.url(&format!("/questions/{id}/assignment")))
        .form(&[
            ("csrf", csrf_o.as_str()),
            ("lawyer_id", l2.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = law
        .get(app.url(&format!("/questions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // the enterprise closes its own; the page says so and offers no reply form
    let csrf = app.csrf_token(&ent, &format!("/questions/{id}")).await;
    let r = ent
        .post(app.url(&format!("/questions/{id}/close")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = app.get_text(&ent, &format!("/questions/{id}")).await;
    assert!(page.contains("该问题已关闭") && !page.contains("reply-body"));
    app.stop().await;
}

#[tokio::test]
async fn the_demo_has_sample_threads_in_several_states() {
    let app = TestApp::spawn_with(|c| c.demo_questions = true).await;
    let org = app.organizer().await;
    let list: Value = app.get_json(&org, "/api/v1/questions").await;
    let mut states: Vec<&str> = list["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["status"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(states, ["answered", "assigned", "closed", "pending"]);
    let page = app.get_text(&org, "/questions").await;
    assert!(page.contains("示例："));
    let lawyers: Value = app.get_json(&org, "/api/v1/lawyers").await;
    assert_eq!(lawyers.as_array().unwrap().len(), 2);
    assert!(app
        .get_text(&org, "/lawyers")
        .await
        .contains("示例第一律师事务所"));
    // the demo's advisor group and the follow-up of the sample enterprise's high-risk report
    let groups: Value = app.get_json(&org, "/api/v1/advisor-groups").await;
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    let followups: Value = app.get_json(&org, "/api/v1/followups").await;
    let rows = followups["items"].as_array().expect("followups");
    assert_eq!(rows.len(), 1, "{followups}");
    assert_eq!(rows[0]["status"], "contacted");
    assert!(rows[0]["advisor_id"].is_i64(), "{followups}");
    app.stop().await;
}
