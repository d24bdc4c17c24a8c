//! The organizer's lists that grow (issue 17): a session's roster, every program's sessions and
//! the transcoding jobs come in pages of 50 with search and filters that the page links keep,
//! and show times in local (China) time, never UTC.

use crate::credit_code::valid_uscc;
use crate::helpers::TestApp;
use chrono::{Duration, Utc};
use pufa::accounts::{Role, User, ValidEnterprise};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A program a month ahead with `n` sessions of 40 seats, `示例列表课程00`…; the first at
/// 10:00 (+08:00) three days into it, the others not placed yet.
async fn program_with_sessions(app: &TestApp, org: &reqwest::Client, n: usize) -> (i64, Vec<i64>) {
    let start = Utc::now().date_naive() + Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "示例列表项目", "starts_on": start.to_string(),
            "ends_on": (start + Duration::days(30)).to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = json!({
            "title": format!("示例列表课程{i:02}"), "category": "合同管理",
            "lecturer": {"name": "示例列表律师", "firm": "示例律师事务所"},
            "minutes": 90, "capacity": 40,
        });
        if i == 0 {
            body["starts_at"] = json!(format!("{}T10:00+08:00", start + Duration::days(3)));
        }
        let r = app.add_session(org, pid, &body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    (pid, ids)
}

#[tokio::test]
async fn a_roster_pages_searches_and_filters_by_status() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (_, sids) = program_with_sessions(&app, &org, 1).await;
    let sid = sids[0];
    let db = app.db().await;
    // 60 enterprises straight into the database, each signing up for one seat
    for i in 0..60u32 {
        let e = ValidEnterprise {
            name: format!("示例名单企业{i:03}有限公司"),
            uscc: valid_uscc(80_000 + i),
            industry: 'C',
            district: None,
            contact_name: format!("示例名单联系人{i:03}"),
            mobile: format!("137{:08}", 20_000 + i),
            privacy_notice_version: pufa::accounts::privacy::NOTICE_VERSION,
            size: None,
        };
        let id = db
            .insert_enterprise(&e, "not-a-hash", &format!("roster-token-{i}"), Utc::now())
            .await
            .unwrap();
        let user = User {
            id,
            role: Role::Enterprise,
            display_name: e.name.clone(),
            username: None,
        };
        pufa::app::signup::sign_up(&db, Utc::now(), &user, sid, 1, &[])
            .await
            .unwrap();
    }
    let roster: Value = app
        .get_json(&org, &format!("/api/v1/sessions/{sid}/registrations"))
        .await;
    let entries: Vec<&Value> = roster
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "confirmed" || e["status"] == "waitlisted")
        .collect();
    let n = entries.len();
    assert!((60..100).contains(&n), "{n}");
    let waitlisted = entries
        .iter()
        .filter(|e| e["status"] == "waitlisted")
        .count();
    assert!(waitlisted > 0 && waitlisted < n, "{waitlisted}");
    let path = format!("/sessions/{sid}/roster");

    // 50 a page, the confirmed first
    let first = app.get_text(&org, &path).await;
    assert!(first.contains(&format!("第 1–50 条，共 {n} 条")), "{first}");
    assert_eq!(first.matches("data-label=\"信用代码\"").count(), 50);
    assert!(first.contains(&format!("href=\"{path}?page=2\" rel=\"next\"")));
    let second = app.get_text(&org, &format!("{path}?page=2")).await;
    assert!(second.contains(&format!("第 51–{n} 条，共 {n} 条")));
    assert_eq!(second.matches("data-label=\"信用代码\"").count(), n - 50);
    assert!(second.contains(&format!("候补（{waitlisted} 家）")));

    // registration times in the program's zone (Asia/Shanghai), not UTC
    let e = entries[0];
    let at = chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap())
        .unwrap()
        .to_utc();
    let local = at
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let utc = at.format("%Y-%m-%d %H:%M:%S").to_string();
    assert!(first.contains(&local), "{local} missing");
    assert!(!first.contains(&utc));

    // the status filter, kept by the page links
    let waiting = app
        .get_text(&org, &format!("{path}?status=waitlisted"))
        .await;
    assert!(
        waiting.contains(&format!("共 {waitlisted} 条")),
        "{waiting}"
    );
    assert!(!waiting.contains("已确认（"));
    assert!(waiting.contains("<option value=\"waitlisted\" selected>"));
    // search: company, contact, the mobile's last digits
    let one = app.get_text(&org, &format!("{path}?q=企业007")).await;
    assert!(one.contains("共 1 条") && one.contains("示例名单企业007有限公司"));
    let one = app
        .get_text(&org, &format!("{path}?q=示例名单联系人012"))
        .await;
    assert!(one.contains("共 1 条") && one.contains("示例名单企业012有限公司"));
    let one = app.get_text(&org, &format!("{path}?q=20033")).await;
    assert!(one.contains("共 1 条") && one.contains("示例名单企业033有限公司"));
    let none = app.get_text(&org, &format!("{path}?q=没有这家")).await;
    assert!(none.contains("共 0 条") && none.contains("没有符合条件的企业"));
    // the filter text comes back escaped
    let odd = app.get_text(&org, &format!("{path}?q=%3Cb%3E")).await;
    assert!(!odd.contains("<b>") && odd.contains("&#60;b&#62;"));
    app.stop().await;
}

