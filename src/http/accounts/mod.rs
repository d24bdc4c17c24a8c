//! The accounts room: login and logout (of this device or of all), enterprise
//! self-registration, the own account and its calendar token. The JSON API and the HTML forms
//! call the same use cases in `crate::app::{login, accounts}`.

pub mod api;
pub mod pages;
pub mod self_service;
pub mod staff;

use crate::accounts::User;
use crate::app::login::{self, LoginError, NewSession};
use crate::error::AppResult;
use crate::http::auth::{set_cookie, SESSION_COOKIE};
use crate::http::AppState;
use axum::http::{HeaderMap, HeaderValue};
use std::net::SocketAddr;

/// The client's address: the TCP peer, or behind a trusted reverse proxy the rightmost
/// `X-Forwarded-For` entry that is not a trusted proxy (see [`crate::proxy`]). Keys the
/// per-address login throttle, so it must not be choosable by the client.
pub(crate) fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    state
        .config
        .trusted_proxies
        .client_addr(peer.ip(), forwarded)
        .to_string()
}

/// The `Set-Cookie` value that hands a new login session to the browser.
pub(super) fn session_cookie(state: &AppState, session: &NewSession) -> HeaderValue {
    set_cookie(
        SESSION_COOKIE,
        &session.token,
        session.max_age_s,
        state.config.secure_cookies,
    )
}

/// Open a login session for `user_id` and return its `Set-Cookie` value.
pub(super) async fn start_session(state: &AppState, user_id: i64) -> AppResult<HeaderValue> {
    let session = login::start_session(
        &state.db,
        state.clock.now(),
        user_id,
        state.config.session_hours,
    )
    .await?;
    Ok(session_cookie(state, &session))
}

/// End the request's login session, or with `everywhere` every session of its account, and
/// return the `Set-Cookie` value that clears the cookie.
pub(super) async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    everywhere: bool,
) -> AppResult<HeaderValue> {
    let token = super::auth::cookie(headers, SESSION_COOKIE);
    if everywhere {
        login::end_all_sessions(&state.db, state.clock.now(), token.as_deref()).await?;
        // the other sessions' cookies are not known here
        state.media.grants().forget_all();
    } else {
        login::end_session(&state.db, token.as_deref()).await?;
        if let Some(token) = &token {
            state.media.grants().forget_credential(token);
        }
    }
    Ok(set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.config.secure_cookies,
    ))
}

pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    login: &str,
    password: &str,
) -> Result<User, LoginError> {
    let ip = client_ip(state, headers, peer);
    login::authenticate(
        &state.db,
        state.clock.now(),
        login,
        password,
        &ip,
        &state.config.password_verifications,
    )
    .await
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    utoipa_axum::router::OpenApiRouter::new()
        .merge(self_service::router())
        .routes(utoipa_axum::routes!(api::api_login))
        .routes(utoipa_axum::routes!(api::api_logout))
        .routes(utoipa_axum::routes!(api::api_register))
        .routes(utoipa_axum::routes!(
            api::api_me,
            self_service::api_delete_account
        ))
        .routes(utoipa_axum::routes!(api::api_rotate_calendar_token))
        .routes(utoipa_axum::routes!(api::api_my_privacy))
        .routes(utoipa_axum::routes!(staff::api_list, staff::api_create))
        .routes(utoipa_axum::routes!(staff::api_disable))
        .routes(utoipa_axum::routes!(staff::api_enable))
        .routes(utoipa_axum::routes!(staff::api_reset_password))
        .route(
            "/admin/accounts",
            get(staff::staff_page).post(staff::create_form),
        )
        .route("/admin/accounts/{id}/password", post(staff::reset_form))
        .route("/admin/accounts/{id}/{action}", post(staff::disable_form))
        .route("/login", get(pages::login_page).post(pages::login_form))
        .route("/logout", post(pages::logout_form))
        .route("/logout/others", post(pages::logout_others_form))
        .route(
            "/me/calendar-token",
            post(pages::rotate_calendar_token_form),
        )
        .route("/privacy", get(pages::privacy_page))
        .route(
            "/register",
            get(pages::register_page).post(pages::register_form),
        )
}
