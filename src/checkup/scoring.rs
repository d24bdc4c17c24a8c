//! Scoring: a pure function (questionnaire, industry, answers) → report, and the lecture
//! recommendations that follow from it ("精准普法"). A questionnaire names the rules its
//! reports are scored by (`scoring`), so a report always opens as it was computed.
//!
//! **Rules 1** (v2026.1, kept unchanged for the reports that answered it):
//! - An item's finding level is likelihood × severity, as Chinese legal health checks grade
//!   risk points: the answer's risk gives the likelihood (0.25 → 1, 0.5 → 2, 1 → 3), the item's
//!   exposure the severity (civil 1, administrative 2, criminal 3); a product ≥ 6 is high (重大),
//!   ≥ 3 medium (中等), else low (一般). Answering a red-line item with its highest-risk option
//!   is always high.
//! - A dimension's compliance score is 100 × (1 − Σ weight·risk / Σ weight) over the items that
//!   apply and were answered; its level is the worse of the score band (≥ 85 low, ≥ 60 medium,
//!   else high) and its worst finding ("the worst level wins").
//! - The overall level is high when any red line is hit, otherwise the worst dimension level.
//!
//! **Rules 2** (the lawyer's review, S1–S7): a finding's level follows from the kind of answer
//! and the exposure of that answer (the option's severity, else the item's), not from the
//! arithmetic of risk and weight, which only move the score (S8):
//!
//! | answer   | criminal | administrative | civil (ruinous) | loss |
//! |----------|----------|----------------|-----------------|------|
//! | gap      | 高       | 中             | 中 (高)         | 中   |
//! | partial  | 中       | 低             | 低 (中¹)        | 低   |
//!
//! ¹ a partial answer to a ruinous item is 中 when its risk is at least 0.5 (e.g. a one-person
//!   company that "occasionally" uses the owner's account), 低 below (互保 with limits,
//!   counter-guarantees and reviews).
//!
//! - a red-line item answered with a gap is a red line hit and 高; answered partial, at least 中;
//! - 不清楚 (`unsure`) is 中 "需律师核实", shown with the item's `verify` step;
//! - 不适用 (`na`) is no finding and is left out of the dimension's Σ weight (S4);
//! - a dimension's level is its worst finding (the badge shows it, S6);
//! - overall 高 only for a red line hit or at least two findings at 高 (S7), otherwise 中 if any
//!   finding is 中, else 低;
//! - findings are ordered by level, red line, ruinous, exposure, weight × risk, then definite
//!   before 需律师核实; the report leads with at most [`TOP_FINDINGS`] findings at 中/高 and
//!   keeps the rest in an appendix.

use super::questionnaire::{AnswerOption, Answers, Item, OptionKind, Questionnaire, Severity};
use serde::Serialize;

/// How many findings at 中/高 a rules-2 report leads with; the rest go to the appendix.
pub const TOP_FINDINGS: usize = 10;

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
    serde::Deserialize,
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
    /// The exposure of the answer (rules 2: the option's severity, else the item's).
    pub severity: Severity,
    pub risk: f64,
    pub weight: u32,
    /// What kind of answer it was (rules 1: inferred).
    pub kind: OptionKind,
    /// The answer was 不清楚: a lawyer should check, following `verify` (rules 2).
    pub needs_lawyer: bool,
    /// The concrete next step for 不清楚.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
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
    /// Answers 不适用, left out of the score (rules 2; rules 1 counted them as compliant).
    pub not_applicable: usize,
}

impl DimensionResult {
    /// Every answer was 不适用: the score says nothing (rules 2).
    pub fn all_not_applicable(&self) -> bool {
        self.answered > 0 && self.not_applicable == self.answered
    }
}

