//! Sign-ups and cancellations run as one job each on the database writer (src/db/writer.rs).
//! Under a burst on a multi-thread runtime — every enterprise sending its sign-up twice at
//! once, groups of 1–3 seats, then cancellations racing new sign-ups — no seat is oversold,
//! the waitlist stays a gap-free queue, a repeated sign-up creates nothing, and every sign-up
//! finds exactly one 报名成功 or 候补 notice in its inbox, and every promotion exactly one
//! 候补转正.

use crate::helpers::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const CAPACITY: i64 = 40;

/// A program with one session of [`CAPACITY`] seats, at most 3 per enterprise: (program,
/// session).
async fn session(app: &TestApp, org: &Client) -> (i64, i64) {
    let start = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let end = start + chrono::Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "并发报名示例项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .add_session(
            org,
            pid,
            &json!({
                "title": "并发报名示例课程", "category": "合同管理",
                "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": CAPACITY, "max_seats_per_enterprise": 3,
                "starts_at": format!("{}T10:00+08:00", start + chrono::Duration::days(3)),
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (
        pid,
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap(),
    )
}

/// Enterprises `first..first + n`, registered a few at a time (Argon2 is memory-hungry).
async fn enterprises(app: &Arc<TestApp>, first: u32, n: u32) -> Vec<(Client, String)> {
    let gate = Arc::new(tokio::sync::Semaphore::new(6));
    let mut set = tokio::task::JoinSet::new();
    for i in first..first + n {
        let (app, gate) = (app.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            (i, app.register_enterprise(i).await)
        });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, e)| e).collect()
}

