//! The legal health check room: questionnaire API, the notice before starting, page-by-page
//! filling with drafts, reports (with their access log and deletion) and the organizer
//! dashboard. Handlers extract, call `crate::app::checkup` and render.

pub mod api;
pub mod dashboard;
pub mod fill;
pub mod privacy;
pub mod report;

use super::AppState;
use axum::routing::get;
use chrono::{DateTime, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::api_questionnaire))
        .routes(routes!(api::api_submit))
        .routes(routes!(api::api_draft))
        .routes(routes!(api::api_report, api::api_delete_report))
        .routes(routes!(api::api_access_log))
        .routes(routes!(api::api_consent, api::api_give_consent))
        .route("/checkup", get(fill::index_page))
        .route(
            "/checkup/notice",
            get(privacy::notice_page).post(privacy::notice_form),
        )
        .route(
            "/checkup/reports/{id}/delete",
            get(privacy::delete_page).post(privacy::delete_form),
        )
        .route(
            "/checkup/fill/{page}",
            get(fill::fill_page).post(fill::fill_form),
        )
        .route("/checkup/reports/{id}", get(report::report_page))
        .route("/checkup/reports/{id}/pdf", get(report::report_pdf))
        .route("/admin/checkups", get(dashboard::dashboard_page))
        .route("/admin/checkups.csv", get(dashboard::dashboard_csv))
        .route("/admin/checkups.xlsx", get(dashboard::dashboard_xlsx))
}

/// Check-ups belong to no program: their dates are shown in the chamber's zone.
pub(super) fn local_time(t: DateTime<Utc>) -> String {
    crate::http::views::format::datetime_zh(&t, crate::schedule::DEFAULT_TZ)
}
