//! Notifications in the browser and the API: the inbox and bell ([`inbox`]), contacts,
//! verification and unsubscribe ([`contacts`]), and the organizer's deliveries page and
//! session messages ([`admin`]).

pub mod admin;
pub mod contacts;
pub mod inbox;

use super::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(inbox::router())
        .merge(contacts::router())
        .merge(admin::router())
}
