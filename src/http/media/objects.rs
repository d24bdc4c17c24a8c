//! Media files kept in object storage (`--storage s3://…`), after pufa checked access: either
//! streamed from the bucket through pufa, with Range and `If-None-Match` answered, or — for
//! segments under `--media-delivery presigned` — a redirect to a short-lived presigned URL, so
//! the bytes go from the bucket (or a CDN in front of it) straight to the viewer.
//!
//! Playlists are always streamed: a player resolves the segment names in a playlist against
//! the playlist's URL, so a playlist fetched from a presigned URL would name unsigned segments.

use crate::config::MediaDelivery;
use crate::error::{AppError, AppResult};
use crate::media::storage::{ObjectFile, ObjectRead};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use object_store::GetRange;
use std::time::Duration;

/// One byte range of a `Range: bytes=…` header; `None` for anything else (several ranges, other
/// units, nonsense), which is answered with the whole object as RFC 9110 allows.
pub fn parse_range(value: &str) -> Option<GetRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    match (start.is_empty(), end.is_empty()) {
        (true, false) => {
            let n: u64 = end.parse().ok()?;
            (n > 0).then_some(GetRange::Suffix(n))
        }
        (false, true) => Some(GetRange::Offset(start.parse().ok()?)),
        (false, false) => {
            let (a, b): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
            (a <= b).then(|| GetRange::Bounded(a..b.saturating_add(1)))
        }
        (true, true) => None,
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, `*` matches any).
fn etag_matches(if_none_match: Option<&str>, etag: Option<&str>) -> bool {
    let (Some(list), Some(etag)) = (if_none_match, etag) else {
        return false;
    };
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    list.split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// The answer for an object whose access was already checked.
pub async fn send_object(
    file: &ObjectFile,
    content_type: &'static str,
    cache_control: Option<HeaderValue>,
    delivery: MediaDelivery,
    method: &Method,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let playlist = file.key().ends_with(".m3u8");
    if let (MediaDelivery::Presigned { ttl }, false) = (delivery, playlist) {
        return redirect(file, ttl).await;
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ranged = range.is_some();
    let read = file
        .get(range, if_none_match.clone())
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AppError::NotFound,
            _ => AppError::Internal(anyhow::anyhow!("reading {} from storage: {e}", file.key())),
        })?;
    // a store that ignores `If-None-Match` (not every S3-compatible server honours it) still
    // gives the entity tag to compare
    let read = match read {
        ObjectRead::Body(result)
            if if_none_match.is_some()
                && result.meta.e_tag.is_some()
                && etag_matches(if_none_match.as_deref(), result.meta.e_tag.as_deref()) =>
        {
            ObjectRead::NotModified
        }
        other => other,
    };
    let result = match read {
        ObjectRead::Body(result) => result,
        ObjectRead::NotModified => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            if let Some(v) = cache_control {
                response.headers_mut().insert(header::CACHE_CONTROL, v);
            }
            return Ok(response);
        }
        ObjectRead::RangeNotSatisfiable => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            return Ok(response);
        }
    };
    let size = result.meta.size;
    let served = result.range.clone();
    let etag = result.meta.e_tag.clone();
    let modified = result.meta.last_modified;
    let partial = ranged && (served.start > 0 || served.end < size);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(
            result
                .into_stream()
                .map(|chunk| chunk.map_err(std::io::Error::other)),
        )
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(served.end.saturating_sub(served.start)),
    );
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified.into())) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Some(v) = cache_control {
        h.insert(header::CACHE_CONTROL, v);
    }
    if partial {
        let range = format!(
            "bytes {}-{}/{size}",
            served.start,
            served.end.saturating_sub(1)
        );
        if let Ok(v) = HeaderValue::from_str(&range) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

/// `302` to a presigned URL valid for `ttl`. The redirect itself may be kept by the viewer's
/// browser for half that time, never by a shared cache (it carries a credential).
async fn redirect(file: &ObjectFile, ttl: Duration) -> AppResult<Response> {
    let url = file
        .presigned_get(ttl)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("presigning {}: {e}", file.key())))?;
    let location = HeaderValue::from_str(&url)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("presigned URL: {e}")))?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    let h = response.headers_mut();
    h.insert(header::LOCATION, location);
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={}", ttl.as_secs() / 2)) {
        h.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_or_fall_back_to_the_whole_object() {
        assert_eq!(parse_range("bytes=0-99"), Some(GetRange::Bounded(0..100)));
        assert_eq!(parse_range("bytes=100-"), Some(GetRange::Offset(100)));
        assert_eq!(parse_range("bytes=-500"), Some(GetRange::Suffix(500)));
        assert!(etag_matches(Some("\"abc\""), Some("\"abc\"")));
        assert!(etag_matches(Some("W/\"x\", \"abc\""), Some("\"abc\"")));
        assert!(etag_matches(Some("*"), Some("\"abc\"")));
        assert!(!etag_matches(Some("\"abd\""), Some("\"abc\"")));
        assert!(!etag_matches(None, Some("\"abc\"")));
        for whole in [
            "bytes=5-1",
            "bytes=-0",
            "bytes=-",
            "bytes=0-1,4-5",
            "items=0-1",
            "x",
        ] {
            assert_eq!(parse_range(whole), None, "{whole}");
        }
    }
}
