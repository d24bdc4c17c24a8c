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

/// Longest a request (other than an upload, which streams for as long as it takes) may run.
pub const REQUEST_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Middleware: a request still running after [`REQUEST_TIME_LIMIT`] is answered with a 408
/// problem (or page) instead of an empty body.
pub async fn time_limit(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    /// Before this middleware a slow request got tower-http's bare 408 with an empty body.
    #[tokio::test(start_paused = true)]
    async fn a_request_over_the_time_limit_gets_a_chinese_problem() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(REQUEST_TIME_LIMIT * 2).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn(time_limit));
        let response = app
            .oneshot(Request::get("/slow").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("request_timeout") && text.contains("请求处理时间过长"),
            "{text}"
        );
    }
}
