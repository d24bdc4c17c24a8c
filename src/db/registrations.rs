//! Sign-ups with capacity and a waitlist.
//!
//! Concurrency: every change runs in one transaction that first takes the session's lock —
//! on SQLite `BEGIN IMMEDIATE` takes the database write lock at once (no read-then-upgrade
//! deadlock, writers queue on the busy timeout); on PostgreSQL the same transaction starts with
//! `SELECT … FROM lecture_sessions WHERE id = $1 FOR UPDATE`, which serializes sign-ups of one
//! session while other sessions proceed. Inside the lock the new registration joins the tail of
//! the queue and [`promote_waitlist`] walks the queue, so `confirmed_seats` (kept on the session
//! row in the same transaction) can never exceed `capacity`.
//!
//! Waitlist rule: the queue is walked first come, first served; every entry whose seats fit into
//! the free seats is confirmed. An entry needing more seats than are free keeps its place at the
//! head and is confirmed as soon as enough seats are free, while smaller entries behind it may
//! take seats that would otherwise stay empty. A new sign-up therefore is confirmed only if its
//! seats fit after everyone ahead of it who fits.

use super::Db;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Row, SqliteConnection};

/// The state of one enterprise's sign-up for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RegistrationState {
    pub registration_id: i64,
    /// `confirmed` or `waitlisted`.
    pub status: String,
    /// 1-based place on the waitlist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    pub seats: i64,
}

/// What a sign-up attempt came to.
#[derive(Debug)]
pub enum SignupResult {
    /// Newly created (`true`) or the existing registration returned unchanged (`false`).
    Registered(RegistrationState, bool),
    SessionNotFound,
    SessionCancelled,
}

/// A row of a session's roster.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RosterEntry {
    pub registration_id: i64,
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub contact_name: String,
    pub mobile: String,
    pub seats: i64,
    #[serde(skip)]
    pub attendees_json: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Waitlist position (filled in for waitlisted rows).
    #[sqlx(skip)]
    pub position: Option<i64>,
    #[sqlx(skip)]
    pub attendees: Vec<String>,
    /// Share of the recording this enterprise watched (0..1), once there is a recording.
    #[sqlx(skip)]
    pub watched_share: Option<f64>,
    /// Whether the share reached the attendance threshold.
    #[sqlx(skip)]
    pub attended: Option<bool>,
}

/// One of an enterprise's sign-ups, for "我的课程".
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MyRegistration {
    pub registration_id: i64,
    pub session_id: i64,
    pub program_id: i64,
    pub program_title: String,
    pub timezone: String,
    pub title: String,
    pub category: String,
    pub lecturer_name: String,
    pub lecturer_firm: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub minutes: i64,
    pub session_status: String,
    pub stream_url: Option<String>,
    pub seats: i64,
    pub status: String,
    pub position: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub sequence: i64,
    pub updated_at: DateTime<Utc>,
}

