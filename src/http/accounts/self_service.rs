//! Self-service pages and API (issue 15): 忘记密码 (`/password/forgot`, `/password/reset`),
//! 修改资料 (`/me/profile`, with a new login mobile proven by a code) and 注销账号
//! (`/me/delete`). The JSON and HTML twins call the same use cases in
//! `crate::app::self_service`; every route acts on the logged-in account only (or, for the
//! reset, on the account the code proves).

use super::client_ip;
use super::pages::{industry_options, IndustryOption};
use crate::accounts::Role;
use crate::app::self_service::{
    self as uc, Profile, ProfileUpdate, ResetRequest, SelfServiceError, FORGOT_ANSWER_ZH,
};
use crate::error::{AppError, AppResult};
use crate::http::auth::{set_cookie, CurrentUser, SESSION_COOKIE};
use crate::http::csrf::CsrfForm;
use crate::http::extract::Json;
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::notify::ContactKind;
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(api_forgot_password))
        .routes(utoipa_axum::routes!(api_reset_password))
        .routes(utoipa_axum::routes!(api_profile, api_update_profile))
        .routes(utoipa_axum::routes!(api_change_mobile))
        .routes(utoipa_axum::routes!(api_confirm_mobile))
        .route("/password/forgot", get(forgot_page).post(forgot_form))
        .route("/password/reset", get(reset_page).post(reset_form))
        .route("/me/profile", get(profile_page).post(profile_form))
        .route("/me/profile/mobile", post(mobile_form))
        .route("/me/profile/mobile/verify", post(mobile_verify_form))
        .route("/me/delete", get(delete_page).post(delete_form))
}

fn kind_param(s: &str) -> Option<ContactKind> {
    match s.trim() {
        "email" => Some(ContactKind::Email),
        "mobile" => Some(ContactKind::Mobile),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// password reset: API

/// A reset code request: the login (credit code, mobile or staff user name) and the channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "9135010000004242XH", "kind": "mobile"}))]
pub struct ForgotRequest {
    #[serde(default)]
    #[schema(required = true)]
    pub login: String,
    /// The verified contact the code goes to.
    pub kind: ContactKind,
}

/// The answer to every reset code request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForgotAnswer {
    /// The same sentence for every login, whether it exists or not.
    pub message: String,
}

/// Ask for a password reset code. The code goes to the account's VERIFIED contact of `kind`
/// (valid 10 minutes, 5 tries). The answer is 202 with the same message whether or not the
/// login exists or has such a contact. Throttled per login and per client address (429);
/// 409 `channel_unavailable` when this server has no such channel.
#[utoipa::path(post, path = "/api/v1/password/forgot", tag = "accounts",
    request_body = ForgotRequest,
    responses((status = 202, body = ForgotAnswer, description = "a code went out if the account has such a verified contact"),
              (status = 400, response = BadRequest), (status = 403, response = Forbidden),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable), (status = 429, response = TooManyRequests)))]
pub async fn api_forgot_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<ForgotRequest>,
) -> AppResult<Response> {
    let ip = client_ip(&state, &headers, peer);
    uc::forgot_password(
        &state.db,
        &state.channels,
        state.clock.now(),
        &req.login,
        req.kind,
        &ip,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ForgotAnswer {
            message: FORGOT_ANSWER_ZH.into(),
        }),
    )
        .into_response())
}

/// A new password with the code that was sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "9135010000004242XH", "kind": "mobile", "code": "042137",
    "new_password": "harbor lamp orchard 7"}))]
pub struct ResetPasswordRequest {
    #[serde(default)]
    #[schema(required = true)]
    pub login: String,
    pub kind: ContactKind,
    #[serde(default)]
    #[schema(required = true)]
    pub code: String,
    /// Must pass the strength rule.
    #[serde(default)]
    #[schema(required = true)]
    pub new_password: String,
}

/// Reset the password with the code. Every login session of the account ends, the account is
/// told ("密码已重置") in its inbox and by mail/SMS, and the audit log notes it. 409
/// `bad_code` for a wrong, expired or used code — and for an unknown login; 422 for a weak
/// password (the code is not used up then).
#[utoipa::path(post, path = "/api/v1/password/reset", tag = "accounts",
    request_body = ResetPasswordRequest,
    responses((status = 204, description = "the password is reset; log in with it"),
              (status = 400, response = BadRequest), (status = 403, response = Forbidden),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable), (status = 429, response = TooManyRequests)))]
