//! Cookies, login sessions, the current user, CSRF protection and the no-store rule for
//! personal responses.
//!
//! CSRF has two layers: (1) every state-changing request whose `Origin` names another site, or
//! whose `Sec-Fetch-Site` is `cross-site`, is refused with 403 before any handler runs; (2) every
//! HTML form carries a synchronizer token equal to the `pufa_csrf` cookie, checked by
//! [`CsrfForm`]. JSON endpoints additionally require `Content-Type: application/json`, which a
//! cross-site form cannot send without a CORS preflight that pufa never grants.

use super::AppState;
use crate::accounts::{Role, User};
use crate::error::AppError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub const SESSION_COOKIE: &str = "pufa_session";
pub const CSRF_COOKIE: &str = "pufa_csrf";

pub use crate::accounts::random_token;

/// The value of cookie `name` in the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

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

/// This request's CSRF token (from the cookie, or freshly issued by [`csrf_guard`]).
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("csrf_guard layer missing")))
    }
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// True when the request visibly comes from another site.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site.eq_ignore_ascii_case("cross-site") {
            return true;
        }
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let authority = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .trim_end_matches('/');
    authority.is_empty() || !authority.eq_ignore_ascii_case(host)
}

/// Middleware: refuse cross-site state-changing requests and make sure the browser has a CSRF
/// token cookie.
pub async fn csrf_guard(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    if is_state_changing(req.method()) && cross_site(req.headers()) {
        tracing::warn!(path = %req.uri().path(), "refused cross-site request");
        return Err(AppError::CsrfRejected);
    }
    let existing = cookie(req.headers(), CSRF_COOKIE).filter(|t| t.len() >= 32);
    // media and assets never carry forms; a Set-Cookie there would also keep shared caches
    // and CDNs from storing public segments
    let path = req.uri().path();
    let cacheable = path.starts_with("/media/") || path.starts_with("/assets/");
    let issued = existing.is_none() && !cacheable;
    let token = existing.unwrap_or_else(random_token);
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(req).await;
    if issued {
        response.headers_mut().append(
            SET_COOKIE,
            set_cookie(
                CSRF_COOKIE,
                &token,
                60 * 60 * 24 * 365,
                state.config.secure_cookies,
            ),
        );
    }
    Ok(response)
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
    // assets are the same for everyone and set their own caching: no lookup for them
    let token =
        cookie(req.headers(), SESSION_COOKIE).filter(|_| !req.uri().path().starts_with("/assets/"));
    if let Some(token) = token {
        match crate::app::login::session_user(&state.db, state.clock.now(), &token).await {
            Ok(user) => {
                personal = user.is_some();
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

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// An urlencoded HTML form whose `csrf` field must match the CSRF cookie.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        let expected = req
            .extensions()
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("unreadable_body", "无法读取提交的内容")
            }
        })?;
        let field: CsrfField = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            AppError::bad_request("invalid_form", "表单内容无法识别，请刷新页面后重试")
        })?;
        if expected.is_empty() || !constant_time_eq(field.csrf.as_bytes(), expected.as_bytes()) {
            return Err(AppError::CsrfRejected);
        }
        let value = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            AppError::bad_request("invalid_form", "表单内容无法识别，请刷新页面后重试")
        })?;
        Ok(CsrfForm(value))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn origin_must_match_host() {
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(cross_site(&headers(&[("host", "a"), ("origin", "null")])));
        assert!(cross_site(&headers(&[
            ("host", "a"),
            ("sec-fetch-site", "cross-site")
        ])));
    }

    #[test]
    fn cookie_parsing() {
        let h = headers(&[("cookie", "a=1; pufa_session=abc; b=2")]);
        assert_eq!(cookie(&h, "pufa_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
