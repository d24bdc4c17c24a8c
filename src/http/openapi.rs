//! The OpenAPI document, generated from the handlers' annotations.

use super::{accounts, pages, programs, signups};
use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "pufa API", description = "精准普法：普法月日程、报名、课程回放与法治体检"),
    paths(
        pages::healthz,
        accounts::api_login,
        accounts::api_logout,
        accounts::api_me,
        accounts::api_register,
        programs::api_list_programs,
        programs::api_find_program,
        programs::api_create_program,
        programs::api_create_session,
        programs::api_update_session,
        programs::api_delete_session,
        programs::api_schedule,
        signups::api_sign_up,
        signups::api_cancel_mine,
        signups::api_roster,
        signups::api_remove,
    ),
    components(schemas(crate::error::Problem, crate::validation::FieldError)),
    tags((name = "accounts", description = "登录与企业注册"),
         (name = "schedule", description = "普法月项目、课程与自动排课"),
         (name = "signups", description = "报名、候补与名单"),
         (name = "system"))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
