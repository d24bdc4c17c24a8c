//! HTTP: router assembly, shared state and middleware.
//!
//! One room per area (`schedule/`, `signups/`, …) holds its handlers and template structs and
//! exposes `router()`; [`router`] merges them and adds the middleware. API routes are
//! registered with `utoipa_axum::routes!`, so a path is written once, in the handler's
//! `#[utoipa::path]`, and the OpenAPI document is built from the same routes the server
//! serves: an API route cannot be left out of the document.

pub mod accounts;
pub mod admin;
pub mod archive;
pub mod assets;
pub mod auth;
pub mod checkup;
pub mod claims;
pub mod confirm;
pub mod csrf;
pub mod error_map;
pub mod errors;
pub mod export;
pub mod extract;
pub mod home;
pub mod layout;
pub mod live;
pub mod media;
pub mod notify;
pub mod observe;
pub mod openapi;
pub mod qa;
pub mod schedule;
pub mod signups;
pub mod views;

use crate::config::Config;
use crate::db::Db;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::middleware;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// The questionnaire new check-ups answer, and the older versions stored ones answered.
    pub questionnaires: crate::app::checkup::Questionnaires,
    /// Uploads and HLS output.
    pub storage: crate::media::storage::SharedStorage,
    /// Wakes this process's transcode workers when a job is queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// "Now" for every rule; a manual clock in tests.
    pub clock: crate::clock::Clock,
    /// The live lectures running in this process.
    pub live: crate::app::live::service::LiveService,
    /// Request counters and latencies for `/metrics`.
    pub metrics: Arc<observe::Metrics>,
    /// Mail and SMS, when configured (contact codes; the delivery workers share them).
    pub channels: Arc<crate::app::notify::delivery::Channels>,
    /// How media files are sent: X-Accel-Redirect to a front nginx, or from the segment cache
    /// and the disk.
    pub media: Arc<media::serve::MediaFiles>,
    /// PDF documents (certificates), with the font loaded on first use.
    pub pdf: Arc<crate::pdf::Renderer>,
}

/// The routes of every room, with their OpenAPI operations; `max_upload` limits recording
/// uploads, `max_body` every other body.
fn rooms(max_body: usize, max_upload: usize) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::with_openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .merge(home::router())
        .merge(schedule::router())
        .merge(signups::router())
        .merge(admin::router())
        .merge(accounts::router())
        .merge(checkup::router())
        .merge(archive::router())
        .merge(media::router())
        .merge(live::router())
        .merge(notify::router())
        .merge(qa::router())
        .route("/assets/{file}", get(assets::serve))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(errors::time_limit));
    // the claim form carries a licence image: its own body limit, like recording uploads
    routes
        .merge(media::upload_router(max_upload))
        .merge(archive::captions_router())
        .merge(claims::router())
}

/// The OpenAPI document of every API route, as served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    rooms(0, 0).into_openapi()
}

/// Compression must never wrap a response whose body is a file the connection sends with
/// `sendfile` (its body here is empty): such bodies stay as they are.
#[derive(Clone, Copy)]
struct NotSentWithSendfile;

impl Predicate for NotSentWithSendfile {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        response
            .extensions()
            .get::<crate::server::direct::FileBody>()
            .is_none()
    }
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let max_upload = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX);
    let (routes, document) = rooms(max_body, max_upload).split_for_parts();
    let document = Arc::new(document);
    let routes = routes
        .route("/metrics", get(observe::metrics))
        .route("/readyz", get(observe::readyz))
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        );

    let x_request_id = header::HeaderName::from_static("x-request-id");
    // segments and other media are already compressed
    let compress_when = DefaultPredicate::new()
        .and(NotSentWithSendfile)
        .and(NotForContentType::const_new("video/"))
        .and(NotForContentType::const_new("audio/"));
    routes
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::csrf_guard,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), auth::no_store_when_logged_in))
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
        // after routing (Router::layer wraps each route), so it sees the route template
        .layer(middleware::from_fn_with_state(state.clone(), observe::access_log))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // the route template, not the path: paths carry calendar tokens
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or(observe::UNMATCHED, |p| p.as_str());
                tracing::info_span!("request", method = %req.method(), route = %route, request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}