/// Confirm waitlisted entries that fit into the free seats, in queue order (see module docs).
/// Must run inside the transaction holding the session's lock. Returns the promoted ids.
pub async fn promote_waitlist(
    conn: &mut SqliteConnection,
    session_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT capacity, confirmed_seats FROM lecture_sessions WHERE id = ? AND status = 'scheduled'",
    )
    .bind(session_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Vec::new());
    };
    let capacity: i64 = row.try_get("capacity")?;
    let confirmed: i64 = row.try_get("confirmed_seats")?;
    let mut free = capacity - confirmed;
    if free <= 0 {
        return Ok(Vec::new());
    }
    let queue = sqlx::query(
        "SELECT id, seats FROM registrations WHERE session_id = ? AND status = 'waitlisted' ORDER BY id",
    )
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?;
    let now = Utc::now();
    let mut promoted = Vec::new();
    for entry in queue {
        if free <= 0 {
            break;
        }
        let id: i64 = entry.try_get("id")?;
        let seats: i64 = entry.try_get("seats")?;
        if seats <= free {
            sqlx::query(
                "UPDATE registrations SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            free -= seats;
            promoted.push(id);
        }
    }
    if !promoted.is_empty() {
        sqlx::query("UPDATE lecture_sessions SET confirmed_seats = ? WHERE id = ?")
            .bind(capacity - free)
            .bind(session_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(promoted)
}

async fn state_of(
    conn: &mut SqliteConnection,
    registration_id: i64,
) -> Result<RegistrationState, sqlx::Error> {
    let row = sqlx::query(
        "SELECT r.id, r.status, r.seats,
                CASE WHEN r.status = 'waitlisted' THEN
                  (SELECT COUNT(*) FROM registrations q
                    WHERE q.session_id = r.session_id AND q.status = 'waitlisted' AND q.id <= r.id)
                END AS position
         FROM registrations r WHERE r.id = ?",
    )
    .bind(registration_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(RegistrationState {
        registration_id: row.try_get("id")?,
        status: row.try_get("status")?,
        position: row.try_get("position")?,
        seats: row.try_get("seats")?,
    })
}

async fn active_registration(
    conn: &mut SqliteConnection,
    session_id: i64,
    enterprise_id: i64,
) -> Result<Option<(i64, String, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, status, seats FROM registrations
         WHERE session_id = ? AND enterprise_id = ? AND status IN ('confirmed', 'waitlisted')",
    )
    .bind(session_id)
    .bind(enterprise_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("status")?, r.try_get("seats")?)))
        .transpose()
}

