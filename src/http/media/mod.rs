//! The media room: recording upload (streamed into the media storage), transcode jobs (status,
//! live progress, re-run) and the HLS files themselves, with access checks on every playlist
//! and segment.

pub mod files;
pub mod jobs;
pub mod objects;
pub mod serve;
pub mod upload;

use super::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jobs::api_job))
        .routes(routes!(jobs::api_retry))
        .routes(routes!(jobs::job_events))
        .route("/admin/jobs/{id}/retry", post(jobs::retry_form))
        .route(
            "/media/lectures/{id}/{version}/{*file}",
            get(files::serve_lecture_file),
        )
}

/// The upload route, which streams for as long as it takes up to its own size limit.
pub fn upload_router(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload::api_upload))
        .layer(DefaultBodyLimit::max(max_upload))
}
