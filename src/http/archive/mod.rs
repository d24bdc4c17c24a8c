//! The archive room: player pages, the archive with search, watch progress, attendance
//! figures for organizers and learning certificates.

pub mod captions;
pub mod lectures;

use super::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Caption uploads: files up to 2 MB, above the default body limit.
pub fn captions_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(captions::api_upload_captions))
        .route("/lectures/{id}/captions", post(captions::upload_form))
        .layer(DefaultBodyLimit::max(captions::MAX_REQUEST))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lectures::api_progress))
        .routes(routes!(captions::api_delete_captions))
        .route(
            "/lectures/{id}/captions/{kind}/delete",
            post(captions::remove_form),
        )
        .route("/archive", get(lectures::archive_page))
        .route("/lectures/{id}", get(lectures::lecture_page))
        .route(
            "/lectures/{id}/certificate/{enterprise_id}",
            get(lectures::certificate_page),
        )
        .route(
            "/lectures/{id}/certificate/{enterprise_id}/pdf",
            get(lectures::certificate_pdf),
        )
        .route("/admin/lectures/{id}", get(lectures::stats_page))
        .route("/certificates", get(lectures::verify_form))
        .route("/certificates/{code}", get(lectures::verify_page))
        .route(
            "/admin/lectures/{id}/visibility",
            post(lectures::visibility_form),
        )
        .route(
            "/admin/sessions/{id}/visibility",
            post(lectures::session_visibility_form),
        )
}
