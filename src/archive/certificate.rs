//! The learning certificate (学习证明): who may open it, when it can be issued, its serial.

use super::attendance::{percent, Attendance};
use crate::accounts::User;
use chrono::{DateTime, Utc};

/// Whether `viewer` may open the certificate of the enterprise account `enterprise_id`: the
/// organizers and the enterprise itself.
pub fn may_view(viewer: &User, enterprise_id: i64) -> bool {
    viewer.is_organizer() || viewer.id == enterprise_id
}

/// The enterprise did not watch enough of the lecture for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotAttended {
    /// What it watched, in percent.
    pub percent: u32,
    /// The attendance threshold, in percent.
    pub required_percent: u32,
}

impl NotAttended {
    pub fn message_zh(&self) -> String {
        format!(
            "该企业观看了{}%，未达到{}%的学习要求，暂不能出具学习证明",
            self.percent, self.required_percent
        )
    }
}

/// A certificate is issued once the attendance threshold (0..=1) is reached.
pub fn check_eligible(attendance: &Attendance, threshold: f64) -> Result<(), NotAttended> {
    if attendance.attended {
        Ok(())
    } else {
        Err(NotAttended {
            percent: attendance.percent,
            required_percent: percent(threshold),
        })
    }
}

/// The certificate's serial: lecture, enterprise and the day it first watched.
pub fn serial(lecture_id: i64, enterprise_id: i64, first_seen: DateTime<Utc>) -> String {
    format!(
        "PF-{lecture_id}-{enterprise_id}-{}",
        first_seen.format("%Y%m%d")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;

    #[test]
    fn eligibility_and_viewers() {
        let threshold = 0.6;
        assert_eq!(
            check_eligible(&Attendance::of(30.0, 100.0, threshold), threshold),
            Err(NotAttended {
                percent: 30,
                required_percent: 60
            })
        );
        assert!(check_eligible(&Attendance::of(60.0, 100.0, threshold), threshold).is_ok());
        assert_eq!(
            NotAttended {
                percent: 30,
                required_percent: 60
            }
            .message_zh(),
            "该企业观看了30%，未达到60%的学习要求，暂不能出具学习证明"
        );
        let enterprise = User {
            id: 5,
            role: Role::Enterprise,
            display_name: "x".into(),
            username: None,
        };
        assert!(may_view(&enterprise, 5));
        assert!(!may_view(&enterprise, 6));
        let first = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(serial(2, 5, first), "PF-2-5-20261203");
    }
}
