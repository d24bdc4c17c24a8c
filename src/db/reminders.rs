//! Reminders before sessions: which sessions start soon, who has not been reminded yet, and
//! storing the reminders of one session in one write transaction.
//!
//! Which offset is due and who is eligible is decided by the caller
//! (`crate::app::notify::reminders`); this file only reads and writes rows. Times are compared
//! in Rust, not as text in SQL, so a timestamp written in another textual form cannot make a
//! reminder fire early or never.

use super::notifications::{enqueue_message, session_ref};
use super::Db;
use crate::notify::{Message, SessionRef};
use chrono::{DateTime, Duration, Utc};
use sqlx::AnyConnection;

/// A scheduled session and its start.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UpcomingSession {
    pub id: i64,
    #[sqlx(try_from = "crate::db::Ts")]
    pub starts_at: DateTime<Utc>,
}

/// A confirmed registrant of a session: the enterprise's account and when its seat was
/// confirmed (sign-up or promotion from the waitlist).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConfirmedRegistrant {
    pub user_id: i64,
    #[sqlx(try_from = "crate::db::Ts")]
    pub confirmed_at: DateTime<Utc>,
}

/// What to store for one session, decided on the session as the write transaction reads it.
#[derive(Debug, Clone)]
pub struct ReminderPlan {
    pub message: Message,
    /// Only seats confirmed strictly before this instant are reminded.
    pub confirmed_before: DateTime<Utc>,
}

impl Db {
    /// Scheduled sessions that start in `(after, until]`, earliest first.
    pub async fn sessions_starting_within(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<UpcomingSession>, sqlx::Error> {
        // the text comparison only narrows the scan (a day of slack either side); the exact
        // window is applied to the decoded instants below
        let rows: Vec<UpcomingSession> = sqlx::query_as(
            "SELECT id, starts_at FROM lecture_sessions
             WHERE status = 'scheduled' AND starts_at IS NOT NULL
               AND starts_at >= $1 AND starts_at <= $2
             ORDER BY starts_at, id",
        )
        .bind(crate::db::ts(after - Duration::days(1)))
        .bind(crate::db::ts(until + Duration::days(1)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|s| after < s.starts_at && s.starts_at <= until)
            .collect())
    }

    /// The confirmed registrants of `session_id` that have no notification with `key` yet
    /// (read before the write transaction, so that a round in which everyone eligible has
    /// been reminded costs no write).
    pub async fn unreminded_registrants(
        &self,
        session_id: i64,
        key: &str,
    ) -> Result<Vec<ConfirmedRegistrant>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.enterprise_id AS user_id,
                    COALESCE(r.confirmed_at, r.created_at) AS confirmed_at
             FROM registrations r
             WHERE r.session_id = $1 AND r.status = 'confirmed'
               AND NOT EXISTS (SELECT 1 FROM notifications n
                                WHERE n.user_id = r.enterprise_id AND n.key = $2)
             ORDER BY r.id",
        )
        .bind(session_id)
        .bind(key)
        .fetch_all(&self.pool)
        .await
    }

    /// In one write transaction: read the session again (it may have moved or been cancelled
    /// since the caller looked), let `plan` decide on it, and store the planned reminder for
    /// every confirmed registrant whose seat was confirmed before the plan's cutoff. A
    /// cancelled session, or one `plan` declines, stores nothing. Returns how many
    /// notifications were new (the idempotency key makes a repeated round store nothing).
    pub async fn store_reminders(
        &self,
        session_id: i64,
        now: DateTime<Utc>,
        plan: impl FnOnce(&SessionRef) -> Option<ReminderPlan>,
    ) -> Result<u64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let scheduled: Option<bool> =
            sqlx::query_scalar("SELECT status = 'scheduled' FROM lecture_sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|f: super::Flag| f.0);
        if scheduled != Some(true) {
            return Ok(0);
        }
        let Some(session) = session_ref(&mut tx, session_id).await? else {
            return Ok(0);
        };
        let Some(plan) = plan(&session) else {
            return Ok(0);
        };
        let mut stored = 0;
        for r in confirmed_registrants(&mut tx, session_id).await? {
            if r.confirmed_at < plan.confirmed_before
                && enqueue_message(&mut tx, r.user_id, &plan.message, now)
                    .await?
                    .is_some()
            {
                stored += 1;
            }
        }
        tx.commit().await?;
        Ok(stored)
    }
}

/// The confirmed registrants of a session in registration order. A row from before
/// `confirmed_at` was recorded counts from its sign-up.
async fn confirmed_registrants(
    conn: &mut AnyConnection,
    session_id: i64,
) -> Result<Vec<ConfirmedRegistrant>, sqlx::Error> {
    sqlx::query_as(
        "SELECT enterprise_id AS user_id, COALESCE(confirmed_at, created_at) AS confirmed_at
         FROM registrations WHERE session_id = $1 AND status = 'confirmed' ORDER BY id",
    )
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await
}