/// The kinds in `c`'s inbox.
async fn inbox_kinds(app: &TestApp, c: &Client) -> Vec<String> {
    let all: Value = app.get_json(c, "/api/v1/notifications").await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Seats 1, 2 or 3 by enterprise number: groups that do not fit the free seats exercise the
/// queue walk (a smaller group behind a large one takes a seat the large one cannot use).
fn seats_of(i: usize) -> i64 {
    [1, 2, 1, 3, 1][i % 5]
}

/// The roster's invariants: confirmed seats within capacity, a gap-free queue, nobody twice,
/// and no waiting group that would fit the free seats.
fn check_roster(rows: &[Value]) -> (i64, HashMap<String, &'static str>) {
    let mut status = HashMap::new();
    let mut confirmed = 0;
    let mut positions = Vec::new();
    let mut smallest_waiting = i64::MAX;
    for r in rows {
        let uscc = r["uscc"].as_str().unwrap().to_string();
        let seats = r["seats"].as_i64().unwrap();
        let s = if r["status"] == "confirmed" {
            confirmed += seats;
            "confirmed"
        } else {
            positions.push(r["position"].as_i64().unwrap());
            smallest_waiting = smallest_waiting.min(seats);
            "waitlisted"
        };
        assert!(status.insert(uscc, s).is_none(), "an enterprise twice");
    }
    assert!(confirmed <= CAPACITY, "oversold: {confirmed} > {CAPACITY}");
    assert!(
        smallest_waiting > CAPACITY - confirmed,
        "a waiting group of {smallest_waiting} fits the {} free seats",
        CAPACITY - confirmed
    );
    assert_eq!(positions, (1..=positions.len() as i64).collect::<Vec<_>>());
    (confirmed, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_the_writer_oversells_nothing_and_tells_everyone_once() {
    let app = Arc::new(TestApp::spawn().await);
    let org = app.organizer().await;
    let (pid, sid) = session(&app, &org).await;
    let ents = enterprises(&app, 3000, 70).await;
    let (first, late) = ents.split_at(50);

    // every enterprise of the first wave sends its sign-up twice at the same moment
    let barrier = Arc::new(tokio::sync::Barrier::new(first.len() * 2));
    let mut set = tokio::task::JoinSet::new();
    for (i, (c, uscc)) in first.iter().cloned().enumerate() {
        for _ in 0..2 {
            let (app, barrier, c, uscc) = (app.clone(), barrier.clone(), c.clone(), uscc.clone());
            set.spawn(async move {
                barrier.wait().await;
                let (status, body) = app.sign_up(&c, sid, seats_of(i)).await;
                (uscc, status, body)
            });
        }
    }
    let mut answers: HashMap<String, Vec<(StatusCode, Value)>> = HashMap::new();
    for (uscc, status, body) in set.join_all().await {
        answers.entry(uscc).or_default().push((status, body));
    }
    for (uscc, pair) in &answers {
        let mut codes: Vec<u16> = pair.iter().map(|(s, _)| s.as_u16()).collect();
        codes.sort_unstable();
        assert_eq!(
            codes,
            [200, 201],
            "{uscc}: one sign-up created, the repeat returned"
        );
        assert_eq!(
            pair[0].1["registration_id"], pair[1].1["registration_id"],
            "{uscc}: the repeat returns the same registration"
        );
    }
    let rows = app.roster(&org, sid).await;
    assert_eq!(rows.len(), first.len());
    let (confirmed, _) = check_roster(&rows);
    assert!(confirmed > CAPACITY - 3, "the seats are used: {confirmed}");

    // cancellations of confirmed enterprises race the second wave's sign-ups
    let leaving: Vec<(Client, String)> = first
        .iter()
        .filter(|(_, u)| {
            rows.iter()
                .any(|r| r["uscc"] == u.as_str() && r["status"] == "confirmed")
        })
        .take(8)
        .cloned()
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(leaving.len() + late.len()));
    let mut set = tokio::task::JoinSet::new();
    for (c, _) in &leaving {
        let (app, barrier, c) = (app.clone(), barrier.clone(), c.clone());
        set.spawn(async move {
            barrier.wait().await;
            (app.cancel_sign_up(&c, sid).await, Value::Null)
        });
    }
    for (i, (c, _)) in late.iter().cloned().enumerate() {
        let (app, barrier) = (app.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            app.sign_up(&c, sid, seats_of(i + 1)).await
        });
    }
    for (status, body) in set.join_all().await {
        assert!(
            status == StatusCode::NO_CONTENT || status == StatusCode::CREATED,
            "{status} {body}"
        );
    }

    let rows = app.roster(&org, sid).await;
    assert_eq!(rows.len(), first.len() + late.len() - leaving.len());
    let (confirmed, now) = check_roster(&rows);
    let program: Value = app
        .get_json(&app.anonymous(), &format!("/api/v1/programs/{pid}"))
        .await;
    assert_eq!(
        program["sessions"][0]["seats_left"].as_i64(),
        Some(CAPACITY - confirmed),
        "the session row's confirmed_seats agrees with the roster"
    );

    // every sign-up told once (报名成功 or 候补), every promotion once (候补转正)
    let mut first_answer: HashMap<&str, &str> = HashMap::new();
    for (uscc, pair) in &answers {
        let created = pair
            .iter()
            .find(|(s, _)| *s == StatusCode::CREATED)
            .unwrap();
        first_answer.insert(uscc, created.1["status"].as_str().unwrap());
    }
    for (c, uscc) in &ents {
        let kinds = inbox_kinds(&app, c).await;
        let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
        let told = count("signup_confirmed") + count("signup_waitlisted");
        assert_eq!(told, 1, "{uscc}: {kinds:?}");
        if let Some(answer) = first_answer.get(uscc.as_str()) {
            let kind = format!("signup_{answer}");
            assert_eq!(count(&kind), 1, "{uscc}: told what the answer said");
        }
        let promoted = now.get(uscc).copied() == Some("confirmed")
            && kinds.iter().any(|k| k == "signup_waitlisted");
        assert_eq!(
            count("promoted"),
            usize::from(promoted),
            "{uscc}: {kinds:?}"
        );
    }
}
