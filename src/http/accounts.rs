//! Login, logout and enterprise self-registration — HTML forms and the JSON API.

use super::extract::Json;
use super::layout::Layout;
use super::session::{set_cookie, CsrfForm, CurrentUser, MaybeUser, SESSION_COOKIE};
use super::AppState;
use crate::accounts::{industry, EnterpriseSignup, User};
use crate::app::accounts::{register_enterprise, AccountsError};
use crate::app::login::{self, LoginError, NewSession};
use crate::db::accounts::Enterprise;
use crate::error::{AppError, AppResult};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Login request: `login` is a staff username, a credit code or a mobile number.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub password: String,
}

/// Successful login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub user: User,
}

fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    if state.config.trust_forwarded_for {
        if let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
        {
            let first = first.trim();
            if !first.is_empty() {
                return first.to_string();
            }
        }
    }
    peer.ip().to_string()
}

/// The `Set-Cookie` value that hands a new login session to the browser.
fn session_cookie(state: &AppState, session: &NewSession) -> HeaderValue {
    set_cookie(
        SESSION_COOKIE,
        &session.token,
        session.max_age_s,
        state.config.secure_cookies,
    )
}

/// Open a login session for `user_id` and return its `Set-Cookie` value.
async fn start_session(state: &AppState, user_id: i64) -> AppResult<HeaderValue> {
    let session = login::start_session(
        &state.db,
        state.clock.now(),
        user_id,
        state.config.session_hours,
    )
    .await?;
    Ok(session_cookie(state, &session))
}

/// End the request's login session and return the `Set-Cookie` value that clears the cookie.
async fn end_session(state: &AppState, headers: &HeaderMap) -> AppResult<HeaderValue> {
    let token = super::session::cookie(headers, SESSION_COOKIE);
    login::end_session(&state.db, token.as_deref()).await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.config.secure_cookies,
    ))
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    login: &str,
    password: &str,
) -> Result<User, LoginError> {
    let ip = client_ip(state, headers, peer);
    login::authenticate(&state.db, state.clock.now(), login, password, &ip).await
}

/// Log in; sets the `pufa_session` cookie.
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
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

/// Log out: ends the session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts", responses((status = 204)))]
pub async fn api_logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let cookie = end_session(&state, &headers).await?;
    Ok(([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

/// The logged-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = User), (status = 401, body = crate::error::Problem)))]
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

/// Self-registration of an enterprise account.
#[utoipa::path(post, path = "/api/v1/enterprises", tag = "accounts", request_body = EnterpriseSignup,
    responses((status = 201, body = EnterpriseView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_register(
    State(state): State<AppState>,
    Json(input): Json<EnterpriseSignup>,
) -> AppResult<Response> {
    let enterprise = register_enterprise(&state.db, state.clock.now(), &input).await?;
    Ok((StatusCode::CREATED, Json(EnterpriseView::from(enterprise))).into_response())
}

// ---------- HTML ----------

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub next: Option<String>,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .map(|n| n.to_string())
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub login: String,
    pub next: String,
    pub error: Option<String>,
}

pub async fn login_page(layout: Layout, Query(q): Query<NextQuery>) -> LoginPage {
    LoginPage {
        layout,
        login: String::new(),
        next: safe_next(q.next.as_deref()).unwrap_or_default(),
        error: None,
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub next: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    layout: Layout,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    match authenticate(&state, &headers, peer, &form.login, &form.password).await {
        Ok(user) => {
            let cookie = start_session(&state, user.id).await?;
            let target = next.unwrap_or_else(|| {
                if user.is_organizer() {
                    "/admin".into()
                } else {
                    "/me".into()
                }
            });
            let mut response = Redirect::to(&target).into_response();
            response.headers_mut().append(SET_COOKIE, cookie);
            Ok(response)
        }
        Err(
            e
            @ (LoginError::BadCredentials | LoginError::Invalid(_) | LoginError::Throttled { .. }),
        ) => {
            let e = AppError::from(e);
            let status = e.status();
            let page = LoginPage {
                layout,
                login: form.login,
                next: next.unwrap_or_default(),
                error: Some(e.detail()),
            };
            Ok((status, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn logout_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    let cookie = end_session(&state, &headers).await?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

/// An option of the industry select.
pub struct IndustryOption {
    pub code: char,
    pub name: &'static str,
}

pub fn industry_options() -> Vec<IndustryOption> {
    industry::SECTIONS
        .iter()
        .map(|(code, name)| IndustryOption { code: *code, name })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/register.html")]
pub struct RegisterPage {
    pub layout: Layout,
    pub form: RegisterValues,
    pub errors: FieldErrors,
    pub error: Option<String>,
    pub industries: Vec<IndustryOption>,
}

/// What the form shows back after a failed attempt (never the password).
#[derive(Debug, Default)]
pub struct RegisterValues {
    pub name: String,
    pub uscc: String,
    pub industry: String,
    pub district: String,
    pub contact_name: String,
    pub mobile: String,
}

impl RegisterPage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

pub async fn register_page(layout: Layout, MaybeUser(user): MaybeUser) -> Response {
    if user.is_some() {
        return Redirect::to("/me").into_response();
    }
    RegisterPage {
        layout,
        form: RegisterValues::default(),
        errors: FieldErrors::default(),
        error: None,
        industries: industry_options(),
    }
    .into_response()
}

pub async fn register_form(
    State(state): State<AppState>,
    layout: Layout,
    CsrfForm(input): CsrfForm<EnterpriseSignup>,
) -> AppResult<Response> {
    let values = RegisterValues {
        name: input.name.clone(),
        uscc: input.uscc.clone(),
        industry: input.industry.trim().to_uppercase(),
        district: input.district.clone().unwrap_or_default(),
        contact_name: input.contact_name.clone(),
        mobile: input.mobile.clone(),
    };
    let show = |layout: Layout, errors: FieldErrors, error: Option<String>, status: StatusCode| {
        (
            status,
            RegisterPage {
                layout,
                form: values,
                errors,
                error,
                industries: industry_options(),
            },
        )
            .into_response()
    };
    match register_enterprise(&state.db, state.clock.now(), &input).await {
        Ok(enterprise) => {
            let cookie = start_session(&state, enterprise.id).await?;
            let mut response = Redirect::to("/me?welcome=1").into_response();
            response.headers_mut().append(SET_COOKIE, cookie);
            Ok(response)
        }
        Err(e) => {
            let message = Some(e.message_zh());
            match e {
                AccountsError::Invalid(errors) => Ok(show(
                    layout,
                    errors,
                    message,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )),
                AccountsError::MobileTaken | AccountsError::UsccTaken { .. } => Ok(show(
                    layout,
                    FieldErrors::default(),
                    message,
                    StatusCode::CONFLICT,
                )),
                AccountsError::Internal(e) => Err(AppError::Internal(e)),
            }
        }
    }
}

/// Used by templates to show an enterprise's industry.
pub fn industry_label(e: &Enterprise) -> String {
    let code = e.industry.chars().next().unwrap_or(' ');
    match industry::section_name(code) {
        Some(name) => format!("{code} {name}"),
        None => e.industry.clone(),
    }
}
