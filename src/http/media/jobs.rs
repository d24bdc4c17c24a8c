//! Transcode jobs: status, re-run, and live progress as server-sent events.

use crate::accounts::Role;
use crate::app::media as uc;
use crate::db::jobs::{JobRow, JobState};
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::extract::{Json, Path};
use crate::http::openapi::{Conflict, Forbidden, NotFound, Unauthorized};
use crate::http::AppState;
use axum::extract::State;
use axum::http::HeaderName;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream;
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;

/// How often the job event stream looks at the job.
const JOB_POLL: Duration = Duration::from_secs(1);
/// The job event stream gives up after this many database errors in a row.
const JOB_POLL_MAX_ERRORS: u32 = 5;

/// A transcode job as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: i64,
    pub state: JobState,
    /// 0..1
    pub progress: f64,
    /// Estimated seconds left while running.
    #[schema(required = true)]
    pub eta_s: Option<f64>,
    /// Why it failed, in Chinese.
    #[schema(required = true)]
    pub error: Option<String>,
    pub lecture_id: i64,
    pub attempts: i64,
    /// The transcoding path taken: `remux` (the top rung copies the source video) or
    /// `transcode` (every rung encoded); null until the transcode finished.
    #[schema(required = true)]
    pub path: Option<String>,
    /// Why that path, a stable code: `eligible`, `disabled`, `no_video`, `not_h264`,
    /// `pixel_format`, `larger_than_top_rung`, `size_not_on_ladder`, `frame_rate_too_high`,
    /// `gop_too_long`, `no_keyframe_at_start`, `unscannable`.
    #[schema(required = true)]
    pub path_reason: Option<String>,
    /// The same in Chinese, e.g. 快速路径：复制原视频（GOP 1.0 s）.
    #[schema(required = true)]
    pub path_note: Option<String>,
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
            path: j.path.clone(),
            path_reason: j.path_reason.clone(),
            path_note: j.path_note.clone(),
        }
    }
}

/// A transcode job's state (organizer).
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "media", params(("id" = i64, Path)),
    security(("pufa_session" = [])),
    responses((status = 200, body = JobView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<JobView>> {
    user.require(Role::Organizer)?;
    Ok(Json(JobView::from(&uc::job(&state.db, id).await?)))
}

/// Run a failed job again (organizer); 409 when the job has not failed.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "media", params(("id" = i64, Path)),
    security(("pufa_session" = [])),
    responses((status = 200, body = JobView), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, response = Conflict)))]
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
    crate::http::csrf::CsrfForm(_): crate::http::csrf::CsrfForm<
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
    security(("pufa_session" = [])),
    responses((status = 200, description = "text/event-stream of `job` events (data = JobView), possibly ending with one `problem` event", content_type = "text/event-stream"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound)))]
pub async fn job_events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<impl IntoResponse> {
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
                    return Some((Ok::<_, Infallible>(problem_event()), (state, Poll::Ended)));
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
                return Some((Ok::<_, Infallible>(problem_event()), (state, Poll::Ended)));
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
    // nginx buffers proxied responses by default, which would hold every event back until
    // the stream ends; this header turns that off for this response only
    let no_proxy_buffering = [(HeaderName::from_static("x-accel-buffering"), "no")];
    Ok((
        no_proxy_buffering,
        Sse::new(stream).keep_alive(KeepAlive::default()),
    ))
}
