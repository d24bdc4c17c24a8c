//! Question threads in the API and the browser: asking (`/questions/new`, `POST
//! /api/v1/questions`), lists, the thread page with its reply, 追问, 请补充, 关闭 and 改派
//! forms, and the questions of a live lecture (`/sessions/{id}/questions/events`, SSE).
//! Handlers extract, call `crate::app::qa::questions` and render; JSON and HTML twins call the
//! same use case.

use crate::accounts::{Role, User};
use crate::app::qa::questions::{self as uc, AskRequest, ListRequest, LiveQuestion};
use crate::app::qa::QaError;
use crate::db::questions::{MessageRow, QuestionRow};
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::qa::{markdown, AssignedBy, MessageKind, QuestionStatus};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_ask, api_list))
        .routes(routes!(api_question))
        .routes(routes!(api_write))
        .routes(routes!(api_close))
        .routes(routes!(api_assign))
        .routes(routes!(api_answered_live))
        .routes(routes!(api_session_questions))
        .route("/questions", get(list_page))
        .route("/questions/new", get(new_page).post(new_form))
        .route("/questions/{id}", get(thread_page))
        .route("/questions/{id}/messages", post(write_form))
        .route("/questions/{id}/close", post(close_form))
        .route("/questions/{id}/assignment", post(assign_form))
        .route("/questions/{id}/answered-live", post(answered_live_form))
        .route("/sessions/{id}/questions/events", get(session_events))
}

// ---------------------------------------------------------------------------------------------
// API

/// A new question.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "试用期可以不签劳动合同吗？", "body": "我们新招了两名员工……", "topic": "labor"}))]
pub struct AskBody {
    /// At most 60 characters.
    pub title: String,
    /// At most 4000 characters.
    pub body: String,
    /// A check-up dimension id (`GET /api/v1/checkup/questionnaire`, `dimensions[].id`).
    pub topic: String,
    /// The lecture session the question is about.
    #[serde(default)]
    pub session_id: Option<i64>,
    /// The enterprise's own check-up report the question comes from.
    #[serde(default)]
    pub checkup_id: Option<i64>,
    /// The item id of the report's finding.
    #[serde(default)]
    pub finding: Option<String>,
}

/// A stored question and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AskedView {
    pub id: i64,
    /// `assigned` when a lawyer was found, `pending` when it waits for the organizer.
    pub status: QuestionStatus,
}

/// A message of a thread.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub author_role: Role,
    pub kind: MessageKind,
    /// As written (Markdown for lawyers' answers).
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A question thread.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuestionView {
    pub id: i64,
    pub status: QuestionStatus,
    pub title: String,
    pub topic: String,
    /// The enterprise's GB/T 4754 section when it asked.
    pub industry: String,
    #[schema(required = true)]
    pub session_id: Option<i64>,
    #[schema(required = true)]
    pub checkup_id: Option<i64>,
    #[schema(required = true)]
    pub finding: Option<String>,
    #[schema(required = true)]
    pub assigned_lawyer_id: Option<i64>,
    #[schema(required = true)]
    pub assigned_by: Option<AssignedBy>,
    pub created_at: DateTime<Utc>,
    /// Waited longer than the configured working days for a lawyer's word.
    pub overdue: bool,
    #[schema(required = true)]
    pub answered_live_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Oldest first; empty in lists.
    pub messages: Vec<MessageView>,
}

impl QuestionView {
    fn of(q: &QuestionRow, messages: &[MessageRow]) -> QuestionView {
        QuestionView {
            id: q.id,
            status: q.status,
            title: q.title.clone(),
            topic: q.topic.clone(),
            industry: q.industry.clone(),
            session_id: q.session_id,
            checkup_id: q.checkup_id,
            finding: q.finding.clone(),
            assigned_lawyer_id: q.assigned_lawyer_id,
            assigned_by: q.assigned_by,
            created_at: q.created_at,
            overdue: q.is_overdue(),
            answered_live_at: q.answered_live_at,
            closed_at: q.closed_at,
            messages: messages
                .iter()
                .map(|m| MessageView {
                    author_role: m.author_role,
                    kind: m.kind,
                    body: m.body.clone(),
                    created_at: m.created_at,
                })
                .collect(),
        }
    }
}

