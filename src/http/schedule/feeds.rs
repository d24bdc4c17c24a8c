//! Calendar feeds: a program's public feed and an enterprise's personal one. Their links point
//! below the configured public URL, never below the request's `Host` (which anyone can set).

use crate::app::schedule as uc;
use crate::error::{AppError, AppResult};
use crate::http::extract::Path;
use crate::http::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

fn ics_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /programs/{id}/calendar.ics` — the program's public, subscribable feed.
pub async fn program_feed_file(
    State(state): State<AppState>,
    Path((id, feed)): Path<(i64, String)>,
) -> AppResult<Response> {
    if feed != "calendar.ics" {
        return Err(AppError::NotFound);
    }
    let base = state.config.public_url.as_str();
    Ok(ics_response(uc::program_feed(&state.db, id, base).await?))
}

/// `GET /calendar/{token}.ics` — an enterprise's confirmed sessions.
pub async fn personal_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    let base = state.config.public_url.as_str();
    Ok(ics_response(
        uc::personal_feed(&state.db, token, base, &state.config.branding.site_name).await?,
    ))
}
