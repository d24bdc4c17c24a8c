//! Login, logout and enterprise self-registration — HTML forms and the JSON API.

use super::errors::url_encode;
use super::extract::Json;
use super::layout::Layout;
use super::session::{
    random_token, set_cookie, token_hash, CsrfForm, CurrentUser, MaybeUser, SESSION_COOKIE,
};
use super::AppState;
use crate::accounts::{
    self, industry, validate_enterprise, EnterpriseSignup, LoginKey, User, ValidEnterprise,
};
use crate::db::accounts::Enterprise;
use crate::db::{is_unique_violation, unique_violation_column};
use crate::error::{AppError, AppResult};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Failed attempts allowed per account in one window before logins are refused.
pub const ACCOUNT_FAILURE_LIMIT: i64 = 5;
/// Failed attempts allowed per client address in one window.
pub const IP_FAILURE_LIMIT: i64 = 20;
/// Length of the throttle window.
pub fn failure_window() -> Duration {
    Duration::minutes(15)
}

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

/// Check credentials with throttling of failures per account and per address. A throttled
/// login is refused before the password is looked at, so guessing cannot continue; successful
/// logins do not count and reset the account's counter.
async fn authenticate(state: &AppState, login: &str, password: &str, ip: &str) -> AppResult<User> {
    let mut errors = FieldErrors::default();
    if login.trim().is_empty() {
        errors.add("login", "请输入用户名、统一社会信用代码或手机号");
    }
    if password.is_empty() {
        errors.add("password", "请输入密码");
    }
    errors.into_result()?;

    let key = LoginKey::from_login(login);
    let account_scope = format!("account:{}", key.canonical());
    let ip_scope = format!("ip:{ip}");
    let now = Utc::now();
    let window = failure_window();
    for (scope, limit) in [
        (&account_scope, ACCOUNT_FAILURE_LIMIT),
        (&ip_scope, IP_FAILURE_LIMIT),
    ] {
        let (failures, started) = state.db.login_failures(scope, now, window).await?;
        if failures >= limit {
            let retry = (started + window - now).num_seconds().max(1) as u64;
            return Err(AppError::TooManyRequests {
                retry_after_s: retry,
                message: format!("登录失败次数过多，请在{}分钟后再试。", retry.div_ceil(60)),
            });
        }
    }

    let found = state.db.find_login(&key).await?;
    let hash = found
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| accounts::dummy_hash().to_string());
    let password = password.to_string();
    let ok =
        tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash)).await?;
    match found {
        Some((user, _)) if ok => {
            state.db.clear_login_failures(&account_scope).await?;
            Ok(user)
        }
        _ => {
            state
                .db
                .record_login_failure(&account_scope, now, window)
                .await?;
            state
                .db
                .record_login_failure(&ip_scope, now, window)
                .await?;
            Err(AppError::BadCredentials)
        }
    }
}

/// Open a session for `user` and return its `Set-Cookie` header.
async fn start_session(state: &AppState, user_id: i64) -> AppResult<HeaderValue> {
    let token = random_token();
    let hours = i64::from(state.config.session_hours);
    state
        .db
        .create_login_session(
            &token_hash(&token),
            user_id,
            Utc::now() + Duration::hours(hours),
        )
        .await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &token,
        hours * 3600,
        state.config.secure_cookies,
    ))
}

async fn end_session(state: &AppState, headers: &HeaderMap) -> AppResult<HeaderValue> {
    if let Some(token) = super::session::cookie(headers, SESSION_COOKIE) {
        state.db.delete_login_session(&token_hash(&token)).await?;
    }
    Ok(set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.config.secure_cookies,
    ))
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
    let ip = client_ip(&state, &headers, peer);
    let user = authenticate(&state, &req.login, &req.password, &ip).await?;
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

/// Create the enterprise account; the uniqueness of the credit code and mobile number is
/// enforced by the database (no racy pre-check).
async fn create_enterprise(
    state: &AppState,
    valid: ValidEnterprise,
    password: String,
) -> AppResult<i64> {
    let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&password)).await??;
    match state
        .db
        .insert_enterprise(&valid, &hash, &random_token())
        .await
    {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => {
            let column = unique_violation_column(&e).unwrap_or_default();
            if column.ends_with("mobile") {
                Err(AppError::conflict(
                    "mobile_taken",
                    "该手机号已用于另一个企业账号，请换一个手机号或直接登录",
                ))
            } else {
                Err(AppError::conflict(
                    "uscc_taken",
                    format!(
                        "统一社会信用代码 {} 已注册过账号，请直接登录；如忘记密码请联系工商联",
                        valid.uscc
                    ),
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Self-registration of an enterprise account.
#[utoipa::path(post, path = "/api/v1/enterprises", tag = "accounts", request_body = EnterpriseSignup,
    responses((status = 201, body = Enterprise), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_register(
    State(state): State<AppState>,
    Json(input): Json<EnterpriseSignup>,
) -> AppResult<Response> {
    let valid = validate_enterprise(&input).map_err(AppError::Validation)?;
    let id = create_enterprise(&state, valid, input.password).await?;
    let enterprise = state
        .db
        .enterprise(id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("enterprise {id} vanished")))?;
    Ok((StatusCode::CREATED, Json(enterprise)).into_response())
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
    let ip = client_ip(&state, &headers, peer);
    let next = safe_next(form.next.as_deref());
    match authenticate(&state, &form.login, &form.password, &ip).await {
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
            e @ (AppError::BadCredentials
            | AppError::Validation(_)
            | AppError::TooManyRequests { .. }),
        ) => {
            let status = e.status();
            let page = LoginPage {
                layout,
                login: form.login,
                next: next.unwrap_or_default(),
                error: Some(e.detail()),
            };
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
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
    let valid = match validate_enterprise(&input) {
        Ok(v) => v,
        Err(errors) => {
            return Ok(show(
                layout,
                errors,
                Some("请按提示修改标红的内容".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    };
    match create_enterprise(&state, valid, input.password).await {
        Ok(id) => {
            let cookie = start_session(&state, id).await?;
            let mut response = Redirect::to("/me?welcome=1").into_response();
            response.headers_mut().append(SET_COOKIE, cookie);
            Ok(response)
        }
        Err(e @ AppError::Conflict { .. }) => Ok(show(
            layout,
            FieldErrors::default(),
            Some(e.detail()),
            StatusCode::CONFLICT,
        )),
        Err(e) => Err(e),
    }
}

/// Link to log in and come back to `path`.
pub fn login_link(path: &str) -> String {
    format!("/login?next={}", url_encode(path))
}

/// Used by templates to show an enterprise's industry.
pub fn industry_label(e: &Enterprise) -> String {
    let code = e.industry.chars().next().unwrap_or(' ');
    match industry::section_name(code) {
        Some(name) => format!("{code} {name}"),
        None => e.industry.clone(),
    }
}
