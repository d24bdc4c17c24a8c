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
//! Each change stores the notifications it causes (报名成功, 候补, 候补转正, 移除) in the same
//! transaction ([`super::notifications::enqueue`]): a sign-up that rolls back tells no one.
//!
//! The waitlist rule itself ([`crate::signup::promotions`]) and the direct decision for a new
//! sign-up ([`crate::signup::place`]) are plain functions; this module applies them under the
//! lock.

use super::notifications;
use super::ts;
use super::writer::WriterConn;
use super::Db;
use super::Json;
use crate::notify::{Event, SessionRef};
use crate::schedule::SessionStatus;
use crate::signup::{self, EndReason, Placement, RegistrationStatus};
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// The columns of an [`EndedRegistration`], before its `WHERE`.
const ENDED_REGISTRATION: &str =
    "SELECT r.session_id, s.title, r.status, r.seats, r.attendees, r.ended_at, r.end_reason
       FROM registrations r JOIN lecture_sessions s ON s.id = r.session_id";

/// Everything a sign-up's decision needs, in one statement: the session's status, capacity,
/// confirmed seats and queue length, the enterprise's active registration, and the texts'
/// session fields. Parameters: enterprise, session.
const DECISION_SQL: &str = "SELECT s.status, s.capacity, s.confirmed_seats,
        (SELECT COUNT(*) FROM registrations q
          WHERE q.session_id = s.id AND q.status = 'waitlisted') AS waiting,
        (SELECT r.id FROM registrations r
          WHERE r.session_id = s.id AND r.enterprise_id = $1
            AND r.status IN ('confirmed', 'waitlisted')) AS existing,
        s.title, s.starts_at, s.minutes,
        (SELECT p.timezone FROM programs p WHERE p.id = s.program_id) AS timezone
     FROM lecture_sessions s WHERE s.id = $2";

/// The session row a sign-up or cancellation changes, locked for its transaction on PostgreSQL
/// (replicas decide seats one at a time per session; SQLite's single writer does that anyway).
const LOCK_SESSION_SQL: &str = "SELECT id FROM lecture_sessions WHERE id = $1 FOR UPDATE";

const INSERT_REGISTRATION_SQL: &str = "INSERT INTO registrations
       (session_id, enterprise_id, seats, attendees, status, created_at, confirmed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

const ADD_CONFIRMED_SQL: &str =
    "UPDATE lecture_sessions SET confirmed_seats = confirmed_seats + $1 WHERE id = $2";

const SUBTRACT_CONFIRMED_SQL: &str =
    "UPDATE lecture_sessions SET confirmed_seats = confirmed_seats - $1 WHERE id = $2";

const SET_CONFIRMED_SQL: &str = "UPDATE lecture_sessions SET confirmed_seats = $1 WHERE id = $2";

const FREE_SEATS_SQL: &str =
    "SELECT capacity, confirmed_seats FROM lecture_sessions WHERE id = $1 AND status = 'scheduled'";

const QUEUE_SQL: &str = "SELECT id, seats, enterprise_id FROM registrations
     WHERE session_id = $1 AND status = 'waitlisted' ORDER BY id";

const PROMOTE_SQL: &str =
    "UPDATE registrations SET status = 'confirmed', confirmed_at = $1 WHERE id = $2";

const END_SQL: &str =
    "UPDATE registrations SET status = $1, ended_at = $2, end_reason = $3 WHERE id = $4";

const STATE_SQL: &str = "SELECT r.id, r.status, r.seats,
        CASE WHEN r.status = 'waitlisted' THEN
          (SELECT COUNT(*) FROM registrations q
            WHERE q.session_id = r.session_id AND q.status = 'waitlisted' AND q.id <= r.id)
        END AS position
     FROM registrations r WHERE r.id = $1";

const ACTIVE_SQL: &str = "SELECT id, status, seats FROM registrations
     WHERE session_id = $1 AND enterprise_id = $2 AND status IN ('confirmed', 'waitlisted')";

/// The state of one enterprise's sign-up for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationState {
    pub registration_id: i64,
    /// Confirmed or waitlisted.
    pub status: RegistrationStatus,
    /// 1-based place on the waitlist.
    pub position: Option<i64>,
    pub seats: i64,
}

