//! A report next to the enterprise's previous one: the change of each dimension's score, level
//! and number of findings, and the previous scores lined up with the current dimensions for the
//! radar chart.
//!
//! The two reports may have answered different questionnaire versions (v2026.1 and v2027.1),
//! scored by different rules, or different industries. Dimensions are compared as dimensions:
//! matched by id, else by name (a dimension keeps its meaning when its id is renamed), so a
//! dimension can be new, and one of the previous report can be gone. When the versions differ
//! the comparison says so, because part of a change may come from the questions and the rules
//! rather than from the enterprise.

use super::scoring::{Level, Report};

/// A dimension of the current report with its change since the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionChange {
    pub id: String,
    pub name: String,
    pub score: u32,
    pub level: Level,
    /// Findings of the dimension now.
    pub findings: usize,
    /// Score now minus score then; `None` without a previous report or when the previous
    /// report did not cover the dimension.
    pub change: Option<i64>,
    /// The previous report's level and number of findings for the dimension.
    pub previous_level: Option<Level>,
    pub previous_findings: Option<usize>,
}

impl DimensionChange {
    /// The level moved (either way) since the previous report.
    pub fn level_changed(&self) -> bool {
        self.previous_level.is_some_and(|then| then != self.level)
    }
}

/// A dimension the previous report had and the current one does not (the new questionnaire
/// dropped it, or it no longer applies to the enterprise's industry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedDimension {
    pub name: String,
    pub score: u32,
    pub level: Level,
}

/// How `current` compares with `previous`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// One row per dimension of the current report, in its order.
    pub dimensions: Vec<DimensionChange>,
    /// The previous scores on the current report's axes (a dimension the previous report did
    /// not cover is drawn at its current score); `None` without a previous report.
    pub previous_scores: Option<Vec<u32>>,
    /// The previous report's questionnaire version when it differs from the current one.
    pub previous_version: Option<String>,
    /// The previous report was scored by other rules (see [`super::scoring`]).
    pub rules_changed: bool,
    pub dropped: Vec<DroppedDimension>,
    /// Overall level then, without a previous report `None`.
    pub previous_overall: Option<Level>,
}

impl Comparison {
    /// The radar chart's axes: each current dimension's name and score.
    pub fn axes(&self) -> Vec<(String, u32)> {
        self.dimensions
            .iter()
            .map(|d| (d.name.clone(), d.score))
            .collect()
    }
}

