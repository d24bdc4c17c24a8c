//! A report next to the enterprise's previous one: the change of each dimension's score and
//! the previous scores lined up with the current dimensions for the radar chart.
//!
//! Dimensions are matched by id. The two reports may have answered different questionnaire
//! versions or industries, so a dimension can be missing from the previous report.

use super::scoring::{Level, Report};

/// A dimension of the current report with its change since the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionChange {
    pub id: String,
    pub name: String,
    pub score: u32,
    pub level: Level,
    /// Score now minus score then; `None` without a previous report or when the previous
    /// report did not cover the dimension.
    pub change: Option<i64>,
}

/// How `current` compares with `previous`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// One row per dimension of the current report, in its order.
    pub dimensions: Vec<DimensionChange>,
    /// The previous scores on the current report's axes (a dimension the previous report did
    /// not cover is drawn at its current score); `None` without a previous report.
    pub previous_scores: Option<Vec<u32>>,
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
    let previous_score =
        |id: &str| previous.and_then(|p| p.dimensions.iter().find(|d| d.id == id).map(|d| d.score));
    let dimensions = current
        .dimensions
        .iter()
        .map(|d| DimensionChange {
            id: d.id.clone(),
            name: d.name.clone(),
            score: d.score,
            level: d.level,
            change: previous_score(&d.id).map(|then| i64::from(d.score) - i64::from(then)),
        })
        .collect();
    let previous_scores = previous.map(|_| {
        current
            .dimensions
            .iter()
            .map(|d| previous_score(&d.id).unwrap_or(d.score))
            .collect()
    });
    Comparison {
        dimensions,
        previous_scores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkup::scoring::DimensionResult;

    fn report(scores: &[(&str, u32)]) -> Report {
        Report {
            version: "v".into(),
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
                })
                .collect(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn without_a_previous_report_nothing_changes() {
        let c = compare(&report(&[("a", 80)]), None);
        assert_eq!(c.dimensions[0].change, None);
        assert_eq!(c.previous_scores, None);
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
    }
}
