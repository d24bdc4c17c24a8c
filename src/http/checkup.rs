//! The legal health check: questionnaire API, page-by-page filling with drafts, reports and
//! the organizer dashboard.

use super::extract::{Json, Path};
use super::pages::Layout;
use super::session::{CsrfForm, CurrentUser};
use super::views::format::zoned_zh as format_local;
use super::AppState;
use crate::accounts::{industry, Role, User};
use crate::checkup::dashboard::{self, Dashboard, Entry};
use crate::checkup::questionnaire::{
    check_answers, unanswered, AnswerProblem, Answers, Item, Questionnaire,
};
use crate::checkup::radar::radar_svg;
use crate::checkup::scoring::{self, Level, Offer, Recommendation, Report};
use crate::db::accounts::Enterprise;
use crate::db::checkups::CheckupRow;
use crate::error::{AppError, AppResult};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How many lectures a report recommends.
const RECOMMENDATIONS: usize = 8;

fn problems_error(problems: &[AnswerProblem]) -> AppError {
    let mut errors = FieldErrors::default();
    for p in problems {
        errors.add(&p.field(), p.message_zh());
    }
    AppError::Validation(errors)
}

/// The questionnaire a stored check-up answered (the current one or an older version).
async fn questionnaire_for(state: &AppState, version: &str) -> AppResult<Arc<Questionnaire>> {
    if version == state.questionnaire.version {
        return Ok(state.questionnaire.clone());
    }
    let source = state
        .db
        .questionnaire_source(version)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("questionnaire {version} missing")))?;
    let q = Questionnaire::parse(&source).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Arc::new(q))
}

async fn enterprise_of(state: &AppState, user: &User) -> AppResult<Enterprise> {
    if user.role != Role::Enterprise {
        return Err(AppError::Forbidden);
    }
    state
        .db
        .enterprise(user.id)
        .await?
        .ok_or(AppError::Forbidden)
}

/// Upcoming sessions as recommendation candidates.
async fn offers(state: &AppState) -> AppResult<Vec<Offer>> {
    Ok(state
        .db
        .upcoming_sessions(Utc::now())
        .await?
        .into_iter()
        .map(|s| Offer {
            id: s.id,
            title: s.title.clone(),
            category: s.category.clone(),
            kind: "session".into(),
            industries: s.industries(),
            starts_at: s
                .starts_at
                .map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339()),
        })
        .collect())
}

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
    pub submitted_at: Option<DateTime<Utc>>,
    pub overall_level: Level,
    pub red_lines: Vec<String>,
    pub dimensions: Vec<DimensionView>,
    pub findings: Vec<FindingView>,
    pub recommended_sessions: Vec<Recommendation>,
}

struct Computed {
    report: Report,
    recommendations: Vec<Recommendation>,
}

async fn compute(state: &AppState, row: &CheckupRow) -> AppResult<Computed> {
    let q = questionnaire_for(state, &row.version).await?;
    let report = scoring::score(&q, &row.industry, &row.answers());
    let recommendations = scoring::recommend(
        &report,
        &row.industry,
        &offers(state).await?,
        RECOMMENDATIONS,
    );
    Ok(Computed {
        report,
        recommendations,
    })
}

fn report_view(row: &CheckupRow, c: Computed) -> ReportView {
    ReportView {
        report_id: row.id,
        version: row.version.clone(),
        submitted_at: row.submitted_at,
        overall_level: c.report.overall_level,
        red_lines: c.report.red_lines.clone(),
        dimensions: c
            .report
            .dimensions
            .iter()
            .map(|d| DimensionView {
                id: d.id.clone(),
                name: d.name.clone(),
                score: d.score,
                level: d.level,
            })
            .collect(),
        findings: c
            .report
            .findings
            .iter()
            .map(|f| FindingView {
                item_id: f.item_id.clone(),
                level: f.level,
                red_line: f.red_line,
                question: f.question.clone(),
                answer: f.answer.clone(),
                finding: f.finding.clone(),
                legal_basis: f.legal_basis.clone(),
                consequence: f.consequence.clone(),
                recommendation: f.recommendation.clone(),
            })
            .collect(),
        recommended_sessions: c.recommendations,
    }
}

