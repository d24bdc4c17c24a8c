//! Public Q&A entries over HTTP: the public `/qa` list and `/qa/{id}` (no login), the publish
//! form of an answered thread (`/questions/{id}/publish`), the organizers' review
//! (`/admin/qa`), and their API twins. Every handler calls [`crate::app::qa::publication`].

use crate::accounts::industry::{self, SECTIONS};
use crate::accounts::User;
use crate::app::qa::publication::{self as uc, Draft, PublicQuery, PublicationInput};
use crate::checkup::questionnaire::Questionnaire;
use crate::db::qa_entries::{EntryRow, EntryStatus, SessionChoice};
use crate::error::{AppError, AppResult};
use crate::http::auth::{CurrentUser, MaybeUser};
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::views::format::timestamp;
use crate::http::AppState;
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_entry))
        .routes(routes!(api_publish))
        .routes(routes!(api_approve))
        .routes(routes!(api_withdraw))
        .route("/qa", get(list_page))
        .route("/qa/{id}", get(entry_page))
        .route(
            "/questions/{id}/publish",
            get(publish_page).post(publish_form),
        )
        .route("/admin/qa", get(admin_page))
        .route("/admin/qa/{id}/{action}", post(admin_action))
}

/// Characters of an entry's excerpt in lists.
const EXCERPT_CHARS: usize = 90;

fn zone() -> chrono_tz::Tz {
    crate::schedule::DEFAULT_TZ
}

/// The name of a GB/T 4754 section, or "不限行业".
fn industry_label(code: Option<&str>) -> String {
    code.and_then(industry::name_of)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "不限行业".to_string())
}

/// An entry's text as HTML, through the same safe Markdown renderer as the answers it was
/// made from.
fn body_html(markdown: &str) -> String {
    crate::qa::markdown::to_html(markdown)
}

// ---------------------------------------------------------------------------------------------
// Views

/// An entry in the public list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntrySummary {
    pub id: i64,
    pub title: String,
    /// The first characters of the text, without Markdown marks.
    pub excerpt: String,
    /// GB/T 4754 section; null: any industry.
    #[schema(required = true)]
    pub industry: Option<String>,
    /// Check-up dimension id.
    pub topic: String,
    #[schema(required = true)]
    pub published_at: Option<DateTime<Utc>>,
}

impl From<&EntryRow> for EntrySummary {
    fn from(e: &EntryRow) -> Self {
        EntrySummary {
            id: e.id,
            title: e.title.clone(),
            excerpt: uc::excerpt(&e.body, EXCERPT_CHARS),
            industry: e.industry.clone(),
            topic: e.topic.clone(),
            published_at: e.published_at,
        }
    }
}

/// A page of published entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryListView {
    pub entries: Vec<EntrySummary>,
    /// Entries matching the filters, on all pages.
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

/// A lecture an entry links to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkedLecture {
    /// Session id (`/sessions/{id}`).
    pub id: i64,
    pub title: String,
    pub category: String,
    #[schema(required = true)]
    pub starts_at: Option<DateTime<Utc>>,
}

impl From<&SessionChoice> for LinkedLecture {
    fn from(s: &SessionChoice) -> Self {
        LinkedLecture {
            id: s.id,
            title: s.title.clone(),
            category: s.category.clone(),
            starts_at: s.starts_at,
        }
    }
}

/// One entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub id: i64,
    /// `published` for everyone; organizers also see `proposed` and `withdrawn` ones.
    pub status: EntryStatus,
    pub title: String,
    /// Markdown.
    pub body: String,
    #[schema(required = true)]
    pub industry: Option<String>,
    pub topic: String,
    /// The topic's name (the check-up dimension).
    pub topic_name: String,
    #[schema(required = true)]
    pub published_at: Option<DateTime<Utc>>,
    /// Lectures chosen for it, then lectures of its topic.
    pub lectures: Vec<LinkedLecture>,
}

fn entry_view(q: &Questionnaire, e: &EntryRow, lectures: &[SessionChoice]) -> EntryView {
    EntryView {
        id: e.id,
        status: e.status,
        title: e.title.clone(),
        body: e.body.clone(),
        industry: e.industry.clone(),
        topic: e.topic.clone(),
        topic_name: uc::topic_name(q, &e.topic),
        published_at: e.published_at,
        lectures: lectures.iter().map(LinkedLecture::from).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Public list and entry

/// Filters of `/qa` and `GET /api/v1/qa`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// GB/T 4754 section letter.
    #[serde(default)]
    pub industry: Option<String>,
    /// Check-up dimension id (e.g. `labour`).
    #[serde(default)]
    pub topic: Option<String>,
    /// Search in titles and texts (Chinese substrings; two characters are enough).
    #[serde(default)]
    pub q: Option<String>,
    /// 1-based page.
    #[serde(default)]
    pub page: Option<String>,
}

impl ListQuery {
    fn to_public(&self) -> PublicQuery {
        PublicQuery {
            industry: self.industry.clone(),
            topic: self.topic.clone(),
            q: self.q.clone(),
            page: self
                .page
                .as_deref()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(1),
        }
    }
}

/// Published Q&A entries (no login), newest first, 20 a page, filtered by industry and topic
/// and searched like the archive. Unknown filter values are ignored.
#[utoipa::path(get, path = "/api/v1/qa", tag = "qa", params(ListQuery),
    responses((status = 200, body = EntryListView), (status = 400, response = BadRequest)))]
