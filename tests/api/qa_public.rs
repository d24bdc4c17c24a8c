//! Public Q&A entries (issue 16): an answered thread is published without what identifies
//! its enterprise, an edited text that still identifies it is refused, the thread stays
//! private while the entry is public; a lawyer's proposal waits for approval; `/qa` filters
//! by industry and topic and searches Chinese text (also two characters) in page and API;
//! a check-up report links entries for its weak dimension.

use crate::helpers::{add_staff, problem, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

const LAWYER_PASSWORD: &str = "lawyer-qa-pass-1";

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    crate::helpers::pool_of(&app.dir).await
}

async fn my_id(app: &TestApp, c: &Client) -> i64 {
    let me: Value = app.get_json(c, "/api/v1/me").await;
    me["id"].as_i64().unwrap()
}

/// An answered thread of enterprise `enterprise`, assigned to `lawyer`, whose question names
/// the enterprise, its credit code, its mobile and an e-mail address. Written to the database
/// directly: asking and answering have their own tests.
async fn answered_thread(app: &TestApp, enterprise: i64, uscc: &str, lawyer: i64) -> i64 {
    let db = pool(app).await;
    let now = chrono::Utc::now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO questions (enterprise_id, title, topic, industry, status, assigned_lawyer_id,
             assigned_by, assigned_at, first_answered_at, created_at, updated_at)
         VALUES ($1, '示例企业801有限公司试用期社保问题', 'labour', 'E', 'answered', $2, 'match', $3, $4, $5, $6)
         RETURNING id",
    )
    .bind(enterprise)
    .bind(lawyer)
    .bind(pufa::db::ts(now))
    .bind(pufa::db::ts(now))
    .bind(pufa::db::ts(now))
    .bind(pufa::db::ts(now))
    .fetch_one(&db)
    .await
    .unwrap();
    let question = format!(
        "我司示例企业801有限公司（信用代码{uscc}）新招工人试用期三个月，能否转正后再缴社保？\
         联系人示例联系人，电话13900000801，邮箱hr801@example.com。"
    );
    for (author, role, kind, body) in [
        (enterprise, "enterprise", "question", question.as_str()),
        (
            lawyer,
            "lawyer",
            "answer",
            "不能。应自用工之日起三十日内办理社会保险登记。",
        ),
    ] {
        sqlx::query(
            "INSERT INTO question_messages (question_id, author_id, author_role, kind, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(author)
        .bind(role)
        .bind(kind)
        .bind(body)
        .bind(pufa::db::ts(now))
        .execute(&db)
        .await
        .unwrap();
    }
    db.close().await;
    id
}