/// A submitted report the user may read: its own enterprise or an organizer. Anyone else gets
/// 404, so report ids reveal nothing.
async fn readable_report(state: &AppState, user: &User, id: i64) -> AppResult<CheckupRow> {
    let row = state.db.checkup(id).await?.ok_or(AppError::NotFound)?;
    let allowed = user.role == Role::Organizer || row.enterprise_id == user.id;
    if !allowed || row.status != "submitted" {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

// ---------- API ----------

/// The current questionnaire.
#[utoipa::path(get, path = "/api/v1/checkup/questionnaire", tag = "checkup",
    responses((status = 200, body = Questionnaire)))]
pub async fn api_questionnaire(State(state): State<AppState>) -> Json<Questionnaire> {
    Json((*state.questionnaire).clone())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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

/// Submit the check-up (or save a draft with `"draft": true`).
#[utoipa::path(post, path = "/api/v1/checkup/submissions", tag = "checkup",
    request_body = SubmissionRequest,
    responses((status = 201, body = ReportView), (status = 200, body = DraftView, description = "draft saved"),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(req): Json<SubmissionRequest>,
) -> AppResult<Response> {
    let enterprise = enterprise_of(&state, &user).await?;
    let q = state.questionnaire.clone();
    let problems = check_answers(&q, &enterprise.industry, &req.answers, !req.draft);
    if !problems.is_empty() {
        return Err(problems_error(&problems));
    }
    if req.draft {
        let id = state
            .db
            .save_draft(
                enterprise.id,
                &q.version,
                &enterprise.industry,
                &req.answers,
            )
            .await?;
        return Ok(Json(DraftView {
            draft_id: id,
            version: q.version.clone(),
            unanswered: unanswered(&q, &enterprise.industry, &req.answers),
            answers: req.answers,
        })
        .into_response());
    }
    let id = submit(&state, &q, &enterprise, &req.answers).await?;
    let row = readable_report(&state, &user, id).await?;
    let view = report_view(&row, compute(&state, &row).await?);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn submit(
    state: &AppState,
    q: &Questionnaire,
    enterprise: &Enterprise,
    answers: &Answers,
) -> AppResult<i64> {
    let report = scoring::score(q, &enterprise.industry, answers);
    Ok(state
        .db
        .submit_checkup(
            enterprise.id,
            &q.version,
            &enterprise.industry,
            answers,
            report.overall_level.as_str(),
        )
        .await?)
}

/// The enterprise's saved draft.
#[utoipa::path(get, path = "/api/v1/checkup/draft", tag = "checkup",
    responses((status = 200, body = DraftView), (status = 404, body = crate::error::Problem)))]
pub async fn api_draft(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<DraftView>> {
    let enterprise = enterprise_of(&state, &user).await?;
    let draft = state
        .db
        .draft(enterprise.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let answers = draft.answers();
    Ok(Json(DraftView {
        draft_id: draft.id,
        unanswered: unanswered(&state.questionnaire, &enterprise.industry, &answers),
        version: draft.version,
        answers,
    }))
}

/// A report (its enterprise and organizers only).
#[utoipa::path(get, path = "/api/v1/checkup/reports/{id}", tag = "checkup",
    params(("id" = i64, Path)),
    responses((status = 200, body = ReportView), (status = 404, body = crate::error::Problem)))]
pub async fn api_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ReportView>> {
    let row = readable_report(&state, &user, id).await?;
    let c = compute(&state, &row).await?;
    Ok(Json(report_view(&row, c)))
}

// ---------- pages: filling in ----------

#[derive(Template, WebTemplate)]
#[template(path = "checkup/index.html")]
pub struct IndexPage {
    pub layout: Layout,
    pub title: String,
    pub dimension_count: usize,
    pub item_count: usize,
    pub has_draft: bool,
    pub draft_answered: usize,
    pub reports: Vec<(i64, String, Level)>,
    pub is_enterprise: bool,
}

