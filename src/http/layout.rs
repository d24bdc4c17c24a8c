//! The base layout every page extends: who is logged in, the CSRF token for forms, the path.

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
    /// Site and chamber names and the footer (`--site-name` …).
    pub brand: std::sync::Arc<crate::config::Branding>,
}

impl Layout {
    pub fn anonymous() -> Layout {
        Layout::default()
    }

    /// True when the navigation entry for `prefix` should be marked current.
    pub fn is_current(&self, prefix: &str) -> bool {
        if prefix == "/" {
            self.path == "/"
        } else {
            self.path.starts_with(prefix)
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
        Ok(Layout {
            user,
            csrf,
            path: parts.uri.path().to_string(),
            brand: AppState::from_ref(state).config.branding.clone(),
        })
    }
}
