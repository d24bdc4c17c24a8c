//! Recording upload (streamed into the media storage), transcode jobs (status, live progress,
//! re-run) and the HLS files themselves, with access checks on every playlist and segment.

use super::extract::{Json, Path};
use super::session::{cookie, CurrentUser, MaybeUser, CSRF_COOKIE};
use super::AppState;
use crate::accounts::Role;
use crate::app::archive as archive_uc;
use crate::app::media as uc;
use crate::archive::Visibility;
use crate::db::jobs::{JobRow, JobState};
use crate::error::{AppError, AppResult};
use crate::media::storage::{FileSource, SourceError, StoredUpload};
use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// How often the job event stream looks at the job.
const JOB_POLL: Duration = Duration::from_secs(1);
/// The job event stream gives up after this many database errors in a row.
const JOB_POLL_MAX_ERRORS: u32 = 5;
/// Read size when serving media files: fewer wake-ups per segment (segments are megabytes).
const SERVE_CHUNK_BYTES: usize = 512 * 1024;

impl From<axum::extract::multipart::MultipartRejection> for AppError {
    fn from(_: axum::extract::multipart::MultipartRejection) -> Self {
        AppError::bad_request(
            "invalid_multipart",
            "上传请求应为 multipart/form-data，录像放在 file 字段",
        )
    }
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

/// A transcode job as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: i64,
    pub state: JobState,
    /// 0..1
    pub progress: f64,
    /// Estimated seconds left while running.
    pub eta_s: Option<f64>,
    /// Why it failed, in Chinese.
    pub error: Option<String>,
    pub lecture_id: i64,
    pub attempts: i64,
}

impl From<&JobRow> for JobView {
    fn from(j: &JobRow) -> Self {
        JobView {
            id: j.id,
            state: j.state,
            progress: j.progress,
            eta_s: j.eta_s.map(|e| e.round()),
            error: j.error.clone(),
            lecture_id: j.lecture_id,
            attempts: j.attempts,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadAnswer {
    pub job_id: i64,
    pub lecture_id: i64,
}

/// The double-submit CSRF check for multipart uploads: the `X-CSRF-Token` header (scripts) or
/// a `csrf` field sent before the file (plain forms) must equal the `pufa_csrf` cookie.
fn csrf_matches(headers: &HeaderMap, field: Option<&str>) -> bool {
    let Some(expected) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    let given = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(field);
    given.is_some_and(|g| !expected.is_empty() && g == expected)
}

/// Upload a session's recording (organizer): multipart field `file`, streamed into the media
/// storage; answers `202 {job_id}` and the transcode runs in the background.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/recording", tag = "media",
    params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", description = "field `file`: the recording; header X-CSRF-Token = the pufa_csrf cookie"),
    responses((status = 202, body = UploadAnswer), (status = 413, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn api_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    uc::check_recording_target(&state.db, id).await?;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let mut csrf_field: Option<String> = None;
    let mut stored: Option<StoredUpload> = None;
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
                if !csrf_matches(&headers, csrf_field.as_deref()) {
                    return Err(AppError::CsrfRejected);
                }
                let file_name = field.file_name().map(str::to_string);
                let upload =
                    uc::store_recording(&*state.storage, file_name.as_deref(), chunks(field))
                        .await?;
                // a second file in one request replaces the first
                if let Some(earlier) = stored.replace(upload) {
                    uc::discard_recording(&*state.storage, &earlier);
                }
            }
            _ => {}
        }
    }
    let Some(upload) = stored else {
        return Err(uc::MediaError::NoFile.into());
    };
    let queued = uc::queue_recording(&state.db, &*state.storage, &state.wake, id, upload).await?;
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

/// A transcode job's state (organizer).
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "media", params(("id" = i64, Path)),
    responses((status = 200, body = JobView), (status = 404, body = crate::error::Problem)))]
pub async fn api_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<JobView>> {
    user.require(Role::Organizer)?;
    Ok(Json(JobView::from(&uc::job(&state.db, id).await?)))
}

/// Run a failed job again (organizer).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "media", params(("id" = i64, Path)),
    responses((status = 200, body = JobView), (status = 409, body = crate::error::Problem)))]