pub async fn index_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
) -> AppResult<Response> {
    if user.is_organizer() {
        return Ok(Redirect::to("/admin/checkups").into_response());
    }
    let q = &state.questionnaire;
    let mut page = IndexPage {
        layout,
        title: q.title.clone(),
        dimension_count: q.dimensions.len(),
        item_count: q.items.len(),
        has_draft: false,
        draft_answered: 0,
        reports: Vec::new(),
        is_enterprise: user.is_enterprise(),
    };
    if let Ok(e) = enterprise_of(&state, &user).await {
        page.dimension_count = q.dimensions_for(&e.industry).len();
        page.item_count = q.applicable(&e.industry).count();
        if let Some(d) = state.db.draft(e.id).await? {
            page.has_draft = true;
            page.draft_answered = d.answers().len();
        }
        page.reports = state
            .db
            .reports_of(e.id)
            .await?
            .iter()
            .map(|r| {
                (
                    r.id,
                    local_time(r.submitted_at.unwrap_or(r.created_at)),
                    r.overall_level
                        .as_deref()
                        .and_then(Level::parse)
                        .unwrap_or(Level::Low),
                )
            })
            .collect();
    }
    Ok(page.into_response())
}

fn local_time(t: DateTime<Utc>) -> String {
    format_local(&t.with_timezone(&chrono_tz::Asia::Shanghai))
}

pub struct StepView {
    pub number: usize,
    pub name: String,
    pub answered: usize,
    pub total: usize,
}

pub struct ItemView {
    pub item: Item,
    pub chosen: String,
    pub number: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkup/fill.html")]
pub struct FillPage {
    pub layout: Layout,
    pub page: usize,
    pub pages: usize,
    pub dimension_name: String,
    pub dimension_description: String,
    pub items: Vec<ItemView>,
    pub steps: Vec<StepView>,
    pub unanswered_total: usize,
    /// Set when a submission found open items: (page, question) of each.
    pub missing: Vec<(usize, String, String)>,
    pub notice: Option<String>,
}

async fn fill_page_for(
    state: &AppState,
    layout: Layout,
    enterprise: &Enterprise,
    page: usize,
    answers: &Answers,
    missing: Vec<(usize, String, String)>,
    notice: Option<String>,
) -> AppResult<FillPage> {
    let q = &state.questionnaire;
    let dims = q.dimensions_for(&enterprise.industry);
    let Some(dim) = page.checked_sub(1).and_then(|i| dims.get(i)) else {
        return Err(AppError::NotFound);
    };
    let applicable: Vec<&Item> = q.applicable(&enterprise.industry).collect();
    let steps = dims
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let items: Vec<&&Item> = applicable
                .iter()
                .filter(|it| it.dimension == d.id)
                .collect();
            StepView {
                number: i + 1,
                name: d.name.clone(),
                answered: items
                    .iter()
                    .filter(|it| answers.contains_key(&it.id))
                    .count(),
                total: items.len(),
            }
        })
        .collect();
    let first_number = applicable
        .iter()
        .position(|i| i.dimension == dim.id)
        .unwrap_or(0);
    let items = applicable
        .iter()
        .filter(|i| i.dimension == dim.id)
        .enumerate()
        .map(|(n, i)| ItemView {
            chosen: answers.get(&i.id).cloned().unwrap_or_default(),
            item: (*i).clone(),
            number: first_number + n + 1,
        })
        .collect();
    Ok(FillPage {
        layout,
        page,
        pages: dims.len(),
        dimension_name: dim.name.clone(),
        dimension_description: dim.description.clone(),
        items,
        steps,
        unanswered_total: unanswered(q, &enterprise.industry, answers).len(),
        missing,
        notice,
    })
}

pub async fn fill_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(page): Path<usize>,
) -> AppResult<FillPage> {
    let enterprise = enterprise_of(&state, &user).await?;
    let answers = state
        .db
        .draft(enterprise.id)
        .await?
        .filter(|d| d.version == state.questionnaire.version)
        .map(|d| d.answers())
        .unwrap_or_default();
    fill_page_for(
        &state,
        layout,
        &enterprise,
        page,
        &answers,
        Vec::new(),
        None,
    )
    .await
}

