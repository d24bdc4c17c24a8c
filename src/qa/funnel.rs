//! The loop as the chamber reports it (收集 → 分派 → 办理 → 反馈 → 跟进), computed from the
//! timestamps of one period's questions and follow-ups, with the median time each stage
//! took, and the bar chart drawn as SVG on the server (no JS, prints well).
//!
//! The period is a cohort: the questions asked and the follow-ups opened in it, and how far
//! each got by now. A stage's median is the time from the previous stage to this one over the
//! items that reached it.

use chrono::{DateTime, Utc};
use std::fmt::Write;

/// What the funnel needs of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionTimes {
    pub created_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Flagged overdue and still waiting for a lawyer.
    pub overdue: bool,
}

/// What the funnel needs of a follow-up.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowupTimes {
    pub opened_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub first_contact_at: Option<DateTime<Utc>>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub retaken_at: Option<DateTime<Utc>>,
    /// Past its due date without a verdict (see [`super::followup::is_overdue`]).
    pub overdue: bool,
}

/// One stage of the loop.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Stage {
    /// `collected`, `assigned`, `handled`, `fed_back`, `followed_up`.
    pub key: &'static str,
    pub label: &'static str,
    /// What the stage counts, in words.
    pub explain: &'static str,
    /// Check-ups submitted (collected) or follow-ups that reached the stage.
    pub checkups: usize,
    pub questions: usize,
    pub total: usize,
    /// Median hours from the previous stage; `None` when nothing reached it (or for 收集).
    pub median_hours: Option<f64>,
}

impl Stage {
    /// "3.5 小时", "2.0 天" or "—".
    pub fn median_zh(&self) -> String {
        match self.median_hours {
            None => "—".into(),
            Some(h) if h >= 48.0 => format!("{:.1} 天", h / 24.0),
            Some(h) => format!("{h:.1} 小时"),
        }
    }
}

/// The loop of one period.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Funnel {
    pub stages: Vec<Stage>,
    /// Questions of the period flagged overdue and still unanswered.
    pub overdue_questions: usize,
    /// Follow-ups of the period past their due date without 已整改/未整改.
    pub overdue_followups: usize,
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds().max(0) as f64 / 3600.0
}

/// The median of `values`, `None` when empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Build the loop of a period from its submitted check-ups, questions and follow-ups.
pub fn build(checkups: usize, questions: &[QuestionTimes], followups: &[FollowupTimes]) -> Funnel {
    let mut stages = vec![Stage {
        key: "collected",
        label: "收集",
        explain: "提交的法治体检与企业提问",
        checkups,
        questions: questions.len(),
        total: checkups + questions.len(),
        median_hours: None,
    }];
    // each later stage: (key, label, explain, the question's step, the follow-up's step)
    type Step<T> = fn(&T) -> Option<(DateTime<Utc>, DateTime<Utc>)>;
    type StageSpec = (
        &'static str,
        &'static str,
        &'static str,
        Step<QuestionTimes>,
        Step<FollowupTimes>,
    );
    let steps: [StageSpec; 4] = [
        (
            "assigned",
            "分派",
            "提问已分派律师、回访已有顾问",
            |q| q.assigned_at.map(|t| (q.created_at, t)),
            |f| f.assigned_at.map(|t| (f.opened_at, t)),
        ),
        (
            "handled",
            "办理",
            "提问已答复、回访已联系",
            |q| {
                q.first_answered_at
                    .map(|t| (q.assigned_at.unwrap_or(q.created_at), t))
            },
            |f| {
                f.first_contact_at
                    .map(|t| (f.assigned_at.unwrap_or(f.opened_at), t))
            },
        ),
        (
            "fed_back",
            "反馈",
            "提问已关闭、回访已记录整改结果",
            |q| {
                q.closed_at
                    .map(|t| (q.first_answered_at.unwrap_or(q.created_at), t))
            },
            |f| {
                f.outcome_at
                    .map(|t| (f.first_contact_at.unwrap_or(f.opened_at), t))
            },
        ),
        (
            "followed_up",
            "跟进",
            "整改后已复查体检",
            |_| None,
            |f| {
                f.retaken_at
                    .map(|t| (f.outcome_at.unwrap_or(f.opened_at), t))
            },
        ),
    ];
    for (key, label, explain, q_step, f_step) in steps {
        let q: Vec<_> = questions.iter().filter_map(q_step).collect();
        let f: Vec<_> = followups.iter().filter_map(f_step).collect();
        let durations = q.iter().chain(&f).map(|(a, b)| hours(*a, *b)).collect();
        stages.push(Stage {
            key,
            label,
            explain,
            checkups: f.len(),
            questions: q.len(),
            total: q.len() + f.len(),
            median_hours: median(durations),
        });
    }
    Funnel {
        stages,
        overdue_questions: questions.iter().filter(|q| q.overdue).count(),
        overdue_followups: followups.iter().filter(|f| f.overdue).count(),
    }
}

