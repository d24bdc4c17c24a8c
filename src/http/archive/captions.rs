//! Caption and chapter uploads (issue 17): the API (`POST` and `DELETE
//! /api/v1/lectures/{id}/captions`) and the form on the lecture page, which shows a broken
//! file's error beside the form.

use super::lectures::{lecture_view, LecturePage, PanelMessage};
use crate::app::captions as uc;
use crate::archive::captions::MAX_BYTES;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::{double_submit_ok, CsrfForm};
use crate::http::extract::{Json, Multipart, Path};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
};
use crate::http::AppState;
use axum::extract::multipart::MultipartError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The largest request body of an upload: the file and the small fields around it.
pub const MAX_REQUEST: usize = MAX_BYTES + 64 * 1024;

/// The multipart form of a caption upload, for the API document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CaptionsForm {
    /// The `pufa_csrf` cookie's value, when the `X-CSRF-Token` header is not sent; it must
    /// come before `file`.
    pub csrf: Option<String>,
    /// `subtitles` (default) or `chapters`.
    pub kind: Option<crate::archive::captions::TrackKind>,
    /// A WebVTT or SRT file (UTF-8, UTF-16 with BOM or GB18030), at most 2 MB.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

fn multipart_error(e: &MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("unreadable_body", "上传中断或内容无法读取，请重新上传")
    }
}

/// The fields of an upload: kind and file, after the CSRF check.
async fn read_upload(
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> AppResult<(String, Vec<u8>)> {
    let mut csrf: Option<String> = None;
    let mut kind = String::from("subtitles");
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = multipart
        .0
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            Some("kind") => kind = field.text().await.map_err(|e| multipart_error(&e))?,
            Some("file") => {
                if !double_submit_ok(headers, csrf.as_deref()) {
                    return Err(AppError::CsrfRejected);
                }
                if file.is_some() {
                    return Err(AppError::field("file", "每次只能上传一个字幕文件"));
                }
                let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
                if bytes.len() > MAX_BYTES {
                    return Err(AppError::PayloadTooLarge);
                }
                file = Some(bytes.to_vec());
            }
            _ => {}
        }
    }
    if !double_submit_ok(headers, csrf.as_deref()) {
        return Err(AppError::CsrfRejected);
    }
    match file {
        Some(f) if !f.is_empty() => Ok((kind.trim().to_string(), f)),
        _ => Err(AppError::field(
            "file",
            "请选择要上传的 WebVTT 或 SRT 字幕文件",
        )),
    }
}

/// Upload a lecture's captions or chapters (organizers and the lecture's lecturer): multipart
/// fields `kind` (`subtitles` or `chapters`) and `file` (WebVTT or SRT; SRT is converted to
/// WebVTT). A new file replaces the earlier one of its kind. Captions then appear in the
/// lecture's master playlist as an `EXT-X-MEDIA:TYPE=SUBTITLES` rendition (language `zh`);
/// chapters on the player page. 422 names the line at fault (`第 6 行：…`).
#[utoipa::path(post, path = "/api/v1/lectures/{id}/captions", tag = "archive",
    params(("id" = i64, Path),
           ("X-CSRF-Token" = Option<String>, Header, description = "the `pufa_csrf` cookie's value (or send it as the `csrf` field before `file`)"),
           ("pufa_csrf" = Option<String>, Cookie, description = "the CSRF cookie every page sets")),
    request_body(content = CaptionsForm, content_type = "multipart/form-data"),
    security(("pufa_session" = [])),
    responses((status = 201, body = uc::TrackSummary, description = "stored"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 413, response = PayloadTooLarge),
              (status = 422, response = Unprocessable)))]
pub async fn api_upload_captions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    multipart: Multipart,
) -> AppResult<Response> {
    let (kind, bytes) = read_upload(&headers, multipart).await?;
    let summary = uc::upload(&state.db, state.clock.now(), &user, id, &kind, &bytes).await?;
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}

/// Remove a lecture's captions (`subtitles`) or chapters (`chapters`).
#[utoipa::path(delete, path = "/api/v1/lectures/{id}/captions/{kind}", tag = "archive",
    params(("id" = i64, Path), ("kind" = crate::archive::captions::TrackKind, Path, description = "`subtitles` or `chapters`"),
           ("X-CSRF-Token" = String, Header, description = "the `pufa_csrf` cookie's value"),
           ("pufa_csrf" = Option<String>, Cookie, description = "the CSRF cookie every page sets")),
    security(("pufa_session" = [])),
    responses((status = 204, description = "removed"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 422, response = Unprocessable)))]
pub async fn api_delete_captions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, kind)): Path<(i64, String)>,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    if !double_submit_ok(&headers, None) {
        return Err(AppError::CsrfRejected);
    }
    uc::remove(&state.db, state.clock.now(), &user, id, &kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The form on the lecture page: stored → back to the page with a notice; a broken file →
/// the page again with the error beside the form.
pub async fn upload_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    multipart: Multipart,
) -> AppResult<Response> {
    let result = match read_upload(&headers, multipart).await {
        Ok((kind, bytes)) => uc::upload(&state.db, state.clock.now(), &user, id, &kind, &bytes)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("/lectures/{id}?notice=captions_saved#captions")).into_response(),
        ),
        Err(AppError::Validation(errors)) => {
            let message = errors
                .0
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let page: LecturePage =
                lecture_view(&state, layout, Some(user), id, PanelMessage::Error(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[allow(dead_code)]
    csrf: String,
}

/// `POST /lectures/{id}/captions/{kind}/delete` from the lecture page.
pub async fn remove_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, kind)): Path<(i64, String)>,
    CsrfForm(_): CsrfForm<RemoveForm>,
) -> AppResult<Redirect> {
    uc::remove(&state.db, state.clock.now(), &user, id, &kind).await?;
    Ok(Redirect::to(&format!(
        "/lectures/{id}?notice=captions_removed#captions"
    )))
}
