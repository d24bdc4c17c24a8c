//! The sign-up JSON API: sign up, cancel, remove, read the roster.

use crate::app::signup::{self as uc, RosterLine};
use crate::db::registrations::RegistrationState;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, OptionalJson, Path};
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::signup::RegistrationStatus;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A sign-up request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"seats": 2, "attendees": ["张三", "李四"]}))]
pub struct SignupRequest {
    /// People from the company (default 1, at most the session's per-enterprise limit).
    #[serde(default = "one")]
    #[schema(minimum = 1)]
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
    #[schema(required = true)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Waitlist position (waitlisted rows).
    #[schema(required = true)]
    pub position: Option<i64>,
    pub attendees: Vec<String>,
    /// Share of the recording this enterprise watched (0..1), once there is a recording.
    #[schema(required = true)]
    pub watched_share: Option<f64>,
    /// Whether the share reached the attendance threshold.
    #[schema(required = true)]
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
            watched_share: line.attendance.map(|a| a.share),
            attended: line.attendance.map(|a| a.attended),
        }
    }
}

/// Sign up for a session (enterprise). Repeating it returns the same state. The body may be
/// left out (one seat). 409 when the sign-up window is not open or the session is cancelled.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/registrations", tag = "signups",
    params(("id" = i64, Path)), request_body = Option<SignupRequest>, security(("pufa_session" = [])),
    responses((status = 201, body = SignupAnswer, description = "new sign-up"),
              (status = 200, body = SignupAnswer, description = "already signed up; unchanged"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable)))]
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

/// Cancel the own sign-up (enterprise); the waitlist moves up in the same transaction. 404 when
/// the session does not exist or there is no active sign-up.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}/registrations/mine", tag = "signups",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 204, description = "cancelled; the waitlist moved up"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound)))]
pub async fn api_cancel_mine(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    uc::cancel(&state.db, state.clock.now(), &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "重复报名"}))]
pub struct RemovalRequest {
    /// Why the organizer removes the registration (shown to nobody but organizers).
    #[serde(default)]
    #[schema(required = true)]
    pub reason: String,
}

/// Remove an enterprise's registration with a reason (organizer). 404 when the session does
/// not exist or the enterprise has no active sign-up.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/registrations/{enterprise_id}/removal",
    tag = "signups", params(("id" = i64, Path), ("enterprise_id" = i64, Path)),
    request_body = RemovalRequest, security(("pufa_session" = [])),
    responses((status = 204, description = "removed; the waitlist moved up"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden),
              (status = 404, response = NotFound),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
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

/// The roster (organizers, and the session's lecturer). The lecturer's copy has mobile numbers
/// masked (`138****0000`) unless an organizer allowed full numbers for the session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/registrations", tag = "signups",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = [RosterEntry]), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_roster(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<RosterEntry>>> {
    let (_, _, lines) = super::roster::load_roster(&state, &user, id, uc::RosterUse::Api).await?;
    Ok(Json(lines.into_iter().map(RosterEntry::from).collect()))
}
