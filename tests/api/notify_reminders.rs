//! Reminders before sessions (issue 12), on a manual clock: each offset fires once at its
//! instant, a moved session is reminded at its new time, a cancelled one not at all, a server
//! that was down across the 24 h mark sends only the 1 h reminder, and nothing comes after the
//! start.
//!
//! The server's own reminder loop ticks every 30 s of wall time, so these servers run with no
//! offsets configured (the loop has nothing to do) and the test runs a round itself with
//! `run_due` at the instant it sets, on the same database. The loop is tested in
//! `app::notify::reminders`. The inbox API is not used here: notifications are read from the
//! database, as the organizer's page and the inbox would show them.

use crate::helpers::TestApp;
use chrono::{DateTime, Duration, DurationRound, Utc};
use pufa::clock::Clock;
use pufa::config::ReminderOffsets;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::AnyPool;

/// A server on a manual clock with the reminder loop idle, and its clock.
pub(crate) async fn app_on_manual_clock() -> (TestApp, Clock) {
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    let clock = Clock::manual(now);
    let app = TestApp::spawn_with(|c| {
        c.clock = clock.clone();
        c.notify.reminder_offsets = ReminderOffsets(Vec::new());
    })
    .await;
    (app, clock)
}

/// The server's database, read directly.
pub(crate) async fn pool(app: &TestApp) -> AnyPool {
    app.pool().await
}

