//! Reminders before sessions at the configured offsets (issue 12).
//!
//! The rule ([`due_offset`], [`lead_time`]) is pure: for a session starting at `s`, offsets
//! `O` and the instant `now`, the due offset is the smallest `o` in `O` with
//! `s - o <= now < s`. Only the most recent offset is sent: a server that was down from 25 h
//! to 30 min before the start sends the 1 h reminder on restart, not both, and nothing at or
//! after the start.
//!
//! Who gets it: enterprises with a **confirmed** seat confirmed strictly before `s - o`.
//! Someone who signed up (or was promoted) after that instant has just been told the time in
//! the confirmation or promotion notice; a second message minutes later is noise. Waitlisted
//! registrations get no reminder: they have no seat to come to, and if a seat frees up the
//! promotion notice carries the time (and the next offset's reminder follows).
//!
//! [`run_due`] is called by the loop [`run_periodically`] that `serve` starts; it is
//! idempotent (the notification key holds the session, the offset and the start instant), so
//! running it twice, or from two processes, stores each reminder once. A moved session has
//! a new start and therefore new keys; a cancelled one is no longer `scheduled` and is skipped.

use crate::clock::Clock;
use crate::db::reminders::ReminderPlan;
use crate::db::Db;
use crate::notify::{Event, SessionRef};
use chrono::{DateTime, Duration, Utc};

/// How often the loop looks for due reminders. A reminder is at most this late.
pub const PERIOD: std::time::Duration = std::time::Duration::from_secs(30);

/// The offset whose reminder is due for a session starting at `starts_at`: the smallest
/// offset `o` with `starts_at - o <= now < starts_at`. `None` before the largest offset and at
/// or after the start. `offsets` may be in any order.
pub fn due_offset(
    starts_at: DateTime<Utc>,
    offsets: &[Duration],
    now: DateTime<Utc>,
) -> Option<Duration> {
    if now >= starts_at {
        return None;
    }
    offsets
        .iter()
        .copied()
        .filter(|o| *o > Duration::zero() && starts_at - *o <= now)
        .min()
}

/// The time to the start that a reminder's text names. On time (within the loop's slack of a
/// few minutes) that is the offset itself ("1小时后"); a reminder sent late — the server was
/// down, or the session was moved closer — names what is really left, in whole hours from two
/// hours up and in whole minutes below, so the text never promises a day when an afternoon is
/// left.
pub fn lead_time(offset: Duration, remaining: Duration) -> Duration {
    const SLACK: i64 = 5;
    if remaining >= offset - Duration::minutes(SLACK) {
        return offset;
    }
    if remaining >= Duration::hours(2) {
        Duration::hours(remaining.num_hours())
    } else {
        Duration::minutes(remaining.num_minutes().max(1))
    }
}

/// The reminder `offset` before `session`'s start, rendered at `now`: the idempotency key is
/// that of the configured offset, the text names the real lead time ([`lead_time`]).
pub fn plan(session: &SessionRef, offset: Duration, now: DateTime<Utc>) -> Option<ReminderPlan> {
    let starts_at = session.starts_at?;
    let cutoff = starts_at - offset;
    let key = Event::Reminder {
        session: session.clone(),
        offset,
    }
    .key();
    let mut message = Event::Reminder {
        session: session.clone(),
        offset: lead_time(offset, starts_at - now),
    }
    .render();
    message.key = key;
    Some(ReminderPlan {
        message,
        confirmed_before: cutoff,
    })
}

/// Store the reminders due at `now` for every scheduled session starting within
/// `(now, now + largest offset]`, one write transaction per session, and wake the delivery
/// workers. Returns how many notifications were stored (0 when everything due was stored
/// before).
pub async fn run_due(db: &Db, now: DateTime<Utc>, offsets: &[Duration]) -> anyhow::Result<u64> {
    let Some(horizon) = offsets.iter().copied().max() else {
        return Ok(0);
    };
    let mut stored = 0;
    for session in db.sessions_starting_within(now, now + horizon).await? {
        let Some(offset) = due_offset(session.starts_at, offsets, now) else {
            continue;
        };
        // the key as `plan` will write it (it depends on the session, the offset and the
        // start only); a session that moved since this read is read again, and decided
        // again, inside the transaction
        let key = Event::Reminder {
            session: SessionRef {
                id: session.id,
                title: String::new(),
                starts_at: Some(session.starts_at),
                minutes: 0,
                tz: crate::schedule::DEFAULT_TZ,
            },
            offset,
        }
        .key();
        let cutoff = session.starts_at - offset;
        let waiting = db.unreminded_registrants(session.id, &key).await?;
        if !waiting.iter().any(|r| r.confirmed_at < cutoff) {
            continue;
        }
        stored += db
            .store_reminders(session.id, now, |s| {
                let starts_at = s.starts_at?;
                let offset = due_offset(starts_at, offsets, now)?;
                plan(s, offset, now)
            })
            .await?;
    }
    if stored > 0 {
        db.wake_outbox();
    }
    Ok(stored)
}

