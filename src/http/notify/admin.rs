//! Notifications, the organizer's side (issue 12): the deliveries page
//! (`/admin/notifications`) and the message to everyone signed up for a session
//! (`/admin/sessions/{id}/message`, with a preview and a confirmation).

use crate::accounts::Role;
use crate::app::notify::organizer::{
    self as uc, DeliveriesPage, MessageDraft, MessagePreview, MessageTarget,
};
use crate::app::notify::NotifyError;
use crate::db::outbox_admin::{DeliveryFilter, DeliveryRow, DeliveryState};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::views::choice::Choice;
use crate::http::views::format;
use crate::http::AppState;
use crate::notify::{Channel, Kind};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_deliveries))
        .routes(routes!(api_send_message))
        .route("/admin/notifications", get(deliveries_page))
        .route(
            "/admin/sessions/{id}/message",
            get(message_page).post(message_form),
        )
}

/// The query of the deliveries page; empty values mean "all".
#[derive(Debug, Default, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
    /// After a message was sent: how many notifications it stored.
    #[serde(default)]
    pub sent: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/admin_deliveries.html")]
pub struct DeliveriesTemplate {
    pub layout: Layout,
    pub data: DeliveriesPage,
    pub sessions: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub states: Vec<Choice>,
    pub channels: Vec<Choice>,
    pub filtered: bool,
    pub notice: Option<String>,
    /// The filter as a query string (without `page`), for the paging links.
    pub filter_query: String,
}

impl DeliveriesTemplate {
    /// A time in the zone of the notification's program, or the default zone.
    pub fn local(&self, row: &DeliveryRow, t: &DateTime<Utc>) -> String {
        let tz = row
            .timezone
            .as_deref()
            .and_then(|z| Tz::from_str(z).ok())
            .unwrap_or(crate::schedule::DEFAULT_TZ);
        format::timestamp(t, tz)
    }

