//! Sending a media file once the access check has passed: handed to a front nginx with
//! `X-Accel-Redirect` (`--media-accel-redirect`), answered from a bounded in-memory cache of
//! recently served segments (`--media-cache-mb`), or streamed from the disk.
//!
//! Why a cache: a segment read through tokio's file API costs one hand-off to the blocking
//! thread pool per chunk plus a stat, and the profile of a private segment request showed that
//! reading and copying the file, not the access check, is most of pufa's cost (BENCHMARKS.md,
//! "Segment serving"). Segments are immutable once written — every lecture version and every
//! live has its own folder — so the bytes of a path never change while it is served. Entries
//! are still checked against the file's size and modification time every few seconds, so a
//! folder removed and written anew (ids reused after a deletion) is never served stale for
//! longer than that.

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::server::direct::{file_response, whole_file_request, SendfileCapable};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// Read size when streaming files from the disk: fewer wake-ups per segment (segments are
/// megabytes).
const SERVE_CHUNK_BYTES: usize = 512 * 1024;

/// How long a cached segment is served without looking at its file again.
const REVALIDATE_AFTER: Duration = Duration::from_secs(5);

/// The largest single file the cache keeps, whatever its size: bigger files are not segments.
const MAX_ENTRY_BYTES: u64 = 32 * 1024 * 1024;

const X_ACCEL_REDIRECT: HeaderName = HeaderName::from_static("x-accel-redirect");

/// How media files leave this process: the setting of `--media-accel-redirect` and the
/// segment cache. One per server, shared by the recorded and the live file routes.
pub struct MediaFiles {
    root: PathBuf,
    accel_prefix: Option<String>,
    cache: SegmentCache,
    grants: std::sync::Arc<crate::server::grants::Grants>,
}

impl MediaFiles {
    pub fn new(config: &Config) -> Self {
        MediaFiles {
            root: config.media_dir.clone(),
            accel_prefix: config.media_accel_redirect.clone(),
            cache: SegmentCache::new(config.media_cache_bytes),
            grants: std::sync::Arc::new(crate::server::grants::Grants::new(
                config.media_grant,
                crate::http::auth::SESSION_COOKIE,
            )),
        }
    }

    /// The media grants of this process (see `crate::server::grants`), shared with the
    /// sendfile path; logging out and visibility changes forget them.
    pub fn grants(&self) -> std::sync::Arc<crate::server::grants::Grants> {
        self.grants.clone()
    }

    /// The cache (tests and metrics read its counters).
    pub fn cache(&self) -> &SegmentCache {
        &self.cache
    }

    /// The `X-Accel-Redirect` value for `path`: the prefix and the path inside the media
    /// folder. `None` when accel is off, or the path is outside the media folder or has
    /// characters nginx would read differently (then pufa sends the file itself).
    fn accel_target(&self, path: &Path) -> Option<HeaderValue> {
        let prefix = self.accel_prefix.as_deref()?;
        let relative = path.strip_prefix(&self.root).ok()?.to_str()?;
        // storage paths are already of these characters (see `LocalFs::resolve`); checked
        // again because the header must never point nginx anywhere else
        let plain = !relative.is_empty()
            && relative.split('/').all(|s| {
                !s.is_empty()
                    && !s.starts_with('.')
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        if !plain {
            return None;
        }
        HeaderValue::from_str(&format!("{prefix}{relative}")).ok()
    }

    /// The response for `path`, whose access was already checked: 404 when it is not a regular
    /// file; otherwise the file with `content_type` and `cache_control`, Range and conditional
    /// requests answered. `immutable` says the bytes of this path never change (segments),
    /// which lets them be cached in memory.
    pub async fn send(
        &self,
        path: &Path,
        content_type: &'static str,
        cache_control: Option<HeaderValue>,
        immutable: bool,
        request: Request,
    ) -> AppResult<Response> {
        let mut response = if let Some(target) = self.accel_target(path) {
            // only regular files: nginx would answer a folder with its own 403 page
            if !is_file(path).await {
                return Err(AppError::NotFound);
            }
            let mut response = Response::new(Body::empty());
            response.headers_mut().insert(X_ACCEL_REDIRECT, target);
            response
        } else if let Some(response) = sendfile_response(path, immutable, &request) {
            response
        } else if let Some(response) = self
            .cached_response(path, immutable, request.method(), request.headers())
            .await
        {
            response
        } else {
            // only regular files are media: a folder (a rung's, the version's) would otherwise
            // be "served" as 200 with its directory size and an immutable cache header
            if !is_file(path).await {
                return Err(AppError::NotFound);
            }
            let response = ServeFile::new(path)
                .with_buf_chunk_size(SERVE_CHUNK_BYTES)
                .oneshot(request)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("serving a media file: {e}")))?
                .map(Body::new);
            if response.status() == StatusCode::NOT_FOUND {
                return Err(AppError::NotFound);
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(v) = cache_control {
            headers.insert(header::CACHE_CONTROL, v);
        }
        Ok(response)
    }

    /// A whole-file answer from the cache (filling it on a miss), for plain GET and HEAD
    /// requests of immutable files; `None` sends the request to [`ServeFile`] (Range and
    /// conditional requests, big files, cache off, file missing).
    async fn cached_response(
        &self,
        path: &Path,
        immutable: bool,
        method: &Method,
        headers: &HeaderMap,
    ) -> Option<Response> {
        if !immutable || !self.cache.enabled() || !(method == Method::GET || method == Method::HEAD)
        {
            return None;
        }
        if !whole_file_request(headers) {
            return None;
        }
        let entry = match self.cache.get(path).await {
            Some(entry) => entry,
            None => self.cache.load(path).await?,
        };
        let mut response = Response::new(if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(entry.bytes.clone())
        });
        let h = response.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.bytes.len()));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(modified) = entry.last_modified {
            h.insert(header::LAST_MODIFIED, modified);
        }
        Some(response)
    }
}

