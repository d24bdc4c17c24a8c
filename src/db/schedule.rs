//! Programs, lecturers and sessions.

use super::notifications;
use super::Db;
use super::Json;
use super::RowExt;
use crate::notify::Event;
use crate::schedule::planner::{Availability, Booked, ProgramCalendar, SlotRule};
use crate::schedule::{
    LecturerInput, SessionInput, SessionStatus, SlotSpec, ValidLecturer, ValidProgram, ValidSession,
};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeSet;
use std::str::FromStr;

/// A program as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgramRow {
    pub id: i64,
    pub title: String,
    pub summary: String,
    #[sqlx(try_from = "crate::db::Day")]
    pub starts_on: NaiveDate,
    #[sqlx(try_from = "crate::db::Day")]
    pub ends_on: NaiveDate,
    pub timezone: String,
    pub slots: Json<Vec<SlotSpec>>,
    pub blackout_dates: Json<Vec<NaiveDate>>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub updated_at: DateTime<Utc>,
}

impl ProgramRow {
    /// The program's time zone. Validation admits only known zone names, so the fallback is
    /// reached only by a row written outside pufa.
    pub fn tz(&self) -> Tz {
        Tz::from_str(&self.timezone).unwrap_or(crate::schedule::DEFAULT_TZ)
    }

    pub fn slot_specs(&self) -> Vec<SlotSpec> {
        self.slots.0.clone()
    }

    pub fn blackout_list(&self) -> Vec<NaiveDate> {
        self.blackout_dates.0.clone()
    }

    /// The planner's view of the program.
    pub fn calendar(&self) -> ProgramCalendar {
        ProgramCalendar {
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            timezone: self.tz(),
            slots: self
                .slot_specs()
                .into_iter()
                .filter_map(|s| {
                    Some(SlotRule {
                        weekday: s.weekday,
                        start: NaiveTime::parse_from_str(&s.start, "%H:%M").ok()?,
                        minutes: s.minutes,
                    })
                })
                .collect(),
            blackout_dates: self.blackout_list().into_iter().collect(),
        }
    }
}

/// A session with its lecturer and seat counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub program_id: i64,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub target_industries: Json<Vec<String>>,
    pub lecturer_id: i64,
    pub lecturer_name: String,
    pub lecturer_firm: String,
    pub lecturer_bio: String,
    pub lecturer_weekdays: Option<Json<BTreeSet<u8>>>,
    pub lecturer_unavailable: Json<BTreeSet<NaiveDate>>,
    pub lecturer_user_id: Option<i64>,
    pub minutes: i64,
    pub capacity: i64,
    pub max_seats_per_enterprise: i64,
    pub confirmed_seats: i64,
    pub waitlisted: i64,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub signup_opens_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub signup_closes_at: Option<DateTime<Utc>>,
    pub stream_url: Option<String>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub starts_at: Option<DateTime<Utc>>,
    pub status: SessionStatus,
    pub sequence: i64,
    /// The program's time zone, in which the session's times are shown.
    pub program_timezone: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub updated_at: DateTime<Utc>,
}

impl SessionRow {
    /// The program's time zone (see [`ProgramRow::tz`]).
    pub fn tz(&self) -> Tz {
        Tz::from_str(&self.program_timezone).unwrap_or(crate::schedule::DEFAULT_TZ)
    }

    pub fn seats_left(&self) -> i64 {
        (self.capacity - self.confirmed_seats).max(0)
    }

    pub fn is_cancelled(&self) -> bool {
        self.status == SessionStatus::Cancelled
    }

    pub fn industries(&self) -> Vec<String> {
        self.target_industries.0.clone()
    }

    pub fn availability(&self) -> Availability {
        Availability {
            weekdays: self.lecturer_weekdays.as_ref().map(|w| w.0.clone()),
            unavailable_dates: self.lecturer_unavailable.0.clone(),
        }
    }

