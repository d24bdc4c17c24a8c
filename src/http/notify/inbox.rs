//! The inbox and notification preferences of the logged-in account: the JSON API and the
//! pages `/me/notifications` and `/me/notifications/settings`. The bell with the unread count
//! on every page is in the layout (`crate::http::layout`).

use crate::app::notify::inbox::{self as uc, Choice, Preference, Preferences};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::notify::{Channel, Kind};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_inbox))
        .routes(routes!(api_mark_read))
        .routes(routes!(api_mark_all_read))
        .routes(routes!(api_preferences, api_set_preferences))
        .route("/me/notifications", get(inbox_page))
        .route("/me/notifications/{id}/open", post(open_form))
        .route("/me/notifications/read-all", post(read_all_form))
        .route(
            "/me/notifications/settings",
            get(prefs_page).post(prefs_form),
        )
}

/// A notification in the inbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationItem {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    /// Plain text; lines are separated by `\n`.
    pub body: String,
    /// Site-relative link to what it is about (`/sessions/7`).
    #[schema(required = true)]
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was first marked read; `null` while unread.
    #[schema(required = true)]
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of the own inbox, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxAnswer {
    pub items: Vec<NotificationItem>,
    /// Unread notifications in the whole inbox (the bell's number).
    pub unread: i64,
    /// Pass as `before` to get the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_before: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// The own notifications, newest first, `limit` (1–100, default 20) at a time; the next page
/// starts `before` the last id of this one.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    params(("before" = Option<i64>, Query, description = "only notifications with a smaller id (the previous page's `next_before`)"),
           ("limit" = Option<i64>, Query, description = "page size, 1–100 (default 20)")),
    security(("pufa_session" = [])),
    responses((status = 200, body = InboxAnswer),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 422, response = Unprocessable)))]
pub async fn api_inbox(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<InboxQuery>,
) -> AppResult<Json<InboxAnswer>> {
    let page = uc::list(&state.db, &user, q.before, q.limit).await?;
    Ok(Json(InboxAnswer {
        items: page
            .items
            .into_iter()
            .map(|r| NotificationItem {
                id: r.id,
                kind: r.kind,
                title: r.title,
                body: r.body,
                link: r.link,
                created_at: r.created_at,
                read_at: r.read_at,
            })
            .collect(),
        unread: page.unread,
        next_before: page.next_before,
    }))
}

