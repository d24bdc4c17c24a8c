//! The parts of the OpenAPI document that belong to no route: title, tags, shared schemas, the
//! error responses every operation refers to and the session cookie security scheme. The
//! operations come from the routes themselves (see [`super::router`]).
//!
//! Every error an API handler can answer with is `application/problem+json` ([`Problem`]); the
//! responses below are the ones operations list by status (`(status = 404, response =
//! NotFound)`), so a client reads the same description and schema everywhere. An operation
//! that needs a login carries `security(("pufa_session" = []))` and lists 401.

use crate::error::Problem;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::OpenApi;

/// The name of the security scheme (the login session cookie) in the document.
pub const SESSION_SCHEME: &str = "pufa_session";

/// 请求有误：请求体不是有效的 JSON（`malformed_json`）、字段类型不对（`invalid_json_fields`）、
/// 或上传请求不是 multipart/form-data（`invalid_multipart`）、上传中断（`upload_interrupted`）。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadRequest(pub Problem);

/// 需要登录（`unauthenticated`：没有或已失效的 `pufa_session` Cookie）；登录接口为账号或密码错误
/// （`bad_credentials`）。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unauthorized(pub Problem);

/// 无权访问：账号角色不允许此操作（`forbidden`），或改变状态的请求来自其他网站
/// （`csrf_rejected`：`Origin` 与 `Host` 不符，或 `Sec-Fetch-Site: cross-site`）。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// 内容不存在或已被删除（`not_found`），也用于对当前账号不可见的内容。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// 操作冲突：`code` 说明原因（如 `schedule_conflict`、`signup_closed`、`mobile_taken`）。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(pub Problem);

/// 提交的内容超过了允许的大小（`payload_too_large`）。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// 请求体的格式不受支持（`unsupported_media_type`）：JSON 接口需要 `Content-Type: application/json`。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// 提交的内容有误（`validation_failed`）：`errors` 按字段给出中文说明。
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unprocessable(pub Problem);

/// 尝试次数过多（`too_many_requests`）：`Retry-After` 秒后再试。
#[derive(utoipa::ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "再次尝试前需等待的秒数"))
)]
pub struct TooManyRequests(pub Problem);

/// Adds the `pufa_session` cookie as the document's security scheme.
struct SessionCookie;

