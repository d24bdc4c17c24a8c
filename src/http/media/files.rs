//! The HLS files of published lectures, with the access check on every playlist and segment.

use crate::app::archive as archive_uc;
use crate::archive::Visibility;
use crate::error::AppResult;
use crate::http::auth::MaybeUser;
use crate::http::extract::Path;
use crate::http::AppState;
use crate::media::storage::FileSource;
use crate::server::direct::FileBody;
use crate::server::grants::{folder_of, GrantOffer};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

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

/// A playlist or caption file made on the fly: short-lived in caches like the playlists.
fn text_answer(body: String, content_type: &'static str, visibility: Visibility) -> Response {
    let cache = match visibility {
        Visibility::Public => "public, max-age=10",
        Visibility::Registered | Visibility::Enrolled => "private, max-age=10",
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// `GET /media/lectures/{id}/{version}/{*file}`: a lecture's HLS files. Playlists are
/// short-lived in caches, segments (named per version) immutable; Range requests work; private
/// lectures check the login on every request. Sent by a front nginx when
/// `--media-accel-redirect` is set, else from the segment cache or the disk (see
/// [`super::serve`]).
pub async fn serve_lecture_file(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path((id, version, file)): Path<(i64, String, String)>,
    request: Request,
) -> AppResult<Response> {
    // the subtitle rendition is made from the stored captions (crate::app::captions)
    if file.starts_with("subs/") {
        let f = crate::app::captions::subtitle_file(&state.db, id, &version, &file, user.as_ref())
            .await?;
        return Ok(text_answer(f.body, f.content_type, f.visibility));
    }
    let playable = archive_uc::playable_file(
        &state.db,
        &*state.storage,
        id,
        &version,
        &file,
        user.as_ref(),
    )
    .await?;
    if playable.with_subtitles {
        let master = playable
            .source
            .read_to_string()
            .await
            .map_err(|e| anyhow::anyhow!("reading the master playlist of lecture {id}: {e}"))?;
        return Ok(text_answer(
            crate::archive::captions::master_with_subtitles(&master),
            content_type(&file),
            playable.visibility,
        ));
    }
    // playlists are short-lived in caches; everything else is named per version, immutable
    let playlist = file.ends_with(".m3u8");
    let cache = HeaderValue::from_str(&cache_control(playable.visibility, playlist)).ok();
    let path = match playable.source {
        FileSource::Local(path) => path,
        FileSource::Object(object) => {
            return super::objects::send_object(
                &object,
                content_type(&file),
                cache,
                state.config.media_delivery,
                request.method(),
                request.headers(),
            )
            .await
        }
    };
    // the credential this check used, for a grant (see `crate::server::grants`)
    let credential =
        crate::http::auth::cookie(request.headers(), crate::http::auth::SESSION_COOKIE)
            .unwrap_or_default();
    let mut response = state
        .media
        .send(&path, content_type(&file), cache, !playlist, request)
        .await?;
    // a segment sent from the file: the next ones of this version may skip this check
    if response.extensions().get::<FileBody>().is_some() {
        if let Some(dir) = folder_of(&path, &file) {
            response.extensions_mut().insert(GrantOffer {
                credential,
                url_prefix: format!("/media/lectures/{id}/{version}/"),
                dir,
            });
        }
    }
    Ok(response)
}

/// `Cache-Control` of a lecture file: shared caches only for public lectures; playlists for
/// 10 s, everything else (named per version) for good.
fn cache_control(visibility: Visibility, playlist: bool) -> String {
    let scope = match visibility {
        Visibility::Public => "public",
        Visibility::Registered | Visibility::Enrolled => "private",
    };
    if playlist {
        format!("{scope}, max-age=10")
    } else {
        format!("{scope}, max-age=31536000, immutable")
    }
}