pub async fn fill_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(page): Path<usize>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let enterprise = enterprise_of(&state, &user).await?;
    let q = state.questionnaire.clone();
    let mut answers = state
        .db
        .draft(enterprise.id)
        .await?
        .filter(|d| d.version == q.version)
        .map(|d| d.answers())
        .unwrap_or_default();
    let mut action = String::new();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => {}
            "action" => action = v,
            _ => {
                answers.insert(k, v);
            }
        }
    }
    let problems = check_answers(&q, &enterprise.industry, &answers, false);
    if !problems.is_empty() {
        return Err(problems_error(&problems));
    }
    state
        .db
        .save_draft(enterprise.id, &q.version, &enterprise.industry, &answers)
        .await?;
    let pages = q.dimensions_for(&enterprise.industry).len();
    match action.as_str() {
        "prev" => Ok(
            Redirect::to(&format!("/checkup/fill/{}", page.saturating_sub(1).max(1)))
                .into_response(),
        ),
        "next" => {
            Ok(Redirect::to(&format!("/checkup/fill/{}", (page + 1).min(pages))).into_response())
        }
        "submit" => {
            let open = unanswered(&q, &enterprise.industry, &answers);
            if open.is_empty() {
                let id = submit(&state, &q, &enterprise, &answers).await?;
                return Ok(Redirect::to(&format!("/checkup/reports/{id}")).into_response());
            }
            let dims = q.dimensions_for(&enterprise.industry);
            let missing = open
                .iter()
                .filter_map(|id| q.item(id))
                .map(|i| {
                    let p = dims.iter().position(|d| d.id == i.dimension).unwrap_or(0) + 1;
                    (p, i.id.clone(), i.text.clone())
                })
                .collect();
            let page =
                fill_page_for(&state, layout, &enterprise, page, &answers, missing, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        _ => {
            let page = fill_page_for(
                &state,
                layout,
                &enterprise,
                page,
                &answers,
                Vec::new(),
                Some("草稿已保存，可以随时回来继续填写。".into()),
            )
            .await?;
            Ok(page.into_response())
        }
    }
}

// ---------- pages: report ----------

pub struct DimRow {
    pub name: String,
    pub score: u32,
    pub level: Level,
    pub change: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkup/report.html")]
pub struct ReportPage {
    pub layout: Layout,
    pub report_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub date: String,
    pub version: String,
    pub report: Report,
    pub radar: String,
    pub rows: Vec<DimRow>,
    pub previous: Option<(i64, String)>,
    pub recommendations: Vec<Recommendation>,
}

impl ReportPage {
    pub fn level_class(&self, level: &Level) -> &'static str {
        level_class(*level)
    }
    pub fn dimension_name(&self, id: &str) -> String {
        self.report
            .dimensions
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    }
    pub fn when(&self, r: &Recommendation) -> String {
        r.starts_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| format_local(&t.with_timezone(&chrono_tz::Asia::Shanghai)))
            .unwrap_or_else(|| "时间待定".into())
    }
}

pub fn level_class(level: Level) -> &'static str {
    match level {
        Level::Low => "ok",
        Level::Medium => "warn",
        Level::High => "bad",
    }
}

pub async fn report_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<ReportPage> {
    let row = readable_report(&state, &user, id).await?;
    let enterprise = state
        .db
        .enterprise(row.enterprise_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let c = compute(&state, &row).await?;
    let previous = match state.db.previous_report(row.enterprise_id, row.id).await? {
        Some(p) => {
            let q = questionnaire_for(&state, &p.version).await?;
            Some((p.clone(), scoring::score(&q, &p.industry, &p.answers())))
        }
        None => None,
    };
    let rows: Vec<DimRow> = c
        .report
        .dimensions
        .iter()
        .map(|d| DimRow {
            name: d.name.clone(),
            score: d.score,
            level: d.level,
            change: previous.as_ref().and_then(|(_, p)| {
                p.dimensions
                    .iter()
                    .find(|pd| pd.id == d.id)
                    .map(|pd| i64::from(d.score) - i64::from(pd.score))
            }),
        })
        .collect();
    let axes: Vec<(String, u32)> = c
        .report
        .dimensions
        .iter()
        .map(|d| (d.name.clone(), d.score))
        .collect();
    let prev_scores: Option<Vec<u32>> = previous.as_ref().map(|(_, p)| {
        c.report
            .dimensions
            .iter()
            .map(|d| {
                p.dimensions
                    .iter()
                    .find(|pd| pd.id == d.id)
                    .map(|pd| pd.score)
                    .unwrap_or(d.score)
            })
            .collect()
    });
    let industry_name = enterprise
        .industry
        .chars()
        .next()
        .and_then(industry::section_name)
        .unwrap_or("");
    Ok(ReportPage {
        layout,
        report_id: row.id,
        company: enterprise.name.clone(),
        uscc: enterprise.uscc.clone(),
        industry: format!("{} {}", row.industry, industry_name),
        date: local_time(row.submitted_at.unwrap_or(row.created_at)),
        version: row.version.clone(),
        radar: radar_svg(&axes, prev_scores.as_deref()),
        rows,
        previous: previous.map(|(p, _)| (p.id, local_time(p.submitted_at.unwrap_or(p.created_at)))),
        report: c.report,
        recommendations: c.recommendations,
    })
}

// ---------- organizer dashboard ----------

struct Scored {
    row: CheckupRow,
    enterprise: Enterprise,
    report: Report,
}

async fn latest_scored(state: &AppState) -> AppResult<Vec<Scored>> {
    let mut out = Vec::new();
    for row in state.db.latest_reports().await? {
        let Some(enterprise) = state.db.enterprise(row.enterprise_id).await? else {
            continue;
        };
        let q = questionnaire_for(state, &row.version).await?;
        let report = scoring::score(&q, &row.industry, &row.answers());
        out.push(Scored {
            row,
            enterprise,
            report,
        });
    }
    Ok(out)
}

#[derive(Template, WebTemplate)]
#[template(path = "organize/checkups.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub dashboard: Dashboard,
    pub total: usize,
}

