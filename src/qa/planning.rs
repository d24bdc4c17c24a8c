//! Precision planning: next month's lecture topics proposed from what the check-ups found,
//! what enterprises asked and what was already taught.
//!
//! A topic (a check-up dimension) scores by the enterprises it affects — 3 points for each
//! enterprise whose latest report has the dimension at 高, 1 for 中 — plus 2 points for each
//! question on it in the last 30 days; the sum is divided by one plus the number of lectures on
//! its category held in the last 90 days, so a topic just taught steps back. Every proposal
//! carries its evidence in the words the chamber uses ("38 家制造业企业劳动用工为高风险") and
//! the lawyers whose profile topics match.

use crate::checkup::questionnaire::Questionnaire;
use crate::checkup::scoring::Level;
use crate::schedule::CATEGORIES;
use std::collections::{BTreeMap, HashMap};

/// Points per enterprise at 高 in the topic.
pub const HIGH_POINTS: u32 = 3;
/// Points per enterprise at 中 in the topic.
pub const MEDIUM_POINTS: u32 = 1;
/// Points per question on the topic in the last [`QUESTION_DAYS`] days.
pub const QUESTION_POINTS: u32 = 2;
pub const QUESTION_DAYS: i64 = 30;
/// Lectures on the topic held in the last this many days lower its score.
pub const HELD_DAYS: i64 = 90;
/// Proposals shown by default.
pub const DEFAULT_TOP: usize = 5;

/// One enterprise's risk in one dimension (its latest report, the worst finding's level).
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseRisk {
    pub industry: String,
    pub dimension: String,
    pub level: Level,
}

/// Questions asked on a topic by enterprises of an industry.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionCount {
    pub topic: String,
    pub industry: String,
    pub count: u32,
}

/// A lawyer whose profile lists a topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LawyerRef {
    /// Account id.
    pub id: i64,
    pub name: String,
}

/// Everything the proposals are made from.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub risks: Vec<EnterpriseRisk>,
    pub questions: Vec<QuestionCount>,
    /// Lectures held in the last [`HELD_DAYS`] days, by session category.
    pub held: HashMap<String, u32>,
    /// Lawyers by topic (dimension id).
    pub lawyers: HashMap<String, Vec<LawyerRef>>,
}

/// A proposed topic for next month.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Proposal {
    /// Dimension id.
    pub topic: String,
    pub name: String,
    /// The lecture category (`schedule::CATEGORIES`) a session on it gets.
    pub category: String,
    pub score: f64,
    /// Enterprises whose latest report has the topic at 高 / 中.
    pub high_enterprises: u32,
    pub medium_enterprises: u32,
    pub questions: u32,
    pub held: u32,
    /// Industries (GB/T 4754 sections) with enterprises at 高, most first (at most three).
    pub industries: Vec<String>,
    /// In Chinese, one fact per line.
    pub evidence: Vec<String>,
    pub lawyers: Vec<LawyerRef>,
}

