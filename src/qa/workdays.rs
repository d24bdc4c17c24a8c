//! Working days (Monday to Friday) for the overdue flag of unanswered questions: "more than
//! three working days without an answer" must not fire on a Monday morning for a question
//! asked on Friday afternoon.
//!
//! Times are local to the chamber (naive), so a day is a calendar day where the lawyers work.
//! Public holidays are not known here; a holiday counts as a working day (the flag may come a
//! day early, never late).

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Weekday};

fn is_weekend(t: NaiveDateTime) -> bool {
    matches!(t.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The moment a question asked at `asked` has waited `days` working days: a question asked
/// on a weekend starts waiting on Monday at 00:00; each working day moves the deadline one
/// day on, skipping Saturdays and Sundays. Asked Friday 10:00, 3 days → Wednesday 10:00.
pub fn deadline(asked: NaiveDateTime, days: u32) -> NaiveDateTime {
    let mut t = asked;
    if is_weekend(t) {
        while is_weekend(t) {
            t += Duration::days(1);
        }
        t = t.date().and_time(NaiveTime::MIN);
    }
    for _ in 0..days {
        t += Duration::days(1);
        while is_weekend(t) {
            t += Duration::days(1);
        }
    }
    t
}

/// True when a question asked at `asked` has waited more than `days` working days at `now`.
pub fn is_overdue(asked: NaiveDateTime, now: NaiveDateTime, days: u32) -> bool {
    now > deadline(asked, days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("valid date")
    }

    #[test]
    fn weekdays_only() {
        // 2026-12-02 is a Wednesday
        assert_eq!(deadline(at(2026, 12, 2, 10), 3), at(2026, 12, 7, 10));
        assert_eq!(deadline(at(2026, 12, 1, 10), 3), at(2026, 12, 4, 10));
        assert_eq!(deadline(at(2026, 12, 1, 10), 0), at(2026, 12, 1, 10));
    }

    #[test]
    fn friday_questions_wait_over_the_weekend() {
        // Friday 2026-12-04 10:00 → Wednesday 2026-12-09 10:00
        let friday = at(2026, 12, 4, 10);
        assert_eq!(deadline(friday, 3), at(2026, 12, 9, 10));
        assert!(!is_overdue(friday, at(2026, 12, 7, 9), 3), "Monday");
        assert!(
            !is_overdue(friday, at(2026, 12, 9, 10), 3),
            "exactly at the deadline"
        );
        assert!(
            is_overdue(friday, at(2026, 12, 9, 11), 3),
            "Wednesday after it"
        );
        // five calendar days, but only three working days: not yet
        assert!(!is_overdue(friday, at(2026, 12, 8, 23), 3));
    }

    #[test]
    fn weekend_questions_start_on_monday() {
        let saturday = at(2026, 12, 5, 15);
        assert_eq!(deadline(saturday, 3), at(2026, 12, 10, 0));
        let sunday = at(2026, 12, 6, 23);
        assert_eq!(deadline(sunday, 1), at(2026, 12, 8, 0));
        assert!(!is_overdue(sunday, at(2026, 12, 7, 23), 1));
    }

    #[test]
    fn across_two_weekends() {
        assert_eq!(deadline(at(2026, 12, 3, 9), 8), at(2026, 12, 15, 9));
    }
}
