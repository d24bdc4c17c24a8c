//! Scoring: a pure function (questionnaire, industry, answers) → report, and the lecture
//! recommendations that follow from it ("精准普法").
//!
//! - An item's finding level is likelihood × severity, as Chinese legal health checks grade
//!   risk points: the answer's risk gives the likelihood (0.25 → 1, 0.5 → 2, 1 → 3), the item's
//!   exposure the severity (civil 1, administrative 2, criminal 3); a product ≥ 6 is high (重大),
//!   ≥ 3 medium (中等), else low (一般). Answering a red-line item with its highest-risk option
//!   is always high.
//! - A dimension's compliance score is 100 × (1 − Σ weight·risk / Σ weight) over the items that
//!   apply and were answered; its level is the worse of the score band (≥ 85 low, ≥ 60 medium,
//!   else high) and its worst finding ("the worst level wins").
//! - The overall level is high when any red line is hit, otherwise the worst dimension level.

use super::questionnaire::{Answers, Item, Questionnaire, Severity};
use serde::Serialize;

/// Risk level, shown as 低/中/高. Stored as `low`/`medium`/`high` (the `overall_level` CHECK
/// constraint of `checkups`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Low => "低",
            Level::Medium => "中",
            Level::High => "高",
        }
    }

    /// The CSS class pages mark the level with.
    pub fn css(self) -> &'static str {
        match self {
            Level::Low => "ok",
            Level::Medium => "warn",
            Level::High => "bad",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            _ => None,
        }
    }
}

/// One risk point of a report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Finding {
    pub item_id: String,
    pub dimension: String,
    pub level: Level,
    /// The answer hit a red line.
    pub red_line: bool,
    pub severity: Severity,
    pub risk: f64,
    pub weight: u32,
    pub question: String,
    pub answer: String,
    pub finding: String,
    pub legal_basis: String,
    pub consequence: String,
    pub recommendation: String,
    #[serde(skip)]
    pub categories: Vec<String>,
}

/// A dimension's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DimensionResult {
    pub id: String,
    pub name: String,
    /// Compliance score 0–100 (100 = no risk found).
    pub score: u32,
    pub level: Level,
    pub answered: usize,
    pub applicable: usize,
}

/// The scored check-up.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub version: String,
    pub overall_level: Level,
    /// Items whose red line was hit.
    pub red_lines: Vec<String>,
    pub dimensions: Vec<DimensionResult>,
    pub findings: Vec<Finding>,
}

fn likelihood(risk: f64) -> u32 {
    if risk >= 1.0 {
        3
    } else if risk >= 0.5 {
        2
    } else if risk > 0.0 {
        1
    } else {
        0
    }
}

fn severity_factor(s: Severity) -> u32 {
    match s {
        Severity::Civil => 1,
        Severity::Administrative => 2,
        Severity::Criminal => 3,
    }
}

/// Level of one answered item with risk `risk`.
pub fn finding_level(item: &Item, risk: f64) -> Level {
    if item.red_line && risk > 0.0 && risk >= item.max_risk() {
        return Level::High;
    }
    match likelihood(risk) * severity_factor(item.severity) {
        p if p >= 6 => Level::High,
        p if p >= 3 => Level::Medium,
        _ => Level::Low,
    }
}

/// The band a compliance score falls in.
pub fn score_level(score: u32) -> Level {
    if score >= 85 {
        Level::Low
    } else if score >= 60 {
        Level::Medium
    } else {
        Level::High
    }
}

/// Score `answers` of an enterprise in `industry`. Answers to unknown or non-applicable items
/// and unknown options are ignored here (the HTTP layer refuses them before).
pub fn score(q: &Questionnaire, industry: &str, answers: &Answers) -> Report {
    let mut findings = Vec::new();
    let mut red_lines = Vec::new();
    let mut dimensions = Vec::new();
    for d in &q.dimensions {
        let items: Vec<&Item> = q
            .applicable(industry)
            .filter(|i| i.dimension == d.id)
            .collect();
        if items.is_empty() {
            continue;
        }
        let mut weight_sum = 0.0;
        let mut risk_sum = 0.0;
        let mut answered = 0;
        let mut worst = Level::Low;
        for item in &items {
            let Some(option) = answers.get(&item.id).and_then(|o| item.option(o)) else {
                continue;
            };
            answered += 1;
            weight_sum += f64::from(item.weight);
            risk_sum += f64::from(item.weight) * option.risk;
            if option.risk > 0.0 {
                let level = finding_level(item, option.risk);
                let hit = item.red_line && option.risk >= item.max_risk();
                if hit {
                    red_lines.push(item.id.clone());
                }
                worst = worst.max(level);
                findings.push(Finding {
                    item_id: item.id.clone(),
                    dimension: d.id.clone(),
                    level,
                    red_line: hit,
                    severity: item.severity,
                    risk: option.risk,
                    weight: item.weight,
                    question: item.text.clone(),
                    answer: option.text.clone(),
                    finding: item.finding.clone(),
                    legal_basis: item.legal_basis.clone(),
                    consequence: item.consequence.clone(),
                    recommendation: item.recommendation.clone(),
                    categories: item.categories.clone(),
                });
            }
        }
        let score = if weight_sum > 0.0 {
            (100.0 * (1.0 - risk_sum / weight_sum))
                .round()
                .clamp(0.0, 100.0) as u32
        } else {
            100
        };
        dimensions.push(DimensionResult {
            id: d.id.clone(),
            name: d.name.clone(),
            score,
            level: score_level(score).max(worst),
            answered,
            applicable: items.len(),
        });
    }
    let overall_level = if red_lines.is_empty() {
        dimensions
            .iter()
            .map(|d| d.level)
            .max()
            .unwrap_or(Level::Low)
    } else {
        Level::High
    };
    // most severe first: level, red line, exposure, weighted risk, then questionnaire order
    let order: Vec<&str> = q.items.iter().map(|i| i.id.as_str()).collect();
    let rank = |id: &str| order.iter().position(|o| *o == id).unwrap_or(usize::MAX);
    findings.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.red_line.cmp(&a.red_line))
            .then(b.severity.cmp(&a.severity))
            .then((b.risk * f64::from(b.weight)).total_cmp(&(a.risk * f64::from(a.weight))))
            .then(rank(&a.item_id).cmp(&rank(&b.item_id)))
    });
    Report {
        version: q.version.clone(),
        overall_level,
        red_lines,
        dimensions,
        findings,
    }
}