pub async fn api_reset_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<ResetPasswordRequest>,
) -> AppResult<StatusCode> {
    let ip = client_ip(&state, &headers, peer);
    uc::reset_password(
        &state.db,
        state.clock.now(),
        &ResetRequest {
            login: &req.login,
            kind: req.kind,
            code: &req.code,
            new_password: &req.new_password,
        },
        &ip,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// password reset: pages

#[derive(Template, WebTemplate)]
#[template(path = "accounts/forgot.html")]
pub struct ForgotPage {
    pub layout: Layout,
    pub login: String,
    pub kind: String,
    pub error: Option<String>,
    pub email_available: bool,
    pub sms_available: bool,
}

fn forgot_page_with(
    state: &AppState,
    layout: Layout,
    login: String,
    kind: String,
    error: Option<String>,
) -> ForgotPage {
    ForgotPage {
        layout,
        login,
        kind,
        error,
        email_available: state.channels.mail.is_some(),
        sms_available: state.channels.sms.is_some(),
    }
}

/// `GET /password/forgot`
pub async fn forgot_page(State(state): State<AppState>, layout: Layout) -> ForgotPage {
    forgot_page_with(&state, layout, String::new(), "mobile".into(), None)
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub kind: String,
}

/// The page's message for an error it shows in place; others become the error page.
fn inline(e: SelfServiceError) -> Result<(StatusCode, String, FieldErrors), AppError> {
    let message = e.message_zh();
    match e {
        SelfServiceError::Invalid(errors) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, message, errors))
        }
        SelfServiceError::Internal(_) | SelfServiceError::Forbidden => Err(e.into()),
        other => {
            let e = AppError::from(other);
            Ok((e.status(), e.detail(), FieldErrors::default()))
        }
    }
}

