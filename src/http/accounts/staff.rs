//! Staff accounts for organizers: `/admin/accounts` (list, add, disable, re-enable, reset the
//! password) and its JSON twins under `/api/v1/admin/accounts`. Both call
//! [`crate::app::accounts`]; the use cases check that the caller is an organizer.

use crate::app::accounts::{self as uc, AccountsError, NewStaff};
use crate::db::accounts::StaffAccount;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, OptionalJson, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A staff account as the API shows it (never its password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffAccountView {
    pub id: i64,
    /// `organizer` or `lawyer`.
    pub role: String,
    pub username: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    #[schema(required = true)]
    pub last_login_at: Option<DateTime<Utc>>,
    /// False once disabled: it cannot log in.
    pub active: bool,
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<StaffAccount> for StaffAccountView {
    fn from(a: StaffAccount) -> Self {
        StaffAccountView {
            active: a.is_active(),
            id: a.id,
            role: a.role,
            username: a.username,
            display_name: a.display_name,
            created_at: a.created_at,
            last_login_at: a.last_login_at,
            disabled_at: a.disabled_at,
        }
    }
}

/// The organizer and lawyer accounts (organizers only).
#[utoipa::path(get, path = "/api/v1/admin/accounts", tag = "accounts",
    security(("pufa_session" = [])),
    responses((status = 200, body = [StaffAccountView]), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden)))]
pub async fn api_list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<Vec<StaffAccountView>>> {
    let list = uc::staff_accounts(&state.db, &user).await?;
    Ok(Json(list.into_iter().map(StaffAccountView::from).collect()))
}

/// Add a lawyer or organizer account (organizers only). The password must pass the strength
/// rule; 409 `username_taken` when the login name is in use.
#[utoipa::path(post, path = "/api/v1/admin/accounts", tag = "accounts", request_body = NewStaff,
    security(("pufa_session" = [])),
    responses((status = 201, body = StaffAccountView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable)))]
pub async fn api_create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(input): Json<NewStaff>,
) -> AppResult<Response> {
    let account = uc::create_staff(&state.db, state.clock.now(), Some(&user), &input).await?;
    Ok((StatusCode::CREATED, Json(StaffAccountView::from(account))).into_response())
}

/// Disable a staff account (organizers only): it cannot log in any more and its login
/// sessions end at once. 409 `disable_self` or `last_organizer`.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/disable", tag = "accounts",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = StaffAccountView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict)))]
pub async fn api_disable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<StaffAccountView>> {
    let a = uc::set_staff_disabled(&state.db, state.clock.now(), Some(&user), id, true).await?;
    Ok(Json(a.into()))
}

/// Re-enable a disabled staff account (organizers only).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/enable", tag = "accounts",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = StaffAccountView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_enable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<StaffAccountView>> {
    let a = uc::set_staff_disabled(&state.db, state.clock.now(), Some(&user), id, false).await?;
    Ok(Json(a.into()))
}

/// A password reset; without `password` (or with an empty body) one is generated.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password (strength-checked); left out: a generated one is returned once.
    #[serde(default)]
    pub password: Option<String>,
}

/// The outcome of a reset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordResetResult {
    pub account: StaffAccountView,
    /// The generated password, shown this once; absent when the organizer chose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

/// Reset a staff account's password (organizers only); all its login sessions end.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/password", tag = "accounts",
    params(("id" = i64, Path)),
    request_body(content = Option<PasswordReset>, description = "optional; without a password one is generated"),
    security(("pufa_session" = [])),
    responses((status = 200, body = PasswordResetResult), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable)))]
