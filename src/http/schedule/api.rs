//! The timetable's JSON API: programs, sessions and the auto-scheduler.

use crate::accounts::Role;
use crate::app::schedule as uc;
use crate::db::schedule::{ProgramRow, SessionRow};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, OptionalJson, Path};
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::views::format;
use crate::http::AppState;
use crate::schedule::{ProgramInput, SessionInput, SessionPatch, SessionStatus, SlotSpec};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Lecturer as shown publicly.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LecturerView {
    pub id: i64,
    pub name: String,
    pub firm: String,
    pub bio: String,
}

impl LecturerView {
    fn of(s: &SessionRow) -> LecturerView {
        LecturerView {
            id: s.lecturer_id,
            name: s.lecturer_name.clone(),
            firm: s.lecturer_firm.clone(),
            bio: s.lecturer_bio.clone(),
        }
    }
}

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub program_id: i64,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub target_industries: Vec<String>,
    /// RFC 3339 with the program's offset; null when not placed yet.
    #[schema(required = true)]
    pub starts_at: Option<String>,
    pub minutes: i64,
    pub capacity: i64,
    pub seats_left: i64,
    pub waitlisted: i64,
    pub max_seats_per_enterprise: i64,
    pub lecturer: LecturerView,
    pub status: SessionStatus,
    /// RFC 3339; null = open from creation.
    #[schema(required = true)]
    pub signup_opens_at: Option<String>,
    /// RFC 3339; null = until the start.
    #[schema(required = true)]
    pub signup_closes_at: Option<String>,
    #[schema(required = true)]
    pub stream_url: Option<String>,
}

impl SessionView {
    pub fn from_row(s: &SessionRow, tz: Tz) -> SessionView {
        let local = |t: &chrono::DateTime<chrono::Utc>| format::rfc3339(t, tz);
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
            lecturer: LecturerView::of(s),
            status: s.status,
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

/// All programs.
#[utoipa::path(get, path = "/api/v1/programs", tag = "schedule",
    responses((status = 200, body = [ProgramView], description = "every program with `session_count`")))]
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
    responses((status = 200, body = ProgramView, description = "the program with `sessions`"),
              (status = 404, response = NotFound)))]
pub async fn api_find_program(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<ProgramView>> {
    let (program, sessions) = uc::program_timetable(&state.db, id, None).await?;
    let tz = program.tz();
    Ok(Json(ProgramView {
        sessions: Some(
            sessions
                .iter()
                .map(|(s, _)| SessionView::from_row(s, tz))
                .collect(),
        ),
        ..ProgramView::from_row(&program)
    }))
}

/// Create a program (organizer).
#[utoipa::path(post, path = "/api/v1/programs", tag = "schedule", request_body = ProgramInput,
    security(("pufa_session" = [])),
    responses((status = 201, body = ProgramView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_create_program(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<ProgramInput>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let id = uc::create_program(&state.db, state.clock.now(), &input).await?;
    let program = uc::program(&state.db, id).await?;
    Ok((StatusCode::CREATED, Json(ProgramView::from_row(&program))).into_response())
}

/// Change a program (organizer): the whole program as on creation. The placed sessions are
/// re-checked against the new dates, blackout days and zone; a change that would leave one
/// outside the program or on a day off is refused with 409 naming each session.
#[utoipa::path(put, path = "/api/v1/programs/{id}", tag = "schedule", request_body = ProgramInput,
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = ProgramView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_update_program(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<ProgramInput>,
) -> AppResult<Json<ProgramView>> {
    user.require(Role::Organizer)?;
    let program =
        uc::update_program(&state.db, state.clock.now(), id, &input, Some(&user.0)).await?;
    Ok(Json(ProgramView::from_row(&program)))
}

/// Delete a program with its sessions (organizer) — only while nobody signed up and nothing
/// was recorded (409 otherwise: cancel the sessions instead, so registrants are told).
#[utoipa::path(delete, path = "/api/v1/programs/{id}", tag = "schedule",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 204, description = "deleted"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn api_delete_program(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    user.require(Role::Organizer)?;
    uc::delete_program(&state.db, state.clock.now(), id, Some(&user.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a session to a program (organizer). With `starts_at` it is placed by hand and checked
/// for conflicts (409); without, it waits for the auto-scheduler.
#[utoipa::path(post, path = "/api/v1/programs/{id}/sessions", tag = "schedule",
    params(("id" = i64, Path)), request_body = SessionInput, security(("pufa_session" = [])),
    responses((status = 201, body = SessionView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_create_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<SessionInput>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let program = uc::program(&state.db, id).await?;
    let session_id = uc::create_session(&state.db, state.clock.now(), &program, &input).await?;
    let s = uc::session(&state.db, session_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionView::from_row(&s, program.tz())),
    )
        .into_response())
}

/// Change a session (organizer); absent fields stay, `"starts_at": null` unplaces it. 409 for
/// a cancelled session, a placement conflict or a capacity below the confirmed seats.
#[utoipa::path(put, path = "/api/v1/sessions/{id}", tag = "schedule",
    params(("id" = i64, Path)), request_body = SessionPatch, security(("pufa_session" = [])),
    responses((status = 200, body = SessionView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_update_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(patch): Json<SessionPatch>,
) -> AppResult<Json<SessionView>> {
    user.require(Role::Organizer)?;
    let (s, program) =
        uc::patch_session(&state.db, state.clock.now(), id, patch, Some(&user.0)).await?;
    Ok(Json(SessionView::from_row(&s, program.tz())))
}

/// Cancel a session (organizer). It stays in calendar feeds as cancelled.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "schedule",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 204, description = "cancelled (also when it already was)"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound)))]
pub async fn api_delete_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    user.require(Role::Organizer)?;
    uc::cancel_session(&state.db, state.clock.now(), id, Some(&user.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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
/// The body may be left out (only propose).
#[utoipa::path(post, path = "/api/v1/programs/{id}/schedule", tag = "schedule",
    params(("id" = i64, Path)), request_body = Option<ScheduleRequest>, security(("pufa_session" = [])),
    responses((status = 200, body = ScheduleAnswer), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType)))]
pub async fn api_schedule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<ScheduleRequest>,
) -> AppResult<Json<ScheduleAnswer>> {
    user.require(Role::Organizer)?;
    let plan = uc::schedule(&state.db, state.clock.now(), id, body.apply).await?;
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
        applied: body.apply,
    }))
}