impl Db {
    /// Sign an enterprise up for `seats` seats. Idempotent: an existing active registration is
    /// returned unchanged.
    pub async fn sign_up(
        &self,
        session_id: i64,
        enterprise_id: i64,
        seats: i64,
        attendees: &[String],
    ) -> Result<SignupResult, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        // everything the decision needs, in one statement
        let session = sqlx::query(
            "SELECT s.status, s.capacity, s.confirmed_seats,
                    (SELECT COUNT(*) FROM registrations q
                      WHERE q.session_id = s.id AND q.status = 'waitlisted') AS waiting,
                    (SELECT r.id FROM registrations r
                      WHERE r.session_id = s.id AND r.enterprise_id = ?
                        AND r.status IN ('confirmed', 'waitlisted')) AS existing
             FROM lecture_sessions s WHERE s.id = ?",
        )
        .bind(enterprise_id)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session) = session else {
            return Ok(SignupResult::SessionNotFound);
        };
        if session.try_get::<String, _>("status")? == "cancelled" {
            return Ok(SignupResult::SessionCancelled);
        }
        if let Some(id) = session.try_get::<Option<i64>, _>("existing")? {
            let state = state_of(&mut tx, id).await?;
            tx.commit().await?;
            return Ok(SignupResult::Registered(state, false));
        }
        let free = session.try_get::<i64, _>("capacity")?
            - session.try_get::<i64, _>("confirmed_seats")?;
        let waiting: i64 = session.try_get("waiting")?;
        let now = Utc::now();
        let attendees = serde_json::to_string(attendees).unwrap_or_else(|_| "[]".into());
        // With nobody waiting the queue walk reduces to "confirmed if it fits"; with no free
        // seat it reduces to "joins the tail". Only the mixed case walks the queue.
        let direct = if waiting == 0 && seats <= free {
            Some(("confirmed", None))
        } else if free <= 0 {
            Some(("waitlisted", Some(waiting + 1)))
        } else {
            None
        };
        let status = direct.map(|(s, _)| s).unwrap_or("waitlisted");
        let row = sqlx::query(
            "INSERT INTO registrations
               (session_id, enterprise_id, seats, attendees, status, created_at, confirmed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(session_id)
        .bind(enterprise_id)
        .bind(seats)
        .bind(&attendees)
        .bind(status)
        .bind(now)
        .bind((status == "confirmed").then_some(now))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let state = match direct {
            Some(("confirmed", _)) => {
                sqlx::query(
                    "UPDATE lecture_sessions SET confirmed_seats = confirmed_seats + ? WHERE id = ?",
                )
                .bind(seats)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
                RegistrationState {
                    registration_id: id,
                    status: "confirmed".into(),
                    position: None,
                    seats,
                }
            }
            Some((_, position)) => RegistrationState {
                registration_id: id,
                status: "waitlisted".into(),
                position,
                seats,
            },
            None => {
                promote_waitlist(&mut tx, session_id).await?;
                state_of(&mut tx, id).await?
            }
        };
        tx.commit().await?;
        Ok(SignupResult::Registered(state, true))
    }

    /// End an active registration (`cancelled` by the enterprise or `removed` by an organizer
    /// with a reason), free its seats and promote the waitlist in the same transaction.
    /// Returns the ended registration's former status, or `None` if there was none.
    pub async fn end_registration(
        &self,
        session_id: i64,
        enterprise_id: i64,
        new_status: &str,
        reason: Option<&str>,
    ) -> Result<Option<String>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let Some((id, status, seats)) =
            active_registration(&mut tx, session_id, enterprise_id).await?
        else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE registrations SET status = ?, ended_at = ?, end_reason = ? WHERE id = ?",
        )
        .bind(new_status)
        .bind(Utc::now())
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if status == "confirmed" {
            sqlx::query(
                "UPDATE lecture_sessions SET confirmed_seats = confirmed_seats - ? WHERE id = ?",
            )
            .bind(seats)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        }
        promote_waitlist(&mut tx, session_id).await?;
        tx.commit().await?;
        Ok(Some(status))
    }

    /// Confirmed and waitlisted registrations of a session, confirmed first, then the queue.
    pub async fn roster(&self, session_id: i64) -> Result<Vec<RosterEntry>, sqlx::Error> {
        let mut rows: Vec<RosterEntry> = sqlx::query_as(
            "SELECT r.id AS registration_id, r.enterprise_id, e.name AS company, e.uscc, e.industry,
                    e.contact_name, e.mobile, r.seats, r.attendees AS attendees_json, r.status,
                    r.created_at, r.confirmed_at
             FROM registrations r JOIN enterprises e ON e.user_id = r.enterprise_id
             WHERE r.session_id = ? AND r.status IN ('confirmed', 'waitlisted')
             ORDER BY CASE r.status WHEN 'confirmed' THEN 0 ELSE 1 END, r.id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        let mut position = 0;
        for r in &mut rows {
            r.attendees = serde_json::from_str(&r.attendees_json).unwrap_or_default();
            if r.status == "waitlisted" {
                position += 1;
                r.position = Some(position);
            }
        }
        Ok(rows)
    }

    /// An enterprise's active sign-ups, soonest first.
    pub async fn my_registrations(
        &self,
        enterprise_id: i64,
    ) -> Result<Vec<MyRegistration>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.id AS registration_id, s.id AS session_id, p.id AS program_id,
                    p.title AS program_title, p.timezone, s.title, s.category,
                    l.name AS lecturer_name, l.firm AS lecturer_firm, s.starts_at, s.minutes,
                    s.status AS session_status, s.stream_url, r.seats, r.status,
                    CASE WHEN r.status = 'waitlisted' THEN
                      (SELECT COUNT(*) FROM registrations q
                        WHERE q.session_id = r.session_id AND q.status = 'waitlisted' AND q.id <= r.id)
                    END AS position,
                    r.created_at, r.confirmed_at, s.sequence, s.updated_at
             FROM registrations r
             JOIN lecture_sessions s ON s.id = r.session_id
             JOIN programs p ON p.id = s.program_id
             JOIN lecturers l ON l.id = s.lecturer_id
             WHERE r.enterprise_id = ? AND r.status IN ('confirmed', 'waitlisted')
             ORDER BY s.starts_at IS NULL, s.starts_at, s.id",
        )
        .bind(enterprise_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The active registration of an enterprise for a session, if any.
    pub async fn registration_state(
        &self,
        session_id: i64,
        enterprise_id: i64,
    ) -> Result<Option<RegistrationState>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        match active_registration(&mut conn, session_id, enterprise_id).await? {
            Some((id, _, _)) => Ok(Some(state_of(&mut conn, id).await?)),
            None => Ok(None),
        }
    }
}
