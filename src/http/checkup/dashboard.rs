//! The organizer's check-up dashboard and its CSV export: levels, dimensions and item ids,
//! never the text of an answer or a finding (see [`crate::checkup::dashboard`]). Its charts
//! (levels by industry, frequent findings, the monthly trend) each have a table beside them;
//! the list of enterprises is searched, filtered and paged like the enterprise directory.

use super::local_time;
use crate::accounts::industry;
use crate::app::checkup::{self as use_case};
use crate::checkup::dashboard::{
    self, Dashboard, Entry, FollowUp, LevelCounts, ListFilter, MonthCounts, MIN_ENTERPRISES,
};
use crate::checkup::scoring::Level;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::export;
use crate::http::extract::Query;
use crate::http::layout::Layout;
use crate::http::views::charts::{self, Axis, Fill, Scale, Series, Stack};
use crate::http::views::choice::Choice;
use crate::http::views::paging::{url_with, Paging};
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;

/// How many enterprises a page of the dashboard's list shows.
pub const LIST_PAGE: i64 = 50;
/// How many of the frequent findings the chart shows (the table lists them all).
const CHART_FINDINGS: usize = 10;

/// The list's search and filters (`?q=&industry=&level=&page=`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

/// A month of the trend as the table shows it.
pub struct TrendRow {
    pub label: String,
    pub levels: LevelCounts,
    /// "25%", or "—" without submissions.
    pub high_share: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "organize/checkups.html")]
pub struct CheckupDashboardPage {
    pub layout: Layout,
    pub dashboard: Dashboard,
    pub total: usize,
    pub min_enterprises: usize,
    /// Levels by industry, the frequent findings, the trend (counts, share at 高).
    pub levels_chart: String,
    pub findings_chart: String,
    pub trend_chart: String,
    pub trend_share_chart: String,
    pub trend: Vec<TrendRow>,
    /// All enterprises' levels (the first row of the levels table).
    pub all_levels: LevelCounts,
    /// One page of the list.
    pub list: Vec<FollowUp>,
    pub q: String,
    pub industries: Vec<Choice>,
    pub level_choices: Vec<Choice>,
    pub filtered: bool,
    pub paging: Paging,
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
        dimension_name(&self.dashboard, id)
    }
    pub fn industry_name(&self, code: &str) -> &'static str {
        industry_name(code)
    }
    pub fn percent_of(&self, levels: &LevelCounts) -> String {
        share_text(levels)
    }
    /// The day of a check-up in the list ("2026-12-02"; the report has the time).
    pub fn day(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        t.with_timezone(&crate::schedule::DEFAULT_TZ)
            .format("%Y-%m-%d")
            .to_string()
    }
}

fn dimension_name(d: &Dashboard, id: &str) -> String {
    d.dimensions
        .iter()
        .find(|(d, _)| d == id)
        .map(|(_, name)| name.clone())
        .unwrap_or_else(|| id.to_string())
}

fn industry_name(code: &str) -> &'static str {
    industry::name_of(code).unwrap_or("")
}

fn share_text(levels: &LevelCounts) -> String {
    levels
        .high_percent()
        .map(|p| format!("{p}%"))
        .unwrap_or_else(|| "—".into())
}

/// The three levels as chart series: 高 solid, 中 hatched, 低 dotted (apart in black and white).
fn level_series() -> [Series; 3] {
    [
        Series::new("高风险", "#cf222e", Fill::Solid),
        Series::new("中风险", "#9a6700", Fill::Hatch),
        Series::new("低风险", "#1a7f37", Fill::Dots),
    ]
}

fn level_values(l: &LevelCounts) -> Vec<f64> {
    vec![l.high as f64, l.medium as f64, l.low as f64]
}

/// The figures of the page's charts, drawn from the aggregates the tables show.
fn levels_chart(d: &Dashboard, all: &LevelCounts) -> String {
    let mut rows = vec![Stack {
        label: "全部企业".into(),
        values: level_values(all),
        text: format!("{} 家，高 {}", all.total(), share_text(all)),
    }];
    rows.extend(d.heat.iter().map(|h| Stack {
        label: format!("{} {}", h.industry, industry_name(&h.industry)),
        values: level_values(&h.levels),
        text: format!("{} 家，高 {}", h.enterprises, share_text(&h.levels)),
    }));
    charts::stacked_bars(
        "chart-levels",
        "各行业企业的总体风险等级（按企业数占比）",
        &level_series(),
        &rows,
        Scale::Share,
    )
}

fn findings_chart(d: &Dashboard) -> String {
    let rows: Vec<Stack> = d
        .frequent
        .iter()
        .take(CHART_FINDINGS)
        .map(|f| Stack {
            label: format!("{} · {}", f.item_id, dimension_name(d, &f.dimension)),
            values: vec![f.high as f64, (f.count.saturating_sub(f.high)) as f64],
            text: format!("{} 家", f.count),
        })
        .collect();
    charts::stacked_bars(
        "chart-findings",
        "最常见的风险点（存在该风险点的企业数）",
        &[
            Series::new("其中高风险", "#cf222e", Fill::Solid),
            Series::new("中、低风险", "#9a6700", Fill::Hatch),
        ],
        &rows,
        Scale::Absolute(None),
    )
}

