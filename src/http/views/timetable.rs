//! Sessions as page lists show them, and the month grid of a program.

use super::format;
use crate::app::signup::open_for_signup;
use crate::db::registrations::RegistrationState;
use crate::db::schedule::{ProgramRow, SessionRow};
use crate::schedule;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// One session in a page list.
pub struct SessionItem {
    pub row: SessionRow,
    pub when: String,
    pub date_key: Option<NaiveDate>,
    pub time: String,
    pub mine: Option<RegistrationState>,
    pub open: Result<(), String>,
}

impl SessionItem {
    /// The session as shown at `now`, times in the program's zone `tz`.
    pub fn new(
        row: SessionRow,
        tz: Tz,
        mine: Option<RegistrationState>,
        now: DateTime<Utc>,
    ) -> SessionItem {
        let open = open_for_signup(&row, tz, now);
        SessionItem {
            when: format::when_zh(row.starts_at.as_ref(), tz),
            date_key: row.starts_at.map(|t| t.with_timezone(&tz).date_naive()),
            time: row
                .starts_at
                .map(|t| format::clock_time(&t, tz))
                .unwrap_or_default(),
            row,
            mine,
            open,
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_ok()
    }

    pub fn closed_reason(&self) -> String {
        self.open.clone().err().unwrap_or_default()
    }
}

pub struct DayCell {
    pub day: u32,
    pub in_program: bool,
    pub blackout: bool,
    pub sessions: Vec<(i64, String, String, String)>,
}

pub struct MonthGrid {
    pub label: String,
    /// Weeks Monday..Sunday; `None` pads days outside the month.
    pub weeks: Vec<Vec<Option<DayCell>>>,
}

/// Month grids covering the program, with each day's sessions.
pub fn month_grids(program: &ProgramRow, items: &[SessionItem]) -> Vec<MonthGrid> {
    let mut grids = Vec::new();
    let blackout = program.blackout_list();
    let mut first = NaiveDate::from_ymd_opt(program.starts_on.year(), program.starts_on.month(), 1);
    while let Some(month_start) = first {
        if month_start > program.ends_on {
            break;
        }
        let next = if month_start.month() == 12 {
            NaiveDate::from_ymd_opt(month_start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(month_start.year(), month_start.month() + 1, 1)
        };
        let mut weeks = Vec::new();
        let mut week: Vec<Option<DayCell>> = (1..month_start.weekday().number_from_monday())
            .map(|_| None)
            .collect();
        let mut day = month_start;
        while Some(day) != next {
            let sessions = items
                .iter()
                .filter(|i| i.date_key == Some(day) && !i.row.is_cancelled())
                .map(|i| {
                    (
                        i.row.id,
                        i.time.clone(),
                        i.row.title.clone(),
                        i.row.category.clone(),
                    )
                })
                .collect();
            week.push(Some(DayCell {
                day: day.day(),
                in_program: day >= program.starts_on && day <= program.ends_on,
                blackout: blackout.contains(&day),
                sessions,
            }));
            if week.len() == 7 {
                weeks.push(std::mem::take(&mut week));
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        if !week.is_empty() {
            while week.len() < 7 {
                week.push(None);
            }
            weeks.push(week);
        }
        grids.push(MonthGrid {
            label: format!("{}年{}月", month_start.year(), month_start.month()),
            weeks,
        });
        first = next;
    }
    grids
}

pub fn slots_text(program: &ProgramRow) -> String {
    program
        .slot_specs()
        .iter()
        .map(|s| {
            format!(
                "{} {}（{}分钟）",
                schedule::weekday_zh(s.weekday),
                s.start,
                s.minutes
            )
        })
        .collect::<Vec<_>>()
        .join("、")
}
