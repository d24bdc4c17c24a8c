//! Recording upload (streamed to disk), transcode jobs (status, live progress, re-run) and the
//! HLS files themselves, with access checks on every playlist and segment.

use super::extract::{Json, Path};
use super::session::{cookie, CurrentUser, MaybeUser, CSRF_COOKIE};
use super::AppState;
use crate::accounts::{Role, User};
use crate::db::media::{JobRow, LectureRow};
use crate::error::{AppError, AppResult};
use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;
use tower_http::services::ServeFile;

impl From<axum::extract::multipart::MultipartRejection> for AppError {
    fn from(_: axum::extract::multipart::MultipartRejection) -> Self {
        AppError::bad_request(
            "invalid_multipart",
            "上传请求应为 multipart/form-data，录像放在 file 字段",
        )
    }
}

fn multipart_error(e: &MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("upload_interrupted", "上传中断或内容不完整，请重新上传")
    }
}

/// A transcode job as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: i64,
    /// queued | running | done | failed
    pub state: String,
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
            state: j.state.clone(),
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

/// Upload a session's recording (organizer): multipart field `file`, streamed to disk; answers
/// `202 {job_id}` and the transcode runs in the background.
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
    crate::app::schedule::session(&state.db, id).await?;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let mut csrf_field: Option<String> = None;
    let mut stored: Option<(String, std::path::PathBuf)> = None;
    while let Some(mut field) = multipart
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
                let ext = field
                    .file_name()
                    .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_string()))
                    .unwrap_or_default();
                let (rel, partial, final_path) = state
                    .storage
                    .new_upload(&ext)
                    .map_err(anyhow::Error::from)?;
                let mut file = tokio::fs::File::create(&partial)
                    .await
                    .map_err(anyhow::Error::from)?;
                let mut size: u64 = 0;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            if let Err(e) = file.write_all(&chunk).await {
                                let _ = tokio::fs::remove_file(&partial).await;
                                return Err(AppError::Internal(e.into()));
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            drop(file);
                            let _ = tokio::fs::remove_file(&partial).await;
                            return Err(multipart_error(&e));
                        }
                    }
                }
                if let Err(e) = file.sync_all().await {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(AppError::Internal(e.into()));
                }
                drop(file);
                if size == 0 {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(AppError::field("file", "上传的录像文件是空的"));
                }
                tokio::fs::rename(&partial, &final_path)
                    .await
                    .map_err(anyhow::Error::from)?;
                stored = Some((rel, final_path));
            }
            _ => {}
        }
    }
    let Some((rel, final_path)) = stored else {
        return Err(AppError::field(
            "file",
            "请选择要上传的录像文件（file 字段）",
        ));
    };
    let (lecture_id, job_id) = match state.db.queue_recording(id, &rel).await {
        Ok(ids) => ids,
        Err(e) => {
            let _ = tokio::fs::remove_file(&final_path).await;
            return Err(e.into());
        }
    };
    state.wake.notify_waiters();
    if wants_html {
        return Ok(Redirect::to(&format!("/admin/sessions/{id}#recording")).into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(UploadAnswer { job_id, lecture_id }),
    )
        .into_response())
}

async fn load_job(state: &AppState, id: i64) -> AppResult<JobRow> {
    state.db.job(id).await?.ok_or(AppError::NotFound)
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
    Ok(Json(JobView::from(&load_job(&state, id).await?)))
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
    load_job(&state, id).await?;
    if !state.db.retry_job(id).await? {
        return Err(AppError::conflict(
            "job_not_failed",
            "只有失败的转码任务可以重新运行",
        ));
    }
    state.wake.notify_waiters();
    Ok(Json(JobView::from(&load_job(&state, id).await?)))
}

/// The "重新转码" button.
pub async fn retry_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    super::session::CsrfForm(_): super::session::CsrfForm<
        std::collections::HashMap<String, String>,
    >,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let job = load_job(&state, id).await?;
    state.db.retry_job(id).await?;
    state.wake.notify_waiters();
    let lecture = state
        .db
        .lecture(job.lecture_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Redirect::to(&format!("/admin/sessions/{}#recording", lecture.session_id)).into_response())
}

/// Live progress of a job as server-sent events (`event: job`, data = JobView), until it ends.
pub async fn job_events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    user.require(Role::Organizer)?;
    load_job(&state, id).await?;
    let stream = stream::unfold((state, false), move |(state, finished)| async move {
        if finished {
            return None;
        }
        let job = match state.db.job(id).await {
            Ok(Some(j)) => j,
            _ => return None,
        };
        let view = JobView::from(&job);
        let ended = matches!(job.state.as_str(), "done" | "failed");
        let event = Event::default()
            .event("job")
            .json_data(&view)
            .unwrap_or_else(|_| Event::default().event("job"));
        if !ended {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Some((Ok(event), (state, ended)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Whether `user` may watch `lecture`: public lectures are open to everyone, the others to
/// logged-in accounts.
pub fn may_watch(lecture: &LectureRow, user: Option<&User>) -> bool {
    lecture.is_public() || user.is_some()
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
    let lecture = state.db.lecture(id).await?.ok_or(AppError::NotFound)?;
    let Some(published) = lecture.hls_path.as_deref() else {
        return Err(AppError::NotFound);
    };
    // only the published version is served; half-made output never is
    if published.rsplit('/').next() != Some(version.as_str()) {
        return Err(AppError::NotFound);
    }
    if !may_watch(&lecture, user.as_ref()) {
        return Err(AppError::Unauthorized);
    }
    let path = state
        .storage
        .resolve(&format!("{published}/{file}"))
        .ok_or(AppError::NotFound)?;
    // large chunks: fewer wake-ups per segment (segments are megabytes)
    let mut response = ServeFile::new(&path)
        .with_buf_chunk_size(512 * 1024)
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
    let scope = if lecture.is_public() {
        "public"
    } else {
        "private"
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