async fn publish(app: &TestApp, c: &Client, question: i64, body: &Value) -> reqwest::Response {
    c.post(app.url(&format!("/api/v1/questions/{question}/publication")))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn publication_removes_identifying_details_and_the_thread_stays_private() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (ent, uscc) = app.register_enterprise(801).await;
    let enterprise = my_id(&app, &ent).await;
    let (other, _) = app.register_enterprise(802).await;
    add_staff(&app, "lawyer", "qa-lawyer-801", LAWYER_PASSWORD);
    add_staff(&app, "lawyer", "qa-lawyer-802", LAWYER_PASSWORD);
    let lawyer = app.logged_in("qa-lawyer-801", LAWYER_PASSWORD).await;
    let lawyer_id = my_id(&app, &lawyer).await;
    let stranger = app.logged_in("qa-lawyer-802", LAWYER_PASSWORD).await;
    let question = answered_thread(&app, enterprise, &uscc, lawyer_id).await;

    // the answered thread offers publication to the organizer and to its lawyer, not to the
    // enterprise
    let thread = format!("/questions/{question}");
    assert!(app.get_text(&org, &thread).await.contains("整理为公开问答"));
    assert!(app
        .get_text(&lawyer, &thread)
        .await
        .contains("建议公开为问答"));
    let own = app.get_text(&ent, &thread).await;
    assert!(!own.contains("整理为公开问答") && !own.contains("建议公开为问答"));

    // the organizer's draft is de-identified
    let form = app
        .get_text(&org, &format!("/questions/{question}/publish"))
        .await;
    for gone in [
        "示例企业801",
        uscc.as_str(),
        "13900000801",
        "hr801@example.com",
        "示例联系人",
    ] {
        assert!(!form.contains(gone), "{gone} in the draft");
    }
    assert!(form.contains("某公司试用期社保问题"), "{form}");
    assert!(form.contains("不能。应自用工之日起三十日内"));
    // the enterprise itself, another enterprise, an unassigned lawyer and nobody may not
    for (who, c) in [("owner", &ent), ("other", &other), ("stranger", &stranger)] {
        let r = c
            .get(app.url(&format!("/questions/{question}/publish")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let r = app
        .anonymous()
        .get(app.url(&format!("/questions/{question}/publish")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // an edited text that still identifies the enterprise is refused, naming what is left
    for (body, named) in [
        ("示例企业801的试用期问题：不能。", "企业名称"),
        (format!("代码 {uscc}：不能。").as_str(), "统一社会信用代码"),
        ("请拨打 139-0000-0801：不能。", "手机号码"),
        ("写信给 hr801@example.com：不能。", "电子邮箱"),
    ] {
        let r = publish(
            &app,
            &org,
            question,
            &json!({"title": "试用期社保", "body": body}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let p = problem(r).await;
        assert!(p.to_string().contains(named), "{named}: {p}");
    }
    let r = publish(
        &app,
        &org,
        question,
        &json!({"title": "示例企业801有限公司的问题", "body": "不能。"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // the form says the same on the page, keeping what was typed
    let csrf = app
        .csrf_token(&org, &format!("/questions/{question}/publish"))
        .await;
    let r = org
        .post(app.url(&format!("/questions/{question}/publish")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "试用期社保"),
            ("body", "示例企业801有限公司问：能否暂缓？"),
            ("industry", "E"),
            ("topic", "labour"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("仍含可识别企业的信息：企业名称"), "{page}");
    assert!(page.contains("能否暂缓？"));
    // other enterprises and unassigned lawyers cannot publish it
    for c in [&ent, &other, &stranger] {
        let r = publish(&app, c, question, &json!({"title": "t", "body": "b"})).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    // a clean text is published at once by the organizer
    let r = publish(
        &app,
        &org,
        question,
        &json!({"title": "试用期员工可以暂缓缴纳社保吗？",
                "body": "**问：** 某公司新招工人试用期三个月，能否转正后再缴社保？\n\n**答：** 不能。",
                "industry": "E"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let entry: Value = r.json().await.unwrap();
    assert_eq!(entry["status"], "published");
    assert_eq!(entry["topic"], "labour");
    assert_eq!(entry["industry"], "E");
    let id = entry["id"].as_i64().unwrap();

    // everyone reads the entry; nothing identifying is in it
    for c in [app.anonymous(), other.clone()] {
        let e: Value = app.get_json(&c, &format!("/api/v1/qa/{id}")).await;
        assert_eq!(e["title"], "试用期员工可以暂缓缴纳社保吗？");
        let page = app.get_text(&c, &format!("/qa/{id}")).await;
        assert!(page.contains("<strong>答：</strong> 不能。"), "{page}");
        for text in [e.to_string(), page] {
            for gone in [
                "示例企业801",
                uscc.as_str(),
                "13900000801",
                "hr801@example.com",
            ] {
                assert!(!text.contains(gone), "{gone}");
            }
        }
    }
    // the thread itself is not public: anonymous and another enterprise do not get it
    for (who, c) in [("anonymous", app.anonymous()), ("other", other.clone())] {
        for path in [
            format!("/api/v1/questions/{question}"),
            format!("/questions/{question}"),
        ] {
            let r = c.get(app.url(&path)).send().await.unwrap();
            assert!(
                matches!(
                    r.status(),
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                ),
                "{who} {path}: {}",
                r.status()
            );
            assert!(!r.text().await.unwrap().contains("hr801@example.com"));
        }
    }

    // the assigned lawyer proposes; the entry is public only once an organizer approves
    let r = publish(
        &app,
        &lawyer,
        question,
        &json!({"title": "试用期社保（律师整理）", "body": "**答：** 试用期也要缴纳社保。"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let proposal: Value = r.json().await.unwrap();
    assert_eq!(proposal["status"], "proposed");
    let pid = proposal["id"].as_i64().unwrap();
    let r = app
        .anonymous()
        .get(app.url(&format!("/api/v1/qa/{pid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = lawyer
        .post(app.url(&format!("/api/v1/qa/{pid}/approval")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let admin = app.get_text(&org, "/admin/qa").await;
    assert!(admin.contains("试用期社保（律师整理）"));
    let r = org
        .post(app.url(&format!("/api/v1/qa/{pid}/approval")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e: Value = app
        .get_json(&app.anonymous(), &format!("/api/v1/qa/{pid}"))
        .await;
    assert_eq!(e["status"], "published");
    let r = org
        .post(app.url(&format!("/api/v1/qa/{pid}/approval")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await["code"], "entry_not_proposed");

    // withdrawn: gone for everyone but the organizer, and from the search
    let r = org
        .post(app.url(&format!("/api/v1/qa/{pid}/withdrawal")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .anonymous()
        .get(app.url(&format!("/qa/{pid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let list: Value = app
        .get_json(&app.anonymous(), "/api/v1/qa?q=律师整理")
        .await;
    assert_eq!(list["total"], 0);
    // the publication is in the audit log, without the text of the thread
    let csv = app.get_text(&org, "/admin/audit.csv").await;
    assert!(csv.contains("发布公开问答") && csv.contains("撤回公开问答"));
    assert!(!csv.contains("13900000801"));
}

fn titles(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn qa_filters_and_searches_in_page_and_api() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    // the demo's four entries
    let all: Value = app.get_json(&anon, "/api/v1/qa").await;
    assert_eq!(all["total"], 4);
    assert!(all["entries"][0]["excerpt"]
        .as_str()
        .unwrap()
        .contains("示例"));
    assert!(all["entries"][0]["published_at"].is_string());

    let labour: Value = app.get_json(&anon, "/api/v1/qa?topic=labour").await;
    assert_eq!(titles(&labour), ["试用期员工可以不缴社会保险吗？（示例）"]);
    let catering: Value = app.get_json(&anon, "/api/v1/qa?industry=H").await;
    assert_eq!(
        titles(&catering),
        ["餐馆收集顾客手机号做会员，要注意什么？（示例）"]
    );
    let none: Value = app
        .get_json(&anon, "/api/v1/qa?industry=H&topic=labour")
        .await;
    assert_eq!(none["total"], 0);
    // full-text (three characters and more) and a two-character substring
    let fts: Value = app.get_json(&anon, "/api/v1/qa?q=客户名单").await;
    assert_eq!(titles(&fts), ["员工私自把客户名单带走，怎么维权？（示例）"]);
    let two: Value = app.get_json(&anon, "/api/v1/qa?q=公章").await;
    assert_eq!(titles(&two), ["对方只盖了公章没签字，合同有效吗？（示例）"]);
    let body_only: Value = app.get_json(&anon, "/api/v1/qa?q=滞纳金").await;
    assert_eq!(body_only["total"], 1);
    // FTS syntax in a query is just text
    let odd: Value = app.get_json(&anon, "/api/v1/qa?q=%22OR%20*").await;
    assert_eq!(odd["total"], 0);
    // paging
    let p2: Value = app.get_json(&anon, "/api/v1/qa?page=2").await;
    assert_eq!(p2["page"], 2);
    assert_eq!(p2["pages"], 1);
    assert!(p2["entries"].as_array().unwrap().is_empty());

    // the page: filters as selects, the search, and the entry with its lectures
    let page = app.get_text(&anon, "/qa?q=公章").await;
    assert!(page.contains("对方只盖了公章没签字"));
    assert!(!page.contains("客户名单带走"));
    let page = app.get_text(&anon, "/qa?topic=ip").await;
    assert!(page.contains("客户名单带走") && !page.contains("公章"));
    assert!(page.contains("<option value=\"ip\" selected>"));
    let id = labour["entries"][0]["id"].as_i64().unwrap();
    let entry: Value = app.get_json(&anon, &format!("/api/v1/qa/{id}")).await;
    assert_eq!(entry["topic_name"], "劳动用工");
    let lectures = entry["lectures"].as_array().unwrap();
    assert!(!lectures.is_empty(), "the demo month has labour lectures");
    assert!(lectures.iter().all(|l| l["category"] == "劳动用工"));
    let page = app.get_text(&anon, &format!("/qa/{id}")).await;
    assert!(page.contains(&format!("/sessions/{}", lectures[0]["id"])));
    assert!(page.contains("我也要提问"));
    // the header links to 问答 for everyone
    assert!(app.get_text(&anon, "/").await.contains("href=\"/qa\""));
}

/// Answers for every item that applies to industry E: the safest option, except labour.
async fn weak_in_labour(app: &TestApp) -> Map<String, Value> {
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
            let options = i["options"].as_array().unwrap();
            let pick = if i["dimension"] == "labour" {
                options
                    .iter()
                    .max_by(|a, b| {
                        a["risk"]
                            .as_f64()
                            .unwrap()
                            .total_cmp(&b["risk"].as_f64().unwrap())
                    })
                    .unwrap()
            } else {
                &options[0]
            };
            (i["id"].as_str().unwrap().to_string(), pick["id"].clone())
        })
        .collect()
}

#[tokio::test]
async fn a_report_links_entries_of_its_weak_dimension() {
    let app = TestApp::spawn().await;
    let (c, _) = app.register_enterprise(803).await;
    let answers = weak_in_labour(&app).await;
    c.post(app.url("/api/v1/checkup/consent"))
        .send()
        .await
        .unwrap();
    let r = c
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    let labour: Value = app
        .get_json(&app.anonymous(), "/api/v1/qa?topic=labour")
        .await;
    let contracts: Value = app
        .get_json(&app.anonymous(), "/api/v1/qa?topic=contracts")
        .await;
    let page = app
        .get_text(
            &c,
            &format!("/checkup/reports/{}", report["report_id"].as_i64().unwrap()),
        )
        .await;
    assert!(page.contains("同类问题的律师答复"));
    assert!(page.contains(&format!(
        "href=\"/qa/{}\"",
        labour["entries"][0]["id"].as_i64().unwrap()
    )));
    // contracts is not weak in this report: no link to its entry
    assert!(!page.contains(&format!(
        "href=\"/qa/{}\"",
        contracts["entries"][0]["id"].as_i64().unwrap()
    )));
}
