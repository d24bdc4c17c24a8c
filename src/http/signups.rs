//! Sign-ups: the session page, signing up and cancelling, "我的课程", rosters and CSV export.

use super::extract::{Json, OptionalJson, Path};
use super::pages::Layout;
use super::programs::{load_program, load_session, SessionItem, SessionView};
use super::session::{CsrfForm, CurrentUser, MaybeUser};
use super::AppState;
use crate::accounts::{Role, User};
use crate::db::registrations::{RegistrationState, RosterEntry, SignupResult};
use crate::db::schedule::SessionRow;
use crate::error::{AppError, AppResult};
use crate::signup::{self, Window};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

/// A sign-up request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignupRequest {
    /// People from the company (default 1, at most the session's per-enterprise limit).
    #[serde(default = "one")]
    pub seats: i64,
    /// Optional names of the attendees.
    #[serde(default)]
    pub attendees: Vec<String>,
}

fn one() -> i64 {
    1
}

impl Default for SignupRequest {
    fn default() -> Self {
        SignupRequest {
            seats: 1,
            attendees: Vec::new(),
        }
    }
}

/// Answer to a sign-up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignupAnswer {
    /// `confirmed` or `waitlisted`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    pub seats: i64,
    pub registration_id: i64,
}

impl From<RegistrationState> for SignupAnswer {
    fn from(s: RegistrationState) -> Self {
        SignupAnswer {
            status: s.status,
            position: s.position,
            seats: s.seats,
            registration_id: s.registration_id,
        }
    }
}

/// Only the organizers and the session's own lecturer see its roster.
fn can_see_roster(user: &User, session: &SessionRow) -> bool {
    user.role == Role::Organizer
        || (user.role == Role::Lawyer && session.lecturer_user_id == Some(user.id))
}

/// Validate and perform a sign-up for the enterprise `user`.
async fn sign_up(
    state: &AppState,
    user: &User,
    session_id: i64,
    seats: i64,
    attendees: &[String],
) -> AppResult<(RegistrationState, bool)> {
    if user.role != Role::Enterprise {
        return Err(AppError::Forbidden);
    }
    let session = load_session(state, session_id).await?;
    let window = Window {
        cancelled: session.is_cancelled(),
        opens_at: session.signup_opens_at,
        closes_at: session.signup_closes_at,
        starts_at: session.starts_at,
    };
    if let Err(refusal) = signup::check_window(&window, Utc::now()) {
        // an existing sign-up is returned as it is, even after the window closed
        if let Some(existing) = state.db.registration_state(session_id, user.id).await? {
            return Ok((existing, false));
        }
        let tz = load_program(state, session.program_id).await?.tz();
        return Err(AppError::conflict(refusal.code(), refusal.message_zh(tz)));
    }
    let names = signup::check_request(seats, session.max_seats_per_enterprise, attendees)
        .map_err(|(field, msg)| AppError::field(field, msg))?;
    match state.db.sign_up(session_id, user.id, seats, &names).await? {
        SignupResult::Registered(state, created) => Ok((state, created)),
        SignupResult::SessionNotFound => Err(AppError::NotFound),
        SignupResult::SessionCancelled => Err(AppError::conflict(
            "session_cancelled",
            "该课程已取消，无法报名",
        )),
    }
}

/// Sign up for a session (enterprise). Repeating it returns the same state.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/registrations", tag = "signups",
    params(("id" = i64, Path)), request_body = SignupRequest,
    responses((status = 201, body = SignupAnswer, description = "new sign-up"),
              (status = 200, body = SignupAnswer, description = "already signed up; unchanged"),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_sign_up(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    OptionalJson(req): OptionalJson<SignupRequest>,
) -> AppResult<Response> {
    let (reg, created) = sign_up(&state, &user, id, req.seats, &req.attendees).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SignupAnswer::from(reg))).into_response())
}

