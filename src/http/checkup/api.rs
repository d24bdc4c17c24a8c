//! The check-up JSON API: the questionnaire, drafts, submissions and reports.

use crate::app::checkup::{self as use_case, CheckupReport, Draft};
use crate::checkup::questionnaire::{Answers, Questionnaire};
use crate::checkup::scoring::{Level, Recommendation};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, Path};
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A dimension in the API's report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DimensionView {
    pub id: String,
    pub name: String,
    pub score: u32,
    pub level: Level,
}

/// A finding in the API's report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingView {
    pub item_id: String,
    pub level: Level,
    pub red_line: bool,
    pub question: String,
    pub answer: String,
    pub finding: String,
    pub legal_basis: String,
    pub consequence: String,
    pub recommendation: String,
}

/// A submitted check-up's report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportView {
    pub report_id: i64,
    pub version: String,
    #[schema(required = true)]
    pub submitted_at: Option<DateTime<Utc>>,
    pub overall_level: Level,
    pub red_lines: Vec<String>,
    pub dimensions: Vec<DimensionView>,
    pub findings: Vec<FindingView>,
    pub recommended_sessions: Vec<Recommendation>,
}

impl From<CheckupReport> for ReportView {
    fn from(r: CheckupReport) -> Self {
        ReportView {
            report_id: r.id,
            version: r.version,
            submitted_at: r.submitted_at,
            overall_level: r.report.overall_level,
            red_lines: r.report.red_lines,
            dimensions: r
                .report
                .dimensions
                .into_iter()
                .map(|d| DimensionView {
                    id: d.id,
                    name: d.name,
                    score: d.score,
                    level: d.level,
                })
                .collect(),
            findings: r
                .report
                .findings
                .into_iter()
                .map(|f| FindingView {
                    item_id: f.item_id,
                    level: f.level,
                    red_line: f.red_line,
                    question: f.question,
                    answer: f.answer,
                    finding: f.finding,
                    legal_basis: f.legal_basis,
                    consequence: f.consequence,
                    recommendation: f.recommendation,
                })
                .collect(),
            recommended_sessions: r.recommendations,
        }
    }
}

/// The current questionnaire.
#[utoipa::path(get, path = "/api/v1/checkup/questionnaire", tag = "checkup",
    responses((status = 200, body = Questionnaire)))]
pub async fn api_questionnaire(State(state): State<AppState>) -> Json<Questionnaire> {
    Json((**state.questionnaires.current()).clone())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answers": {}, "draft": true}))]
pub struct SubmissionRequest {
    /// item id → option id
    #[serde(default)]
    pub answers: Answers,
    /// Save as a draft (items may be left open) instead of submitting.
    #[serde(default)]
    pub draft: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    pub draft_id: i64,
    pub version: String,
    pub answers: Answers,
    /// Applicable items still without an answer.
    pub unanswered: Vec<String>,
}

impl From<Draft> for DraftView {
    fn from(d: Draft) -> Self {
        DraftView {
            draft_id: d.id,
            version: d.version,
            answers: d.answers,
            unanswered: d.unanswered,
        }
    }
}

/// Submit the check-up (or save a draft with `"draft": true`), enterprises only. A submission
/// must answer every item that applies to the enterprise's industry (422 names the open ones);
/// a draft may leave items open.
#[utoipa::path(post, path = "/api/v1/checkup/submissions", tag = "checkup",
    request_body = SubmissionRequest, security(("pufa_session" = [])),
    responses((status = 201, body = ReportView, description = "submitted; the report"),
              (status = 200, body = DraftView, description = "draft saved"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable)))]
pub async fn api_submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<SubmissionRequest>,
) -> AppResult<Response> {
    let (db, questionnaires, now) = (&state.db, &state.questionnaires, state.clock.now());
    if req.draft {
        let draft = use_case::save_draft(db, questionnaires, now, &user, req.answers).await?;
        return Ok(Json(DraftView::from(draft)).into_response());
    }
    let report = use_case::submit(db, questionnaires, now, &user, &req.answers).await?;
    Ok((StatusCode::CREATED, Json(ReportView::from(report))).into_response())
}

/// The enterprise's saved draft (enterprises only; 404 when there is none).
#[utoipa::path(get, path = "/api/v1/checkup/draft", tag = "checkup", security(("pufa_session" = [])),
    responses((status = 200, body = DraftView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_draft(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<DraftView>> {
    let draft = use_case::draft(&state.db, &state.questionnaires, &user).await?;
    Ok(Json(DraftView::from(draft)))
}

/// A report (its enterprise and organizers only; anyone else gets 404).
#[utoipa::path(get, path = "/api/v1/checkup/reports/{id}", tag = "checkup",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = ReportView), (status = 401, response = Unauthorized),
              (status = 404, response = NotFound)))]
pub async fn api_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ReportView>> {
    let report = use_case::report(
        &state.db,
        &state.questionnaires,
        state.clock.now(),
        &user,
        id,
    )
    .await?;
    Ok(Json(ReportView::from(report)))
}