impl DashboardPage {
    pub fn level_count(&self, level: &str) -> usize {
        Level::parse(level)
            .and_then(|l| self.dashboard.levels.get(&l).copied())
            .unwrap_or(0)
    }
    pub fn heat_class(&self, percent: &Option<u32>) -> &'static str {
        match percent {
            None => "heat-na",
            Some(0) => "heat-0",
            Some(p) if *p < 10 => "heat-1",
            Some(p) if *p < 25 => "heat-2",
            Some(p) if *p < 50 => "heat-3",
            Some(_) => "heat-4",
        }
    }
    pub fn industry_name(&self, code: &str) -> &'static str {
        code.chars()
            .next()
            .and_then(industry::section_name)
            .unwrap_or("")
    }
}

pub async fn dashboard_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> AppResult<DashboardPage> {
    user.require(Role::Organizer)?;
    let scored = latest_scored(&state).await?;
    let entries: Vec<Entry> = scored
        .iter()
        .map(|s| Entry {
            enterprise_id: s.enterprise.id,
            company: s.enterprise.name.clone(),
            uscc: s.enterprise.uscc.clone(),
            industry: s.row.industry.clone(),
            report_id: s.row.id,
            report: &s.report,
        })
        .collect();
    Ok(DashboardPage {
        layout,
        dashboard: dashboard::build(&state.questionnaire, &entries),
        total: entries.len(),
    })
}

/// CSV (UTF-8 with BOM) of every enterprise's latest report.
pub async fn dashboard_csv(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let scored = latest_scored(&state).await?;
    let dims = &state.questionnaire.dimensions;
    let mut header = vec![
        "企业名称".to_string(),
        "统一社会信用代码".into(),
        "行业门类".into(),
        "体检时间".into(),
        "问卷版本".into(),
        "总体风险".into(),
        "红线项".into(),
    ];
    header.extend(dims.iter().map(|d| format!("{}得分", d.name)));
    header.push("主要风险点".into());
    let rows: Vec<Vec<String>> = scored
        .iter()
        .map(|s| {
            let mut record = vec![
                s.enterprise.name.clone(),
                s.enterprise.uscc.clone(),
                s.row.industry.clone(),
                local_time(s.row.submitted_at.unwrap_or(s.row.created_at)),
                s.row.version.clone(),
                s.report.overall_level.label_zh().to_string(),
                s.report.red_lines.len().to_string(),
            ];
            record.extend(dims.iter().map(|d| {
                s.report
                    .dimensions
                    .iter()
                    .find(|r| r.id == d.id)
                    .map(|r| r.score.to_string())
                    .unwrap_or_else(|| "不适用".into())
            }));
            record.push(
                s.report
                    .findings
                    .iter()
                    .take(3)
                    .map(|f| f.finding.clone())
                    .collect::<Vec<_>>()
                    .join("；"),
            );
            record
        })
        .collect();
    super::csv_export::download("checkups.csv", &header, &rows)
}