fn trend_charts(months: &[MonthCounts]) -> (String, String) {
    let rows: Vec<Stack> = months
        .iter()
        .map(|m| Stack {
            label: m.label(),
            values: level_values(&m.levels),
            text: format!("{} 份", m.levels.total()),
        })
        .collect();
    let counts = charts::stacked_bars(
        "chart-trend",
        "每月提交的体检报告（按总体风险等级）",
        &level_series(),
        &rows,
        Scale::Absolute(None),
    );
    let last = months.len().saturating_sub(1);
    // every month named when there is room, else every other one and the last
    let every = if months.len() > 6 { 2 } else { 1 };
    let x = Axis {
        name: match (months.first(), months.last()) {
            (Some(a), Some(b)) if months.len() > 1 => {
                format!("月份（{}至{}）", a.label(), b.label())
            }
            (Some(a), _) => format!("月份（{}）", a.label()),
            _ => "月份".into(),
        },
        min: 0.0,
        max: (last as f64).max(1.0),
        ticks: months
            .iter()
            .enumerate()
            .filter(|(i, _)| (last - i).is_multiple_of(every))
            .map(|(i, m)| (i as f64, format!("{}月", m.month)))
            .collect(),
    };
    let points: Vec<charts::Point> = months
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            m.levels.high_percent().map(|p| charts::Point {
                x: i as f64,
                y: f64::from(p),
                label: Some(format!("{p}%")),
            })
        })
        .collect();
    let share = charts::line_chart(
        "chart-trend-share",
        "每月提交的体检报告中高风险的占比",
        &x,
        &Axis::percent("高风险占比"),
        &points,
        false,
    );
    (counts, share)
}

pub async fn dashboard_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(query): Query<DashboardQuery>,
) -> AppResult<CheckupDashboardPage> {
    let scored = use_case::dashboard_rows(&state.db, &state.questionnaires, &user).await?;
    let submissions = use_case::submission_levels(&state.db, &state.questionnaires, &user).await?;
    let entries: Vec<Entry> = scored
        .iter()
        .map(|s| Entry {
            enterprise_id: s.enterprise.id,
            company: s.enterprise.name.clone(),
            uscc: s.enterprise.uscc.clone(),
            industry: s.row.industry.clone(),
            report_id: s.row.id,
            submitted_at: s.row.submitted_or_created(),
            report: &s.report,
        })
        .collect();
    let dashboard = dashboard::build(state.questionnaires.current(), &entries);

    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(60).collect::<String>())
    };
    let filter = ListFilter {
        text: clean(&query.q),
        industry: clean(&query.industry).filter(|c| {
            c.chars().count() == 1 && c.chars().next().and_then(industry::section_name).is_some()
        }),
        level: clean(&query.level).and_then(|l| Level::parse(&l)),
    };
    let listed = dashboard::listing(&entries, &filter);
    let base = url_with(
        "/admin/checkups",
        &[
            ("q", filter.text.as_deref().unwrap_or("")),
            ("industry", filter.industry.as_deref().unwrap_or("")),
            ("level", filter.level.map(Level::as_str).unwrap_or("")),
        ],
    );
    let paging = Paging::new(query.page.as_deref(), LIST_PAGE, listed.len() as i64, base);
    let list: Vec<FollowUp> = listed
        .into_iter()
        .skip(usize::try_from(paging.offset()).unwrap_or(0))
        .take(usize::try_from(paging.per_page).unwrap_or(0))
        .collect();

    let tz = crate::schedule::DEFAULT_TZ;
    let days: Vec<(chrono::NaiveDate, Level)> = submissions
        .iter()
        .map(|(t, l)| (t.with_timezone(&tz).date_naive(), *l))
        .collect();
    let months = dashboard::trend(&days, state.clock.now().with_timezone(&tz).date_naive());
    let (trend_chart, trend_share_chart) = trend_charts(&months);
    let mut all_levels = LevelCounts::default();
    for e in &entries {
        all_levels.add(e.report.overall_level);
    }
    Ok(CheckupDashboardPage {
        layout,
        levels_chart: levels_chart(&dashboard, &all_levels),
        findings_chart: findings_chart(&dashboard),
        trend_chart,
        trend_share_chart,
        trend: months
            .iter()
            .map(|m| TrendRow {
                label: m.label(),
                levels: m.levels,
                high_share: share_text(&m.levels),
            })
            .collect(),
        all_levels,
        dashboard,
        total: entries.len(),
        min_enterprises: MIN_ENTERPRISES,
        list,
        q: filter.text.clone().unwrap_or_default(),
        industries: industry::SECTIONS
            .iter()
            .map(|(code, name)| Choice {
                value: code.to_string(),
                label: format!("{code} {name}"),
                chosen: filter.industry.as_deref() == Some(code.to_string().as_str()),
            })
            .collect(),
        level_choices: [Level::High, Level::Medium, Level::Low]
            .into_iter()
            .map(|l| Choice {
                value: l.as_str().into(),
                label: format!("{}风险", l.label_zh()),
                chosen: filter.level == Some(l),
            })
            .collect(),
        filtered: filter != ListFilter::default(),
        paging,
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
