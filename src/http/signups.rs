//! Sign-ups: the session page, signing up and cancelling, rosters and CSV export. Every handler
//! calls the same use case as its twin in [`crate::app::signup`].

use super::extract::{Json, OptionalJson, Path, Query};
use super::pages::Layout;
use super::session::{CsrfForm, CurrentUser};
use super::views::format;
use super::views::timetable::SessionItem;
use super::AppState;
use crate::app::schedule as schedule_uc;
use crate::app::signup::{self as uc, RosterLine};
use crate::db::registrations::RegistrationState;
use crate::error::{AppError, AppResult};
use crate::schedule::is_live_now;
use crate::signup::RegistrationStatus;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
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
    pub status: RegistrationStatus,
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

/// A row of a session's roster as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RosterEntry {
    pub registration_id: i64,
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub contact_name: String,
    pub mobile: String,
    pub seats: i64,
    pub status: RegistrationStatus,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Waitlist position (waitlisted rows).
    pub position: Option<i64>,
    pub attendees: Vec<String>,
    /// Share of the recording this enterprise watched (0..1), once there is a recording.
    pub watched_share: Option<f64>,
    /// Whether the share reached the attendance threshold.
    pub attended: Option<bool>,
}

impl From<RosterLine> for RosterEntry {
    fn from(line: RosterLine) -> Self {
        let r = line.row;
        RosterEntry {
            registration_id: r.registration_id,
            enterprise_id: r.enterprise_id,
            company: r.company,
            uscc: r.uscc,
            industry: r.industry,
            contact_name: r.contact_name,
            mobile: r.mobile,
            seats: r.seats,
            status: r.status,
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            position: r.position,
            attendees: r.attendees.0,
            watched_share: line.attendance.map(|(share, _)| share),
            attended: line.attendance.map(|(_, attended)| attended),
        }
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
    let (reg, created) = uc::sign_up(
        &state.db,
        state.clock.now(),
        &user,
        id,
        req.seats,
        &req.attendees,
    )
    .await?;
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
    uc::cancel(&state.db, state.clock.now(), &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
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
    CurrentUser(user): CurrentUser,
    Path((id, enterprise_id)): Path<(i64, i64)>,
    Json(req): Json<RemovalRequest>,
) -> AppResult<StatusCode> {
    uc::remove(
        &state.db,
        state.clock.now(),
        &user,
        id,
        enterprise_id,
        &req.reason,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
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
    let (_, _, lines) = uc::roster(&state.db, &user, id, state.config.attendance_share).await?;
    Ok(Json(lines.into_iter().map(RosterEntry::from).collect()))
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
    id: i64,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<SessionPage> {
    let user = layout.user.clone();
    let (session, program) = schedule_uc::session_in_program(&state.db, id).await?;
    let enterprise_id = user.as_ref().filter(|u| u.is_enterprise()).map(|u| u.id);
    let mine = match enterprise_id {
        Some(e) => state.db.registration_state(id, e).await?,
        None => None,
    };
    let can_roster = user
        .as_ref()
        .is_some_and(|u| uc::may_read_roster(u, &session));
    let now = state.clock.now();
    let live_now = is_live_now(session.starts_at, session.minutes, session.status, now);
    let lecture_id = state
        .db
        .lecture_of_session(id)
        .await?
        .filter(|l| l.is_published())
        .map(|l| l.id);
    Ok(SessionPage {
        layout,
        lecture_id,
        item: SessionItem::new(session, program.tz(), mine, now),
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
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<SessionPage> {
    session_page_for(&state, layout, id, notice_text(q.notice.as_deref()), None).await
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
    let outcome = uc::sign_up(&state.db, state.clock.now(), &user, id, seats, &attendees).await;
    match outcome.map_err(AppError::from) {
        Ok((reg, created)) => {
            let code = if !created {
                "unchanged"
            } else if reg.is_confirmed() {
                "confirmed"
            } else {
                "waitlisted"
            };
            Ok(Redirect::to(&format!("/sessions/{id}?notice={code}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            let status = e.status();
            let page = session_page_for(&state, layout, id, None, Some(e.detail())).await?;
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
    uc::cancel(&state.db, state.clock.now(), &user, id).await?;
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
    /// The program's zone, in which times are shown.
    pub tz: Tz,
}

impl RosterPage {
    pub fn confirmed(&self) -> Vec<&RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == RegistrationStatus::Confirmed)
            .collect()
    }
    pub fn waitlist(&self) -> Vec<&RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == RegistrationStatus::Waitlisted)
            .collect()
    }
    pub fn local(&self, t: &DateTime<Utc>) -> String {
        format::timestamp(t, self.tz)
    }
}

pub async fn roster_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<RosterPage> {
    let (session, program, lines) =
        uc::roster(&state.db, &user, id, state.config.attendance_share).await?;
    let tz = program.tz();
    Ok(RosterPage {
        layout,
        item: SessionItem::new(session, tz, None, state.clock.now()),
        program_title: program.title,
        entries: lines.into_iter().map(RosterEntry::from).collect(),
        can_remove: user.is_organizer(),
        notice: notice_text(q.notice.as_deref()),
        tz,
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
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<RemovalForm>,
) -> AppResult<Response> {
    uc::remove(
        &state.db,
        state.clock.now(),
        &user,
        id,
        form.enterprise_id,
        &form.reason,
    )
    .await?;
    Ok(Redirect::to(&format!("/sessions/{id}/roster?notice=removed")).into_response())
}

/// `GET /sessions/{id}/roster.csv` — UTF-8 with BOM so Excel shows the Chinese text.
pub async fn roster_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (_, program, lines) =
        uc::roster(&state.db, &user, id, state.config.attendance_share).await?;
    let tz = program.tz();
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
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|line| {
            let e = &line.row;
            vec![
                e.status.label_zh().to_string(),
                e.position.map(|p| p.to_string()).unwrap_or_default(),
                e.company.clone(),
                e.uscc.clone(),
                e.industry.clone(),
                e.contact_name.clone(),
                e.mobile.clone(),
                e.seats.to_string(),
                e.attendees.0.join("、"),
                format::timestamp(&e.created_at, tz),
            ]
        })
        .collect();
    super::csv_export::download(&format!("roster-session-{id}.csv"), &header, &rows)
}