/// A page of questions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuestionListView {
    pub questions: Vec<QuestionView>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// List filters (organizers; others always see their own).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// pending, assigned, answered, followup or closed
    pub status: Option<String>,
    /// A check-up dimension id.
    pub topic: Option<String>,
    /// Assigned to this lawyer account.
    pub lawyer_id: Option<String>,
    /// `true`: only questions flagged overdue and still waiting.
    pub overdue: Option<String>,
    /// 1-based page.
    pub page: Option<String>,
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ListParams {
    fn request(&self) -> Result<ListRequest, QaError> {
        let mut errors = FieldErrors::default();
        let status = match some(&self.status) {
            Some(s) => QuestionStatus::parse(s).or_else(|| {
                errors.add(
                    "status",
                    "状态应为 pending、assigned、answered、followup 或 closed",
                );
                None
            }),
            None => None,
        };
        let lawyer_id = match some(&self.lawyer_id) {
            Some(s) => s.parse::<i64>().ok().or_else(|| {
                errors.add("lawyer_id", "律师账号应为数字");
                None
            }),
            None => None,
        };
        let page = match some(&self.page) {
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .unwrap_or_else(|| {
                    errors.add("page", "页码应为正整数");
                    1
                }),
            None => 1,
        };
        let only_overdue = matches!(some(&self.overdue), Some("true" | "1" | "on"));
        if !errors.is_empty() {
            return Err(QaError::Invalid(errors));
        }
        Ok(ListRequest {
            status,
            topic: some(&self.topic).map(str::to_string),
            lawyer_id,
            only_overdue,
            page,
        })
    }
}

/// Ask a question (enterprises only). It goes to one of the enterprise's advisors, else to the
/// least-loaded lawyer whose topics and industries match, else waits for the organizer
/// (`pending`). At most 10 questions an hour (429).
#[utoipa::path(post, path = "/api/v1/questions", tag = "qa", request_body = AskBody,
    security(("pufa_session" = [])),
    responses((status = 201, body = AskedView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable),
              (status = 429, response = crate::http::openapi::TooManyRequests)))]
pub async fn api_ask(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<AskBody>,
) -> AppResult<(StatusCode, Json<AskedView>)> {
    let asked = uc::ask(
        &state.db,
        &state.questionnaires,
        state.clock.now(),
        &user,
        AskRequest {
            title: body.title,
            body: body.body,
            topic: body.topic,
            session_id: body.session_id,
            checkup_id: body.checkup_id,
            finding: body.finding,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AskedView {
            id: asked.id,
            status: asked.status,
        }),
    ))
}

/// The questions the caller may see: an enterprise its own, a lawyer those assigned to it,
/// an organizer all (filters). Overdue ones first, then newest first; 20 a page.
#[utoipa::path(get, path = "/api/v1/questions", tag = "qa", params(ListParams),
    security(("pufa_session" = [])),
    responses((status = 200, body = QuestionListView), (status = 401, response = Unauthorized),
              (status = 422, response = Unprocessable)))]
pub async fn api_list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(params): Query<ListParams>,
) -> AppResult<Json<QuestionListView>> {
    let req = params.request()?;
    let (rows, total) = uc::list(&state.db, &user, &req).await?;
    Ok(Json(QuestionListView {
        questions: rows.iter().map(|q| QuestionView::of(q, &[])).collect(),
        total,
        page: req.page,
        page_size: uc::PAGE_SIZE,
    }))
}

/// A thread with its messages: its enterprise, the lawyer it is assigned to now, organizers;
/// anyone else gets 404. Staff openings are audited.
#[utoipa::path(get, path = "/api/v1/questions/{id}", tag = "qa", params(("id" = i64, Path)),
    security(("pufa_session" = [])),
    responses((status = 200, body = QuestionView), (status = 401, response = Unauthorized),
              (status = 404, response = NotFound)))]
pub async fn api_question(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<QuestionView>> {
    let t = uc::thread(&state.db, state.clock.now(), &user, id).await?;
    Ok(Json(QuestionView::of(&t.question, &t.messages)))
}

/// A message in a thread.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "根据《劳动合同法》第十条……", "kind": "answer"}))]
pub struct WriteBody {
    /// At most 4000 characters; lawyers write Markdown.
    pub body: String,
    /// Enterprise: `question` (a follow-up, default). Assigned lawyer: `answer` (default) or
    /// `request` (asks for details). Organizer: `note` (default).
    #[serde(default)]
    pub kind: Option<MessageKind>,
}

/// A thread's state after a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThreadStateView {
    pub id: i64,
    pub status: QuestionStatus,
    #[schema(required = true)]
    pub assigned_lawyer_id: Option<i64>,
}