impl RegistrationState {
    pub fn is_confirmed(&self) -> bool {
        self.status == RegistrationStatus::Confirmed
    }
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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RosterRow {
    pub registration_id: i64,
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub contact_name: String,
    pub mobile: String,
    pub seats: i64,
    pub attendees: Json<Vec<String>>,
    pub status: RegistrationStatus,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Waitlist position (filled in for waitlisted rows).
    #[sqlx(skip)]
    pub position: Option<i64>,
}

/// A sign-up that ended: cancelled by the enterprise or removed by an organizer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndedRegistration {
    pub session_id: i64,
    pub title: String,
    /// Cancelled (by the enterprise) or removed (by an organizer).
    pub status: RegistrationStatus,
    pub seats: i64,
    pub attendees: Json<Vec<String>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The organizer's reason for a removal.
    pub end_reason: Option<String>,
}

impl EndedRegistration {
    pub fn is_removed(&self) -> bool {
        self.status == RegistrationStatus::Removed
    }
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
    #[sqlx(try_from = "crate::db::OptTs")]
    pub starts_at: Option<DateTime<Utc>>,
    pub minutes: i64,
    pub session_status: SessionStatus,
    pub stream_url: Option<String>,
    pub seats: i64,
    pub status: RegistrationStatus,
    pub position: Option<i64>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub confirmed_at: Option<DateTime<Utc>>,
    pub sequence: i64,
    #[sqlx(try_from = "crate::db::Ts")]
    pub updated_at: DateTime<Utc>,
}

impl MyRegistration {
    pub fn is_confirmed(&self) -> bool {
        self.status == RegistrationStatus::Confirmed
    }

    pub fn session_cancelled(&self) -> bool {
        self.session_status == SessionStatus::Cancelled
    }
}

/// Confirm waitlisted entries that fit into the free seats, in queue order
/// ([`signup::promotions`]), and store a "候补转正" notification for each promoted enterprise
/// in the same transaction. Must run inside the transaction holding the session's lock; call
/// [`Db::wake_outbox`] after its commit. Returns the promoted ids.
pub async fn promote_waitlist(
    conn: &mut AnyConnection,
    session_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, sqlx::Error> {
    let lock = super::Backend::of(conn).for_update();
    let row = sqlx::query(&format!("{FREE_SEATS_SQL}{lock}"))
        .bind(session_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(Vec::new());
    };
    let capacity: i64 = row.try_get("capacity")?;
    let confirmed: i64 = row.try_get("confirmed_seats")?;
    let free = capacity - confirmed;
    if free <= 0 {
        return Ok(Vec::new());
    }
    let waiting: Vec<(i64, i64, i64)> = sqlx::query_as(QUEUE_SQL)
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await?;
    let queue: Vec<(i64, i64)> = waiting.iter().map(|(id, seats, _)| (*id, *seats)).collect();
    let promoted = signup::promotions(free, &queue);
    let mut seats_confirmed = 0;
    for id in &promoted {
        sqlx::query(PROMOTE_SQL)
            .bind(crate::db::ts(now))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        seats_confirmed += queue
            .iter()
            .find(|(q, _)| q == id)
            .map(|(_, seats)| *seats)
            .unwrap_or(0);
    }
    if !promoted.is_empty() {
        sqlx::query(SET_CONFIRMED_SQL)
            .bind(confirmed + seats_confirmed)
            .bind(session_id)
            .execute(&mut *conn)
            .await?;
        if let Some(session) = notifications::session_ref(conn, session_id).await? {
            for (id, _, enterprise_id) in waiting.iter().filter(|(id, _, _)| promoted.contains(id))
            {
                let event = Event::Promoted {
                    session: session.clone(),
                    registration_id: *id,
                };
                notifications::enqueue(conn, *enterprise_id, &event, now).await?;
            }
        }
    }
    Ok(promoted)
}

/// End every active registration of `enterprise_id` for scheduled sessions that have not
/// started (or have no time yet) — `how` says whether as cancelled or removed with a reason —,
/// free their seats and promote each waitlist, inside the caller's transaction (an account
/// deleted or frozen). Returns the sessions, one per ended registration in registration order,
/// and the registrations promoted from the waitlists (they are told by [`promote_waitlist`]).
pub async fn end_upcoming_registrations(
    conn: &mut AnyConnection,
    enterprise_id: i64,
    how: &EndReason,
    now: DateTime<Utc>,
) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let active: Vec<(i64, i64, RegistrationStatus, i64)> = sqlx::query_as(
        "SELECT r.id, r.session_id, r.status, r.seats FROM registrations r
         JOIN lecture_sessions s ON s.id = r.session_id
         WHERE r.enterprise_id = $1 AND r.status IN ('confirmed', 'waitlisted')
           AND s.status = 'scheduled' AND (s.starts_at IS NULL OR s.starts_at > $2)
         ORDER BY r.id",
    )
    .bind(enterprise_id)
    .bind(crate::db::ts(now))
    .fetch_all(&mut *conn)
    .await?;
    let mut sessions = Vec::with_capacity(active.len());
    let mut promoted = Vec::new();
    for (id, session_id, status, seats) in active {
        sqlx::query(
            "UPDATE registrations SET status = $1, ended_at = $2, end_reason = $3 WHERE id = $4",
        )
        .bind(how.status())
        .bind(crate::db::ts(now))
        .bind(how.reason())
        .bind(id)
        .execute(&mut *conn)
        .await?;
        if status == RegistrationStatus::Confirmed {
            sqlx::query(
                "UPDATE lecture_sessions SET confirmed_seats = confirmed_seats - $1 WHERE id = $2",
            )
            .bind(seats)
            .bind(session_id)
            .execute(&mut *conn)
            .await?;
        }
        promoted.extend(promote_waitlist(conn, session_id, now).await?);
        sessions.push(session_id);
    }
    Ok((sessions, promoted))
}