pub async fn api_retry(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<JobView>> {
    user.require(Role::Organizer)?;
    let job = uc::retry(&state.db, &state.wake, id).await?;
    Ok(Json(JobView::from(&job)))
}

/// The "重新转码" button: back to the session's recording section, or the 409 page when the
/// job is not failed (any more).
pub async fn retry_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    super::session::CsrfForm(_): super::session::CsrfForm<
        std::collections::HashMap<String, String>,
    >,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let job = uc::retry(&state.db, &state.wake, id).await?;
    let session_id = uc::session_of(&state.db, &job).await?;
    Ok(Redirect::to(&format!("/admin/sessions/{session_id}#recording")).into_response())
}

/// What the job event stream does next.
enum Poll {
    Watching { errors_in_a_row: u32 },
    Ended,
}

/// The `problem` event that ends a job stream the server cannot continue.
fn problem_event() -> Event {
    Event::default()
        .event("problem")
        .data("暂时无法读取转码进度，请刷新页面")
}

/// Live progress of a job as server-sent events (`event: job`, data = JobView), until it ends.
/// When the job cannot be read for a while, a last `event: problem` (data = a Chinese message)
/// says so instead of the stream just stopping.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "media", params(("id" = i64, Path)),
    responses((status = 200, description = "text/event-stream of `job` events (data = JobView), possibly ending with one `problem` event", content_type = "text/event-stream"),
              (status = 404, body = crate::error::Problem)))]
pub async fn job_events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    user.require(Role::Organizer)?;
    uc::job(&state.db, id).await?;
    let start = Poll::Watching { errors_in_a_row: 0 };
    let stream = stream::unfold((state, start), move |(state, poll)| async move {
        let Poll::Watching { errors_in_a_row } = poll else {
            return None;
        };
        let job = match uc::job(&state.db, id).await {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(job = id, error = %e, "reading a job for its event stream");
                let errors_in_a_row = errors_in_a_row + 1;
                if errors_in_a_row >= JOB_POLL_MAX_ERRORS {
                    return Some((Ok(problem_event()), (state, Poll::Ended)));
                }
                tokio::time::sleep(JOB_POLL).await;
                // nothing to tell yet: a comment keeps the connection's reader waiting
                let event = Event::default().comment("retrying");
                return Some((Ok(event), (state, Poll::Watching { errors_in_a_row })));
            }
        };
        let event = match Event::default().event("job").json_data(JobView::from(&job)) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(job = id, error = %e, "encoding a job event");
                return Some((Ok(problem_event()), (state, Poll::Ended)));
            }
        };
        let next = if job.state.is_finished() {
            Poll::Ended
        } else {
            tokio::time::sleep(JOB_POLL).await;
            Poll::Watching { errors_in_a_row: 0 }
        };
        Some((Ok(event), (state, next)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" | "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "jpg" | "jpeg" => "image/jpeg",
        "ts" => "video/mp2t",
        "vtt" => "text/vtt",
        _ => "application/octet-stream",
    }
}

/// `GET /media/lectures/{id}/{version}/{*file}`: a lecture's HLS files. Playlists are
/// short-lived in caches, segments (named per version) immutable; Range requests work; private
/// lectures check the login on every request.
pub async fn serve_lecture_file(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path((id, version, file)): Path<(i64, String, String)>,
    request: Request,
) -> AppResult<Response> {
    let playable = archive_uc::playable_file(
        &state.db,
        &*state.storage,
        id,
        &version,
        &file,
        user.as_ref(),
    )
    .await?;
    let FileSource::Local(path) = playable.source;
    let mut response = ServeFile::new(&path)
        .with_buf_chunk_size(SERVE_CHUNK_BYTES)
        .oneshot(request)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("serving {file}: {e}")))?
        .map(axum::body::Body::new);
    if response.status() == StatusCode::NOT_FOUND {
        return Err(AppError::NotFound);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    let scope = match playable.visibility {
        Visibility::Public => "public",
        Visibility::Registered => "private",
    };
    let cache = if file.ends_with(".m3u8") {
        format!("{scope}, max-age=10")
    } else {
        format!("{scope}, max-age=31536000, immutable")
    };
    if let Ok(v) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}
