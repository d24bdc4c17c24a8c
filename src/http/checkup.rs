//! The legal health check: questionnaire API, page-by-page filling with drafts, reports and
//! the organizer dashboard. Handlers extract, call `crate::app::checkup` and render.

use super::extract::{Json, Path};
use super::layout::Layout;
use super::session::{CsrfForm, CurrentUser};
use super::views::format::zoned_zh as format_local;
use super::AppState;
use crate::accounts::industry;
use crate::app::checkup::{self as use_case, CheckupReport, Draft, Sheet, SheetSubmission};
use crate::checkup::dashboard::{self, Dashboard, Entry};
use crate::checkup::history::DimensionChange;
use crate::checkup::questionnaire::{Answers, Item, Questionnaire};
use crate::checkup::radar::radar_svg;
use crate::checkup::scoring::{Level, Recommendation, Report};
use crate::error::{AppError, AppResult};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
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

// ---------- API ----------

/// The current questionnaire.
#[utoipa::path(get, path = "/api/v1/checkup/questionnaire", tag = "checkup",
    responses((status = 200, body = Questionnaire)))]
pub async fn api_questionnaire(State(state): State<AppState>) -> Json<Questionnaire> {
    Json((**state.questionnaires.current()).clone())
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
    let (db, questionnaires, now) = (&state.db, &state.questionnaires, state.clock.now());
    if req.draft {
        let draft = use_case::save_draft(db, questionnaires, now, &user, req.answers).await?;
        return Ok(Json(DraftView::from(draft)).into_response());
    }
    let report = use_case::submit(db, questionnaires, now, &user, &req.answers).await?;
    Ok((StatusCode::CREATED, Json(ReportView::from(report))).into_response())
}

/// The enterprise's saved draft.
#[utoipa::path(get, path = "/api/v1/checkup/draft", tag = "checkup",
    responses((status = 200, body = DraftView), (status = 404, body = crate::error::Problem)))]
