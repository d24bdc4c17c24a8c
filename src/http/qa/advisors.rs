//! 5+1 advisor groups over HTTP: the organizers' `/admin/advisors` (groups, members, the small
//! enterprises without an advisor) and `/api/v1/advisor-groups`, the lawyer's `/advisors`.
//! Every handler calls [`crate::app::qa::advisors`].

use crate::app::qa::advisors::{self as uc, Group, Member};
use crate::app::qa::QaError;
use crate::db::advisors::{GroupEnterprise, GroupLawyer};
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::views::format::timestamp;
use crate::http::AppState;
use crate::qa::EnterpriseSize;
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
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_update, api_delete))
        .route("/admin/advisors", get(admin_page).post(create_form))
        .route("/admin/advisors/{id}/members", post(member_form))
        .route("/admin/advisors/{id}/delete", post(delete_form))
        .route("/advisors", get(lawyer_page))
}

/// The label of a stored size, or 未填写.
pub fn size_label(size: Option<&str>) -> &'static str {
    size.and_then(EnterpriseSize::parse)
        .map(EnterpriseSize::label_zh)
        .unwrap_or("未填写")
}

// ---------------------------------------------------------------------------------------------
// API

/// A lawyer of a group.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupLawyerView {
    /// Account id.
    pub id: i64,
    pub name: String,
    pub firm: String,
}

/// An enterprise of a group.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupEnterpriseView {
    /// Account id.
    pub id: i64,
    pub name: String,
    /// GB/T 4754 section.
    pub industry: String,
    #[schema(required = true)]
    pub size: Option<EnterpriseSize>,
}

/// An advisor group.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub lawyers: Vec<GroupLawyerView>,
    pub enterprises: Vec<GroupEnterpriseView>,
}

impl From<&Group> for GroupView {
    fn from(g: &Group) -> Self {
        GroupView {
            id: g.row.id,
            name: g.row.name.clone(),
            created_at: g.row.created_at,
            lawyers: g
                .lawyers
                .iter()
                .map(|l| GroupLawyerView {
                    id: l.id,
                    name: l.name.clone(),
                    firm: l.firm.clone(),
                })
                .collect(),
            enterprises: g
                .enterprises
                .iter()
                .map(|e| GroupEnterpriseView {
                    id: e.id,
                    name: e.name.clone(),
                    industry: e.industry.clone(),
                    size: e.size(),
                })
                .collect(),
        }
    }
}

/// The members of a group.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    /// At most 40 characters; the lawyers' names when left out (unchanged on `PUT`).
    #[serde(default)]
    pub name: Option<String>,
    /// 1 to `group_max_lawyers` (2) lawyer account ids.
    #[serde(default)]
    #[schema(required = true)]
    pub lawyer_ids: Vec<i64>,
    /// 1 to `group_max_enterprises` (5) ids of small or micro enterprises in no other group.
    #[serde(default)]
    #[schema(required = true)]
    pub enterprise_ids: Vec<i64>,
}

/// Advisor groups with their lawyers and enterprises (organizers).
#[utoipa::path(get, path = "/api/v1/advisor-groups", tag = "qa",
    security(("pufa_session" = [])),
    responses((status = 200, body = [GroupView]), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden)))]
pub async fn api_list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<Vec<GroupView>>> {
    let groups = uc::list(&state.db, &user).await?;
    Ok(Json(groups.iter().map(GroupView::from).collect()))
}

/// Form an advisor group (organizers): 1–2 lawyers and 1–5 small or micro enterprises that
/// have no advisor yet (the limits are settings). 422 names each member refused (not a
/// lawyer, medium or large, size unknown, already in a group).
#[utoipa::path(post, path = "/api/v1/advisor-groups", tag = "qa",
    request_body = GroupRequest, security(("pufa_session" = [])),
    responses((status = 201, body = GroupView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<GroupRequest>,
) -> AppResult<Response> {
    let g = uc::create(
        &state.db,
        &state.config.qa,
        state.clock.now(),
        &user,
        body.name.as_deref(),
        &body.lawyer_ids,
        &body.enterprise_ids,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(GroupView::from(&g))).into_response())
}