/// Mark one own notification read (again is harmless: the first time is kept). 404 for an id
/// that is not the account's.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 204, description = "read"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound)))]
pub async fn api_mark_read(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    uc::mark_read(&state.db, state.clock.now(), &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark every own notification read.
#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications",
    security(("pufa_session" = [])),
    responses((status = 204, description = "all read"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn api_mark_all_read(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<StatusCode> {
    uc::mark_all_read(&state.db, state.clock.now(), &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a kind of notification goes out by e-mail and by SMS (the inbox always has it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreferenceItem {
    pub kind: Kind,
    /// The kind's name in Chinese.
    pub label: String,
    pub email: bool,
    pub sms: bool,
}

/// A contact as the preferences show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactInfo {
    /// `null` when none is given.
    #[schema(required = true)]
    pub value: Option<String>,
    /// Mail and SMS go only to a verified contact (verify at `/me/contacts`).
    pub verified: bool,
}

/// The account's e-mail address and mobile for notifications.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactsInfo {
    pub email: ContactInfo,
    pub mobile: ContactInfo,
}

/// Every kind of notification with its channels, and the contacts they go to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreferencesAnswer {
    pub items: Vec<PreferenceItem>,
    pub contacts: ContactsInfo,
}

impl From<Preferences> for PreferencesAnswer {
    fn from(p: Preferences) -> Self {
        let contact = |c: uc::ContactState| ContactInfo {
            value: c.value,
            verified: c.verified,
        };
        PreferencesAnswer {
            items: p
                .items
                .into_iter()
                .map(|i| PreferenceItem {
                    kind: i.kind,
                    label: i.kind.label_zh().to_string(),
                    email: i.email,
                    sms: i.sms,
                })
                .collect(),
            contacts: ContactsInfo {
                email: contact(p.email),
                mobile: contact(p.mobile),
            },
        }
    }
}

/// A choice for one kind.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceChoice {
    /// The kind's name (`promoted`, `reminder`, … as `GET` lists them).
    pub kind: String,
    pub email: bool,
    pub sms: bool,
}

/// New choices; kinds not listed keep theirs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [{"kind": "reminder", "email": true, "sms": false}]}))]
pub struct PreferencesRequest {
    pub items: Vec<PreferenceChoice>,
}

/// The own notification preferences: per kind, e-mail and SMS on or off (the kind's default
/// until chosen), and whether the contacts they go to are verified.
#[utoipa::path(get, path = "/api/v1/me/notification-preferences", tag = "notifications",
    security(("pufa_session" = [])),
    responses((status = 200, body = PreferencesAnswer), (status = 401, response = Unauthorized)))]
pub async fn api_preferences(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<PreferencesAnswer>> {
    Ok(Json(uc::preferences(&state.db, &user).await?.into()))
}

/// Change the own preferences for the kinds listed. 422 for an unknown or repeated kind
/// (nothing is saved then).
#[utoipa::path(put, path = "/api/v1/me/notification-preferences", tag = "notifications",
    request_body = PreferencesRequest, security(("pufa_session" = [])),
    responses((status = 200, body = PreferencesAnswer, description = "saved; the preferences as they now are"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable)))]
pub async fn api_set_preferences(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<PreferencesRequest>,
) -> AppResult<Json<PreferencesAnswer>> {
    let choices: Vec<Choice> = req
        .items
        .into_iter()
        .map(|c| Choice {
            kind: c.kind,
            email: c.email,
            sms: c.sms,
        })
        .collect();
    Ok(Json(
        uc::set_preferences(&state.db, &user, &choices)
            .await?
            .into(),
    ))
}

/// A notification as the inbox page shows it.
pub struct InboxEntry {
    pub id: i64,
    pub kind_label: &'static str,
    pub title: String,
    pub body: String,
    pub has_link: bool,
    pub when: String,
    pub unread: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/inbox.html")]
pub struct InboxPage {
    pub layout: Layout,
    pub entries: Vec<InboxEntry>,
    pub unread: i64,
    /// The link to the next (older) page.
    pub older: Option<String>,
    /// Whether this is a later page (a link back to the newest).
    pub paged: bool,
    pub notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InboxPageQuery {
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "all-read" => Some("已全部标为已读。"),
        "saved" => Some("通知设置已保存。"),
        _ => None,
    }
}

pub async fn inbox_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(q): Query<InboxPageQuery>,
) -> AppResult<InboxPage> {
    let page = uc::list(&state.db, &user, q.before, None).await?;
    let tz = crate::schedule::DEFAULT_TZ;
    Ok(InboxPage {
        entries: page
            .items
            .into_iter()
            .map(|r| InboxEntry {
                id: r.id,
                kind_label: r.kind.label_zh(),
                unread: r.is_unread(),
                has_link: r.link.as_deref().is_some_and(uc::is_site_path),
                title: r.title,
                body: r.body,
                when: crate::http::views::format::datetime_zh(&r.created_at, tz),
            })
            .collect(),
        unread: page.unread,
        older: page
            .next_before
            .map(|b| format!("/me/notifications?before={b}")),
        paged: q.before.is_some(),
        notice: notice_text(q.notice.as_deref()),
        layout,
    })
}

/// Opening an entry: mark it read, then go where it points (or back to the inbox).
pub async fn open_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> AppResult<Response> {
    let link = uc::mark_read(&state.db, state.clock.now(), &user, id).await?;
    let to = link.unwrap_or_else(|| "/me/notifications".into());
    Ok(Redirect::to(&to).into_response())
}

pub async fn read_all_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> AppResult<Response> {
    uc::mark_all_read(&state.db, state.clock.now(), &user).await?;
    Ok(Redirect::to("/me/notifications?notice=all-read").into_response())
}

/// A row of the settings grid.
pub struct PrefRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub email: bool,
    pub sms: bool,
}

/// A channel as the settings page explains it.
pub struct ChannelNote {
    pub label: &'static str,
    pub contact_label: &'static str,
    /// The contact's value when verified.
    pub verified: Option<String>,
    /// A contact given but not yet verified.
    pub unverified: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/prefs.html")]
pub struct PrefsPage {
    pub layout: Layout,
    pub rows: Vec<PrefRow>,
    pub channels: Vec<ChannelNote>,
    pub notice: Option<&'static str>,
}

fn prefs_rows(items: &[Preference]) -> Vec<PrefRow> {
    items
        .iter()
        .map(|p| PrefRow {
            kind: p.kind.as_str(),
            label: p.kind.label_zh(),
            email: p.email,
            sms: p.sms,
        })
        .collect()
}

fn channel_notes(p: &Preferences) -> Vec<ChannelNote> {
    Channel::ALL
        .into_iter()
        .map(|channel| {
            let c = p.contact(channel);
            ChannelNote {
                label: channel.label_zh(),
                contact_label: channel.contact().label_zh(),
                verified: c.value.clone().filter(|_| c.verified),
                unverified: c.value.is_some() && !c.verified,
            }
        })
        .collect()
}

pub async fn prefs_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(q): Query<InboxPageQuery>,
) -> AppResult<PrefsPage> {
    let prefs = uc::preferences(&state.db, &user).await?;
    Ok(PrefsPage {
        layout,
        rows: prefs_rows(&prefs.items),
        channels: channel_notes(&prefs),
        notice: notice_text(q.notice.as_deref()),
    })
}

/// The settings form: one checkbox per kind and channel (`{kind}.email`, `{kind}.sms`); a box
/// left unticked is not sent, so every kind is saved, off unless ticked.
pub async fn prefs_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> AppResult<Response> {
    let ticked = |kind: Kind, channel: Channel| {
        form.contains_key(&format!("{}.{}", kind.as_str(), channel.as_str()))
    };
    let choices: Vec<Choice> = Kind::ALL
        .into_iter()
        .map(|kind| Choice {
            kind: kind.as_str().to_string(),
            email: ticked(kind, Channel::Email),
            sms: ticked(kind, Channel::Sms),
        })
        .collect();
    uc::set_preferences(&state.db, &user, &choices).await?;
    Ok(Redirect::to("/me/notifications/settings?notice=saved").into_response())
}
