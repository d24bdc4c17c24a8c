//! The live API: a session's live state for anyone who may watch it (with the ingest URLs and
//! figures for its managers), key rotation, and live watch reports.

use crate::app::live::view::{
    self as uc, keyframe_interval_off, IngestInfo, LiveFigures, LiveState, LiveView,
};
use crate::error::{AppError, AppResult};
use crate::http::auth::{CurrentUser, MaybeUser};
use crate::http::extract::{Json, Path};
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::views::format::rfc3339;
use crate::http::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The URLs a lecturer publishes to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestAnswer {
    /// The session's secret stream key.
    pub stream_key: String,
    /// `rtmp://HOST:PORT/live/{stream_key}`; null when RTMP ingest is off.
    #[schema(required = true)]
    pub rtmp_url: Option<String>,
    /// `srt://HOST:PORT?streamid={stream_key}&latency=…` (microseconds, as ffmpeg and OBS read
    /// it); null when SRT ingest is off.
    #[schema(required = true)]
    pub srt_url: Option<String>,
}

impl From<IngestInfo> for IngestAnswer {
    fn from(i: IngestInfo) -> Self {
        IngestAnswer {
            stream_key: i.stream_key,
            rtmp_url: i.rtmp_url,
            srt_url: i.srt_url,
        }
    }
}

/// One rung of the live ladder.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RungAnswer {
    /// e.g. `720p` or `audio`.
    pub name: String,
    /// 0 for audio.
    pub width: u32,
    pub height: u32,
    /// The source video copied unchanged.
    pub passthrough: bool,
    /// False once the real-time guard dropped it.
    pub active: bool,
    pub segments: u64,
}

/// A rung the real-time guard dropped.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DroppedRungAnswer {
    pub name: String,
    /// How far behind live the encoder was, in milliseconds.
    pub lag_ms: u64,
}

/// A refused publish attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusalAnswer {
    /// RFC 3339 with the program's offset.
    pub at: String,
    /// `rtmp` or `srt`.
    pub protocol: String,
    /// Stable code: `unknown_key`, `rotated_key`, `cancelled`, `unplaced`, `too_early`,
    /// `too_late`, `already_live`, `wrong_path`, `unavailable`.
    pub code: String,
    /// Why, in Chinese.
    pub reason: String,
    /// The publisher's address (organizers only; null for the lawyer).
    #[schema(required = true)]
    pub remote: Option<String>,
}

/// Viewers at one instant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewerSample {
    pub at: String,
    pub viewers: i64,
}

/// The ingest as organizers and the session's lawyer see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveFiguresAnswer {
    /// The packager: `probing`, `live`, `finished`, `cancelled` or `failed`.
    pub packager: String,
    #[schema(required = true)]
    pub video_codec: Option<String>,
    pub source_width: u32,
    pub source_height: u32,
    /// Incoming bits per second (all streams).
    pub incoming_bitrate_bps: u64,
    pub incoming_fps: f64,
    /// The last measured source keyframe interval; should be about 2 s.
    #[schema(required = true)]
    pub keyframe_interval_s: Option<f64>,
    /// The keyframe interval is not about 2 s.
    pub keyframe_warning: bool,
    /// How far behind real time packaging runs, in milliseconds.
    pub lag_ms: u64,
    /// Seconds of media packaged in the current period.
    pub media_time_s: f64,
    pub rungs: Vec<RungAnswer>,
    /// Rungs the encoder could not keep up with (the lowest go first).
    pub dropped_rungs: Vec<DroppedRungAnswer>,
    pub viewers: u64,
    pub peak_viewers: u64,
    /// Newest first (the latest 20).
    pub refusals: Vec<RefusalAnswer>,
    /// Viewers over time of the latest live, oldest first (every 10 s).
    pub viewer_samples: Vec<ViewerSample>,
}

impl LiveFiguresAnswer {
    fn new(f: LiveFigures, viewers: usize, tz: Tz) -> Self {
        let status = f.status;
        LiveFiguresAnswer {
            packager: serde_json::to_value(status.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            video_codec: status.video_codec,
            source_width: status.source_width,
            source_height: status.source_height,
            incoming_bitrate_bps: status.incoming_bitrate_bps,
            incoming_fps: (status.incoming_fps * 10.0).round() / 10.0,
            keyframe_warning: keyframe_interval_off(status.keyframe_interval_s),
            keyframe_interval_s: status.keyframe_interval_s,
            lag_ms: status.lag_ms,
            media_time_s: status.media_time_s,
            rungs: status
                .renditions
                .into_iter()
                .map(|r| RungAnswer {
                    name: r.name,
                    width: r.width,
                    height: r.height,
                    passthrough: r.passthrough,
                    active: r.active,
                    segments: r.segments,
                })
                .collect(),
            dropped_rungs: f
                .dropped_rungs
                .into_iter()
                .map(|(name, lag_ms)| DroppedRungAnswer { name, lag_ms })
                .collect(),
            viewers: viewers as u64,
            peak_viewers: f.peak_viewers as u64,
            refusals: f
                .refusals
                .into_iter()
                .map(|r| RefusalAnswer {
                    at: rfc3339(&r.at, tz),
                    protocol: r.protocol,
                    code: r.code,
                    reason: r.reason_zh,
                    remote: r.remote,
                })
                .collect(),
            viewer_samples: f
                .viewer_samples
                .into_iter()
                .map(|(at, viewers)| ViewerSample {
                    at: rfc3339(&at, tz),
                    viewers,
                })
                .collect(),
        }
    }
}

/// A session's live.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveAnswer {
    /// `idle` (no live yet), `live` (streaming, or within the reconnect grace period) or
    /// `ended` (the replay is being made or published).
    pub state: LiveState,
    /// The live's master playlist while this server has the live and its packaging started
    /// (also shortly after its end); null otherwise.
    #[schema(required = true)]
    pub hls_url: Option<String>,
    /// The current or latest live's id.
    #[schema(required = true)]
    pub live_id: Option<i64>,
    /// RFC 3339 with the program's offset.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When the publisher went away (grace) or the live ended.
    #[schema(required = true)]
    pub ended_at: Option<String>,
    /// People watching now.
    pub viewers: u64,
    /// The published lecture (the replay) of the session.
    #[schema(required = true)]
    pub lecture_id: Option<i64>,
    /// The live ended and its replay is not published yet (回放生成中).
    pub replay_pending: bool,
    /// The scheduled start, RFC 3339 with the program's offset; null when not placed.
    #[schema(required = true)]
    pub starts_at: Option<String>,
    /// The scheduled length in minutes.
    pub minutes: i64,
    /// Organizers and the session's lawyer: the secret stream key; null for others.
    #[schema(required = true)]
    pub stream_key: Option<String>,
    /// Organizers and the session's lawyer: `rtmp://HOST:PORT/live/{stream_key}`; null for
    /// others and when RTMP ingest is off.
    #[schema(required = true)]
    pub rtmp_url: Option<String>,
    /// Organizers and the session's lawyer: the SRT URL with `streamid`; null for others and
    /// when SRT ingest is off.
    #[schema(required = true)]
    pub srt_url: Option<String>,
    /// Organizers and the session's lawyer: the ingest figures; null for others.
    #[schema(required = true)]
    pub figures: Option<LiveFiguresAnswer>,
}

