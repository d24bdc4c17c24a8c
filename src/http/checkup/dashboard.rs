//! The organizer's check-up dashboard and its CSV export: levels, dimensions and item ids,
//! never the text of an answer or a finding (see [`crate::checkup::dashboard`]).

use super::local_time;
use crate::accounts::industry;
use crate::app::checkup::{self as use_case};
use crate::checkup::dashboard::{self, Dashboard, Entry, MIN_ENTERPRISES};
use crate::checkup::scoring::Level;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::export;
use crate::http::layout::Layout;
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;

#[derive(Template, WebTemplate)]
#[template(path = "organize/checkups.html")]
pub struct CheckupDashboardPage {
    pub layout: Layout,
    pub dashboard: Dashboard,
    pub total: usize,
    pub min_enterprises: usize,
}

impl CheckupDashboardPage {
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
    pub fn dimension_name(&self, id: &str) -> String {
        self.dashboard
            .dimensions
            .iter()
            .find(|(d, _)| d == id)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| id.to_string())
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
) -> AppResult<CheckupDashboardPage> {
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
    Ok(CheckupDashboardPage {
        layout,
        dashboard: dashboard::build(state.questionnaires.current(), &entries),
        total: entries.len(),
        min_enterprises: MIN_ENTERPRISES,
    })
}

/// CSV (UTF-8 with BOM) of every enterprise's latest report: level, dimension scores and the
/// dimensions at risk with their levels; no answers, findings or red-line counts.
pub async fn dashboard_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Response> {
    dashboard_export(&state, &user, export::Format::Csv).await
}

/// The same table as an Excel workbook (`/admin/checkups.xlsx`).
pub async fn dashboard_xlsx(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Response> {
    dashboard_export(&state, &user, export::Format::Xlsx).await
}

async fn dashboard_export(
    state: &AppState,
    user: &crate::accounts::User,
    format: export::Format,
) -> AppResult<Response> {
    let scored = use_case::dashboard_rows(&state.db, &state.questionnaires, user).await?;
    let dims = &state.questionnaires.current().dimensions;
    let mut header = vec![
        "企业名称".to_string(),
        "统一社会信用代码".into(),
        "行业门类".into(),
        "体检时间".into(),
        "问卷版本".into(),
        "总体风险".into(),
    ];
    header.extend(dims.iter().map(|d| format!("{}得分", d.name)));
    header.push("风险维度（中、高）".into());
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
                dashboard::dimension_risks(&s.report)
                    .iter()
                    .map(|r| format!("{}：{}", r.name, r.level.label_zh()))
                    .collect::<Vec<_>>()
                    .join("；"),
            );
            record
        })
        .collect();
    // the dimension scores (after the six leading columns) are numbers
    let scores: Vec<usize> = (6..6 + dims.len()).collect();
    let table = export::Table::new("法治体检", header, rows).numeric(&scores);
    export::download(format, "checkups", &table)
}