/// Cancel the own sign-up; the waitlist moves up in the same transaction.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}/registrations/mine", tag = "signups",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn api_cancel_mine(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    if user.role != Role::Enterprise {
        return Err(AppError::Forbidden);
    }
    load_session(&state, id).await?;
    match state
        .db
        .end_registration(id, user.id, "cancelled", None)
        .await?
    {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(AppError::NotFound),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RemovalRequest {
    /// Why the organizer removes the registration (shown to nobody but organizers).
    #[serde(default)]
    pub reason: String,
}

/// Remove an enterprise's registration with a reason (organizer).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/registrations/{enterprise_id}/removal",
    tag = "signups", params(("id" = i64, Path), ("enterprise_id" = i64, Path)),
    request_body = RemovalRequest,
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, enterprise_id)): Path<(i64, i64)>,
    Json(req): Json<RemovalRequest>,
) -> AppResult<StatusCode> {
    user.require(Role::Organizer)?;
    remove(&state, id, enterprise_id, &req.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(state: &AppState, id: i64, enterprise_id: i64, reason: &str) -> AppResult<()> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::field(
            "reason",
            "请填写移除原因（不超过200个字符）",
        ));
    }
    load_session(state, id).await?;
    match state
        .db
        .end_registration(id, enterprise_id, "removed", Some(reason))
        .await?
    {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound),
    }
}

/// Fill in how much of the session's recording each enterprise watched.
async fn attach_attendance(
    state: &AppState,
    session_id: i64,
    entries: &mut [RosterEntry],
) -> AppResult<()> {
    let Some(lecture) = state.db.lecture_of_session(session_id).await? else {
        return Ok(());
    };
    let Some(duration) = lecture.duration_s.filter(|d| *d > 0.0) else {
        return Ok(());
    };
    for e in entries.iter_mut() {
        let watched = state
            .db
            .watch(e.enterprise_id, lecture.id)
            .await?
            .map(|w| w.watched_s)
            .unwrap_or(0.0);
        let share = (watched / duration).clamp(0.0, 1.0);
        e.watched_share = Some(share);
        e.attended = Some(share >= state.config.attendance_share);
    }
    Ok(())
}

/// The roster (organizers, and the session's lecturer).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/registrations", tag = "signups",
    params(("id" = i64, Path)),
    responses((status = 200, body = [RosterEntry]), (status = 403, body = crate::error::Problem)))]
