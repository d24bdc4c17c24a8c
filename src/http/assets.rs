//! Static assets compiled into the binary (no CDN), addressed by their content.
//!
//! Pages link every asset as `/assets/{name}?v={hash}` ([`url`]), the hash being the first
//! hex digits of the file's SHA-256. An upgrade that changes a file changes its links, so no
//! browser keeps a stale stylesheet or script; a link with the current hash is cached for a
//! year (`immutable`). Without the hash, or with an old one (a page cached before the
//! upgrade), the answer is short-lived and carries an `ETag`, so a revalidation costs a 304.

use crate::error::AppError;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::LazyLock;

/// One asset: its bytes, type and content hash.
struct Asset {
    body: &'static [u8],
    mime: &'static str,
    hash: String,
}

const JS: &str = "text/javascript; charset=utf-8";

/// hls.js 1.7.4 (Apache-2.0, see vendor/hls.js-LICENSE.txt), pinned and shipped in the binary.
const FILES: [(&str, &[u8], &str); 12] = [
    (
        "pufa.css",
        include_bytes!("assets/pufa.css"),
        "text/css; charset=utf-8",
    ),
    ("print.js", include_bytes!("assets/print.js"), JS),
    // every page: the navigation folds into a 菜单 button on phones
    ("nav.js", include_bytes!("assets/nav.js"), JS),
    ("player.js", include_bytes!("assets/player.js"), JS),
    ("upload.js", include_bytes!("assets/upload.js"), JS),
    // program and lecturer forms: 添加 another slot or date row
    ("rows.js", include_bytes!("assets/rows.js"), JS),
    // 分享 on session and lecture pages: copy the link; the card image messengers show
    ("share.js", include_bytes!("assets/share.js"), JS),
    ("share.png", include_bytes!("assets/share.png"), "image/png"),
    ("live.js", include_bytes!("assets/live.js"), JS),
    // the live page's panel of questions asked during the lecture (issue 16)
    ("questions.js", include_bytes!("assets/questions.js"), JS),
    ("hls.min.js", include_bytes!("assets/vendor/hls.min.js"), JS),
    (
        "hls.js-LICENSE.txt",
        include_bytes!("assets/vendor/hls.js-LICENSE.txt"),
        "text/plain; charset=utf-8",
    ),
];

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, body, mime)| {
            let digest = Sha256::digest(body);
            let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            (*name, Asset { body, mime, hash })
        })
        .collect()
});

/// The address of asset `name` with its content hash, for templates. An unknown name (a typo
/// in a template) gives a plain path that answers 404, which the page tests catch.
pub fn url(name: &str) -> String {
    match ASSETS.get(name) {
        Some(a) => format!("/assets/{name}?v={}", a.hash),
        None => format!("/assets/{name}"),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct AssetQuery {
    #[serde(default)]
    pub v: Option<String>,
}

/// `GET /assets/{file}`: the asset, for a year when the link names its current hash.
pub async fn serve(
    Path(file): Path<String>,
    Query(q): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let asset = ASSETS.get(file.as_str()).ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", asset.hash);
    let cache = if q.v.as_deref() == Some(asset.hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.mime)], asset.body).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_content_hash() {
        let css = url("pufa.css");
        let hash = css.strip_prefix("/assets/pufa.css?v=").expect("hashed");
        assert_eq!(hash.len(), 12);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        // different files, different hashes
        assert_ne!(
            url("player.js")
                .rsplit_once('=')
                .map(|(_, h)| h.to_string()),
            url("live.js").rsplit_once('=').map(|(_, h)| h.to_string())
        );
        assert_eq!(url("nope.js"), "/assets/nope.js");
    }
}