/// The lecture category of dimension `topic`: its name when that is a category (公司治理,
/// 劳动用工, …), else the category its items name most often, else 合同管理.
pub fn category_of(q: &Questionnaire, topic: &str) -> String {
    if let Some(d) = q.dimensions.iter().find(|d| d.id == topic) {
        if CATEGORIES.contains(&d.name.as_str()) {
            return d.name.clone();
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in q.items.iter().filter(|i| i.dimension == topic) {
        for c in &item.categories {
            if CATEGORIES.contains(&c.as_str()) {
                *counts.entry(c.as_str()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(c, n)| (*n, std::cmp::Reverse(*c)))
        .map(|(c, _)| c.to_string())
        .unwrap_or_else(|| "合同管理".to_string())
}

fn industry_name(code: &str) -> String {
    crate::accounts::industry::name_of(code)
        .unwrap_or("其他行业")
        .to_string()
}

/// The topics of `q` ranked for next month, best first, at most `top`; topics without any
/// evidence are not proposed.
pub fn propose(q: &Questionnaire, evidence: &Evidence, top: usize) -> Vec<Proposal> {
    let mut out: Vec<(usize, Proposal)> = Vec::new();
    for (order, d) in q.dimensions.iter().enumerate() {
        let mut high_by_industry: BTreeMap<&str, u32> = BTreeMap::new();
        let (mut high, mut medium) = (0u32, 0u32);
        for r in evidence.risks.iter().filter(|r| r.dimension == d.id) {
            match r.level {
                Level::High => {
                    high += 1;
                    *high_by_industry.entry(r.industry.as_str()).or_default() += 1;
                }
                Level::Medium => medium += 1,
                Level::Low => {}
            }
        }
        let mut asked_by_industry: BTreeMap<&str, u32> = BTreeMap::new();
        for c in evidence.questions.iter().filter(|c| c.topic == d.id) {
            *asked_by_industry.entry(c.industry.as_str()).or_default() += c.count;
        }
        let asked: u32 = asked_by_industry.values().sum();
        let raw = HIGH_POINTS * high + MEDIUM_POINTS * medium + QUESTION_POINTS * asked;
        if raw == 0 {
            continue;
        }
        let category = category_of(q, &d.id);
        let held = evidence.held.get(&category).copied().unwrap_or(0);
        let score = f64::from(raw) / f64::from(1 + held);

        let mut industries: Vec<(&str, u32)> = high_by_industry.into_iter().collect();
        industries.sort_by_key(|(code, n)| (std::cmp::Reverse(*n), *code));
        let mut lines: Vec<String> = industries
            .iter()
            .take(3)
            .map(|(code, n)| format!("{n} 家{}企业{}为高风险", industry_name(code), d.name))
            .collect();
        if industries.len() > 3 {
            lines.push(format!("共 {high} 家企业{}为高风险", d.name));
        }
        if medium > 0 {
            lines.push(format!("{medium} 家企业{}为中风险", d.name));
        }
        if asked > 0 {
            let most = asked_by_industry
                .iter()
                .max_by_key(|(code, n)| (**n, std::cmp::Reverse(**code)))
                .map(|(code, n)| format!("（{} {n} 个）", industry_name(code)))
                .unwrap_or_default();
            lines.push(format!(
                "近 {QUESTION_DAYS} 天 {asked} 个{}提问{most}",
                d.name
            ));
        }
        if held > 0 {
            lines.push(format!(
                "近 {HELD_DAYS} 天已举办 {held} 场{category}讲座（优先级已下调）"
            ));
        }
        out.push((
            order,
            Proposal {
                topic: d.id.clone(),
                name: d.name.clone(),
                category,
                score,
                high_enterprises: high,
                medium_enterprises: medium,
                questions: asked,
                held,
                industries: industries
                    .iter()
                    .take(3)
                    .map(|(c, _)| c.to_string())
                    .collect(),
                evidence: lines,
                lawyers: evidence.lawyers.get(&d.id).cloned().unwrap_or_default(),
            },
        ));
    }
    out.sort_by(|(oa, a), (ob, b)| {
        b.score
            .total_cmp(&a.score)
            .then(b.high_enterprises.cmp(&a.high_enterprises))
            .then(oa.cmp(ob))
    });
    out.into_iter().take(top).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkup::questionnaire::BUILTIN;

    fn risk(industry: &str, dimension: &str, level: Level) -> EnterpriseRisk {
        EnterpriseRisk {
            industry: industry.into(),
            dimension: dimension.into(),
            level,
        }
    }

    #[test]
    fn ranked_by_affected_enterprises_with_evidence() {
        let q = Questionnaire::parse(BUILTIN).expect("builtin");
        let mut e = Evidence::default();
        for _ in 0..38 {
            e.risks.push(risk("C", "labour", Level::High));
        }
        for _ in 0..5 {
            e.risks.push(risk("E", "contracts", Level::High));
        }
        e.risks.push(risk("E", "tax", Level::Medium));
        e.risks.push(risk("E", "ip", Level::Low));
        e.questions.push(QuestionCount {
            topic: "labour".into(),
            industry: "C".into(),
            count: 12,
        });
        e.lawyers.insert(
            "labour".into(),
            vec![LawyerRef {
                id: 9,
                name: "示例律师".into(),
            }],
        );
        let p = propose(&q, &e, 5);
        let topics: Vec<&str> = p.iter().map(|p| p.topic.as_str()).collect();
        assert_eq!(topics, vec!["labour", "contracts", "tax"]);
        assert_eq!(p[0].evidence[0], "38 家制造业企业劳动用工为高风险");
        assert!(p[0]
            .evidence
            .contains(&"近 30 天 12 个劳动用工提问（制造业 12 个）".to_string()));
        assert_eq!(p[0].lawyers[0].id, 9);
        assert_eq!(p[0].category, "劳动用工");
        assert_eq!(p[0].industries, vec!["C".to_string()]);
        assert_eq!(propose(&q, &e, 1).len(), 1);
    }

    #[test]
    fn lectures_held_lower_the_score() {
        let q = Questionnaire::parse(BUILTIN).expect("builtin");
        let mut e = Evidence::default();
        for _ in 0..4 {
            e.risks.push(risk("E", "labour", Level::High));
        }
        for _ in 0..3 {
            e.risks.push(risk("E", "contracts", Level::High));
        }
        assert_eq!(propose(&q, &e, 5)[0].topic, "labour");
        e.held.insert("劳动用工".into(), 2);
        let p = propose(&q, &e, 5);
        assert_eq!(p[0].topic, "contracts");
        assert_eq!(p[1].score, 4.0);
        assert!(p[1]
            .evidence
            .iter()
            .any(|l| l.contains("已举办 2 场劳动用工讲座")));
    }

    #[test]
    fn every_topic_has_a_lecture_category() {
        let q = Questionnaire::parse(BUILTIN).expect("builtin");
        for d in &q.dimensions {
            assert!(
                CATEGORIES.contains(&category_of(&q, &d.id).as_str()),
                "{}",
                d.id
            );
        }
    }
}