/// The scored check-up.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub version: String,
    /// The rules it was scored by (the questionnaire's `scoring`).
    pub scoring: u32,
    /// 法律依据更新至 (rules 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub law_date: Option<String>,
    pub overall_level: Level,
    /// Items whose red line was hit.
    pub red_lines: Vec<String>,
    pub dimensions: Vec<DimensionResult>,
    /// Most severe first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// How many findings the report leads with: rules 2, at most [`TOP_FINDINGS`] at 中/高;
    /// rules 1 reports list every finding as they always did.
    fn top_len(&self) -> usize {
        if self.scoring < 2 {
            return self.findings.len();
        }
        // findings are sorted by level first, so those at 中/高 come first
        self.findings
            .iter()
            .take_while(|f| f.level >= Level::Medium)
            .take(TOP_FINDINGS)
            .count()
    }

    /// The findings the report leads with.
    pub fn top_findings(&self) -> &[Finding] {
        &self.findings[..self.top_len()]
    }

    /// The rest, shown folded in an appendix.
    pub fn appendix(&self) -> &[Finding] {
        &self.findings[self.top_len()..]
    }

    /// The most severe finding of dimension `id`: what its badge shows.
    pub fn worst_finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.dimension == id)
    }

    /// Findings at `level`.
    pub fn count_at(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    /// Findings that ask for a lawyer's check (不清楚).
    pub fn needs_lawyer(&self) -> usize {
        self.findings.iter().filter(|f| f.needs_lawyer).count()
    }
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
        // rules 1 never see `loss` (v2026.1 has none); graded as civil if they did
        Severity::Loss | Severity::Civil => 1,
        Severity::Administrative => 2,
        Severity::Criminal => 3,
    }
}

/// Level of one answered item with risk `risk` under rules 1.
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

/// Level of answering `option` to `item` under rules 2; `None` when the answer is no finding
/// (compliant or not applicable). See the table in the module documentation.
pub fn finding_level_v2(item: &Item, option: &AnswerOption) -> Option<Level> {
    let severity = item.severity_of(option);
    let level = match option.kind {
        OptionKind::Compliant | OptionKind::Na => return None,
        OptionKind::Unsure => Level::Medium,
        OptionKind::Gap if item.red_line => Level::High,
        OptionKind::Gap => match severity {
            Severity::Criminal => Level::High,
            Severity::Civil if item.ruinous => Level::High,
            Severity::Administrative | Severity::Civil | Severity::Loss => Level::Medium,
        },
        OptionKind::Partial => {
            let base = match severity {
                Severity::Criminal => Level::Medium,
                // a ruinous exposure half-controlled is still 中; a minor residue is not
                Severity::Civil if item.ruinous && option.risk >= 0.5 => Level::Medium,
                Severity::Administrative | Severity::Civil | Severity::Loss => Level::Low,
            };
            // a real partial breach of a red line (risk ≥ 0.5, e.g. some employees without a
            // written contract: each a certain double-wage claim) is at least 中; a remedied
            // residue (wages paid late but paid) is graded on its own severity
            if item.red_line && option.risk >= 0.5 {
                base.max(Level::Medium)
            } else {
                base
            }
        }
    };
    Some(level)
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

/// Score `answers` of an enterprise in `industry` by the questionnaire's rules. Answers to
/// unknown or non-applicable items and unknown options are ignored here (the HTTP layer
/// refuses them before).
pub fn score(q: &Questionnaire, industry: &str, answers: &Answers) -> Report {
    if q.scoring >= 2 {
        score_v2(q, industry, answers)
    } else {
        score_v1(q, industry, answers)
    }
}

fn new_finding(item: &Item, option: &AnswerOption, level: Level, red_line: bool) -> Finding {
    Finding {
        item_id: item.id.clone(),
        dimension: item.dimension.clone(),
        level,
        red_line,
        severity: item.severity,
        risk: option.risk,
        weight: item.weight,
        kind: option.kind,
        needs_lawyer: false,
        verify: None,
        question: item.text.clone(),
        answer: option.text.clone(),
        finding: item.finding.clone(),
        legal_basis: item.legal_basis.clone(),
        consequence: item.consequence.clone(),
        recommendation: item.recommendation.clone(),
        categories: item.categories.clone(),
    }
}

fn compliance_score(weight_sum: f64, risk_sum: f64) -> u32 {
    if weight_sum > 0.0 {
        (100.0 * (1.0 - risk_sum / weight_sum))
            .round()
            .clamp(0.0, 100.0) as u32
    } else {
        100
    }
}

/// Position of each item in the file, for the last tie-break of the finding order.
fn file_rank(q: &Questionnaire) -> impl Fn(&str) -> usize + '_ {
    move |id: &str| {
        q.items
            .iter()
            .position(|i| i.id == id)
            .unwrap_or(usize::MAX)
    }
}

/// Rules 1, exactly as v2026.1 reports were computed.
fn score_v1(q: &Questionnaire, industry: &str, answers: &Answers) -> Report {
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
                findings.push(new_finding(item, option, level, hit));
            }
        }
        let score = compliance_score(weight_sum, risk_sum);
        dimensions.push(DimensionResult {
            id: d.id.clone(),
            name: d.name.clone(),
            score,
            level: score_level(score).max(worst),
            answered,
            applicable: items.len(),
            not_applicable: 0,
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
    let rank = file_rank(q);
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
        scoring: q.scoring,
        law_date: q.law_date.clone(),
        overall_level,
        red_lines,
        dimensions,
        findings,
    }
}