async fn state_view(state: &AppState, id: i64) -> AppResult<ThreadStateView> {
    let q = state.db.question(id).await?.ok_or(AppError::NotFound)?;
    Ok(ThreadStateView {
        id,
        status: q.status,
        assigned_lawyer_id: q.assigned_lawyer_id,
    })
}

/// Write in a thread: the enterprise's follow-up (an answered thread becomes `followup`), the
/// assigned lawyer's answer or request for details (the thread becomes `answered` and the
/// enterprise is told), an organizer's note. A closed thread: 409 `question_closed`.
#[utoipa::path(post, path = "/api/v1/questions/{id}/messages", tag = "qa",
    params(("id" = i64, Path)), request_body = WriteBody, security(("pufa_session" = [])),
    responses((status = 201, body = ThreadStateView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_write(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<WriteBody>,
) -> AppResult<(StatusCode, Json<ThreadStateView>)> {
    uc::write(
        &state.db,
        state.clock.now(),
        &user,
        id,
        &body.body,
        body.kind,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(state_view(&state, id).await?)))
}

/// Close a thread: the assigned lawyer, an organizer, or its enterprise. Closing a closed
/// thread: 409.
#[utoipa::path(post, path = "/api/v1/questions/{id}/close", tag = "qa",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = ThreadStateView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict)))]
pub async fn api_close(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ThreadStateView>> {
    uc::close(&state.db, state.clock.now(), &user, id).await?;
    Ok(Json(state_view(&state, id).await?))
}

/// A lawyer for a thread.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// An active lawyer account (`GET /api/v1/lawyers`).
    pub lawyer_id: i64,
}

/// Give a thread to another lawyer (organizers; others who may read it get 403). The lawyer is
/// told; the previous one no longer sees the thread. 422 when `lawyer_id` is not an active
/// lawyer account, 409 when the thread is closed.
#[utoipa::path(post, path = "/api/v1/questions/{id}/assignment", tag = "qa",
    params(("id" = i64, Path)), request_body = AssignBody, security(("pufa_session" = [])),
    responses((status = 200, body = ThreadStateView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_assign(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<AssignBody>,
) -> AppResult<Json<ThreadStateView>> {
    uc::assign(&state.db, state.clock.now(), &user, id, body.lawyer_id).await?;
    Ok(Json(state_view(&state, id).await?))
}

/// Mark a question of a live lecture 在直播中已解答 (the session's lecturer or an organizer):
/// an answer message says so, the thread becomes `answered` and the enterprise is told.
#[utoipa::path(post, path = "/api/v1/questions/{id}/answered-live", tag = "qa",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = ThreadStateView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict)))]
pub async fn api_answered_live(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ThreadStateView>> {
    uc::mark_answered_live(&state.db, state.clock.now(), &user, id).await?;
    Ok(Json(state_view(&state, id).await?))
}

/// The questions attached to a session, newest first (its lecturer's lawyer account and
/// organizers).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/questions", tag = "qa",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = Vec<LiveQuestion>), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_session_questions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<LiveQuestion>>> {
    Ok(Json(uc::session_questions(&state.db, &user, id).await?))
}

/// How often the live questions stream looks at the database. Polling, not an in-process
/// channel: a question asked through another replica shows up too.
const LIVE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// The questions of session `id` as server-sent events: `event: questions` with the whole list
/// (JSON array of LiveQuestion) at once and whenever it changes (checked every 2 s).
pub async fn session_events(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<impl IntoResponse> {
    // checks access once, and fails early for an unknown session
    uc::session_questions(&state.db, &user, id).await?;
    let start: (AppState, User, Option<String>) = (state, user, None);
    let events = stream::unfold(start, move |(state, user, last)| async move {
        loop {
            if last.is_some() {
                tokio::time::sleep(LIVE_POLL).await;
            }
            let list = match uc::session_questions(&state.db, &user, id).await {
                Ok(list) => list,
                Err(QaError::Forbidden | QaError::NotFound) => return None,
                Err(e) => {
                    tracing::warn!(session = id, error = ?e, "reading live questions");
                    let ev = Event::default().comment("retrying");
                    return Some((
                        Ok::<_, Infallible>(ev),
                        (state, user, last.or(Some(String::new()))),
                    ));
                }
            };
            let json = match serde_json::to_string(&list) {
                Ok(json) => json,
                Err(e) => {
                    tracing::error!(error = %e, "encoding live questions");
                    return None;
                }
            };
            if last.as_deref() != Some(json.as_str()) {
                let ev = Event::default().event("questions").data(json.clone());
                return Some((Ok(ev), (state, user, Some(json))));
            }
        }
    });
    let no_proxy_buffering = [(HeaderName::from_static("x-accel-buffering"), "no")];
    Ok((
        no_proxy_buffering,
        Sse::new(events).keep_alive(KeepAlive::default()),
    ))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// A status label with its tag class.
fn status_class(s: QuestionStatus) -> &'static str {
    match s {
        QuestionStatus::Pending => "warn",
        QuestionStatus::Assigned | QuestionStatus::Followup => "",
        QuestionStatus::Answered => "ok",
        QuestionStatus::Closed => "",
    }
}

fn time_zh(t: &DateTime<Utc>) -> String {
    crate::http::views::format::datetime_zh(t, crate::schedule::DEFAULT_TZ)
}

/// A row of the question list.
pub struct ListRow {
    pub id: i64,
    pub title: String,
    pub topic: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub overdue: bool,
    pub enterprise: String,
    pub lawyer: String,
    pub asked: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/questions.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<ListRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub topics: Vec<(String, String)>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub lawyers: Vec<(i64, String)>,
    pub f_status: String,
    pub f_topic: String,
    pub f_lawyer: String,
    pub f_overdue: bool,
    /// The filters as a query string (for the paging links), without `page`.
    pub query: String,
}

impl ListPage {
    pub fn is_organizer(&self) -> bool {
        self.layout.user.as_ref().is_some_and(|u| u.is_organizer())
    }
    pub fn is_enterprise(&self) -> bool {
        self.layout.user.as_ref().is_some_and(|u| u.is_enterprise())
    }
}

pub async fn list_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(params): Query<ListParams>,
) -> AppResult<ListPage> {
    let req = params.request()?;
    let (rows, total) = uc::list(&state.db, &user, &req).await?;
    let lawyers = if user.is_organizer() {
        state
            .db
            .lawyer_profiles(None)
            .await?
            .into_iter()
            .map(|l| (l.user_id, l.display_name))
            .collect()
    } else {
        Vec::new()
    };
    let mut query = Vec::new();
    for (k, v) in [
        ("status", params.status.clone()),
        ("topic", params.topic.clone()),
        ("lawyer_id", params.lawyer_id.clone()),
        ("overdue", params.overdue.clone()),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            query.push((k, v));
        }
    }
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    Ok(ListPage {
        rows: rows
            .iter()
            .map(|q| ListRow {
                id: q.id,
                title: q.title.clone(),
                topic: uc::topic_name(&state.questionnaires, &q.topic),
                status: q.status.label_zh(),
                status_class: status_class(q.status),
                overdue: q.is_overdue(),
                enterprise: q.enterprise_name.clone(),
                lawyer: q.assigned_lawyer_name.clone().unwrap_or_else(|| "—".into()),
                asked: time_zh(&q.created_at),
            })
            .collect(),
        total,
        page: req.page,
        pages: ((total + uc::PAGE_SIZE - 1) / uc::PAGE_SIZE).max(1),
        topics: uc::topics(&state.questionnaires),
        statuses: QuestionStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label_zh()))
            .collect(),
        lawyers,
        f_status: req
            .status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        f_topic: req.topic.clone().unwrap_or_default(),
        f_lawyer: req.lawyer_id.map(|l| l.to_string()).unwrap_or_default(),
        f_overdue: req.only_overdue,
        query,
        layout,
    })
}