/// The reminder loop `serve` runs: once at start-up (reminders that fell due while the server
/// was down and are still useful go out now) and then every `period`, reading `clock`. It
/// runs until its task is aborted; an error is logged and retried at the next round.
pub async fn run_periodically(
    db: Db,
    clock: Clock,
    offsets: Vec<Duration>,
    period: std::time::Duration,
) {
    if offsets.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_due(&db, clock.now(), &offsets).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(stored = n, "reminders queued"),
            Err(e) => tracing::warn!(error = ?e, "storing due reminders failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 6, 30, 0).unwrap()
    }

    fn offsets() -> Vec<Duration> {
        vec![Duration::hours(24), Duration::hours(1)]
    }

    fn before(d: Duration) -> DateTime<Utc> {
        start() - d
    }

    #[test]
    fn nothing_is_due_before_the_largest_offset() {
        let s = start();
        assert_eq!(due_offset(s, &offsets(), before(Duration::days(3))), None);
        assert_eq!(
            due_offset(
                s,
                &offsets(),
                before(Duration::hours(24) + Duration::seconds(1))
            ),
            None
        );
    }

    #[test]
    fn each_offset_is_due_from_its_instant() {
        let s = start();
        let o = offsets();
        assert_eq!(
            due_offset(s, &o, before(Duration::hours(24))),
            Some(Duration::hours(24))
        );
        assert_eq!(
            due_offset(s, &o, before(Duration::hours(2))),
            Some(Duration::hours(24))
        );
        assert_eq!(
            due_offset(s, &o, before(Duration::hours(1))),
            Some(Duration::hours(1))
        );
        assert_eq!(
            due_offset(s, &o, before(Duration::seconds(1))),
            Some(Duration::hours(1))
        );
    }

    #[test]
    fn only_the_most_recent_offset_counts_after_a_downtime_and_none_after_the_start() {
        let s = start();
        // down from 25 h to 30 min before the start: the 1 h reminder, not the 24 h one
        assert_eq!(
            due_offset(s, &offsets(), before(Duration::minutes(30))),
            Some(Duration::hours(1))
        );
        assert_eq!(due_offset(s, &offsets(), s), None);
        assert_eq!(due_offset(s, &offsets(), s + Duration::hours(3)), None);
        // the order of the configuration does not matter; no offsets, nothing
        let reversed: Vec<_> = offsets().into_iter().rev().collect();
        assert_eq!(
            due_offset(s, &reversed, before(Duration::minutes(30))),
            Some(Duration::hours(1))
        );
        assert_eq!(due_offset(s, &[], before(Duration::minutes(30))), None);
    }

    #[test]
    fn a_late_reminder_names_the_time_really_left() {
        let day = Duration::hours(24);
        assert_eq!(lead_time(day, day), day);
        assert_eq!(lead_time(day, day - Duration::seconds(30)), day);
        assert_eq!(
            lead_time(day, Duration::hours(9) + Duration::minutes(40)),
            Duration::hours(9)
        );
        assert_eq!(
            lead_time(Duration::hours(1), Duration::minutes(30)),
            Duration::minutes(30)
        );
        assert_eq!(
            lead_time(Duration::hours(1), Duration::seconds(20)),
            Duration::minutes(1)
        );
    }

    fn session() -> SessionRef {
        SessionRef {
            id: 9,
            title: "劳动合同".into(),
            starts_at: Some(start()),
            minutes: 90,
            tz: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn a_plan_keys_by_the_offset_and_cuts_off_late_confirmations() {
        let p = plan(
            &session(),
            Duration::hours(1),
            before(Duration::minutes(30)),
        )
        .unwrap();
        assert_eq!(
            p.message.key,
            format!("reminder:9:60:{}", start().timestamp())
        );
        assert!(p.message.body.contains("30分钟后"), "{}", p.message.body);
        assert!(p.message.body.contains("14:30"), "{}", p.message.body);
        assert_eq!(p.confirmed_before, before(Duration::hours(1)));
        assert_eq!(p.message.expires_at, Some(start()));
        let unplaced = SessionRef {
            starts_at: None,
            ..session()
        };
        assert!(plan(&unplaced, Duration::hours(1), start()).is_none());
    }

    async fn seeded() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (2, 'enterprise', NULL, 'E', 'x', '2026-11-01T00:00:00Z'),
                    (3, 'enterprise', NULL, 'F', 'x', '2026-11-01T00:00:00Z');
             INSERT INTO enterprises (user_id, name, uscc, industry, contact_name, mobile,
                                      calendar_token)
             VALUES (2, 'E', 'U1', 'C', 'c', '13800000001', 't1'),
                    (3, 'F', 'U2', 'C', 'c', '13800000002', 't2');
             INSERT INTO programs (id, title, starts_on, ends_on, timezone, slots, blackout_dates,
                                   created_at, updated_at)
             VALUES (1, 'P', '2026-12-01', '2026-12-31', 'Asia/Shanghai', '[]', '[]',
                     '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z');
             INSERT INTO lecturers (id, name, firm) VALUES (1, 'L', 'F');",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO lecture_sessions (id, program_id, title, category, lecturer_id, minutes,
                                           capacity, starts_at, created_at, updated_at)
             VALUES (1, 1, '劳动合同', 'C', 1, 90, 10, $1, '2026-11-01T00:00:00Z',
                     '2026-11-01T00:00:00Z')",
        )
        .bind(crate::db::ts(start()))
        .execute(&db.pool)
        .await
        .unwrap();
        // enterprise 2 confirmed long before; enterprise 3 only 20 minutes before the start
        sqlx::query(
            "INSERT INTO registrations (session_id, enterprise_id, seats, status, created_at,
                                        confirmed_at)
             VALUES (1, 2, 1, 'confirmed', $1, $1), (1, 3, 1, 'confirmed', $2, $2)",
        )
        .bind(crate::db::ts(before(Duration::days(5))))
        .bind(crate::db::ts(before(Duration::minutes(20))))
        .execute(&db.pool)
        .await
        .unwrap();
        (dir, db)
    }

    async fn reminders(db: &Db) -> Vec<(i64, String)> {
        sqlx::query_as("SELECT user_id, key FROM notifications WHERE kind = 'reminder' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn run_due_reminds_confirmed_seats_once_per_offset() {
        let (_dir, db) = seeded().await;
        let o = offsets();
        assert_eq!(
            run_due(&db, before(Duration::hours(25)), &o).await.unwrap(),
            0
        );
        assert_eq!(
            run_due(&db, before(Duration::hours(24)), &o).await.unwrap(),
            1
        );
        assert_eq!(
            run_due(&db, before(Duration::hours(23)), &o).await.unwrap(),
            0
        );
        // enterprise 3 confirmed at 20 min before: no 1 h reminder for it
        assert_eq!(
            run_due(&db, before(Duration::minutes(10)), &o)
                .await
                .unwrap(),
            1
        );
        assert_eq!(run_due(&db, start(), &o).await.unwrap(), 0);
        let t = start().timestamp();
        assert_eq!(
            reminders(&db).await,
            [
                (2, format!("reminder:1:1440:{t}")),
                (2, format!("reminder:1:60:{t}"))
            ]
        );
    }

    #[tokio::test]
    async fn the_loop_follows_the_clock() {
        let (_dir, db) = seeded().await;
        let clock = Clock::manual(before(Duration::hours(30)));
        let task = tokio::spawn(run_periodically(
            db.clone(),
            clock.clone(),
            offsets(),
            std::time::Duration::from_millis(20),
        ));
        clock.set(before(Duration::minutes(50)));
        let mut found = Vec::new();
        for _ in 0..250 {
            found = reminders(&db).await;
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        task.abort();
        assert_eq!(
            found,
            [(2, format!("reminder:1:60:{}", start().timestamp()))]
        );
    }
}
