//! Login, logout and registration pages.

use super::{authenticate, end_session, start_session};
use crate::accounts::{industry, EnterpriseSignup, Role};
use crate::app::accounts::{register_enterprise, rotate_calendar_token, AccountsError};
use crate::app::login::LoginError;
use crate::db::accounts::Enterprise;
use crate::error::{AppError, AppResult};
use crate::http::auth::{CurrentUser, MaybeUser};
use crate::http::csrf::CsrfForm;
use crate::http::extract::Query;
use crate::http::layout::Layout;
use crate::http::AppState;
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub next: Option<String>,
}

/// Only local paths are followed after login (no open redirect, no header injection); see
/// [`crate::accounts::redirect::safe_next`].
fn safe_next(next: Option<&str>) -> Option<String> {
    next.and_then(crate::accounts::redirect::safe_next)
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
            e @ (LoginError::BadCredentials
            | LoginError::Disabled
            | LoginError::Invalid(_)
            | LoginError::Throttled { .. }),
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

/// The logout form; with `everywhere=1` (「退出所有设备」 on 我的) every session of the account
/// ends.
pub async fn logout_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    let everywhere = form
        .get("everywhere")
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "on"));
    let cookie = end_session(&state, &headers, everywhere).await?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /logout/others`: 「退出其他设备」 on 我的 ends every other session of the account and
/// keeps this one.
pub async fn logout_others_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    CurrentUser(_): CurrentUser,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    let token = crate::http::auth::cookie(&headers, crate::http::auth::SESSION_COOKIE);
    crate::app::login::end_other_sessions(&state.db, state.clock.now(), token.as_deref()).await?;
    Ok(Redirect::to("/me?notice=others_out#devices-h").into_response())
}

/// `POST /me/calendar-token`: the 「更换订阅地址」 button on 我的.
pub async fn rotate_calendar_token_form(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    let enterprise = user.require(Role::Enterprise)?;
    rotate_calendar_token(&state.db, enterprise.id).await?;
    Ok(Redirect::to("/me?notice=calendar_token#calendar").into_response())
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
    /// The privacy notice version the consent box agrees to.
    pub privacy_version: &'static str,
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
    pub privacy_consent: bool,
    /// 企业规模 as chosen (`micro`…`large`, or empty).
    pub size: String,
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
        privacy_version: crate::accounts::privacy::NOTICE_VERSION,
        form: RegisterValues::default(),
        errors: FieldErrors::default(),
        error: None,
        industries: industry_options(),
    }
    .into_response()
}

/// The registration form: the fields of the API's [`EnterpriseSignup`] as a browser posts
/// them (the consent box sends `true` when checked and nothing otherwise) and the form's own
/// `csrf` token (checked by [`CsrfForm`]). Not a flattened `EnterpriseSignup`: serde's flatten
/// reads every form value as a string, which a `bool` field refuses.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uscc: String,
    #[serde(default)]
    pub industry: String,
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub privacy_consent: Option<String>,
    #[serde(default)]
    pub privacy_notice_version: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
}

impl From<RegisterForm> for EnterpriseSignup {
    fn from(f: RegisterForm) -> Self {
        EnterpriseSignup {
            name: f.name,
            uscc: f.uscc,
            industry: f.industry,
            district: f.district,
            contact_name: f.contact_name,
            mobile: f.mobile,
            password: f.password,
            privacy_consent: f
                .privacy_consent
                .is_some_and(|v| matches!(v.as_str(), "true" | "on" | "1")),
            privacy_notice_version: f.privacy_notice_version,
            size: f.size,
        }
    }
}

pub async fn register_form(
    State(state): State<AppState>,
    layout: Layout,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> AppResult<Response> {
    let input = EnterpriseSignup::from(form);
    let values = RegisterValues {
        name: input.name.clone(),
        uscc: input.uscc.clone(),
        industry: input.industry.trim().to_uppercase(),
        district: input.district.clone().unwrap_or_default(),
        contact_name: input.contact_name.clone(),
        mobile: input.mobile.clone(),
        size: input.size.clone().unwrap_or_default(),
        privacy_consent: input.privacy_consent,
    };
    let show = |layout: Layout, errors: FieldErrors, error: Option<String>, status: StatusCode| {
        (
            status,
            RegisterPage {
                layout,
                privacy_version: crate::accounts::privacy::NOTICE_VERSION,
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
                other => Err(other.into()),
            }
        }
    }
}

/// Used by templates to show an enterprise's industry.
pub fn industry_label(e: &Enterprise) -> String {
    industry::label(&e.industry)
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/privacy.html")]
pub struct PrivacyPage {
    pub layout: Layout,
    pub version: &'static str,
}

/// `GET /privacy`: the full privacy notice (public).
pub async fn privacy_page(layout: Layout) -> PrivacyPage {
    PrivacyPage {
        layout,
        version: crate::accounts::privacy::NOTICE_VERSION,
    }
}
