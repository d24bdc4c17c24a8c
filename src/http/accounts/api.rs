//! The accounts JSON API.

use super::{authenticate, end_session, start_session};
use crate::accounts::{EnterpriseSignup, Role, User};
use crate::app::accounts::{privacy_consent, register_enterprise, rotate_calendar_token};
use crate::db::accounts::Enterprise;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, OptionalJson};
use crate::http::home::personal_calendar_url;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized,
    Unprocessable, UnsupportedMediaType,
};
use crate::http::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Login request: `login` is a staff username, a credit code or a mobile number.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "9135010000004242XH", "password": "correct horse 1"}))]
pub struct LoginRequest {
    #[serde(default)]
    #[schema(required = true)]
    pub login: String,
    #[serde(default)]
    #[schema(required = true)]
    pub password: String,
}

/// Successful login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub user: User,
}

/// Log in; sets the `pufa_session` cookie.
///
/// Failed attempts are throttled per account and per client address (429 with `Retry-After`).
/// The right password of an account an organizer disabled answers 409 `account_disabled`.
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, description = "logged in",
               headers(("Set-Cookie" = String, description = "`pufa_session=…; HttpOnly; SameSite=Lax`"))),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable),
              (status = 429, response = TooManyRequests)))]
pub async fn api_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> AppResult<Response> {
    let user = authenticate(&state, &headers, peer, &req.login, &req.password).await?;
    let cookie = start_session(&state, user.id).await?;
    let mut response = Json(LoginResponse { user }).into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

/// Logout request; the body may be left out or `null` (this session only).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// End every session of the account, on all devices, not only this one.
    #[serde(default)]
    pub everywhere: bool,
}

/// Log out: ends the session of the request's `pufa_session` cookie, if there is one, and
/// clears the cookie; with `{"everywhere": true}` every session of the account ends. Without
/// a session it answers the same.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts",
    request_body(content = Option<LogoutRequest>, description = "optional; an empty body or `null` ends this session only"),
    responses((status = 204, description = "logged out; the cookie is cleared",
               headers(("Set-Cookie" = String, description = "`pufa_session=; Max-Age=0`"))),
              (status = 400, response = BadRequest), (status = 403, response = Forbidden),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType)))]
pub async fn api_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJson(req): OptionalJson<Option<LogoutRequest>>,
) -> AppResult<Response> {
    let everywhere = req.is_some_and(|r| r.everywhere);
    let cookie = end_session(&state, &headers, everywhere).await?;
    Ok(([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

/// The new address of the personal calendar feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarTokenResponse {
    /// The feed's new subscription URL; the old one now answers 404.
    pub calendar_url: String,
}

/// Replace the enterprise's personal calendar feed address (when it was shared or leaked).
#[utoipa::path(post, path = "/api/v1/me/calendar-token", tag = "accounts",
    security(("pufa_session" = [])),
    responses((status = 200, body = CalendarTokenResponse, description = "the new feed address; the old one answers 404"),
              (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden)))]
pub async fn api_rotate_calendar_token(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<CalendarTokenResponse>> {
    let enterprise = user.require(Role::Enterprise)?;
    let token = rotate_calendar_token(&state.db, enterprise.id).await?;
    Ok(Json(CalendarTokenResponse {
        calendar_url: personal_calendar_url(&state, &token),
    }))
}

/// The logged-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("pufa_session" = [])),
    responses((status = 200, body = User), (status = 401, response = Unauthorized)))]
pub async fn api_me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

/// An enterprise account as the API shows it (never its calendar feed token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnterpriseView {
    pub id: i64,
    pub name: String,
    pub uscc: String,
    pub industry: String,
    #[schema(required = true)]
    pub district: Option<String>,
    pub contact_name: String,
    pub mobile: String,
    /// 企业规模; null: not stated.
    #[schema(required = true)]
    pub size: Option<crate::qa::EnterpriseSize>,
    pub created_at: DateTime<Utc>,
    /// The privacy notice version agreed to at registration (shown on registration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_notice_version: Option<String>,
    /// When the consent was given (shown on registration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_consent_at: Option<DateTime<Utc>>,
}

impl From<Enterprise> for EnterpriseView {
    fn from(e: Enterprise) -> Self {
        EnterpriseView {
            id: e.id,
            name: e.name,
            uscc: e.uscc,
            industry: e.industry,
            district: e.district,
            contact_name: e.contact_name,
            mobile: e.mobile,
            size: e.size.as_deref().and_then(crate::qa::EnterpriseSize::parse),
            created_at: e.created_at,
            privacy_notice_version: None,
            privacy_consent_at: None,
        }
    }
}

/// Self-registration of an enterprise account; it logs in with its credit code or mobile
/// number. `privacy_consent` must be `true` (the notice at `/privacy`); the consent is stored
/// with the notice's version. 409 when the credit code or the mobile number is already
/// registered.
#[utoipa::path(post, path = "/api/v1/enterprises", tag = "accounts", request_body = EnterpriseSignup,
    responses((status = 201, body = EnterpriseView), (status = 400, response = BadRequest),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_register(
    State(state): State<AppState>,
    Json(input): Json<EnterpriseSignup>,
) -> AppResult<Response> {
    let enterprise = register_enterprise(&state.db, state.clock.now(), &input).await?;
    let user = User {
        id: enterprise.id,
        role: Role::Enterprise,
        display_name: enterprise.name.clone(),
        username: None,
    };
    let consent = privacy_consent(&state.db, &user).await?;
    let mut view = EnterpriseView::from(enterprise);
    view.privacy_notice_version = Some(consent.notice_version);
    view.privacy_consent_at = Some(consent.at);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The privacy consent given at registration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrivacyConsentView {
    /// Version of the notice at `/privacy` that was agreed to.
    pub notice_version: String,
    pub consented_at: DateTime<Utc>,
}

/// The privacy notice version the logged-in enterprise agreed to, and when. 404 for accounts
/// registered before the notice existed.
#[utoipa::path(get, path = "/api/v1/me/privacy", tag = "accounts",
    security(("pufa_session" = [])),
    responses((status = 200, body = PrivacyConsentView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_my_privacy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<PrivacyConsentView>> {
    let consent = privacy_consent(&state.db, &user).await?;
    Ok(Json(PrivacyConsentView {
        notice_version: consent.notice_version,
        consented_at: consent.at,
    }))
}
