//! The organizer's view over all enterprises' latest reports: where member enterprises are
//! weak (industry × dimension), the most frequent findings, and who needs a follow-up visit.

use super::questionnaire::Questionnaire;
use super::scoring::{Level, Report};
use std::collections::{BTreeMap, BTreeSet};

/// One enterprise's latest report with who it is.
pub struct Entry<'a> {
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub report_id: i64,
    pub report: &'a Report,
}

/// Share of high-risk answers in one cell of the heat map.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// 0–100, `None` when no enterprise of the section answered the dimension.
    pub percent: Option<u32>,
    pub high: usize,
    pub answered: usize,
}

#[derive(Debug, Clone)]
pub struct HeatRow {
    pub industry: String,
    pub enterprises: usize,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub struct FrequentFinding {
    pub item_id: String,
    pub dimension: String,
    pub text: String,
    pub count: usize,
    pub high: usize,
}

#[derive(Debug, Clone)]
pub struct FollowUp {
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub report_id: i64,
    pub red_lines: usize,
    pub top_findings: Vec<String>,
}

pub struct Dashboard {
    pub dimensions: Vec<(String, String)>,
    pub heat: Vec<HeatRow>,
    pub frequent: Vec<FrequentFinding>,
    pub follow_ups: Vec<FollowUp>,
    pub levels: BTreeMap<Level, usize>,
}

/// Aggregate the latest report of each enterprise.
pub fn build(q: &Questionnaire, entries: &[Entry<'_>]) -> Dashboard {
    let dimensions: Vec<(String, String)> = q
        .dimensions
        .iter()
        .map(|d| (d.id.clone(), d.name.clone()))
        .collect();
    let industries: BTreeSet<&str> = entries.iter().map(|e| e.industry.as_str()).collect();
    let heat = industries
        .iter()
        .map(|ind| {
            let of_industry: Vec<&Entry> = entries.iter().filter(|e| e.industry == *ind).collect();
            let cells = dimensions
                .iter()
                .map(|(did, _)| {
                    let mut answered = 0;
                    let mut high = 0;
                    for e in &of_industry {
                        if let Some(d) = e.report.dimensions.iter().find(|d| &d.id == did) {
                            answered += d.answered;
                            high += e
                                .report
                                .findings
                                .iter()
                                .filter(|f| &f.dimension == did && f.level == Level::High)
                                .count();
                        }
                    }
                    Cell {
                        percent: (answered > 0)
                            .then(|| ((high * 100) as f64 / answered as f64).round() as u32),
                        high,
                        answered,
                    }
                })
                .collect();
            HeatRow {
                industry: ind.to_string(),
                enterprises: of_industry.len(),
                cells,
            }
        })
        .collect();

    let mut counts: BTreeMap<&str, (usize, usize, &str)> = BTreeMap::new();
    for e in entries {
        for f in &e.report.findings {
            let c = counts
                .entry(f.item_id.as_str())
                .or_insert((0, 0, f.dimension.as_str()));
            c.0 += 1;
            if f.level == Level::High {
                c.1 += 1;
            }
        }
    }
    let mut frequent: Vec<FrequentFinding> = counts
        .into_iter()
        .map(|(id, (count, high, dim))| FrequentFinding {
            item_id: id.to_string(),
            dimension: dim.to_string(),
            text: q
                .item(id)
                .map(|i| i.finding.clone())
                .unwrap_or_else(|| id.to_string()),
            count,
            high,
        })
        .collect();
    frequent.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.high.cmp(&a.high))
            .then(a.item_id.cmp(&b.item_id))
    });
    frequent.truncate(15);

    let mut follow_ups: Vec<FollowUp> = entries
        .iter()
        .filter(|e| e.report.overall_level == Level::High)
        .map(|e| FollowUp {
            enterprise_id: e.enterprise_id,
            company: e.company.clone(),
            uscc: e.uscc.clone(),
            industry: e.industry.clone(),
            report_id: e.report_id,
            red_lines: e.report.red_lines.len(),
            top_findings: e
                .report
                .findings
                .iter()
                .take(3)
                .map(|f| f.finding.clone())
                .collect(),
        })
        .collect();
    follow_ups.sort_by(|a, b| {
        b.red_lines
            .cmp(&a.red_lines)
            .then(a.report_id.cmp(&b.report_id))
    });

    let mut levels = BTreeMap::new();
    for e in entries {
        *levels.entry(e.report.overall_level).or_insert(0) += 1;
    }
    Dashboard {
        dimensions,
        heat,
        frequent,
        follow_ups,
        levels,
    }
}

#[cfg(test)]
mod tests {
    use super::super::questionnaire::{Answers, BUILTIN};
    use super::super::scoring::score;
    use super::*;

    #[test]
    fn heat_map_counts_high_answers_per_industry_and_dimension() {
        let q = Questionnaire::parse(BUILTIN).expect("valid");
        let risky: Answers = q
            .applicable("E")
            .map(|i| {
                (
                    i.id.clone(),
                    i.options.last().map(|o| o.id.clone()).unwrap_or_default(),
                )
            })
            .collect();
        let safe: Answers = q
            .applicable("C")
            .map(|i| (i.id.clone(), i.options[0].id.clone()))
            .collect();
        let r1 = score(&q, "E", &risky);
        let r2 = score(&q, "C", &safe);
        let entries = vec![
            Entry {
                enterprise_id: 1,
                company: "示例甲".into(),
                uscc: "X".into(),
                industry: "E".into(),
                report_id: 10,
                report: &r1,
            },
            Entry {
                enterprise_id: 2,
                company: "示例乙".into(),
                uscc: "Y".into(),
                industry: "C".into(),
                report_id: 11,
                report: &r2,
            },
        ];
        let d = build(&q, &entries);
        assert_eq!(d.heat.len(), 2);
        let c_row = d.heat.iter().find(|h| h.industry == "C").expect("C");
        assert!(c_row.cells.iter().all(|c| c.percent.unwrap_or(0) == 0));
        let e_row = d.heat.iter().find(|h| h.industry == "E").expect("E");
        assert!(e_row.cells.iter().any(|c| c.percent.unwrap_or(0) > 0));
        assert_eq!(d.follow_ups.len(), 1);
        assert_eq!(d.follow_ups[0].company, "示例甲");
        assert!(d.follow_ups[0].red_lines >= 1);
        assert!(!d.frequent.is_empty());
        assert_eq!(d.levels.get(&Level::Low), Some(&1));
    }
}
