//! The month's timetable: programs and sessions (JSON API for organizers and integrations,
//! public pages), the auto-scheduler and the calendar feeds.

use super::extract::{Json, OptionalJson, Path};
use super::pages::Layout;
use super::session::{CurrentUser, MaybeUser};
use super::AppState;
use crate::accounts::Role;
use crate::db::registrations::RegistrationState;
use crate::db::schedule::{LecturerView, ProgramRow, SessionRow, SessionUpdate};
use crate::error::{AppError, AppResult};
use crate::schedule::conflicts::{self, Candidate, Conflict};
use crate::schedule::planner::{self, Plan, SessionToPlace};
use crate::schedule::{
    self, ical, validate_program, validate_session, ProgramInput, SessionInput, SessionPatch,
    SlotSpec, ValidSession,
};
use crate::signup::{self, Window};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

// ---------- views ----------

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub program_id: i64,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub target_industries: Vec<String>,
    /// RFC 3339 with the program's offset; absent when not placed yet.
    pub starts_at: Option<String>,
    pub minutes: i64,
    pub capacity: i64,
    pub seats_left: i64,
    pub waitlisted: i64,
    pub max_seats_per_enterprise: i64,
    pub lecturer: LecturerView,
    /// `scheduled` or `cancelled`.
    pub status: String,
    pub signup_opens_at: Option<String>,
    pub signup_closes_at: Option<String>,
    pub stream_url: Option<String>,
}

impl SessionView {
    pub fn from_row(s: &SessionRow, tz: Tz) -> SessionView {
        let local = |t: &DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
        SessionView {
            id: s.id,
            program_id: s.program_id,
            title: s.title.clone(),
            summary: s.summary.clone(),
            category: s.category.clone(),
            target_industries: s.industries(),
            starts_at: s.starts_at.as_ref().map(local),
            minutes: s.minutes,
            capacity: s.capacity,
            seats_left: s.seats_left(),
            waitlisted: s.waitlisted,
            max_seats_per_enterprise: s.max_seats_per_enterprise,
            lecturer: s.lecturer(),
            status: s.status.clone(),
            signup_opens_at: s.signup_opens_at.as_ref().map(local),
            signup_closes_at: s.signup_closes_at.as_ref().map(local),
            stream_url: s.stream_url.clone(),
        }
    }
}

/// A program as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgramView {
    pub id: i64,
    pub title: String,
    pub summary: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub timezone: String,
    pub slots: Vec<SlotSpec>,
    pub blackout_dates: Vec<NaiveDate>,
    /// Sessions (present on `GET /api/v1/programs/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Vec<SessionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_count: Option<i64>,
}

impl ProgramView {
    fn from_row(p: &ProgramRow) -> ProgramView {
        ProgramView {
            id: p.id,
            title: p.title.clone(),
            summary: p.summary.clone(),
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            timezone: p.timezone.clone(),
            slots: p.slot_specs(),
            blackout_dates: p.blackout_list(),
            sessions: None,
            session_count: None,
        }
    }
}

// ---------- shared logic ----------

pub async fn load_program(state: &AppState, id: i64) -> AppResult<ProgramRow> {
    state.db.program(id).await?.ok_or(AppError::NotFound)
}

pub async fn load_session(state: &AppState, id: i64) -> AppResult<SessionRow> {
    state.db.session(id).await?.ok_or(AppError::NotFound)
}