/// Replace the members (and the name, when given) of an advisor group (organizers), under
/// the same rules as creating one.
#[utoipa::path(put, path = "/api/v1/advisor-groups/{id}", tag = "qa",
    params(("id" = i64, Path)), request_body = GroupRequest, security(("pufa_session" = [])),
    responses((status = 200, body = GroupView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<GroupRequest>,
) -> AppResult<Json<GroupView>> {
    let g = uc::update(
        &state.db,
        &state.config.qa,
        state.clock.now(),
        &user,
        id,
        body.name.as_deref(),
        &body.lawyer_ids,
        &body.enterprise_ids,
    )
    .await?;
    Ok(Json(GroupView::from(&g)))
}

/// Dissolve an advisor group (organizers): its enterprises have no advisor afterwards.
#[utoipa::path(delete, path = "/api/v1/advisor-groups/{id}", tag = "qa",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 204, description = "dissolved"), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    uc::delete(&state.db, state.clock.now(), &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Organizers' page

/// A group as the page shows it.
pub struct GroupCard {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub lawyers: Vec<GroupLawyer>,
    pub enterprises: Vec<(i64, String, &'static str)>,
    pub full: bool,
    pub lawyers_full: bool,
}

/// An enterprise of the lists.
pub struct EnterpriseLine {
    pub id: i64,
    pub name: String,
    pub industry: String,
    pub size: &'static str,
}

fn line(e: &GroupEnterprise) -> EnterpriseLine {
    EnterpriseLine {
        id: e.id,
        name: e.name.clone(),
        industry: e.industry.clone(),
        size: size_label(e.size.as_deref()),
    }
}

/// `/admin/advisors`.
#[derive(Template, WebTemplate)]
#[template(path = "qa/advisors_admin.html")]
pub struct AdminPage {
    pub layout: Layout,
    pub groups: Vec<GroupCard>,
    pub lawyers: Vec<(i64, String, String)>,
    pub unassigned: Vec<EnterpriseLine>,
    pub unassigned_total: i64,
    pub page: i64,
    pub pages: i64,
    pub q: String,
    pub unknown: Vec<EnterpriseLine>,
    pub unknown_total: i64,
    pub max_lawyers: u32,
    pub max_enterprises: u32,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub notice: Option<String>,
}

async fn admin_page_of(
    state: &AppState,
    user: &crate::accounts::User,
    layout: Layout,
    query: &AdminQuery,
    error: Option<String>,
) -> AppResult<AdminPage> {
    let limits = &state.config.qa;
    let groups = uc::list(&state.db, user).await?;
    let lawyers = uc::lawyer_choices(&state.db, user).await?;
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(1);
    let u = uc::unassigned(&state.db, user, query.q.as_deref(), page).await?;
    let tz = crate::schedule::DEFAULT_TZ;
    Ok(AdminPage {
        layout,
        groups: groups
            .iter()
            .map(|g| GroupCard {
                id: g.row.id,
                name: g.row.name.clone(),
                created: timestamp(&g.row.created_at, tz),
                lawyers: g.lawyers.clone(),
                enterprises: g
                    .enterprises
                    .iter()
                    .map(|e| (e.id, e.name.clone(), size_label(e.size.as_deref())))
                    .collect(),
                full: g.enterprises.len() >= limits.group_max_enterprises as usize,
                lawyers_full: g.lawyers.len() >= limits.group_max_lawyers as usize,
            })
            .collect(),
        lawyers,
        unassigned: u.enterprises.iter().map(line).collect(),
        unassigned_total: u.total,
        page: u.page,
        pages: u.pages,
        q: query.q.clone().unwrap_or_default(),
        unknown: u.unknown_size.iter().map(line).collect(),
        unknown_total: u.unknown_total,
        max_lawyers: limits.group_max_lawyers,
        max_enterprises: limits.group_max_enterprises,
        notice: match query.notice.as_deref() {
            Some("created") => Some("法律顾问组已建立。".into()),
            Some("changed") => Some("成员已更新。".into()),
            Some("deleted") => Some("法律顾问组已解散，其企业重新列入“尚无法律顾问”。".into()),
            _ => None,
        },
        error,
    })
}

/// `GET /admin/advisors[?q=&page=]`.
pub async fn admin_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(query): Query<AdminQuery>,
) -> AppResult<AdminPage> {
    admin_page_of(&state, &user, layout, &query, None).await
}

/// A refused change shown on the page (422 or 409) rather than as an error page.
async fn refused(
    state: &AppState,
    user: &crate::accounts::User,
    layout: Layout,
    e: QaError,
) -> AppResult<Response> {
    let (status, message) = match &e {
        QaError::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors.to_string()),
        QaError::Conflict { message, .. } => (StatusCode::CONFLICT, message.clone()),
        _ => return Err(AppError::from(e)),
    };
    let page = admin_page_of(state, user, layout, &AdminQuery::default(), Some(message)).await?;
    Ok((status, page).into_response())
}

