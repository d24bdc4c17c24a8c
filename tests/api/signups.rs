//! Sign-ups never oversell: under 200 concurrent requests exactly the capacity is confirmed
//! and the rest wait in order; a sign-up is idempotent and bad input is refused with a reason;
//! sign-up windows are enforced; cancellations, capacity raises and removals promote the
//! waitlist head first (a large group at the head keeps its place); rosters are for organizers
//! and the session's own lecturer, as JSON, HTML and an Excel-ready CSV.

use crate::helpers::{problem, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// A program with one session of `capacity` seats, placed a month from now.
pub(crate) async fn session_with(app: &TestApp, org: &Client, capacity: i64, extra: Value) -> i64 {
    let start = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let end = start + chrono::Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "报名测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut body = json!({
        "title": "报名测试课程", "category": "合同管理",
        "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
        "minutes": 90, "capacity": capacity,
        "starts_at": format!("{}T10:00+08:00", start + chrono::Duration::days(3)),
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let r = app.add_session(org, pid, &body).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// `n` logged-in enterprises, created a few at a time (Argon2 is memory-hungry).
pub(crate) async fn enterprises(app: &Arc<TestApp>, first: u32, n: u32) -> Vec<(Client, String)> {
    let gate = Arc::new(tokio::sync::Semaphore::new(6));
    let mut set = tokio::task::JoinSet::new();
    for i in first..first + n {
        let app = app.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            (i, app.register_enterprise(i).await)
        });
    }
    let mut out: Vec<(u32, (Client, String))> = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, e)| e).collect()
}

#[tokio::test]
async fn capacity_holds_under_200_concurrent_sign_ups() {
    let app = Arc::new(TestApp::spawn().await);
    let org = app.organizer().await;
    let sid = session_with(&app, &org, 50, json!({})).await;
    let ents = enterprises(&app, 1000, 200).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(ents.len()));
    let mut set = tokio::task::JoinSet::new();
    for (c, uscc) in ents.iter().cloned() {
        let app = app.clone();
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            let (status, body) = app.sign_up(&c, sid, 1).await;
            (uscc, status, body)
        });
    }
    let answers = set.join_all().await;
    assert!(answers.iter().all(|(_, s, _)| *s == StatusCode::CREATED));
    let confirmed = answers
        .iter()
        .filter(|(_, _, b)| b["status"] == "confirmed")
        .count();
    assert_eq!(confirmed, 50);
    let mut positions: Vec<i64> = answers
        .iter()
        .filter(|(_, _, b)| b["status"] == "waitlisted")
        .map(|(_, _, b)| b["position"].as_i64().unwrap())
        .collect();
    positions.sort_unstable();
    // each answer carries the position at the time of its own sign-up; the roster shows 1..150
    assert_eq!(positions, (1..=150).collect::<Vec<_>>());

    let rows = app.roster(&org, sid).await;
    let confirmed_rows: Vec<&Value> = rows.iter().filter(|r| r["status"] == "confirmed").collect();
    let waiting: Vec<&Value> = rows
        .iter()
        .filter(|r| r["status"] == "waitlisted")
        .collect();
    assert_eq!(confirmed_rows.len(), 50);
    assert_eq!(waiting.len(), 150);
    let roster_positions: Vec<i64> = waiting
        .iter()
        .map(|r| r["position"].as_i64().unwrap())
        .collect();
    assert_eq!(roster_positions, (1..=150).collect::<Vec<_>>());
    let s: Value = app
        .get_json(&app.anonymous(), &format!("/api/v1/programs/{}", 1))
        .await;
    assert!(s.is_object());

    // cancellations promote in queue order
    let head: Vec<String> = waiting
        .iter()
        .take(3)
        .map(|r| r["uscc"].as_str().unwrap().to_string())
        .collect();
    let to_cancel: Vec<String> = confirmed_rows
        .iter()
        .take(3)
        .map(|r| r["uscc"].as_str().unwrap().to_string())
        .collect();
    for uscc in &to_cancel {
        let (c, _) = ents.iter().find(|(_, u)| u == uscc).unwrap();
        assert_eq!(app.cancel_sign_up(c, sid).await, StatusCode::NO_CONTENT);
    }
    let rows = app.roster(&org, sid).await;
    let confirmed_now: Vec<&str> = rows
        .iter()
        .filter(|r| r["status"] == "confirmed")
        .map(|r| r["uscc"].as_str().unwrap())
        .collect();
    assert_eq!(confirmed_now.len(), 50);
    for u in &head {
        assert!(
            confirmed_now.contains(&u.as_str()),
            "head of queue promoted"
        );
    }
    for u in &to_cancel {
        assert!(!rows.iter().any(|r| r["uscc"] == u.as_str()));
    }
    let waiting_now: Vec<i64> = rows
        .iter()
        .filter(|r| r["status"] == "waitlisted")
        .map(|r| r["position"].as_i64().unwrap())
        .collect();
    assert_eq!(waiting_now, (1..=147).collect::<Vec<_>>());
}

