//! The legal health check (法治体检): the questionnaire, scoring into a risk report, lecture
//! recommendations and the radar chart. Plain types and functions, no HTTP or SQL.

#[cfg(test)]
mod calibration;
pub mod dashboard;
pub mod history;
pub mod laws;
pub mod notice;
pub mod questionnaire;
pub mod radar;
pub mod scoring;

use crate::accounts::{Role, User};
use serde::{Deserialize, Serialize};

/// Where a stored check-up stands (the `status` CHECK constraint of `checkups`): an
/// enterprise has at most one open draft; a submitted check-up is a report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum CheckupStatus {
    Draft,
    Submitted,
}

/// Who may open a check-up report: only the enterprise that submitted it and organizers, and
/// only once it is submitted. Everyone else is told it does not exist, so report ids reveal
/// nothing.
pub fn may_read_report(viewer: &User, enterprise_id: i64, status: CheckupStatus) -> bool {
    let allowed = viewer.role == Role::Organizer || viewer.id == enterprise_id;
    allowed && status == CheckupStatus::Submitted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            role,
            display_name: String::new(),
            username: None,
        }
    }

    #[test]
    fn reports_are_for_their_enterprise_and_organizers() {
        let submitted = CheckupStatus::Submitted;
        assert!(may_read_report(&user(7, Role::Enterprise), 7, submitted));
        assert!(may_read_report(&user(1, Role::Organizer), 7, submitted));
        assert!(!may_read_report(&user(8, Role::Enterprise), 7, submitted));
        assert!(!may_read_report(&user(2, Role::Lawyer), 7, submitted));
        assert!(!may_read_report(
            &user(7, Role::Enterprise),
            7,
            CheckupStatus::Draft
        ));
        assert!(!may_read_report(
            &user(1, Role::Organizer),
            7,
            CheckupStatus::Draft
        ));
    }
}