async fn state_of(
    conn: &mut AnyConnection,
    registration_id: i64,
) -> Result<RegistrationState, sqlx::Error> {
    let row = sqlx::query(STATE_SQL)
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
    conn: &mut AnyConnection,
    session_id: i64,
    enterprise_id: i64,
) -> Result<Option<(i64, RegistrationStatus, i64)>, sqlx::Error> {
    let row = sqlx::query(ACTIVE_SQL)
        .bind(session_id)
        .bind(enterprise_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("status")?, r.try_get("seats")?)))
        .transpose()
}

/// The status column of a registration, as stored.
fn registration_status(text: &str) -> Result<RegistrationStatus, sqlx::Error> {
    match text {
        "confirmed" => Ok(RegistrationStatus::Confirmed),
        "waitlisted" => Ok(RegistrationStatus::Waitlisted),
        "cancelled" => Ok(RegistrationStatus::Cancelled),
        "removed" => Ok(RegistrationStatus::Removed),
        other => Err(sqlx::Error::Decode(
            format!("unknown registration status {other:?}").into(),
        )),
    }
}

/// [`state_of`] on the writer's connection.
fn state_on(
    conn: &mut WriterConn<'_>,
    registration_id: i64,
) -> Result<RegistrationState, sqlx::Error> {
    let row = conn.query_one(STATE_SQL, &[registration_id.into()])?;
    Ok(RegistrationState {
        registration_id: row.int(0)?,
        status: registration_status(row.text(1)?)?,
        seats: row.int(2)?,
        position: row.opt_int(3)?,
    })
}

/// [`promote_waitlist`] on the writer's connection: the same rule, statements and
/// notifications, telling nobody about `newcomer`: a sign-up that walks the queue and gets a
/// seat at once is told "报名成功", not that it left a waitlist it never saw.
fn promote_on(
    conn: &mut WriterConn<'_>,
    session_id: i64,
    now: DateTime<Utc>,
    newcomer: Option<i64>,
) -> Result<Vec<i64>, sqlx::Error> {
    let Some(row) = conn.query_optional(FREE_SEATS_SQL, &[session_id.into()])? else {
        return Ok(Vec::new());
    };
    let confirmed = row.int(1)?;
    let free = row.int(0)? - confirmed;
    if free <= 0 {
        return Ok(Vec::new());
    }
    let waiting = conn
        .query(QUEUE_SQL, &[session_id.into()])?
        .iter()
        .map(|r| Ok((r.int(0)?, r.int(1)?, r.int(2)?)))
        .collect::<Result<Vec<(i64, i64, i64)>, sqlx::Error>>()?;
    let queue: Vec<(i64, i64)> = waiting.iter().map(|(id, seats, _)| (*id, *seats)).collect();
    let promoted = signup::promotions(free, &queue);
    if promoted.is_empty() {
        return Ok(promoted);
    }
    let now_s = ts(now);
    let mut seats_confirmed = 0;
    for (id, seats, _) in waiting.iter().filter(|(id, _, _)| promoted.contains(id)) {
        conn.execute(PROMOTE_SQL, &[(&now_s).into(), (*id).into()])?;
        seats_confirmed += seats;
    }
    conn.execute(
        SET_CONFIRMED_SQL,
        &[(confirmed + seats_confirmed).into(), session_id.into()],
    )?;
    if let Some(session) = notifications::session_ref_on(conn, session_id)? {
        for (id, _, enterprise_id) in waiting
            .iter()
            .filter(|(id, _, _)| promoted.contains(id) && Some(*id) != newcomer)
        {
            let event = Event::Promoted {
                session: session.clone(),
                registration_id: *id,
            };
            notifications::enqueue_on(conn, *enterprise_id, &event, now)?;
        }
    }
    Ok(promoted)
}

