//! CSRF protection in two layers: (1) every state-changing request whose `Origin` names another
//! site (neither the configured public URL nor the `Host` it was sent to), or whose `Sec-Fetch-Site` is `cross-site`, is refused with 403 before any handler runs
//! ([`csrf_guard`]); (2) every HTML form carries a synchronizer token equal to the `pufa_csrf`
//! cookie, checked by [`CsrfForm`]. JSON endpoints additionally require `Content-Type:
//! application/json`, which a cross-site form cannot send without a CORS preflight that pufa
//! never grants.

use super::auth::{cookie, set_cookie};
use super::AppState;
use crate::accounts::random_token;
use crate::error::AppError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub const CSRF_COOKIE: &str = "pufa_csrf";

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

/// `scheme://host[:port]` in lower case without the scheme's default port, so that
/// `https://Pufa.example.cn:443` and `https://pufa.example.cn` compare equal.
fn normalized_origin(origin: &str) -> String {
    let lower = origin.trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if lower.starts_with(scheme) {
            if let Some(stripped) = lower.strip_suffix(port) {
                return stripped.to_string();
            }
        }
    }
    lower
}

/// True when the request visibly comes from another site. `public_url` is where users reach
/// pufa: behind a reverse proxy the browser's `Origin` names it while the `Host` pufa sees may
/// be the proxy's upstream address (`proxy_set_header Host` is easy to forget).
fn cross_site(headers: &HeaderMap, public_url: &str) -> bool {
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
    if normalized_origin(origin) == normalized_origin(public_url) {
        return false;
    }
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
    if is_state_changing(req.method())
        && cross_site(req.headers(), state.config.public_url.as_str())
    {
        tracing::warn!(path = %req.uri().path(), "refused cross-site request");
        return Err(AppError::CsrfRejected);
    }
    let existing = cookie(req.headers(), CSRF_COOKIE).filter(|t| t.len() >= 32);
    // media and assets never carry forms; a Set-Cookie there would also keep shared caches
    // and CDNs from storing public segments
    let path = req.uri().path();
    let cacheable =
        path.starts_with("/media/") || path.starts_with("/live/") || path.starts_with("/assets/");
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

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The double-submit check for requests that are not urlencoded forms (multipart uploads, API
/// calls without a body): the `X-CSRF-Token` header (scripts) or, when given, a `csrf` field
/// read from the body before anything else (plain forms) must equal the `pufa_csrf` cookie.
pub fn double_submit_ok(headers: &HeaderMap, field: Option<&str>) -> bool {
    let Some(expected) = cookie(headers, CSRF_COOKIE).filter(|c| !c.is_empty()) else {
        return false;
    };
    let given = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(field);
    given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes()))
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
    use crate::http::auth::tests::headers;

    const PUBLIC: &str = "http://localhost:9";

    #[test]
    fn origin_may_name_the_public_url_behind_a_proxy() {
        let public = "https://pufa.example.cn";
        // nginx passes the upstream's address as Host; the browser's Origin is the public URL
        let proxied = |origin: &str| {
            cross_site(
                &headers(&[("host", "127.0.0.1:8080"), ("origin", origin)]),
                public,
            )
        };
        assert!(!proxied("https://pufa.example.cn"));
        assert!(!proxied("https://PUFA.example.cn:443"));
        assert!(
            proxied("http://pufa.example.cn"),
            "another scheme is another origin"
        );
        assert!(proxied("https://pufa.example.cn.evil.example"));
        assert!(proxied("https://evil.example"));
    }

    #[test]
    fn origin_must_match_host() {
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8080")]), PUBLIC));
        assert!(!cross_site(
            &headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]),
            PUBLIC
        ));
        assert!(cross_site(
            &headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example")
            ]),
            PUBLIC
        ));
        assert!(cross_site(
            &headers(&[("host", "a"), ("origin", "null")]),
            PUBLIC
        ));
        assert!(cross_site(
            &headers(&[("host", "a"), ("sec-fetch-site", "cross-site")]),
            PUBLIC
        ));
    }
}