/// Horizontal bars of the stages' totals (the table beside it says the same in text).
pub fn bars_svg(stages: &[Stage]) -> String {
    let max = stages.iter().map(|s| s.total).max().unwrap_or(0).max(1);
    let row = 44.0_f64;
    let height = row * stages.len() as f64 + 10.0;
    let (left, width) = (64.0_f64, 300.0_f64);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="bars" viewBox="0 0 420 {height:.0}" role="img" aria-label="各环节数量条形图" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, s) in stages.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let w = width * s.total as f64 / max as f64;
        let _ = write!(
            svg,
            r##"<text x="0" y="{:.1}" font-size="15" fill="#1f2328">{}</text><rect x="{left}" y="{y:.1}" width="{width}" height="26" fill="#eef1f4"/><rect x="{left}" y="{y:.1}" width="{w:.1}" height="26" fill="#0969da"/><text x="{:.1}" y="{:.1}" font-size="15" fill="#1f2328">{}</text>"##,
            y + 19.0,
            s.label,
            left + width + 8.0,
            y + 19.0,
            s.total
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap()
    }

    #[test]
    fn counts_and_medians_per_stage() {
        let h = Duration::hours;
        let questions = vec![
            QuestionTimes {
                created_at: t0(),
                assigned_at: Some(t0()),
                first_answered_at: Some(t0() + h(10)),
                closed_at: Some(t0() + h(20)),
                overdue: false,
            },
            QuestionTimes {
                created_at: t0(),
                assigned_at: Some(t0() + h(2)),
                first_answered_at: None,
                closed_at: None,
                overdue: true,
            },
        ];
        let followups = vec![FollowupTimes {
            opened_at: t0(),
            assigned_at: Some(t0()),
            first_contact_at: Some(t0() + h(30)),
            outcome_at: Some(t0() + h(40)),
            retaken_at: Some(t0() + h(100)),
            overdue: false,
        }];
        let f = build(3, &questions, &followups);
        let totals: Vec<usize> = f.stages.iter().map(|s| s.total).collect();
        assert_eq!(totals, vec![5, 3, 2, 2, 1]);
        // assigned: 0, 2 (questions) and 0 (follow-up) → median 0
        assert_eq!(f.stages[1].median_hours, Some(0.0));
        // handled: 10 and 30 → 20
        assert_eq!(f.stages[2].median_hours, Some(20.0));
        assert_eq!(f.stages[4].median_hours, Some(60.0));
        assert_eq!(f.stages[4].median_zh(), "2.5 天");
        assert_eq!(f.overdue_questions, 1);
        assert_eq!(f.overdue_followups, 0);
        let svg = bars_svg(&f.stages);
        assert!(svg.starts_with("<svg") && svg.contains("跟进"));
    }

    #[test]
    fn empty_period() {
        let f = build(0, &[], &[]);
        assert!(f.stages.iter().all(|s| s.total == 0));
        assert_eq!(f.stages[2].median_zh(), "—");
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
    }
}