    /// The session as the planner sees an already placed one.
    pub fn booked(&self) -> Option<Booked> {
        Some(Booked {
            session_id: self.id,
            lecturer_id: self.lecturer_id,
            category: self.category.clone(),
            title: self.title.clone(),
            starts_at: self.starts_at?,
            minutes: self.minutes as u32,
        })
    }

    /// The stored session as an input, so a patch can be applied and validated as a whole.
    pub fn to_input(&self, tz: Tz) -> SessionInput {
        let local = |t: &DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
        let availability = self.availability();
        SessionInput {
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: self.category.clone(),
            target_industries: self.industries(),
            lecturer: LecturerInput {
                name: self.lecturer_name.clone(),
                firm: self.lecturer_firm.clone(),
                bio: self.lecturer_bio.clone(),
                available_weekdays: availability.weekdays.map(|w| w.into_iter().collect()),
                unavailable_dates: availability
                    .unavailable_dates
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
                account: None,
            },
            minutes: self.minutes,
            capacity: self.capacity,
            max_seats_per_enterprise: Some(self.max_seats_per_enterprise),
            signup_opens_at: self.signup_opens_at.as_ref().map(local),
            signup_closes_at: self.signup_closes_at.as_ref().map(local),
            stream_url: self.stream_url.clone(),
            starts_at: self.starts_at.as_ref().map(local),
        }
    }
}

const SESSION_SELECT: &str = "
    SELECT s.id, s.program_id, s.title, s.summary, s.category, s.target_industries,
           s.lecturer_id, l.name AS lecturer_name, l.firm AS lecturer_firm, l.bio AS lecturer_bio,
           l.available_weekdays AS lecturer_weekdays, l.unavailable_dates AS lecturer_unavailable,
           l.user_id AS lecturer_user_id,
           s.minutes, s.capacity, s.max_seats_per_enterprise, s.confirmed_seats,
           (SELECT COUNT(*) FROM registrations r
             WHERE r.session_id = s.id AND r.status = 'waitlisted') AS waitlisted,
           s.signup_opens_at, s.signup_closes_at, s.stream_url, s.starts_at, s.status,
           s.sequence, p.timezone AS program_timezone, s.created_at, s.updated_at
    FROM lecture_sessions s JOIN lecturers l ON l.id = s.lecturer_id
    JOIN programs p ON p.id = s.program_id";

/// What deleting a program did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramDelete {
    Deleted,
    NotFound,
    /// Sign-ups (any state) or recordings hang on its sessions; nothing was deleted.
    InUse {
        registrations: i64,
        recordings: i64,
    },
}

/// What the organizer's session list is narrowed to (`None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// In the title, the lecturer's name or firm.
    pub text: Option<String>,
    pub program_id: Option<i64>,
    pub status: Option<SessionStatus>,
}

/// Result of saving changes to a session.
#[derive(Debug)]
pub enum SessionUpdate {
    Saved,
    NotFound,
    /// The new capacity is below the seats already confirmed.
    CapacityBelowConfirmed {
        confirmed: i64,
    },
}

async fn upsert_lecturer(conn: &mut AnyConnection, l: &ValidLecturer) -> Result<i64, sqlx::Error> {
    let weekdays = l
        .availability
        .weekdays
        .as_ref()
        .map(|w| Json(w.iter().collect::<Vec<_>>()));
    let unavailable = Json(&l.availability.unavailable_dates);
    let row = sqlx::query(
        "INSERT INTO lecturers (name, firm, bio, available_weekdays, unavailable_dates)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name, firm) DO UPDATE SET
           bio = CASE WHEN excluded.bio <> '' THEN excluded.bio ELSE lecturers.bio END,
           available_weekdays = excluded.available_weekdays,
           unavailable_dates = excluded.unavailable_dates
         RETURNING id",
    )
    .bind(&l.name)
    .bind(&l.firm)
    .bind(&l.bio)
    .bind(weekdays)
    .bind(unavailable)
    .fetch_one(&mut *conn)
    .await?;
    row.try_get("id")
}

