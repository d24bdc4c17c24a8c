//! Who is asking: cookies, the login session behind the `pufa_session` cookie, the current
//! user extractors, and the no-store rule for responses to logged-in requests.

use super::AppState;
use crate::accounts::{Role, User};
use crate::error::AppError;
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub use crate::cookies::{cookie, SESSION_COOKIE};

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when configured.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("pufa_invalid=1"))
}

/// The logged-in user; rejects with 401 when there is none.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

/// The logged-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<User>);

impl CurrentUser {
    /// 403 unless the user has `role`.
    pub fn require(&self, role: Role) -> Result<&User, AppError> {
        if self.0.role == role {
            Ok(&self.0)
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl<S> FromRequestParts<S> for MaybeUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<MaybeUser>() {
            return Ok(cached.clone());
        }
        let state = AppState::from_ref(state);
        let user = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => {
                crate::app::login::session_user(&state.db, state.clock.now(), &token).await?
            }
            None => None,
        };
        let found = MaybeUser(user);
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(user)) => Ok(CurrentUser(user)),
            MaybeUser(None) => Err(AppError::Unauthorized),
        }
    }
}

/// Middleware: `Cache-Control: no-store` on every response to a request with a valid login
/// session, and on every response that opens one, unless the handler chose its caching itself
/// (media segments, assets and feeds do). Such responses hold personal data (reports, drafts,
/// rosters, CSV exports, 我的 with the calendar token) that no browser or proxy cache should
/// keep after logout. The session looked up here is handed to the handlers' [`MaybeUser`] and
/// [`CurrentUser`], so it costs no second query.
pub async fn no_store_when_logged_in(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut personal = false;
    let mut account = None;
    // assets are the same for everyone and set their own caching: no lookup for them
    let token =
        cookie(req.headers(), SESSION_COOKIE).filter(|_| !req.uri().path().starts_with("/assets/"));
    if let Some(token) = token {
        match crate::app::login::session_user(&state.db, state.clock.now(), &token).await {
            Ok(user) => {
                personal = user.is_some();
                account = user.as_ref().map(|u| u.id);
                req.extensions_mut().insert(MaybeUser(user));
            }
            Err(e) => {
                // the handler looks again and reports the fault; meanwhile assume the worst
                tracing::warn!(error = ?e, "looking up the login session for caching failed");
                personal = true;
            }
        }
    }
    let mut response = next.run(req).await;
    if let Some(id) = account {
        // for the access log (which runs outside this middleware)
        response
            .extensions_mut()
            .insert(crate::http::observe::ServedAccount(id));
    }
    let opens_session = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(SESSION_COOKIE.as_bytes()));
    if (personal || opens_session) && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderMap;

    /// Headers from name/value pairs (shared with the CSRF tests).
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn cookie_parsing() {
        let h = headers(&[("cookie", "a=1; pufa_session=abc; b=2")]);
        assert_eq!(cookie(&h, "pufa_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
