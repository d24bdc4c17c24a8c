//! Media grants: after the router has authorised a login session (by its cookie) for one
//! lecture version's segments, the next segments of that version for the same cookie are sent
//! straight from the sendfile path for a short time, without the database and the middleware.
//!
//! Why: on the sendfile path, what pufa still spent per segment above nginx was the request's
//! trip through the router — the login session and the lecture read from the database on
//! another thread, a dozen middlewares, the response built and taken apart again
//! (BENCHMARKS.md, "Segment serving"). A player fetches one segment after another of the same
//! version with the same cookie, so the answer to "may this cookie read this version" is the
//! same many times in a row.
//!
//! What a grant is and is not:
//! - It is created only from a full answer of the router: `200` with the whole file, for a
//!   credential (the `pufa_session` cookie's value, or none) and a URL prefix naming one
//!   lecture version (`/media/lectures/{id}/v{n}/`), and applies to files of the same
//!   extension only (their answers have the same headers, which the grant keeps: every
//!   middleware's header is in them).
//! - It lasts at most the configured time (`--media-grant-secs`, default 30 s; 0 turns grants
//!   off). Logging out forgets the session's grants at once, "log out everywhere" and any
//!   change of a lecture's visibility forget all of them; other revocations (an account
//!   frozen, a registration cancelled for an enrolled-only lecture, the login session
//!   expiring) reach the segments within that time. Playlists, Range and conditional
//!   requests, query strings and unusual paths always go to the router.
//! - It is kept in this process: another replica (issue 18) checks for itself.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most grants held at once; beyond it, expired ones are dropped and new ones not kept.
const MAX_GRANTS: usize = 50_000;

/// Response extension: the router offers a grant for the request it answered (see the
/// module documentation). Set by the lecture file handler; kept by the sendfile path only
/// when the answer was a `200` whole file without `Set-Cookie`.
#[derive(Debug, Clone)]
pub struct GrantOffer {
    /// The credential the check used: the session cookie's value, empty without one.
    pub credential: String,
    /// The URL prefix of the lecture version, ending in `/`.
    pub url_prefix: String,
    /// The folder the prefix maps to.
    pub dir: PathBuf,
}

struct Grant {
    dir: PathBuf,
    /// The answer's headers, without the ones that differ per file or per response.
    headers: HeaderMap,
    until: Instant,
}

/// A file that may be sent without asking the router, with the headers to send.
pub struct Granted {
    pub path: PathBuf,
    pub headers: HeaderMap,
}

/// The grants of this process.
pub struct Grants {
    ttl: Option<Duration>,
    cookie: &'static str,
    map: Mutex<HashMap<String, Grant>>,
    hits: AtomicU64,
}

/// Headers of an answer that belong to that one response or file, not to the grant.
const PER_RESPONSE: [HeaderName; 8] = [
    header::DATE,
    header::CONTENT_LENGTH,
    header::LAST_MODIFIED,
    header::ETAG,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::CONTENT_RANGE,
    HeaderName::from_static("x-request-id"),
];

fn key(credential: &str, prefix: &str, extension: &str) -> String {
    format!("{credential}\n{prefix}\n{extension}")
}

/// A relative path of plain names (letters, digits, `.`, `_`, `-`; none empty or starting with
/// a dot), as media files are named; anything else goes to the router.
fn plain(relative: &str) -> bool {
    !relative.is_empty()
        && relative.split('/').all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The extension of a file name, if it has one.
fn extension(name: &str) -> Option<&str> {
    let file = name.rsplit('/').next()?;
    file.rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty())
}

impl Grants {
    /// Grants lasting `ttl` (`None`: never granted) for the credential in cookie `cookie`.
    pub fn new(ttl: Option<Duration>, cookie: &'static str) -> Self {
        Grants {
            ttl: ttl.filter(|t| !t.is_zero()),
            cookie,
            map: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Grant>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Requests answered from a grant since the start.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Grants held now (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no grant is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep `offer` for the file `path` answered with `headers`, from `now`.
    pub fn keep(&self, offer: &GrantOffer, path: &str, headers: &HeaderMap, now: Instant) {
        let Some(ttl) = self.ttl else { return };
        if headers.contains_key(header::SET_COOKIE) || !offer.url_prefix.ends_with('/') {
            return;
        }
        let Some(relative) = path.strip_prefix(offer.url_prefix.as_str()) else {
            return;
        };
        let Some(ext) = extension(relative).filter(|_| plain(relative)) else {
            return;
        };
        let mut kept = headers.clone();
        for h in &PER_RESPONSE {
            kept.remove(h);
        }
        let mut map = self.lock();
        if map.len() >= MAX_GRANTS {
            map.retain(|_, g| g.until > now);
            if map.len() >= MAX_GRANTS {
                return;
            }
        }
        map.insert(
            key(&offer.credential, &offer.url_prefix, ext),
            Grant {
                dir: offer.dir.clone(),
                headers: kept,
                until: now + ttl,
            },
        );
    }

    /// The file and headers for `request` when a grant covers it at `now`.
    pub fn lookup<B>(&self, request: &Request<B>, now: Instant) -> Option<Granted> {
        self.ttl?;
        if !(request.method() == Method::GET || request.method() == Method::HEAD)
            || request.uri().query().is_some()
            || !super::direct::whole_file_request(request.headers())
        {
            return None;
        }
        let path = request.uri().path();
        let ext = extension(path)?;
        let credential = crate::cookies::cookie(request.headers(), self.cookie).unwrap_or_default();
        let map = self.lock();
        if map.is_empty() {
            return None;
        }
        // the version's prefix is one of the path's folders
        for (i, _) in path.match_indices('/').skip(2) {
            let (prefix, relative) = path.split_at(i + 1);
            let Some(grant) = map.get(&key(&credential, prefix, ext)) else {
                continue;
            };
            if grant.until <= now || !plain(relative) {
                return None;
            }
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(Granted {
                path: grant.dir.join(relative),
                headers: grant.headers.clone(),
            });
        }
        None
    }

    /// Forget the grants of one credential (its login session ended).
    pub fn forget_credential(&self, credential: &str) {
        let start = format!("{credential}\n");
        self.lock().retain(|k, _| !k.starts_with(&start));
    }

    /// Forget every grant (a lecture's visibility changed, a user logged out everywhere).
    pub fn forget_all(&self) {
        self.lock().clear();
    }
}

/// The `Last-Modified` value of a file's modification time.
pub fn last_modified(meta: &std::fs::Metadata) -> Option<HeaderValue> {
    let t = meta.modified().ok()?;
    HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()
}

/// `dir` joined with nothing unusual: used by tests and the handler to say where a prefix maps.
pub fn folder_of(file: &Path, relative: &str) -> Option<PathBuf> {
    let file = file.to_str()?;
    file.strip_suffix(relative).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, cookie: Option<&str>) -> Request<()> {
        let mut r = Request::builder().uri(path);
        if let Some(c) = cookie {
            r = r.header("cookie", format!("a=b; pufa_session={c}"));
        }
        r.body(()).expect("request")
    }

    fn offer(credential: &str) -> GrantOffer {
        GrantOffer {
            credential: credential.into(),
            url_prefix: "/media/lectures/1/v2/".into(),
            dir: PathBuf::from("/m/lectures/1/v2/"),
        }
    }

    fn answer() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("video/mp4"));
        h.insert("content-length", HeaderValue::from_static("123"));
        h.insert("x-request-id", HeaderValue::from_static("r1"));
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        h
    }

