//! Who may watch a lecture.

use crate::accounts::{Role, User};
use serde::{Deserialize, Serialize};

/// Who may watch a published lecture (`lectures.visibility`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, without logging in.
    Public,
    /// Logged-in accounts only (the default for uploaded recordings).
    Registered,
    /// Enterprises with a confirmed sign-up for the session, organizers and the session's
    /// lawyer (the default for live lectures and their replays).
    Enrolled,
}

impl Visibility {
    /// The form value: `public`, `registered` or `enrolled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Registered => "registered",
            Visibility::Enrolled => "enrolled",
        }
    }

    /// Read a form value; `None` for anything but `public`, `registered` and `enrolled`.
    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "registered" => Some(Visibility::Registered),
            "enrolled" => Some(Visibility::Enrolled),
            _ => None,
        }
    }

    /// Chinese label for the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            Visibility::Public => "公开",
            Visibility::Registered => "仅注册企业（登录后）",
            Visibility::Enrolled => "仅已报名企业",
        }
    }
}

/// A logged-in viewer's tie to the session of an enrolled lecture, loaded by the use case (one
/// indexed query) only when the rule needs it (see [`needs_enrolment`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enrolment {
    /// The viewer's enterprise holds a confirmed sign-up for the session (waitlisted is not
    /// enrolled).
    pub confirmed: bool,
    /// The viewer is the session's linked lawyer.
    pub lecturer: bool,
}

/// The outcome of the access rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// Not logged in, and the lecture is not public (HTTP 401).
    LoginRequired,
    /// Logged in, but not enrolled in the session of an enrolled lecture (HTTP 403).
    NotEnrolled,
}

impl Access {
    pub fn is_allowed(self) -> bool {
        self == Access::Allowed
    }

    /// Why a viewer may not watch, in Chinese (`None` when allowed).
    pub fn reason_zh(self) -> Option<&'static str> {
        match self {
            Access::Allowed => None,
            Access::LoginRequired => Some("登录后可观看"),
            Access::NotEnrolled => Some("仅向已报名（名额已确认）的企业开放，报名后可观看"),
        }
    }
}

/// Whether the rule needs `viewer`'s [`Enrolment`] for a lecture of `visibility`: only for
/// enrolled lectures and logged-in viewers other than organizers, so that public and
/// registered lectures cost no query on their playlist and segment requests.
pub fn needs_enrolment(visibility: Visibility, viewer: Option<&User>) -> bool {
    visibility == Visibility::Enrolled && viewer.is_some_and(|u| u.role != Role::Organizer)
}

/// Who may watch a lecture of `visibility` (live or recorded): public lectures everyone,
/// registered ones every logged-in account, enrolled ones organizers, the session's linked
/// lawyer and enterprises with a confirmed sign-up for the session. `enrolment` is only read
/// when [`needs_enrolment`] says so (pass the default otherwise).
///
/// The rule is checked on every playlist and segment request.
pub fn access(visibility: Visibility, viewer: Option<&User>, enrolment: Enrolment) -> Access {
    let Some(viewer) = viewer else {
        return if visibility == Visibility::Public {
            Access::Allowed
        } else {
            Access::LoginRequired
        };
    };
    let enrolled = match viewer.role {
        Role::Organizer => true,
        Role::Lawyer => enrolment.lecturer,
        Role::Enterprise => enrolment.confirmed,
    };
    match visibility {
        Visibility::Public | Visibility::Registered => Access::Allowed,
        Visibility::Enrolled if enrolled => Access::Allowed,
        Visibility::Enrolled => Access::NotEnrolled,
    }
}

/// Whether `viewer` may watch (see [`access`]).
pub fn may_watch(visibility: Visibility, viewer: Option<&User>, enrolment: Enrolment) -> bool {
    access(visibility, viewer, enrolment).is_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            role,
            display_name: "x".into(),
            username: None,
        }
    }

    const NONE: Enrolment = Enrolment {
        confirmed: false,
        lecturer: false,
    };

    #[test]
    fn registered_lectures_need_a_login() {
        let enterprise = user(1, Role::Enterprise);
        assert!(may_watch(Visibility::Public, None, NONE));
        assert!(may_watch(Visibility::Public, Some(&enterprise), NONE));
        assert_eq!(
            access(Visibility::Registered, None, NONE),
            Access::LoginRequired
        );
        assert!(may_watch(Visibility::Registered, Some(&enterprise), NONE));
        assert_eq!(Visibility::parse("public"), Some(Visibility::Public));
        assert_eq!(Visibility::parse("enrolled"), Some(Visibility::Enrolled));
        assert_eq!(Visibility::parse("Public"), None);
        assert_eq!(Visibility::Registered.as_str(), "registered");
    }

    #[test]
    fn enrolled_lectures_are_for_confirmed_enterprises_the_lawyer_and_organizers() {
        let v = Visibility::Enrolled;
        let enterprise = user(1, Role::Enterprise);
        let lawyer = user(2, Role::Lawyer);
        let organizer = user(3, Role::Organizer);
        let confirmed = Enrolment {
            confirmed: true,
            lecturer: false,
        };
        let lecturer = Enrolment {
            confirmed: false,
            lecturer: true,
        };
        assert_eq!(access(v, None, NONE), Access::LoginRequired);
        assert_eq!(access(v, Some(&enterprise), NONE), Access::NotEnrolled);
        assert_eq!(access(v, Some(&enterprise), confirmed), Access::Allowed);
        // an enterprise is never "the lecturer", a lawyer never "confirmed"
        assert_eq!(access(v, Some(&enterprise), lecturer), Access::NotEnrolled);
        assert_eq!(access(v, Some(&lawyer), confirmed), Access::NotEnrolled);
        assert_eq!(access(v, Some(&lawyer), lecturer), Access::Allowed);
        assert_eq!(access(v, Some(&organizer), NONE), Access::Allowed);
        assert!(!needs_enrolment(v, None));
        assert!(!needs_enrolment(v, Some(&organizer)));
        assert!(needs_enrolment(v, Some(&lawyer)));
        assert!(!needs_enrolment(Visibility::Registered, Some(&enterprise)));
        assert!(Access::NotEnrolled.reason_zh().is_some());
    }
}