/// The ask form's fields (also the query string of a pre-filled link).
#[derive(Debug, Default, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub checkup_id: String,
    #[serde(default)]
    pub finding: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/question_new.html")]
pub struct NewPage {
    pub layout: Layout,
    pub form: AskForm,
    pub topics: Vec<(String, String)>,
    pub errors: FieldErrors,
    /// "来自体检报告" / "来自课程《…》" line above the form.
    pub context: Option<String>,
    pub title_max: usize,
    pub body_max: usize,
}

impl NewPage {
    pub fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

async fn new_page_for(
    state: &AppState,
    layout: Layout,
    form: AskForm,
    errors: FieldErrors,
) -> AppResult<NewPage> {
    let mut context = None;
    if let Ok(id) = form.session_id.trim().parse::<i64>() {
        if let Some(s) = state.db.session(id).await? {
            context = Some(format!("关于课程《{}》", s.title));
        }
    }
    if !form.checkup_id.trim().is_empty() {
        context = Some("来自您的法治体检报告".into());
    }
    Ok(NewPage {
        layout,
        form,
        topics: uc::topics(&state.questionnaires),
        errors,
        context,
        title_max: uc::TITLE_MAX,
        body_max: uc::BODY_MAX,
    })
}

pub async fn new_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(mut form): Query<AskForm>,
) -> AppResult<NewPage> {
    if !user.is_enterprise() {
        return Err(AppError::Forbidden);
    }
    // a pre-filled title is cut to the limit so the form opens valid
    form.title = form.title.chars().take(uc::TITLE_MAX).collect();
    new_page_for(&state, layout, form, FieldErrors::default()).await
}

