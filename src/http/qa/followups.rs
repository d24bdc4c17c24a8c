//! 回访 follow-ups and the loop dashboard in the browser and the API (issue 16): `/followups`,
//! `/followups/{id}`, `/admin/loop` and their JSON twins under `/api/v1`. Every handler calls
//! [`crate::app::qa::followups`], which decides who may see and do what.

use crate::app::qa::followups::{self as uc, Detail, ListQuery, Listing, Month};
use crate::app::qa::QaError;
use crate::db::followups::{ContactRow, FollowupRow};
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
use crate::qa::followup::{self, LevelChange, LevelsSnapshot};
use crate::qa::funnel::{self, Funnel};
use crate::qa::{FollowupOutcome, FollowupStatus};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_detail))
        .routes(routes!(api_contact))
        .routes(routes!(api_assign))
        .routes(routes!(api_loop))
        .route("/followups", get(list_page))
        .route("/followups/{id}", get(detail_page))
        .route("/followups/{id}/contacts", post(contact_form))
        .route("/followups/{id}/assignment", post(assign_form))
        .route("/admin/loop", get(loop_page))
}

fn local(t: &DateTime<Utc>) -> String {
    crate::http::views::format::minute(t, followup::ZONE)
}

// ---------------------------------------------------------------------------------------------
// JSON views

/// A follow-up as a list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowupView {
    pub id: i64,
    /// Account id of the enterprise.
    pub enterprise_id: i64,
    pub enterprise_name: String,
    pub status: FollowupStatus,
    /// 待回访 / 已联系 / 整改中 / 已整改 / 未整改 / 已关闭
    pub status_label: String,
    /// Account id of the advisor lawyer; `null`: the organizers' queue.
    #[schema(required = true)]
    pub advisor_id: Option<i64>,
    #[schema(required = true)]
    pub advisor_name: Option<String>,
    /// YYYY-MM-DD (Asia/Shanghai).
    #[schema(value_type = String, format = Date)]
    pub due_on: NaiveDate,
    /// Past the due date without 已整改/未整改.
    pub overdue: bool,
    pub opened_at: DateTime<Utc>,
    #[schema(required = true)]
    pub first_contact_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub outcome_at: Option<DateTime<Utc>>,
    /// The report the enterprise submitted after 已整改.
    #[schema(required = true)]
    pub retake_checkup_id: Option<i64>,
    #[schema(required = true)]
    pub retaken_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Levels of the report that opened it (never answers).
    pub levels: LevelsSnapshot,
}

impl FollowupView {
    fn new(r: &FollowupRow, now: DateTime<Utc>) -> FollowupView {
        FollowupView {
            id: r.id,
            enterprise_id: r.enterprise_id,
            enterprise_name: r.enterprise_name.clone(),
            status: r.status(),
            status_label: r.status().label_zh().to_string(),
            advisor_id: r.advisor_id,
            advisor_name: r.advisor_name.clone(),
            due_on: r.due_on,
            overdue: followup::is_overdue(r.status(), r.due_on, now),
            opened_at: r.opened_at,
            first_contact_at: r.first_contact_at,
            outcome_at: r.outcome_at,
            retake_checkup_id: r.retake_checkup_id,
            retaken_at: r.retaken_at,
            closed_at: r.closed_at,
            levels: r.levels.0.clone(),
        }
    }
}

/// A page of follow-ups.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowupListView {
    pub items: Vec<FollowupView>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Follow-ups without an advisor (organizers; 0 for others).
    pub queue: i64,
    /// Overdue follow-ups the caller may see.
    pub overdue: i64,
}

/// One recorded contact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowupContactView {
    pub id: i64,
    pub outcome: FollowupOutcome,
    pub outcome_label: String,
    /// The advisor's note; `null` for the enterprise (notes are the advisor's working notes).
    #[schema(required = true)]
    pub note: Option<String>,
    #[schema(required = true)]
    pub author_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The change of levels after the retake.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetakeView {
    pub checkup_id: i64,
    pub retaken_at: DateTime<Utc>,
    pub overall_before: crate::checkup::scoring::Level,
    pub overall_after: crate::checkup::scoring::Level,
    pub changes: Vec<LevelChange>,
}