/// What a placement at `s.starts_at` would collide with (empty when unplaced or free).
pub async fn placement_conflicts(
    state: &AppState,
    program: &ProgramRow,
    session_id: i64,
    s: &ValidSession,
) -> AppResult<Vec<Conflict>> {
    let Some(starts_at) = s.starts_at else {
        return Ok(Vec::new());
    };
    let others: Vec<_> = state
        .db
        .program_sessions(program.id)
        .await?
        .iter()
        .filter(|o| o.id != session_id && !o.is_cancelled())
        .filter_map(SessionRow::booked)
        .collect();
    let lecturer_id = state
        .db
        .lecturer_id(&s.lecturer.name, &s.lecturer.firm)
        .await?
        .unwrap_or(-1);
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

pub fn conflict_error(found: &[Conflict]) -> AppError {
    let list: Vec<String> = found.iter().map(Conflict::message_zh).collect();
    AppError::conflict(
        "schedule_conflict",
        format!("时间安排冲突：{}", list.join("；")),
    )
}

/// Run the auto-scheduler over the program's unplaced sessions.
pub async fn propose_schedule(state: &AppState, program: &ProgramRow) -> AppResult<Plan> {
    let sessions = state.db.program_sessions(program.id).await?;
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

/// The lawyer account named in a session input: `None` = leave the link as it is,
/// `Some(None)` = unlink, `Some(Some(id))` = link to that lawyer.
async fn resolve_account(state: &AppState, input: &SessionInput) -> AppResult<Option<Option<i64>>> {
    let Some(account) = input.lecturer.account.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if account.is_empty() {
        return Ok(Some(None));
    }
    let lawyers = state.db.staff(Role::Lawyer).await?;
    let found = lawyers
        .iter()
        .find(|u| u.username.as_deref() == Some(account))
        .ok_or_else(|| AppError::field("lecturer.account", format!("律师账号“{account}”不存在")))?;
    Ok(Some(Some(found.id)))
}

async fn apply_link(state: &AppState, session_id: i64, link: Option<Option<i64>>) -> AppResult<()> {
    if let Some(user_id) = link {
        let session = load_session(state, session_id).await?;
        state
            .db
            .link_lecturer_user(session.lecturer_id, user_id)
            .await?;
    }
    Ok(())
}

/// Save a new session after checking its placement.
pub async fn create_session_checked(
    state: &AppState,
    program: &ProgramRow,
    input: &SessionInput,
) -> AppResult<i64> {
    let valid = validate_session(input, program.tz()).map_err(AppError::Validation)?;
    let link = resolve_account(state, input).await?;
    let found = placement_conflicts(state, program, -1, &valid).await?;
    if !found.is_empty() {
        return Err(conflict_error(&found));
    }
    let id = state.db.insert_session(program.id, &valid).await?;
    apply_link(state, id, link).await?;
    Ok(id)
}

/// Save changes to a session after checking its placement and capacity.
pub async fn update_session_checked(
    state: &AppState,
    session: &SessionRow,
    input: &SessionInput,
) -> AppResult<()> {
    let program = load_program(state, session.program_id).await?;
    let valid = validate_session(input, program.tz()).map_err(AppError::Validation)?;
    let link = resolve_account(state, input).await?;
    let found = placement_conflicts(state, &program, session.id, &valid).await?;
    if !found.is_empty() {
        return Err(conflict_error(&found));
    }
    match state.db.update_session(session.id, &valid).await? {
        SessionUpdate::Saved => {
            apply_link(state, session.id, link).await?;
            state.db.reindex_session(session.id).await?;
            Ok(())
        }
        SessionUpdate::NotFound => Err(AppError::NotFound),
        SessionUpdate::CapacityBelowConfirmed { confirmed } => Err(AppError::conflict(
            "capacity_below_confirmed",
            format!(
                "已有{confirmed}个名额被确认，名额不能少于{confirmed}；如需减少请先移除部分报名"
            ),
        )),
    }
}

// ---------- JSON API ----------

/// All programs.
#[utoipa::path(get, path = "/api/v1/programs", tag = "schedule",
    responses((status = 200, body = [ProgramView])))]
pub async fn api_list_programs(State(state): State<AppState>) -> AppResult<Json<Vec<ProgramView>>> {
    let programs = state.db.programs().await?;
    Ok(Json(
        programs
            .iter()
            .map(|(p, n)| ProgramView {
                session_count: Some(*n),
                ..ProgramView::from_row(p)
            })
            .collect(),
    ))
}

