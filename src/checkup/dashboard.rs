//! The organizer's view over all enterprises' latest reports: where member enterprises are
//! weak (industry × dimension, levels by industry), the most frequent findings, the trend of
//! submissions per month, and the list of enterprises (searchable, who needs a follow-up visit
//! first).
//!
//! The answers are written admissions ("存在虚开发票…"), and this view is for the chamber's
//! staff, so it carries levels, dimensions and item ids only: never the text of a finding, a
//! question's answer or an option, and no count of red lines (a red-line count next to a
//! company's name says which kind of offence it admitted). An item appears among the frequent
//! ones only once [`MIN_ENTERPRISES`] enterprises share it, so an item id cannot be traced back
//! to the one enterprise that answered it. The full report stays one click away for
//! organizers, and opening it is logged for the enterprise to see.

use super::questionnaire::Questionnaire;
use super::scoring::{Level, Report};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The fewest enterprises an item must be found in to be listed among the frequent ones.
pub const MIN_ENTERPRISES: usize = 3;

/// One enterprise's latest report with who it is.
pub struct Entry<'a> {
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub report_id: i64,
    pub submitted_at: DateTime<Utc>,
    pub report: &'a Report,
}

/// How many reports are at each level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelCounts {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl LevelCounts {
    pub fn add(&mut self, level: Level) {
        match level {
            Level::High => self.high += 1,
            Level::Medium => self.medium += 1,
            Level::Low => self.low += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.high + self.medium + self.low
    }

    /// The share at 高, rounded (`None` without reports).
    pub fn high_percent(&self) -> Option<u32> {
        let total = self.total();
        (total > 0).then(|| ((self.high * 100) as f64 / total as f64).round() as u32)
    }
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
    /// The enterprises' overall levels.
    pub levels: LevelCounts,
}

/// An item found in several enterprises' reports: its id, dimension and the lecture topics
/// that address it (what to schedule), never its finding text.
#[derive(Debug, Clone)]
pub struct FrequentFinding {
    pub item_id: String,
    /// Dimension id.
    pub dimension: String,
    /// Lecture categories of the item.
    pub categories: Vec<String>,
    /// Enterprises whose latest report has the finding.
    pub count: usize,
    /// Of those, the ones where it is graded 高.
    pub high: usize,
}

/// A dimension of an enterprise's report at its worst finding's level.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionRisk {
    pub dimension: String,
    pub name: String,
    pub level: Level,
}

/// An enterprise in the organizer's list (at 高, the 回访 list): who it is, its overall level
/// and where its risks lie (dimension and level), not what it answered.
#[derive(Debug, Clone)]
pub struct FollowUp {
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub industry: String,
    pub report_id: i64,
    pub submitted_at: DateTime<Utc>,
    pub level: Level,
    /// Dimensions with a 中 or 高 finding, 高 first.
    pub risks: Vec<DimensionRisk>,
}

impl FollowUp {
    /// How many dimensions have a 高 finding.
    pub fn high_dimensions(&self) -> usize {
        self.risks.iter().filter(|r| r.level == Level::High).count()
    }
}

/// Dimensions of `report` with a 中 or 高 finding at the worst finding's level, 高 first, then
/// in the report's order (names as in the questionnaire version the report answered).
pub fn dimension_risks(report: &Report) -> Vec<DimensionRisk> {
    let mut risks: Vec<DimensionRisk> = report
        .dimensions
        .iter()
        .filter_map(|d| {
            let worst = report
                .findings
                .iter()
                .filter(|f| f.dimension == d.id)
                .map(|f| f.level)
                .max()?;
            (worst >= Level::Medium).then(|| DimensionRisk {
                dimension: d.id.clone(),
                name: d.name.clone(),
                level: worst,
            })
        })
        .collect();
    // stable: the questionnaire's order within a level
    risks.sort_by_key(|r| std::cmp::Reverse(r.level));
    risks
}