/// One follow-up with its contacts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowupDetailView {
    pub followup: FollowupView,
    /// The enterprise's contact person (staff only).
    #[schema(required = true)]
    pub contact_name: Option<String>,
    /// The enterprise's mobile (staff only).
    #[schema(required = true)]
    pub mobile: Option<String>,
    pub contacts: Vec<FollowupContactView>,
    #[schema(required = true)]
    pub retake: Option<RetakeView>,
    /// The follow-up that replaced this one (a newer high-risk report).
    #[schema(required = true)]
    pub superseded_by: Option<i64>,
}

fn contact_view(c: &ContactRow, with_note: bool) -> FollowupContactView {
    FollowupContactView {
        id: c.id,
        outcome: c.outcome.0,
        outcome_label: c.outcome.0.label_zh().to_string(),
        note: with_note.then(|| c.note.clone()),
        author_name: c.author_name.clone(),
        created_at: c.created_at,
    }
}

fn detail_view(d: &Detail, staff: bool, now: DateTime<Utc>) -> FollowupDetailView {
    FollowupDetailView {
        followup: FollowupView::new(&d.row, now),
        contact_name: staff.then(|| d.row.contact_name.clone()),
        mobile: staff.then(|| d.row.mobile.clone()),
        contacts: d.contacts.iter().map(|c| contact_view(c, staff)).collect(),
        retake: d.retake.as_ref().map(|r| RetakeView {
            checkup_id: r.checkup_id,
            retaken_at: r.retaken_at,
            overall_before: r.overall_before,
            overall_after: r.overall_after,
            changes: r.changes.clone(),
        }),
        superseded_by: d.superseded_by,
    }
}

fn is_staff(user: &crate::accounts::User) -> bool {
    user.role != crate::accounts::Role::Enterprise
}

// ---------------------------------------------------------------------------------------------
// API

/// Filters of `GET /api/v1/followups`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub status: Option<FollowupStatus>,
    /// Only overdue follow-ups.
    pub overdue: Option<bool>,
    /// Organizers: only this advisor's (account id).
    pub advisor_id: Option<i64>,
    /// Organizers: only the queue without an advisor.
    pub unassigned: Option<bool>,
    /// 1-based page of 20.
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

impl ListParams {
    fn query(&self) -> ListQuery {
        ListQuery {
            status: self.status,
            overdue: self.overdue.unwrap_or(false),
            advisor: self.advisor_id,
            unassigned: self.unassigned.unwrap_or(false),
            page: self.page.unwrap_or(1),
        }
    }
}

fn list_view(l: &Listing, now: DateTime<Utc>) -> FollowupListView {
    FollowupListView {
        items: l.rows.iter().map(|r| FollowupView::new(r, now)).collect(),
        total: l.total,
        page: l.page,
        pages: l.pages,
        queue: l.queue,
        overdue: l.overdue,
    }
}

/// The follow-ups the caller may see: an enterprise its own, a lawyer those it advises,
/// organizers all (with filters). Newest first, 20 a page.
#[utoipa::path(get, path = "/api/v1/followups", tag = "qa", params(ListParams),
    security(("pufa_session" = [])),
    responses((status = 200, body = FollowupListView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 422, response = Unprocessable)))]
pub async fn api_list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(p): Query<ListParams>,
) -> AppResult<Json<FollowupListView>> {
    let now = state.clock.now();
    if p.page.is_some_and(|page| page < 1) {
        return Err(QaError::Invalid(crate::validation::FieldErrors::single(
            "page",
            "页码应为正整数",
        ))
        .into());
    }
    let l = uc::list(&state.db, &user, now, &p.query()).await?;
    Ok(Json(list_view(&l, now)))
}

/// One follow-up: levels and dimensions of its report (never answers), contacts, the retake's
/// change of levels. 404 for a follow-up the caller may not see. Staff openings are audited.
#[utoipa::path(get, path = "/api/v1/followups/{id}", tag = "qa", params(("id" = i64, Path)),
    security(("pufa_session" = [])),
    responses((status = 200, body = FollowupDetailView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 404, response = NotFound)))]
