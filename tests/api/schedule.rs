//! Planning: only organizers create programs, and every bad field is explained; the
//! auto-scheduler proposes, applies on request and says why a session stays unplaced; hand
//! placement is checked for clashes, blackout dates and the lecturer's other sessions; calendar
//! feeds parse back with an independent parser and track moves and cancellations; the demo
//! month arrives fully placed; the HTML forms do the same as the API.

use crate::helpers::{problem, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn create_program(app: &TestApp, org: &Client) -> i64 {
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "测试普法月",
            "starts_on": "2027-03-01",
            "ends_on": "2027-03-31",
            "timezone": "Asia/Shanghai",
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90},
                      {"weekday": 4, "start": "14:30", "minutes": 90}],
            "blackout_dates": ["2027-03-04"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

fn session(title: &str, category: &str, lecturer: &str, weekdays: Option<Vec<u8>>) -> Value {
    let mut l = json!({"name": lecturer, "firm": "示例律师事务所"});
    if let Some(w) = weekdays {
        l["available_weekdays"] = json!(w);
    }
    json!({"title": title, "category": category, "lecturer": l, "minutes": 90, "capacity": 50})
}

#[tokio::test]
async fn only_organizers_plan_and_bad_programs_are_explained() {
    let app = TestApp::spawn().await;
    let body = json!({"title": "x", "starts_on": "2027-03-31", "ends_on": "2027-03-01",
                      "timezone": "Nowhere/City", "slots": [{"weekday": 8, "start": "25:00", "minutes": 90}],
                      "blackout_dates": ["03/04"]});
    let r = app
        .anonymous()
        .post(app.url("/api/v1/programs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (ent, _) = app.register_enterprise(1).await;
    let r = ent
        .post(app.url("/api/v1/programs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let org = app.organizer().await;
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["title", "ends_on", "timezone", "slots", "blackout_dates"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    // a session with bad fields
    let id = create_program(&app, &org).await;
    let bad = json!({"title": "课", "category": "烹饪", "lecturer": {"name": "", "firm": ""},
                     "minutes": 0, "capacity": -1});
    let r = app.add_session(&org, id, &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    assert!(p["detail"].as_str().unwrap().contains("主题类别"));
    let r = org
        .get(app.url("/api/v1/programs/999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn auto_scheduler_proposes_then_applies_and_explains_the_rest() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let id = create_program(&app, &org).await;
    // March 2027: Tue 2,9,16,23,30 and Thu 4(blackout),11,18,25 = 8 occurrences
    let mut ids = Vec::new();
    for (i, cat) in ["合同管理", "合同管理", "劳动用工", "劳动用工", "建设工程"]
        .iter()
        .enumerate()
    {
        let r = app
            .add_session(
                &org,
                id,
                &session(&format!("课程{i}"), cat, &format!("示例律师{i}"), None),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    // a lecturer who only teaches on Mondays cannot be placed
    let r = app
        .add_session(
            &org,
            id,
            &session("周一课程", "财税", "示例律师周一", Some(vec![1])),
        )
        .await;
    let monday = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // 4 sessions of one Thursday-only lecturer compete for 3 Thursdays
    let mut thursday = Vec::new();
    for i in 0..4 {
        let r = app
            .add_session(
                &org,
                id,
                &session(
                    &format!("周四课程{i}"),
                    "知识产权",
                    "示例律师周四",
                    Some(vec![4]),
                ),
            )
            .await;
        thursday.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }

    let r = org
        .post(app.url(&format!("/api/v1/programs/{id}/schedule")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let plan: Value = r.json().await.unwrap();
    let placed = plan["placed"].as_array().unwrap();
    let unplaced = plan["unplaced"].as_array().unwrap();
    // 8 occurrences, 10 sessions: the Monday one and one Thursday one cannot be placed
    assert_eq!(placed.len(), 8, "{plan}");
    assert_eq!(unplaced.len(), 2);
    let reason_of = |sid: i64| {
        unplaced
            .iter()
            .find(|u| u["session_id"] == sid)
            .map(|u| u["reason"].as_str().unwrap().to_string())
    };
    assert!(reason_of(monday).is_some_and(|r| !r.is_empty()));
    for p in placed {
        let at = p["starts_at"].as_str().unwrap();
        assert!(at.ends_with("+08:00"), "{at}");
        assert!(!at.starts_with("2027-03-04"), "blackout used");
    }
    // proposing does not save
    let prog: Value = app.get_json(&org, &format!("/api/v1/programs/{id}")).await;
    assert!(prog["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["starts_at"].is_null()));

    let r = org
        .post(app.url(&format!("/api/v1/programs/{id}/schedule")))
        .json(&json!({"apply": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["applied"], true);
    let prog: Value = app
        .get_json(&app.anonymous(), &format!("/api/v1/programs/{id}"))
        .await;
    let sessions = prog["sessions"].as_array().unwrap();
    let placed_now = sessions
        .iter()
        .filter(|s| !s["starts_at"].is_null())
        .count();
    assert_eq!(placed_now, 8);
    for s in sessions {
        assert_eq!(s["seats_left"], 50);
        assert!(s["lecturer"]["name"].is_string());
    }
    // the placed Thursday sessions are all on Thursdays
    for s in sessions
        .iter()
        .filter(|s| thursday.contains(&s["id"].as_i64().unwrap()))
    {
        if let Some(at) = s["starts_at"].as_str() {
            let date = chrono::DateTime::parse_from_rfc3339(at).unwrap();
            assert_eq!(chrono::Datelike::weekday(&date), chrono::Weekday::Thu);
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn hand_placement_is_checked_for_conflicts() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let id = create_program(&app, &org).await;
    let mut a = session("合同课", "合同管理", "示例律师甲", None);
    a["starts_at"] = json!("2027-03-02T14:30:00+08:00");
    let r = app.add_session(&org, id, &a).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    // overlapping another session
    let mut b = session("用工课", "劳动用工", "示例律师乙", None);
    b["starts_at"] = json!("2027-03-02T15:00");
    let r = app.add_session(&org, id, &b.clone()).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert_eq!(p["code"], "schedule_conflict");
    // the collision is named by its title
    assert!(
        p["detail"].as_str().unwrap().contains("与“合同课”时间重叠"),
        "{p}"
    );
    assert!(a_id > 0);

    // on a blackout date
    b["starts_at"] = json!("2027-03-04T14:30");
    let r = app.add_session(&org, id, &b.clone()).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(problem(r).await["detail"]
        .as_str()
        .unwrap()
        .contains("停课"));

    // the same lecturer at an overlapping time in another slot of the day
    let mut c = session("合同课二", "合同管理", "示例律师甲", None);
    c["starts_at"] = json!("2027-03-02T15:30");
    let r = app.add_session(&org, id, &c).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // a free time is fine; then moving it onto the first session is refused
    b["starts_at"] = json!("2027-03-09T14:30");
    let r = app.add_session(&org, id, &b).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .update_session(&org, b_id, &json!({"starts_at": "2027-03-02T14:00+08:00"}))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // a valid move and a capacity change
    let r = app
        .update_session(
            &org,
            b_id,
            &json!({"starts_at": "2027-03-16T14:30+08:00", "capacity": 80}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["starts_at"], "2027-03-16T14:30:00+08:00");
    assert_eq!(s["capacity"], 80);
    assert_eq!(s["title"], "用工课");
    app.stop().await;
}

fn events(ics: &str) -> Vec<String> {
    ics.split("BEGIN:VEVENT")
        .skip(1)
        .map(|s| s.to_string())
        .collect()
}

#[tokio::test]
async fn calendar_feeds_are_subscribable_and_track_changes() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let id = create_program(&app, &org).await;
    let mut a = session("合同纠纷预防", "合同管理", "示例律师甲", None);
    a["starts_at"] = json!("2027-03-02T14:30");
    let a_id = app
        .add_session(&org, id, &a)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let feed = || async {
        let r = app
            .anonymous()
            .get(app.url(&format!("/programs/{id}/calendar.ics")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar"));
        r.text().await.unwrap()
    };
    let first = feed().await;
    assert!(first.contains("X-WR-CALNAME:测试普法月"));
    assert!(first.contains(&format!("UID:session-{a_id}@pufa")));
    assert!(first.contains("DTSTART:20270302T063000Z"), "{first}");
    let seq = |ics: &str| -> i64 {
        let e = &events(ics)[0];
        e.lines()
            .find_map(|l| l.strip_prefix("SEQUENCE:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let s0 = seq(&first);
    app.update_session(&org, a_id, &json!({"starts_at": "2027-03-09T14:30"}))
        .await;
    let second = feed().await;
    assert!(seq(&second) > s0);
    assert!(
        second.contains(&format!("UID:session-{a_id}@pufa")),
        "UID stays"
    );
    assert!(second.contains("DTSTART:20270309T063000Z"));
    let r = app.cancel_session(&org, a_id).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let third = feed().await;
    assert!(third.contains("STATUS:CANCELLED"));
    assert!(seq(&third) > seq(&second));
    let r = app
        .anonymous()
        .get(app.url(&format!("/programs/{id}/nothing.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn demo_month_has_16_placed_sessions_next_month() {
    let app = TestApp::spawn().await;
    let programs: Value = app.get_json(&app.anonymous(), "/api/v1/programs").await;
    let p = &programs[0];
    assert!(p["title"].as_str().unwrap().contains("示例"));
    let today = chrono::Utc::now().date_naive();
    let (first, last) = pufa::demo::next_month(today).unwrap();
    assert_eq!(p["starts_on"], first.to_string());
    assert_eq!(p["ends_on"], last.to_string());
    let full: Value = app
        .get_json(&app.anonymous(), &format!("/api/v1/programs/{}", p["id"]))
        .await;
    let sessions = full["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 16);
    assert!(
        sessions.iter().all(|s| !s["starts_at"].is_null()),
        "all placed"
    );
    assert!(sessions
        .iter()
        .all(|s| s["lecturer"]["name"].as_str().unwrap().contains("示例")));
    // the public pages render the calendar and the list
    let html = app
        .get_text(&app.anonymous(), &format!("/programs/{}", p["id"]))
        .await;
    assert!(html.contains("class=\"month\""));
    assert!(html.contains(sessions[0]["title"].as_str().unwrap()));
    app.stop().await;
}

#[tokio::test]
async fn organizer_plans_through_the_html_forms() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let csrf = app.csrf_token(&org, "/admin/programs/new").await;
    let create_program = |slot_start: &'static str, blackout: &'static str| {
        org.post(app.url("/admin/programs"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("title", "表单普法月"),
                ("starts_on", "2027-04-01"),
                ("ends_on", "2027-04-30"),
                ("timezone", "Asia/Shanghai"),
                ("slot_weekday", "2"),
                ("slot_start", slot_start),
                ("slot_minutes", "90"),
                ("slot_weekday", "4"),
                ("slot_start", "14:30"),
                ("slot_minutes", "90"),
                // a blank row is not a slot
                ("slot_weekday", ""),
                ("slot_start", ""),
                ("slot_minutes", ""),
                ("blackout", blackout),
                ("blackout", ""),
            ])
            .send()
    };
    // a bad slot row comes back with its message
    let r = create_program("下午", "").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("第1个时段的开始时间"));
    let r = create_program("14:30", "2027-04-06").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let pid: i64 = loc.rsplit('/').next().unwrap().parse().unwrap();
    let prog: Value = app.get_json(&org, &format!("/api/v1/programs/{pid}")).await;
    assert_eq!(prog["slots"].as_array().unwrap().len(), 2);
    assert_eq!(prog["blackout_dates"], json!(["2027-04-06"]));
    // the lecturer is added to the directory once and picked on the session form
    let r = org
        .post(app.url("/admin/lecturers"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "示例律师表单"),
            ("firm", "示例律师事务所"),
            ("weekdays", "2"),
            ("weekdays", "4"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let directory = app.get_text(&org, "/admin/lecturers").await;
    let lecturer_id = crate::helpers::text_between(&directory, "href=\"/admin/lecturers/", "\"");
    let form = |title: &'static str, starts_at: &'static str, action: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", title.into()),
            ("category", "合同管理".into()),
            ("target_industries", "E".into()),
            ("target_industries", "C".into()),
            ("lecturer_id", lecturer_id.clone()),
            ("minutes", "90".into()),
            ("capacity", "40".into()),
            ("max_seats", "3".into()),
            ("starts_at", starts_at.into()),
            ("action", action.into()),
        ]
    };
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&form("表单课程一", "2027-04-01T14:30", "save"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // checking a conflicting time shows the conflict without saving
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&form("表单课程二", "2027-04-01T15:00", "check"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("时间冲突"));
    // an unplaced one, then the auto-scheduler through the page
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/sessions")))
        .form(&form("表单课程三", "", "save"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/schedule")))
        .form(&[("csrf", csrf.as_str()), ("action", "propose")])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("自动排课方案") && html.contains("表单课程三"));
    let r = org
        .post(app.url(&format!("/admin/programs/{pid}/schedule")))
        .form(&[("csrf", csrf.as_str()), ("action", "apply")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let prog: Value = app.get_json(&org, &format!("/api/v1/programs/{pid}")).await;
    let s = &prog["sessions"].as_array().unwrap();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| !s["starts_at"].is_null()));
    assert_eq!(s[0]["target_industries"], json!(["C", "E"]));
    let page = org
        .get(app.url(&format!("/admin/programs/{pid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    app.stop().await;
}

/// The program feed parsed back with an independent parser (the `ical` crate; the feed is
/// written with `icalendar`): every session, its time and its UID.
#[tokio::test]
async fn feed_parses_back_with_an_independent_parser() {
    let app = TestApp::spawn().await;
    let c = app.anonymous();
    let programs: Value = app.get_json(&c, "/api/v1/programs").await;
    let pid = programs[0]["id"].as_i64().unwrap();
    let program: Value = app.get_json(&c, &format!("/api/v1/programs/{pid}")).await;
    let text = app
        .get_text(&c, &format!("/programs/{pid}/calendar.ics"))
        .await;
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let cal = parser.next().expect("a calendar").expect("parses");
    assert!(parser.next().is_none());
    let name = cal
        .properties
        .iter()
        .find(|p| p.name == "X-WR-CALNAME")
        .and_then(|p| p.value.clone());
    assert_eq!(name.as_deref(), program["title"].as_str());
    let sessions = program["sessions"].as_array().unwrap();
    assert_eq!(cal.events.len(), sessions.len());
    for s in sessions {
        let uid = format!("session-{}@pufa", s["id"]);
        let event = cal
            .events
            .iter()
            .find(|e| {
                e.properties
                    .iter()
                    .any(|p| p.name == "UID" && p.value.as_deref() == Some(uid.as_str()))
            })
            .unwrap_or_else(|| panic!("no event {uid}"));
        let prop = |name: &str| {
            event
                .properties
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.clone())
                .unwrap_or_default()
        };
        let starts =
            chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            prop("DTSTART"),
            starts
                .with_timezone(&chrono::Utc)
                .format("%Y%m%dT%H%M%SZ")
                .to_string()
        );
        let ends = starts + chrono::Duration::minutes(s["minutes"].as_i64().unwrap());
        assert_eq!(
            prop("DTEND"),
            ends.with_timezone(&chrono::Utc)
                .format("%Y%m%dT%H%M%SZ")
                .to_string()
        );
        assert_eq!(prop("SUMMARY"), s["title"].as_str().unwrap());
        assert_eq!(prop("STATUS"), "CONFIRMED");
    }
    app.stop().await;
}

/// The two operations whose body may be left out document it as `null` or an object (the
/// OpenAPI document's `oneOf`), so `null` means the same as no body. Before the fix a `null`
/// body was a 400 `invalid_json_fields` (found by schemathesis).
#[tokio::test]
async fn an_optional_body_may_be_json_null() {
    let app = TestApp::spawn().await;
    let post_null = |c: &Client, path: String| {
        c.post(app.url(&path))
            .header("content-type", "application/json")
            .body("null")
            .send()
    };
    let (enterprise, _) = app.register_enterprise(1).await;
    let session = app.demo_session_ids(&enterprise).await[0];
    let r = post_null(
        &enterprise,
        format!("/api/v1/sessions/{session}/registrations"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["seats"], 1);

    let org = app.organizer().await;
    let id = create_program(&app, &org).await;
    let r = post_null(&org, format!("/api/v1/programs/{id}/schedule"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["applied"], false);
    app.stop().await;
}
