//! Turning [`AppError`] responses into HTML pages for browsers, plus the fallbacks.

use super::layout::Layout;
use crate::error::{AppError, RenderedError};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template, WebTemplate)]
#[template(path = "errors/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub title: String,
    pub detail: String,
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// A panic inside a handler becomes an ordinary 500 (logged, details hidden).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    AppError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

fn wants_html(req: &Request) -> bool {
    let path = req.uri().path();
    if path.starts_with("/api/") || path.starts_with("/media/") || path.starts_with("/assets/") {
        return false;
    }
    // Browsers navigating ask for text/html; API clients, players and feeds do not.
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Middleware: for page requests, render error responses as the HTML error page; a missing login
/// on a GET page redirects to the login form and comes back afterwards.
pub async fn render_html_errors(req: Request, next: Next) -> Response {
    let html = wants_html(&req);
    let is_get = req.method() == Method::GET;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let response = next.run(req).await;
    if !html {
        return response;
    }
    let Some(err) = response.extensions().get::<RenderedError>().cloned() else {
        return response;
    };
    if err.status == StatusCode::UNAUTHORIZED && err.code == "unauthenticated" && is_get {
        let next_param: String = url_encode(&path_and_query);
        return Redirect::to(&format!("/login?next={next_param}")).into_response();
    }
    let page = ErrorPage {
        layout: Layout::anonymous(),
        status: err.status.as_u16(),
        title: err.title.to_string(),
        detail: err.detail,
    };
    let mut out = page.into_response();
    *out.status_mut() = err.status;
    let keep = [header::RETRY_AFTER, header::SET_COOKIE];
    for name in keep {
        for v in response.headers().get_all(&name) {
            out.headers_mut().append(name.clone(), v.clone());
        }
    }
    out
}

/// Percent-encode everything but unreserved characters.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