pub async fn api_detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<FollowupDetailView>> {
    let now = state.clock.now();
    let d = uc::detail(&state.db, &state.questionnaires, &user, id, now).await?;
    Ok(Json(detail_view(&d, is_staff(&user), now)))
}

/// A contact the advisor records.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowupContactRequest {
    pub outcome: FollowupOutcome,
    /// At most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

/// The id of a recorded contact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedView {
    pub id: i64,
}

/// Record a contact (the advisor, or an organizer): 已联系 / 整改中 / 已整改 / 未整改 with a
/// note. 已整改 invites the enterprise to retake the check-up; its next report is recorded on
/// the follow-up, which then closes. 409 `followup_closed` on a closed follow-up.
#[utoipa::path(post, path = "/api/v1/followups/{id}/contacts", tag = "qa",
    params(("id" = i64, Path)), request_body = FollowupContactRequest, security(("pufa_session" = [])),
    responses((status = 201, body = CreatedView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_contact(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(req): Json<FollowupContactRequest>,
) -> AppResult<Response> {
    let contact = uc::record_contact(
        &state.db,
        &user,
        id,
        Some(req.outcome),
        &req.note,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CreatedView { id: contact })).into_response())
}

/// The advisor an organizer gives a follow-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowupAssignmentRequest {
    /// Account id of an active lawyer.
    pub advisor_id: i64,
}

/// Give a follow-up to an advisor lawyer (organizers), who is notified. 422 when the id is
/// not an active lawyer; 409 `followup_closed` on a closed follow-up.
#[utoipa::path(post, path = "/api/v1/followups/{id}/assignment", tag = "qa",
    params(("id" = i64, Path)), request_body = FollowupAssignmentRequest, security(("pufa_session" = [])),
    responses((status = 200, body = FollowupView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_assign(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(req): Json<FollowupAssignmentRequest>,
) -> AppResult<Json<FollowupView>> {
    let now = state.clock.now();
    uc::assign(&state.db, &user, id, req.advisor_id, now).await?;
    let row = state.db.followup(id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(FollowupView::new(&row, now)))
}

/// The month of the loop dashboard.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoopParams {
    /// YYYY-MM (Asia/Shanghai); default the current month.
    #[param(pattern = r"^\d{4}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
}

/// The loop of one month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoopView {
    /// YYYY-MM
    pub month: String,
    #[serde(flatten)]
    pub funnel: Funnel,
}

/// The month asked for; `empty_is_current` lets the page's cleared month field mean the
/// current month, where the API refuses an empty value like any other malformed one.
fn month_of(p: &LoopParams, now: DateTime<Utc>, empty_is_current: bool) -> Result<Month, AppError> {
    match p
        .month
        .as_deref()
        .filter(|m| !(empty_is_current && m.is_empty()))
    {
        None => Ok(Month::of(now)),
        Some(m) => Month::parse(m).ok_or_else(|| {
            QaError::Invalid(crate::validation::FieldErrors::single(
                "month",
                "月份应为 YYYY-MM，如 2026-12",
            ))
            .into()
        }),
    }
}

/// The loop as the chamber reports it for one month (organizers): 收集 → 分派 → 办理 → 反馈 →
/// 跟进, counts, overdue items and the median time of each stage. The month is a cohort: the
/// check-ups submitted, questions asked and follow-ups opened in it, and how far they got.
#[utoipa::path(get, path = "/api/v1/loop", tag = "qa", params(LoopParams),
    security(("pufa_session" = [])),
    responses((status = 200, body = LoopView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 422, response = Unprocessable)))]
