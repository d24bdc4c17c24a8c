//! Sign-up rules: the window, seat limits, attendee names. Plain functions; the transaction
//! that enforces capacity lives in `db::registrations`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Why a sign-up is refused before it reaches the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Cancelled,
    NotOpenYet { opens_at: DateTime<Utc> },
    Closed { closed_at: DateTime<Utc> },
    Started,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Cancelled => "session_cancelled",
            Refusal::NotOpenYet { .. } => "signup_not_open",
            Refusal::Closed { .. } | Refusal::Started => "signup_closed",
        }
    }

    /// Chinese reason, times shown in `tz`.
    pub fn message_zh(&self, tz: Tz) -> String {
        let fmt = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        match self {
            Refusal::Cancelled => "该课程已取消，无法报名".into(),
            Refusal::NotOpenYet { opens_at } => {
                format!("报名尚未开始，将于 {} 开放报名", fmt(opens_at))
            }
            Refusal::Closed { closed_at } => format!("报名已于 {} 截止", fmt(closed_at)),
            Refusal::Started => "课程已开始，报名已截止".into(),
        }
    }
}

/// The session facts the window depends on.
#[derive(Debug, Clone)]
pub struct Window {
    pub cancelled: bool,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
}

/// Open from publication (or `opens_at`) until `closes_at`, or by default until the session
/// starts. A session not yet placed on the timetable is open.
pub fn check_window(w: &Window, now: DateTime<Utc>) -> Result<(), Refusal> {
    if w.cancelled {
        return Err(Refusal::Cancelled);
    }
    if let Some(opens_at) = w.opens_at {
        if now < opens_at {
            return Err(Refusal::NotOpenYet { opens_at });
        }
    }
    if let Some(closed_at) = w.closes_at {
        if now >= closed_at {
            return Err(Refusal::Closed { closed_at });
        }
    }
    if let Some(starts_at) = w.starts_at {
        if now >= starts_at {
            return Err(Refusal::Started);
        }
    }
    Ok(())
}

/// Check seats and attendee names; returns the cleaned names or a Chinese message per field.
pub fn check_request(
    seats: i64,
    max_seats: i64,
    attendees: &[String],
) -> Result<Vec<String>, (&'static str, String)> {
    if seats <= 0 {
        return Err(("seats", "报名人数至少为1".into()));
    }
    if seats > max_seats {
        return Err((
            "seats",
            format!("每家企业最多可报名{max_seats}人，本次填写了{seats}人"),
        ));
    }
    let names: Vec<String> = attendees
        .iter()
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() as i64 > seats {
        return Err((
            "attendees",
            format!("参加人员有{}位，多于报名人数{seats}", names.len()),
        ));
    }
    if let Some(long) = names.iter().find(|n| n.chars().count() > 50) {
        return Err(("attendees", format!("参加人员姓名过长：{long}")));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn window_defaults_to_until_start() {
        let w = Window {
            cancelled: false,
            opens_at: None,
            closes_at: None,
            starts_at: Some(t(10)),
        };
        assert_eq!(check_window(&w, t(9)), Ok(()));
        assert_eq!(check_window(&w, t(10)), Err(Refusal::Started));
    }

    #[test]
    fn explicit_window_and_cancellation() {
        let w = Window {
            cancelled: false,
            opens_at: Some(t(5)),
            closes_at: Some(t(8)),
            starts_at: Some(t(10)),
        };
        assert!(matches!(
            check_window(&w, t(4)),
            Err(Refusal::NotOpenYet { .. })
        ));
        assert_eq!(check_window(&w, t(6)), Ok(()));
        assert!(matches!(
            check_window(&w, t(9)),
            Err(Refusal::Closed { .. })
        ));
        let c = Window {
            cancelled: true,
            ..w
        };
        assert_eq!(check_window(&c, t(6)), Err(Refusal::Cancelled));
        assert!(Refusal::Closed { closed_at: t(8) }
            .message_zh(chrono_tz::Asia::Shanghai)
            .contains("16:00"));
    }

    #[test]
    fn seat_and_attendee_rules() {
        assert!(check_request(0, 5, &[]).is_err());
        assert!(check_request(6, 5, &[]).is_err());
        assert_eq!(
            check_request(2, 5, &[" 示例 甲 ".into(), "".into()]),
            Ok(vec!["示例 甲".to_string()])
        );
        assert!(check_request(1, 5, &["a".into(), "b".into()]).is_err());
    }
}