/// On the sendfile path (`crate::server::direct`), a whole immutable file is answered with its
/// headers, an empty body and the open file, which the connection then sends from the page
/// cache with `sendfile` — cheaper than the cache's copy from memory. `None` when the request
/// did not come that way, is not a plain whole-file fetch, or the path is not a regular file
/// (then the other ways answer, 404 included).
fn sendfile_response(path: &Path, immutable: bool, request: &Request) -> Option<Response> {
    if !immutable
        || request.extensions().get::<SendfileCapable>().is_none()
        || !(request.method() == Method::GET || request.method() == Method::HEAD)
        || !whole_file_request(request.headers())
    {
        return None;
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    file_response(path, headers)
}

/// Whether `path` is a regular file (following links, as serving does).
async fn is_file(path: &Path) -> bool {
    tokio::fs::metadata(path).await.is_ok_and(|m| m.is_file())
}

/// An HTTP date (`Last-Modified`), as ServeFile writes it.
fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// What identifies a file's contents cheaply: its length and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// A cached file: its bytes (shared, no copy per request) and `Last-Modified`.
#[derive(Clone)]
pub struct CachedFile {
    bytes: Bytes,
    last_modified: Option<HeaderValue>,
}

struct Slot {
    file: CachedFile,
    stamp: Stamp,
    checked: Instant,
    /// Clock tick of the last use: the least recently used slot is evicted first.
    used: u64,
}

#[derive(Default)]
struct Slots {
    map: HashMap<PathBuf, Slot>,
    bytes: u64,
    tick: u64,
    hits: u64,
    misses: u64,
}

/// Recently served immutable files, least recently used evicted first, holding at most
/// `capacity` bytes of file contents. Keys are full paths, which name the lecture version or
/// the live, so a new version never meets the bytes of an old one.
pub struct SegmentCache {
    capacity: u64,
    slots: Mutex<Slots>,
}

impl SegmentCache {
    /// A cache of at most `capacity` bytes; 0 caches nothing.
    pub fn new(capacity: u64) -> Self {
        SegmentCache {
            capacity,
            slots: Mutex::new(Slots::default()),
        }
    }

    fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // a panic while holding the lock leaves consistent data (every update is complete
        // before the next line), so a poisoned lock is still usable
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.lock();
        (s.hits, s.misses)
    }

    /// The cached file at `path`, if any; an entry not looked at for [`REVALIDATE_AFTER`] is
    /// compared with its file first and dropped when the file changed or is gone.
    async fn get(&self, path: &Path) -> Option<CachedFile> {
        let stale = {
            let mut s = self.lock();
            s.tick += 1;
            let tick = s.tick;
            let slot = s.map.get_mut(path)?;
            slot.used = tick;
            if slot.checked.elapsed() < REVALIDATE_AFTER {
                let file = slot.file.clone();
                s.hits += 1;
                return Some(file);
            }
            slot.stamp
        };
        let now = tokio::fs::metadata(path).await.ok().map(|m| Stamp::of(&m));
        let mut s = self.lock();
        if now == Some(stale) {
            let slot = s.map.get_mut(path)?;
            slot.checked = Instant::now();
            let file = slot.file.clone();
            s.hits += 1;
            Some(file)
        } else {
            if let Some(old) = s.map.remove(path) {
                s.bytes -= old.file.bytes.len() as u64;
            }
            None
        }
    }

    /// Read `path` into the cache and return it; `None` when it is not a regular file or too
    /// big to cache (the caller streams it then).
    async fn load(&self, path: &Path) -> Option<CachedFile> {
        let owned = path.to_path_buf();
        let max = MAX_ENTRY_BYTES.min(self.capacity);
        // one trip to the blocking pool for the stat and the whole read
        let read =
            tokio::task::spawn_blocking(move || -> std::io::Result<Option<(Vec<u8>, Stamp)>> {
                let meta = std::fs::metadata(&owned)?;
                if !meta.is_file() || meta.len() > max {
                    return Ok(None);
                }
                let bytes = std::fs::read(&owned)?;
                // written while we read (not expected for segments): do not keep a torn copy
                let after = std::fs::metadata(&owned)?;
                if Stamp::of(&after) != Stamp::of(&meta) || bytes.len() as u64 != meta.len() {
                    return Ok(None);
                }
                Ok(Some((bytes, Stamp::of(&meta))))
            })
            .await
            .ok()?
            .ok()??;
        let (bytes, stamp) = read;
        let file = CachedFile {
            last_modified: stamp
                .modified
                .and_then(|t| HeaderValue::from_str(&http_date(t)).ok()),
            bytes: Bytes::from(bytes),
        };
        self.insert(path, file.clone(), stamp);
        Some(file)
    }

    fn insert(&self, path: &Path, file: CachedFile, stamp: Stamp) {
        let size = file.bytes.len() as u64;
        let mut s = self.lock();
        s.misses += 1;
        if size > self.capacity || s.map.contains_key(path) {
            return;
        }
        while s.bytes + size > self.capacity {
            // the least recently used; a linear scan is fine for the hundreds of segments
            // a cache of tens of megabytes holds, and it only runs on a miss
            let Some(victim) = s
                .map
                .iter()
                .min_by_key(|(_, slot)| slot.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = s.map.remove(&victim) {
                s.bytes -= old.file.bytes.len() as u64;
            }
        }
        s.tick += 1;
        let used = s.tick;
        s.bytes += size;
        s.map.insert(
            path.to_path_buf(),
            Slot {
                file,
                stamp,
                checked: Instant::now(),
                used,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, len: usize) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![b'x'; len]).expect("write");
        p
    }

    #[tokio::test]
    async fn the_cache_holds_at_most_its_capacity_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SegmentCache::new(250);
        let a = write(dir.path(), "a.m4s", 100);
        let b = write(dir.path(), "b.m4s", 100);
        let c = write(dir.path(), "c.m4s", 100);
        assert!(cache.get(&a).await.is_none());
        assert_eq!(cache.load(&a).await.expect("a").bytes.len(), 100);
        cache.load(&b).await.expect("b");
        assert_eq!(cache.held_bytes(), 200);
        // a is used again, so b is the least recently used when c comes in
        assert!(cache.get(&a).await.is_some());
        cache.load(&c).await.expect("c");
        assert_eq!(cache.held_bytes(), 200);
        assert!(cache.get(&a).await.is_some());
        assert!(cache.get(&b).await.is_none());
        assert!(cache.get(&c).await.is_some());
        assert_eq!(cache.counts(), (3, 3));
        // bigger than the whole cache: left to the streaming path, nothing evicted
        let big = write(dir.path(), "big.m4s", 300);
        assert!(cache.load(&big).await.is_none());
        assert!(cache.get(&big).await.is_none());
        assert_eq!(cache.held_bytes(), 200);
        assert!(cache.held_bytes() <= 250);
        // a folder is not a file
        assert!(cache.load(dir.path()).await.is_none());
    }

    #[tokio::test]
    async fn a_changed_file_is_not_served_from_the_cache_after_the_revalidation_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SegmentCache::new(1000);
        let a = write(dir.path(), "a.m4s", 100);
        cache.load(&a).await.expect("a");
        write(dir.path(), "a.m4s", 120);
        // pretend the entry was checked long ago
        cache
            .lock()
            .map
            .get_mut(&a)
            .expect("slot")
            .checked
            .clone_from(&(Instant::now() - REVALIDATE_AFTER * 2));
        assert!(cache.get(&a).await.is_none(), "stale entry dropped");
        assert_eq!(cache.held_bytes(), 0);
        assert_eq!(cache.load(&a).await.expect("a").bytes.len(), 120);
    }

    #[test]
    fn accel_targets_stay_inside_the_media_folder() {
        let mut config = Config::new("/srv/data".into(), "/srv/media".into());
        let off = MediaFiles::new(&config);
        let p = Path::new("/srv/media/lectures/1/v2/720p/seg_00000.m4s");
        assert_eq!(off.accel_target(p), None);
        config.media_accel_redirect = Some("/_pufa_media/".into());
        let on = MediaFiles::new(&config);
        assert_eq!(
            on.accel_target(p).expect("target"),
            "/_pufa_media/lectures/1/v2/720p/seg_00000.m4s"
        );
        for bad in [
            "/srv/other/lectures/1/v2/x.m4s",
            "/srv/media",
            "/srv/media/lectures/../x.m4s",
            "/srv/media/lectures/a b.m4s",
            "/srv/media/lectures/a?b.m4s",
            "/srv/media/lectures/.x",
        ] {
            assert_eq!(on.accel_target(Path::new(bad)), None, "{bad}");
        }
    }
}
