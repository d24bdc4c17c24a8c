//! The one error type of the server.
//!
//! Every handler returns `Result<_, AppError>`. An error renders as `application/problem+json`
//! (RFC 9457) with a stable `code` and a Chinese `detail`; for browser pages the
//! [`crate::http::errors`] middleware turns the same error into an HTML page. Internal errors are
//! logged with their details and shown without them.

use crate::validation::{FieldError, FieldErrors};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("bad request: {message}")]
    BadRequest { code: &'static str, message: String },
    /// A JSON body that parses but does not fit: a field of the wrong type, a missing or an
    /// unknown field, or not an object at all (400 `invalid_json_fields`, one message each).
    #[error("invalid JSON fields")]
    InvalidJson(FieldErrors),
    #[error("not logged in")]
    Unauthorized,
    #[error("bad credentials")]
    BadCredentials,
    #[error("forbidden")]
    Forbidden,
    #[error("cross-site request refused")]
    CsrfRejected,
    #[error("not found")]
    NotFound,
    #[error("conflict: {message}")]
    Conflict { code: &'static str, message: String },
    #[error("too many requests")]
    TooManyRequests { retry_after_s: u64, message: String },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request took too long")]
    Timeout,
    /// A service pufa depends on (the mail relay, the SMS gateway) failed; retry later.
    #[error("unavailable: {message}")]
    Unavailable { code: &'static str, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Validation(e)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A validation error on a single field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(FieldErrors::single(field, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } | AppError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Timeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code clients may branch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::BadRequest { code, .. } => code,
            AppError::InvalidJson(_) => "invalid_json_fields",
            AppError::Unauthorized => "unauthenticated",
            AppError::BadCredentials => "bad_credentials",
            AppError::Forbidden => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::NotFound => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Timeout => "request_timeout",
            AppError::Unavailable { code, .. } => code,
            AppError::Internal(_) => "internal_error",
        }
    }

    /// A short Chinese title for the kind of error.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "提交的内容有误",
            AppError::BadRequest { .. } | AppError::InvalidJson(_) => "请求有误",
            AppError::Unauthorized => "需要登录",
            AppError::BadCredentials => "登录失败",
            AppError::Forbidden => "无权访问",
            AppError::CsrfRejected => "请求被拒绝",
            AppError::NotFound => "页面不存在",
            AppError::Conflict { .. } => "操作冲突",
            AppError::TooManyRequests { .. } => "尝试次数过多",
            AppError::PayloadTooLarge => "内容过大",
            AppError::UnsupportedMediaType => "格式不受支持",
            AppError::MethodNotAllowed => "不支持的请求方式",
            AppError::Timeout => "请求超时",
            AppError::Unavailable { .. } => "服务暂不可用",
            AppError::Internal(_) => "服务器内部错误",
        }
    }

    /// The human explanation in Chinese. Never contains internal details.
    pub fn detail(&self) -> String {
        match self {
            AppError::Validation(errors) | AppError::InvalidJson(errors) => {
                let parts: Vec<&str> = errors
                    .0
                    .iter()
                    .take(MAX_LISTED_ERRORS)
                    .map(|e| e.message.as_str())
                    .collect();
                if parts.is_empty() {
                    return "提交的内容有误，请检查后重试。".to_string();
                }
                let mut detail = parts.join("；");
                if errors.0.len() > MAX_LISTED_ERRORS {
                    detail.push_str(&format!("；……共{}处错误", errors.0.len()));
                }
                detail
            }
            AppError::BadRequest { message, .. } => message.clone(),
            AppError::Unauthorized => "请先登录后再进行此操作。".into(),
            AppError::BadCredentials => "账号或密码错误，请重新输入。".into(),
            AppError::Forbidden => "您的账号无权访问此内容。".into(),
            AppError::CsrfRejected => {
                "请求来源校验失败（可能来自其他网站或页面已过期），请刷新页面后重试。".into()
            }
            AppError::NotFound => "您访问的内容不存在或已被删除。".into(),
            AppError::Conflict { message, .. } => message.clone(),
            AppError::TooManyRequests { message, .. } => message.clone(),
            AppError::PayloadTooLarge => "提交的内容超过了允许的大小。".into(),
            AppError::UnsupportedMediaType => {
                "请求的内容格式不受支持，请使用 application/json。".into()
            }
            AppError::MethodNotAllowed => "此地址不支持该请求方式。".into(),
            AppError::Timeout => "请求处理时间过长，已中止，请稍后重试。".into(),
            AppError::Unavailable { message, .. } => message.clone(),
            AppError::Internal(_) => "服务器处理请求时出错，请稍后重试。".into(),
        }
    }
}

/// At most this many field messages are listed in one error: a body of 100,000 bad entries must
/// not come back as megabytes of messages.
pub const MAX_LISTED_ERRORS: usize = 20;

/// The problem+json body (RFC 9457) with pufa's extensions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// What the HTML error middleware needs to render the same error as a page.
#[derive(Debug, Clone)]
pub struct RenderedError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        let problem = Problem {
            kind: format!("urn:pufa:problem:{}", self.code()),
            title: self.title().to_string(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().to_string(),
            errors: match &self {
                AppError::Validation(errors) | AppError::InvalidJson(errors) => {
                    errors.0.iter().take(MAX_LISTED_ERRORS).cloned().collect()
                }
                _ => Vec::new(),
            },
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let AppError::TooManyRequests { retry_after_s, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response.extensions_mut().insert(RenderedError {
            status,
            code: self.code(),
            title: self.title(),
            detail: problem.detail,
        });
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
