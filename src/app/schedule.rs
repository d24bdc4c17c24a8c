//! Planning the month: programs, sessions placed by hand or by the auto-scheduler, conflict
//! checks and calendar feeds.

use super::audit::{self, Action, Target};
use crate::accounts::{Role, User};
use crate::db::registrations::RegistrationState;
use crate::db::schedule::{ProgramDelete, ProgramRow, SessionRow, SessionUpdate};
use crate::db::Db;
use crate::schedule::conflicts::{self, Broken, Candidate, Conflict};
use crate::schedule::planner::{self, Plan, SessionToPlace};
use crate::schedule::{
    ical, validate_program, validate_session, ProgramInput, SessionInput, SessionPatch,
    ValidSession, DEFAULT_TZ,
};
use crate::signup::RegistrationStatus;
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};

/// What can go wrong while planning.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("program or session not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The placement collides with the timetable; each conflict names the collision.
    #[error("schedule conflict")]
    Conflicts(Vec<Conflict>),
    /// A cancelled session cannot be changed any more.
    #[error("session cancelled")]
    SessionCancelled,
    /// The new capacity is below the seats already confirmed.
    #[error("capacity below confirmed seats")]
    CapacityBelowConfirmed { confirmed: i64 },
    /// A change of the program's dates, blackout days or zone would leave placed sessions
    /// outside the program or on a day off; each is named. Nothing was saved.
    #[error("program change breaks placed sessions")]
    CalendarBreaks(Vec<Broken>),
    /// The program has sign-ups or recordings and cannot be deleted.
    #[error("program in use")]
    ProgramInUse { registrations: i64, recordings: i64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ScheduleError {
    fn from(e: sqlx::Error) -> Self {
        ScheduleError::Internal(e.into())
    }
}

impl ScheduleError {
    /// The Chinese explanation shown to the organizer.
    pub fn message_zh(&self) -> String {
        match self {
            ScheduleError::NotFound => "您访问的内容不存在或已被删除。".into(),
            ScheduleError::Invalid(errors) => errors.to_string(),
            ScheduleError::Conflicts(found) => {
                let list: Vec<String> = found.iter().map(Conflict::message_zh).collect();
                format!("时间安排冲突：{}", list.join("；"))
            }
            ScheduleError::SessionCancelled => "该课程已取消，不能再修改".into(),
            ScheduleError::CapacityBelowConfirmed { confirmed } => format!(
                "已有{confirmed}个名额被确认，名额不能少于{confirmed}；如需减少请先移除部分报名"
            ),
            ScheduleError::CalendarBreaks(broken) => {
                let list: Vec<String> = broken.iter().map(Broken::message_zh).collect();
                format!(
                    "修改后这些已排定的课程将不再符合项目安排，请先调整或取消它们：{}",
                    list.join("；")
                )
            }
            ScheduleError::ProgramInUse {
                registrations,
                recordings,
            } => {
                let mut what = Vec::new();
                if *registrations > 0 {
                    what.push(format!("{registrations}条报名记录"));
                }
                if *recordings > 0 {
                    what.push(format!("{recordings}个录像或回放"));
                }
                format!(
                    "项目中已有{}，不能删除；如不再举办，请逐个取消课程（报名企业会收到通知）",
                    what.join("和")
                )
            }
            ScheduleError::Internal(_) => "服务器处理请求时出错，请稍后重试。".into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, ScheduleError>;

/// A program by id.
pub async fn program(db: &Db, id: i64) -> Result<ProgramRow> {
    db.program(id).await?.ok_or(ScheduleError::NotFound)
}

/// A session by id.
pub async fn session(db: &Db, id: i64) -> Result<SessionRow> {
    db.session(id).await?.ok_or(ScheduleError::NotFound)
}

/// A session together with its program.
pub async fn session_in_program(db: &Db, id: i64) -> Result<(SessionRow, ProgramRow)> {
    let s = session(db, id).await?;
    let p = program(db, s.program_id).await?;
    Ok((s, p))
}

/// Create a program after validating it.
pub async fn create_program(db: &Db, now: DateTime<Utc>, input: &ProgramInput) -> Result<i64> {
    let valid = validate_program(input).map_err(ScheduleError::Invalid)?;
    Ok(db.insert_program(&valid, now).await?)
}

/// The candidate for a placed session's own checks.
fn placed_candidate(s: &SessionRow) -> Option<Candidate> {
    Some(Candidate {
        session_id: Some(s.id),
        lecturer_id: Some(s.lecturer_id),
        starts_at: s.starts_at?,
        minutes: s.minutes as u32,
        availability: s.availability(),
    })
}

/// Change a program's title, summary and calendar (`PUT /api/v1/programs/{id}` and the edit
/// page). The placed sessions are checked against the new calendar first: a change that would
/// leave one outside the dates or on a blackout day is refused, naming each. Sessions keep
/// their instants (a new zone changes how they read, not when they are). Returns the saved
/// program.
pub async fn update_program(
    db: &Db,
    now: DateTime<Utc>,
    id: i64,
    input: &ProgramInput,
    actor: Option<&User>,
) -> Result<ProgramRow> {
    let existing = program(db, id).await?;
    let valid = validate_program(input).map_err(ScheduleError::Invalid)?;
    let sessions = db.program_sessions(id).await?;
    let live: Vec<&SessionRow> = sessions.iter().filter(|s| !s.is_cancelled()).collect();
    let others: Vec<_> = live.iter().filter_map(|s| s.booked()).collect();
    let placed: Vec<(Candidate, String)> = live
        .iter()
        .filter_map(|s| Some((placed_candidate(s)?, s.title.clone())))
        .collect();
    let broken =
        conflicts::broken_by_calendar(&existing.calendar(), &valid.calendar, &others, &placed);
    if !broken.is_empty() {
        return Err(ScheduleError::CalendarBreaks(broken));
    }
    if !db.update_program(id, &valid, now).await? {
        return Err(ScheduleError::NotFound);
    }
    audit::record(
        db,
        now,
        actor,
        Action::ProgramEdited,
        Target::Program(id),
        serde_json::json!({"title": &valid.title}),
    )
    .await;
    program(db, id).await
}

/// Delete a program that nobody signed up for and nothing was recorded in (a draft, a
/// duplicate); otherwise [`ScheduleError::ProgramInUse`].
pub async fn delete_program(
    db: &Db,
    now: DateTime<Utc>,
    id: i64,
    actor: Option<&User>,
) -> Result<()> {
    let existing = program(db, id).await?;
    match db.delete_program_if_unused(id).await? {
        ProgramDelete::Deleted => {
            audit::record(
                db,
                now,
                actor,
                Action::ProgramDeleted,
                Target::Program(id),
                serde_json::json!({"title": &existing.title}),
            )
            .await;
            Ok(())
        }
        ProgramDelete::NotFound => Err(ScheduleError::NotFound),
        ProgramDelete::InUse {
            registrations,
            recordings,
        } => Err(ScheduleError::ProgramInUse {
            registrations,
            recordings,
        }),
    }
}

/// Whether a placed session lies within one of its program's weekly slots (a hand placement
/// outside every slot is allowed, with a warning).
pub fn within_slots(program: &ProgramRow, s: &SessionRow) -> bool {
    match s.starts_at {
        Some(at) => conflicts::within_weekly_slot(&program.calendar(), at, s.minutes as u32),
        None => true,
    }
}

/// What a placement of `s` would collide with (empty when unplaced or free). `session_id` is
/// the session being changed, absent for a new one.
pub async fn placement_conflicts(
    db: &Db,
    program: &ProgramRow,
    session_id: Option<i64>,
    s: &ValidSession,
) -> Result<Vec<Conflict>> {
    let Some(starts_at) = s.starts_at else {
        return Ok(Vec::new());
    };
    let others: Vec<_> = db
        .program_sessions(program.id)
        .await?
        .iter()
        .filter(|o| Some(o.id) != session_id && !o.is_cancelled())
        .filter_map(SessionRow::booked)
        .collect();
    let lecturer_id = db.lecturer_id(&s.lecturer.name, &s.lecturer.firm).await?;
    let candidate = Candidate {
        session_id,
        lecturer_id,
        starts_at,
        minutes: s.minutes,
        availability: s.lecturer.availability.clone(),
    };
    Ok(conflicts::conflicts(
        &program.calendar(),
        &others,
        &candidate,
    ))
}

/// Every placed session of a program with what it currently collides with.
pub async fn timetable_conflicts(
    db: &Db,
    program: &ProgramRow,
) -> Result<Vec<(SessionRow, Vec<Conflict>)>> {
    let sessions = db.program_sessions(program.id).await?;
    let cal = program.calendar();
    let booked: Vec<_> = sessions
        .iter()
        .filter(|s| !s.is_cancelled())
        .filter_map(SessionRow::booked)
        .collect();
    Ok(sessions
        .into_iter()
        .map(|s| {
            let found = match s.starts_at {
                Some(starts_at) if !s.is_cancelled() => {
                    let others: Vec<_> = booked
                        .iter()
                        .filter(|b| b.session_id != s.id)
                        .cloned()
                        .collect();
                    conflicts::conflicts(
                        &cal,
                        &others,
                        &Candidate {
                            session_id: Some(s.id),
                            lecturer_id: Some(s.lecturer_id),
                            starts_at,
                            minutes: s.minutes as u32,
                            availability: s.availability(),
                        },
                    )
                }
                _ => Vec::new(),
            };
            (s, found)
        })
        .collect())
}

/// Run the auto-scheduler over the program's unplaced sessions.
pub async fn propose(db: &Db, program: &ProgramRow) -> Result<Plan> {
    let sessions = db.program_sessions(program.id).await?;
    let booked: Vec<_> = sessions
        .iter()
        .filter(|s| !s.is_cancelled())
        .filter_map(SessionRow::booked)
        .collect();
    let to_place: Vec<SessionToPlace> = sessions
        .iter()
        .filter(|s| !s.is_cancelled() && s.starts_at.is_none())
        .map(|s| SessionToPlace {
            id: s.id,
            category: s.category.clone(),
            minutes: s.minutes as u32,
            lecturer_id: s.lecturer_id,
            availability: s.availability(),
        })
        .collect();
    Ok(planner::plan(&program.calendar(), &booked, &to_place))
}

/// Propose a plan for the program's unplaced sessions and, when `apply`, save it. A session
/// that got a time (or was cancelled) since the proposal is left alone.
pub async fn schedule(db: &Db, now: DateTime<Utc>, program_id: i64, apply: bool) -> Result<Plan> {
    let program = program(db, program_id).await?;
    let plan = propose(db, &program).await?;
    if apply {
        let placements: Vec<_> = plan
            .placed
            .iter()
            .map(|p| (p.session_id, p.starts_at.with_timezone(&Utc)))
            .collect();
        db.apply_placements(&placements, now).await?;
    }
    Ok(plan)
}

/// The lawyer account named in a session input: `None` = leave the link as it is,
/// `Some(None)` = unlink, `Some(Some(id))` = link to that lawyer.
async fn resolve_account(db: &Db, input: &SessionInput) -> Result<Option<Option<i64>>> {
    let Some(account) = input.lecturer.account.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if account.is_empty() {
        return Ok(Some(None));
    }
    let lawyers = db.staff(Role::Lawyer).await?;
    let found = lawyers
        .iter()
        .find(|u| u.username.as_deref() == Some(account))
        .ok_or_else(|| {
            ScheduleError::Invalid(FieldErrors::single(
                "lecturer.account",
                format!("律师账号“{account}”不存在"),
            ))
        })?;
    Ok(Some(Some(found.id)))
}

async fn apply_link(db: &Db, session_id: i64, link: Option<Option<i64>>) -> Result<()> {
    if let Some(user_id) = link {
        let s = session(db, session_id).await?;
        db.link_lecturer_user(s.lecturer_id, user_id).await?;
    }
    Ok(())
}

/// Validate a session input in the program's zone, resolve its lawyer account and check its
/// placement, in that order.
async fn checked(
    db: &Db,
    program: &ProgramRow,
    session_id: Option<i64>,
    input: &SessionInput,
) -> Result<(ValidSession, Option<Option<i64>>)> {
    let valid = validate_session(input, program.tz()).map_err(ScheduleError::Invalid)?;
    let link = resolve_account(db, input).await?;
    let found = placement_conflicts(db, program, session_id, &valid).await?;
    if !found.is_empty() {
        return Err(ScheduleError::Conflicts(found));
    }
    Ok((valid, link))
}

/// Save a new session after checking its placement.
pub async fn create_session(
    db: &Db,
    now: DateTime<Utc>,
    program: &ProgramRow,
    input: &SessionInput,
) -> Result<i64> {
    let (valid, link) = checked(db, program, None, input).await?;
    let id = db.insert_session(program.id, &valid, now).await?;
    apply_link(db, id, link).await?;
    Ok(id)
}

/// Save changes to a session after checking its placement and capacity; `actor` (the
/// organizer) is written to the audit log with it.
pub async fn update_session(
    db: &Db,
    now: DateTime<Utc>,
    existing: &SessionRow,
    input: &SessionInput,
    actor: Option<&User>,
) -> Result<()> {
    if existing.is_cancelled() {
        return Err(ScheduleError::SessionCancelled);
    }
    let program = program(db, existing.program_id).await?;
    let (valid, link) = checked(db, &program, Some(existing.id), input).await?;
    match db.update_session(existing.id, &valid, now).await? {
        SessionUpdate::Saved => {
            apply_link(db, existing.id, link).await?;
            db.reindex_session(existing.id).await?;
            let to = db.session(existing.id).await?.and_then(|s| s.starts_at);
            let (action, detail) = if to != existing.starts_at {
                let detail = serde_json::json!({"from": existing.starts_at, "to": to});
                (Action::SessionMoved, detail)
            } else {
                (
                    Action::SessionEdited,
                    serde_json::json!({"title": &existing.title}),
                )
            };
            audit::record(db, now, actor, action, Target::Session(existing.id), detail).await;
            Ok(())
        }
        SessionUpdate::NotFound => Err(ScheduleError::NotFound),
        SessionUpdate::CapacityBelowConfirmed { confirmed } => {
            Err(ScheduleError::CapacityBelowConfirmed { confirmed })
        }
    }
}

/// Apply a partial change (`PUT /api/v1/sessions/{id}`) and return the saved session.
pub async fn patch_session(
    db: &Db,
    now: DateTime<Utc>,
    id: i64,
    patch: SessionPatch,
    actor: Option<&User>,
) -> Result<(SessionRow, ProgramRow)> {
    let (existing, program) = session_in_program(db, id).await?;
    if existing.is_cancelled() {
        return Err(ScheduleError::SessionCancelled);
    }
    let input = patch.apply(existing.to_input(program.tz()));
    update_session(db, now, &existing, &input, actor).await?;
    Ok((session(db, id).await?, program))
}

/// Cancel a session; it stays in calendar feeds as cancelled. Returns the cancelled session.
/// `actor` (the organizer) is written to the audit log.
pub async fn cancel_session(
    db: &Db,
    now: DateTime<Utc>,
    id: i64,
    actor: Option<&User>,
) -> Result<SessionRow> {
    let s = session(db, id).await?;
    db.cancel_session(id, now).await?;
    audit::record(
        db,
        now,
        actor,
        Action::SessionCancelled,
        Target::Session(id),
        serde_json::json!({"title": &s.title, "starts_at": s.starts_at}),
    )
    .await;
    Ok(s)
}

/// A program's sessions, each with the viewing enterprise's registration (if one is given).
pub async fn program_timetable(
    db: &Db,
    id: i64,
    enterprise_id: Option<i64>,
) -> Result<(ProgramRow, Vec<(SessionRow, Option<RegistrationState>)>)> {
    let program = program(db, id).await?;
    let mut out = Vec::new();
    for row in db.program_sessions(id).await? {
        let mine = match enterprise_id {
            Some(e) => db.registration_state(row.id, e).await?,
            None => None,
        };
        out.push((row, mine));
    }
    Ok((program, out))
}

fn cal_event(base_url: &str, s: &SessionRow) -> Option<ical::CalEvent> {
    Some(ical::CalEvent {
        session_id: s.id,
        sequence: s.sequence.max(0) as u32,
        title: s.title.clone(),
        description: format!(
            "{}｜主讲：{}（{}）\n{}",
            s.category, s.lecturer_name, s.lecturer_firm, s.summary
        ),
        starts_at: s.starts_at?,
        minutes: s.minutes as u32,
        url: Some(format!("{base_url}/sessions/{}", s.id)),
        cancelled: s.is_cancelled(),
        last_modified: s.updated_at,
    })
}

/// The program's public calendar feed; links point below `base_url`.
pub async fn program_feed(db: &Db, id: i64, base_url: &str) -> Result<String> {
    let program = program(db, id).await?;
    let events: Vec<_> = db
        .program_sessions(id)
        .await?
        .iter()
        .filter_map(|s| cal_event(base_url, s))
        .collect();
    Ok(ical::render(&program.title, &program.timezone, &events))
}

/// An enterprise's personal feed of its confirmed sessions, found by its calendar token. The
/// feed names the zone of the enterprise's first program (or the default zone); its name
/// starts with the site's name (`--site-name`), so a subscriber knows where it comes from.
pub async fn personal_feed(
    db: &Db,
    token: &str,
    base_url: &str,
    site_name: &str,
) -> Result<String> {
    let enterprise = db
        .enterprise_by_calendar_token(token)
        .await?
        .ok_or(ScheduleError::NotFound)?;
    let mut events = Vec::new();
    let mut zone = None;
    for r in db.my_registrations(enterprise.id).await? {
        if r.status != RegistrationStatus::Confirmed {
            continue;
        }
        zone.get_or_insert(r.timezone.clone());
        if let Some(s) = db.session(r.session_id).await? {
            events.extend(cal_event(base_url, &s));
        }
    }
    let zone = zone.unwrap_or_else(|| DEFAULT_TZ.name().to_string());
    Ok(ical::render(
        &format!("{site_name}：{} 的普法课程", enterprise.name),
        &zone,
        &events,
    ))
}
