//! The live HLS files: master and media playlists (with LL-HLS blocking reload), init
//! segments, segments and parts, checked on every request (see
//! [`crate::app::live::view::live_files`]).
//!
//! URLs carry the live's id (`/live/{session}/{live}/…`): segment names restart with every
//! live of a session, and segments are cached as immutable. `/live/{session}/master.m3u8`
//! redirects to the current live's master playlist.

use crate::app::live::mirror::{self, INDEX, MASTER};
use crate::app::live::service::LivePhase;
use crate::app::live::view::{self as uc, LiveFiles};
use crate::archive::Visibility;
use crate::error::{AppError, AppResult, Problem};
use crate::http::auth::{cookie, MaybeUser, SESSION_COOKIE};
use crate::http::extract::{Path, Query};
use crate::http::AppState;
use crate::media::live::hub::{HubFile, PlaylistError};
use crate::media::storage::FileSource;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

/// The LL-HLS delivery directives of a media playlist request (`_HLS_skip` and others are
/// ignored: the hub does not make delta playlists).
#[derive(Debug, Default, Deserialize)]
pub struct HlsQuery {
    #[serde(rename = "_HLS_msn")]
    pub msn: Option<u64>,
    #[serde(rename = "_HLS_part")]
    pub part: Option<u32>,
}

/// A stable key for the viewer count that identifies no one: a hash of the login session
/// cookie, or of the client address for viewers without one.
fn viewer_key(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> u64 {
    let mut h = DefaultHasher::new();
    "pufa live viewer".hash(&mut h);
    match cookie(headers, SESSION_COOKIE) {
        Some(token) => token.hash(&mut h),
        None => crate::http::accounts::client_ip(state, headers, peer).hash(&mut h),
    }
    h.finish()
}

fn scope(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "public",
        Visibility::Registered | Visibility::Enrolled => "private",
    }
}

/// A playlist: always revalidated (it changes every part).
fn playlist(text: String, visibility: Visibility) -> Response {
    let cache = format!("{}, no-cache", scope(visibility));
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PLAYLIST_TYPE),
        )],
        text,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
}