/// A sign-up's whole transaction on the writer's connection (see [`Db::sign_up`]).
fn sign_up_on(
    conn: &mut WriterConn<'_>,
    session_id: i64,
    enterprise_id: i64,
    seats: i64,
    attendees: &str,
    now: DateTime<Utc>,
) -> Result<SignupResult, sqlx::Error> {
    conn.lock(LOCK_SESSION_SQL, &[session_id.into()])?;
    let Some(session) =
        conn.query_optional(DECISION_SQL, &[enterprise_id.into(), session_id.into()])?
    else {
        return Ok(SignupResult::SessionNotFound);
    };
    if session.text(0)? == SessionStatus::Cancelled.as_str() {
        return Ok(SignupResult::SessionCancelled);
    }
    if let Some(id) = session.opt_int(4)? {
        return Ok(SignupResult::Registered(state_on(conn, id)?, false));
    }
    let free = session.int(1)? - session.int(2)?;
    let placement = signup::place(free, session.int(3)?, seats);
    let status = match placement {
        Placement::Confirm => RegistrationStatus::Confirmed,
        Placement::Waitlist { .. } | Placement::WalkQueue => RegistrationStatus::Waitlisted,
    };
    let now_s = ts(now);
    let id = conn
        .query_one(
            INSERT_REGISTRATION_SQL,
            &[
                session_id.into(),
                enterprise_id.into(),
                seats.into(),
                attendees.into(),
                status.as_str().into(),
                (&now_s).into(),
                (status == RegistrationStatus::Confirmed)
                    .then_some(&now_s)
                    .into(),
            ],
        )?
        .int(0)?;
    let state = match placement {
        Placement::Confirm => {
            conn.execute(ADD_CONFIRMED_SQL, &[seats.into(), session_id.into()])?;
            RegistrationState {
                registration_id: id,
                status: RegistrationStatus::Confirmed,
                position: None,
                seats,
            }
        }
        Placement::Waitlist { position } => RegistrationState {
            registration_id: id,
            status: RegistrationStatus::Waitlisted,
            position: Some(position),
            seats,
        },
        Placement::WalkQueue => {
            promote_on(conn, session_id, now, Some(id))?;
            state_on(conn, id)?
        }
    };
    // the texts' session comes from the decision's row: no statement more under the lock
    let session_ref = SessionRef {
        id: session_id,
        title: session.text(5)?.to_string(),
        starts_at: session.opt_time(6)?,
        minutes: session.int(7)?,
        tz: session
            .opt_text(8)?
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(crate::schedule::DEFAULT_TZ),
    };
    let event = match state.position {
        Some(position) if !state.is_confirmed() => Event::SignupWaitlisted {
            session: session_ref,
            registration_id: id,
            position,
        },
        _ => Event::SignupConfirmed {
            session: session_ref,
            registration_id: id,
        },
    };
    notifications::enqueue_on(conn, enterprise_id, &event, now)?;
    Ok(SignupResult::Registered(state, true))
}

/// A cancellation's or removal's whole transaction on the writer's connection (see
/// [`Db::end_registration`]).
fn end_registration_on(
    conn: &mut WriterConn<'_>,
    session_id: i64,
    enterprise_id: i64,
    how: &EndReason,
    now: DateTime<Utc>,
) -> Result<Option<RegistrationStatus>, sqlx::Error> {
    conn.lock(LOCK_SESSION_SQL, &[session_id.into()])?;
    let Some(active) =
        conn.query_optional(ACTIVE_SQL, &[session_id.into(), enterprise_id.into()])?
    else {
        return Ok(None);
    };
    let (id, status, seats) = (
        active.int(0)?,
        registration_status(active.text(1)?)?,
        active.int(2)?,
    );
    let now_s = ts(now);
    conn.execute(
        END_SQL,
        &[
            how.status().as_str().into(),
            (&now_s).into(),
            how.reason().into(),
            id.into(),
        ],
    )?;
    if status == RegistrationStatus::Confirmed {
        conn.execute(SUBTRACT_CONFIRMED_SQL, &[seats.into(), session_id.into()])?;
    }
    // the enterprise that withdrew knows it did; one removed by an organizer is told why
    if let EndReason::Removed { reason } = how {
        if let Some(session) = notifications::session_ref_on(conn, session_id)? {
            let event = Event::Removed {
                session,
                registration_id: id,
                reason: reason.clone(),
            };
            notifications::enqueue_on(conn, enterprise_id, &event, now)?;
        }
    }
    promote_on(conn, session_id, now, None)?;
    Ok(Some(status))
}

