//! The base layout every page extends: who is logged in, the CSRF token for forms, the path,
//! and the unread notifications the bell shows.

use super::auth::MaybeUser;
use super::csrf::CsrfToken;
use super::AppState;
use crate::accounts::User;
use crate::error::AppError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

/// What every page's layout needs: who is logged in, the CSRF token for forms, the current path.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub user: Option<User>,
    pub csrf: String,
    pub path: String,
    /// The logged-in account's unread notifications (the bell in the header).
    pub unread: i64,
    /// Site and chamber names and the footer (`--site-name` …).
    pub brand: std::sync::Arc<crate::config::Branding>,
}

impl Layout {
    pub fn anonymous() -> Layout {
        Layout::default()
    }

    /// True when the navigation entry for `prefix` should be marked current. The inbox lives
    /// under `/me` but has its own entry (the bell), so it does not also mark "我的课程".
    pub fn is_current(&self, prefix: &str) -> bool {
        if prefix == "/" {
            self.path == "/"
        } else if prefix == "/me" && self.path.starts_with("/me/notifications") {
            false
        } else {
            self.path.starts_with(prefix)
        }
    }

    /// The bell's badge: the count, "99+" above 99.
    pub fn unread_badge(&self) -> String {
        if self.unread > 99 {
            "99+".into()
        } else {
            self.unread.to_string()
        }
    }

    pub fn role(&self) -> &str {
        self.user.as_ref().map(|u| u.role.as_str()).unwrap_or("")
    }
}

impl<S> FromRequestParts<S> for Layout
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        let CsrfToken(csrf) = CsrfToken::from_request_parts(parts, state).await?;
        // one indexed COUNT per page view of a logged-in account
        let unread = match &user {
            Some(u) => {
                let state = AppState::from_ref(state);
                crate::app::notify::inbox::unread(&state.db, u).await?
            }
            None => 0,
        };
        Ok(Layout {
            user,
            csrf,
            path: parts.uri.path().to_string(),
            unread,
            brand: AppState::from_ref(state).config.branding.clone(),
        })
    }
}
