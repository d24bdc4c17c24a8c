//! The HLS files of published lectures, with the access check on every playlist and segment.

use crate::app::archive as archive_uc;
use crate::archive::Visibility;
use crate::error::{AppError, AppResult};
use crate::http::auth::MaybeUser;
use crate::http::extract::Path;
use crate::http::AppState;
use crate::media::storage::FileSource;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// Read size when serving media files: fewer wake-ups per segment (segments are megabytes).
const SERVE_CHUNK_BYTES: usize = 512 * 1024;

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
    // only regular files are media: a folder (a rung's, the version's) would otherwise be
    // "served" as 200 with its directory size and an immutable cache header
    match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_file() => {}
        _ => return Err(AppError::NotFound),
    }
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
        Visibility::Registered | Visibility::Enrolled => "private",
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
