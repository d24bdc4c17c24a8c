//! Checks for a session placed (or moved) by hand.

use super::planner::{iso_weekday, Availability, Booked, ProgramCalendar, Span};
use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};

/// A session at a hand-chosen time, to be checked against the program.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Session id, absent for a session not saved yet; a session never conflicts with itself.
    pub session_id: Option<i64>,
    /// The lecturer giving the session, absent for a lecturer not known yet.
    pub lecturer_id: Option<i64>,
    /// Chosen start instant.
    pub starts_at: DateTime<Utc>,
    /// Length in minutes.
    pub minutes: u32,
    /// The lecturer's availability.
    pub availability: Availability,
}

/// One problem with a hand-placed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The start date lies outside the program's first and last day.
    OutsideProgram,
    /// The start date is a blackout date of the program.
    BlackoutDate {
        /// The blackout date (program timezone).
        date: NaiveDate,
    },
    /// The session overlaps another session of the program (the program is single-track).
    OverlapsSession {
        /// The other session and its title.
        session_id: i64,
        title: String,
    },
    /// The session overlaps another session of the same lecturer.
    LecturerDoubleBooked {
        /// The other session and its title.
        session_id: i64,
        title: String,
    },
    /// The lecturer does not teach on this weekday.
    LecturerUnavailableWeekday {
        /// ISO weekday, 1 = Monday .. 7 = Sunday.
        weekday: u8,
    },
    /// The lecturer marked this date as unavailable.
    LecturerUnavailableDate {
        /// The date (program timezone).
        date: NaiveDate,
    },
}

impl Conflict {
    /// Human-readable description in Chinese, naming what the session collides with.
    pub fn message_zh(&self) -> String {
        match self {
            Self::OutsideProgram => "不在项目的起止日期范围内".to_string(),
            Self::BlackoutDate { date } => format!("{date} 为停课日期"),
            Self::OverlapsSession { session_id, title } => {
                format!("与“{}”时间重叠", name(*session_id, title))
            }
            Self::LecturerDoubleBooked { session_id, title } => {
                format!("讲师在同一时间已有“{}”", name(*session_id, title))
            }
            Self::LecturerUnavailableWeekday { weekday } => {
                format!("讲师{}不可授课", weekday_zh(*weekday))
            }
            Self::LecturerUnavailableDate { date } => format!("讲师 {date} 不可授课"),
        }
    }
}

/// A session as a conflict names it: its title, or its number when it has none.
fn name(session_id: i64, title: &str) -> String {
    if title.trim().is_empty() {
        format!("课程 #{session_id}")
    } else {
        title.to_string()
    }
}

fn weekday_zh(weekday: u8) -> String {
    match weekday {
        1 => "周一".to_string(),
        2 => "周二".to_string(),
        3 => "周三".to_string(),
        4 => "周四".to_string(),
        5 => "周五".to_string(),
        6 => "周六".to_string(),
        7 => "周日".to_string(),
        other => format!("星期 {other}"),
    }
}

/// All conflicts of `candidate` with the program and its other placed sessions.
///
/// `others` are the program's other placed sessions (the candidate itself is excluded by
/// `session_id`). Dates and weekdays are judged by the start in the program timezone.
/// An overlapping session of the same lecturer is reported once, as
/// [`Conflict::LecturerDoubleBooked`]; other overlaps as [`Conflict::OverlapsSession`],
/// in chronological order. Empty means the time is acceptable.
pub fn conflicts(cal: &ProgramCalendar, others: &[Booked], candidate: &Candidate) -> Vec<Conflict> {
    let date = local_date(cal, candidate.starts_at);
    let mut found = Vec::new();
    if date.is_none_or(|date| date < cal.starts_on || date > cal.ends_on) {
        found.push(Conflict::OutsideProgram);
    }
    if let Some(date) = date.filter(|d| cal.blackout_dates.contains(d)) {
        found.push(Conflict::BlackoutDate { date });
    }

    let span = Span::of(&candidate.starts_at, candidate.minutes);
    let mut overlapping: Vec<&Booked> = others
        .iter()
        .filter(|b| Some(b.session_id) != candidate.session_id)
        .filter(|b| Span::of(&b.starts_at, b.minutes).overlaps(span))
        .collect();
    overlapping.sort_by_key(|b| (b.starts_at, b.session_id));
    for b in overlapping {
        found.push(if Some(b.lecturer_id) == candidate.lecturer_id {
            Conflict::LecturerDoubleBooked {
                session_id: b.session_id,
                title: b.title.clone(),
            }
        } else {
            Conflict::OverlapsSession {
                session_id: b.session_id,
                title: b.title.clone(),
            }
        });
    }

    if let Some(date) = date {
        let weekday = iso_weekday(date);
        if let Some(days) = &candidate.availability.weekdays {
            if !days.contains(&weekday) {
                found.push(Conflict::LecturerUnavailableWeekday { weekday });
            }
        }
        if candidate.availability.unavailable_dates.contains(&date) {
            found.push(Conflict::LecturerUnavailableDate { date });
        }
    }
    found
}