pub async fn api_draft(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<DraftView>> {
    let draft = use_case::draft(&state.db, &state.questionnaires, &user).await?;
    Ok(Json(DraftView::from(draft)))
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

// ---------- pages: filling in ----------

/// A submitted report in the enterprise's list.
pub struct ReportLine {
    pub id: i64,
    pub when: String,
    pub level: Level,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkup/index.html")]
pub struct IndexPage {
    pub layout: Layout,
    pub title: String,
    pub dimension_count: usize,
    pub item_count: usize,
    pub has_draft: bool,
    pub draft_answered: usize,
    pub reports: Vec<ReportLine>,
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
    let q = state.questionnaires.current();
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
    if let Some(overview) = use_case::overview(&state.db, &state.questionnaires, &user).await? {
        page.dimension_count = overview.dimension_count;
        page.item_count = overview.item_count;
        page.has_draft = overview.draft_answered.is_some();
        page.draft_answered = overview.draft_answered.unwrap_or(0);
        page.reports = overview
            .reports
            .into_iter()
            .map(|r| ReportLine {
                id: r.id,
                when: local_time(r.submitted_at),
                level: r.overall_level,
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

fn fill_page_for(
    layout: Layout,
    sheet: &Sheet,
    page: usize,
    missing: Vec<(usize, String, String)>,
    notice: Option<String>,
) -> AppResult<FillPage> {
    let q = &sheet.questionnaire;
    let industry = &sheet.enterprise.industry;
    let answers = &sheet.answers;
    let dims = q.dimensions_for(industry);
    let Some(dim) = page.checked_sub(1).and_then(|i| dims.get(i)) else {
        return Err(AppError::NotFound);
    };
    let applicable: Vec<&Item> = q.applicable(industry).collect();
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
        unanswered_total: sheet.unanswered().len(),
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
    let sheet = use_case::sheet(&state.db, &state.questionnaires, &user).await?;
    fill_page_for(layout, &sheet, page, Vec::new(), None)
}

pub async fn fill_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(page): Path<usize>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let mut action = String::new();
    let mut posted = Answers::new();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => {}
            "action" => action = v,
            _ => {
                posted.insert(k, v);
            }
        }
    }
    let sheet = use_case::save_page(&state.db, &state.questionnaires, now, &user, posted).await?;
    let pages = sheet
        .questionnaire
        .dimensions_for(&sheet.enterprise.industry)
        .len();
    match action.as_str() {
        "prev" => Ok(
            Redirect::to(&format!("/checkup/fill/{}", page.saturating_sub(1).max(1)))
                .into_response(),
        ),
        "next" => {
            Ok(Redirect::to(&format!("/checkup/fill/{}", (page + 1).min(pages))).into_response())
        }
        "submit" => match use_case::submit_sheet(&state.db, now, &sheet).await? {
            SheetSubmission::Submitted(id) => {
                Ok(Redirect::to(&format!("/checkup/reports/{id}")).into_response())
            }
            SheetSubmission::Incomplete(open) => {
                let q = &sheet.questionnaire;
                let dims = q.dimensions_for(&sheet.enterprise.industry);
                let missing = open
                    .iter()
                    .filter_map(|id| q.item(id))
                    .map(|i| {
                        let p = dims.iter().position(|d| d.id == i.dimension).unwrap_or(0) + 1;
                        (p, i.id.clone(), i.text.clone())
                    })
                    .collect();
                let page = fill_page_for(layout, &sheet, page, missing, None)?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
        },
        _ => {
            let page = fill_page_for(
                layout,
                &sheet,
                page,
                Vec::new(),
                Some("草稿已保存，可以随时回来继续填写。".into()),
            )?;
            Ok(page.into_response())
        }
    }
}

// ---------- pages: report ----------

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
    pub rows: Vec<DimensionChange>,
    pub previous: Option<(i64, String)>,
    pub recommendations: Vec<Recommendation>,
}

impl ReportPage {
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

pub async fn report_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<ReportPage> {
    let r = use_case::report(
        &state.db,
        &state.questionnaires,
        state.clock.now(),
        &user,
        id,
    )
    .await?;
    let industry_name = r
        .enterprise
        .industry
        .chars()
        .next()
        .and_then(industry::section_name)
        .unwrap_or("");
    Ok(ReportPage {
        layout,
        report_id: r.id,
        company: r.enterprise.name.clone(),
        uscc: r.enterprise.uscc.clone(),
        industry: format!("{} {}", r.industry, industry_name),
        date: local_time(r.submitted_at.unwrap_or(r.created_at)),
        version: r.version,
        radar: radar_svg(
            &r.comparison.axes(),
            r.comparison.previous_scores.as_deref(),
        ),
        rows: r.comparison.dimensions,
        previous: r.previous.map(|p| (p.id, local_time(p.submitted_at))),
        report: r.report,
        recommendations: r.recommendations,
    })
}

// ---------- organizer dashboard ----------

#[derive(Template, WebTemplate)]
#[template(path = "organize/checkups.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub dashboard: Dashboard,
    pub total: usize,
}

impl DashboardPage {
    pub fn level_count(&self, level: Level) -> usize {
        self.dashboard.levels.get(&level).copied().unwrap_or(0)
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
    CurrentUser(user): CurrentUser,
) -> AppResult<DashboardPage> {
    let scored = use_case::dashboard_rows(&state.db, &state.questionnaires, &user).await?;
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
        dashboard: dashboard::build(state.questionnaires.current(), &entries),
        total: entries.len(),
    })
}

/// CSV (UTF-8 with BOM) of every enterprise's latest report.
pub async fn dashboard_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Response> {
    let scored = use_case::dashboard_rows(&state.db, &state.questionnaires, &user).await?;
    let dims = &state.questionnaires.current().dimensions;
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
                local_time(s.row.submitted_or_created()),
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