pub async fn api_list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<EntryListView>> {
    let page = uc::list(&state.db, state.questionnaires.current(), &q.to_public()).await?;
    Ok(Json(EntryListView {
        entries: page.entries.iter().map(EntrySummary::from).collect(),
        total: page.total,
        page: page.page,
        pages: page.pages,
    }))
}

/// A published Q&A entry with its lectures (no login). 404 for an entry that is not
/// published (organizers see every entry).
#[utoipa::path(get, path = "/api/v1/qa/{id}", tag = "qa", params(("id" = i64, Path)),
    responses((status = 200, body = EntryView), (status = 404, response = NotFound)))]
pub async fn api_entry(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<Json<EntryView>> {
    let q = state.questionnaires.current();
    let (entry, lectures) = uc::entry(&state.db, q, user.as_ref(), id).await?;
    Ok(Json(entry_view(q, &entry, &lectures)))
}

/// A choice of a filter menu.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
}

/// An entry of the list page.
pub struct EntryLine {
    pub id: i64,
    pub title: String,
    pub excerpt: String,
    pub industry: String,
    pub topic: String,
    pub date: String,
}

fn entry_line(q: &Questionnaire, e: &EntryRow) -> EntryLine {
    EntryLine {
        id: e.id,
        title: e.title.clone(),
        excerpt: uc::excerpt(&e.body, EXCERPT_CHARS),
        industry: industry_label(e.industry.as_deref()),
        topic: uc::topic_name(q, &e.topic),
        date: e
            .published_at
            .map(|t| t.with_timezone(&zone()).format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
    }
}

/// `/qa`: the public list.
#[derive(Template, WebTemplate)]
#[template(path = "qa/qa_list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub entries: Vec<EntryLine>,
    pub topics: Vec<Choice>,
    pub industries: Vec<Choice>,
    pub q: String,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub filtered: bool,
    /// The query string without `page`, for the pager links.
    pub base_query: String,
}

fn topic_choices(q: &Questionnaire, chosen: Option<&str>) -> Vec<Choice> {
    q.dimensions
        .iter()
        .map(|d| Choice {
            value: d.id.clone(),
            label: d.name.clone(),
            chosen: chosen == Some(d.id.as_str()),
        })
        .collect()
}

fn industry_choices(chosen: Option<&str>) -> Vec<Choice> {
    SECTIONS
        .iter()
        .map(|(c, name)| Choice {
            value: c.to_string(),
            label: format!("{c} {name}"),
            chosen: chosen == Some(c.to_string().as_str()),
        })
        .collect()
}

/// `GET /qa[?industry=&topic=&q=&page=]`.
pub async fn list_page(
    State(state): State<AppState>,
    layout: Layout,
    Query(query): Query<ListQuery>,
) -> AppResult<ListPage> {
    let q = state.questionnaires.current();
    let page = uc::list(&state.db, q, &query.to_public()).await?;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(i) = &page.industry {
        pairs.push(("industry", i.clone()));
    }
    if let Some(t) = &page.topic {
        pairs.push(("topic", t.clone()));
    }
    if let Some(text) = &page.q {
        pairs.push(("q", text.clone()));
    }
    let base_query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    Ok(ListPage {
        layout,
        entries: page.entries.iter().map(|e| entry_line(q, e)).collect(),
        topics: topic_choices(q, page.topic.as_deref()),
        industries: industry_choices(page.industry.as_deref()),
        q: page.q.clone().unwrap_or_default(),
        total: page.total,
        page: page.page,
        pages: page.pages,
        filtered: !pairs.is_empty(),
        base_query,
    })
}

/// `/qa/{id}`: one entry.
#[derive(Template, WebTemplate)]
#[template(path = "qa/entry.html")]
pub struct EntryPage {
    pub layout: Layout,
    pub entry: EntryView,
    pub html: String,
    pub industry: String,
    pub date: String,
    pub lectures: Vec<(i64, String, String, String)>,
    pub is_organizer: bool,
}