#[derive(Debug)]
pub struct Dashboard {
    pub dimensions: Vec<(String, String)>,
    pub heat: Vec<HeatRow>,
    pub frequent: Vec<FrequentFinding>,
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
            let mut levels = LevelCounts::default();
            for e in &of_industry {
                levels.add(e.report.overall_level);
            }
            HeatRow {
                industry: ind.to_string(),
                enterprises: of_industry.len(),
                cells,
                levels,
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
        .filter(|(_, (count, _, _))| *count >= MIN_ENTERPRISES)
        .map(|(id, (count, high, dim))| FrequentFinding {
            item_id: id.to_string(),
            dimension: dim.to_string(),
            categories: q.item(id).map(|i| i.categories.clone()).unwrap_or_default(),
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

    let mut levels = BTreeMap::new();
    for e in entries {
        *levels.entry(e.report.overall_level).or_insert(0) += 1;
    }
    Dashboard {
        dimensions,
        heat,
        frequent,
        levels,
    }
}

/// What the organizer's list of enterprises is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Part of the company's name or its credit code (case-insensitive).
    pub text: Option<String>,
    /// The industry section (one letter).
    pub industry: Option<String>,
    pub level: Option<Level>,
}

impl ListFilter {
    pub fn matches(&self, e: &Entry<'_>) -> bool {
        let text = self.text.as_deref().map(str::trim).unwrap_or("");
        (text.is_empty()
            || e.company.to_lowercase().contains(&text.to_lowercase())
            || e.uscc.to_uppercase().contains(&text.to_uppercase()))
            && self
                .industry
                .as_deref()
                .is_none_or(|i| e.industry.starts_with(i))
            && self.level.is_none_or(|l| e.report.overall_level == l)
    }
}

/// The enterprises whose latest report matches `filter`: 高 first (the 回访 list), the most
/// dimensions at 高 first within a level, then the newest report first.
pub fn listing(entries: &[Entry<'_>], filter: &ListFilter) -> Vec<FollowUp> {
    let mut list: Vec<FollowUp> = entries
        .iter()
        .filter(|e| filter.matches(e))
        .map(|e| FollowUp {
            enterprise_id: e.enterprise_id,
            company: e.company.clone(),
            uscc: e.uscc.clone(),
            industry: e.industry.clone(),
            report_id: e.report_id,
            submitted_at: e.submitted_at,
            level: e.report.overall_level,
            risks: dimension_risks(e.report),
        })
        .collect();
    list.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.high_dimensions().cmp(&a.high_dimensions()))
            .then(b.report_id.cmp(&a.report_id))
    });
    list
}

/// How many months the trend shows.
pub const TREND_MONTHS: u32 = 12;

/// Submitted check-ups in one month, by overall level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCounts {
    pub year: i32,
    pub month: u32,
    pub levels: LevelCounts,
}

impl MonthCounts {
    /// "2026年11月".
    pub fn label(&self) -> String {
        format!("{}年{}月", self.year, self.month)
    }
}