/// Something an enterprise can attend or watch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Offer {
    pub id: i64,
    pub title: String,
    pub category: String,
    /// `session` (upcoming live lecture) or `lecture` (recording).
    pub kind: String,
    /// Industries the offer targets; empty = all.
    pub industries: Vec<String>,
    /// RFC 3339 start of a live session.
    pub starts_at: Option<String>,
}

/// A recommended offer and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub id: i64,
    pub title: String,
    pub category: String,
    pub kind: String,
    pub starts_at: Option<String>,
    /// Which weak dimension it addresses, in Chinese.
    pub reason: String,
}

/// Offers matching the weak dimensions (medium or high), the weakest first; within a
/// dimension, offers for the dimension's own category before those of related categories, and
/// those aimed at the enterprise's industry before general ones. Offers aimed only at other
/// industries are left out.
pub fn recommend(
    report: &Report,
    industry: &str,
    offers: &[Offer],
    limit: usize,
) -> Vec<Recommendation> {
    let mut weak: Vec<&DimensionResult> = report
        .dimensions
        .iter()
        .filter(|d| d.level >= Level::Medium)
        .collect();
    weak.sort_by(|a, b| a.score.cmp(&b.score).then(b.level.cmp(&a.level)));
    let mut out: Vec<Recommendation> = Vec::new();
    for d in weak {
        let mut categories = vec![d.name.clone()];
        for f in report.findings.iter().filter(|f| f.dimension == d.id) {
            for c in &f.categories {
                if !categories.contains(c) {
                    categories.push(c.clone());
                }
            }
        }
        let mut candidates: Vec<(usize, bool, &Offer)> = offers
            .iter()
            .filter(|o| o.industries.is_empty() || o.industries.iter().any(|i| i == industry))
            .filter_map(|o| {
                categories
                    .iter()
                    .position(|c| *c == o.category)
                    .map(|rank| (rank, o.industries.is_empty(), o))
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then(a.2.starts_at.is_none().cmp(&b.2.starts_at.is_none()))
                .then(a.2.starts_at.cmp(&b.2.starts_at))
                .then(a.2.id.cmp(&b.2.id))
        });
        for (_, _, o) in candidates {
            if out.len() >= limit {
                return out;
            }
            if out.iter().any(|r| r.id == o.id && r.kind == o.kind) {
                continue;
            }
            out.push(Recommendation {
                id: o.id,
                title: o.title.clone(),
                category: o.category.clone(),
                kind: o.kind.clone(),
                starts_at: o.starts_at.clone(),
                reason: format!(
                    "针对“{}”（得分 {}，{}风险）",
                    d.name,
                    d.score,
                    d.level.label_zh()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::questionnaire::BUILTIN;
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn q() -> &'static Questionnaire {
        static Q: OnceLock<Questionnaire> = OnceLock::new();
        Q.get_or_init(|| Questionnaire::parse(BUILTIN).expect("valid"))
    }

    fn all_with(industry: &str, pick: impl Fn(&Item) -> String) -> Answers {
        q().applicable(industry)
            .map(|i| (i.id.clone(), pick(i)))
            .collect()
    }

    fn safest(i: &Item) -> String {
        i.options
            .iter()
            .min_by(|a, b| a.risk.total_cmp(&b.risk))
            .map(|o| o.id.clone())
            .unwrap_or_default()
    }

    fn riskiest(i: &Item) -> String {
        i.options
            .iter()
            .max_by(|a, b| a.risk.total_cmp(&b.risk))
            .map(|o| o.id.clone())
            .unwrap_or_default()
    }

    #[test]
    fn all_compliant_is_low() {
        for industry in ["C", "E", "I"] {
            let r = score(q(), industry, &all_with(industry, safest));
            assert_eq!(r.overall_level, Level::Low);
            assert!(r.findings.is_empty());
            assert!(r.dimensions.iter().all(|d| d.score == 100));
        }
        // construction is asked only of section E
        let c = score(q(), "C", &all_with("C", safest));
        assert!(!c.dimensions.iter().any(|d| d.id == "construction"));
        let e = score(q(), "E", &all_with("E", safest));
        assert!(e.dimensions.iter().any(|d| d.id == "construction"));
    }

    #[test]
    fn a_single_red_line_forces_high() {
        let mut answers = all_with("C", safest);
        let item = q().item("tax-invoice-real").expect("item");
        answers.insert(item.id.clone(), riskiest(item));
        let r = score(q(), "C", &answers);
        assert_eq!(r.overall_level, Level::High);
        assert_eq!(r.red_lines, vec!["tax-invoice-real".to_string()]);
        assert!(r.findings[0].red_line);
    }

    #[test]
    fn findings_sorted_by_severity() {
        let r = score(q(), "E", &all_with("E", riskiest));
        assert!(r.findings.windows(2).all(|w| w[0].level >= w[1].level));
        assert_eq!(r.overall_level, Level::High);
        assert!(r.dimensions.iter().all(|d| d.score == 0));
    }

    #[test]
    fn recommendations_follow_weak_dimensions() {
        let mut answers = all_with("E", safest);
        for item in q().items.iter().filter(|i| i.dimension == "labour") {
            answers.insert(item.id.clone(), riskiest(item));
        }
        let r = score(q(), "E", &answers);
        let offer = |id, cat: &str, ind: &[&str]| Offer {
            id,
            title: format!("课程{id}"),
            category: cat.into(),
            kind: "session".into(),
            industries: ind.iter().map(|s| s.to_string()).collect(),
            starts_at: None,
        };
        let offers = vec![
            offer(1, "合同管理", &[]),
            offer(2, "劳动用工", &[]),
            offer(3, "劳动用工", &["C"]),
            offer(4, "劳动用工", &["E"]),
        ];
        let recs = recommend(&r, "E", &offers, 10);
        let ids: Vec<i64> = recs.iter().map(|r| r.id).collect();
        assert_eq!(
            ids[..2],
            [4, 2],
            "industry-specific first, other industries left out"
        );
        assert!(!ids.contains(&3));
        assert!(recs[0].reason.contains("劳动用工"));
    }

    fn answers_strategy(industry: &'static str) -> impl Strategy<Value = Answers> {
        let items: Vec<&'static Item> = q().applicable(industry).collect();
        let picks: Vec<_> = items
            .iter()
            .map(|i| proptest::option::weighted(0.9, 0..i.options.len()))
            .collect();
        picks.prop_map(move |choices| {
            items
                .iter()
                .zip(choices)
                .filter_map(|(i, c)| c.map(|c| (i.id.clone(), i.options[c].id.clone())))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn scores_within_bounds(answers in answers_strategy("E")) {
            let r = score(q(), "E", &answers);
            for d in &r.dimensions {
                prop_assert!(d.score <= 100);
                prop_assert!(d.answered <= d.applicable);
            }
            if !r.red_lines.is_empty() {
                prop_assert_eq!(r.overall_level, Level::High);
            }
        }

        #[test]
        fn a_worse_answer_never_helps(answers in answers_strategy("C"), pick in any::<prop::sample::Index>()) {
            let items: Vec<&Item> = q().applicable("C").collect();
            let item = items[pick.index(items.len())];
            let before = score(q(), "C", &answers);
            let current = answers.get(&item.id).and_then(|o| item.option(o)).map(|o| o.risk).unwrap_or(0.0);
            for worse in item.options.iter().filter(|o| o.risk > current) {
                // only compare answered items: answering a new item changes the weight base
                if !answers.contains_key(&item.id) { break; }
                let mut changed = answers.clone();
                changed.insert(item.id.clone(), worse.id.clone());
                let after = score(q(), "C", &changed);
                let d_before = before.dimensions.iter().find(|d| d.id == item.dimension).map(|d| (d.score, d.level));
                let d_after = after.dimensions.iter().find(|d| d.id == item.dimension).map(|d| (d.score, d.level));
                if let (Some((sb, lb)), Some((sa, la))) = (d_before, d_after) {
                    prop_assert!(sa <= sb, "score rose {sb} -> {sa}");
                    prop_assert!(la >= lb);
                }
                prop_assert!(after.overall_level >= before.overall_level);
            }
        }

        #[test]
        fn any_red_line_forces_high(answers in answers_strategy("C"), pick in any::<prop::sample::Index>()) {
            let red: Vec<&Item> = q().applicable("C").filter(|i| i.red_line).collect();
            let item = red[pick.index(red.len())];
            let mut changed = answers;
            changed.insert(item.id.clone(), riskiest(item));
            let r = score(q(), "C", &changed);
            prop_assert_eq!(r.overall_level, Level::High);
            prop_assert!(r.red_lines.contains(&item.id));
        }
    }
}