pub async fn api_roster(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<RosterEntry>>> {
    let session = load_session(&state, id).await?;
    if !can_see_roster(&user, &session) {
        return Err(AppError::Forbidden);
    }
    let mut rows = state.db.roster(id).await?;
    attach_attendance(&state, id, &mut rows).await?;
    Ok(Json(rows))
}

// ---------- pages ----------

#[derive(Template, WebTemplate)]
#[template(path = "sessions/show.html")]
pub struct SessionPage {
    pub layout: Layout,
    pub item: SessionItem,
    pub program_title: String,
    pub is_enterprise: bool,
    pub can_roster: bool,
    pub live_now: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// The published recording, if any ("回放").
    pub lecture_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<String> {
    match code? {
        "confirmed" => Some("报名成功，名额已确认。".into()),
        "waitlisted" => Some("名额已满，已为您登记候补；有名额空出时将按顺序自动递补。".into()),
        "unchanged" => Some("您已报名此课程，报名信息未改变。".into()),
        "cancelled" => Some("已取消报名。".into()),
        "removed" => Some("已移除该报名，候补已自动递补。".into()),
        _ => None,
    }
}

async fn session_page_for(
    state: &AppState,
    layout: Layout,
    user: Option<&User>,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<SessionPage> {
    let session = load_session(state, id).await?;
    let program = load_program(state, session.program_id).await?;
    let enterprise_id = user.filter(|u| u.is_enterprise()).map(|u| u.id);
    let mine = match enterprise_id {
        Some(e) => state.db.registration_state(id, e).await?,
        None => None,
    };
    let can_roster = user.is_some_and(|u| can_see_roster(u, &session));
    let now = Utc::now();
    let live_now = session.starts_at.is_some_and(|s| {
        let end = s + chrono::Duration::minutes(session.minutes);
        now >= s - chrono::Duration::minutes(15) && now <= end
    }) && !session.is_cancelled();
    let lecture_id = state
        .db
        .lecture_of_session(id)
        .await?
        .filter(|l| l.is_published())
        .map(|l| l.id);
    Ok(SessionPage {
        layout,
        lecture_id,
        item: SessionItem::new(session, program.tz(), mine),
        program_title: program.title,
        is_enterprise: enterprise_id.is_some(),
        can_roster,
        live_now,
        notice,
        error,
    })
}

pub async fn session_page(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<SessionPage> {
    session_page_for(
        &state,
        layout,
        user.as_ref(),
        id,
        notice_text(q.notice.as_deref()),
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    pub seats: String,
    #[serde(default)]
    pub attendees: String,
}

pub async fn signup_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> AppResult<Response> {
    let seats = form.seats.trim().parse::<i64>().unwrap_or(0);
    let attendees: Vec<String> = form
        .attendees
        .split(['\n', ',', '，', '、'])
        .map(str::to_string)
        .collect();
    match sign_up(&state, &user, id, seats, &attendees).await {
        Ok((reg, created)) => {
            let code = if !created {
                "unchanged"
            } else if reg.status == "confirmed" {
                "confirmed"
            } else {
                "waitlisted"
            };
            Ok(Redirect::to(&format!("/sessions/{id}?notice={code}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            let status = e.status();
            let page =
                session_page_for(&state, layout, Some(&user), id, None, Some(e.detail())).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn cancel_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    if user.role != Role::Enterprise {
        return Err(AppError::Forbidden);
    }
    state
        .db
        .end_registration(id, user.id, "cancelled", None)
        .await?;
    Ok(Redirect::to("/me?notice=cancelled").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions/roster.html")]
pub struct RosterPage {
    pub layout: Layout,
    pub item: SessionItem,
    pub program_title: String,
    pub entries: Vec<RosterEntry>,
    pub can_remove: bool,
    pub notice: Option<String>,
}

impl RosterPage {
    pub fn confirmed(&self) -> Vec<&RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == "confirmed")
            .collect()
    }
    pub fn waitlist(&self) -> Vec<&RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == "waitlisted")
            .collect()
    }
    pub fn local(&self, t: &chrono::DateTime<Utc>) -> String {
        t.with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

pub async fn roster_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<RosterPage> {
    let session = load_session(&state, id).await?;
    if !can_see_roster(&user, &session) {
        return Err(AppError::Forbidden);
    }
    let program = load_program(&state, session.program_id).await?;
    let mut entries = state.db.roster(id).await?;
    attach_attendance(&state, id, &mut entries).await?;
    Ok(RosterPage {
        layout,
        item: SessionItem::new(session, program.tz(), None),
        program_title: program.title,
        entries,
        can_remove: user.is_organizer(),
        notice: notice_text(q.notice.as_deref()),
    })
}

#[derive(Debug, Deserialize)]
pub struct RemovalForm {
    #[serde(default)]
    pub enterprise_id: i64,
    #[serde(default)]
    pub reason: String,
}

pub async fn remove_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<RemovalForm>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    remove(&state, id, form.enterprise_id, &form.reason).await?;
    Ok(Redirect::to(&format!("/sessions/{id}/roster?notice=removed")).into_response())
}

/// `GET /sessions/{id}/roster.csv` — UTF-8 with BOM so Excel shows the Chinese text.
pub async fn roster_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let session = load_session(&state, id).await?;
    if !can_see_roster(&user, &session) {
        return Err(AppError::Forbidden);
    }
    let entries = state.db.roster(id).await?;
    let header: Vec<String> = [
        "状态",
        "候补顺位",
        "企业名称",
        "统一社会信用代码",
        "行业门类",
        "联系人",
        "手机号",
        "人数",
        "参加人员",
        "报名时间",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                if e.status == "confirmed" {
                    "已确认"
                } else {
                    "候补"
                }
                .to_string(),
                e.position.map(|p| p.to_string()).unwrap_or_default(),
                e.company.clone(),
                e.uscc.clone(),
                e.industry.clone(),
                e.contact_name.clone(),
                e.mobile.clone(),
                e.seats.to_string(),
                e.attendees.join("、"),
                e.created_at
                    .with_timezone(&chrono_tz::Asia::Shanghai)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            ]
        })
        .collect();
    super::csv_export::download(&format!("roster-session-{id}.csv"), &header, &rows)
}

/// Sessions and seat totals for views that need the API shape.
pub fn view(s: &SessionRow, tz: chrono_tz::Tz) -> SessionView {
    SessionView::from_row(s, tz)
}