/// Every submitted check-up (retakes included) per month, `(local day, level)`, over the last
/// [`TREND_MONTHS`] months up to `today`'s; months without a submission count 0, months before
/// the first submission are left out. Empty without submissions.
pub fn trend(submissions: &[(NaiveDate, Level)], today: NaiveDate) -> Vec<MonthCounts> {
    let index = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
    let last = index(today);
    let Some(first) = submissions.iter().map(|(d, _)| index(*d)).min() else {
        return Vec::new();
    };
    let first = first.max(last - TREND_MONTHS as i32 + 1).min(last);
    let mut months: Vec<MonthCounts> = (first..=last)
        .map(|i| MonthCounts {
            year: i.div_euclid(12),
            month: i.rem_euclid(12) as u32 + 1,
            levels: LevelCounts::default(),
        })
        .collect();
    for (d, level) in submissions {
        let i = index(*d);
        if (first..=last).contains(&i) {
            months[(i - first) as usize].levels.add(*level);
        }
    }
    months
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
                submitted_at: Utc::now(),
                report: &r1,
            },
            Entry {
                enterprise_id: 2,
                company: "示例乙".into(),
                uscc: "Y".into(),
                industry: "C".into(),
                report_id: 11,
                submitted_at: Utc::now(),
                report: &r2,
            },
        ];
        let d = build(&q, &entries);
        assert_eq!(d.heat.len(), 2);
        let c_row = d.heat.iter().find(|h| h.industry == "C").expect("C");
        assert!(c_row.cells.iter().all(|c| c.percent.unwrap_or(0) == 0));
        let e_row = d.heat.iter().find(|h| h.industry == "E").expect("E");
        assert!(e_row.cells.iter().any(|c| c.percent.unwrap_or(0) > 0));
        assert_eq!(e_row.levels.high, 1);
        assert_eq!(c_row.levels.low, 1);
        let high = ListFilter {
            level: Some(Level::High),
            ..ListFilter::default()
        };
        let follow_ups = listing(&entries, &high);
        assert_eq!(follow_ups.len(), 1);
        assert_eq!(follow_ups[0].company, "示例甲");
        assert!(follow_ups[0].high_dimensions() >= 1);
        assert_eq!(follow_ups[0].risks[0].level, Level::High);
        // everyone, 高 first; searched by name or credit code, by industry
        let all = listing(&entries, &ListFilter::default());
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].report_id, all[1].report_id), (10, 11));
        let by = |text: &str, industry: Option<&str>| {
            listing(
                &entries,
                &ListFilter {
                    text: Some(text.into()),
                    industry: industry.map(String::from),
                    level: None,
                },
            )
            .iter()
            .map(|f| f.report_id)
            .collect::<Vec<_>>()
        };
        assert_eq!(by("乙", None), [11]);
        assert_eq!(by("y", None), [11]);
        assert_eq!(by("", Some("E")), [10]);
        assert_eq!(by("示例", Some("F")), Vec::<i64>::new());
        assert!(
            d.frequent.is_empty(),
            "one enterprise's findings are not listed as frequent"
        );
        assert_eq!(d.levels.get(&Level::Low), Some(&1));
    }

    /// The dashboard carries levels, dimensions and item ids, never what an enterprise
    /// admitted: no finding text and no option text of any item.
    #[test]
    fn no_admission_text_reaches_the_dashboard() {
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
        let report = score(&q, "E", &risky);
        assert!(!report.findings.is_empty());
        let entries: Vec<Entry> = (0..MIN_ENTERPRISES)
            .map(|n| Entry {
                enterprise_id: n as i64,
                company: format!("示例{n}"),
                uscc: format!("U{n}"),
                industry: "E".into(),
                report_id: 10 + n as i64,
                submitted_at: Utc::now(),
                report: &report,
            })
            .collect();
        let d = build(&q, &entries);
        let follow_ups = listing(&entries, &ListFilter::default());
        assert_eq!(follow_ups.len(), MIN_ENTERPRISES);
        assert!(!d.frequent.is_empty(), "shared by enough enterprises");
        let shown = format!("{d:?}{follow_ups:?}");
        for f in &report.findings {
            assert!(!shown.contains(&f.finding), "{} shown", f.item_id);
        }
        // short options ("是", "否") also occur in names; longer ones are the admissions
        for i in q.applicable("E") {
            for o in i.options.iter().filter(|o| o.text.chars().count() >= 4) {
                assert!(!shown.contains(&o.text), "{}/{} shown", i.id, o.id);
            }
        }
    }

    #[test]
    fn trend_counts_submissions_per_month_up_to_today() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        let subs = [
            (d(2026, 9, 30), Level::High),
            (d(2026, 9, 1), Level::Low),
            (d(2026, 11, 15), Level::Medium),
            (d(2025, 1, 1), Level::High),
        ];
        let t = trend(&subs, d(2026, 12, 2));
        // twelve months back from December 2026; January 2025 is too old
        assert_eq!(t.len(), 12);
        assert_eq!(t[0].label(), "2026年1月");
        assert_eq!(t[11].label(), "2026年12月");
        assert_eq!(
            t[8].levels,
            LevelCounts {
                high: 1,
                medium: 0,
                low: 1
            }
        );
        assert_eq!(t[8].levels.high_percent(), Some(50));
        assert_eq!(t[10].levels.medium, 1);
        assert_eq!(t[11].levels.total(), 0);
        assert_eq!(t[11].levels.high_percent(), None);
        // a short history starts at its first month
        let short = trend(&subs[..3], d(2026, 12, 2));
        assert_eq!(short.len(), 4);
        assert_eq!(short[0].label(), "2026年9月");
        assert!(trend(&[], d(2026, 12, 2)).is_empty());
    }
}
