//! The parts of the OpenAPI document that belong to no route: title, tags and shared schemas.
//! The operations come from the routes themselves (see [`super::router`]).

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "pufa API", description = "精准普法：普法月日程、报名、课程回放与法治体检"),
    components(schemas(crate::error::Problem, crate::validation::FieldError)),
    tags((name = "accounts", description = "登录与企业注册"),
         (name = "schedule", description = "普法月项目、课程与自动排课"),
         (name = "signups", description = "报名、候补与名单"),
         (name = "checkup", description = "法治体检问卷、提交与报告"),
         (name = "media", description = "课程录像上传与转码任务"),
         (name = "archive", description = "课程回放与观看进度"),
         (name = "system", description = "运行状态"))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    /// The whole document is snapshotted, so an operation that goes missing, changes its
    /// shape or appears without review fails the build (`cargo insta review` or
    /// `INSTA_UPDATE=always cargo test` accepts an intended change).
    #[test]
    fn document_snapshot() {
        insta::assert_json_snapshot!("openapi", crate::http::openapi_document());
    }

    #[test]
    fn every_api_operation_is_documented() {
        let doc = crate::http::openapi_document();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        for expected in [
            "/api/v1/login",
            "/api/v1/programs/{id}/schedule",
            "/api/v1/sessions/{id}/registrations",
            "/api/v1/sessions/{id}/recording",
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/{id}/retry",
            "/api/v1/lectures/{id}/progress",
            "/api/v1/checkup/submissions",
            "/api/v1/checkup/reports/{id}",
            "/healthz",
        ] {
            assert!(
                paths.contains(&expected),
                "{expected} missing from {paths:?}"
            );
        }
    }
}