/// `GET /qa/{id}`.
pub async fn entry_page(
    State(state): State<AppState>,
    layout: Layout,
    Path(id): Path<i64>,
) -> AppResult<EntryPage> {
    let q = state.questionnaires.current();
    let (entry, lectures) = uc::entry(&state.db, q, layout.user.as_ref(), id).await?;
    let view = entry_view(q, &entry, &lectures);
    Ok(EntryPage {
        is_organizer: layout.user.as_ref().is_some_and(User::is_organizer),
        layout,
        html: body_html(&entry.body),
        industry: industry_label(entry.industry.as_deref()),
        date: entry
            .published_at
            .map(|t| t.with_timezone(&zone()).format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        lectures: lectures
            .iter()
            .map(|s| {
                (
                    s.id,
                    s.title.clone(),
                    s.category.clone(),
                    crate::http::views::format::when_zh(s.starts_at.as_ref(), zone()),
                )
            })
            .collect(),
        entry: view,
    })
}

// ---------------------------------------------------------------------------------------------
// Publication

/// An answered thread made into a public entry.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicationRequest {
    /// At most 100 characters; must not identify the enterprise.
    #[serde(default)]
    #[schema(required = true)]
    pub title: String,
    /// Markdown, at most 20,000 characters; must not identify the enterprise.
    #[serde(default)]
    #[schema(required = true)]
    pub body: String,
    /// GB/T 4754 section; the question's when left out.
    #[serde(default)]
    pub industry: Option<String>,
    /// Check-up dimension id; the question's when left out.
    #[serde(default)]
    pub topic: Option<String>,
    /// Lecture sessions to link; the sessions of the topic when left out.
    #[serde(default)]
    pub session_ids: Option<Vec<i64>>,
}

