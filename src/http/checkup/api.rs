//! The check-up JSON API: the questionnaire, the notice and the consent to it, drafts,
//! submissions, reports, their access log and deleting a check-up.

use crate::accounts::Role;
use crate::app::checkup::{self as use_case, AccessEntry, CheckupReport, Consent, Draft};
use crate::checkup::notice;
use crate::checkup::questionnaire::{Answers, Questionnaire, Severity};
use crate::checkup::scoring::{Level, Recommendation};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, Path};
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
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
    /// Who bears the exposure for this answer: 刑事/行政/民事责任 or 经营损失风险 (`loss`).
    pub severity: Severity,
    /// Answered 不清楚: graded 中 until a lawyer checks it, with `verify` as the next step.
    pub needs_lawyer: bool,
    #[schema(required = true)]
    pub verify: Option<String>,
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
    /// The scoring rules the report was computed with (1: v2026.1, 2: v2027.1 and later).
    pub scoring: u32,
    /// 法律依据更新至: the date the questionnaire's citations were checked against.
    #[schema(required = true)]
    pub law_date: Option<String>,
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
            scoring: r.report.scoring,
            law_date: r.report.law_date.clone(),
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
                    severity: f.severity,
                    needs_lawyer: f.needs_lawyer,
                    verify: f.verify,
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
/// a draft may leave items open. Nothing is stored before the enterprise confirmed the notice
/// (409 `consent_required`: see `POST /api/v1/checkup/consent`).
#[utoipa::path(post, path = "/api/v1/checkup/submissions", tag = "checkup",
    request_body = SubmissionRequest, security(("pufa_session" = [])),
    responses((status = 201, body = ReportView, description = "submitted; the report"),
              (status = 200, body = DraftView, description = "draft saved"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
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
    let report = use_case::submit(
        db,
        questionnaires,
        &state.config.qa,
        now,
        &user,
        &req.answers,
    )
    .await?;
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

/// A report (its enterprise and organizers only; anyone else gets 404). An organizer's
/// opening is logged and shown to the enterprise (`GET /api/v1/checkup/reports/{id}/access-log`).
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

/// A section of the notice.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoticeSectionView {
    pub heading: String,
    pub points: Vec<String>,
}

/// The notice an enterprise confirms before it starts: who can read its report, how long it is
/// kept, and that the check-up is a self-check, not legal advice.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    /// The questionnaire version the consent is for (the current one).
    pub questionnaire_version: String,
    /// The revision of the notice text.
    pub notice_revision: String,
    /// The notice, section by section.
    pub notice: Vec<NoticeSectionView>,
    /// When the enterprise confirmed it; `null` until it does.
    #[schema(required = true)]
    pub consented_at: Option<DateTime<Utc>>,
}

impl From<Consent> for ConsentView {
    fn from(c: Consent) -> Self {
        ConsentView {
            questionnaire_version: c.version,
            notice_revision: c.notice.to_string(),
            notice: notice::SECTIONS
                .iter()
                .map(|s| NoticeSectionView {
                    heading: s.heading.to_string(),
                    points: s.points.iter().map(|p| p.to_string()).collect(),
                })
                .collect(),
            consented_at: c.consented_at,
        }
    }
}

/// The notice for the current questionnaire and whether the enterprise has confirmed it
/// (enterprises only).
#[utoipa::path(get, path = "/api/v1/checkup/consent", tag = "checkup", security(("pufa_session" = [])),
    responses((status = 200, body = ConsentView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden)))]
pub async fn api_consent(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<ConsentView>> {
    let consent = use_case::consent(&state.db, &state.questionnaires, &user).await?;
    Ok(Json(ConsentView::from(consent)))
}

/// Confirm the notice (enterprises only): record that the enterprise read who can read its
/// report, how long it is kept and that this is not legal advice, with the time and the
/// questionnaire version. Drafts and submissions are refused until then. Confirming again keeps
/// the first time.
#[utoipa::path(post, path = "/api/v1/checkup/consent", tag = "checkup", security(("pufa_session" = [])),
    responses((status = 200, body = ConsentView, description = "confirmed"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn api_give_consent(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<ConsentView>> {
    let consent =
        use_case::give_consent(&state.db, &state.questionnaires, state.clock.now(), &user).await?;
    Ok(Json(ConsentView::from(consent)))
}

/// One opening of a report by an account other than its enterprise.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessEntryView {
    /// The account that opened the report.
    pub viewer_id: i64,
    /// The role it had then.
    pub viewer_role: Role,
    /// The account's display name; `null` when the account was removed.
    #[schema(required = true)]
    pub viewer_name: Option<String>,
    pub accessed_at: DateTime<Utc>,
}

impl From<AccessEntry> for AccessEntryView {
    fn from(a: AccessEntry) -> Self {
        AccessEntryView {
            viewer_id: a.viewer_id,
            viewer_role: a.viewer_role,
            viewer_name: a.viewer_name,
            accessed_at: a.accessed_at,
        }
    }
}

/// Who opened a report besides its enterprise.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLogView {
    pub report_id: i64,
    /// Newest first.
    pub entries: Vec<AccessEntryView>,
}

/// Every opening of the report (page or API) by another account, newest first. Only the
/// report's enterprise reads it: organizers, who may open the report, get 403; anyone else 404.
#[utoipa::path(get, path = "/api/v1/checkup/reports/{id}/access-log", tag = "checkup",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 200, body = AccessLogView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_access_log(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<AccessLogView>> {
    let entries = use_case::access_log(&state.db, &user, id).await?;
    Ok(Json(AccessLogView {
        report_id: id,
        entries: entries.into_iter().map(AccessEntryView::from).collect(),
    }))
}

/// Delete a check-up for good: a report with its access log, or the draft (its `draft_id`).
/// Only its enterprise may; organizers get 403, anyone else 404. Afterwards it is 404 for
/// everyone and no dashboard, 回访 list or export counts it.
#[utoipa::path(delete, path = "/api/v1/checkup/reports/{id}", tag = "checkup",
    params(("id" = i64, Path)), security(("pufa_session" = [])),
    responses((status = 204, description = "deleted"), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_delete_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    use_case::delete(&state.db, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
