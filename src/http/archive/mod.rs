//! The archive room: player pages, the archive with search, watch progress, attendance
//! figures for organizers and learning certificates.

pub mod lectures;

use super::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lectures::api_progress))
        .route("/archive", get(lectures::archive_page))
        .route("/lectures/{id}", get(lectures::lecture_page))
        .route(
            "/lectures/{id}/certificate/{enterprise_id}",
            get(lectures::certificate_page),
        )
        .route("/admin/lectures/{id}", get(lectures::stats_page))
        .route(
            "/admin/lectures/{id}/visibility",
            post(lectures::visibility_form),
        )
        .route(
            "/admin/sessions/{id}/visibility",
            post(lectures::session_visibility_form),
        )
}
