//! Signing up for a session, cancelling, removals by organizers, and rosters.

use super::audit::{self, Action, Target};
use crate::accounts::{privacy, Role, User};
use crate::archive::attendance::Attendance;
use crate::db::registrations::{MyRegistration, RegistrationState, RosterRow, SignupResult};
use crate::db::schedule::{ProgramRow, SessionRow};
use crate::db::Db;
use crate::signup::{self, EndReason, Refusal, Window};
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// What can go wrong with a sign-up.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// Only enterprises sign up; only organizers and the session's lawyer read rosters.
    #[error("forbidden")]
    Forbidden,
    /// No such session, or no active registration to end.
    #[error("not found")]
    NotFound,
    /// The sign-up window refuses it; times in the message are in the program's zone.
    #[error("refused: {0:?}")]
    Refused(Refusal, Tz),
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SignupError {
    fn from(e: sqlx::Error) -> Self {
        SignupError::Internal(e.into())
    }
}

impl From<super::schedule::ScheduleError> for SignupError {
    fn from(e: super::schedule::ScheduleError) -> Self {
        match e {
            super::schedule::ScheduleError::NotFound => SignupError::NotFound,
            other => SignupError::Internal(other.into()),
        }
    }
}

pub type Result<T> = std::result::Result<T, SignupError>;

/// The sign-up window of a stored session.
pub fn window_of(s: &SessionRow) -> Window {
    Window {
        cancelled: s.is_cancelled(),
        opens_at: s.signup_opens_at,
        closes_at: s.signup_closes_at,
        starts_at: s.starts_at,
    }
}

/// Whether the session takes sign-ups at `now`, with the reason in Chinese when it does not.
pub fn open_for_signup(
    s: &SessionRow,
    tz: Tz,
    now: DateTime<Utc>,
) -> std::result::Result<(), String> {
    signup::check_window(&window_of(s), now).map_err(|r| r.message_zh(tz))
}

/// Sign the enterprise `user` up for `seats` seats. Returns the registration and whether it is
/// new; an existing sign-up is returned unchanged, even after the window closed.
pub async fn sign_up(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
    seats: i64,
    attendees: &[String],
) -> Result<(RegistrationState, bool)> {
    if user.role != Role::Enterprise {
        return Err(SignupError::Forbidden);
    }
    let session = super::schedule::session(db, session_id).await?;
    if let Err(refusal) = signup::check_window(&window_of(&session), now) {
        if let Some(existing) = db.registration_state(session_id, user.id).await? {
            return Ok((existing, false));
        }
        let tz = super::schedule::program(db, session.program_id).await?.tz();
        return Err(SignupError::Refused(refusal, tz));
    }
    let names = signup::check_request(seats, session.max_seats_per_enterprise, attendees)
        .map_err(|(field, msg)| SignupError::Invalid(FieldErrors::single(field, msg)))?;
    match db.sign_up(session_id, user.id, seats, &names, now).await? {
        SignupResult::Registered(state, created) => Ok((state, created)),
        SignupResult::SessionNotFound => Err(SignupError::NotFound),
        // cancelled between the window check and the transaction
        SignupResult::SessionCancelled => Err(SignupError::Refused(
            Refusal::Cancelled,
            crate::schedule::DEFAULT_TZ,
        )),
    }
}

/// The enterprise `user` withdraws its sign-up; the waitlist moves up in the same
/// transaction. `NotFound` when it had no active sign-up.
pub async fn cancel(db: &Db, now: DateTime<Utc>, user: &User, session_id: i64) -> Result<()> {
    if user.role != Role::Enterprise {
        return Err(SignupError::Forbidden);
    }
    super::schedule::session(db, session_id).await?;
    db.end_registration(session_id, user.id, &EndReason::Cancelled, now)
        .await?
        .map(|_| ())
        .ok_or(SignupError::NotFound)
}

/// An organizer removes an enterprise's registration with a reason.
pub async fn remove(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
    enterprise_id: i64,
    reason: &str,
) -> Result<()> {
    if user.role != Role::Organizer {
        return Err(SignupError::Forbidden);
    }
    let reason = signup::check_reason(reason)
        .map_err(|(field, msg)| SignupError::Invalid(FieldErrors::single(field, msg)))?;
    super::schedule::session(db, session_id).await?;
    let detail = serde_json::json!({"enterprise_id": enterprise_id, "reason": &reason});
    db.end_registration(
        session_id,
        enterprise_id,
        &EndReason::Removed { reason },
        now,
    )
    .await?
    .ok_or(SignupError::NotFound)?;
    audit::record(
        db,
        now,
        Some(user),
        Action::RegistrationRemoved,
        Target::Session(session_id),
        detail,
    )
    .await;
    Ok(())
}

