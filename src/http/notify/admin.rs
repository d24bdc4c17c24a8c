//! Notifications, the organizer's side (issue 12): the deliveries page
//! (`/admin/notifications`) and the message to everyone signed up for a session
//! (`/admin/sessions/{id}/message`, with a preview and a confirmation).

use crate::accounts::Role;
use crate::app::notify::organizer::{
    self as uc, DeliveriesPage, MessageDraft, MessagePreview, MessageTarget,
};
use crate::app::notify::NotifyError;
use crate::db::outbox_admin::{DeliveryRow, DeliveryState};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
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
use serde::Deserialize;
use std::str::FromStr;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
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