/// Make a public Q&A entry of an answered thread: an organizer publishes it (201, `published`);
/// the lawyer assigned to the thread proposes it (201, `proposed`, for an organizer's
/// approval). 422 when a field is wrong or the text still holds the enterprise's name, credit
/// code, a mobile, an e-mail or an ID number (the message names which); 409 `not_answered`.
/// The thread itself stays private.
#[utoipa::path(post, path = "/api/v1/questions/{id}/publication", tag = "qa",
    params(("id" = i64, Path, description = "the question thread")),
    request_body = PublicationRequest, security(("pufa_session" = [])),
    responses((status = 201, body = EntryView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_publish(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<PublicationRequest>,
) -> AppResult<Response> {
    let q = state.questionnaires.current();
    let input = PublicationInput {
        title: body.title,
        body: body.body,
        industry: body.industry,
        topic: body.topic,
        session_ids: body.session_ids,
    };
    let entry = uc::publish(&state.db, q, state.clock.now(), &user, id, &input).await?;
    // a lawyer's proposal is not public yet: it has no lectures to show
    let lectures = match uc::entry(&state.db, q, Some(&user), entry.id).await {
        Ok((_, lectures)) => lectures,
        Err(crate::app::qa::QaError::NotFound) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok((StatusCode::CREATED, Json(entry_view(q, &entry, &lectures))).into_response())
}

/// An organizer approves an entry a lawyer proposed: it is published. 409
/// `entry_not_proposed` otherwise.
#[utoipa::path(post, path = "/api/v1/qa/{id}/approval", tag = "qa",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = EntryView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict)))]
pub async fn api_approve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<EntryView>> {
    let q = state.questionnaires.current();
    uc::approve(&state.db, state.clock.now(), &user, id).await?;
    let (entry, lectures) = uc::entry(&state.db, q, Some(&user), id).await?;
    Ok(Json(entry_view(q, &entry, &lectures)))
}

/// An organizer withdraws an entry: it leaves `/qa` and the search. 409 `entry_withdrawn`
/// when it already was.
#[utoipa::path(post, path = "/api/v1/qa/{id}/withdrawal", tag = "qa",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = EntryView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict)))]
pub async fn api_withdraw(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<EntryView>> {
    let q = state.questionnaires.current();
    uc::withdraw(&state.db, state.clock.now(), &user, id).await?;
    let (entry, lectures) = uc::entry(&state.db, q, Some(&user), id).await?;
    Ok(Json(entry_view(q, &entry, &lectures)))
}

/// A lecture of the publish form.
pub struct SessionOption {
    pub id: i64,
    pub label: String,
    pub checked: bool,
}

/// `/questions/{id}/publish`: the de-identified draft, editable.
#[derive(Template, WebTemplate)]
#[template(path = "qa/entry_publish.html")]
pub struct PublishPage {
    pub layout: Layout,
    pub question_id: i64,
    pub title: String,
    pub body: String,
    pub topics: Vec<Choice>,
    pub industries: Vec<Choice>,
    pub sessions: Vec<SessionOption>,
    pub publishes: bool,
    pub errors: FieldErrors,
}

impl PublishPage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

/// The form for `draft` (as drafted, or as the user last edited it).
fn publish_page_of(
    layout: Layout,
    q: &Questionnaire,
    draft: Draft,
    errors: FieldErrors,
) -> PublishPage {
    PublishPage {
        layout,
        question_id: draft.question_id,
        topics: topic_choices(q, Some(&draft.topic)),
        industries: industry_choices(Some(&draft.industry)),
        sessions: draft
            .sessions
            .iter()
            .map(|s| SessionOption {
                id: s.id,
                label: format!(
                    "{}（{} · {}）",
                    s.title,
                    s.category,
                    crate::http::views::format::when_zh(s.starts_at.as_ref(), zone())
                ),
                checked: draft.selected.contains(&s.id),
            })
            .collect(),
        title: draft.title,
        body: draft.body,
        publishes: draft.publishes,
        errors,
    }
}

/// `GET /questions/{id}/publish` (organizer, or the thread's lawyer).
pub async fn publish_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
) -> AppResult<PublishPage> {
    let q = state.questionnaires.current();
    let draft = uc::draft(&state.db, q, &user, id).await?;
    Ok(publish_page_of(layout, q, draft, FieldErrors::default()))
}

/// `POST /questions/{id}/publish`: fields `title`, `body`, `industry`, `topic`, repeated
/// `session_id`.
pub async fn publish_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let q = state.questionnaires.current();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let selected: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "session_id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let input = PublicationInput {
        title: field("title"),
        body: field("body"),
        industry: Some(field("industry")),
        topic: Some(field("topic")),
        session_ids: Some(selected.clone()),
    };
    match uc::publish(&state.db, q, state.clock.now(), &user, id, &input).await {
        Ok(entry) => {
            let to = if entry.status == EntryStatus::Published {
                format!("/qa/{}", entry.id)
            } else {
                // a proposal is not public yet: back to the thread
                format!("/questions/{id}")
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(crate::app::qa::QaError::Invalid(errors)) => {
            let draft = uc::draft(&state.db, q, &user, id).await?;
            let edited = Draft {
                title: input.title,
                body: input.body,
                industry: input.industry.unwrap_or_default(),
                topic: input.topic.unwrap_or_default(),
                selected,
                ..draft
            };
            let page = publish_page_of(layout, q, edited, errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Organizers' review

/// An entry of `/admin/qa`.
pub struct ReviewLine {
    pub id: i64,
    pub title: String,
    pub industry: String,
    pub topic: String,
    pub date: String,
    pub question_id: Option<i64>,
    pub demo: bool,
}

/// `/admin/qa`: proposals to approve and published entries to withdraw.
#[derive(Template, WebTemplate)]
#[template(path = "qa/qa_admin.html")]
pub struct AdminPage {
    pub layout: Layout,
    pub proposed: Vec<ReviewLine>,
    pub published: Vec<ReviewLine>,
    pub notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

fn review_line(q: &Questionnaire, e: &EntryRow) -> ReviewLine {
    ReviewLine {
        id: e.id,
        title: e.title.clone(),
        industry: industry_label(e.industry.as_deref()),
        topic: uc::topic_name(q, &e.topic),
        date: timestamp(&e.published_at.unwrap_or(e.created_at), zone()),
        question_id: e.question_id,
        demo: e.demo,
    }
}

/// `GET /admin/qa`.
pub async fn admin_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(query): Query<AdminQuery>,
) -> AppResult<AdminPage> {
    let q = state.questionnaires.current();
    let (proposed, published) = uc::review_lists(&state.db, &user).await?;
    Ok(AdminPage {
        layout,
        proposed: proposed.iter().map(|e| review_line(q, e)).collect(),
        published: published.iter().map(|e| review_line(q, e)).collect(),
        notice: match query.notice.as_deref() {
            Some("approve") => Some("已发布。".to_string()),
            Some("withdraw") => Some("已撤回，该问答不再公开。".to_string()),
            _ => None,
        },
    })
}

/// `POST /admin/qa/{id}/{approve|withdraw}`.
pub async fn admin_action(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, action)): Path<(i64, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let now = state.clock.now();
    match action.as_str() {
        "approve" => uc::approve(&state.db, now, &user, id).await?,
        "withdraw" => uc::withdraw(&state.db, now, &user, id).await?,
        _ => return Err(AppError::NotFound),
    };
    Ok(Redirect::to(&format!("/admin/qa?notice={action}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_escaped_and_keep_paragraphs() {
        assert_eq!(
            body_html("**问：** <script>x</script>\n第二行\n\n**答：** A & B"),
            "<p><strong>问：</strong> &lt;script&gt;x&lt;/script&gt;<br />\n第二行</p>\n\
             <p><strong>答：</strong> A &amp; B</p>\n"
        );
        assert_eq!(body_html("a ** b"), "<p>a ** b</p>\n");
    }
}
