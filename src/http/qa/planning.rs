//! Precision planning in the browser and the API (issue 16, organizers): `/admin/planning`
//! proposes next month's topics with their evidence and matching lawyers, and adopting them
//! makes a draft program with unplaced sessions (`/api/v1/planning/…` are the twins). Every
//! handler calls [`crate::app::qa::planning`].

use crate::app::qa::planning as uc;
use crate::app::qa::QaError;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Forbidden, PayloadTooLarge, Unauthorized, Unprocessable, UnsupportedMediaType,
};
use crate::http::AppState;
use crate::qa::planning::{Proposal, DEFAULT_TOP};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most proposals one request lists.
const MAX_TOP: usize = 12;

pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .routes(routes!(api_proposals))
        .routes(routes!(api_adopt))
        .route("/admin/planning", get(page))
        .route("/admin/planning/programs", post(adopt_form))
}

/// How many proposals.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalParams {
    /// 1 to 12, default 5.
    #[param(minimum = 1, maximum = 12)]
    pub top: Option<usize>,
}

/// Next month's proposed topics.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposalsView {
    /// The month they are for, YYYY-MM.
    pub month: String,
    pub proposals: Vec<Proposal>,
}

/// Topics proposed for next month (organizers), best first: the enterprises whose latest
/// check-up has the topic at 高/中, questions of the last 30 days, lowered by lectures held on
/// it in the last 90; each with its evidence in Chinese and the lawyers whose profiles list it.
#[utoipa::path(get, path = "/api/v1/planning/proposals", tag = "qa", params(ProposalParams),
    security(("pufa_session" = [])),
    responses((status = 200, body = ProposalsView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 422, response = Unprocessable)))]
pub async fn api_proposals(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(p): Query<ProposalParams>,
) -> AppResult<Json<ProposalsView>> {
    let now = state.clock.now();
    let top = match p.top {
        None => DEFAULT_TOP,
        Some(top) if (1..=MAX_TOP).contains(&top) => top,
        Some(_) => {
            return Err(QaError::Invalid(crate::validation::FieldErrors::single(
                "top",
                format!("建议数量应为 1 至 {MAX_TOP}"),
            ))
            .into())
        }
    };
    let proposals = uc::proposals(&state.db, &state.questionnaires, &user, now, top).await?;
    Ok(Json(ProposalsView {
        month: uc::next_month(now).label(),
        proposals,
    }))
}

/// Topics to adopt into a draft program.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    /// YYYY-MM, this month or later; default next month.
    #[serde(default)]
    pub month: Option<String>,
    /// Dimension ids (1 to 10), e.g. `["labour", "contracts"]`.
    pub topics: Vec<String>,
}

/// The draft program made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftProgramView {
    /// Program id (`/admin/programs/{id}`).
    pub id: i64,
    /// Its sessions, unplaced (the scheduler places them).
    pub session_ids: Vec<i64>,
}

/// Adopt topics (organizers): a draft program for the month with one unplaced session per
/// topic, lectured by the first lawyer whose profile lists the topic (else a placeholder 待定).
/// 422 for an unknown topic, no topic, or a past month.
#[utoipa::path(post, path = "/api/v1/planning/programs", tag = "qa",
    request_body = AdoptRequest, security(("pufa_session" = [])),
    responses((status = 201, body = DraftProgramView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_adopt(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<AdoptRequest>,
) -> AppResult<Response> {
    let draft = uc::adopt(
        &state.db,
        &state.questionnaires,
        &user,
        state.clock.now(),
        req.month.as_deref(),
        &req.topics,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(DraftProgramView {
            id: draft.program_id,
            session_ids: draft.session_ids,
        }),
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/planning.html")]
pub struct PlanningPage {
    pub layout: Layout,
    pub month: String,
    pub month_zh: String,
    pub proposals: Vec<Proposal>,
    pub error: Option<String>,
}

impl PlanningPage {
    pub fn industry_names(&self, p: &Proposal) -> String {
        p.industries
            .iter()
            .filter_map(|c| c.chars().next())
            .filter_map(crate::accounts::industry::section_name)
            .collect::<Vec<_>>()
            .join("、")
    }

    pub fn lawyer_names(&self, p: &Proposal) -> String {
        if p.lawyers.is_empty() {
            return "暂无（将使用待定讲师）".into();
        }
        p.lawyers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }
}

async fn render(
    state: &AppState,
    user: &crate::accounts::User,
    layout: Layout,
    error: Option<String>,
) -> AppResult<PlanningPage> {
    let now = state.clock.now();
    let proposals = uc::proposals(&state.db, &state.questionnaires, user, now, DEFAULT_TOP).await?;
    let month = uc::next_month(now);
    Ok(PlanningPage {
        layout,
        month: month.label(),
        month_zh: month.label_zh(),
        proposals,
        error,
    })
}

pub async fn page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> AppResult<PlanningPage> {
    render(&state, &user, layout, None).await
}

/// The adopt form: `month` and repeated `topic` fields (as pairs: a struct cannot take a
/// repeated field from `serde_urlencoded`).
pub async fn adopt_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let month = pairs
        .iter()
        .find(|(k, _)| k == "month")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let topics: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "topic")
        .map(|(_, v)| v)
        .collect();
    match uc::adopt(
        &state.db,
        &state.questionnaires,
        &user,
        state.clock.now(),
        Some(&month),
        &topics,
    )
    .await
    {
        Ok(d) => Ok(Redirect::to(&format!("/admin/programs/{}", d.program_id)).into_response()),
        Err(QaError::Invalid(errors)) => {
            let page = render(&state, &user, layout, Some(errors.to_string())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