/// Rules 2 (see the module documentation).
fn score_v2(q: &Questionnaire, industry: &str, answers: &Answers) -> Report {
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
        let mut not_applicable = 0;
        let mut worst = Level::Low;
        for item in &items {
            let Some(option) = answers.get(&item.id).and_then(|o| item.option(o)) else {
                continue;
            };
            answered += 1;
            if option.kind == OptionKind::Na {
                not_applicable += 1;
                continue; // S4: not applicable is not compliant either
            }
            weight_sum += f64::from(item.weight);
            risk_sum += f64::from(item.weight) * option.risk;
            let Some(level) = finding_level_v2(item, option) else {
                continue;
            };
            let hit = item.red_line && option.kind == OptionKind::Gap;
            if hit {
                red_lines.push(item.id.clone());
            }
            worst = worst.max(level);
            let unsure = option.kind == OptionKind::Unsure;
            findings.push(Finding {
                severity: item.severity_of(option),
                finding: option
                    .finding
                    .clone()
                    .unwrap_or_else(|| item.finding.clone()),
                needs_lawyer: unsure,
                verify: if unsure { item.verify.clone() } else { None },
                ..new_finding(item, option, level, hit)
            });
        }
        dimensions.push(DimensionResult {
            id: d.id.clone(),
            name: d.name.clone(),
            score: compliance_score(weight_sum, risk_sum),
            level: worst,
            answered,
            applicable: items.len(),
            not_applicable,
        });
    }
    let high = findings.iter().filter(|f| f.level == Level::High).count();
    let overall_level = if !red_lines.is_empty() || high >= 2 {
        Level::High
    } else if findings.iter().any(|f| f.level >= Level::Medium) {
        Level::Medium
    } else {
        Level::Low
    };
    // most severe first: level, red line, ruinous, exposure, weighted risk, definite before
    // 需律师核实, then questionnaire order. A 不清楚 on a criminal item is not pushed below
    // civil paperwork: it competes for the top findings by what is at stake.
    let rank = file_rank(q);
    let ruinous = |f: &Finding| q.item(&f.item_id).is_some_and(|i| i.ruinous);
    findings.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.red_line.cmp(&a.red_line))
            .then(ruinous(b).cmp(&ruinous(a)))
            .then(b.severity.cmp(&a.severity))
            .then((b.risk * f64::from(b.weight)).total_cmp(&(a.risk * f64::from(a.weight))))
            .then(a.needs_lawyer.cmp(&b.needs_lawyer))
            .then(rank(&a.item_id).cmp(&rank(&b.item_id)))
    });
    Report {
        version: q.version.clone(),
        scoring: q.scoring,
        law_date: q.law_date.clone(),
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
    use super::super::laws::Laws;
    use super::super::questionnaire::{LAWS_FIXTURE, V2026_1, V2_FIXTURE};
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// The v2026.1 questionnaire: rules 1.
    fn v1() -> &'static Questionnaire {
        static Q: OnceLock<Questionnaire> = OnceLock::new();
        Q.get_or_init(|| Questionnaire::parse(V2026_1).expect("valid"))
    }

    /// The v2 fixture: one item per rule of scoring 2.
    fn v2() -> &'static Questionnaire {
        static Q: OnceLock<Questionnaire> = OnceLock::new();
        Q.get_or_init(|| {
            let laws = Laws::parse(LAWS_FIXTURE).expect("laws");
            Questionnaire::parse_with(V2_FIXTURE, Some(&laws)).expect("valid")
        })
    }

    fn all_with(q: &Questionnaire, industry: &str, pick: impl Fn(&Item) -> String) -> Answers {
        q.applicable(industry)
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

    fn compliant(i: &Item) -> String {
        i.options
            .iter()
            .find(|o| o.kind == OptionKind::Compliant)
            .map(|o| o.id.clone())
            .unwrap_or_default()
    }

    fn answers_strategy(
        q: fn() -> &'static Questionnaire,
        industry: &'static str,
    ) -> impl Strategy<Value = Answers> {
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

    // ---------- rules 1 ----------

    #[test]
    fn all_compliant_is_low() {
        for industry in ["C", "E", "I"] {
            let r = score(v1(), industry, &all_with(v1(), industry, safest));
            assert_eq!(r.overall_level, Level::Low);
            assert!(r.findings.is_empty());
            assert!(r.dimensions.iter().all(|d| d.score == 100));
        }
        // construction is asked only of section E
        let c = score(v1(), "C", &all_with(v1(), "C", safest));
        assert!(!c.dimensions.iter().any(|d| d.id == "construction"));
        let e = score(v1(), "E", &all_with(v1(), "E", safest));
        assert!(e.dimensions.iter().any(|d| d.id == "construction"));
    }

    #[test]
    fn a_single_red_line_forces_high() {
        let mut answers = all_with(v1(), "C", safest);
        let item = v1().item("tax-invoice-real").expect("item");
        answers.insert(item.id.clone(), riskiest(item));
        let r = score(v1(), "C", &answers);
        assert_eq!(r.overall_level, Level::High);
        assert_eq!(r.red_lines, vec!["tax-invoice-real".to_string()]);
        assert!(r.findings[0].red_line);
    }

    #[test]
    fn findings_sorted_by_severity() {
        let r = score(v1(), "E", &all_with(v1(), "E", riskiest));
        assert!(r.findings.windows(2).all(|w| w[0].level >= w[1].level));
        assert_eq!(r.overall_level, Level::High);
        assert!(r.dimensions.iter().all(|d| d.score == 0));
        // a rules-1 report lists every finding as it always did
        assert_eq!(r.top_findings().len(), r.findings.len());
        assert!(r.appendix().is_empty());
        assert_eq!(r.law_date, None);
    }

    #[test]
    fn recommendations_follow_weak_dimensions() {
        let mut answers = all_with(v1(), "E", safest);
        for item in v1().items.iter().filter(|i| i.dimension == "labour") {
            answers.insert(item.id.clone(), riskiest(item));
        }
        let r = score(v1(), "E", &answers);
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

    /// The v2026.1 scorer exactly as it was before rules 2 (copied from the commit that
    /// introduced rules 2), with the report as it was serialised then: rules 1 must give the
    /// same JSON, byte for byte, so that every stored report opens as it was computed.
    mod reference {
        use super::super::super::questionnaire::{Answers, Item, Questionnaire, Severity};
        use super::super::{DimensionResult, Level, Report};
        use serde::Serialize;

        #[derive(Serialize)]
        pub struct OldFinding {
            pub item_id: String,
            pub dimension: String,
            pub level: Level,
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
        }

        #[derive(Serialize)]
        pub struct OldReport {
            pub version: String,
            pub overall_level: Level,
            pub red_lines: Vec<String>,
            pub dimensions: Vec<DimensionResult>,
            pub findings: Vec<OldFinding>,
        }

        /// Today's report in the old shape (the fields the old report had, in its order).
        pub fn project(r: &Report) -> OldReport {
            OldReport {
                version: r.version.clone(),
                overall_level: r.overall_level,
                red_lines: r.red_lines.clone(),
                dimensions: r.dimensions.clone(),
                findings: r
                    .findings
                    .iter()
                    .map(|f| OldFinding {
                        item_id: f.item_id.clone(),
                        dimension: f.dimension.clone(),
                        level: f.level,
                        red_line: f.red_line,
                        severity: f.severity,
                        risk: f.risk,
                        weight: f.weight,
                        question: f.question.clone(),
                        answer: f.answer.clone(),
                        finding: f.finding.clone(),
                        legal_basis: f.legal_basis.clone(),
                        consequence: f.consequence.clone(),
                        recommendation: f.recommendation.clone(),
                    })
                    .collect(),
            }
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
                Severity::Loss => panic!("v2026.1 has no loss severity"),
            }
        }

        fn finding_level(item: &Item, risk: f64) -> Level {
            if item.red_line && risk > 0.0 && risk >= item.max_risk() {
                return Level::High;
            }
            match likelihood(risk) * severity_factor(item.severity) {
                p if p >= 6 => Level::High,
                p if p >= 3 => Level::Medium,
                _ => Level::Low,
            }
        }

        fn score_level(score: u32) -> Level {
            if score >= 85 {
                Level::Low
            } else if score >= 60 {
                Level::Medium
            } else {
                Level::High
            }
        }

        pub fn score(q: &Questionnaire, industry: &str, answers: &Answers) -> OldReport {
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
                        findings.push(OldFinding {
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
                    not_applicable: 0,
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
            OldReport {
                version: q.version.clone(),
                overall_level,
                red_lines,
                dimensions,
                findings,
            }
        }
    }

    fn same_as_before(industry: &str, answers: &Answers) -> Result<(), TestCaseError> {
        let then = serde_json::to_string(&reference::score(v1(), industry, answers))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let now = serde_json::to_string(&reference::project(&score(v1(), industry, answers)))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(then, now);
        Ok(())
    }

    #[test]
    fn rules_1_reports_are_computed_as_before_in_every_industry() {
        let middle = |i: &Item| i.options[i.options.len() / 2].id.clone();
        for industry in ('A'..='T').map(|c| c.to_string()) {
            let picks: [fn(&Item) -> String; 3] = [safest, riskiest, middle];
            for pick in picks {
                same_as_before(&industry, &all_with(v1(), &industry, pick)).expect("same");
            }
        }
        same_as_before("E", &Answers::new()).expect("same");
    }

    // ---------- rules 2 ----------

    /// The report of answering `option` to `item` and the compliant answer elsewhere.
    fn only(item: &str, option: &str, industry: &str) -> Report {
        let mut answers = all_with(v2(), industry, compliant);
        answers.insert(item.into(), option.into());
        score(v2(), industry, &answers)
    }

    fn level(item: &str, option: &str) -> Option<Level> {
        let r = only(item, option, "E");
        r.findings
            .iter()
            .find(|f| f.item_id == item)
            .map(|f| f.level)
    }

    #[test]
    fn rules_2_grade_by_kind_and_exposure() {
        use Level::*;
        let table: &[(&str, &str, Option<Level>)] = &[
            // ruinous civil (S2)
            ("gov-one-person", "no", Some(High)),
            ("gov-one-person", "partial", Some(Medium)),
            ("gov-one-person", "minor", Some(Low)),
            ("gov-one-person", "na", None),
            // ordinary civil
            ("gov-resolutions", "no", Some(Medium)),
            ("gov-resolutions", "partial", Some(Low)),
            // civil red line: the gap hits it, a partial is at least 中 (S3)
            ("lab-written-contract", "no", Some(High)),
            ("lab-written-contract", "partial", Some(Medium)),
            // loss: at most 中 (S1)
            ("lab-embezzlement", "no", Some(Medium)),
            ("lab-embezzlement", "small", Some(Low)),
            // criminal red line
            ("tax-invoice", "no", Some(High)),
            ("tax-invoice", "lax", Some(Medium)), // a criminal partial
            // a remedied residue (risk < 0.5) of a red line keeps its own severity's level
            ("tax-invoice", "late", Some(Low)),
            ("tax-invoice", "unsure", Some(Medium)),
            // criminal
            ("tax-offbook", "no", Some(High)),
            ("tax-offbook", "partial", Some(Medium)),
            // administrative
            ("safe-training", "no", Some(Medium)),
            ("safe-training", "partial", Some(Low)),
            ("safe-training", "unsure", Some(Medium)),
            ("safe-training", "na", None),
            ("safe-training", "yes", None),
        ];
        for (item, option, want) in table {
            assert_eq!(level(item, option), *want, "{item} = {option}");
        }
        // the answer's own severity and finding are what the report says
        let r = only("tax-invoice", "lax", "E");
        assert_eq!(r.findings[0].severity, Severity::Criminal);
        assert_eq!(r.findings[0].finding, "小额进项发票未核对");
        assert_eq!(
            only("tax-invoice", "late", "E").findings[0].severity,
            Severity::Administrative
        );
        assert_eq!(
            only("tax-invoice", "no", "E").findings[0].finding,
            "发票与业务不一致"
        );
        assert!(!r.findings[0].red_line && r.red_lines.is_empty());
        let r = only("lab-embezzlement", "no", "E");
        assert_eq!(r.findings[0].severity, Severity::Loss);
        assert_eq!(r.findings[0].severity.label_zh(), "经营损失风险");
    }

    #[test]
    fn unsure_asks_for_a_lawyer_with_the_next_step() {
        let r = only("tax-invoice", "unsure", "E");
        let f = &r.findings[0];
        assert!(f.needs_lawyer);
        assert_eq!(f.kind, OptionKind::Unsure);
        assert_eq!(
            f.verify.as_deref(),
            Some("调取近一年开票记录，与合同、出入库单逐笔核对")
        );
        assert_eq!(r.needs_lawyer(), 1);
        assert_eq!(r.overall_level, Level::Medium, "不清楚 is no red line");
        // other findings carry no verify step
        let r = only("tax-invoice", "no", "E");
        assert!(!r.findings[0].needs_lawyer && r.findings[0].verify.is_none());
    }

    #[test]
    fn overall_high_needs_a_red_line_or_two_major_findings() {
        assert_eq!(only("tax-offbook", "no", "E").overall_level, Level::Medium);
        assert_eq!(
            only("gov-one-person", "no", "E").overall_level,
            Level::Medium
        );
        let mut two = all_with(v2(), "E", compliant);
        two.insert("tax-offbook".into(), "no".into());
        two.insert("gov-one-person".into(), "no".into());
        assert_eq!(score(v2(), "E", &two).overall_level, Level::High);
        let red = only("lab-written-contract", "no", "E");
        assert_eq!(red.overall_level, Level::High);
        assert_eq!(red.red_lines, vec!["lab-written-contract".to_string()]);
        assert_eq!(
            only("lab-written-contract", "partial", "E").overall_level,
            Level::Medium
        );
        let mut small = all_with(v2(), "E", compliant);
        small.insert("gov-resolutions".into(), "partial".into());
        small.insert("safe-training".into(), "partial".into());
        small.insert("lab-embezzlement".into(), "small".into());
        let r = score(v2(), "E", &small);
        assert_eq!(r.findings.len(), 3);
        assert_eq!(r.overall_level, Level::Low);
        let clean = score(v2(), "E", &all_with(v2(), "E", compliant));
        assert_eq!(clean.overall_level, Level::Low);
        assert!(clean.findings.is_empty());
        assert!(clean.dimensions.iter().all(|d| d.score == 100));
        assert_eq!(clean.law_date.as_deref(), Some("2026-11-30"));
    }

    #[test]
    fn not_applicable_is_left_out_of_the_score() {
        // safety for E: safe-training (3) and safe-site (2)
        let mut answers = all_with(v2(), "E", compliant);
        answers.insert("safe-training".into(), "na".into());
        answers.insert("safe-site".into(), "no".into());
        let r = score(v2(), "E", &answers);
        let safety = r
            .dimensions
            .iter()
            .find(|d| d.id == "safety")
            .expect("safety");
        assert_eq!(safety.score, 0, "only the site item counts");
        assert_eq!(safety.level, Level::Medium);
        assert_eq!(safety.answered, 2);
        // rules 1 counted it as compliant: 100 × (1 − 2/5)
        let mut v1_like = v2().clone();
        v1_like.scoring = 1;
        let old = score(&v1_like, "E", &answers);
        let safety = old
            .dimensions
            .iter()
            .find(|d| d.id == "safety")
            .expect("safety");
        assert_eq!(safety.score, 60);
        // every answer 不适用: nothing to score, nothing found
        let mut answers = all_with(v2(), "C", compliant);
        answers.insert("safe-training".into(), "na".into());
        let r = score(v2(), "C", &answers);
        let safety = r
            .dimensions
            .iter()
            .find(|d| d.id == "safety")
            .expect("safety");
        assert_eq!((safety.score, safety.level), (100, Level::Low));
        assert!(safety.all_not_applicable());
    }

    #[test]
    fn a_dimension_badge_shows_its_worst_finding() {
        let mut answers = all_with(v2(), "E", compliant);
        answers.insert("tax-invoice".into(), "lax".into());
        let r = score(v2(), "E", &answers);
        let tax = r.dimensions.iter().find(|d| d.id == "tax").expect("tax");
        // the S6 case: a high score next to a worse badge, explained by the finding
        assert!(tax.score >= 85, "{}", tax.score);
        assert_eq!(tax.level, Level::Medium);
        let worst = r.worst_finding("tax").expect("worst");
        assert_eq!(worst.item_id, "tax-invoice");
        assert_eq!(worst.level, tax.level);
        assert!(r.worst_finding("governance").is_none());
    }

    #[test]
    fn findings_to_verify_rank_by_what_is_at_stake() {
        let mut answers = all_with(v2(), "E", compliant);
        answers.insert("tax-invoice".into(), "unsure".into());
        answers.insert("gov-resolutions".into(), "no".into());
        answers.insert("safe-training".into(), "partial".into());
        answers.insert("gov-one-person".into(), "partial".into());
        let r = score(v2(), "E", &answers);
        let ids: Vec<&str> = r.findings.iter().map(|f| f.item_id.as_str()).collect();
        // 中: ruinous first, then criminal (to verify) before civil; then 低
        assert_eq!(
            ids,
            [
                "gov-one-person",
                "tax-invoice",
                "gov-resolutions",
                "safe-training"
            ]
        );
    }

    fn finding(id: usize, level: Level) -> Finding {
        let item = &v2().items[0];
        let option = &item.options[2];
        Finding {
            item_id: format!("f{id}"),
            ..new_finding(item, option, level, false)
        }
    }

    #[test]
    fn the_report_leads_with_ten_findings_at_medium_or_high() {
        let mut findings: Vec<Finding> = (0..12).map(|i| finding(i, Level::High)).collect();
        findings.extend((12..15).map(|i| finding(i, Level::Low)));
        let mut r = Report {
            version: "v".into(),
            scoring: 2,
            law_date: None,
            overall_level: Level::High,
            red_lines: Vec::new(),
            dimensions: Vec::new(),
            findings,
        };
        assert_eq!(r.top_findings().len(), TOP_FINDINGS);
        assert_eq!(r.appendix().len(), 5);
        assert_eq!(r.appendix()[0].item_id, "f10");
        r.findings.truncate(4);
        r.findings.push(finding(20, Level::Low));
        assert_eq!(r.top_findings().len(), 4);
        assert_eq!(r.appendix().len(), 1);
        r.scoring = 1;
        assert_eq!(r.top_findings().len(), 5, "rules 1 list every finding");
    }

    /// The ranks of kinds a worse answer climbs: compliant < partial < gap.
    fn worse_kind(k: OptionKind) -> Option<u8> {
        match k {
            OptionKind::Compliant => Some(0),
            OptionKind::Partial => Some(1),
            OptionKind::Gap => Some(2),
            OptionKind::Na | OptionKind::Unsure => None,
        }
    }

    /// Invariants of a rules-2 report.
    fn check_v2_report(r: &Report) -> Result<(), TestCaseError> {
        for d in &r.dimensions {
            prop_assert!(d.score <= 100);
            prop_assert!(d.answered <= d.applicable);
            let worst = r
                .worst_finding(&d.id)
                .map(|f| f.level)
                .unwrap_or(Level::Low);
            prop_assert_eq!(d.level, worst);
        }
        let high = r.count_at(Level::High);
        let want = if !r.red_lines.is_empty() || high >= 2 {
            Level::High
        } else if r.count_at(Level::Medium) + high > 0 {
            Level::Medium
        } else {
            Level::Low
        };
        prop_assert_eq!(r.overall_level, want);
        for id in &r.red_lines {
            prop_assert!(r
                .findings
                .iter()
                .any(|f| &f.item_id == id && f.red_line && f.level == Level::High));
        }
        prop_assert!(r.findings.windows(2).all(|w| w[0].level >= w[1].level));
        let top = r.top_findings();
        prop_assert!(top.len() <= TOP_FINDINGS);
        prop_assert!(top.iter().all(|f| f.level >= Level::Medium));
        prop_assert_eq!(top.len() + r.appendix().len(), r.findings.len());
        prop_assert!(r
            .findings
            .iter()
            .all(|f| f.needs_lawyer == (f.kind == OptionKind::Unsure)
                && f.needs_lawyer == f.verify.is_some()
                && f.kind != OptionKind::Na
                && f.kind != OptionKind::Compliant));
        Ok(())
    }

    /// Answering `item` worse (a worse kind, no milder exposure, no lower risk) never lowers
    /// its dimension's level or the overall level, nor raises the dimension's score.
    fn check_worse_never_helps(
        q: &Questionnaire,
        industry: &str,
        answers: &Answers,
        item: &Item,
    ) -> Result<(), TestCaseError> {
        let Some(current) = answers.get(&item.id).and_then(|o| item.option(o)) else {
            return Ok(());
        };
        let Some(rank) = worse_kind(current.kind) else {
            return Ok(());
        };
        let before = score(q, industry, answers);
        for worse in item.options.iter().filter(|o| {
            worse_kind(o.kind).is_some_and(|r| r > rank)
                && item.severity_of(o) >= item.severity_of(current)
                && o.risk >= current.risk
        }) {
            let mut changed = answers.clone();
            changed.insert(item.id.clone(), worse.id.clone());
            let after = score(q, industry, &changed);
            let dim = |r: &Report| {
                r.dimensions
                    .iter()
                    .find(|d| d.id == item.dimension)
                    .map(|d| (d.score, d.level))
            };
            if let (Some((sb, lb)), Some((sa, la))) = (dim(&before), dim(&after)) {
                prop_assert!(sa <= sb, "{}: score rose {sb} -> {sa}", item.id);
                prop_assert!(la >= lb, "{}: level fell", item.id);
            }
            prop_assert!(after.overall_level >= before.overall_level);
        }
        Ok(())
    }

    /// Answering `item` 不适用 scores its dimension as if the item were not asked.
    fn check_na_is_out(
        q: &Questionnaire,
        industry: &str,
        answers: &Answers,
        item: &Item,
    ) -> Result<(), TestCaseError> {
        let Some(na) = item.options.iter().find(|o| o.kind == OptionKind::Na) else {
            return Ok(());
        };
        let mut with_na = answers.clone();
        with_na.insert(item.id.clone(), na.id.clone());
        let mut without = answers.clone();
        without.remove(&item.id);
        let a = score(q, industry, &with_na);
        let b = score(q, industry, &without);
        let dim = |r: &Report| {
            r.dimensions
                .iter()
                .find(|d| d.id == item.dimension)
                .map(|d| (d.score, d.level))
        };
        prop_assert_eq!(dim(&a), dim(&b));
        prop_assert!(!a.findings.iter().any(|f| f.item_id == item.id));
        prop_assert_eq!(a.overall_level, b.overall_level);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn rules_1_are_unchanged(answers in answers_strategy(v1, "E")) {
            same_as_before("E", &answers)?;
        }

        #[test]
        fn rules_1_scores_within_bounds(answers in answers_strategy(v1, "E")) {
            let r = score(v1(), "E", &answers);
            for d in &r.dimensions {
                prop_assert!(d.score <= 100);
                prop_assert!(d.answered <= d.applicable);
            }
            if !r.red_lines.is_empty() {
                prop_assert_eq!(r.overall_level, Level::High);
            }
        }

        #[test]
        fn rules_1_a_worse_answer_never_helps(answers in answers_strategy(v1, "C"), pick in any::<prop::sample::Index>()) {
            let items: Vec<&Item> = v1().applicable("C").collect();
            let item = items[pick.index(items.len())];
            let before = score(v1(), "C", &answers);
            let current = answers.get(&item.id).and_then(|o| item.option(o)).map(|o| o.risk).unwrap_or(0.0);
            for worse in item.options.iter().filter(|o| o.risk > current) {
                // only compare answered items: answering a new item changes the weight base
                if !answers.contains_key(&item.id) { break; }
                let mut changed = answers.clone();
                changed.insert(item.id.clone(), worse.id.clone());
                let after = score(v1(), "C", &changed);
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
        fn rules_1_any_red_line_forces_high(answers in answers_strategy(v1, "C"), pick in any::<prop::sample::Index>()) {
            let red: Vec<&Item> = v1().applicable("C").filter(|i| i.red_line).collect();
            let item = red[pick.index(red.len())];
            let mut changed = answers;
            changed.insert(item.id.clone(), riskiest(item));
            let r = score(v1(), "C", &changed);
            prop_assert_eq!(r.overall_level, Level::High);
            prop_assert!(r.red_lines.contains(&item.id));
        }

        #[test]
        fn rules_2_reports_keep_their_invariants(answers in answers_strategy(v2, "E")) {
            check_v2_report(&score(v2(), "E", &answers))?;
        }

        #[test]
        fn rules_2_a_worse_answer_never_helps(answers in answers_strategy(v2, "E"), pick in any::<prop::sample::Index>()) {
            let items: Vec<&Item> = v2().applicable("E").collect();
            check_worse_never_helps(v2(), "E", &answers, items[pick.index(items.len())])?;
        }

        #[test]
        fn rules_2_not_applicable_is_out(answers in answers_strategy(v2, "E"), pick in any::<prop::sample::Index>()) {
            let items: Vec<&Item> = v2().applicable("E").collect();
            check_na_is_out(v2(), "E", &answers, items[pick.index(items.len())])?;
        }

        #[test]
        fn rules_2_any_red_line_forces_high(answers in answers_strategy(v2, "E"), pick in any::<prop::sample::Index>()) {
            let red: Vec<&Item> = v2().applicable("E").filter(|i| i.red_line).collect();
            let item = red[pick.index(red.len())];
            let gap = item.options.iter().find(|o| o.kind == OptionKind::Gap).map(|o| o.id.clone()).unwrap_or_default();
            let mut changed = answers;
            changed.insert(item.id.clone(), gap);
            let r = score(v2(), "E", &changed);
            prop_assert_eq!(r.overall_level, Level::High);
            prop_assert!(r.red_lines.contains(&item.id));
        }
    }
}