/// A placed session a change of the program's calendar would break, with what it would newly
/// collide with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub session_id: i64,
    pub title: String,
    pub conflicts: Vec<Conflict>,
}

impl Broken {
    /// "《title》：reason；reason" for the organizer.
    pub fn message_zh(&self) -> String {
        let reasons: Vec<String> = self.conflicts.iter().map(Conflict::message_zh).collect();
        format!(
            "“{}”：{}",
            name(self.session_id, &self.title),
            reasons.join("，")
        )
    }
}

/// The placed sessions that changing the program's calendar from `old` to `new` would break:
/// a session newly outside the dates, on a new blackout day, or (after a change of time zone)
/// on a weekday or date its lecturer does not teach. Conflicts a session already had under
/// `old` (an overlap placed by hand, say) do not block the change; they stay on the program
/// page as before. `placed` are the candidates for the program's placed, not cancelled
/// sessions with their titles; `others` the same sessions as booked.
pub fn broken_by_calendar(
    old: &ProgramCalendar,
    new: &ProgramCalendar,
    others: &[Booked],
    placed: &[(Candidate, String)],
) -> Vec<Broken> {
    placed
        .iter()
        .filter_map(|(candidate, title)| {
            let before = conflicts(old, others, candidate);
            let fresh: Vec<Conflict> = conflicts(new, others, candidate)
                .into_iter()
                .filter(|c| !before.contains(c))
                .collect();
            (!fresh.is_empty()).then(|| Broken {
                session_id: candidate.session_id.unwrap_or_default(),
                title: title.clone(),
                conflicts: fresh,
            })
        })
        .collect()
}

/// Whether a session starting at `starts_at` for `minutes` lies within one of the program's
/// weekly slots (same weekday in the program's zone, starting no earlier and ending no later).
/// A hand placement outside every slot is allowed, but the organizer is warned.
pub fn within_weekly_slot(cal: &ProgramCalendar, starts_at: DateTime<Utc>, minutes: u32) -> bool {
    let local = starts_at.with_timezone(&cal.timezone).naive_local();
    let weekday = iso_weekday(local.date());
    let start = local.time();
    let end = local + chrono::Duration::minutes(i64::from(minutes));
    cal.slots.iter().any(|slot| {
        let slot_start = local.date().and_time(slot.start);
        let slot_end = slot_start + chrono::Duration::minutes(i64::from(slot.minutes));
        slot.weekday == weekday && slot.start <= start && end <= slot_end
    })
}

