//! The timetable room: programs and sessions (API and pages), the organizer's planning pages,
//! the auto-scheduler and calendar feeds.

pub mod api;
pub mod attendance;
pub mod feeds;
pub mod lecturers;
pub mod organize;
pub mod pages;
pub mod program_form;

use super::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::api_list_programs, api::api_create_program))
        .routes(routes!(
            api::api_find_program,
            api::api_update_program,
            api::api_delete_program
        ))
        .routes(routes!(api::api_create_session))
        .routes(routes!(api::api_schedule))
        .routes(routes!(api::api_update_session, api::api_delete_session))
        .route("/programs", get(pages::programs_page))
        .route("/programs/{id}", get(pages::program_page))
        .route("/programs/{id}/{feed}", get(feeds::program_feed_file))
        .route("/calendar/{file}", get(feeds::personal_feed))
        .route("/admin/programs/new", get(program_form::new_program_page))
        .route("/admin/programs", post(program_form::create_program_form))
        .route(
            "/admin/programs/{id}/edit",
            get(program_form::edit_program_page).post(program_form::update_program_form),
        )
        .route(
            "/admin/programs/{id}/delete",
            get(program_form::delete_program_page).post(program_form::delete_program_form),
        )
        .route(
            "/admin/lecturers",
            get(lecturers::directory_page).post(lecturers::create_form),
        )
        .route(
            "/admin/lecturers/{id}",
            get(lecturers::edit_page).post(lecturers::update_form),
        )
        .route("/admin/programs/{id}", get(organize::program_admin_page))
        .route(
            "/admin/programs/{id}/attendance",
            get(attendance::attendance_page),
        )
        .route(
            "/admin/programs/{id}/{export}",
            get(attendance::attendance_export),
        )
        .route(
            "/admin/programs/{id}/schedule",
            post(organize::schedule_form),
        )
        .route(
            "/admin/programs/{id}/sessions/new",
            get(organize::new_session_page),
        )
        .route(
            "/admin/programs/{id}/sessions",
            post(organize::create_session_form),
        )
        .route(
            "/admin/sessions/{id}",
            get(organize::edit_session_page).post(organize::update_session_form),
        )
        .route(
            "/admin/sessions/{id}/cancel",
            get(organize::cancel_session_page).post(organize::cancel_session_form),
        )
}