pub async fn api_loop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(p): Query<LoopParams>,
) -> AppResult<Json<LoopView>> {
    let now = state.clock.now();
    let month = month_of(&p, now, false)?;
    let funnel = uc::loop_of(&state.db, &user, month, now).await?;
    Ok(Json(LoopView {
        month: month.label(),
        funnel,
    }))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// A line of the list page.
pub struct Line {
    pub id: i64,
    pub enterprise_name: String,
    pub status: &'static str,
    pub overall: crate::checkup::scoring::Level,
    pub advisor: String,
    pub due_on: String,
    pub overdue: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/followups.html")]
pub struct ListPage {
    pub layout: Layout,
    pub organizer: bool,
    pub enterprise: bool,
    pub lines: Vec<Line>,
    pub statuses: Vec<Choice>,
    pub advisors: Vec<Choice>,
    pub overdue_only: bool,
    pub unassigned: bool,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub queue: i64,
    pub overdue: i64,
    /// The query string of the filters, for the paging links.
    pub filters: String,
}

/// Filters of the list page (a form: empty values mean "all").
#[derive(Debug, Default, Deserialize)]
pub struct ListForm {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub overdue: Option<String>,
    #[serde(default)]
    pub advisor_id: Option<String>,
    #[serde(default)]
    pub unassigned: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

pub async fn list_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(f): Query<ListForm>,
) -> AppResult<ListPage> {
    let now = state.clock.now();
    let on = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    let q = ListQuery {
        status: f.status.as_deref().and_then(FollowupStatus::parse),
        overdue: on(&f.overdue),
        advisor: f.advisor_id.as_deref().and_then(|v| v.parse().ok()),
        unassigned: on(&f.unassigned),
        page: f.page.as_deref().and_then(|v| v.parse().ok()).unwrap_or(1),
    };
    let l = uc::list(&state.db, &user, now, &q).await?;
    let organizer = user.is_organizer();
    let mut statuses = vec![Choice {
        value: String::new(),
        label: "全部".into(),
        selected: q.status.is_none(),
    }];
    statuses.extend(FollowupStatus::ALL.iter().map(|s| Choice {
        value: s.as_str().into(),
        label: s.label_zh().into(),
        selected: q.status == Some(*s),
    }));
    let advisors = if organizer {
        let mut v = vec![Choice {
            value: String::new(),
            label: "全部顾问".into(),
            selected: q.advisor.is_none(),
        }];
        v.extend(
            uc::lawyers(&state.db, &user)
                .await?
                .into_iter()
                .map(|(id, name)| Choice {
                    value: id.to_string(),
                    label: name,
                    selected: q.advisor == Some(id),
                }),
        );
        v
    } else {
        Vec::new()
    };
    let mut filters = Vec::new();
    if let Some(s) = q.status {
        filters.push(format!("status={}", s.as_str()));
    }
    if q.overdue {
        filters.push("overdue=1".into());
    }
    if let Some(a) = q.advisor {
        filters.push(format!("advisor_id={a}"));
    }
    if q.unassigned {
        filters.push("unassigned=1".into());
    }
    Ok(ListPage {
        layout,
        organizer,
        enterprise: user.role == crate::accounts::Role::Enterprise,
        lines: l
            .rows
            .iter()
            .map(|r| Line {
                id: r.id,
                enterprise_name: r.enterprise_name.clone(),
                status: r.status().label_zh(),
                overall: r.levels.overall,
                advisor: r
                    .advisor_name
                    .clone()
                    .unwrap_or_else(|| "待分派（组织者）".into()),
                due_on: r.due_on.to_string(),
                overdue: followup::is_overdue(r.status(), r.due_on, now),
            })
            .collect(),
        statuses,
        advisors,
        overdue_only: q.overdue,
        unassigned: q.unassigned,
        total: l.total,
        page: l.page,
        pages: l.pages,
        queue: l.queue,
        overdue: l.overdue,
        filters: filters.join("&"),
    })
}

pub struct ContactLine {
    pub outcome: &'static str,
    pub note: String,
    pub author: String,
    pub at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/followup.html")]
pub struct DetailPage {
    pub layout: Layout,
    pub d: Detail,
    pub staff: bool,
    pub contacts: Vec<ContactLine>,
    pub dimensions: Vec<followup::DimensionLevel>,
    pub outcomes: Vec<Choice>,
    pub lawyers: Vec<Choice>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub note: String,
    pub opened_at: String,
    pub retaken_at: String,
}

impl DetailPage {
    pub fn status_label(&self) -> &'static str {
        self.d.row.status().label_zh()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    pub saved: Option<String>,
}

async fn detail_page_of(
    state: &AppState,
    user: &crate::accounts::User,
    layout: Layout,
    id: i64,
    notice: Option<String>,
    error: Option<(String, String)>,
) -> AppResult<DetailPage> {
    let now = state.clock.now();
    let d = uc::detail(&state.db, &state.questionnaires, user, id, now).await?;
    let staff = is_staff(user);
    let lawyers = if d.may_assign {
        uc::lawyers(&state.db, user)
            .await?
            .into_iter()
            .map(|(lid, name)| Choice {
                value: lid.to_string(),
                label: name,
                selected: d.row.advisor_id == Some(lid),
            })
            .collect()
    } else {
        Vec::new()
    };
    let (error, note) = match error {
        Some((e, n)) => (Some(e), n),
        None => (None, String::new()),
    };
    Ok(DetailPage {
        layout,
        staff,
        contacts: d
            .contacts
            .iter()
            .map(|c| ContactLine {
                outcome: c.outcome.0.label_zh(),
                note: c.note.clone(),
                author: c.author_name.clone().unwrap_or_else(|| "—".into()),
                at: local(&c.created_at),
            })
            .collect(),
        dimensions: d.levels().worst_first(),
        outcomes: [
            FollowupOutcome::Contacted,
            FollowupOutcome::Rectifying,
            FollowupOutcome::Rectified,
            FollowupOutcome::NotRectified,
        ]
        .iter()
        .map(|o| Choice {
            value: o.as_str().into(),
            label: o.label_zh().into(),
            selected: false,
        })
        .collect(),
        lawyers,
        notice,
        error,
        note,
        opened_at: local(&d.row.opened_at),
        retaken_at: d
            .retake
            .as_ref()
            .map(|r| local(&r.retaken_at))
            .unwrap_or_default(),
        d,
    })
}

pub async fn detail_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> AppResult<DetailPage> {
    let notice = q.saved.map(|_| "已保存。".to_string());
    detail_page_of(&state, &user, layout, id, notice, None).await
}

#[derive(Debug, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub note: String,
}

pub async fn contact_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> AppResult<Response> {
    let outcome = FollowupOutcome::parse(&form.outcome);
    match uc::record_contact(&state.db, &user, id, outcome, &form.note, state.clock.now()).await {
        Ok(_) => Ok(Redirect::to(&format!("/followups/{id}?saved=1")).into_response()),
        Err(QaError::Invalid(errors)) => {
            let message = errors.to_string();
            let page =
                detail_page_of(&state, &user, layout, id, None, Some((message, form.note))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    pub advisor_id: String,
}

pub async fn assign_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<AssignForm>,
) -> AppResult<Response> {
    // an unparsable id is no lawyer: the use case says so in Chinese
    let lawyer = form.advisor_id.trim().parse().unwrap_or(0);
    match uc::assign(&state.db, &user, id, lawyer, state.clock.now()).await {
        Ok(()) => Ok(Redirect::to(&format!("/followups/{id}?saved=1")).into_response()),
        Err(QaError::Invalid(errors)) => {
            let page = detail_page_of(
                &state,
                &user,
                layout,
                id,
                None,
                Some((errors.to_string(), String::new())),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/loop.html")]
pub struct LoopPage {
    pub layout: Layout,
    pub month: String,
    pub month_zh: String,
    pub previous: String,
    pub next: String,
    pub funnel: Funnel,
    pub chart: String,
}

pub async fn loop_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(p): Query<LoopParams>,
) -> AppResult<LoopPage> {
    let now = state.clock.now();
    let month = month_of(&p, now, true)?;
    let funnel = uc::loop_of(&state.db, &user, month, now).await?;
    Ok(LoopPage {
        layout,
        month: month.label(),
        month_zh: month.label_zh(),
        previous: month.previous().label(),
        next: month.next().label(),
        chart: funnel::bars_svg(&funnel.stages),
        funnel,
    })
}