fn optional_id(field: &str, value: &str, errors: &mut FieldErrors) -> Option<i64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    value.parse().ok().or_else(|| {
        errors.add(field, "编号无效");
        None
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<AskForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let session_id = optional_id("session_id", &form.session_id, &mut errors);
    let checkup_id = optional_id("checkup_id", &form.checkup_id, &mut errors);
    if errors.is_empty() {
        let asked = uc::ask(
            &state.db,
            &state.questionnaires,
            state.clock.now(),
            &user,
            AskRequest {
                title: form.title.clone(),
                body: form.body.clone(),
                topic: form.topic.clone(),
                session_id,
                checkup_id,
                finding: Some(form.finding.clone()),
            },
        )
        .await;
        match asked {
            Ok(a) => {
                return Ok(Redirect::to(&format!("/questions/{}?asked=1", a.id)).into_response())
            }
            Err(QaError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let page = new_page_for(&state, layout, form, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// A message as the thread page shows it.
pub struct MessageItem {
    pub who: String,
    pub kind: &'static str,
    pub class: &'static str,
    /// Safe HTML (lawyers' Markdown rendered by `qa::markdown`; others' text escaped).
    pub html: String,
    pub at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/question_thread.html")]
pub struct ThreadPage {
    pub layout: Layout,
    pub id: i64,
    pub title: String,
    pub topic: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub closed: bool,
    pub overdue: bool,
    pub enterprise: String,
    pub lawyer: String,
    pub assigned_by: String,
    pub session: Option<(i64, String)>,
    pub checkup_id: Option<i64>,
    pub answered_live: bool,
    pub messages: Vec<MessageItem>,
    pub role: &'static str,
    pub may_write: bool,
    pub lawyers: Vec<(i64, String)>,
    pub assigned_lawyer_id: i64,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub is_staff: bool,
    /// The organizer (publishes) or the assigned lawyer (proposes) may turn the answered
    /// thread into a public entry (`/questions/{id}/publish`).
    pub may_publish: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ThreadParams {
    #[serde(default)]
    pub asked: Option<String>,
    #[serde(default)]
    pub done: Option<String>,
}

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn thread_page_for(
    state: &AppState,
    layout: Layout,
    user: &User,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<ThreadPage> {
    let t = uc::thread(&state.db, state.clock.now(), user, id).await?;
    let q = &t.question;
    let session = match q.session_id {
        Some(sid) => state.db.session(sid).await?.map(|s| (sid, s.title)),
        None => None,
    };
    let lawyers = if user.is_organizer() {
        state
            .db
            .lawyer_profiles(None)
            .await?
            .into_iter()
            .filter(|l| !l.disabled)
            .map(|l| {
                let label = if l.firm.is_empty() {
                    format!("{}（待答 {}）", l.display_name, l.load)
                } else {
                    format!("{} · {}（待答 {}）", l.display_name, l.firm, l.load)
                };
                (l.user_id, label)
            })
            .collect()
    } else {
        Vec::new()
    };
    let lawyer_name = q.assigned_lawyer_name.clone();
    Ok(ThreadPage {
        id,
        title: q.title.clone(),
        topic: uc::topic_name(&state.questionnaires, &q.topic),
        status: q.status.label_zh(),
        status_class: status_class(q.status),
        closed: q.status == QuestionStatus::Closed,
        overdue: q.is_overdue(),
        enterprise: q.enterprise_name.clone(),
        lawyer: lawyer_name.clone().unwrap_or_else(|| "待分派".into()),
        assigned_by: match q.assigned_by {
            Some(AssignedBy::Advisor) => "法律顾问".into(),
            Some(AssignedBy::Match) => "按专业自动分派".into(),
            Some(AssignedBy::Organizer) => "组织方分派".into(),
            None => String::new(),
        },
        session,
        checkup_id: q.checkup_id,
        answered_live: q.answered_live_at.is_some(),
        messages: t
            .messages
            .iter()
            .map(|m| {
                let (who, html) = match m.author_role {
                    Role::Lawyer => (
                        format!("律师 {}", lawyer_name.clone().unwrap_or_default()),
                        markdown::to_html(&m.body),
                    ),
                    Role::Organizer => ("组织方".to_string(), markdown::to_html(&m.body)),
                    Role::Enterprise => (
                        "企业".to_string(),
                        format!("<p class=\"prewrap\">{}</p>", escape_text(&m.body)),
                    ),
                };
                let (kind, class) = match m.kind {
                    MessageKind::Question if t.messages.first().map(|f| f.id) == Some(m.id) => {
                        ("提问", "msg-question")
                    }
                    MessageKind::Question => ("追问", "msg-question"),
                    MessageKind::Answer => ("答复", "msg-answer"),
                    MessageKind::Request => ("请补充", "msg-request"),
                    MessageKind::Note => ("备注", "msg-note"),
                };
                MessageItem {
                    who,
                    kind,
                    class,
                    html,
                    at: time_zh(&m.created_at),
                }
            })
            .collect(),
        role: user.role.as_str(),
        may_write: uc::may_write(user, q),
        lawyers,
        assigned_lawyer_id: q.assigned_lawyer_id.unwrap_or(0),
        notice,
        error,
        is_staff: !user.is_enterprise(),
        may_publish: (user.is_organizer()
            || (user.is_lawyer() && q.assigned_lawyer_id == Some(user.id)))
            && t.messages.iter().any(|m| m.kind == MessageKind::Answer),
        layout,
    })
}

pub async fn thread_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(params): Query<ThreadParams>,
) -> AppResult<ThreadPage> {
    let notice = if params.asked.is_some() {
        Some("问题已提交。律师答复后，您会在“消息”中收到通知。".to_string())
    } else {
        params.done.as_deref().map(|d| {
            match d {
                "closed" => "问题已关闭。",
                "assigned" => "已改派。",
                "live" => "已标记为在直播中解答。",
                _ => "已发送。",
            }
            .to_string()
        })
    };
    thread_page_for(&state, layout, &user, id, notice, None).await
}

/// The thread page again with an error line (a refused form), status 409/422.
async fn refused(
    state: &AppState,
    layout: Layout,
    user: &User,
    id: i64,
    e: QaError,
) -> AppResult<Response> {
    let (status, message) = match e {
        QaError::Conflict { message, .. } => (StatusCode::CONFLICT, message),
        QaError::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors.to_string()),
        other => return Err(other.into()),
    };
    let page = thread_page_for(state, layout, user, id, None, Some(message)).await?;
    Ok((status, page).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct WriteForm {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub kind: String,
}

pub async fn write_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<WriteForm>,
) -> AppResult<Response> {
    let kind = MessageKind::parse(form.kind.trim());
    match uc::write(&state.db, state.clock.now(), &user, id, &form.body, kind).await {
        Ok(_) => Ok(Redirect::to(&format!("/questions/{id}?done=sent")).into_response()),
        Err(e) => refused(&state, layout, &user, id, e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PlainForm {}

pub async fn close_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<PlainForm>,
) -> AppResult<Response> {
    match uc::close(&state.db, state.clock.now(), &user, id).await {
        Ok(()) => Ok(Redirect::to(&format!("/questions/{id}?done=closed")).into_response()),
        Err(e) => refused(&state, layout, &user, id, e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    pub lawyer_id: String,
}

pub async fn assign_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<AssignForm>,
) -> AppResult<Response> {
    let Ok(lawyer_id) = form.lawyer_id.trim().parse::<i64>() else {
        let e = QaError::Invalid(FieldErrors::single("lawyer_id", "请选择律师"));
        return refused(&state, layout, &user, id, e).await;
    };
    match uc::assign(&state.db, state.clock.now(), &user, id, lawyer_id).await {
        Ok(()) => Ok(Redirect::to(&format!("/questions/{id}?done=assigned")).into_response()),
        Err(e) => refused(&state, layout, &user, id, e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LiveForm {
    /// Where to go back to (the live page of the session); only a local path is followed.
    #[serde(default)]
    pub back: String,
}

pub async fn answered_live_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<LiveForm>,
) -> AppResult<Response> {
    uc::mark_answered_live(&state.db, state.clock.now(), &user, id).await?;
    let back = form.back.trim();
    let local = back.starts_with('/') && !back.starts_with("//") && !back.contains('\\');
    let to = if local {
        back.to_string()
    } else {
        format!("/questions/{id}?done=live")
    };
    Ok(Redirect::to(&to).into_response())
}
