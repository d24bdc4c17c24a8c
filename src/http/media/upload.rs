//! Recording upload: the multipart body streamed into the media storage, then a transcode job.

use crate::accounts::Role;
use crate::app::media as uc;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, Multipart, Path};
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
};
use crate::http::AppState;
use crate::media::storage::{SharedStorage, SourceError, StoredUpload};
use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::{self, Stream};
use serde::Serialize;

/// The body size the client declares, when it declares one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn source_error(e: &MultipartError) -> SourceError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        SourceError::TooLarge
    } else {
        SourceError::Interrupted
    }
}

fn multipart_error(e: &MultipartError) -> AppError {
    match source_error(e) {
        SourceError::TooLarge => uc::MediaError::UploadTooLarge.into(),
        SourceError::Interrupted => uc::MediaError::UploadInterrupted.into(),
    }
}

/// The bytes of a multipart field as they arrive; a broken field ends the stream with the
/// reason.
fn chunks(field: Field<'_>) -> impl Stream<Item = Result<Bytes, SourceError>> + '_ {
    stream::unfold(Some(field), |field| async move {
        let mut field = field?;
        match field.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(field))),
            Ok(None) => None,
            Err(e) => Some((Err(source_error(&e)), None)),
        }
    })
}

/// The recording stored from the request so far. Dropped while still holding it (a refusal
/// later in the body, the client going away), it deletes it: only a queued recording stays.
struct Received {
    storage: SharedStorage,
    upload: Option<StoredUpload>,
}

impl Received {
    /// Delete the stored recording now (a refused request), rather than in the background.
    async fn discard(&mut self) {
        if let Some(upload) = self.upload.take() {
            uc::discard_recording(&*self.storage, &upload).await;
        }
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            // deleting may wait on object storage: not in a destructor
            let storage = self.storage.clone();
            tokio::spawn(async move { uc::discard_recording(&*storage, &upload).await });
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadAnswer {
    pub job_id: i64,
    pub lecture_id: i64,
}

/// The multipart form of an upload, for the API document (the handler reads the fields as
/// they stream in).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The `pufa_csrf` cookie's value, when the `X-CSRF-Token` header is not sent; it must
    /// come before `file`.
    pub csrf: Option<String>,
    /// The recording (any container FFmpeg reads).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Upload a session's recording (organizer): multipart field `file`, streamed into the media
/// storage; answers `202 {job_id}` and the transcode runs in the background. 403 for other
/// roles and when the CSRF token does not match; 422 without a `file` field or for an empty
/// file; 409 for a cancelled session (`session_cancelled`) and while an earlier recording of the
/// session is queued or transcoding (`transcode_running`).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/recording", tag = "media",
    params(("id" = i64, Path),
           ("X-CSRF-Token" = Option<String>, Header, description = "the `pufa_csrf` cookie's value (or send it as the `csrf` field before `file`)"),
           ("pufa_csrf" = Option<String>, Cookie, description = "the CSRF cookie every page sets; the upload is refused (403) unless `X-CSRF-Token` or the `csrf` field equals it")),
    request_body(content = UploadForm, content_type = "multipart/form-data",
                 description = "field `file`: the recording"),
    security(("pufa_session" = [])),
    responses((status = 202, body = UploadAnswer, description = "stored; the transcode job is queued"),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 422, response = Unprocessable)))]
pub async fn api_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Multipart(mut multipart): Multipart,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    // a body declared larger than the limit is refused before a byte of it is read or stored
    if declared_length(&headers).is_some_and(|n| n > state.config.max_upload_bytes) {
        return Err(AppError::PayloadTooLarge);
    }
    uc::check_recording_target(&state.db, id).await?;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let mut stored = Received {
        storage: state.storage.clone(),
        upload: None,
    };
    if let Err(e) = receive(&state, &headers, &mut multipart, &mut stored).await {
        stored.discard().await;
        return Err(e);
    }
    let Some(upload) = stored.upload.take() else {
        return Err(uc::MediaError::NoFile.into());
    };
    let queued = uc::queue_recording(
        &state.db,
        &*state.storage,
        &state.wake,
        id,
        upload,
        state.clock.now(),
        Some(&user.0),
    )
    .await?;
    if wants_html {
        return Ok(Redirect::to(&format!("/admin/sessions/{id}#recording")).into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(UploadAnswer {
            job_id: queued.job_id,
            lecture_id: queued.lecture_id,
        }),
    )
        .into_response())
}

/// Read the multipart body into `stored`: the CSRF field, then one `file`.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    multipart: &mut axum::extract::multipart::Multipart,
    stored: &mut Received,
) -> AppResult<()> {
    let mut csrf_field: Option<String> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        match field.name() {
            Some("csrf") => {
                csrf_field = Some(field.text().await.map_err(|e| multipart_error(&e))?);
            }
            Some("file") => {
                if !crate::http::csrf::double_submit_ok(headers, csrf_field.as_deref()) {
                    return Err(AppError::CsrfRejected);
                }
                // one recording per request: a second file is refused (and the first dropped)
                if stored.upload.is_some() {
                    return Err(AppError::field("file", "每次只能上传一个录像文件"));
                }
                let file_name = field.file_name().map(str::to_string);
                let upload =
                    uc::store_recording(&*state.storage, file_name.as_deref(), chunks(field))
                        .await?;
                stored.upload = Some(upload);
            }
            _ => {}
        }
    }
    Ok(())
}
