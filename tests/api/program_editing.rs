//! Issue 17, scheduling that organizers can change: a program is edited and deleted through the
//! API and the pages, its placed sessions re-checked against the new dates, blackout days and
//! zone; the zone is chosen from a list in Chinese; a hand placement outside every weekly slot
//! is saved with a warning; lecturers come from a directory (a typo cannot create a second one)
//! linked to lawyer accounts.

use crate::helpers::{add_staff, problem, text_between, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

fn program_body(ends_on: &str, blackout: &[&str], timezone: &str) -> Value {
    json!({
        "title": "示例可修改普法月",
        "starts_on": "2027-03-01",
        "ends_on": ends_on,
        "timezone": timezone,
        "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        "blackout_dates": blackout,
    })
}

/// A program with two sessions placed on Tuesdays 9 and 23 March 2027 (14:30 Beijing time).
async fn program_with_sessions(app: &TestApp, org: &Client) -> (i64, i64, i64) {
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&program_body("2027-03-31", &[], "Asia/Shanghai"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (title, at) in [
        ("示例课程：三月九日", "2027-03-09T14:30"),
        ("示例课程：三月二十三日", "2027-03-23T14:30"),
    ] {
        let r = org
            .post(app.url(&format!("/api/v1/programs/{pid}/sessions")))
            .json(&json!({"title": title, "category": "合同管理",
                "lecturer": {"name": "示例讲师甲", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": 30, "starts_at": at}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{title}");
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    (pid, ids[0], ids[1])
}

#[tokio::test]
async fn a_program_change_is_refused_when_it_would_break_a_placed_session() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (pid, _first, second) = program_with_sessions(&app, &org).await;
    let put = |body: Value| {
        org.put(app.url(&format!("/api/v1/programs/{pid}")))
            .json(&body)
            .send()
    };
    // 23 March becomes a blackout day and the month ends on the 20th: both named, nothing saved
    let r = put(program_body("2027-03-31", &["2027-03-23"], "Asia/Shanghai"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert!(p["type"]
        .as_str()
        .unwrap()
        .ends_with("program_change_breaks_sessions"));
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("示例课程：三月二十三日") && detail.contains("2027-03-23 为停课日期"),
        "{detail}"
    );
    assert!(!detail.contains("示例课程：三月九日"), "{detail}");
    let r = put(program_body("2027-03-20", &[], "Asia/Shanghai"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(problem(r).await["detail"]
        .as_str()
        .unwrap()
        .contains("不在项目的起止日期范围内"));
    let unchanged: Value = app.get_json(&org, &format!("/api/v1/programs/{pid}")).await;
    assert_eq!(unchanged["ends_on"], "2027-03-31");
    assert_eq!(unchanged["blackout_dates"], json!([]));

    // a change that keeps every session valid is saved: new title, a second slot, a blackout
    // day without a session, another zone (sessions keep their instants)
    let before = unchanged["sessions"][1]["starts_at"].clone();
    let mut body = program_body("2027-03-31", &["2027-03-16"], "Asia/Hong_Kong");
    body["title"] = json!("示例可修改普法月（已调整）");
    body["slots"] = json!([{"weekday": 2, "start": "14:30", "minutes": 90},
                           {"weekday": 4, "start": "09:30", "minutes": 60}]);
    let r = put(body).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["title"], "示例可修改普法月（已调整）");
    assert_eq!(saved["timezone"], "Asia/Hong_Kong");
    assert_eq!(saved["slots"].as_array().unwrap().len(), 2);
    let after: Value = app.get_json(&org, &format!("/api/v1/programs/{pid}")).await;
    assert_eq!(after["sessions"][1]["id"], second);
    assert_eq!(after["sessions"][1]["starts_at"], before);

    // bad input is explained; others may not change it
    let r = put(
        json!({"title": "x", "starts_on": "2027-03-31", "ends_on": "2027-03-01",
                       "timezone": "Nowhere/City", "slots": []}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (ent, _) = app.register_enterprise(1).await;
    let r = ent
        .put(app.url(&format!("/api/v1/programs/{pid}")))
        .json(&program_body("2027-03-31", &[], "Asia/Shanghai"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = org
        .put(app.url("/api/v1/programs/999999"))
        .json(&program_body("2027-03-31", &[], "Asia/Shanghai"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // the change is in the audit log
    let audit = app
        .get_text(&org, "/admin/audit?action=program.edited")
        .await;
    assert!(audit.contains("修改普法月项目"), "audit");
    app.stop().await;
}

#[tokio::test]
async fn a_program_is_deleted_only_while_nobody_signed_up() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (pid, first, _) = program_with_sessions(&app, &org).await;
    let (ent, _) = app.register_enterprise(1).await;
    let (status, _) = app.sign_up(&ent, first, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let r = ent
        .delete(app.url(&format!("/api/v1/programs/{pid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = org
        .delete(app.url(&format!("/api/v1/programs/{pid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert!(p["type"].as_str().unwrap().ends_with("program_in_use"));
    assert!(p["detail"].as_str().unwrap().contains("1条报名记录"));
    // the page refuses the same way, on the program page
    let csrf = app
        .csrf_token(&org, &format!("/admin/programs/{pid}/delete"))
        .await;
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/delete")))
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("不能删除"));

    // a second program nobody signed up for: the page asks first, then deletes it
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&program_body("2027-03-31", &[], "Asia/Shanghai"))
        .send()
        .await
        .unwrap();
    let draft = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let confirm = app
        .get_text(&org, &format!("/admin/programs/{draft}/delete"))
        .await;
    assert!(confirm.contains("删除此项目？") && confirm.contains("确认删除项目"));
    let r = org
        .post(app.url(&format!("/admin/programs/{draft}/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "unconfirmed: back to the question"
    );
    assert_eq!(
        app.anonymous()
            .get(app.url(&format!("/api/v1/programs/{draft}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let r = org
        .post(app.url(&format!("/admin/programs/{draft}/delete")))
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin?notice=program_deleted");
    let r = app
        .anonymous()
        .get(app.url(&format!("/api/v1/programs/{draft}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // through the API: a third, empty one
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&program_body("2027-03-31", &[], "Asia/Shanghai"))
        .send()
        .await
        .unwrap();
    let third = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = org
        .delete(app.url(&format!("/api/v1/programs/{third}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let audit = app
        .get_text(&org, "/admin/audit?action=program.deleted")
        .await;
    assert!(audit.contains("删除普法月项目"));
    app.stop().await;
}

#[tokio::test]
async fn the_edit_page_uses_pickers_and_names_the_sessions_a_change_would_break() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (pid, _, _) = program_with_sessions(&app, &org).await;
    let page = app
        .get_text(&org, &format!("/admin/programs/{pid}/edit"))
        .await;
    // dates are date pickers, slots rows of weekday/time/length, the zone a list in Chinese
    assert!(page.contains(r#"id="starts_on" name="starts_on" type="date""#));
    assert!(page.contains(r#"<option value="2" selected>周二</option>"#));
    assert!(page.contains(r#"name="slot_start" type="time" value="14:30""#));
    assert!(page.contains(r#"name="blackout" type="date""#));
    assert!(page.contains(r#"<option value="Asia/Shanghai" selected>北京时间（UTC+8）</option>"#));
    // the program page shows the zone in Chinese too
    let admin = app.get_text(&org, &format!("/admin/programs/{pid}")).await;
    assert!(admin.contains("北京时间（UTC+8）") && admin.contains("修改项目"));

    let csrf = app
        .csrf_token(&org, &format!("/admin/programs/{pid}/edit"))
        .await;
    let form = |blackout: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", "示例可修改普法月".to_string()),
            ("starts_on", "2027-03-01".into()),
            ("ends_on", "2027-03-31".into()),
            ("timezone", "Asia/Shanghai".into()),
            ("slot_weekday", "2".into()),
            ("slot_start", "14:30".into()),
            ("slot_minutes", "90".into()),
            ("blackout", blackout.into()),
        ]
    };
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/edit")))
        .form(&form("2027-03-09"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("示例课程：三月九日") && html.contains("请先调整或取消它们"));
    // what was typed stays in the form
    assert!(html.contains(r#"value="2027-03-09""#));
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/edit")))
        .form(&form("2027-03-16"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let admin = app
        .get_text(&org, &format!("/admin/programs/{pid}?notice=program_saved"))
        .await;
    assert!(admin.contains("项目已保存") && admin.contains("停课：03月16日"));
    app.stop().await;
}

/// The directory row of the lecturer the test adds.
const ROW: &str = "<td data-label=\"讲师\">示例名录律师</td>";

#[tokio::test]
async fn lecturers_come_from_a_directory_linked_to_lawyer_accounts() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    add_staff(&app, "lawyer", "dir-lawyer-1", "lawyer-pass-123");
    let csrf = app.csrf_token(&org, "/admin/lecturers").await;
    let add = |name: &'static str, firm: &'static str, account: &'static str| {
        org.post(app.url("/admin/lecturers"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", name),
                ("firm", firm),
                ("bio", "示例简介"),
                ("weekdays", "2"),
                ("unavailable", "2027-03-16"),
                ("unavailable", ""),
                ("account", account),
            ])
            .send()
    };
    let r = add("示例名录律师", "示例律师事务所", "dir-lawyer-1")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // the same lecturer a second time is refused, naming the first
    let r = add("示例名录律师", "示例律师事务所", "").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("讲师名录中已有“示例名录律师（示例律师事务所）”"));
    assert!(html.contains(r#"aria-describedby="name-err""#));
    // an unknown account is explained
    let r = add("示例另一律师", "示例律师事务所", "no-such-lawyer")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("律师账号“no-such-lawyer”不存在"));

    let directory = app.get_text(&org, "/admin/lecturers").await;
    assert!(
        directory.contains("周二；3月16日不可"),
        "availability listed"
    );
    assert!(directory.contains("示例员工（账号）（dir-lawyer-1）"));
    let row_start = directory.find(ROW).expect("the new lecturer is listed");
    let row = &directory[row_start..];
    let lawyer_id = text_between(row, "href=\"/lawyers/", "\"");
    assert!(lawyer_id.parse::<i64>().is_ok());
    let lecturer_id = text_between(row, "href=\"/admin/lecturers/", "\"");
    assert_eq!(directory.matches(ROW).count(), 1);

    // the session form picks from the directory; none picked is explained
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&program_body("2027-03-31", &[], "Asia/Shanghai"))
        .send()
        .await
        .unwrap();
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let new_session = app
        .get_text(&org, &format!("/admin/programs/{pid}/sessions/new"))
        .await;
    assert!(new_session.contains(&format!(
        r#"<option value="{lecturer_id}">示例名录律师（示例律师事务所）</option>"#
    )));
    let session_form = |lecturer: &str, starts_at: &'static str, action: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", "示例名录课程".to_string()),
            ("category", "合同管理".into()),
            ("lecturer_id", lecturer.to_string()),
            ("minutes", "90".into()),
            ("capacity", "40".into()),
            ("max_seats", "3".into()),
            ("starts_at", starts_at.into()),
            ("action", action.into()),
        ]
    };
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&session_form("", "2027-03-09T14:30", "save"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("请从讲师名录中选择主讲律师"));
    assert!(html.contains(r#"aria-describedby="lecturer_id-err""#));

    // a Tuesday at 10:00 is outside the only slot (Tuesday 14:30): checked with a warning,
    // saved with a notice, marked on the program page
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&session_form(&lecturer_id, "2027-03-09T10:00", "check"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("该时间没有冲突") && html.contains("不在项目的每周上课时段内"));
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&session_form(&lecturer_id, "2027-03-09T10:00", "save"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.ends_with("notice=saved_outside_slots"),
        "{location}"
    );
    let admin = app.get_text(&org, &location).await;
    assert!(admin.contains("不在项目的每周上课时段内，请确认"));
    assert!(admin.contains("不在每周上课时段内"));
    // the lecturer's directory availability counts: 16 March is a day off
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&session_form(&lecturer_id, "2027-03-16T14:30", "check"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("讲师 2027-03-16 不可授课"));

    // the linked lawyer sees the session; the session uses the directory's lecturer
    let lawyer = app.logged_in("dir-lawyer-1", "lawyer-pass-123").await;
    let mine = app.get_text(&lawyer, "/me").await;
    assert!(
        mine.contains("示例名录课程"),
        "the lawyer's own sessions list it"
    );
    let prog: Value = app.get_json(&org, &format!("/api/v1/programs/{pid}")).await;
    assert_eq!(
        prog["sessions"][0]["lecturer"]["id"]
            .as_i64()
            .unwrap()
            .to_string(),
        lecturer_id
    );
    // editing the lecturer keeps one entry and one id
    let r = org
        .post(app.url(&format!("/admin/lecturers/{lecturer_id}")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "示例名录律师"),
            ("firm", "示例律师事务所"),
            ("bio", "示例简介（更新）"),
            ("account", "dir-lawyer-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let directory = app.get_text(&org, "/admin/lecturers").await;
    assert_eq!(directory.matches(ROW).count(), 1);
    let row = &directory[directory.find(ROW).expect("listed")..];
    assert!(text_between(row, "<td data-label=\"可授课\">", "<").contains("每天"));
    // enterprises do not see the directory
    let (ent, _) = app.register_enterprise(2).await;
    let r = ent.get(app.url("/admin/lecturers")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