    pub fn attempts_of(&self, row: &DeliveryRow) -> &[crate::db::outbox_admin::AttemptRow] {
        self.data
            .attempts
            .get(&row.id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn page_link(&self, page: i64) -> String {
        if self.filter_query.is_empty() {
            format!("/admin/notifications?page={page}")
        } else {
            format!("/admin/notifications?{}&page={page}", self.filter_query)
        }
    }
}

fn choices<T: Copy + PartialEq>(
    all: impl IntoIterator<Item = T>,
    chosen: Option<T>,
    value: impl Fn(T) -> String,
    label: impl Fn(T) -> String,
) -> Vec<Choice> {
    all.into_iter()
        .map(|x| Choice {
            value: value(x),
            label: label(x),
            chosen: chosen == Some(x),
        })
        .collect()
}

fn sent_notice(sent: Option<&str>) -> Option<String> {
    let n: u64 = sent?.parse().ok()?;
    Some(if n == 0 {
        "这条通知此前已经发送过，没有重复发送。".into()
    } else {
        format!("通知已发送给 {n} 家企业：站内消息已送达，邮件和短信按各企业的设置排队发送。")
    })
}

/// `GET /admin/notifications` — deliveries newest first, with filters, paging and counts.
pub async fn deliveries_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(q): Query<DeliveriesQuery>,
) -> AppResult<DeliveriesTemplate> {
    let filter = uc::filter_from(
        q.session.as_deref(),
        q.kind.as_deref(),
        q.state.as_deref(),
        q.channel.as_deref(),
    );
    let page = q.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1);
    let data = uc::deliveries(&state.db, &user, &filter, page).await?;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(id) = filter.session_id {
        pairs.push(("session", id.to_string()));
    }
    if let Some(k) = filter.kind {
        pairs.push(("kind", k.as_str().into()));
    }
    if let Some(s) = filter.state {
        pairs.push(("state", s.as_str().into()));
    }
    if let Some(c) = filter.channel {
        pairs.push(("channel", c.as_str().into()));
    }
    let filter_query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let sessions = data
        .sessions
        .iter()
        .map(|(id, title)| Choice {
            value: id.to_string(),
            label: title.clone(),
            chosen: filter.session_id == Some(*id),
        })
        .collect();
    Ok(DeliveriesTemplate {
        layout,
        sessions,
        kinds: choices(
            Kind::ALL,
            filter.kind,
            |k| k.as_str().into(),
            |k| k.label_zh().into(),
        ),
        states: choices(
            DeliveryState::ALL,
            filter.state,
            |s| s.as_str().into(),
            |s| s.label_zh().into(),
        ),
        channels: choices(
            Channel::ALL,
            filter.channel,
            |c| c.as_str().into(),
            |c| c.label_zh().into(),
        ),
        filtered: !pairs.is_empty(),
        notice: sent_notice(q.sent.as_deref()),
        filter_query,
        data,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/admin_message.html")]
pub struct MessageTemplate {
    pub layout: Layout,
    pub target: MessageTarget,
    pub draft: MessageDraft,
    pub errors: FieldErrors,
    pub preview: Option<MessagePreview>,
    pub subject_max: usize,
    pub text_max: usize,
}

impl MessageTemplate {
    pub fn err(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_string()
    }

    pub fn when(&self) -> String {
        format::when_zh(
            self.target.session.starts_at.as_ref(),
            self.target.session.tz(),
        )
    }

    fn new(layout: Layout, target: MessageTarget, draft: MessageDraft) -> MessageTemplate {
        MessageTemplate {
            layout,
            target,
            draft,
            errors: FieldErrors::default(),
            preview: None,
            subject_max: uc::SUBJECT_MAX_CHARS,
            text_max: uc::TEXT_MAX_CHARS,
        }
    }
}

/// `GET /admin/sessions/{id}/message` — an empty form with a fresh message id.
pub async fn message_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<MessageTemplate> {
    let user = user.require(Role::Organizer)?;
    let target = uc::message_target(&state.db, user, id).await?;
    Ok(MessageTemplate::new(layout, target, MessageDraft::new()))
}

/// The message form as posted.
#[derive(Debug, Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub include_waitlist: Option<String>,
    /// `preview` (预览) or `send` (确认发送).
    #[serde(default)]
    pub action: String,
}

/// `POST /admin/sessions/{id}/message` — 预览 renders the message and its reach; 确认发送
/// stores it for every recipient and goes to the deliveries of the session.
pub async fn message_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<MessageForm>,
) -> AppResult<Response> {
    let user = user.require(Role::Organizer)?;
    let draft = MessageDraft {
        message_id: form.message_id,
        subject: form.subject,
        text: form.text,
        include_waitlist: form.include_waitlist.is_some_and(|v| !v.is_empty()),
    };
    let outcome = if form.action == "send" {
        uc::send_message(&state.db, state.clock.now(), user, id, &draft)
            .await
            .map(|sent| {
                Redirect::to(&format!(
                    "/admin/notifications?session={id}&sent={}",
                    sent.stored
                ))
                .into_response()
            })
    } else {
        uc::preview_message(&state.db, user, id, &draft)
            .await
            .map(|(target, preview)| {
                let mut page = MessageTemplate::new(layout.clone(), target, preview.draft.clone());
                page.preview = Some(preview);
                page.into_response()
            })
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(NotifyError::Invalid(errors)) => {
            let target = uc::message_target(&state.db, user, id).await?;
            let mut page = MessageTemplate::new(layout, target, draft);
            page.errors = errors;
            // a message id that did not parse is replaced, so the corrected form can be sent
            if !page.err("message_id").is_empty() {
                page.draft.message_id = MessageDraft::new().message_id;
            }
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The deliveries list's filter in the API; a value left out means "all".
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiDeliveriesQuery {
    /// Only notifications about this session.
    pub session: Option<i64>,
    pub kind: Option<Kind>,
    pub state: Option<DeliveryState>,
    pub channel: Option<Channel>,
    /// 1-based page of 50 deliveries (default 1).
    pub page: Option<i64>,
}

/// One attempt to deliver.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    pub started_at: DateTime<Utc>,
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    /// `sent` or `error`; null while running or when its worker died.
    #[schema(required = true)]
    pub outcome: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
}

/// A delivery by e-mail or SMS. The recipient is named, never addressed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub notification_id: i64,
    pub kind: Kind,
    pub title: String,
    /// Enterprise name or staff display name.
    pub recipient: String,
    pub channel: Channel,
    pub state: DeliveryState,
    pub attempts: i64,
    pub max_attempts: i64,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub session_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// When a queued delivery is tried next.
    pub next_attempt_at: DateTime<Utc>,
    #[schema(required = true)]
    pub sent_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<AttemptView>,
}

/// Counts for the filter (without its state): deliveries per state, and the notifications
/// stored, of which `inbox_only` have no delivery at all.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliverySummaryView {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
    pub notifications: i64,
    pub inbox_only: i64,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub summary: DeliverySummaryView,
    pub deliveries: Vec<DeliveryView>,
}

/// Deliveries with their state, attempts and last error (organizer), filtered and paged
/// (50 per page).
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "notifications",
    params(ApiDeliveriesQuery), security(("pufa_session" = [])),
    responses((status = 200, body = DeliveryList), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn api_deliveries(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ApiDeliveriesQuery>,
) -> AppResult<Json<DeliveryList>> {
    let filter = DeliveryFilter {
        session_id: q.session,
        kind: q.kind,
        state: q.state,
        channel: q.channel,
    };
    let mut data = uc::deliveries(&state.db, &user, &filter, q.page.unwrap_or(1)).await?;
    let count = |s: DeliveryState| {
        data.summary
            .per_state
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n)
    };
    let summary = DeliverySummaryView {
        queued: count(DeliveryState::Queued),
        sending: count(DeliveryState::Sending),
        sent: count(DeliveryState::Sent),
        failed: count(DeliveryState::Failed),
        skipped: count(DeliveryState::Skipped),
        notifications: data.summary.notifications,
        inbox_only: data.summary.inbox_only,
    };
    let deliveries = std::mem::take(&mut data.rows)
        .into_iter()
        .map(|d| DeliveryView {
            attempt_log: data
                .attempts
                .remove(&d.id)
                .unwrap_or_default()
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    started_at: a.started_at,
                    finished_at: a.finished_at,
                    outcome: a.outcome,
                    error: a.error,
                })
                .collect(),
            id: d.id,
            notification_id: d.notification_id,
            kind: d.kind,
            title: d.title,
            recipient: d.recipient,
            channel: d.channel,
            state: d.state,
            attempts: d.attempts,
            max_attempts: d.max_attempts,
            last_error: d.last_error,
            session_id: d.session_id,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            sent_at: d.sent_at,
        })
        .collect();
    Ok(Json(DeliveryList {
        total: data.total,
        page: data.page,
        pages: data.pages,
        summary,
        deliveries,
    }))
}