impl utoipa::Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "pufa_session",
                "登录会话：POST /api/v1/login 成功后由 Set-Cookie 设置（HttpOnly, SameSite=Lax）",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "pufa API", description = "精准普法：普法月日程、报名、直播、课程回放与法治体检。\n\n\
        错误一律以 `application/problem+json`（RFC 9457）返回，`code` 为稳定的机器可读代码，`detail` \
        为中文说明。需要登录的接口使用 `pufa_session` Cookie；改变状态的请求若带 `Origin`，须与 \
        `Host` 一致。"),
    modifiers(&SessionCookie),
    components(
        schemas(crate::error::Problem, crate::validation::FieldError),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
                  UnsupportedMediaType, Unprocessable, TooManyRequests)
    ),
    tags((name = "accounts", description = "登录与企业注册"),
         (name = "schedule", description = "普法月项目、课程与自动排课"),
         (name = "signups", description = "报名、候补与名单"),
         (name = "checkup", description = "法治体检问卷、提交与报告"),
         (name = "media", description = "课程录像上传与转码任务"),
         (name = "archive", description = "课程回放与观看进度"),
         (name = "live", description = "直播：状态、推流地址与推流码、观看记录"),
         (name = "notifications", description = "通知：站内消息、通知设置、发送记录与组织方消息"),
         (name = "claims", description = "信用代码申诉：提交、审核、冻结与移交"),
         (name = "qa", description = "企问律答：企业提问、分派与答复、律师资料、公开问答、法律顾问组、回访闭环与精准普法选题"),
         (name = "system", description = "运行状态"))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::Operation;
    use utoipa::openapi::{RefOr, Required};

    /// Every operation of the API, by method and path: one that goes missing fails here
    /// before the snapshot shows it.
    const OPERATIONS: &[(&str, &str)] = &[
        ("post", "/api/v1/login"),
        ("post", "/api/v1/logout"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/me/calendar-token"),
        ("get", "/api/v1/me/privacy"),
        ("get", "/api/v1/me/contacts"),
        ("post", "/api/v1/me/contacts"),
        ("post", "/api/v1/me/contacts/verify"),
        ("post", "/api/v1/enterprises"),
        ("post", "/api/v1/claims"),
        ("get", "/api/v1/admin/claims"),
        ("post", "/api/v1/admin/claims/{id}/{action}"),
        ("get", "/api/v1/admin/accounts"),
        ("post", "/api/v1/admin/accounts"),
        ("post", "/api/v1/admin/accounts/{id}/disable"),
        ("post", "/api/v1/admin/accounts/{id}/enable"),
        ("post", "/api/v1/admin/accounts/{id}/password"),
        ("get", "/api/v1/programs"),
        ("post", "/api/v1/programs"),
        ("get", "/api/v1/programs/{id}"),
        ("put", "/api/v1/programs/{id}"),
        ("delete", "/api/v1/programs/{id}"),
        ("post", "/api/v1/programs/{id}/sessions"),
        ("post", "/api/v1/programs/{id}/schedule"),
        ("put", "/api/v1/sessions/{id}"),
        ("delete", "/api/v1/sessions/{id}"),
        ("get", "/api/v1/sessions/{id}/registrations"),
        ("post", "/api/v1/sessions/{id}/registrations"),
        ("delete", "/api/v1/sessions/{id}/registrations/mine"),
        (
            "post",
            "/api/v1/sessions/{id}/registrations/{enterprise_id}/removal",
        ),
        ("post", "/api/v1/sessions/{id}/recording"),
        ("get", "/api/v1/jobs/{id}"),
        ("post", "/api/v1/jobs/{id}/retry"),
        ("get", "/api/v1/jobs/{id}/events"),
        ("post", "/api/v1/lectures/{id}/progress"),
        ("post", "/api/v1/lectures/{id}/captions"),
        ("delete", "/api/v1/lectures/{id}/captions/{kind}"),
        ("get", "/api/v1/sessions/{id}/live"),
        ("post", "/api/v1/sessions/{id}/live/key"),
        ("post", "/api/v1/sessions/{id}/live/watch"),
        ("get", "/api/v1/checkup/questionnaire"),
        ("post", "/api/v1/checkup/submissions"),
        ("get", "/api/v1/checkup/draft"),
        ("get", "/api/v1/checkup/reports/{id}"),
        ("delete", "/api/v1/checkup/reports/{id}"),
        ("get", "/api/v1/checkup/reports/{id}/access-log"),
        ("get", "/api/v1/checkup/consent"),
        ("post", "/api/v1/checkup/consent"),
        ("get", "/api/v1/notifications"),
        ("post", "/api/v1/notifications/{id}/read"),
        ("post", "/api/v1/notifications/read-all"),
        ("get", "/api/v1/me/notification-preferences"),
        ("put", "/api/v1/me/notification-preferences"),
        ("get", "/api/v1/deliveries"),
        ("post", "/api/v1/sessions/{id}/messages"),
        ("post", "/api/v1/password/forgot"),
        ("post", "/api/v1/password/reset"),
        ("get", "/api/v1/me/profile"),
        ("put", "/api/v1/me/profile"),
        ("post", "/api/v1/me/profile/mobile"),
        ("post", "/api/v1/me/profile/mobile/verify"),
        ("delete", "/api/v1/me"),
        ("get", "/api/v1/qa"),
        ("get", "/api/v1/qa/{id}"),
        ("post", "/api/v1/questions/{id}/publication"),
        ("post", "/api/v1/qa/{id}/approval"),
        ("post", "/api/v1/qa/{id}/withdrawal"),
        ("get", "/api/v1/advisor-groups"),
        ("post", "/api/v1/advisor-groups"),
        ("put", "/api/v1/advisor-groups/{id}"),
        ("delete", "/api/v1/advisor-groups/{id}"),
        // 企问律答: questions and lawyer profiles (issue 16)
        ("post", "/api/v1/questions"),
        ("get", "/api/v1/questions"),
        ("get", "/api/v1/questions/{id}"),
        ("post", "/api/v1/questions/{id}/messages"),
        ("post", "/api/v1/questions/{id}/close"),
        ("post", "/api/v1/questions/{id}/assignment"),
        ("post", "/api/v1/questions/{id}/answered-live"),
        ("get", "/api/v1/sessions/{id}/questions"),
        ("get", "/api/v1/lawyers"),
        ("put", "/api/v1/lawyers/{id}/profile"),
        ("get", "/api/v1/followups"),
        ("get", "/api/v1/followups/{id}"),
        ("post", "/api/v1/followups/{id}/contacts"),
        ("post", "/api/v1/followups/{id}/assignment"),
        ("get", "/api/v1/loop"),
        ("get", "/api/v1/planning/proposals"),
        ("post", "/api/v1/planning/programs"),
        ("get", "/healthz"),
    ];

    /// Operations a visitor without a login may call.
    const PUBLIC: &[&str] = &[
        "post /api/v1/login",
        "post /api/v1/logout",
        "post /api/v1/enterprises",
        "post /api/v1/claims",
        "get /api/v1/programs",
        "get /api/v1/programs/{id}",
        "get /api/v1/checkup/questionnaire",
        "post /api/v1/password/forgot",
        "post /api/v1/password/reset",
        "get /api/v1/qa",
        "get /api/v1/qa/{id}",
        "get /healthz",
    ];

    fn operations() -> Vec<(String, Operation)> {
        let doc = crate::http::openapi_document();
        let mut found = Vec::new();
        for (path, item) in doc.paths.paths {
            for (method, op) in [
                ("get", item.get),
                ("post", item.post),
                ("put", item.put),
                ("delete", item.delete),
                ("patch", item.patch),
            ] {
                if let Some(op) = op {
                    found.push((format!("{method} {path}"), op));
                }
            }
        }
        found
    }

    fn statuses(op: &Operation) -> Vec<&str> {
        op.responses.responses.keys().map(String::as_str).collect()
    }

    /// utoipa names a component after the type alone, so two `ToSchema` types with the same
    /// name in different modules silently share one schema: the document then describes one of
    /// them wrongly (it happened to the follow-ups' `ContactView` and the contacts' one).
    #[test]
    fn schema_type_names_are_unique() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rust_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        let mut clashes = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read file");
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if !(line.trim_start().starts_with("#[derive(") && line.contains("ToSchema")) {
                    continue;
                }
                // the type is declared within the next few lines (after doc or serde attributes)
                let name = lines[i + 1..].iter().take(6).find_map(|l| {
                    let l = l
                        .trim_start()
                        .strip_prefix("pub ")
                        .unwrap_or(l.trim_start());
                    let rest = l
                        .strip_prefix("struct ")
                        .or_else(|| l.strip_prefix("enum "))?;
                    Some(
                        rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    )
                });
                let Some(name) = name else { continue };
                let at = format!("{}:{}", file.display(), i + 1);
                if let Some(first) = seen.insert(name.clone(), at.clone()) {
                    clashes.push(format!("{name}: {first} and {at}"));
                }
            }
        }
        assert!(seen.len() > 50, "the scan found the schema types");
        assert!(clashes.is_empty(), "schema names used twice: {clashes:#?}");
    }

    /// The whole document is snapshotted, so an operation that goes missing, changes its
    /// shape or appears without review fails the build (`cargo insta review` or
    /// `INSTA_UPDATE=always cargo test` accepts an intended change).
    #[test]
    fn document_snapshot() {
        insta::assert_json_snapshot!("openapi", crate::http::openapi_document());
    }

    #[test]
    fn every_api_operation_is_documented() {
        let found: Vec<String> = operations().into_iter().map(|(name, _)| name).collect();
        for (method, path) in OPERATIONS {
            let name = format!("{method} {path}");
            assert!(found.contains(&name), "{name} missing from {found:?}");
        }
        assert_eq!(
            found.len(),
            OPERATIONS.len(),
            "an operation is documented that OPERATIONS does not list: {found:?}"
        );
    }

    /// Error responses are problem+json with the `Problem` schema, through the shared
    /// response components.
    #[test]
    fn every_error_response_is_problem_json() {
        let doc = crate::http::openapi_document();
        let components = doc.components.expect("components");
        for (name, op) in operations() {
            if name == "get /healthz" {
                continue; // 503 {"status": "unavailable"} for load balancers, not a problem
            }
            let errors: Vec<_> = op
                .responses
                .responses
                .iter()
                .filter(|(status, _)| !status.starts_with('2'))
                .collect();
            assert!(
                !errors.is_empty()
                    || name == "get /api/v1/programs"
                    || name == "get /api/v1/checkup/questionnaire",
                "{name} documents no error response"
            );
            for (status, response) in errors {
                let RefOr::Ref(r) = response else {
                    panic!(
                        "{name} {status}: inline error response; use a shared one from openapi.rs"
                    );
                };
                let component = r.ref_location.trim_start_matches("#/components/responses/");
                let Some(RefOr::T(resp)) = components.responses.get(component) else {
                    panic!("{name} {status}: unknown response {component}");
                };
                assert!(
                    resp.content.contains_key("application/problem+json"),
                    "{name} {status}: not problem+json"
                );
            }
        }
    }

    /// Operations that need a login say so (security scheme + 401); public ones do not.
    #[test]
    fn login_is_declared_where_needed() {
        for (name, op) in operations() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            if PUBLIC.contains(&name.as_str()) {
                assert!(!secured, "{name} is public but declares security");
            } else {
                assert!(secured, "{name} needs a login but declares no security");
                assert!(statuses(&op).contains(&"401"), "{name}: 401 missing");
            }
        }
    }

    /// The middleware and extractors answer these for every operation of the kind, so each
    /// such operation lists them: 403 (cross-site `Origin`) on state-changing requests; 400
    /// (not JSON, wrong types), 413 and 415 on JSON bodies; 404 for a path id that is not a
    /// number or not found.
    #[test]
    fn generic_errors_are_declared() {
        for (name, op) in operations() {
            let listed = statuses(&op);
            let state_changing = !name.starts_with("get ");
            if state_changing {
                assert!(listed.contains(&"403"), "{name}: 403 (CSRF) missing");
            }
            let json_body = op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json"));
            if json_body {
                for status in ["400", "413", "415"] {
                    assert!(listed.contains(&status), "{name}: {status} missing");
                }
            }
            if name.contains('{') {
                assert!(listed.contains(&"404"), "{name}: 404 missing");
            }
        }
    }

    /// A body the server accepts without (an empty POST) is documented as optional.
    #[test]
    fn optional_bodies_are_optional() {
        for (name, op) in operations() {
            let optional = [
                "post /api/v1/sessions/{id}/registrations",
                "post /api/v1/programs/{id}/schedule",
                "post /api/v1/logout",
                "post /api/v1/admin/accounts/{id}/password",
                "post /api/v1/admin/claims/{id}/{action}",
            ];
            if let Some(body) = &op.request_body {
                let required = matches!(body.required, Some(Required::True));
                assert_eq!(
                    required,
                    !optional.contains(&name.as_str()),
                    "{name}: request body required = {required}"
                );
            }
        }
    }
}
