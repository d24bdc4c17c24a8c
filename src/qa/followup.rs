//! 回访 follow-ups as plain rules: when a report opens one, the levels snapshot the advisor
//! sees (levels only, never answers or finding texts), the due date, who of the enterprise's
//! advisors gets it, when it is overdue, and how a retaken check-up changed the levels.

use super::FollowupStatus;
use crate::checkup::scoring::{Level, Report};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The chamber's zone: due dates and "today" are counted in it.
pub const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// One dimension's level in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DimensionLevel {
    /// Dimension id (a topic).
    pub id: String,
    pub name: String,
    pub level: Level,
}

/// What a follow-up keeps of its report: the overall level, how many red lines were hit and
/// each dimension's level. It holds no answer, no finding text and no item id, so nothing an
/// enterprise admitted reaches the advisor through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LevelsSnapshot {
    pub overall: Level,
    /// Number of red-line items hit (not which).
    pub red_lines: u32,
    pub dimensions: Vec<DimensionLevel>,
}

impl LevelsSnapshot {
    /// Dimensions at 高 first, then 中, then 低, each in the questionnaire's order.
    pub fn worst_first(&self) -> Vec<DimensionLevel> {
        let mut d = self.dimensions.clone();
        d.sort_by_key(|x| std::cmp::Reverse(x.level));
        d
    }
}

/// A report opens a follow-up when its overall level is 高 or any red line was hit.
pub fn opens_followup(report: &Report) -> bool {
    report.overall_level == Level::High || !report.red_lines.is_empty()
}

/// The snapshot of `report`: dimensions where every answered item was "not applicable" are
/// left out (they say nothing about the enterprise).
pub fn snapshot(report: &Report) -> LevelsSnapshot {
    LevelsSnapshot {
        overall: report.overall_level,
        red_lines: u32::try_from(report.red_lines.len()).unwrap_or(u32::MAX),
        dimensions: report
            .dimensions
            .iter()
            .filter(|d| d.answered > 0 && !d.all_not_applicable())
            .map(|d| DimensionLevel {
                id: d.id.clone(),
                name: d.name.clone(),
                level: d.level,
            })
            .collect(),
    }
}

/// The chamber's calendar day at `t`.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&ZONE).date_naive()
}

/// The due date of a follow-up opened at `opened`: `days` calendar days later, in the
/// chamber's zone.
pub fn due_on(opened: DateTime<Utc>, days: u32) -> NaiveDate {
    local_day(opened) + Duration::days(i64::from(days))
}

/// Whether the follow-up still waits for a verdict: no outcome 已整改/未整改 and not closed.
pub fn awaits_outcome(status: FollowupStatus) -> bool {
    matches!(
        status,
        FollowupStatus::Open | FollowupStatus::Contacted | FollowupStatus::Rectifying
    )
}

/// Overdue: past the due date (the due day itself still counts as in time) and no outcome
/// 已整改/未整改 recorded yet.
pub fn is_overdue(status: FollowupStatus, due_on: NaiveDate, now: DateTime<Utc>) -> bool {
    awaits_outcome(status) && local_day(now) > due_on
}

/// The advisor who gets a new follow-up: of the enterprise's advisors (`(lawyer id, open
/// follow-ups)`), the one with the fewest open follow-ups, the lower id on a tie. `None` when
/// the enterprise has no advisor: the follow-up waits in the organizers' queue.
pub fn choose_advisor(candidates: &[(i64, i64)]) -> Option<i64> {
    candidates
        .iter()
        .min_by_key(|(id, open)| (*open, *id))
        .map(|(id, _)| *id)
}

/// A dimension's level before the follow-up and in the retaken check-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LevelChange {
    pub id: String,
    pub name: String,
    /// `None`: the dimension was not in the first report.
    pub before: Option<Level>,
    /// `None`: the dimension is not in the retaken report.
    pub after: Option<Level>,
}

impl LevelChange {
    /// -1 better, 0 same, 1 worse; `None` when one side is missing.
    pub fn direction(&self) -> Option<i8> {
        let (b, a) = (self.before?, self.after?);
        Some(match a.cmp(&b) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        })
    }

    /// "高 → 中" for pages.
    pub fn label_zh(&self) -> String {
        let side = |l: Option<Level>| l.map(Level::label_zh).unwrap_or("—");
        format!("{} → {}", side(self.before), side(self.after))
    }
}

