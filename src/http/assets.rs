//! Static assets compiled into the binary (no CDN).

use crate::error::AppError;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/pufa.css");
const PRINT_JS: &str = include_str!("assets/print.js");
const PLAYER_JS: &str = include_str!("assets/player.js");
const UPLOAD_JS: &str = include_str!("assets/upload.js");
const LIVE_JS: &str = include_str!("assets/live.js");
/// The live page's panel of questions asked during the lecture (issue 16).
const QUESTIONS_JS: &str = include_str!("assets/questions.js");
/// hls.js 1.6.15 (Apache-2.0, see vendor/hls.js-LICENSE.txt), pinned and shipped in the binary.
const HLS_JS: &str = include_str!("assets/vendor/hls.min.js");
const HLS_LICENSE: &str = include_str!("assets/vendor/hls.js-LICENSE.txt");

/// `GET /assets/{file}`. Asset URLs carry a version query, so they may be cached for long.
pub async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, mime): (&'static [u8], &str) = match file.as_str() {
        "pufa.css" => (CSS.as_bytes(), "text/css; charset=utf-8"),
        "print.js" => (PRINT_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "player.js" => (PLAYER_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "upload.js" => (UPLOAD_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "live.js" => (LIVE_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "questions.js" => (QUESTIONS_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "hls.min.js" => (HLS_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "hls.js-LICENSE.txt" => (HLS_LICENSE.as_bytes(), "text/plain; charset=utf-8"),
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
