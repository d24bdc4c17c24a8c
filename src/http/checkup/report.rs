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
use crate::http::export;
use crate::http::extract::Path;
use crate::http::layout::Layout;
use crate::http::views::format::zoned_zh as format_local;
use crate::http::AppState;
use crate::pdf::{CheckupDoc, DimensionLine, FindingDoc, Tone};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;
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
        counts(&self.report)
    }

    /// Findings at 高 that are not red lines (overall 高 with no red line needs two of them).
    pub fn major(&self) -> usize {
        major(&self.report)
    }

    pub fn when(&self, r: &Recommendation) -> String {
        r.starts_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| format_local(&t))
            .unwrap_or_else(|| "时间待定".into())
    }
}

/// "高 2 项、中 3 项、低 5 项".
fn counts(report: &Report) -> String {
    [Level::High, Level::Medium, Level::Low]
        .iter()
        .map(|l| (l, report.count_at(*l)))
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| format!("{} {} 项", l.label_zh(), n))
        .collect::<Vec<_>>()
        .join("、")
}

/// Findings at 高 that are not red lines.
fn major(report: &Report) -> usize {
    report
        .findings
        .iter()
        .filter(|f| f.level == Level::High && !f.red_line)
        .count()
}

/// "C 制造业": the section the enterprise answered for and its name.
fn industry_label(r: &use_case::CheckupReport) -> String {
    industry::label(&r.industry)
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
    Ok(ReportPage {
        layout,
        report_id: r.id,
        company: r.enterprise.name.clone(),
        uscc: r.enterprise.uscc.clone(),
        industry: industry_label(&r),
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

fn tone(level: Level) -> Tone {
    match level {
        Level::High => Tone::High,
        Level::Medium => Tone::Medium,
        Level::Low => Tone::Low,
    }
}

/// The report as the PDF says it: the page's facts, table and findings (`checkup/report.html`
/// and `checkup/_finding.html`), worded the same way.
fn pdf_doc(r: &use_case::CheckupReport, brand: &crate::config::Branding) -> CheckupDoc {
    let report = &r.report;
    let dimension_name = |id: &str| {
        report
            .dimensions
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let mut facts = vec![
        ("企业".to_string(), r.enterprise.name.clone()),
        ("统一社会信用代码".into(), r.enterprise.uscc.clone()),
        ("行业门类".into(), industry_label(r)),
        (
            "体检时间".into(),
            local_time(r.submitted_at.unwrap_or(r.created_at)),
        ),
        ("问卷版本".into(), r.version.clone()),
    ];
    if let Some(d) = &report.law_date {
        facts.push(("法律依据".into(), format!("法律依据更新至 {d}")));
    }
    facts.push(("报告编号".into(), format!("#{}", r.id)));
    let summary = (!report.findings.is_empty()).then(|| {
        let mut s = format!(
            "共发现 {} 项风险点（{}）",
            report.findings.len(),
            counts(report)
        );
        if report.needs_lawyer() > 0 {
            s.push_str(&format!(
                "，其中 {} 项回答“不清楚”，需律师核实",
                report.needs_lawyer()
            ));
        }
        s.push('。');
        s
    });
    let alert = if !report.red_lines.is_empty() {
        Some(format!(
            "触及 {} 项法律红线（重大且紧急），总体风险等级直接定为“高”，请优先整改。",
            report.red_lines.len()
        ))
    } else if report.scoring >= 2 && report.overall_level == Level::High {
        Some(format!(
            "存在 {} 项重大风险（高），总体风险等级定为“高”，请优先整改。",
            major(report)
        ))
    } else {
        None
    };
    let dimensions = r
        .comparison
        .dimensions
        .iter()
        .map(|d| {
            let not_applicable = report
                .dimensions
                .iter()
                .any(|x| x.id == d.id && x.all_not_applicable());
            if not_applicable {
                return DimensionLine {
                    name: d.name.clone(),
                    score: "—".into(),
                    level: "—".into(),
                    tone: Tone::Neutral,
                    note: "均不适用，不计分".into(),
                };
            }
            let note = match report.worst_finding(&d.id) {
                Some(w) => {
                    let mut n = String::new();
                    if w.needs_lawyer {
                        n.push_str("需核实：");
                    }
                    n.push_str(&w.finding);
                    if d.findings > 1 {
                        n.push_str(&format!("（共 {} 项）", d.findings));
                    }
                    n
                }
                None => "未发现风险点".into(),
            };
            DimensionLine {
                name: d.name.clone(),
                score: d.score.to_string(),
                level: d.level.label_zh().into(),
                tone: tone(d.level),
                note,
            }
        })
        .collect();
    let compare_note = r.comparison.previous_version.as_ref().map(|pv| {
        format!(
            "上次体检使用问卷 {pv}，本次使用 {}{}：各维度按维度对照，得分和等级的变化有一部分来自问卷和评分规则的调整，不全是企业自身的变化。",
            r.version,
            if r.comparison.rules_changed { "，评分规则也已更新" } else { "" }
        )
    });
    let finding = |f: &Finding| {
        let dimension = dimension_name(&f.dimension);
        let severity = f.severity.label_zh();
        let mut details = Vec::new();
        if let Some(v) = &f.verify {
            details.push(("核实方法".to_string(), v.clone()));
        }
        if f.needs_lawyer {
            details.push(("可能的风险".into(), f.finding.clone()));
        }
        details.push(("法律依据".into(), f.legal_basis.clone()));
        details.push(("可能后果".into(), f.consequence.clone()));
        details.push(("整改建议".into(), f.recommendation.clone()));
        if f.needs_lawyer {
            FindingDoc {
                level: f.level.label_zh().into(),
                tone: tone(f.level),
                tags: vec!["需律师核实".into()],
                title: f.question.clone(),
                meta: format!("{dimension} · {severity} · 答：{}", f.answer),
                details,
            }
        } else {
            FindingDoc {
                level: f.level.label_zh().into(),
                tone: tone(f.level),
                tags: if f.red_line {
                    vec!["红线".into()]
                } else {
                    Vec::new()
                },
                title: f.finding.clone(),
                meta: format!(
                    "{dimension} · {severity} · 问：{} 答：{}",
                    f.question, f.answer
                ),
                details,
            }
        }
    };
    let findings_heading = if report.appendix().is_empty() {
        format!("风险点与整改建议（{} 项）", report.findings.len())
    } else {
        format!("重点风险点与整改建议（{} 项）", report.top_findings().len())
    };
    let findings_note = if report.findings.is_empty() {
        Some("未发现风险点。请保持现有做法，并定期复查。".to_string())
    } else if report.top_findings().is_empty() {
        Some("未发现中、高风险点；以下一般风险点可在日常管理中逐步完善。".into())
    } else {
        None
    };
    let mut disclaimer =
        "本报告依据企业自行填写的问卷自动生成，仅供自查和普法参考，不构成对具体事项的法律意见。"
            .to_string();
    if let Some(d) = &report.law_date {
        disclaimer.push_str(&format!(
            "法律依据更新至 {d}，此后法律法规如有修改，以现行有效的文本为准。"
        ));
    }
    disclaimer.push_str("回答“不清楚”的事项请按“核实方法”查明，或联系商会法律顾问团律师核实；高风险事项建议联系律师回访。");
    CheckupDoc {
        company: r.enterprise.name.clone(),
        site_name: brand.site_name.clone(),
        chamber_name: brand.chamber_name.clone(),
        facts,
        overall: (
            report.overall_level.label_zh().into(),
            tone(report.overall_level),
        ),
        summary,
        alert,
        dimensions,
        compare_note,
        findings_heading,
        findings_note,
        findings: report.top_findings().iter().map(finding).collect(),
        appendix_heading: (!report.appendix().is_empty())
            .then(|| format!("附录：其他风险点（{} 项）", report.appendix().len())),
        appendix: report.appendix().iter().map(finding).collect(),
        disclaimer,
    }
}

/// `GET /checkup/reports/{id}/pdf`: the report as an A4 PDF rendered on the server. Who may
/// open it, and the access log and audit entry when staff do, are the report page's (the
/// same use case).
pub async fn report_pdf(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let r = use_case::report(
        &state.db,
        &state.questionnaires,
        state.clock.now(),
        &user,
        id,
    )
    .await?;
    let doc = pdf_doc(&r, &layout.brand);
    let bytes = export::render_pdf(state.pdf.clone(), move |p| p.checkup_report(&doc)).await?;
    Ok(export::pdf_attachment(
        bytes,
        &format!("checkup-report-{}.pdf", r.id),
        &format!("法治体检报告-{}-{}.pdf", r.enterprise.name, r.id),
    ))
}
