//! Who may watch a lecture.

use crate::accounts::User;
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
    /// The form value: `public` or `registered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Registered => "registered",
            Visibility::Enrolled => "enrolled",
        }
    }

    /// Read a form value; `None` for anything but `public` and `registered`.
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

/// Whether `viewer` (`None` when not logged in) may watch a lecture of `visibility`: public
/// lectures are open to everyone, the others to every logged-in account.
///
/// Enrolment in the session does not matter: the archive is meant for every registered
/// enterprise, and the rule is checked on every playlist and segment request, where an extra
/// query would slow playback down.
pub fn may_watch(visibility: Visibility, viewer: Option<&User>) -> bool {
    visibility == Visibility::Public || viewer.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;

    #[test]
    fn registered_lectures_need_a_login() {
        let user = User {
            id: 1,
            role: Role::Enterprise,
            display_name: "x".into(),
            username: None,
        };
        assert!(may_watch(Visibility::Public, None));
        assert!(may_watch(Visibility::Public, Some(&user)));
        assert!(!may_watch(Visibility::Registered, None));
        assert!(may_watch(Visibility::Registered, Some(&user)));
        assert_eq!(Visibility::parse("public"), Some(Visibility::Public));
        assert_eq!(Visibility::parse("Public"), None);
        assert_eq!(Visibility::Registered.as_str(), "registered");
    }
}
