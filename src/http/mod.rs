//! HTTP: router assembly, shared state and middleware. One module per area holds its handlers
//! and template structs; every route of the server is listed in [`router`].

pub mod accounts;
pub mod admin;
pub mod assets;
pub mod checkup;
pub mod csv_export;
pub mod error_map;
pub mod errors;
pub mod extract;
pub mod lectures;
pub mod media;
pub mod openapi;
pub mod organize;
pub mod pages;
pub mod programs;
pub mod session;
pub mod signups;
pub mod views;

use crate::config::Config;
use crate::db::Db;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::middleware;
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// The questionnaire new check-ups answer.
    pub questionnaire: Arc<crate::checkup::questionnaire::Questionnaire>,
    /// Uploads and HLS output.
    pub storage: crate::media::storage::SharedStorage,
    /// Wakes this process's transcode workers when a job is queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// "Now" for every rule; a manual clock in tests.
    pub clock: crate::clock::Clock,
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let routes = Router::new()
        // pages
        .route("/", get(pages::home))
        .route(
            "/login",
            get(accounts::login_page).post(accounts::login_form),
        )
        .route("/logout", post(accounts::logout_form))
        .route(
            "/register",
            get(accounts::register_page).post(accounts::register_form),
        )
        .route("/me", get(pages::me))
        .route("/programs", get(programs::programs_page))
        .route("/programs/{id}", get(programs::program_page))
        .route("/programs/{id}/{feed}", get(programs::program_feed_file))
        .route("/calendar/{file}", get(programs::personal_feed))
        .route("/sessions/{id}", get(signups::session_page))
        .route("/sessions/{id}/signup", post(signups::signup_form))
        .route("/sessions/{id}/cancel", post(signups::cancel_form))
        .route("/sessions/{id}/roster", get(signups::roster_page))
        .route("/sessions/{id}/roster.csv", get(signups::roster_csv))
        .route("/sessions/{id}/removal", post(signups::remove_form))
        .route("/archive", get(lectures::archive_page))
        .route("/lectures/{id}", get(lectures::lecture_page))
        .route(
            "/lectures/{id}/certificate/{enterprise_id}",
            get(lectures::certificate_page),
        )
        .route(
            "/media/lectures/{id}/{version}/{*file}",
            get(media::serve_lecture_file),
        )
        .route("/checkup", get(checkup::index_page))
        .route(
            "/checkup/fill/{page}",
            get(checkup::fill_page).post(checkup::fill_form),
        )
        .route("/checkup/reports/{id}", get(checkup::report_page))
        // organizer
        .route("/admin", get(admin::dashboard))
        .route("/admin/checkups", get(checkup::dashboard_page))
        .route("/admin/lectures/{id}", get(lectures::stats_page))
        .route("/admin/jobs/{id}/retry", post(media::retry_form))
        .route(
            "/admin/lectures/{id}/visibility",
            post(lectures::visibility_form),
        )
        .route("/admin/checkups.csv", get(checkup::dashboard_csv))
        .route("/admin/programs/new", get(organize::new_program_page))
        .route("/admin/programs", post(organize::create_program_form))
        .route("/admin/programs/{id}", get(organize::program_admin_page))
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
            post(organize::cancel_session_form),
        )
        .route("/assets/{file}", get(assets::serve))
        .route("/healthz", get(pages::healthz))
        // JSON API
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/login", post(accounts::api_login))
        .route("/api/v1/logout", post(accounts::api_logout))
        .route("/api/v1/enterprises", post(accounts::api_register))
        .route("/api/v1/me", get(accounts::api_me))
        .route(
            "/api/v1/programs",
            get(programs::api_list_programs).post(programs::api_create_program),
        )
        .route("/api/v1/programs/{id}", get(programs::api_find_program))
        .route(
            "/api/v1/programs/{id}/sessions",
            post(programs::api_create_session),
        )
        .route(
            "/api/v1/programs/{id}/schedule",
            post(programs::api_schedule),
        )
        .route(
            "/api/v1/sessions/{id}",
            put(programs::api_update_session).delete(programs::api_delete_session),
        )
        .route(
            "/api/v1/sessions/{id}/registrations",
            get(signups::api_roster).post(signups::api_sign_up),
        )
        .route(
            "/api/v1/sessions/{id}/registrations/mine",
            delete(signups::api_cancel_mine),
        )
        .route(
            "/api/v1/sessions/{id}/registrations/{enterprise_id}/removal",
            post(signups::api_remove),
        )
        .route(
            "/api/v1/checkup/questionnaire",
            get(checkup::api_questionnaire),
        )
        .route("/api/v1/checkup/submissions", post(checkup::api_submit))
        .route("/api/v1/checkup/draft", get(checkup::api_draft))
        .route("/api/v1/checkup/reports/{id}", get(checkup::api_report))
        .route("/api/v1/jobs/{id}", get(media::api_job))
        .route("/api/v1/jobs/{id}/retry", post(media::api_retry))
        .route("/api/v1/jobs/{id}/events", get(media::job_events))
        .route(
            "/api/v1/lectures/{id}/progress",
            post(lectures::api_progress),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ));
    // uploads stream for as long as they take, up to their own size limit
    let max_upload = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX);
    let uploads = Router::new()
        .route("/api/v1/sessions/{id}/recording", post(media::api_upload))
        .layer(DefaultBodyLimit::max(max_upload));

    let x_request_id = header::HeaderName::from_static("x-request-id");
    // segments and other media are already compressed
    let compress_when = DefaultPredicate::new()
        .and(NotForContentType::const_new("video/"))
        .and(NotForContentType::const_new("audio/"));
    routes
        .merge(uploads)
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::csrf_guard,
        ))
        .layer(middleware::from_fn(errors::render_html_errors))
        .layer(CompressionLayer::new().compress_when(compress_when))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
                 style-src 'self'; script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; \
                 form-action 'self'; base-uri 'none'",
            ),
        ))
        .layer(CatchPanicLayer::custom(errors::panic_response))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}