/// Compare a report with the previous one of the same enterprise, if there is one.
pub fn compare(current: &Report, previous: Option<&Report>) -> Comparison {
    // the previous report's dimension for each current one: by id, else by name
    let matched: Vec<Option<usize>> = current
        .dimensions
        .iter()
        .map(|d| {
            let p = previous?;
            p.dimensions.iter().position(|x| x.id == d.id).or_else(|| {
                p.dimensions.iter().position(|x| {
                    x.name == d.name && !current.dimensions.iter().any(|c| c.id == x.id)
                })
            })
        })
        .collect();
    let count = |r: &Report, id: &str| r.findings.iter().filter(|f| f.dimension == id).count();
    let dimensions = current
        .dimensions
        .iter()
        .zip(&matched)
        .map(|(d, m)| {
            let then = previous.zip(*m).map(|(p, i)| (p, &p.dimensions[i]));
            DimensionChange {
                id: d.id.clone(),
                name: d.name.clone(),
                score: d.score,
                level: d.level,
                findings: count(current, &d.id),
                change: then.map(|(_, t)| i64::from(d.score) - i64::from(t.score)),
                previous_level: then.map(|(_, t)| t.level),
                previous_findings: then.map(|(p, t)| count(p, &t.id)),
            }
        })
        .collect();
    let previous_scores = previous.map(|p| {
        current
            .dimensions
            .iter()
            .zip(&matched)
            .map(|(d, m)| m.map(|i| p.dimensions[i].score).unwrap_or(d.score))
            .collect()
    });
    let dropped = previous
        .map(|p| {
            p.dimensions
                .iter()
                .enumerate()
                .filter(|(i, _)| !matched.contains(&Some(*i)))
                .map(|(_, d)| DroppedDimension {
                    name: d.name.clone(),
                    score: d.score,
                    level: d.level,
                })
                .collect()
        })
        .unwrap_or_default();
    Comparison {
        dimensions,
        previous_scores,
        previous_version: previous
            .filter(|p| p.version != current.version)
            .map(|p| p.version.clone()),
        rules_changed: previous.is_some_and(|p| p.scoring != current.scoring),
        dropped,
        previous_overall: previous.map(|p| p.overall_level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkup::laws::Laws;
    use crate::checkup::questionnaire::{
        Answers, Questionnaire, LAWS_FIXTURE, V2026_1, V2_FIXTURE,
    };
    use crate::checkup::scoring::{score, DimensionResult};

    fn report(scores: &[(&str, u32)]) -> Report {
        Report {
            version: "v".into(),
            scoring: 1,
            law_date: None,
            overall_level: Level::Low,
            red_lines: Vec::new(),
            dimensions: scores
                .iter()
                .map(|(id, score)| DimensionResult {
                    id: (*id).into(),
                    name: format!("name-{id}"),
                    score: *score,
                    level: Level::Low,
                    answered: 1,
                    applicable: 1,
                    not_applicable: 0,
                })
                .collect(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn without_a_previous_report_nothing_changes() {
        let c = compare(&report(&[("a", 80)]), None);
        assert_eq!(c.dimensions[0].change, None);
        assert_eq!(c.dimensions[0].previous_level, None);
        assert_eq!(c.previous_scores, None);
        assert_eq!(c.previous_version, None);
        assert!(!c.rules_changed && c.dropped.is_empty());
        assert_eq!(c.axes(), vec![("name-a".to_string(), 80)]);
    }

    #[test]
    fn dimensions_are_matched_by_id() {
        let now = report(&[("a", 90), ("b", 50), ("new", 70)]);
        let then = report(&[("b", 60), ("a", 40), ("gone", 10)]);
        let c = compare(&now, Some(&then));
        let changes: Vec<Option<i64>> = c.dimensions.iter().map(|d| d.change).collect();
        assert_eq!(changes, vec![Some(50), Some(-10), None]);
        // a dimension new since then is drawn at its current score
        assert_eq!(c.previous_scores, Some(vec![40, 60, 70]));
        assert_eq!(
            c.dropped,
            vec![DroppedDimension {
                name: "name-gone".into(),
                score: 10,
                level: Level::Low
            }]
        );
        assert_eq!(c.previous_version, None, "same version");
    }

    #[test]
    fn a_renamed_id_is_matched_by_name() {
        let now = report(&[("environment", 80)]);
        let mut then = report(&[("safety", 60)]);
        then.dimensions[0].name = "name-environment".into();
        let c = compare(&now, Some(&then));
        assert_eq!(c.dimensions[0].change, Some(20));
        assert!(c.dropped.is_empty());
    }

    /// A v2026.1 report followed by a rules-2 report: compared per dimension, and the change
    /// of questionnaire and rules is said.
    #[test]
    fn reports_of_different_versions_compare_by_dimension() {
        let old = Questionnaire::parse(V2026_1).expect("v2026.1");
        let laws = Laws::parse(LAWS_FIXTURE).expect("laws");
        let new = Questionnaire::parse_with(V2_FIXTURE, Some(&laws)).expect("v2");
        // then: everything risky in labour; now: fixed, except a partial answer
        let mut then_answers: Answers = old
            .applicable("E")
            .map(|i| (i.id.clone(), i.options[0].id.clone()))
            .collect();
        for i in old.items.iter().filter(|i| i.dimension == "labour") {
            let worst = i.options.iter().max_by(|a, b| a.risk.total_cmp(&b.risk));
            if let Some(o) = worst {
                then_answers.insert(i.id.clone(), o.id.clone());
            }
        }
        let mut now_answers: Answers = new
            .applicable("E")
            .map(|i| (i.id.clone(), i.options[0].id.clone()))
            .collect();
        now_answers.insert("lab-embezzlement".into(), "small".into());
        let then = score(&old, "E", &then_answers);
        let now = score(&new, "E", &now_answers);
        let c = compare(&now, Some(&then));
        assert_eq!(c.previous_version.as_deref(), Some("2026.1"));
        assert!(c.rules_changed);
        assert_eq!(c.previous_overall, Some(Level::High));
        let labour = c
            .dimensions
            .iter()
            .find(|d| d.id == "labour")
            .expect("labour");
        assert_eq!(labour.previous_level, Some(Level::High));
        assert_eq!(labour.level, Level::Low);
        assert!(labour.level_changed());
        assert!(labour.change.is_some_and(|c| c > 50));
        assert!(labour.previous_findings.is_some_and(|n| n >= 5));
        assert_eq!(labour.findings, 1);
        // every dimension of the fixture exists in v2026.1; v2026.1's others are listed
        assert!(c.dimensions.iter().all(|d| d.change.is_some()));
        assert!(c.dropped.iter().any(|d| d.name == "合同管理"));
    }
}