/// May `user` read the roster of `session`?
pub fn may_read_roster(user: &User, session: &SessionRow) -> bool {
    signup::may_read_roster(user.role, user.id, session.lecturer_user_id)
}

/// One line of a roster with the enterprise's attendance of the recording, once there is one.
#[derive(Debug, Clone)]
pub struct RosterLine {
    pub row: RosterRow,
    pub attendance: Option<Attendance>,
}

/// Where a roster is read, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterUse {
    /// The roster page.
    Page,
    /// The CSV download.
    Export,
    /// The `.xlsx` download.
    Workbook,
    /// The printable sign-in sheet (签到表): names only, no contact data.
    SignInSheet,
    /// `GET /api/v1/sessions/{id}/registrations`.
    Api,
}

/// Whether `user` sees the full mobile numbers of session `session_id`'s roster: organizers
/// always, its lawyer only when an organizer allowed it for that session.
pub async fn sees_full_mobiles(db: &Db, user: &User, session_id: i64) -> Result<bool> {
    Ok(user.role == Role::Organizer || db.roster_full_mobiles(session_id).await?)
}

/// An organizer allows (or stops allowing) the session's lawyer to see full mobile numbers.
pub async fn set_roster_full_mobiles(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
    full: bool,
) -> Result<()> {
    if user.role != Role::Organizer {
        return Err(SignupError::Forbidden);
    }
    if !db.set_roster_full_mobiles(session_id, full).await? {
        return Err(SignupError::NotFound);
    }
    audit::record(
        db,
        now,
        Some(user),
        Action::RosterMobilesChanged,
        Target::Session(session_id),
        serde_json::json!({"full_mobiles": full}),
    )
    .await;
    Ok(())
}

/// A session's roster (organizers and the session's own lawyer), confirmed first, then the
/// queue, each with attendance of the published recording. A lawyer's copy has the mobile
/// numbers masked (`138****0000`) unless an organizer allowed full numbers for the session;
/// every reading is written to the audit log, with `purpose`.
pub async fn roster(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
    attendance_share: f64,
    purpose: RosterUse,
) -> Result<(SessionRow, ProgramRow, Vec<RosterLine>)> {
    let (session, program) = super::schedule::session_in_program(db, session_id).await?;
    if !may_read_roster(user, &session) {
        return Err(SignupError::Forbidden);
    }
    let mut rows = db.roster(session_id).await?;
    let masked = !sees_full_mobiles(db, user, session_id).await?;
    if masked {
        for row in &mut rows {
            row.mobile = privacy::mask_mobile(&row.mobile);
        }
    }
    let (action, via) = match purpose {
        RosterUse::Page => (Action::RosterOpened, "page"),
        RosterUse::Api => (Action::RosterOpened, "api"),
        RosterUse::Export => (Action::RosterExported, "csv"),
        RosterUse::Workbook => (Action::RosterExported, "xlsx"),
        RosterUse::SignInSheet => (Action::RosterOpened, "signin_sheet"),
    };
    audit::record(
        db,
        now,
        Some(user),
        action,
        Target::Session(session_id),
        serde_json::json!({"via": via, "masked": masked, "rows": rows.len()}),
    )
    .await;
    let duration = db
        .lecture_of_session(session_id)
        .await?
        .and_then(|l| l.duration_s.filter(|d| *d > 0.0).map(|d| (l.id, d)));
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let attendance = match duration {
            Some((lecture_id, duration_s)) => {
                let watched = db
                    .watch(row.enterprise_id, lecture_id)
                    .await?
                    .map(|w| w.watched_s)
                    .unwrap_or(0.0);
                Some(Attendance::of(watched, duration_s, attendance_share))
            }
            None => None,
        };
        lines.push(RosterLine { row, attendance });
    }
    Ok((session, program, lines))
}

/// One of an enterprise's sign-ups with its attendance of the published recording.
#[derive(Debug, Clone)]
pub struct MyCourse {
    pub reg: MyRegistration,
    /// The published lecture's id and the enterprise's attendance of it.
    pub lecture: Option<(i64, Attendance)>,
}

/// "我的课程": an enterprise's active sign-ups, soonest first, with attendance.
pub async fn my_courses(
    db: &Db,
    enterprise_id: i64,
    attendance_share: f64,
) -> Result<Vec<MyCourse>> {
    let mut courses = Vec::new();
    for reg in db.my_registrations(enterprise_id).await? {
        let lecture = match db.lecture_of_session(reg.session_id).await? {
            Some(l) if l.is_published() => {
                let watched = db
                    .watch(enterprise_id, l.id)
                    .await?
                    .map(|w| w.watched_s)
                    .unwrap_or(0.0);
                let duration_s = l.duration_s.unwrap_or(0.0);
                Some((l.id, Attendance::of(watched, duration_s, attendance_share)))
            }
            _ => None,
        };
        courses.push(MyCourse { reg, lecture });
    }
    Ok(courses)
}