impl LiveAnswer {
    pub fn new(view: LiveView) -> Self {
        let tz = view.tz();
        let local = |t: &DateTime<Utc>| rfc3339(t, tz);
        let (stream_key, rtmp_url, srt_url) = match view.ingest {
            Some(i) => (Some(i.stream_key), i.rtmp_url, i.srt_url),
            None => (None, None, None),
        };
        LiveAnswer {
            state: view.state,
            hls_url: view.hls_url,
            live_id: view.live_id,
            started_at: view.started_at.as_ref().map(local),
            ended_at: view.ended_at.as_ref().map(local),
            viewers: view.viewers as u64,
            lecture_id: view.lecture_id,
            replay_pending: view.replay_pending,
            starts_at: view.session.starts_at.as_ref().map(local),
            minutes: view.session.minutes,
            stream_key,
            rtmp_url,
            srt_url,
            figures: view
                .figures
                .map(|f| LiveFiguresAnswer::new(f, view.viewers, tz)),
        }
    }
}

/// A session's live, for anyone who may watch it (public lectures: everyone; registered:
/// any login; enrolled — the default of lives — enterprises with a confirmed sign-up, the
/// session's lawyer and organizers). Organizers and the session's lawyer also get the stream
/// key, the ingest URLs and the ingest figures (publishers' addresses for organizers only).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/live", tag = "live",
    params(("id" = i64, Path)),
    security((), ("pufa_session" = [])),
    responses((status = 200, body = LiveAnswer), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn api_live(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<Json<LiveAnswer>> {
    let view =
        uc::live_status(&state.db, &state.live, state.clock.now(), id, user.as_ref()).await?;
    Ok(Json(LiveAnswer::new(view)))
}

/// Replace the session's stream key (organizers), e.g. when it leaked: a publisher presenting
/// the old key is refused from now on (a live already running continues). 403 for other
/// roles and when the `X-CSRF-Token` header does not equal the `pufa_csrf` cookie.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/live/key", tag = "live",
    params(("id" = i64, Path),
           ("X-CSRF-Token" = String, Header, description = "the `pufa_csrf` cookie's value"),
           ("pufa_csrf" = String, Cookie, description = "the CSRF cookie every page sets")),
    security(("pufa_session" = [])),
    responses((status = 200, body = IngestAnswer, description = "the new key and URLs"),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound)))]
pub async fn api_rotate_key(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> AppResult<Json<IngestAnswer>> {
    if !crate::http::csrf::double_submit_ok(&headers, None) {
        return Err(AppError::CsrfRejected);
    }
    let info = uc::rotate_key(
        &state.db,
        state.live.settings(),
        state.clock.now(),
        &user,
        id,
    )
    .await?;
    Ok(Json(info.into()))
}

/// What the live player reports.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"playing_date": "2026-12-01T14:35:02.120+08:00"}))]
pub struct WatchReport {
    /// The wall-clock time of the frame on screen (hls.js `playingDate`, from the segments'
    /// `EXT-X-PROGRAM-DATE-TIME`), RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub playing_date: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WatchAnswer {
    /// Seconds of the lecture watched at least once, live and replay together.
    pub watched_s: f64,
    /// The replay position the report was recorded at.
    pub position_s: f64,
}

/// Record where a viewer's live player is (logged-in viewers who may watch; about every 10 s
/// while playing): `playing_date` is mapped to the replay position, and the time watched live
/// is added to the same watched ranges as the replay's progress reports, so watching part live
/// and the rest on replay adds up. 422 when `playing_date` is in no segment of the live; 404
/// when the session has no live on this server.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/live/watch", tag = "live",
    params(("id" = i64, Path)), request_body = WatchReport, security(("pufa_session" = [])),
    responses((status = 200, body = WatchAnswer), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_watch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(report): Json<WatchReport>,
) -> AppResult<Json<WatchAnswer>> {
    let saved = uc::record_watch(
        &state.db,
        &state.live,
        state.clock.now(),
        &user,
        id,
        report.playing_date,
    )
    .await?;
    Ok(Json(WatchAnswer {
        watched_s: saved.watched_s,
        position_s: saved.position_s,
    }))
}
