//! Contacts, their verification and the one-click unsubscribe (issue 12).
//!
//! `GET/POST /api/v1/me/contacts`, `POST /api/v1/me/contacts/verify` and their page
//! `/me/contacts` call the same use cases (`crate::app::notify::contacts`). Any logged-in
//! account manages its own contacts only. `GET /unsubscribe/{token}` asks for a confirmation;
//! `POST /unsubscribe/{token}` — the RFC 8058 one-click target mail clients post to without a
//! browser, a cookie or a form token — takes effect: the signed token is the credential.

use crate::app::notify::contacts::{self as uc, CodeSent};
use crate::app::notify::NotifyError;
use crate::db::contacts::ContactRow;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::notify::ContactKind;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(api_contacts, api_add_contact))
        .routes(utoipa_axum::routes!(api_verify_contact))
        .route("/me/contacts", get(contacts_page).post(add_contact_form))
        .route("/me/contacts/verify", post(verify_contact_form))
        .route("/me/contacts/resubscribe", post(resubscribe_form))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe_post),
        )
}

/// A contact as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub kind: ContactKind,
    /// The e-mail address or 11-digit mobile.
    pub value: String,
    /// Mail or SMS goes only to a verified contact.
    pub verified: bool,
    #[schema(required = true)]
    pub verified_at: Option<DateTime<Utc>>,
    /// E-mail only: set when the account unsubscribed from all mail (one-click link).
    #[schema(required = true)]
    pub email_unsubscribed_at: Option<DateTime<Utc>>,
}

impl From<ContactRow> for ContactView {
    fn from(c: ContactRow) -> Self {
        ContactView {
            kind: c.kind,
            verified: c.verified_at.is_some(),
            value: c.value,
            verified_at: c.verified_at,
            email_unsubscribed_at: c.email_unsubscribed_at,
        }
    }
}

/// The account's contacts and which channels this server can verify through.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactsView {
    pub contacts: Vec<ContactView>,
    /// Mail can be sent (an SMTP server is configured).
    pub email_available: bool,
    /// SMS can be sent (a gateway is configured).
    pub sms_available: bool,
}

/// The own contacts.
#[utoipa::path(get, path = "/api/v1/me/contacts", tag = "notifications",
    security(("pufa_session" = [])),
    responses((status = 200, body = ContactsView), (status = 401, response = Unauthorized)))]
pub async fn api_contacts(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<ContactsView>> {
    let contacts = uc::contacts(&state.db, user.id).await?;
    Ok(Json(ContactsView {
        contacts: contacts.into_iter().map(ContactView::from).collect(),
        email_available: state.channels.mail.is_some(),
        sms_available: state.channels.sms.is_some(),
    }))
}

/// A contact to add or change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "email", "value": "li.wei@example.cn"}))]
pub struct ContactRequest {
    pub kind: ContactKind,
    /// An e-mail address, or a mainland mobile (`+86`, spaces and dashes are accepted).
    #[serde(default)]
    #[schema(required = true)]
    pub value: String,
}

/// A code that was sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeSentView {
    pub kind: ContactKind,
    /// The address as stored (normalized).
    pub value: String,
    /// The code is valid until then (10 minutes).
    pub code_expires_at: DateTime<Utc>,
}

impl From<CodeSent> for CodeSentView {
    fn from(c: CodeSent) -> Self {
        CodeSentView {
            kind: c.kind,
            value: c.value,
            code_expires_at: c.expires_at,
        }
    }
}

/// Add or change the e-mail address or mobile and send it a 6-digit code through its channel.
///
/// The value is stored unverified (a changed value loses its verification) until the code is
/// confirmed with `POST /api/v1/me/contacts/verify`. One code a minute and five an hour per
/// account and kind (429 with `Retry-After`); 409 `channel_unavailable` when this server has
/// no mail server or SMS gateway.
#[utoipa::path(post, path = "/api/v1/me/contacts", tag = "notifications",
    security(("pufa_session" = [])), request_body = ContactRequest,
    responses((status = 202, body = CodeSentView, description = "the code is on its way"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable), (status = 429, response = TooManyRequests)))]
