//! The sign-up room: signing up and cancelling (API and the session page), rosters, removals
//! and the roster export.

pub mod api;
pub mod pages;
pub mod roster;

use super::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::api_roster, api::api_sign_up))
        .routes(routes!(api::api_cancel_mine))
        .routes(routes!(api::api_remove))
        .route("/sessions/{id}", get(pages::session_page))
        .route("/sessions/{id}/signup", post(pages::signup_form))
        .route(
            "/sessions/{id}/cancel",
            get(pages::cancel_confirm_page).post(pages::cancel_form),
        )
        .route("/sessions/{id}/roster", get(roster::roster_page))
        .route("/sessions/{id}/roster.csv", get(roster::roster_csv))
        .route("/sessions/{id}/roster.xlsx", get(roster::roster_xlsx))
        .route("/sessions/{id}/signin-sheet", get(roster::signin_sheet))
        .route("/sessions/{id}/removal", post(roster::remove_form))
        .route("/sessions/{id}/roster/mobiles", post(roster::mobiles_form))
}