/// A program with its sessions and seats left.
#[utoipa::path(get, path = "/api/v1/programs/{id}", tag = "schedule",
    params(("id" = i64, Path)),
    responses((status = 200, body = ProgramView), (status = 404, body = crate::error::Problem)))]
pub async fn api_find_program(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<ProgramView>> {
    let program = load_program(&state, id).await?;
    let tz = program.tz();
    let sessions = state.db.program_sessions(id).await?;
    Ok(Json(ProgramView {
        sessions: Some(
            sessions
                .iter()
                .map(|s| SessionView::from_row(s, tz))
                .collect(),
        ),
        ..ProgramView::from_row(&program)
    }))
}

/// Create a program (organizer).
#[utoipa::path(post, path = "/api/v1/programs", tag = "schedule", request_body = ProgramInput,
    responses((status = 201, body = ProgramView), (status = 422, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn api_create_program(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<ProgramInput>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let valid = validate_program(&input).map_err(AppError::Validation)?;
    let id = state.db.insert_program(&valid).await?;
    let program = load_program(&state, id).await?;
    Ok((StatusCode::CREATED, Json(ProgramView::from_row(&program))).into_response())
}

/// Add a session to a program (organizer). With `starts_at` it is placed by hand and checked
/// for conflicts (409); without, it waits for the auto-scheduler.
#[utoipa::path(post, path = "/api/v1/programs/{id}/sessions", tag = "schedule",
    params(("id" = i64, Path)), request_body = SessionInput,
    responses((status = 201, body = SessionView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_create_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<SessionInput>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let program = load_program(&state, id).await?;
    let session_id = create_session_checked(&state, &program, &input).await?;
    let s = load_session(&state, session_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionView::from_row(&s, program.tz())),
    )
        .into_response())
}

/// Change a session (organizer); absent fields stay, `"starts_at": null` unplaces it.
#[utoipa::path(put, path = "/api/v1/sessions/{id}", tag = "schedule",
    params(("id" = i64, Path)), request_body = SessionPatch,
    responses((status = 200, body = SessionView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_update_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(patch): Json<SessionPatch>,
) -> AppResult<Json<SessionView>> {
    user.require(Role::Organizer)?;
    let session = load_session(&state, id).await?;
    let program = load_program(&state, session.program_id).await?;
    if session.is_cancelled() {
        return Err(AppError::conflict(
            "session_cancelled",
            "该课程已取消，不能再修改",
        ));
    }
    let input = patch.apply(session.to_input(program.tz()));
    update_session_checked(&state, &session, &input).await?;
    let s = load_session(&state, id).await?;
    Ok(Json(SessionView::from_row(&s, program.tz())))
}

/// Cancel a session (organizer). It stays in calendar feeds as cancelled.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "schedule",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn api_delete_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    user.require(Role::Organizer)?;
    load_session(&state, id).await?;
    state.db.cancel_session(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ScheduleRequest {
    /// Save the proposal (default: only propose).
    #[serde(default)]
    pub apply: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlacedView {
    pub session_id: i64,
    pub starts_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnplacedView {
    pub session_id: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleAnswer {
    pub placed: Vec<PlacedView>,
    pub unplaced: Vec<UnplacedView>,
    pub applied: bool,
}

/// Auto-scheduler: place every unplaced session into free slot occurrences (maximum matching).
#[utoipa::path(post, path = "/api/v1/programs/{id}/schedule", tag = "schedule",
    params(("id" = i64, Path)), request_body = ScheduleRequest,
    responses((status = 200, body = ScheduleAnswer)))]
pub async fn api_schedule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<ScheduleRequest>,
) -> AppResult<Json<ScheduleAnswer>> {
    user.require(Role::Organizer)?;
    let apply = body.apply;
    let program = load_program(&state, id).await?;
    let plan = propose_schedule(&state, &program).await?;
    if apply {
        let placements: Vec<_> = plan
            .placed
            .iter()
            .map(|p| (p.session_id, p.starts_at.with_timezone(&Utc)))
            .collect();
        state.db.apply_placements(&placements).await?;
    }
    Ok(Json(ScheduleAnswer {
        placed: plan
            .placed
            .iter()
            .map(|p| PlacedView {
                session_id: p.session_id,
                starts_at: p.starts_at.to_rfc3339(),
            })
            .collect(),
        unplaced: plan
            .unplaced
            .iter()
            .map(|u| UnplacedView {
                session_id: u.session_id,
                reason: u.reason.message_zh(),
            })
            .collect(),
        applied: apply,
    }))
}

// ---------- calendar feeds ----------

fn cal_event(state_base: &str, s: &SessionRow) -> Option<ical::CalEvent> {
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
        url: Some(format!("{state_base}/sessions/{}", s.id)),
        cancelled: s.is_cancelled(),
        last_modified: s.updated_at,
    })
}

fn base_url(headers: &axum::http::HeaderMap, secure: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("{}://{host}", if secure { "https" } else { "http" })
}

fn ics_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /programs/{id}/calendar.ics` — the program's public, subscribable feed.
pub async fn program_feed_file(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path((id, feed)): Path<(i64, String)>,
) -> AppResult<Response> {
    if feed != "calendar.ics" {
        return Err(AppError::NotFound);
    }
    let program = load_program(&state, id).await?;
    let base = base_url(&headers, state.config.secure_cookies);
    let events: Vec<_> = state
        .db
        .program_sessions(id)
        .await?
        .iter()
        .filter_map(|s| cal_event(&base, s))
        .collect();
    Ok(ics_response(ical::render(
        &program.title,
        &program.timezone,
        &events,
    )))
}

/// `GET /calendar/{token}.ics` — an enterprise's confirmed sessions.
pub async fn personal_feed(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    let enterprise = state
        .db
        .enterprise_by_calendar_token(token)
        .await?
        .ok_or(AppError::NotFound)?;
    let base = base_url(&headers, state.config.secure_cookies);
    let mut events = Vec::new();
    for r in state.db.my_registrations(enterprise.id).await? {
        if r.status != "confirmed" {
            continue;
        }
        if let Some(s) = state.db.session(r.session_id).await? {
            events.extend(cal_event(&base, &s));
        }
    }
    Ok(ics_response(ical::render(
        &format!("{} 的普法课程", enterprise.name),
        "Asia/Shanghai",
        &events,
    )))
}

// ---------- pages ----------

/// One session in a page list.
pub struct SessionItem {
    pub row: SessionRow,
    pub when: String,
    pub date_key: Option<NaiveDate>,
    pub time: String,
    pub mine: Option<RegistrationState>,
    pub open: Result<(), String>,
}

impl SessionItem {
    pub fn new(row: SessionRow, tz: Tz, mine: Option<RegistrationState>) -> SessionItem {
        let local = row.starts_at.map(|t| t.with_timezone(&tz));
        let open = signup::check_window(
            &Window {
                cancelled: row.is_cancelled(),
                opens_at: row.signup_opens_at,
                closes_at: row.signup_closes_at,
                starts_at: row.starts_at,
            },
            Utc::now(),
        )
        .map_err(|r| r.message_zh(tz));
        SessionItem {
            when: local
                .map(|t| format_local(&t))
                .unwrap_or_else(|| "时间待定".into()),
            date_key: local.map(|t| t.date_naive()),
            time: local
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default(),
            row,
            mine,
            open,
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_ok()
    }

    pub fn closed_reason(&self) -> String {
        self.open.clone().err().unwrap_or_default()
    }
}

/// "2026年12月1日 周二 14:30"
pub fn format_local(t: &DateTime<Tz>) -> String {
    format!(
        "{}年{}月{}日 {} {}",
        t.year(),
        t.month(),
        t.day(),
        schedule::weekday_zh(t.weekday().number_from_monday() as u8),
        t.format("%H:%M")
    )
}

pub struct DayCell {
    pub day: u32,
    pub in_program: bool,
    pub blackout: bool,
    pub sessions: Vec<(i64, String, String, String)>,
}

pub struct MonthGrid {
    pub label: String,
    /// Weeks Monday..Sunday; `None` pads days outside the month.
    pub weeks: Vec<Vec<Option<DayCell>>>,
}

/// Month grids covering the program, with each day's sessions.
pub fn month_grids(program: &ProgramRow, items: &[SessionItem]) -> Vec<MonthGrid> {
    let mut grids = Vec::new();
    let blackout = program.blackout_list();
    let mut first = NaiveDate::from_ymd_opt(program.starts_on.year(), program.starts_on.month(), 1);
    while let Some(month_start) = first {
        if month_start > program.ends_on {
            break;
        }
        let next = if month_start.month() == 12 {
            NaiveDate::from_ymd_opt(month_start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(month_start.year(), month_start.month() + 1, 1)
        };
        let mut weeks = Vec::new();
        let mut week: Vec<Option<DayCell>> = (1..month_start.weekday().number_from_monday())
            .map(|_| None)
            .collect();
        let mut day = month_start;
        while Some(day) != next {
            let sessions = items
                .iter()
                .filter(|i| i.date_key == Some(day) && !i.row.is_cancelled())
                .map(|i| {
                    (
                        i.row.id,
                        i.time.clone(),
                        i.row.title.clone(),
                        i.row.category.clone(),
                    )
                })
                .collect();
            week.push(Some(DayCell {
                day: day.day(),
                in_program: day >= program.starts_on && day <= program.ends_on,
                blackout: blackout.contains(&day),
                sessions,
            }));
            if week.len() == 7 {
                weeks.push(std::mem::take(&mut week));
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        if !week.is_empty() {
            while week.len() < 7 {
                week.push(None);
            }
            weeks.push(week);
        }
        grids.push(MonthGrid {
            label: format!("{}年{}月", month_start.year(), month_start.month()),
            weeks,
        });
        first = next;
    }
    grids
}

#[derive(Template, WebTemplate)]
#[template(path = "programs/list.html")]
pub struct ProgramsPage {
    pub layout: Layout,
    pub programs: Vec<(ProgramRow, i64)>,
}

pub async fn programs_page(
    State(state): State<AppState>,
    layout: Layout,
) -> AppResult<ProgramsPage> {
    Ok(ProgramsPage {
        layout,
        programs: state.db.programs().await?,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "programs/show.html")]
pub struct ProgramPage {
    pub layout: Layout,
    pub program: ProgramRow,
    pub items: Vec<SessionItem>,
    pub grids: Vec<MonthGrid>,
    pub slots_text: String,
    pub is_enterprise: bool,
}

pub fn slots_text(program: &ProgramRow) -> String {
    program
        .slot_specs()
        .iter()
        .map(|s| {
            format!(
                "{} {}（{}分钟）",
                schedule::weekday_zh(s.weekday),
                s.start,
                s.minutes
            )
        })
        .collect::<Vec<_>>()
        .join("、")
}

pub async fn program_page(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<ProgramPage> {
    let program = load_program(&state, id).await?;
    let tz = program.tz();
    let enterprise_id = user.as_ref().filter(|u| u.is_enterprise()).map(|u| u.id);
    let mut items = Vec::new();
    for row in state.db.program_sessions(id).await? {
        let mine = match enterprise_id {
            Some(e) => state.db.registration_state(row.id, e).await?,
            None => None,
        };
        items.push(SessionItem::new(row, tz, mine));
    }
    let grids = month_grids(&program, &items);
    Ok(ProgramPage {
        layout,
        slots_text: slots_text(&program),
        program,
        items,
        grids,
        is_enterprise: enterprise_id.is_some(),
    })
}