/// Tell every active registrant of `session_id` that its start moved from `before` to the
/// stored one; the session's SEQUENCE after the change makes each move its own notification.
async fn tell_moved(
    conn: &mut AnyConnection,
    session_id: i64,
    before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let registrants = notifications::active_registrants(conn, session_id).await?;
    if registrants.is_empty() {
        return Ok(());
    }
    let Some(session) = notifications::session_ref(conn, session_id).await? else {
        return Ok(());
    };
    let sequence: i64 = sqlx::query_scalar("SELECT sequence FROM lecture_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_one(&mut *conn)
        .await?;
    for (enterprise_id, _, _) in registrants {
        let event = Event::SessionMoved {
            session: session.clone(),
            before,
            sequence,
        };
        notifications::enqueue(conn, enterprise_id, &event, now).await?;
    }
    Ok(())
}

impl Db {
    pub async fn insert_program(
        &self,
        p: &ValidProgram,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO programs
               (title, summary, starts_on, ends_on, timezone, slots, blackout_dates, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&p.title)
        .bind(&p.summary)
        .bind(crate::db::day(p.calendar.starts_on))
        .bind(crate::db::day(p.calendar.ends_on))
        .bind(p.calendar.timezone.name())
        .bind(Json(p.slot_specs()))
        .bind(Json(&p.calendar.blackout_dates))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    /// Save a program's new title, summary and calendar; `false` when it does not exist.
    pub async fn update_program(
        &self,
        id: i64,
        p: &ValidProgram,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE programs SET title = $1, summary = $2, starts_on = $3, ends_on = $4, timezone = $5,
               slots = $6, blackout_dates = $7, updated_at = $8
             WHERE id = $9",
        )
        .bind(&p.title)
        .bind(&p.summary)
        .bind(crate::db::day(p.calendar.starts_on))
        .bind(crate::db::day(p.calendar.ends_on))
        .bind(p.calendar.timezone.name())
        .bind(Json(p.slot_specs()))
        .bind(Json(&p.calendar.blackout_dates))
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // a new zone changes how every session's time reads in subscribed calendars
        sqlx::query(
            "UPDATE lecture_sessions SET sequence = sequence + 1, updated_at = $1 WHERE program_id = $2",
        )
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Delete a program with its sessions, unless something hangs on it: a sign-up (in any
    /// state, cancelled ones too — they are the history of who was told what) or a recording
    /// or live of one of its sessions. Checked and deleted in one write transaction, so a
    /// sign-up arriving meanwhile either lands first (and blocks) or finds no session.
    pub async fn delete_program_if_unused(&self, id: i64) -> Result<ProgramDelete, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM programs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(ProgramDelete::NotFound);
        }
        let row = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM registrations r JOIN lecture_sessions s ON s.id = r.session_id
                 WHERE s.program_id = $1) AS registrations,
               (SELECT COUNT(*) FROM lectures l JOIN lecture_sessions s ON s.id = l.session_id
                 WHERE s.program_id = $1) AS recordings",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let registrations: i64 = row.try_get("registrations")?;
        let recordings: i64 = row.try_get("recordings")?;
        if registrations > 0 || recordings > 0 {
            return Ok(ProgramDelete::InUse {
                registrations,
                recordings,
            });
        }
        sqlx::query("DELETE FROM programs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ProgramDelete::Deleted)
    }

    pub async fn program(&self, id: i64) -> Result<Option<ProgramRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM programs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// All programs, latest first, with their number of (not cancelled) sessions.
    pub async fn programs(&self) -> Result<Vec<(ProgramRow, i64)>, sqlx::Error> {
        #[derive(sqlx::FromRow)]
        struct Counted {
            #[sqlx(flatten)]
            program: ProgramRow,
            session_count: i64,
        }
        let rows: Vec<Counted> = sqlx::query_as(
            "SELECT p.*,
                    (SELECT COUNT(*) FROM lecture_sessions s
                      WHERE s.program_id = p.id AND s.status <> 'cancelled') AS session_count
             FROM programs p ORDER BY p.starts_on DESC, p.id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.program, r.session_count))
            .collect())
    }

    pub async fn insert_session(
        &self,
        program_id: i64,
        s: &ValidSession,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let lecturer_id = upsert_lecturer(&mut tx, &s.lecturer).await?;
        let row = sqlx::query(
            "INSERT INTO lecture_sessions
               (program_id, title, summary, category, target_industries, lecturer_id, minutes,
                capacity, max_seats_per_enterprise, signup_opens_at, signup_closes_at, stream_url,
                starts_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(program_id)
        .bind(&s.title)
        .bind(&s.summary)
        .bind(&s.category)
        .bind(Json(&s.target_industries))
        .bind(lecturer_id)
        .bind(i64::from(s.minutes))
        .bind(s.capacity)
        .bind(s.max_seats_per_enterprise)
        .bind((s.signup_opens_at).map(crate::db::ts))
        .bind((s.signup_closes_at).map(crate::db::ts))
        .bind(&s.stream_url)
        .bind((s.starts_at).map(crate::db::ts))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.try_get("id")
    }

    /// Save a session's new values; raises SEQUENCE and, when capacity grew, promotes the
    /// waitlist in the same transaction.
    pub async fn update_session(
        &self,
        id: i64,
        s: &ValidSession,
        now: DateTime<Utc>,
    ) -> Result<SessionUpdate, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let current = sqlx::query(
            "SELECT confirmed_seats, starts_at, status FROM lecture_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Ok(SessionUpdate::NotFound);
        };
        let confirmed: i64 = current.try_get("confirmed_seats")?;
        let before: Option<DateTime<Utc>> = current.time("starts_at")?;
        let status: SessionStatus = current.try_get("status")?;
        if s.capacity < confirmed {
            return Ok(SessionUpdate::CapacityBelowConfirmed { confirmed });
        }
        let lecturer_id = upsert_lecturer(&mut tx, &s.lecturer).await?;
        sqlx::query(
            "UPDATE lecture_sessions SET
               title = $1, summary = $2, category = $3, target_industries = $4, lecturer_id = $5,
               minutes = $6, capacity = $7, max_seats_per_enterprise = $8, signup_opens_at = $9,
               signup_closes_at = $10, stream_url = $11, starts_at = $12, sequence = sequence + 1,
               updated_at = $13
             WHERE id = $14",
        )
        .bind(&s.title)
        .bind(&s.summary)
        .bind(&s.category)
        .bind(Json(&s.target_industries))
        .bind(lecturer_id)
        .bind(i64::from(s.minutes))
        .bind(s.capacity)
        .bind(s.max_seats_per_enterprise)
        .bind((s.signup_opens_at).map(crate::db::ts))
        .bind((s.signup_closes_at).map(crate::db::ts))
        .bind(&s.stream_url)
        .bind((s.starts_at).map(crate::db::ts))
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        super::registrations::promote_waitlist(&mut tx, id, now).await?;
        // a cancelled session's registrants were told it is off; a new time changes nothing
        if before != s.starts_at && status == SessionStatus::Scheduled {
            tell_moved(&mut tx, id, before, now).await?;
            notifications::skip_pending_reminders(&mut tx, id, "时间已调整", now).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(SessionUpdate::Saved)
    }

    /// Cancel a session: it leaves the timetable but stays in feeds as cancelled.
    /// Its active registrants are told and its queued reminders dropped in the same
    /// transaction.
    pub async fn cancel_session(&self, id: i64, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE lecture_sessions SET status = 'cancelled', sequence = sequence + 1, updated_at = $1
             WHERE id = $2 AND status <> 'cancelled'",
        )
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some(session) = notifications::session_ref(&mut tx, id).await? {
            for (enterprise_id, _, _) in notifications::active_registrants(&mut tx, id).await? {
                let event = Event::SessionCancelled {
                    session: session.clone(),
                };
                notifications::enqueue(&mut tx, enterprise_id, &event, now).await?;
            }
        }
        notifications::skip_pending_reminders(&mut tx, id, "课程已取消", now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    pub async fn session(&self, id: i64) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query_as(&format!("{SESSION_SELECT} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The sessions of a program: placed ones by time, then unplaced ones.
    pub async fn program_sessions(&self, program_id: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{SESSION_SELECT} WHERE s.program_id = $1
             ORDER BY s.starts_at IS NULL, s.starts_at, s.id"
        ))
        .bind(program_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Sessions of every program matching `filter`, the latest first (unplaced ones last):
    /// `limit` rows from `offset`, and how many match.
    pub async fn session_list(
        &self,
        filter: &SessionFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SessionRow>, i64), sqlx::Error> {
        let where_sql = "WHERE ($1 IS NULL OR s.title LIKE '%' || $1 || '%' ESCAPE '\\'
                    OR l.name LIKE '%' || $1 || '%' ESCAPE '\\'
                    OR l.firm LIKE '%' || $1 || '%' ESCAPE '\\')
               AND ($2 IS NULL OR s.program_id = $2)
               AND ($3 IS NULL OR s.status = $3)";
        let text = filter.text.as_deref().map(super::accounts::like_escaped);
        let status = filter.status.map(SessionStatus::as_str);
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM lecture_sessions s JOIN lecturers l ON l.id = s.lecturer_id
             {where_sql}"
        ))
        .bind(text.as_deref())
        .bind(filter.program_id)
        .bind(status)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query_as(&format!(
            "{SESSION_SELECT} {where_sql}
             ORDER BY s.starts_at IS NULL, s.starts_at DESC, s.id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(text.as_deref())
        .bind(filter.program_id)
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// Sessions taught by the lecturer linked to a lawyer account.
    pub async fn lawyer_sessions(&self, user_id: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{SESSION_SELECT} WHERE l.user_id = $1 ORDER BY s.starts_at IS NULL, s.starts_at, s.id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Save the auto-scheduler's placements. A session that got a time meanwhile (or was
    /// cancelled) is left alone; returns how many were placed.
    pub async fn apply_placements(
        &self,
        placements: &[(i64, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let mut placed = 0;
        for (id, at) in placements {
            let done = sqlx::query(
                "UPDATE lecture_sessions SET starts_at = $1, sequence = sequence + 1, updated_at = $2
                 WHERE id = $3 AND starts_at IS NULL AND status = 'scheduled'",
            )
            .bind(crate::db::ts(*at))
            .bind(crate::db::ts(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                placed += 1;
                // sign-ups are open before a session has a time; they learn it here
                tell_moved(&mut tx, *id, None, now).await?;
            }
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(placed)
    }

    /// Link a lecturer to a lawyer account (so the lawyer sees own sessions and rosters).
    pub async fn link_lecturer_user(
        &self,
        lecturer_id: i64,
        user_id: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE lecturers SET user_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(lecturer_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Db {
    /// The id of a lecturer by name and firm, if known.
    pub async fn lecturer_id(&self, name: &str, firm: &str) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT id FROM lecturers WHERE name = $1 AND firm = $2")
            .bind(name.trim())
            .bind(firm.trim())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("id")).transpose()
    }
}

impl Db {
    /// Sessions still to come (or not yet placed) across all programs, for recommendations.
    pub async fn upcoming_sessions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{SESSION_SELECT} WHERE s.status = 'scheduled' AND (s.starts_at IS NULL OR s.starts_at > $1)
             ORDER BY s.starts_at IS NULL, s.starts_at, s.id"
        ))
        .bind(crate::db::ts(now))
        .fetch_all(&self.pool)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Event;

    /// A database with the demo month, an enterprise (id 900) with a verified e-mail address
    /// signed up for a placed session, and that session.
    async fn signed_up() -> (tempfile::TempDir, Db, SessionRow) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).await.expect("db");
        let today = NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
        let program = crate::demo::load_month(&db, today).await.expect("demo");
        let session = db
            .program_sessions(program)
            .await
            .expect("sessions")
            .into_iter()
            .find(|s| s.starts_at.is_some())
            .expect("a placed session");
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, role, display_name, password_hash, created_at)
             VALUES (900, 'enterprise', 'E', 'x', $1);
             INSERT INTO enterprises (user_id, name, uscc, industry, contact_name, mobile,
                                      calendar_token)
             VALUES (900, 'E', '91330100MA0000000X', 'E', 'C', '13900000900', 't900');
             INSERT INTO contacts (user_id, kind, value, verified_at, updated_at)
             VALUES (900, 'email', 'e@example.cn', $1, $1)",
        )
        .bind(crate::db::ts(now))
        .execute(&db.pool)
        .await
        .expect("enterprise");
        db.sign_up(session.id, 900, 1, &[], now)
            .await
            .expect("sign up");
        (dir, db, session)
    }

    /// Queue a reminder for the session as it now is; returns the notification id.
    async fn remind(db: &Db, session_id: i64) -> i64 {
        let mut conn = db.pool.acquire().await.expect("conn");
        let session = notifications::session_ref(&mut conn, session_id)
            .await
            .expect("session ref")
            .expect("session");
        let event = Event::Reminder {
            session,
            offset: chrono::Duration::hours(1),
        };
        notifications::enqueue(&mut conn, 900, &event, Utc::now())
            .await
            .expect("enqueue")
            .expect("new")
    }

    async fn delivery(db: &Db, notification: i64) -> (String, Option<String>) {
        sqlx::query_as("SELECT state, last_error FROM deliveries WHERE notification_id = $1")
            .bind(notification)
            .fetch_one(&db.pool)
            .await
            .expect("delivery")
    }

    async fn told(db: &Db, kind: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT body FROM notifications WHERE user_id = 900 AND kind = $1")
            .bind(kind)
            .fetch_all(&db.pool)
            .await
            .expect("bodies")
    }

    #[tokio::test]
    async fn a_move_tells_once_and_drops_queued_reminders_and_so_does_a_cancellation() {
        let (_dir, db, session) = signed_up().await;
        let tz = session.tz();
        let before = session.starts_at.expect("placed");
        let reminder = remind(&db, session.id).await;
        assert_eq!(delivery(&db, reminder).await.0, "queued");

        let later = before + chrono::Duration::hours(3);
        let mut input = session.to_input(tz);
        input.starts_at = Some(later.with_timezone(&tz).to_rfc3339());
        let valid = crate::schedule::validate_session(&input, tz).expect("valid");
        let saved = db.update_session(session.id, &valid, Utc::now()).await;
        assert!(matches!(saved, Ok(SessionUpdate::Saved)), "{saved:?}");
        assert_eq!(
            delivery(&db, reminder).await,
            ("skipped".into(), Some("时间已调整".into()))
        );
        let moved = told(&db, "session_moved").await;
        assert_eq!(moved.len(), 1);
        assert!(moved[0].contains(&crate::schedule::datetime_zh(&before, tz)));
        assert!(moved[0].contains(&crate::schedule::datetime_zh(&later, tz)));
        // saved again at the same time: nothing new to tell
        db.update_session(session.id, &valid, Utc::now())
            .await
            .expect("save");
        assert_eq!(told(&db, "session_moved").await.len(), 1);

        // the reminder of the new time is dropped when the session is cancelled
        let reminder = remind(&db, session.id).await;
        assert!(db
            .cancel_session(session.id, Utc::now())
            .await
            .expect("cancel"));
        assert_eq!(
            delivery(&db, reminder).await,
            ("skipped".into(), Some("课程已取消".into()))
        );
        assert_eq!(told(&db, "session_cancelled").await.len(), 1);
        assert!(!db
            .cancel_session(session.id, Utc::now())
            .await
            .expect("cancel"));
        assert_eq!(told(&db, "session_cancelled").await.len(), 1);
    }
}
