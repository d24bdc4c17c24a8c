//! Sign-up rules: the window, seat limits, attendee names, where a new sign-up goes, which
//! waitlisted entries a free seat promotes, and who may read a roster. Plain functions; the
//! transaction that applies them under the session's lock lives in `db::registrations`.

use crate::accounts::Role;
use crate::validation::{check_text, excerpt, Lines};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The state of a registration (the `registrations.status` CHECK constraint).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RegistrationStatus {
    /// Holds its seats.
    Confirmed,
    /// In the queue for seats.
    Waitlisted,
    /// Withdrawn by the enterprise.
    Cancelled,
    /// Removed by an organizer, with a reason.
    Removed,
}

impl RegistrationStatus {
    /// The value stored in the database and sent in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Confirmed => "confirmed",
            RegistrationStatus::Waitlisted => "waitlisted",
            RegistrationStatus::Cancelled => "cancelled",
            RegistrationStatus::Removed => "removed",
        }
    }

    /// How pages name the state.
    pub fn label_zh(self) -> &'static str {
        match self {
            RegistrationStatus::Confirmed => "已确认",
            RegistrationStatus::Waitlisted => "候补",
            RegistrationStatus::Cancelled => "已取消",
            RegistrationStatus::Removed => "已移除",
        }
    }

    /// The CSS class of the state's badge.
    pub fn css(self) -> &'static str {
        match self {
            RegistrationStatus::Confirmed => "ok",
            RegistrationStatus::Waitlisted => "warn",
            RegistrationStatus::Cancelled | RegistrationStatus::Removed => "bad",
        }
    }

    /// Confirmed or waitlisted: the registration still counts.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RegistrationStatus::Confirmed | RegistrationStatus::Waitlisted
        )
    }
}

/// How an active registration ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The enterprise withdrew.
    Cancelled,
    /// An organizer removed it; the reason is kept for organizers.
    Removed { reason: String },
}

impl EndReason {
    /// The status the registration ends in.
    pub fn status(&self) -> RegistrationStatus {
        match self {
            EndReason::Cancelled => RegistrationStatus::Cancelled,
            EndReason::Removed { .. } => RegistrationStatus::Removed,
        }
    }

    /// The organizer's reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            EndReason::Cancelled => None,
            EndReason::Removed { reason } => Some(reason),
        }
    }
}

/// Longest removal reason an organizer may write.
pub const MAX_REASON_CHARS: usize = 200;

/// A removal reason: trimmed, not empty, at most [`MAX_REASON_CHARS`] characters.
pub fn check_reason(reason: &str) -> Result<String, (&'static str, String)> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err((
            "reason",
            format!("请填写移除原因（不超过{MAX_REASON_CHARS}个字符）"),
        ));
    }
    check_text("移除原因", reason, Lines::Multi).map_err(|m| ("reason", m))?;
    Ok(reason.to_string())
}

/// Where a new sign-up goes when the counts alone decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Nobody is waiting and the seats fit.
    Confirm,
    /// No seat is free: it joins the tail of the queue at `position`.
    Waitlist { position: i64 },
    /// Some seats are free but others are waiting: it joins the queue and the queue is walked
    /// (see [`promotions`]).
    WalkQueue,
}

/// Where a new sign-up for `seats` goes with `free` seats and `waiting` entries queued.
/// With nobody waiting the queue walk reduces to "confirmed if it fits"; with no free seat it
/// reduces to "joins the tail"; only the mixed case walks the queue.
pub fn place(free: i64, waiting: i64, seats: i64) -> Placement {
    if waiting == 0 && seats <= free {
        Placement::Confirm
    } else if free <= 0 {
        Placement::Waitlist {
            position: waiting + 1,
        }
    } else {
        Placement::WalkQueue
    }
}

/// The waitlisted entries `(id, seats)`, in queue order, that `free` seats confirm: first come,
/// first served, every entry that fits is confirmed. An entry needing more seats than are free
/// keeps its place at the head while smaller entries behind it take seats that would otherwise
/// stay empty.
pub fn promotions(mut free: i64, queue: &[(i64, i64)]) -> Vec<i64> {
    let mut promoted = Vec::new();
    for &(id, seats) in queue {
        if free <= 0 {
            break;
        }
        if seats <= free {
            free -= seats;
            promoted.push(id);
        }
    }
    promoted
}

/// Only organizers and the session's own lecturer (its linked lawyer account) read a roster.
pub fn may_read_roster(role: Role, user_id: i64, lecturer_user_id: Option<i64>) -> bool {
    role == Role::Organizer || (role == Role::Lawyer && lecturer_user_id == Some(user_id))
}

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
        return Err(("attendees", format!("参加人员姓名过长：{}", excerpt(long))));
    }
    for name in &names {
        check_text("参加人员姓名", name, Lines::Single).map_err(|m| ("attendees", m))?;
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
    fn placement_by_counts() {
        assert_eq!(place(5, 0, 2), Placement::Confirm);
        assert_eq!(place(0, 3, 1), Placement::Waitlist { position: 4 });
        assert_eq!(place(2, 1, 1), Placement::WalkQueue);
        assert_eq!(place(1, 0, 2), Placement::WalkQueue);
    }

    #[test]
    fn promotions_let_small_entries_pass_a_large_head() {
        assert_eq!(promotions(3, &[(1, 4), (2, 2), (3, 1), (4, 1)]), vec![2, 3]);
        assert_eq!(promotions(0, &[(1, 1)]), Vec::<i64>::new());
        assert_eq!(promotions(4, &[(1, 4), (2, 1)]), vec![1]);
    }

    #[test]
    fn roster_readers() {
        assert!(may_read_roster(Role::Organizer, 1, None));
        assert!(may_read_roster(Role::Lawyer, 7, Some(7)));
        assert!(!may_read_roster(Role::Lawyer, 7, Some(8)));
        assert!(!may_read_roster(Role::Enterprise, 7, Some(7)));
    }

    #[test]
    fn removal_reason() {
        assert!(check_reason("  ").is_err());
        assert!(check_reason(&"很".repeat(201)).is_err());
        assert_eq!(check_reason(" 重复报名 "), Ok("重复报名".to_string()));
    }

    /// Before the fix a NUL or a direction override went into the roster and the CSV export.
    #[test]
    fn control_and_direction_characters_are_refused() {
        let e = check_reason("重复\0报名").expect_err("NUL");
        assert_eq!(e.0, "reason");
        assert!(e.1.contains("控制字符"), "{}", e.1);
        assert!(check_reason("重复报名\n已电话确认").is_ok());
        let e = check_request(1, 5, &["张\u{202E}三".into()]).expect_err("bidi");
        assert_eq!(e.0, "attendees");
        assert!(e.1.contains("文字方向"), "{}", e.1);
        let e = check_request(1, 5, &["长".repeat(100_000)]).expect_err("long");
        assert!(
            e.1.chars().count() < 150,
            "the message quotes a capped excerpt"
        );
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