impl Db {
    /// Sign an enterprise up for `seats` seats. Idempotent: an existing active registration is
    /// returned unchanged.
    ///
    /// The whole transaction — decision, registration, `confirmed_seats`, the queue walk when
    /// needed, the 报名成功/候补 (and 候补转正) notifications — runs as one job on the
    /// database writer ([`super::writer`]): one hand-off instead of one per statement while
    /// every other sign-up waits for the write lock.
    pub async fn sign_up(
        &self,
        session_id: i64,
        enterprise_id: i64,
        seats: i64,
        attendees: &[String],
        now: DateTime<Utc>,
    ) -> Result<SignupResult, sqlx::Error> {
        let attendees =
            serde_json::to_string(attendees).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        self.write(move |conn| sign_up_on(conn, session_id, enterprise_id, seats, &attendees, now))
            .await
    }

    /// End an active registration (cancelled by the enterprise or removed by an organizer
    /// with a reason), free its seats and promote the waitlist in the same transaction, as one
    /// job on the database writer (like [`Db::sign_up`]). Returns the ended registration's
    /// former status, or `None` if there was none.
    pub async fn end_registration(
        &self,
        session_id: i64,
        enterprise_id: i64,
        how: &EndReason,
        now: DateTime<Utc>,
    ) -> Result<Option<RegistrationStatus>, sqlx::Error> {
        let how = how.clone();
        self.write(move |conn| end_registration_on(conn, session_id, enterprise_id, &how, now))
            .await
    }

    /// Confirmed and waitlisted registrations of a session, confirmed first, then the queue.
    pub async fn roster(&self, session_id: i64) -> Result<Vec<RosterRow>, sqlx::Error> {
        let mut rows: Vec<RosterRow> = sqlx::query_as(
            "SELECT r.id AS registration_id, r.enterprise_id, e.name AS company, e.uscc, e.industry,
                    e.contact_name, e.mobile, r.seats, r.attendees, r.status,
                    r.created_at, r.confirmed_at
             FROM registrations r JOIN enterprises e ON e.user_id = r.enterprise_id
             WHERE r.session_id = $1 AND r.status IN ('confirmed', 'waitlisted')
             ORDER BY CASE r.status WHEN 'confirmed' THEN 0 ELSE 1 END, r.id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        let mut position = 0;
        for r in &mut rows {
            if r.status == RegistrationStatus::Waitlisted {
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
             WHERE r.enterprise_id = $1 AND r.status IN ('confirmed', 'waitlisted')
             ORDER BY s.starts_at IS NULL, s.starts_at, s.id",
        )
        .bind(enterprise_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The enterprise's latest ended sign-up for a session — cancelled by itself or removed by
    /// an organizer — for the undo of a cancellation and to show a removal's reason.
    pub async fn last_ended_registration(
        &self,
        session_id: i64,
        enterprise_id: i64,
    ) -> Result<Option<EndedRegistration>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{ENDED_REGISTRATION} WHERE r.session_id = $1 AND r.enterprise_id = $2 AND r.status IN ('cancelled', 'removed')
              ORDER BY r.id DESC LIMIT 1"
        ))
        .bind(session_id)
        .bind(enterprise_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// The enterprise's sign-ups an organizer removed, newest first (at most `limit`), with
    /// their reasons — shown on 我的 so a removal never goes unnoticed.
    pub async fn removed_registrations(
        &self,
        enterprise_id: i64,
        limit: i64,
    ) -> Result<Vec<EndedRegistration>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{ENDED_REGISTRATION} WHERE r.enterprise_id = $1 AND r.status = 'removed'
                AND NOT EXISTS (SELECT 1 FROM registrations a
                                 WHERE a.session_id = r.session_id AND a.enterprise_id = r.enterprise_id
                                   AND a.status IN ('confirmed', 'waitlisted'))
              ORDER BY r.id DESC LIMIT $2"
        ))
        .bind(enterprise_id)
        .bind(limit)
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