pub async fn api_add_contact(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<ContactRequest>,
) -> AppResult<Response> {
    let sent = uc::add_contact(
        &state.db,
        &state.channels,
        state.clock.now(),
        user.id,
        req.kind,
        &req.value,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(CodeSentView::from(sent))).into_response())
}

/// A code to confirm.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "email", "code": "042137"}))]
pub struct VerifyRequest {
    pub kind: ContactKind,
    #[serde(default)]
    #[schema(required = true)]
    pub code: String,
}

/// Confirm a contact with the code it received. 409 `bad_code` for a wrong, expired or used-up
/// code (five tries per code).
#[utoipa::path(post, path = "/api/v1/me/contacts/verify", tag = "notifications",
    security(("pufa_session" = [])), request_body = VerifyRequest,
    responses((status = 200, body = ContactView, description = "verified"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_verify_contact(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<VerifyRequest>,
) -> AppResult<Json<ContactView>> {
    let contact =
        uc::verify_contact(&state.db, state.clock.now(), user.id, req.kind, &req.code).await?;
    Ok(Json(ContactView::from(contact)))
}

/// One contact kind on the page.
pub struct ContactBox {
    pub kind: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub value: String,
    pub verified: bool,
    /// E-mail only.
    pub unsubscribed: bool,
    pub available: bool,
    /// The code field is shown (a code was sent and not yet confirmed).
    pub code_pending: bool,
    pub hint: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/contacts.html")]
pub struct ContactsPage {
    pub layout: Layout,
    pub boxes: Vec<ContactBox>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub sent: Option<String>,
    #[serde(default)]
    pub verified: Option<String>,
    #[serde(default)]
    pub resubscribed: Option<String>,
}

fn kind_param(s: &str) -> Option<ContactKind> {
    match s {
        "email" => Some(ContactKind::Email),
        "mobile" => Some(ContactKind::Mobile),
        _ => None,
    }
}

/// The page with its two boxes; `typed` keeps what the account entered after an error.
async fn render_page(
    state: &AppState,
    layout: Layout,
    user_id: i64,
    pending: Option<ContactKind>,
    typed: Option<(ContactKind, String)>,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<ContactsPage> {
    let stored = uc::contacts(&state.db, user_id).await?;
    // the enterprise's registered mobile is the default for SMS
    let registered_mobile = state.db.enterprise(user_id).await?.map(|e| e.mobile);
    let mut boxes = Vec::new();
    for kind in [ContactKind::Mobile, ContactKind::Email] {
        let row = stored.iter().find(|c| c.kind == kind);
        let value = match (&typed, row) {
            (Some((k, v)), _) if *k == kind => v.clone(),
            (_, Some(r)) => r.value.clone(),
            (_, None) if kind == ContactKind::Mobile => {
                registered_mobile.clone().unwrap_or_default()
            }
            _ => String::new(),
        };
        boxes.push(ContactBox {
            kind: kind.as_str(),
            label: kind.label_zh(),
            input_type: match kind {
                ContactKind::Email => "email",
                ContactKind::Mobile => "tel",
            },
            verified: row.is_some_and(|r| r.verified_at.is_some() && r.value == value),
            unsubscribed: row.is_some_and(|r| r.email_unsubscribed_at.is_some()),
            available: state.channels.has(kind.channel()),
            // a code was just sent, or an entered value still waits for its code
            code_pending: pending == Some(kind)
                || row.is_some_and(|r| r.verified_at.is_none() && r.value == value),
            value,
            hint: match kind {
                ContactKind::Email => "接收报名、转正、提醒等邮件",
                ContactKind::Mobile => "接收候补转正、时间调整、开课提醒等短信",
            },
        });
    }
    Ok(ContactsPage {
        layout,
        boxes,
        notice,
        error,
    })
}

/// `GET /me/contacts`
pub async fn contacts_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(q): Query<PageQuery>,
) -> AppResult<ContactsPage> {
    let pending = q.sent.as_deref().and_then(kind_param);
    let notice = if let Some(k) = pending {
        Some(format!(
            "验证码已发送到您的{}，10 分钟内有效。",
            k.label_zh()
        ))
    } else if let Some(k) = q.verified.as_deref().and_then(kind_param) {
        Some(format!("{}已验证。", k.label_zh()))
    } else if q.resubscribed.is_some() {
        Some("已恢复接收邮件通知。".to_string())
    } else {
        None
    };
    render_page(&state, layout, user.id, pending, None, notice, None).await
}

#[derive(Debug, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub value: String,
}

/// The Chinese message of an error the page shows in place; others become the error page.
fn inline_message(e: NotifyError) -> Result<(StatusCode, String), AppError> {
    match e {
        NotifyError::Invalid(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .0
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        )),
        e @ (NotifyError::Throttled { .. }
        | NotifyError::BadCode
        | NotifyError::ChannelUnavailable(_)) => {
            let e = AppError::from(e);
            Ok((e.status(), e.detail()))
        }
        e => Err(e.into()),
    }
}

/// `POST /me/contacts`: 发送验证码.
pub async fn add_contact_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> AppResult<Response> {
    let kind = kind_param(&form.kind).ok_or_else(|| AppError::field("kind", "请选择联系方式"))?;
    match uc::add_contact(
        &state.db,
        &state.channels,
        state.clock.now(),
        user.id,
        kind,
        &form.value,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/me/contacts?sent={}", kind.as_str())).into_response()),
        Err(e) => {
            let (status, message) = inline_message(e)?;
            let page = render_page(
                &state,
                layout,
                user.id,
                None,
                Some((kind, form.value)),
                None,
                Some(message),
            )
            .await?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub code: String,
}

/// `POST /me/contacts/verify`: 验证.
pub async fn verify_contact_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> AppResult<Response> {
    let kind = kind_param(&form.kind).ok_or_else(|| AppError::field("kind", "请选择联系方式"))?;
    match uc::verify_contact(&state.db, state.clock.now(), user.id, kind, &form.code).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/me/contacts?verified={}", kind.as_str())).into_response())
        }
        Err(e) => {
            let (status, message) = inline_message(e)?;
            let page = render_page(
                &state,
                layout,
                user.id,
                Some(kind),
                None,
                None,
                Some(message),
            )
            .await?;
            Ok((status, page).into_response())
        }
    }
}

/// `POST /me/contacts/resubscribe`: 恢复接收邮件.
pub async fn resubscribe_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    uc::resubscribe(&state.db, user.id).await?;
    Ok(Redirect::to("/me/contacts?resubscribed=1").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/unsubscribe.html")]
pub struct UnsubscribePage {
    pub layout: Layout,
    pub token: String,
    pub done: bool,
}

fn bad_token() -> AppError {
    AppError::bad_request(
        "bad_unsubscribe_link",
        "退订链接无效或不完整，请从邮件中完整复制链接，或登录后在“联系方式”中管理。",
    )
}

/// `GET /unsubscribe/{token}`: what the link in a mail opens — a confirmation, so that a
/// mail scanner following links does not unsubscribe anyone.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    layout: Layout,
    Path(token): Path<String>,
) -> AppResult<UnsubscribePage> {
    if uc::unsubscribe_target(&state.db, &token).await?.is_none() {
        return Err(bad_token());
    }
    Ok(UnsubscribePage {
        layout,
        token,
        done: false,
    })
}

/// `POST /unsubscribe/{token}`: the confirmation's button, and the RFC 8058 one-click POST
/// (`List-Unsubscribe=One-Click`) a mail client sends by itself. No login and no form token:
/// the signed token names the account and is the credential; the body is not needed.
pub async fn unsubscribe_post(
    State(state): State<AppState>,
    layout: Layout,
    Path(token): Path<String>,
) -> AppResult<UnsubscribePage> {
    match uc::unsubscribe(&state.db, state.clock.now(), &token).await? {
        Some(_) => Ok(UnsubscribePage {
            layout,
            token,
            done: true,
        }),
        None => Err(bad_token()),
    }
}