/// The change of levels from the follow-up's report to the retaken one, dimension by
/// dimension (matched by id, as `checkup::history` does; by name when the id is gone), in the
/// first report's order followed by dimensions only the retake has.
pub fn compare(before: &LevelsSnapshot, after: &LevelsSnapshot) -> Vec<LevelChange> {
    let find = |d: &DimensionLevel| {
        after
            .dimensions
            .iter()
            .find(|x| x.id == d.id)
            .or_else(|| after.dimensions.iter().find(|x| x.name == d.name))
    };
    let mut out: Vec<LevelChange> = before
        .dimensions
        .iter()
        .map(|d| LevelChange {
            id: d.id.clone(),
            name: d.name.clone(),
            before: Some(d.level),
            after: find(d).map(|x| x.level),
        })
        .collect();
    for d in &after.dimensions {
        let known = before
            .dimensions
            .iter()
            .any(|b| b.id == d.id || b.name == d.name);
        if !known {
            out.push(LevelChange {
                id: d.id.clone(),
                name: d.name.clone(),
                before: None,
                after: Some(d.level),
            });
        }
    }
    out
}

/// Most characters of a contact note.
pub const MAX_NOTE_CHARS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkup::questionnaire::{Answers, Questionnaire, BUILTIN};
    use crate::checkup::scoring;
    use chrono::TimeZone;

    fn riskiest(q: &Questionnaire) -> Answers {
        let mut a = Answers::new();
        for item in &q.items {
            if let Some(worst) = item.options.iter().max_by(|x, y| x.risk.total_cmp(&y.risk)) {
                a.insert(item.id.clone(), worst.id.clone());
            }
        }
        a
    }

    fn safest(q: &Questionnaire) -> Answers {
        let mut a = Answers::new();
        for item in &q.items {
            if let Some(best) = item.options.iter().min_by(|x, y| x.risk.total_cmp(&y.risk)) {
                a.insert(item.id.clone(), best.id.clone());
            }
        }
        a
    }

    #[test]
    fn a_high_report_opens_and_its_snapshot_holds_levels_only() {
        let q = Questionnaire::parse(BUILTIN).expect("builtin");
        let answers = riskiest(&q);
        let report = scoring::score(&q, "E", &answers);
        assert!(opens_followup(&report));
        let snap = snapshot(&report);
        assert_eq!(snap.overall, Level::High);
        assert!(snap.red_lines > 0);
        assert!(!snap.dimensions.is_empty());
        let json = serde_json::to_string(&snap).expect("json");
        // no finding text, question, answer or item id of the report leaks into it
        for f in &report.findings {
            assert!(!json.contains(&f.finding), "finding text in {json}");
            assert!(!json.contains(&f.answer), "answer text in {json}");
            assert!(
                !json.contains(&format!("\"{}\"", f.item_id)),
                "item id in {json}"
            );
        }
        let calm = scoring::score(&q, "E", &safest(&q));
        assert!(!opens_followup(&calm));
    }

    #[test]
    fn due_date_counts_days_in_the_chambers_zone() {
        // 2026-12-01 17:30 UTC is already 12-02 01:30 in Shanghai
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 17, 30, 0).unwrap();
        assert_eq!(
            due_on(t, 15),
            NaiveDate::from_ymd_opt(2026, 12, 17).unwrap()
        );
    }

    #[test]
    fn overdue_only_after_the_due_day_and_without_a_verdict() {
        let due = NaiveDate::from_ymd_opt(2026, 12, 16).unwrap();
        // 12-16 23:00 Shanghai: still the due day
        let on_day = Utc.with_ymd_and_hms(2026, 12, 16, 15, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 16, 16, 30, 0).unwrap();
        assert!(!is_overdue(FollowupStatus::Open, due, on_day));
        assert!(is_overdue(FollowupStatus::Open, due, after));
        assert!(is_overdue(FollowupStatus::Rectifying, due, after));
        assert!(!is_overdue(FollowupStatus::Rectified, due, after));
        assert!(!is_overdue(FollowupStatus::NotRectified, due, after));
        assert!(!is_overdue(FollowupStatus::Closed, due, after));
    }

    #[test]
    fn the_least_loaded_advisor_gets_it() {
        assert_eq!(choose_advisor(&[]), None);
        assert_eq!(choose_advisor(&[(7, 2), (5, 1), (9, 1)]), Some(5));
        assert_eq!(choose_advisor(&[(7, 0), (5, 1)]), Some(7));
    }

    #[test]
    fn compare_matches_dimensions_and_keeps_new_ones() {
        let d = |id: &str, level| DimensionLevel {
            id: id.into(),
            name: format!("名{id}"),
            level,
        };
        let before = LevelsSnapshot {
            overall: Level::High,
            red_lines: 1,
            dimensions: vec![d("labour", Level::High), d("tax", Level::Medium)],
        };
        let after = LevelsSnapshot {
            overall: Level::Medium,
            red_lines: 0,
            dimensions: vec![d("labour", Level::Low), d("ip", Level::Low)],
        };
        let c = compare(&before, &after);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].direction(), Some(-1));
        assert_eq!(c[0].label_zh(), "高 → 低");
        assert_eq!(c[1].after, None);
        assert_eq!(c[2].before, None);
        assert_eq!(c[2].id, "ip");
    }
}
