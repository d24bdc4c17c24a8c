//! The organizer's workspace.

use super::auth::CurrentUser;
use super::layout::Layout;
use super::AppState;
use crate::accounts::Role;
use crate::db::accounts::Enterprise;
use crate::error::AppResult;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

#[derive(Template, WebTemplate)]
#[template(path = "admin/dashboard.html")]
pub struct AdminHomePage {
    pub layout: Layout,
    pub enterprises: Vec<Enterprise>,
    pub lawyers: usize,
    pub programs: Vec<(crate::db::schedule::ProgramRow, i64)>,
}

impl AdminHomePage {
    pub fn industry(&self, e: &Enterprise) -> String {
        super::accounts::pages::industry_label(e)
    }
}

/// Organizer home: registered enterprises and staff.
pub async fn dashboard(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> AppResult<AdminHomePage> {
    user.require(Role::Organizer)?;
    let enterprises = state.db.enterprises().await?;
    let lawyers = state.db.staff(Role::Lawyer).await?.len();
    let programs = state.db.programs().await?;
    Ok(AdminHomePage {
        layout,
        enterprises,
        lawyers,
        programs,
    })
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().route("/admin", axum::routing::get(dashboard))
}
