//! 企问律答 and legal advisors in the browser and the API (issue 16): questions and threads
//! ([`questions`]), lawyer profiles ([`lawyers`]), the public `/qa` and publication
//! ([`publication`]), advisor groups ([`advisors`]), 回访 follow-ups and the loop dashboard
//! ([`followups`]), next month's topics ([`planning`]).

pub mod advisors;
pub mod followups;
pub mod lawyers;
pub mod planning;
pub mod publication;
pub mod questions;

use super::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(questions::router())
        .merge(lawyers::router())
        .merge(publication::router())
        .merge(advisors::router())
        .merge(followups::router())
        .merge(planning::router())
}
