//! How pages label states: one badge (text and CSS class) per state, so templates hold no
//! status strings of their own.

use crate::db::registrations::{MyRegistration, RegistrationState};
use crate::db::schedule::SessionRow;
use crate::signup::RegistrationStatus;

/// A short coloured label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    /// `ok`, `warn` or `bad` (the `.tag` variants of pufa.css).
    pub css: &'static str,
}

impl Badge {
    fn new(label: impl Into<String>, css: &'static str) -> Badge {
        Badge {
            label: label.into(),
            css,
        }
    }
}

fn registration_badge(status: RegistrationStatus, position: Option<i64>) -> Badge {
    match status {
        RegistrationStatus::Confirmed => Badge::new("已报名", "ok"),
        RegistrationStatus::Waitlisted => {
            Badge::new(format!("候补第{}位", position.unwrap_or(0)), "warn")
        }
        other => Badge::new(other.label_zh(), other.css()),
    }
}

/// An enterprise's own sign-up for a session.
pub fn registration(r: &RegistrationState) -> Badge {
    registration_badge(r.status, r.position)
}

/// A row of "我的课程": the session's cancellation comes first.
pub fn my_course(r: &MyRegistration) -> Badge {
    if r.session_cancelled() {
        Badge::new("课程已取消", "bad")
    } else if r.is_confirmed() {
        Badge::new("已确认", "ok")
    } else {
        registration_badge(r.status, r.position)
    }
}

/// A session on the organizer's timetable: cancelled, waiting for a time, or placed.
pub fn timetable(s: &SessionRow) -> Badge {
    if s.is_cancelled() {
        Badge::new("已取消", "bad")
    } else if s.starts_at.is_none() {
        Badge::new("待排", "warn")
    } else {
        Badge::new("已排", "ok")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waitlist_badge_names_the_position() {
        let b = registration_badge(RegistrationStatus::Waitlisted, Some(3));
        assert_eq!(b, Badge::new("候补第3位", "warn"));
        assert_eq!(
            registration_badge(RegistrationStatus::Confirmed, None).css,
            "ok"
        );
        assert_eq!(
            registration_badge(RegistrationStatus::Removed, None).label,
            "已移除"
        );
    }
}