/// The account id of the enterprise with credit code `uscc`.
pub(crate) async fn user_id(pool: &AnyPool, uscc: &str) -> i64 {
    sqlx::query_scalar("SELECT user_id FROM enterprises WHERE uscc = $1")
        .bind(uscc)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Run one reminder round at `now` with the default offsets (24 h, 1 h), as the loop does.
async fn round(app: &TestApp, now: DateTime<Utc>) -> u64 {
    let db = app.db().await;
    pufa::app::notify::reminders::run_due(&db, now, &ReminderOffsets::default().0)
        .await
        .unwrap()
}

/// (account, key, body) of the reminders stored for `session`, in order.
async fn reminders(pool: &AnyPool, session: i64) -> Vec<(i64, String, String)> {
    sqlx::query_as(
        "SELECT user_id, key, body FROM notifications
         WHERE kind = 'reminder' AND session_id = $1 ORDER BY id",
    )
    .bind(session)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The start of demo session number `index`, as the API shows it.
async fn start_of(app: &TestApp, org: &Client, index: usize) -> (i64, DateTime<Utc>) {
    let sessions: Vec<Value> = app.demo_sessions(org).await;
    let s = &sessions[index];
    let at = DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    (s["id"].as_i64().unwrap(), at)
}

fn key(session: i64, minutes: i64, start: DateTime<Utc>) -> String {
    format!("reminder:{session}:{minutes}:{}", start.timestamp())
}

#[tokio::test]
async fn each_offset_fires_once_at_its_instant_for_confirmed_seats_only() {
    let (app, clock) = app_on_manual_clock().await;
    let db = pool(&app).await;
    let org = app.organizer().await;
    let (session, start) = start_of(&app, &org, 2).await;
    let r = app
        .update_session(&org, session, &json!({"capacity": 1}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (a, a_uscc) = app.register_enterprise(1).await;
    let (b, b_uscc) = app.register_enterprise(2).await;
    assert_eq!(app.sign_up(&a, session, 1).await.1["status"], "confirmed");
    assert_eq!(app.sign_up(&b, session, 1).await.1["status"], "waitlisted");
    let a_id = user_id(&db, &a_uscc).await;

    // not before the 24 h instant
    assert_eq!(
        round(&app, start - Duration::hours(24) - Duration::minutes(1)).await,
        0
    );
    assert!(reminders(&db, session).await.is_empty());
    // at it: the confirmed seat only, the waitlisted one has no seat to come to
    assert_eq!(round(&app, start - Duration::hours(24)).await, 1);
    // once: later rounds store nothing more until the next offset
    assert_eq!(
        round(&app, start - Duration::hours(24) + Duration::seconds(30)).await,
        0
    );
    assert_eq!(round(&app, start - Duration::hours(2)).await, 0);
    // an enterprise that signs up 2 h before gets the 1 h reminder but never the 24 h one
    clock.set(start - Duration::hours(2));
    // (login sessions do not last weeks of manual time: log in again)
    let org = app.organizer().await;
    let (c, c_uscc) = app.register_enterprise(3).await;
    let r = app
        .update_session(&org, session, &json!({"capacity": 2}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // the waitlisted enterprise was promoted into the new seat: it is confirmed now
    assert_eq!(app.sign_up(&c, session, 1).await.1["status"], "waitlisted");
    let c_id = user_id(&db, &c_uscc).await;
    let b_id = user_id(&db, &b_uscc).await;
    assert_eq!(
        round(&app, start - Duration::hours(1) - Duration::seconds(1)).await,
        0
    );
    assert_eq!(round(&app, start - Duration::hours(1)).await, 2);
    assert_eq!(round(&app, start - Duration::minutes(59)).await, 0);
    // nothing at or after the start
    assert_eq!(round(&app, start).await, 0);
    assert_eq!(round(&app, start + Duration::minutes(5)).await, 0);

    let stored = reminders(&db, session).await;
    let keys: Vec<(i64, String)> = stored.iter().map(|(u, k, _)| (*u, k.clone())).collect();
    assert_eq!(
        keys,
        [
            (a_id, key(session, 1440, start)),
            (a_id, key(session, 60, start)),
            (b_id, key(session, 60, start)),
        ],
        "c ({c_id}) is only waitlisted"
    );
    // the time in the program's zone and the link to the session
    let body = &stored[1].2;
    assert!(body.contains("1小时后开课"), "{body}");
    let local = start.with_timezone(&chrono_tz::Asia::Shanghai);
    assert!(body.contains(&local.format("%H:%M").to_string()), "{body}");
    let link: Option<String> =
        sqlx::query_scalar("SELECT link FROM notifications WHERE key = $1 AND user_id = $2")
            .bind(key(session, 60, start))
            .bind(a_id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        link.as_deref(),
        Some(format!("/sessions/{session}").as_str())
    );
}

#[tokio::test]
async fn a_moved_session_is_reminded_at_its_new_time_only() {
    let (app, clock) = app_on_manual_clock().await;
    let db = pool(&app).await;
    let org = app.organizer().await;
    let (session, start) = start_of(&app, &org, 0).await;
    let (a, _) = app.register_enterprise(1).await;
    assert_eq!(app.sign_up(&a, session, 1).await.0, StatusCode::CREATED);
    assert_eq!(round(&app, start - Duration::hours(24)).await, 1);

    // two hours later on the same day
    clock.set(start - Duration::hours(21));
    let org = app.organizer().await;
    let moved = start + Duration::hours(2);
    let local = moved.with_timezone(&chrono_tz::Asia::Shanghai);
    let r = app
        .update_session(
            &org,
            session,
            &json!({"starts_at": local.format("%Y-%m-%dT%H:%M").to_string()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // the new start's 24 h reminder is due at once (23 h left), worded with the time left
    assert_eq!(round(&app, start - Duration::hours(21)).await, 1);
    // the old 1 h instant passes without a reminder
    assert_eq!(round(&app, start - Duration::hours(1)).await, 0);
    // the new one fires
    assert_eq!(round(&app, moved - Duration::hours(1)).await, 1);
    let stored = reminders(&db, session).await;
    let keys: Vec<&str> = stored.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            key(session, 1440, start),
            key(session, 1440, moved),
            key(session, 60, moved)
        ]
    );
    let late = &stored[1].2;
    assert!(late.contains("23小时后开课"), "{late}");
    assert!(late.contains(&local.format("%H:%M").to_string()), "{late}");
}

#[tokio::test]
async fn a_cancelled_session_sends_no_reminders() {
    let (app, _clock) = app_on_manual_clock().await;
    let db = pool(&app).await;
    let org = app.organizer().await;
    let (session, start) = start_of(&app, &org, 1).await;
    let (a, _) = app.register_enterprise(1).await;
    assert_eq!(app.sign_up(&a, session, 1).await.0, StatusCode::CREATED);
    assert_eq!(
        app.cancel_session(&org, session).await.status(),
        StatusCode::NO_CONTENT
    );
    for before in [
        Duration::hours(24),
        Duration::hours(1),
        Duration::minutes(1),
    ] {
        assert_eq!(round(&app, start - before).await, 0);
    }
    assert!(reminders(&db, session).await.is_empty());
}

#[tokio::test]
async fn after_a_downtime_only_the_latest_useful_reminder_goes_out() {
    let (app, _clock) = app_on_manual_clock().await;
    let db = pool(&app).await;
    let org = app.organizer().await;
    let (session, start) = start_of(&app, &org, 0).await;
    let (a, _) = app.register_enterprise(1).await;
    assert_eq!(app.sign_up(&a, session, 1).await.0, StatusCode::CREATED);
    // down from 25 h to 30 min before the start
    assert_eq!(round(&app, start - Duration::hours(25)).await, 0);
    assert_eq!(round(&app, start - Duration::minutes(30)).await, 1);
    assert_eq!(round(&app, start - Duration::minutes(10)).await, 0);
    let stored = reminders(&db, session).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, key(session, 60, start));
    assert!(stored[0].2.contains("30分钟后开课"), "{}", stored[0].2);

    // a server that comes back only after the start sends nothing at all
    let (other, other_start) = start_of(&app, &org, 3).await;
    assert_eq!(app.sign_up(&a, other, 1).await.0, StatusCode::CREATED);
    assert_eq!(round(&app, other_start + Duration::minutes(1)).await, 0);
    assert!(reminders(&db, other).await.is_empty());
}