/// `POST /password/forgot`: 获取验证码; shows the reset form with the same sentence for
/// every login.
pub async fn forgot_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    layout: Layout,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> AppResult<Response> {
    let Some(kind) = kind_param(&form.kind) else {
        let page = forgot_page_with(
            &state,
            layout,
            form.login,
            "mobile".into(),
            Some("请选择接收验证码的方式".into()),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let ip = client_ip(&state, &headers, peer);
    match uc::forgot_password(
        &state.db,
        &state.channels,
        state.clock.now(),
        &form.login,
        kind,
        &ip,
    )
    .await
    {
        Ok(()) => Ok(ResetPage {
            layout,
            login: form.login,
            kind: kind.as_str().into(),
            notice: Some(FORGOT_ANSWER_ZH.into()),
            error: None,
            errors: FieldErrors::default(),
            done: false,
        }
        .into_response()),
        Err(e) => {
            let (status, message, errors) = inline(e)?;
            let message = errors.get("login").map(str::to_string).unwrap_or(message);
            let page = forgot_page_with(&state, layout, form.login, form.kind, Some(message));
            Ok((status, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/reset.html")]
pub struct ResetPage {
    pub layout: Layout,
    pub login: String,
    pub kind: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub errors: FieldErrors,
    /// The password was reset.
    pub done: bool,
}

impl ResetPage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

/// `GET /password/reset`: the form for a code received earlier.
pub async fn reset_page(layout: Layout) -> ResetPage {
    ResetPage {
        layout,
        login: String::new(),
        kind: "mobile".into(),
        notice: None,
        error: None,
        errors: FieldErrors::default(),
        done: false,
    }
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub new_password: String,
}

/// `POST /password/reset`: 重置密码.
pub async fn reset_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    layout: Layout,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> AppResult<Response> {
    let mut page = ResetPage {
        layout,
        login: form.login.clone(),
        kind: form.kind.clone(),
        notice: None,
        error: None,
        errors: FieldErrors::default(),
        done: false,
    };
    let Some(kind) = kind_param(&form.kind) else {
        page.error = Some("请选择接收验证码的方式".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let ip = client_ip(&state, &headers, peer);
    let req = ResetRequest {
        login: &form.login,
        kind,
        code: &form.code,
        new_password: &form.new_password,
    };
    match uc::reset_password(&state.db, state.clock.now(), &req, &ip).await {
        Ok(_) => {
            page.done = true;
            // this browser's session, if any, ended with all the others
            let mut response = page.into_response();
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(SESSION_COOKIE, "", 0, state.config.secure_cookies),
            );
            Ok(response)
        }
        Err(e) => {
            let (status, message, errors) = inline(e)?;
            page.error = Some(message);
            page.errors = errors;
            Ok((status, page).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------
// profile: API

/// An enterprise's editable profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnterpriseProfileView {
    pub name: String,
    /// Not editable here: a wrong or taken credit code goes through a claim (`/claims/new`).
    pub uscc: String,
    pub industry: String,
    #[schema(required = true)]
    pub district: Option<String>,
    pub contact_name: String,
    /// The login mobile; changed with a code sent to the new number.
    pub mobile: String,
    /// 企业规模; null: not stated.
    #[schema(required = true)]
    pub size: Option<crate::qa::EnterpriseSize>,
}

/// The own profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub id: i64,
    pub role: Role,
    pub display_name: String,
    /// Staff: the login name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Enterprises only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<EnterpriseProfileView>,
}

impl From<Profile> for ProfileView {
    fn from(p: Profile) -> Self {
        ProfileView {
            id: p.user.id,
            role: p.user.role,
            display_name: p.user.display_name,
            username: p.user.username,
            enterprise: p.enterprise.map(|e| EnterpriseProfileView {
                name: e.name,
                uscc: e.uscc,
                industry: e.industry,
                district: e.district,
                contact_name: e.contact_name,
                mobile: e.mobile,
                size: e.size.as_deref().and_then(crate::qa::EnterpriseSize::parse),
            }),
        }
    }
}

/// The logged-in account's profile.
#[utoipa::path(get, path = "/api/v1/me/profile", tag = "accounts",
    security(("pufa_session" = [])),
    responses((status = 200, body = ProfileView), (status = 401, response = Unauthorized)))]
pub async fn api_profile(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<ProfileView>> {
    Ok(Json(uc::profile(&state.db, &user).await?.into()))
}

/// Change the own profile with the registration's rules: enterprises their company name,
/// industry, district and contact name; staff their display name (recorded in the audit
/// log). The credit code is not editable (a claim fixes it); the login mobile changes with
/// `POST /api/v1/me/profile/mobile`.
#[utoipa::path(put, path = "/api/v1/me/profile", tag = "accounts",
    security(("pufa_session" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = ProfileView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_update_profile(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(update): Json<ProfileUpdate>,
) -> AppResult<Json<ProfileView>> {
    let profile = uc::update_profile(&state.db, state.clock.now(), &user, &update).await?;
    Ok(Json(profile.into()))
}

/// A new login mobile.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mobile": "13900139000"}))]
pub struct MobileChangeRequest {
    #[serde(default)]
    #[schema(required = true)]
    pub mobile: String,
}

/// A code on its way to the new mobile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MobileCodeSent {
    /// The new number as stored (11 digits).
    pub mobile: String,
    pub code_expires_at: DateTime<Utc>,
}

/// Send a code to the enterprise's new login mobile; the login mobile changes only when the
/// code is confirmed (`POST /api/v1/me/profile/mobile/verify`). 409 `mobile_taken` for a
/// mobile of another enterprise; codes are throttled like contact codes (429).
#[utoipa::path(post, path = "/api/v1/me/profile/mobile", tag = "accounts",
    security(("pufa_session" = [])), request_body = MobileChangeRequest,
    responses((status = 202, body = MobileCodeSent), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable), (status = 429, response = TooManyRequests)))]
pub async fn api_change_mobile(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<MobileChangeRequest>,
) -> AppResult<Response> {
    let sent = uc::request_mobile_change(
        &state.db,
        &state.channels,
        state.clock.now(),
        &user,
        &req.mobile,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MobileCodeSent {
            mobile: sent.value,
            code_expires_at: sent.expires_at,
        }),
    )
        .into_response())
}

/// The code the new mobile received.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "042137"}))]
pub struct MobileConfirmRequest {
    #[serde(default)]
    #[schema(required = true)]
    pub code: String,
}

/// Confirm the new login mobile: it becomes the login mobile and the verified mobile contact.
/// 409 `bad_code` for a wrong, expired or used code.
#[utoipa::path(post, path = "/api/v1/me/profile/mobile/verify", tag = "accounts",
    security(("pufa_session" = [])), request_body = MobileConfirmRequest,
    responses((status = 200, body = ProfileView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_confirm_mobile(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<MobileConfirmRequest>,
) -> AppResult<Json<ProfileView>> {
    let profile = uc::confirm_mobile_change(&state.db, state.clock.now(), &user, &req.code).await?;
    Ok(Json(profile.into()))
}

// ---------------------------------------------------------------------------------------
// profile: pages

#[derive(Template, WebTemplate)]
#[template(path = "accounts/profile.html")]
pub struct ProfilePage {
    pub layout: Layout,
    pub profile: Profile,
    /// What the form shows (the stored values, or what was typed after an error).
    pub form: ProfileValues,
    pub industries: Vec<IndustryOption>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub errors: FieldErrors,
    /// A code went to this new mobile; the code field is shown.
    pub pending_mobile: Option<String>,
    pub sms_available: bool,
}

impl ProfilePage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }

    pub fn industry_label(&self) -> String {
        self.profile
            .enterprise
            .as_ref()
            .map(super::pages::industry_label)
            .unwrap_or_default()
    }
}

/// The values of the profile form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ProfileValues {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub industry: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub display_name: String,
    /// 企业规模 (`micro`…`large`, or empty).
    #[serde(default)]
    pub size: String,
}

impl ProfileValues {
    fn of(p: &Profile) -> ProfileValues {
        match &p.enterprise {
            Some(e) => ProfileValues {
                name: e.name.clone(),
                industry: e.industry.clone(),
                district: e.district.clone().unwrap_or_default(),
                contact_name: e.contact_name.clone(),
                display_name: String::new(),
                size: e.size.clone().unwrap_or_default(),
            },
            None => ProfileValues {
                display_name: p.user.display_name.clone(),
                ..Default::default()
            },
        }
    }
}

fn profile_page_of(state: &AppState, layout: Layout, profile: Profile) -> ProfilePage {
    ProfilePage {
        form: ProfileValues::of(&profile),
        layout,
        profile,
        industries: industry_options(),
        notice: None,
        error: None,
        errors: FieldErrors::default(),
        pending_mobile: None,
        sms_available: state.channels.sms.is_some(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ProfileQuery {
    #[serde(default)]
    pub saved: Option<String>,
}

/// `GET /me/profile`
pub async fn profile_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    crate::http::extract::Query(q): crate::http::extract::Query<ProfileQuery>,
) -> AppResult<ProfilePage> {
    let profile = uc::profile(&state.db, &user).await?;
    let mut page = profile_page_of(&state, layout, profile);
    page.notice = match q.saved.as_deref() {
        Some("mobile") => Some("登录手机号已更换，并已作为已验证的短信联系方式。".into()),
        Some(_) => Some("资料已保存。".into()),
        None => None,
    };
    Ok(page)
}

/// `POST /me/profile`: 保存资料.
pub async fn profile_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<ProfileValues>,
) -> AppResult<Response> {
    let update = if user.role == Role::Enterprise {
        ProfileUpdate {
            name: Some(form.name.clone()),
            industry: Some(form.industry.clone()),
            district: Some(form.district.clone()),
            contact_name: Some(form.contact_name.clone()),
            display_name: None,
            size: Some(form.size.clone()),
        }
    } else {
        ProfileUpdate {
            display_name: Some(form.display_name.clone()),
            ..Default::default()
        }
    };
    match uc::update_profile(&state.db, state.clock.now(), &user, &update).await {
        Ok(_) => Ok(Redirect::to("/me/profile?saved=1").into_response()),
        Err(e) => {
            let (status, message, errors) = inline(e)?;
            let profile = uc::profile(&state.db, &user).await?;
            let mut page = profile_page_of(&state, layout, profile);
            page.form = ProfileValues {
                industry: form.industry.trim().to_uppercase(),
                ..form
            };
            page.error = Some(message);
            page.errors = errors;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct MobileForm {
    #[serde(default)]
    pub mobile: String,
}

/// `POST /me/profile/mobile`: 发送验证码 to the new login mobile.
pub async fn mobile_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<MobileForm>,
) -> AppResult<Response> {
    let result = uc::request_mobile_change(
        &state.db,
        &state.channels,
        state.clock.now(),
        &user,
        &form.mobile,
    )
    .await;
    let profile = uc::profile(&state.db, &user).await?;
    let mut page = profile_page_of(&state, layout, profile);
    match result {
        Ok(sent) => {
            page.notice = Some(format!(
                "验证码已发送到新手机号 {}，10 分钟内有效。",
                sent.value
            ));
            page.pending_mobile = Some(sent.value);
            Ok(page.into_response())
        }
        Err(e) => {
            let (status, message, errors) = inline(e)?;
            page.error = Some(errors.get("mobile").map(str::to_string).unwrap_or(message));
            page.errors = errors;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct MobileVerifyForm {
    #[serde(default)]
    pub code: String,
    /// The number the code went to, to show again after a wrong code.
    #[serde(default)]
    pub mobile: String,
}

/// `POST /me/profile/mobile/verify`: 确认更换.
pub async fn mobile_verify_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<MobileVerifyForm>,
) -> AppResult<Response> {
    match uc::confirm_mobile_change(&state.db, state.clock.now(), &user, &form.code).await {
        Ok(_) => Ok(Redirect::to("/me/profile?saved=mobile").into_response()),
        Err(e) => {
            let (status, message, errors) = inline(e)?;
            let profile = uc::profile(&state.db, &user).await?;
            let mut page = profile_page_of(&state, layout, profile);
            page.error = Some(errors.get("code").map(str::to_string).unwrap_or(message));
            page.errors = errors;
            page.pending_mobile = Some(form.mobile);
            Ok((status, page).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------
// deletion

/// The password and the explicit confirmation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "correct horse battery staple", "confirm": true}))]
pub struct DeleteAccountRequest {
    #[serde(default)]
    #[schema(required = true)]
    pub password: String,
    /// Must be `true`.
    #[serde(default)]
    #[schema(required = true)]
    pub confirm: bool,
}

/// Delete the logged-in enterprise account (个人信息保护法 第四十七条). Deleted: login
/// sessions, contacts, codes, preferences, notifications, check-ups and their access log,
/// where lectures were left off, registrations of sessions that have not started (cancelled;
/// the waitlist moves up), the contact name and mobile, the name and password. Kept,
/// anonymised as "已注销企业 #id": registrations of sessions that took place and watched
/// time, so attendance figures stay right, and audit entries naming the id. The credit code
/// is released. 409 `wrong_password`; 409 `staff_account` for staff (organizers disable them).
#[utoipa::path(delete, path = "/api/v1/me", tag = "accounts",
    security(("pufa_session" = [])), request_body = DeleteAccountRequest,
    responses((status = 204, description = "deleted; the session cookie is cleared",
               headers(("Set-Cookie" = String, description = "`pufa_session=; Max-Age=0`"))),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable), (status = 429, response = TooManyRequests)))]
pub async fn api_delete_account(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<DeleteAccountRequest>,
) -> AppResult<Response> {
    uc::delete_account(
        &state.db,
        state.clock.now(),
        &user,
        &req.password,
        req.confirm,
        &state.config.password_verifications,
    )
    .await?;
    Ok((
        [(
            SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", 0, state.config.secure_cookies),
        )],
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    /// A staff account: the page says who disables it instead.
    pub staff: bool,
    pub error: Option<String>,
    pub errors: FieldErrors,
    pub done: bool,
}

impl DeletePage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

/// `GET /me/delete`: what is deleted, what is kept and why; the form.
pub async fn delete_page(layout: Layout, CurrentUser(user): CurrentUser) -> DeletePage {
    DeletePage {
        layout,
        staff: user.role != Role::Enterprise,
        error: None,
        errors: FieldErrors::default(),
        done: false,
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm: Option<String>,
}

/// `POST /me/delete`: 注销账号.
pub async fn delete_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> AppResult<Response> {
    let confirmed = form
        .confirm
        .is_some_and(|v| matches!(v.as_str(), "true" | "on" | "1"));
    let mut page = DeletePage {
        layout,
        staff: user.role != Role::Enterprise,
        error: None,
        errors: FieldErrors::default(),
        done: false,
    };
    match uc::delete_account(
        &state.db,
        state.clock.now(),
        &user,
        &form.password,
        confirmed,
        &state.config.password_verifications,
    )
    .await
    {
        Ok(_) => {
            page.done = true;
            page.layout.user = None;
            let mut response = page.into_response();
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(SESSION_COOKIE, "", 0, state.config.secure_cookies),
            );
            Ok(response)
        }
        Err(e) => {
            let (status, message, errors) = inline(e)?;
            page.error = Some(message);
            page.errors = errors;
            Ok((status, page).into_response())
        }
    }
}