/// An organizer's message to everyone signed up for a session.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"message_id": "6f1c1d3e-2f0a-4d7e-9a55-0b6c1d2e3f40",
    "subject": "直播链接更新", "text": "请于开课前十分钟进入课程页面。", "include_waitlist": false}))]
pub struct SessionMessageRequest {
    /// A UUID chosen by the client: sending the same id again sends nothing (safe retries).
    /// Left out, the server picks one.
    #[serde(default)]
    pub message_id: Option<String>,
    /// At most 60 characters, one line.
    #[schema(required = true)]
    #[serde(default)]
    pub subject: String,
    /// At most 1000 characters.
    #[schema(required = true)]
    #[serde(default)]
    pub text: String,
    /// Also tell the waitlisted enterprises (default: confirmed only).
    #[serde(default)]
    pub include_waitlist: bool,
}

/// What a message reached.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionMessageAnswer {
    pub message_id: String,
    /// Enterprises signed up (and included) now.
    pub recipients: u64,
    /// Notifications stored by this request; 0 when this message id was sent before.
    pub stored: u64,
}

/// Send a message to everyone signed up for a session (organizer), through the outbox: the
/// inbox of each recipient, and mail or SMS as each one chose.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "notifications",
    params(("id" = i64, Path)), request_body = SessionMessageRequest,
    security(("pufa_session" = [])),
    responses((status = 201, body = SessionMessageAnswer, description = "sent"),
              (status = 200, body = SessionMessageAnswer, description = "this message id was sent before; nothing new"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_send_message(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(req): Json<SessionMessageRequest>,
) -> AppResult<Response> {
    let draft = MessageDraft {
        message_id: req
            .message_id
            .unwrap_or_else(|| MessageDraft::new().message_id),
        subject: req.subject,
        text: req.text,
        include_waitlist: req.include_waitlist,
    };
    let sent = uc::send_message(&state.db, state.clock.now(), &user, id, &draft).await?;
    let status = if sent.stored > 0 {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    let message_id = uc::validate_draft(&draft)
        .map(|d| d.message_id)
        .unwrap_or(draft.message_id);
    Ok((
        status,
        Json(SessionMessageAnswer {
            message_id,
            recipients: sent.recipients,
            stored: sent.stored,
        }),
    )
        .into_response())
}
