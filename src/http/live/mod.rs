//! The live room: the live API (state, ingest URLs and figures, key rotation, watch reports),
//! the live HLS files with the access check on every playlist and segment, and the
//! organizer's live page. The session page embeds the live widget (see `signups::pages`).

pub mod api;
pub mod files;
pub mod pages;

use super::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::api_live))
        .routes(routes!(api::api_rotate_key))
        .routes(routes!(api::api_watch))
        .route("/live/{session}/master.m3u8", get(files::current_master))
        .route("/live/{session}/{live}/master.m3u8", get(files::master))
        .route(
            "/live/{session}/{live}/{rendition}/{file}",
            get(files::file),
        )
        .route("/admin/sessions/{id}/live", get(pages::live_admin_page))
        .route(
            "/admin/sessions/{id}/live/key",
            post(pages::rotate_key_form),
        )
}