pub async fn api_reset_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    OptionalJson(req): OptionalJson<Option<PasswordReset>>,
) -> AppResult<Json<PasswordResetResult>> {
    let password = req.and_then(|r| r.password);
    let (account, generated) = uc::reset_staff_password(
        &state.db,
        state.clock.now(),
        Some(&user),
        id,
        password.as_deref(),
    )
    .await?;
    Ok(Json(PasswordResetResult {
        account: account.into(),
        generated_password: generated,
    }))
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/staff.html")]
pub struct StaffPage {
    pub layout: Layout,
    pub accounts: Vec<StaffAccount>,
    pub form: NewStaffValues,
    pub errors: FieldErrors,
    pub error: Option<String>,
    pub notice: Option<String>,
    /// A generated password to show this once, with the login name it belongs to.
    pub generated: Option<(String, String)>,
}

/// What the add form shows back after a failed attempt (never the password).
#[derive(Debug, Default)]
pub struct NewStaffValues {
    pub role: String,
    pub username: String,
    pub display_name: String,
}

impl StaffPage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }

    pub fn role_label(&self, a: &StaffAccount) -> &'static str {
        a.role().map_or("", |r| r.label_zh())
    }

    pub fn when(&self, t: &DateTime<Utc>) -> String {
        crate::http::views::format::minute(t, crate::schedule::DEFAULT_TZ)
    }

    pub fn when_opt(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref().map_or_else(|| "—".into(), |t| self.when(t))
    }

    pub fn is_me(&self, a: &StaffAccount) -> bool {
        self.layout.user.as_ref().is_some_and(|u| u.id == a.id)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<String> {
    Some(
        match code? {
            "created" => "账号已创建。",
            "disabled" => "账号已停用，它的登录已全部退出。",
            "enabled" => "账号已重新启用。",
            "reset" => "密码已重置，该账号的登录已全部退出。",
            _ => return None,
        }
        .to_string(),
    )
}

async fn page(
    state: &AppState,
    layout: Layout,
    user: &crate::accounts::User,
) -> Result<StaffPage, AppError> {
    Ok(StaffPage {
        layout,
        accounts: uc::staff_accounts(&state.db, user).await?,
        form: NewStaffValues {
            role: "lawyer".into(),
            ..Default::default()
        },
        errors: FieldErrors::default(),
        error: None,
        notice: None,
        generated: None,
    })
}

/// `GET /admin/accounts`.
pub async fn staff_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(q): Query<NoticeQuery>,
) -> AppResult<StaffPage> {
    let mut p = page(&state, layout, &user).await?;
    p.notice = notice_text(q.notice.as_deref());
    Ok(p)
}

/// The add form: the API's [`NewStaff`] and the form's `csrf` field (checked by [`CsrfForm`]).
#[derive(Debug, Deserialize)]
pub struct NewStaffForm {
    #[serde(flatten)]
    pub input: NewStaff,
}

/// `POST /admin/accounts`: the add form.
pub async fn create_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    CsrfForm(NewStaffForm { input }): CsrfForm<NewStaffForm>,
) -> AppResult<Response> {
    match uc::create_staff(&state.db, state.clock.now(), Some(&user), &input).await {
        Ok(_) => Ok(Redirect::to("/admin/accounts?notice=created").into_response()),
        Err(e @ (AccountsError::Invalid(_) | AccountsError::UsernameTaken)) => {
            let mut p = page(&state, layout, &user).await?;
            p.form = NewStaffValues {
                role: input.role,
                username: input.username,
                display_name: input.display_name,
            };
            p.error = Some(e.message_zh());
            let status = if let AccountsError::Invalid(errors) = e {
                p.errors = errors;
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                p.errors = FieldErrors::single("username", p.error.clone().unwrap_or_default());
                StatusCode::CONFLICT
            };
            Ok((status, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Show a refusal (self, last organizer, weak password) on the page itself.
async fn refused(
    state: &AppState,
    layout: Layout,
    user: &crate::accounts::User,
    e: AccountsError,
) -> AppResult<Response> {
    let status = match &e {
        AccountsError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AccountsError::DisableSelf | AccountsError::LastOrganizer => StatusCode::CONFLICT,
        _ => return Err(e.into()),
    };
    let mut p = page(state, layout, user).await?;
    p.error = Some(match &e {
        AccountsError::Invalid(errors) => AppError::Validation(errors.clone()).detail(),
        other => other.message_zh(),
    });
    Ok((status, p).into_response())
}

/// `POST /admin/accounts/{id}/disable` and `…/enable`.
pub async fn disable_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path((id, what)): Path<(i64, String)>,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    let disabled = match what.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(AppError::NotFound),
    };
    match uc::set_staff_disabled(&state.db, state.clock.now(), Some(&user), id, disabled).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/accounts?notice={what}d")).into_response()),
        Err(e) => refused(&state, layout, &user, e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    /// Empty: generate one.
    #[serde(default)]
    pub password: String,
}

/// `POST /admin/accounts/{id}/password`: a chosen password, or a generated one shown on the
/// answer page this once (never in a URL, never stored in clear).
pub async fn reset_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> AppResult<Response> {
    let chosen = Some(form.password.as_str()).filter(|p| !p.is_empty());
    match uc::reset_staff_password(&state.db, state.clock.now(), Some(&user), id, chosen).await {
        Ok((account, Some(generated))) => {
            let mut p = page(&state, layout, &user).await?;
            p.notice = notice_text(Some("reset"));
            p.generated = Some((account.username, generated));
            let mut response = p.into_response();
            // the page holds a password: no cache may keep it
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        Ok((_, None)) => Ok(Redirect::to("/admin/accounts?notice=reset").into_response()),
        Err(e) => refused(&state, layout, &user, e).await,
    }
}
