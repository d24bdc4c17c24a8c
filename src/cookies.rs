//! Cookie names and the request-cookie parser, shared by the HTTP layer and the connection
//! server (media grants are keyed by the session cookie before any router runs).

use axum::http::header::COOKIE;
use axum::http::HeaderMap;

/// The login session's cookie.
pub const SESSION_COOKIE: &str = "pufa_session";

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
