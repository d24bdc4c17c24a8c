//! The report page: levels, the top findings and an appendix with the rest, the radar chart,
//! recommendations and the change since the previous check-up. The same page prints (the
//! appendix opens for printing, see `print.js`).

use super::local_time;
use super::privacy::{self, AccessSection};
use crate::accounts::industry;
use crate::app::checkup::{self as use_case};
use crate::checkup::history::{DimensionChange, DroppedDimension};
use crate::checkup::radar::radar_svg;
use crate::checkup::scoring::{Finding, Level, Recommendation, Report};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::Path;
use crate::http::layout::Layout;
use crate::http::views::format::zoned_zh as format_local;
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::DateTime;

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
    /// The previous report answered another questionnaire version (and perhaps other rules).
    pub previous_version: Option<String>,
    pub rules_changed: bool,
    pub dropped: Vec<DroppedDimension>,
    pub recommendations: Vec<Recommendation>,
    /// Confidentiality section (`checkup/_access.html`): the access log and the delete button
    /// for the enterprise, the "this opening is logged" line for an organizer.
    pub access: AccessSection,
    /// Per weak dimension (中/高): its name and published Q&A entries (id, title) of that
    /// topic, the enterprise's industry first (`checkup/_qa.html`).
    pub qa_links: Vec<(String, Vec<(i64, String)>)>,
    /// 回访 (issue 16): the follow-up this report opened, or whose retake it is.
    pub followup: Option<crate::db::followups::ReportFollowup>,
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
    /// The most severe finding of dimension `id`, which its badge shows.
    pub fn worst(&self, id: &str) -> Option<&Finding> {
        self.report.worst_finding(id)
    }

    /// Every answer of dimension `id` was 不适用, so its score says nothing.
    pub fn not_applicable(&self, id: &str) -> bool {
        self.report
            .dimensions
            .iter()
            .any(|d| d.id == id && d.all_not_applicable())
    }

    /// "高 2 项、中 3 项、低 5 项" for the summary line.
    pub fn counts(&self) -> String {
        [Level::High, Level::Medium, Level::Low]
            .iter()
            .map(|l| (l, self.report.count_at(*l)))
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| format!("{} {} 项", l.label_zh(), n))
            .collect::<Vec<_>>()
            .join("、")
    }

    /// Findings at 高 that are not red lines (overall 高 with no red line needs two of them).
    pub fn major(&self) -> usize {
        self.report
            .findings
            .iter()
            .filter(|f| f.level == Level::High && !f.red_line)
            .count()
    }

    pub fn when(&self, r: &Recommendation) -> String {
        r.starts_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| format_local(&t))
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
    let access = privacy::access_section(&state.db, &user, &r).await?;
    let weak: Vec<String> = r
        .report
        .dimensions
        .iter()
        .filter(|d| d.level >= crate::checkup::scoring::Level::Medium)
        .map(|d| d.id.clone())
        .collect();
    let qa_links =
        crate::app::qa::publication::for_report(&state.db, &weak, &r.enterprise.industry)
            .await?
            .into_iter()
            .map(|(topic, entries)| {
                let name = r
                    .report
                    .dimensions
                    .iter()
                    .find(|d| d.id == topic)
                    .map(|d| d.name.clone())
                    .unwrap_or(topic);
                (name, entries.into_iter().map(|e| (e.id, e.title)).collect())
            })
            .collect();
    let followup = state.db.followup_of_report(r.id).await?;
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
        previous_version: r.comparison.previous_version,
        rules_changed: r.comparison.rules_changed,
        dropped: r.comparison.dropped,
        report: r.report,
        recommendations: r.recommendations,
        access,
        qa_links,
        followup,
    })
}