    #[test]
    fn a_grant_covers_the_same_credential_version_and_extension_until_it_expires() {
        let grants = Grants::new(Some(Duration::from_secs(30)), "pufa_session");
        let t0 = Instant::now();
        grants.keep(
            &offer("tok"),
            "/media/lectures/1/v2/720p/seg_00000.m4s",
            &answer(),
            t0,
        );
        let hit = grants
            .lookup(
                &request("/media/lectures/1/v2/360p/seg_00007.m4s", Some("tok")),
                t0,
            )
            .expect("same version, other rung");
        assert_eq!(
            hit.path,
            PathBuf::from("/m/lectures/1/v2/360p/seg_00007.m4s")
        );
        assert_eq!(hit.headers["content-type"], "video/mp4");
        assert_eq!(hit.headers["x-frame-options"], "DENY");
        assert!(
            hit.headers.get("content-length").is_none()
                && hit.headers.get("x-request-id").is_none()
        );
        assert_eq!(grants.hits(), 1);

        for (path, cookie) in [
            ("/media/lectures/1/v2/720p/seg_00001.m4s", None), // no cookie
            ("/media/lectures/1/v2/720p/seg_00001.m4s", Some("other")), // other session
            ("/media/lectures/1/v3/720p/seg_00001.m4s", Some("tok")), // other version
            ("/media/lectures/2/v2/720p/seg_00001.m4s", Some("tok")), // other lecture
            ("/media/lectures/1/v2/720p/index.m3u8", Some("tok")), // a playlist
            ("/media/lectures/1/v2/720p/seg_00001.m4s?x=1", Some("tok")), // a query
            ("/media/lectures/1/v2/720p/.seg.m4s", Some("tok")), // a hidden name
            ("/media/lectures/1/v2/720p//seg.m4s", Some("tok")), // an empty name
        ] {
            assert!(
                grants.lookup(&request(path, cookie), t0).is_none(),
                "{path} {cookie:?}"
            );
        }
        let mut ranged = request("/media/lectures/1/v2/720p/seg_00001.m4s", Some("tok"));
        ranged
            .headers_mut()
            .insert("range", HeaderValue::from_static("bytes=0-1"));
        assert!(grants.lookup(&ranged, t0).is_none());
        let later = t0 + Duration::from_secs(30);
        assert!(grants
            .lookup(
                &request("/media/lectures/1/v2/720p/seg_00001.m4s", Some("tok")),
                later
            )
            .is_none());
    }

    #[test]
    fn logging_out_and_visibility_changes_forget_grants() {
        let grants = Grants::new(Some(Duration::from_secs(30)), "pufa_session");
        let t0 = Instant::now();
        let seg = "/media/lectures/1/v2/720p/seg_00000.m4s";
        grants.keep(&offer("a"), seg, &answer(), t0);
        grants.keep(&offer("b"), seg, &answer(), t0);
        grants.forget_credential("a");
        assert!(grants.lookup(&request(seg, Some("a")), t0).is_none());
        assert!(grants.lookup(&request(seg, Some("b")), t0).is_some());
        grants.forget_all();
        assert!(grants.is_empty());

        // answers that set a cookie are never kept; grants off keeps nothing
        let mut with_cookie = answer();
        with_cookie.insert("set-cookie", HeaderValue::from_static("x=y"));
        grants.keep(&offer("a"), seg, &with_cookie, t0);
        assert!(grants.is_empty());
        let off = Grants::new(Some(Duration::ZERO), "pufa_session");
        off.keep(&offer("a"), seg, &answer(), t0);
        assert!(off.is_empty() && off.lookup(&request(seg, Some("a")), t0).is_none());
    }
}