/// 503 while a blocking playlist reload timed out: the player retries.
fn unavailable() -> Response {
    let problem = Problem {
        kind: "urn:pufa:problem:live_playlist_timeout".into(),
        title: "请稍后重试".into(),
        status: 503,
        detail: "直播数据暂未就绪，请稍后重试。".into(),
        code: "live_playlist_timeout".into(),
        errors: Vec::new(),
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The live of the request after the access check; a playlist request counts its viewer.
async fn checked(
    state: &AppState,
    user: Option<&crate::accounts::User>,
    session: i64,
    live: Option<i64>,
) -> AppResult<LiveFiles> {
    Ok(uc::live_files(&state.db, &state.live, session, live, user).await?)
}

/// `GET /live/{session}/master.m3u8`: a redirect to the current live's master playlist (the
/// stable address to give a player; 404 when the session is not live on this server).
pub async fn current_master(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(session): Path<i64>,
) -> AppResult<Response> {
    let files = checked(&state, user.as_ref(), session, None).await?;
    let mut response = (
        StatusCode::FOUND,
        [(header::LOCATION, uc::hls_url(session, files.live_id))],
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /live/{session}/{live}/master.m3u8`: the master playlist over the current period's
/// renditions.
pub async fn master(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((session, live)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let files = checked(&state, user.as_ref(), session, Some(live)).await?;
    let Some(hub) = &files.hub else {
        state
            .live
            .touch_mirrored_viewer(live, viewer_key(&state, &headers, peer));
        return mirrored_playlist(&state, session, live, MASTER, files.visibility).await;
    };
    let text = hub.master_playlist().ok_or(AppError::NotFound)?;
    state
        .live
        .touch_viewer(session, viewer_key(&state, &headers, peer));
    Ok(playlist(text, files.visibility))
}

/// `GET /live/{session}/{live}/{rendition}/{file}`: `index.m3u8` (blocking until
/// `_HLS_msn`/`_HLS_part` exists), `init_{p}.mp4`, `seg_{msn}.m4s` or `part_{msn}_{i}.m4s`.
pub async fn file(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((session, live, rendition, name)): Path<(i64, i64, String, String)>,
    Query(hls): Query<HlsQuery>,
    request: Request,
) -> AppResult<Response> {
    let files = checked(&state, user.as_ref(), session, Some(live)).await?;
    let file = format!("{rendition}/{name}");
    if name == INDEX {
        let key = viewer_key(&state, request.headers(), peer);
        let Some(hub) = &files.hub else {
            state.live.touch_mirrored_viewer(live, key);
            return mirrored_playlist(&state, session, live, &file, files.visibility).await;
        };
        return match hub.media_playlist(&rendition, hls.msn, hls.part).await {
            Ok(text) => {
                state.live.touch_viewer(session, key);
                Ok(playlist(text, files.visibility))
            }
            Err(PlaylistError::NotFound) => Err(AppError::NotFound),
            Err(PlaylistError::TooFarAhead) => Err(AppError::bad_request(
                "live_too_far_ahead",
                "请求的直播分片尚未生成，且超出了可等待的范围",
            )),
            // the publisher is gone for now (grace): hls.js gives up after two failed
            // reloads, so answer with the playlist as it is and let the player keep polling
            // until the lecturer is back or the live ends
            Err(PlaylistError::Timeout)
                if state
                    .live
                    .serving(session)
                    .is_some_and(|l| l.phase != LivePhase::Live) =>
            {
                let text = hub
                    .media_playlist(&rendition, None, None)
                    .await
                    .map_err(|_| AppError::NotFound)?;
                Ok(playlist(text, files.visibility))
            }
            Err(PlaylistError::Timeout) => Ok(unavailable()),
        };
    }
    let content_type = match name.rsplit('.').next() {
        Some("m4s" | "mp4") if rendition == "audio" => "audio/mp4",
        Some("m4s" | "mp4") => "video/mp4",
        _ => return Err(AppError::NotFound),
    };
    // named per live, written once: a browser (or, for public lives, a shared cache) may keep
    // them for good
    let cache = format!("{}, max-age=31536000, immutable", scope(files.visibility));
    let cache = HeaderValue::from_str(&cache).ok();
    let Some(hub) = &files.hub else {
        let (method, headers) = (request.method().clone(), request.headers().clone());
        let source = state
            .live
            .storage()
            .file(&mirror::key(session, live, &file))
            .ok_or(AppError::NotFound)?;
        return mirrored_segment(&state, source, content_type, cache, method, headers).await;
    };
    // a part the playlist announced with EXT-X-PRELOAD-HINT is waited for, as LL-HLS asks
    match hub.wait_file(&rendition, &name).await {
        Some(HubFile::Memory(bytes)) => {
            let mut response = Body::from(bytes.to_vec()).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Some(v) = cache {
                headers.insert(header::CACHE_CONTROL, v);
            }
            Ok(response)
        }
        // written once, complete when listed: the same path as recorded segments (a front
        // nginx with X-Accel-Redirect, the segment cache, or the disk); a segment the hub
        // listed but that is gone from the disk is a 404
        Some(HubFile::Disk(path)) => {
            state
                .media
                .send(&path, content_type, cache, true, request)
                .await
        }
        None => Err(AppError::NotFound),
    }
}

/// A playlist of a live another replica ingests, from its mirror (plain HLS: `_HLS_msn` and
/// `_HLS_part` are answered with the latest playlist at once).
async fn mirrored_playlist(
    state: &AppState,
    session: i64,
    live: i64,
    file: &str,
    visibility: Visibility,
) -> AppResult<Response> {
    let source = state
        .live
        .storage()
        .file(&mirror::key(session, live, file))
        .ok_or(AppError::NotFound)?;
    match source.read_to_string().await {
        Ok(text) => Ok(playlist(text, visibility)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AppError::NotFound),
        Err(e) => Err(AppError::Internal(anyhow::anyhow!(
            "reading the mirrored {file} of live {live}: {e}"
        ))),
    }
}

/// A segment or init segment of a live another replica ingests, from its mirror: the
/// storage's sending path (the disk with Range and the segment cache, or the bucket).
async fn mirrored_segment(
    state: &AppState,
    source: FileSource,
    content_type: &'static str,
    cache: Option<HeaderValue>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> AppResult<Response> {
    match source {
        FileSource::Local(path) => {
            let mut forwarded = Request::new(Body::empty());
            *forwarded.method_mut() = method;
            *forwarded.headers_mut() = headers;
            state
                .media
                .send(&path, content_type, cache, true, forwarded)
                .await
        }
        FileSource::Object(object) => {
            crate::http::media::objects::send_object(
                &object,
                content_type,
                cache,
                state.config.media_delivery,
                &method,
                &headers,
            )
            .await
        }
    }
}
