//! The OpenAPI document, generated from the handlers' annotations.

use super::{accounts, pages};
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
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    tags((name = "accounts", description = "登录与企业注册"), (name = "system"))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