/// Local date of an instant in the program timezone; `None` when it falls beyond the
/// representable dates (chrono's `date_naive` would panic there).
fn local_date(cal: &ProgramCalendar, instant: DateTime<Utc>) -> Option<NaiveDate> {
    let offset = cal
        .timezone
        .offset_from_utc_datetime(&instant.naive_utc())
        .fix();
    instant
        .naive_utc()
        .checked_add_offset(offset)
        .map(|local| local.date())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::planner::SlotRule;
    use chrono::{NaiveTime, TimeZone};
    use chrono_tz::Asia::Shanghai;
    use std::collections::BTreeSet;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> ProgramCalendar {
        ProgramCalendar {
            starts_on: d(2025, 5, 1),
            ends_on: d(2025, 5, 31),
            timezone: Shanghai,
            slots: vec![SlotRule {
                weekday: 2,
                start: NaiveTime::from_hms_opt(14, 30, 0).unwrap(),
                minutes: 90,
            }],
            blackout_dates: [d(2025, 5, 1)].into(),
        }
    }

    /// Instant of a Shanghai local time.
    fn sh(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
        Shanghai
            .from_local_datetime(&date.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_hand_placement_is_within_a_slot_only_when_it_fits_inside_it() {
        let c = cal();
        // Tuesday 2025-05-06, slot 14:30 for 90 minutes
        assert!(within_weekly_slot(&c, sh(d(2025, 5, 6), 14, 30), 90));
        assert!(within_weekly_slot(&c, sh(d(2025, 5, 6), 15, 0), 60));
        assert!(!within_weekly_slot(&c, sh(d(2025, 5, 6), 15, 0), 61));
        assert!(!within_weekly_slot(&c, sh(d(2025, 5, 6), 14, 0), 60));
        // Wednesday at the slot's time
        assert!(!within_weekly_slot(&c, sh(d(2025, 5, 7), 14, 30), 90));
    }

    #[test]
    fn a_calendar_change_names_only_the_sessions_it_newly_breaks() {
        let old = cal();
        let mut new = cal();
        new.ends_on = d(2025, 5, 20);
        new.blackout_dates.insert(d(2025, 5, 13));
        let at = |day: u32| sh(d(2025, 5, day), 14, 30);
        let booked = |id: i64, day: u32| Booked {
            session_id: id,
            lecturer_id: 10 + id,
            category: "劳动用工".into(),
            title: format!("示例课程{id}"),
            starts_at: at(day),
            minutes: 90,
        };
        // 1 on the 6th stays fine; 2 on the 13th becomes a blackout day; 3 on the 27th falls
        // after the new end; 4 overlapped 1 already (placed by hand) and is not blamed now.
        let others = vec![booked(1, 6), booked(2, 13), booked(3, 27), booked(4, 6)];
        let placed: Vec<(Candidate, String)> = others
            .iter()
            .map(|b| {
                let mut c = candidate(b.starts_at);
                c.session_id = Some(b.session_id);
                c.lecturer_id = Some(b.lecturer_id);
                (c, b.title.clone())
            })
            .collect();
        let broken = broken_by_calendar(&old, &new, &others, &placed);
        assert_eq!(
            broken,
            vec![
                Broken {
                    session_id: 2,
                    title: "示例课程2".into(),
                    conflicts: vec![Conflict::BlackoutDate {
                        date: d(2025, 5, 13)
                    }],
                },
                Broken {
                    session_id: 3,
                    title: "示例课程3".into(),
                    conflicts: vec![Conflict::OutsideProgram],
                },
            ]
        );
        assert_eq!(broken[0].message_zh(), "“示例课程2”：2025-05-13 为停课日期");
        assert!(broken_by_calendar(&old, &old, &others, &placed).is_empty());
    }

    fn candidate(starts_at: DateTime<Utc>) -> Candidate {
        Candidate {
            session_id: Some(1),
            lecturer_id: Some(10),
            starts_at,
            minutes: 90,
            availability: Availability::default(),
        }
    }

    fn other(session_id: i64, lecturer_id: i64, starts_at: DateTime<Utc>) -> Booked {
        Booked {
            session_id,
            lecturer_id,
            category: "劳动用工".to_string(),
            title: format!("示例课程{session_id}"),
            starts_at,
            minutes: 60,
        }
    }

    #[test]
    fn clean_candidate_has_no_conflicts() {
        let others = [other(2, 11, sh(d(2025, 5, 6), 16, 0))];
        assert!(conflicts(&cal(), &others, &candidate(sh(d(2025, 5, 6), 14, 30))).is_empty());
    }

    #[test]
    fn outside_program_is_judged_in_program_timezone() {
        // 1 June 00:30 in Shanghai is still 31 May in UTC.
        let c = candidate(sh(d(2025, 6, 1), 0, 30));
        assert_eq!(conflicts(&cal(), &[], &c), vec![Conflict::OutsideProgram]);
        let c = candidate(sh(d(2025, 4, 30), 9, 0));
        assert_eq!(conflicts(&cal(), &[], &c), vec![Conflict::OutsideProgram]);
        assert!(conflicts(&cal(), &[], &candidate(sh(d(2025, 5, 31), 23, 0))).is_empty());
    }

    #[test]
    fn blackout_date() {
        let c = candidate(sh(d(2025, 5, 1), 0, 10));
        let found = conflicts(&cal(), &[], &c);
        assert_eq!(
            found,
            vec![Conflict::BlackoutDate {
                date: d(2025, 5, 1)
            }]
        );
        assert!(found[0].message_zh().contains("2025-05-01"));
    }

    #[test]
    fn overlapping_sessions_are_named_and_self_is_ignored() {
        let day = d(2025, 5, 6);
        let others = [
            other(1, 10, sh(day, 14, 30)), // the candidate's own old time
            other(3, 12, sh(day, 15, 30)),
            other(2, 11, sh(day, 14, 0)),
            other(4, 13, sh(day, 16, 0)), // starts exactly when the candidate ends
            other(5, 14, sh(day, 13, 30)), // ends exactly when the candidate starts
        ];
        let found = conflicts(&cal(), &others, &candidate(sh(day, 14, 30)));
        assert_eq!(
            found,
            vec![
                Conflict::OverlapsSession {
                    session_id: 2,
                    title: "示例课程2".into()
                },
                Conflict::OverlapsSession {
                    session_id: 3,
                    title: "示例课程3".into()
                }
            ]
        );
        assert_eq!(found[0].message_zh(), "与“示例课程2”时间重叠");
    }

    #[test]
    fn lecturer_double_booked() {
        let day = d(2025, 5, 6);
        let others = [other(7, 10, sh(day, 15, 0))];
        let found = conflicts(&cal(), &others, &candidate(sh(day, 14, 30)));
        assert_eq!(
            found,
            vec![Conflict::LecturerDoubleBooked {
                session_id: 7,
                title: "示例课程7".into()
            }]
        );
        assert!(found[0].message_zh().contains("“示例课程7”"));
    }

    #[test]
    fn lecturer_unavailable_weekday_and_date() {
        let mut c = candidate(sh(d(2025, 5, 6), 14, 30));
        c.availability.weekdays = Some(BTreeSet::from([4]));
        c.availability.unavailable_dates.insert(d(2025, 5, 6));
        let found = conflicts(&cal(), &[], &c);
        assert_eq!(
            found,
            vec![
                Conflict::LecturerUnavailableWeekday { weekday: 2 },
                Conflict::LecturerUnavailableDate {
                    date: d(2025, 5, 6)
                }
            ]
        );
        assert_eq!(found[0].message_zh(), "讲师周二不可授课");
        assert!(found[1].message_zh().contains("2025-05-06"));
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let mut c = candidate(DateTime::<Utc>::MAX_UTC);
        c.minutes = u32::MAX;
        let others = [other(2, 10, DateTime::<Utc>::MIN_UTC)];
        for timezone in [chrono_tz::Pacific::Kiritimati, chrono_tz::Etc::GMTPlus12] {
            let mut cal = cal();
            cal.timezone = timezone;
            for starts_at in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
                c.starts_at = starts_at;
                assert!(conflicts(&cal, &others, &c).contains(&Conflict::OutsideProgram));
            }
        }
    }

    #[test]
    fn every_message_is_nonempty() {
        let all = [
            Conflict::OutsideProgram,
            Conflict::BlackoutDate {
                date: d(2025, 5, 1),
            },
            Conflict::OverlapsSession {
                session_id: 1,
                title: String::new(),
            },
            Conflict::LecturerDoubleBooked {
                session_id: 1,
                title: String::new(),
            },
            Conflict::LecturerUnavailableWeekday { weekday: 7 },
            Conflict::LecturerUnavailableDate {
                date: d(2025, 5, 1),
            },
        ];
        assert!(all.iter().all(|c| !c.message_zh().is_empty()));
        assert_eq!(all[4].message_zh(), "讲师周日不可授课");
    }
}
