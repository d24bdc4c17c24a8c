//! Static assets compiled into the binary (no CDN).

use crate::error::AppError;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/pufa.css");
const PRINT_JS: &str = include_str!("assets/print.js");

/// `GET /assets/{file}`. Asset URLs carry a version query, so they may be cached for long.
pub async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, mime): (&'static [u8], &str) = match file.as_str() {
        "pufa.css" => (CSS.as_bytes(), "text/css; charset=utf-8"),
        "print.js" => (PRINT_JS.as_bytes(), "text/javascript; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response())
}