fn ids(pairs: &[(String, String)], name: &str) -> Vec<i64> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// `POST /admin/advisors`: `name`, repeated `lawyer_id` and `enterprise_id`.
pub async fn create_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let name = field(&pairs, "name");
    match uc::create(
        &state.db,
        &state.config.qa,
        state.clock.now(),
        &user,
        Some(name),
        &ids(&pairs, "lawyer_id"),
        &ids(&pairs, "enterprise_id"),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/admin/advisors?notice=created").into_response()),
        Err(e) => refused(&state, &user, layout, e).await,
    }
}

/// `POST /admin/advisors/{id}/members`: `action` add|remove, `kind` lawyer|enterprise,
/// `member_id`.
pub async fn member_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Ok(member_id) = field(&pairs, "member_id").trim().parse::<i64>() else {
        return refused(
            &state,
            &user,
            layout,
            QaError::Invalid(crate::validation::FieldErrors::single(
                "member_id",
                "请选择要加入的律师或企业",
            )),
        )
        .await;
    };
    let member = match field(&pairs, "kind") {
        "lawyer" => Member::Lawyer(member_id),
        "enterprise" => Member::Enterprise(member_id),
        _ => return Err(AppError::NotFound),
    };
    let add = match field(&pairs, "action") {
        "add" => true,
        "remove" => false,
        _ => return Err(AppError::NotFound),
    };
    match uc::change_member(
        &state.db,
        &state.config.qa,
        state.clock.now(),
        &user,
        id,
        member,
        add,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/admin/advisors?notice=changed").into_response()),
        Err(e) => refused(&state, &user, layout, e).await,
    }
}

/// `POST /admin/advisors/{id}/delete`.
pub async fn delete_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    uc::delete(&state.db, state.clock.now(), &user, id).await?;
    Ok(Redirect::to("/admin/advisors?notice=deleted").into_response())
}

// ---------------------------------------------------------------------------------------------
// The lawyer's page

/// `/advisors`: the lawyer's groups and their enterprises' contacts.
#[derive(Template, WebTemplate)]
#[template(path = "qa/advisors_mine.html")]
pub struct LawyerPage {
    pub layout: Layout,
    pub groups: Vec<(String, Vec<GroupEnterprise>)>,
}

impl LawyerPage {
    pub fn size(&self, e: &GroupEnterprise) -> &'static str {
        size_label(e.size.as_deref())
    }
    pub fn industry(&self, e: &GroupEnterprise) -> String {
        let name = e
            .industry
            .chars()
            .next()
            .and_then(crate::accounts::industry::section_name)
            .unwrap_or("");
        format!("{} {}", e.industry, name)
    }
}

/// `GET /advisors` (lawyers): audited, since it shows contacts and mobiles.
pub async fn lawyer_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> AppResult<LawyerPage> {
    let groups = uc::of_lawyer(&state.db, state.clock.now(), &user).await?;
    Ok(LawyerPage {
        layout,
        groups: groups
            .into_iter()
            .map(|g| (g.row.name, g.enterprises))
            .collect(),
    })
}