#[tokio::test]
async fn sign_up_is_idempotent_and_bad_input_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sid = session_with(&app, &org, 10, json!({"max_seats_per_enterprise": 3})).await;
    let (c, _) = app.register_enterprise(1).await;

    // not logged in
    let r = app
        .anonymous()
        .post(app.url(&format!("/api/v1/sessions/{sid}/registrations")))
        .json(&json!({"seats": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // seats
    for seats in [0, -2, 4] {
        let (status, body) = app.sign_up(&c, sid, seats).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{seats}");
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    // unknown session
    let (status, _) = app.sign_up(&c, 9999, 1).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // an organizer is not an enterprise
    let (status, _) = app.sign_up(&org, sid, 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let r = c
        .post(app.url(&format!("/api/v1/sessions/{sid}/registrations")))
        .json(&json!({"seats": 2, "attendees": ["示例甲", "示例乙"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "confirmed");
    // again: same state, nothing changes
    let (status, again) = app.sign_up(&c, sid, 3).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    let rows = app.roster(&org, sid).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["seats"], 2);
    assert_eq!(rows[0]["attendees"], json!(["示例甲", "示例乙"]));
    // an empty body means one seat
    let (c2, _) = app.register_enterprise(2).await;
    let r = c2
        .post(app.url(&format!("/api/v1/sessions/{sid}/registrations")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["seats"], 1);

    // cancelled session: the registrant's page says so and offers no 取消报名; the organizer
    // keeps the roster link
    app.cancel_session(&org, sid).await;
    let page = app.get_text(&c, &format!("/sessions/{sid}")).await;
    assert!(page.contains("本课程已取消"), "{page}");
    assert!(
        !page.contains(&format!("action=\"/sessions/{sid}/cancel\"")),
        "{page}"
    );
    let page = app.get_text(&org, &format!("/sessions/{sid}")).await;
    assert!(page.contains(&format!("/sessions/{sid}/roster")), "{page}");
    let (c3, _) = app.register_enterprise(3).await;
    let (status, body) = app.sign_up(&c3, sid, 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "session_cancelled");
}

#[tokio::test]
async fn window_closed_is_a_409_with_the_reason() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let sid = session_with(&app, &org, 10, json!({"signup_closes_at": past})).await;
    let (c, _) = app.register_enterprise(1).await;
    let (status, body) = app.sign_up(&c, sid, 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "signup_closed");
    assert!(body["detail"].as_str().unwrap().contains("截止"));
    let future = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let sid = session_with(&app, &org, 10, json!({"signup_opens_at": future})).await;
    let (status, body) = app.sign_up(&c, sid, 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "signup_not_open");
}

/// The head-of-queue rule: an entry needing more seats than are free keeps its place;
/// smaller entries behind it take seats that would otherwise stay empty; the head is confirmed
/// as soon as enough seats are free.
#[tokio::test]
async fn large_group_at_the_head_keeps_its_place() {
    let app = Arc::new(TestApp::spawn().await);
    let org = app.organizer().await;
    let sid = session_with(&app, &org, 3, json!({})).await;
    let e = enterprises(&app, 1, 4).await;
    let (a, b, c, d) = (&e[0].0, &e[1].0, &e[2].0, &e[3].0);
    assert_eq!(app.sign_up(a, sid, 2).await.1["status"], "confirmed");
    assert_eq!(app.sign_up(b, sid, 1).await.1["status"], "confirmed");
    let c_ans = app.sign_up(c, sid, 3).await.1;
    assert_eq!(
        (c_ans["status"].as_str(), c_ans["position"].as_i64()),
        (Some("waitlisted"), Some(1))
    );
    let d_ans = app.sign_up(d, sid, 1).await.1;
    assert_eq!(d_ans["position"], 2);
    // A leaves: 2 free. C (3) does not fit and keeps position 1; D (1) fits and is confirmed.
    app.cancel_sign_up(a, sid).await;
    let rows = app.roster(&org, sid).await;
    let status_of = |uscc: &str| {
        rows.iter().find(|r| r["uscc"] == uscc).map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["position"].as_i64(),
            )
        })
    };
    assert_eq!(status_of(&e[3].1), Some(("confirmed".into(), None)));
    assert_eq!(status_of(&e[2].1), Some(("waitlisted".into(), Some(1))));
    // B and D leave: 3 free, C is confirmed.
    for x in [b, d] {
        app.cancel_sign_up(x, sid).await;
    }
    let rows = app.roster(&org, sid).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["uscc"], e[2].1.as_str());
    assert_eq!(rows[0]["status"], "confirmed");
}

#[tokio::test]
async fn capacity_raise_and_removal_promote_the_waitlist() {
    let app = Arc::new(TestApp::spawn().await);
    let org = app.organizer().await;
    let sid = session_with(&app, &org, 1, json!({})).await;
    let e = enterprises(&app, 1, 3).await;
    for (c, _) in &e {
        app.sign_up(c, sid, 1).await;
    }
    // lowering below the confirmed seats is refused
    let r = app.update_session(&org, sid, &json!({"capacity": 0})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.update_session(&org, sid, &json!({"capacity": 2})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["seats_left"], 0);
    let rows = app.roster(&org, sid).await;
    assert_eq!(
        rows.iter().filter(|r| r["status"] == "confirmed").count(),
        2
    );
    assert_eq!(rows[1]["uscc"], e[1].1.as_str(), "second in line promoted");

    // an organizer removes the first with a reason; the third is promoted
    let eid = rows[0]["enterprise_id"].as_i64().unwrap();
    let url = app.url(&format!(
        "/api/v1/sessions/{sid}/registrations/{eid}/removal"
    ));
    let r = org
        .post(&url)
        .json(&json!({"reason": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = e[1]
        .0
        .post(&url)
        .json(&json!({"reason": "重复报名"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = org
        .post(&url)
        .json(&json!({"reason": "重复报名"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let rows = app.roster(&org, sid).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["status"] == "confirmed"));
    // the promoted enterprise sees it on its page and in its calendar feed
    let me = app.get_text(&e[2].0, "/me").await;
    assert!(me.contains("报名测试课程") && me.contains("已确认"));
    let start = me.find("/calendar/").unwrap();
    let end = me[start..].find(".ics").unwrap() + start + 4;
    let feed = app.get_text(&app.anonymous(), &me[start..end]).await;
    assert!(feed.contains(&format!("UID:session-{sid}@pufa")));
    // someone still waiting is not in their feed yet: nothing but confirmed sessions there
    let r = app
        .anonymous()
        .get(app.url("/calendar/not-a-token.ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rosters_are_for_organizers_and_the_sessions_lecturer() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sid = session_with(&app, &org, 5, json!({})).await;
    let (c, uscc) = app.register_enterprise(1).await;
    app.sign_up(&c, sid, 1).await;
    let r = c
        .get(app.url(&format!("/api/v1/sessions/{sid}/registrations")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(r).await["code"], "forbidden");
    let r = c
        .get(app.url(&format!("/sessions/{sid}/roster.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let rows = app.roster(&org, sid).await;
    assert_eq!(rows[0]["uscc"], uscc.as_str());
    assert_eq!(rows[0]["status"], "confirmed");

    // CSV opens in Excel: UTF-8 with BOM, Chinese header
    let r = org
        .get(app.url(&format!("/sessions/{sid}/roster.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("状态,候补顺位,企业名称,统一社会信用代码"));
    assert!(text.contains(&uscc));

    // HTML roster for the organizer
    let html = org
        .get(app.url(&format!("/sessions/{sid}/roster")))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    assert!(html.text().await.unwrap().contains(&uscc));
}

/// Create a staff account through the CLI against the running server's data directory.
fn add_lawyer(app: &TestApp, name: &str) {
    use std::io::Write;
    let mut child = crate::helpers::use_database_of(
        &app.dir,
        &mut std::process::Command::new(env!("CARGO_BIN_EXE_pufa")),
    )
    .args(["admin", "--data"])
    .arg(app.dir.join("data"))
    .args([
        "add-user",
        "--role",
        "lawyer",
        name,
        "--display-name",
        "示例律师（账号）",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"lawyer-pass-1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn the_linked_lawyer_reads_the_roster_and_others_do_not() {
    let app = TestApp::spawn().await;
    add_lawyer(&app, "lawyer-one");
    add_lawyer(&app, "lawyer-two");
    let org = app.organizer().await;
    // an unknown account is refused before anything is saved
    let sid = session_with(&app, &org, 5, json!({})).await;
    let lecturer = json!({"name": "示例律师", "firm": "示例律师事务所", "account": "nobody"});
    let r = app
        .update_session(&org, sid, &json!({ "lecturer": lecturer }))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let lecturer = json!({"name": "示例律师", "firm": "示例律师事务所", "account": "lawyer-one"});
    let r = app
        .update_session(&org, sid, &json!({ "lecturer": lecturer }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (c, uscc) = app.register_enterprise(1).await;
    app.sign_up(&c, sid, 1).await;

    let one = app.logged_in("lawyer-one", "lawyer-pass-1").await;
    let rows = app.roster(&one, sid).await;
    assert_eq!(rows[0]["uscc"], uscc.as_str());
    let me = app.get_text(&one, "/me").await;
    assert!(me.contains("报名测试课程"), "lawyer sees own sessions");
    // read-only: no removal
    let r = one
        .post(app.url(&format!(
            "/api/v1/sessions/{sid}/registrations/{}/removal",
            rows[0]["enterprise_id"]
        )))
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let two = app.logged_in("lawyer-two", "lawyer-pass-1").await;
    let r = two
        .get(app.url(&format!("/api/v1/sessions/{sid}/registrations")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn capacity_cannot_drop_below_confirmed_seats() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sid = session_with(&app, &org, 3, json!({})).await;
    let (c, _) = app.register_enterprise(1).await;
    app.sign_up(&c, sid, 2).await;
    let r = app.update_session(&org, sid, &json!({"capacity": 1})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "capacity_below_confirmed");
}
