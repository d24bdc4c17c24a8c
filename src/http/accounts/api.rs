//! The accounts JSON API.

use super::{authenticate, end_session, start_session};
use crate::accounts::{EnterpriseSignup, User};
use crate::app::accounts::register_enterprise;
use crate::db::accounts::Enterprise;
use crate::error::AppResult;
use crate::http::extract::Json;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::session::CurrentUser;
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
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, description = "logged in",
               headers(("Set-Cookie" = String, description = "`pufa_session=…; HttpOnly; SameSite=Lax`"))),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge),
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

/// Log out: ends the session of the request's `pufa_session` cookie, if there is one, and
/// clears the cookie. Without a session it answers the same.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts",
    responses((status = 204, description = "logged out; the cookie is cleared",
               headers(("Set-Cookie" = String, description = "`pufa_session=; Max-Age=0`"))),
              (status = 403, response = Forbidden)))]
pub async fn api_logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let cookie = end_session(&state, &headers).await?;
    Ok(([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
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
    pub created_at: DateTime<Utc>,
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
            created_at: e.created_at,
        }
    }
}

/// Self-registration of an enterprise account; it logs in with its credit code or mobile
/// number. 409 when the credit code or the mobile number is already registered.
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
    Ok((StatusCode::CREATED, Json(EnterpriseView::from(enterprise))).into_response())
}