#[tokio::test]
async fn every_session_in_one_list_with_search_filters_and_local_times() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let start = Utc::now().date_naive() + Duration::days(30);
    let (pid, ids) = program_with_sessions(&app, &org, 55).await;

    let all = app.get_text(&org, "/admin/sessions").await;
    assert!(all.contains("共 "), "{all}");
    assert!(all.contains("href=\"/admin/sessions?page=2\" rel=\"next\""));
    // one program: 55 sessions over two pages
    let mine = app
        .get_text(&org, &format!("/admin/sessions?program={pid}"))
        .await;
    assert!(mine.contains("第 1–50 条，共 55 条"), "{mine}");
    assert!(mine.contains(&format!(
        "href=\"/admin/sessions?program={pid}&#38;page=2\" rel=\"next\""
    )));
    // the placed session first, at 10:00 in the program's zone (02:00 UTC)
    let placed = (start + Duration::days(3))
        .and_hms_opt(2, 0, 0)
        .unwrap()
        .and_utc();
    let local = pufa::schedule::datetime_zh(&placed, chrono_tz::Asia::Shanghai);
    assert!(local.ends_with("10:00"));
    assert!(mine.contains(&local), "{local}");
    assert!(mine.find("示例列表课程00") < mine.find("示例列表课程54"));
    // search by title; status filter
    let one = app.get_text(&org, "/admin/sessions?q=列表课程07").await;
    assert!(one.contains("共 1 条") && one.contains("示例列表课程07"));
    let db = app.db().await;
    assert!(db.cancel_session(ids[9], Utc::now()).await.unwrap());
    let cancelled = app
        .get_text(
            &org,
            &format!("/admin/sessions?program={pid}&status=cancelled"),
        )
        .await;
    assert!(cancelled.contains("共 1 条") && cancelled.contains("示例列表课程09"));
    // organizers only
    let (ent, _) = app.register_enterprise(1).await;
    let r = ent.get(app.url("/admin/sessions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn transcoding_jobs_are_listed_with_search_and_a_state_filter() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sessions = app.demo_session_ids(&org).await;
    let db = app.db().await;
    // 55 failed attempts on one session, then one queued job on another
    let mut failed = Vec::new();
    for _ in 0..55 {
        let (_, job) = db
            .queue_recording(sessions[0], "uploads/none.mp4")
            .await
            .unwrap()
            .expect("queued");
        loop {
            let claimed = db.claim_job("test-worker").await.unwrap().expect("a job");
            assert!(db
                .fail_job(claimed.id, "test-worker", "示例：文件无法读取")
                .await
                .unwrap());
            failed.push(claimed.id);
            if claimed.id == job {
                break;
            }
        }
    }
    let (_, queued) = db
        .queue_recording(sessions[1], "uploads/other.mp4")
        .await
        .unwrap()
        .expect("queued");

    let page = app.get_text(&org, "/admin/jobs?state=failed").await;
    assert!(
        page.contains(&format!("第 1–50 条，共 {} 条", failed.len())),
        "{page}"
    );
    assert!(page.contains("示例：文件无法读取") && !page.contains(&format!("#{queued}<")));
    assert!(page.contains("href=\"/admin/jobs?state=failed&#38;page=2\" rel=\"next\""));
    let second = app.get_text(&org, "/admin/jobs?state=failed&page=2").await;
    assert!(second.contains(&format!("第 51–{0} 条，共 {0} 条", failed.len())));
    let waiting = app.get_text(&org, "/admin/jobs?state=queued").await;
    assert!(
        waiting.contains(&format!("<strong>#{queued}</strong>")),
        "{waiting}"
    );
    assert!(waiting.contains("排队中"));
    assert!(!waiting.contains(&format!("<strong>#{}</strong>", failed[0])));
    // by number
    let one = app
        .get_text(&org, &format!("/admin/jobs?q={}", failed[3]))
        .await;
    assert!(one.contains("共 1 条"));
    // created in the program's zone: the list shows no UTC time of the queued job
    let dashboard = app.get_text(&org, "/admin").await;
    assert!(
        dashboard.contains("href=\"/admin/jobs\"")
            && dashboard.contains("href=\"/admin/sessions\"")
    );
    let (ent, _) = app.register_enterprise(1).await;
    let r = ent.get(app.url("/admin/jobs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
