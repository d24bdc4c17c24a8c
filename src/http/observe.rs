//! Operators' view of the server: one access log line per request, `/metrics` in the
//! Prometheus text format, and `/readyz`.
//!
//! Requests are counted and logged by their route TEMPLATE (`/calendar/{file}`, whose file
//! name is a secret token), never by the path they were sent to: paths carry calendar tokens
//! and ids, query strings may carry anything, and neither may end up in logs or in a metrics
//! database. Cookies and other headers are never logged.

use super::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds (seconds) of the request-latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of requests no route matched (their paths are not recorded).
pub const UNMATCHED: &str = "unmatched";

/// The account a response was served to, put into the response's extensions by the login
/// middleware so the access log can name it (by id: no names or mobiles in logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedAccount(pub i64);

#[derive(Debug, Default)]
struct Latency {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_s: f64,
}

#[derive(Debug, Default)]
struct Counters {
    /// (method, route, status) → requests
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency histogram
    latency: BTreeMap<String, Latency>,
}

/// The request counters of this process. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    /// Count one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        // a panic elsewhere while holding the lock left plain numbers behind: keep counting
        let mut c = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *c.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_insert(0) += 1;
        let l = c.latency.entry(route.to_string()).or_default();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                l.buckets[i] += 1;
            }
        }
        l.count += 1;
        l.sum_s += seconds;
    }

    /// The HTTP part of the exposition.
    fn render_http(&self, out: &mut String) {
        let c = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        out.push_str(
            "# HELP pufa_http_requests_total HTTP requests by method, route template and status.\n",
        );
        out.push_str("# TYPE pufa_http_requests_total counter\n");
        for ((method, route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "pufa_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP pufa_http_request_duration_seconds Time to the response head, by route template.\n");
        out.push_str("# TYPE pufa_http_request_duration_seconds histogram\n");
        for (route, l) in &c.latency {
            let route = escape(route);
            for (bound, n) in LATENCY_BUCKETS.iter().zip(l.buckets) {
                let _ = writeln!(
                    out,
                    "pufa_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "pufa_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                l.count
            );
            let _ = writeln!(
                out,
                "pufa_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                l.sum_s
            );
            let _ = writeln!(
                out,
                "pufa_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                l.count
            );
        }
    }
}

/// A label value as the exposition format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: log one line per request (method, route template, status, duration, request
/// id, account id) and count it in the metrics. Added with `Router::layer`, so it runs after
/// routing and sees the [`MatchedPath`].
pub async fn access_log(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED.to_string());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let account = response.extensions().get::<ServedAccount>().map(|a| a.0);
    state
        .metrics
        .observe(method.as_str(), &route, status, elapsed.as_secs_f64());
    tracing::info!(
        target: "pufa::access",
        method = %method,
        route = %route,
        status,
        duration_ms = (elapsed.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
        request_id = %request_id,
        account = %account.map_or_else(|| "-".to_string(), |a| a.to_string()),
        "request"
    );
    response
}

/// Whether the request may read `/metrics`: it brings the configured bearer token, or it comes
/// from a loopback address directly (a request a local reverse proxy forwards also comes from
/// loopback, so a forwarded one must bring the token).
pub fn metrics_allowed(token: Option<&str>, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if let Some(expected) = token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(given) = given {
            if same_secret(given, expected) {
                return true;
            }
        }
    }
    let proxied = headers.contains_key("x-forwarded-for")
        || headers.contains_key(header::FORWARDED)
        || headers.contains_key("x-real-ip");
    peer.is_some_and(|p| p.ip().is_loopback()) && !proxied
}

/// Compare secrets in time independent of where they differ (digests of equal length).
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `/metrics`: the Prometheus text exposition (format 0.0.4).
pub async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !metrics_allowed(state.config.metrics_token.as_deref(), peer, req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "metrics are served to loopback clients or with the metrics token\n",
        )
            .into_response();
    }
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render_http(&mut out);

    match state.db.metric_counts().await {
        Ok(counts) => {
            out.push_str("# HELP pufa_signups Sign-ups by status.\n# TYPE pufa_signups gauge\n");
            for (status, n) in &counts.registrations {
                let _ = writeln!(out, "pufa_signups{{status=\"{}\"}} {n}", escape(status));
            }
            out.push_str("# HELP pufa_jobs Media jobs by kind and state (queued ones are the queue).\n# TYPE pufa_jobs gauge\n");
            for (kind, job_state, n) in &counts.jobs {
                let _ = writeln!(
                    out,
                    "pufa_jobs{{kind=\"{}\",state=\"{}\"}} {n}",
                    escape(kind),
                    escape(job_state)
                );
            }
            let queued: i64 = counts
                .jobs
                .iter()
                .filter(|(_, s, _)| s == "queued")
                .map(|(_, _, n)| n)
                .sum();
            let _ = write!(
                out,
                "# HELP pufa_job_queue_depth Media jobs waiting for a worker.\n# TYPE pufa_job_queue_depth gauge\npufa_job_queue_depth {queued}\n"
            );
            out.push_str("# HELP pufa_notification_deliveries Mail and SMS deliveries by channel and state (queued ones wait for a worker, failed ones gave up).\n# TYPE pufa_notification_deliveries gauge\n");
            for (channel, delivery_state, n) in &counts.deliveries {
                let _ = writeln!(
                    out,
                    "pufa_notification_deliveries{{channel=\"{}\",state=\"{}\"}} {n}",
                    escape(channel),
                    escape(delivery_state)
                );
            }
            out.push_str("# HELP pufa_job_duration_seconds Run time of finished media jobs, by kind.\n# TYPE pufa_job_duration_seconds histogram\n");
            for d in &counts.job_durations {
                let kind = escape(&d.kind);
                for (bound, n) in crate::db::metrics::JOB_DURATION_BUCKETS
                    .iter()
                    .zip(&d.buckets)
                {
                    let _ = writeln!(
                        out,
                        "pufa_job_duration_seconds_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "pufa_job_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}\npufa_job_duration_seconds_sum{{kind=\"{kind}\"}} {}\npufa_job_duration_seconds_count{{kind=\"{kind}\"}} {}",
                    d.count, d.sum_s, d.count
                );
            }
            out.push_str("# HELP pufa_database_up Whether the last scrape could read the database.\n# TYPE pufa_database_up gauge\npufa_database_up 1\n");
        }
        Err(e) => {
            tracing::error!(error = ?e, "metrics: reading counts from the database");
            out.push_str("# HELP pufa_database_up Whether the last scrape could read the database.\n# TYPE pufa_database_up gauge\npufa_database_up 0\n");
        }
    }

    let (lives, viewers) = state.live.viewer_totals();
    let _ = write!(
        out,
        "# HELP pufa_live_lectures Live lectures running in this process.\n# TYPE pufa_live_lectures gauge\npufa_live_lectures {lives}\n\
         # HELP pufa_live_viewers Distinct viewers of live lectures in the last 15 s.\n# TYPE pufa_live_viewers gauge\npufa_live_viewers {viewers}\n"
    );
    let (transactions, jobs) = state.db.writer_counts();
    let _ = write!(
        out,
        "# HELP pufa_db_writer_transactions_total Write transactions of the database writer (one per group commit).\n# TYPE pufa_db_writer_transactions_total counter\npufa_db_writer_transactions_total {transactions}\n\
         # HELP pufa_db_writer_jobs_total Writes (sign-ups, cancellations, removals) run by the database writer.\n# TYPE pufa_db_writer_jobs_total counter\npufa_db_writer_jobs_total {jobs}\n"
    );
    let grants = state.media.grants();
    let _ = write!(
        out,
        "# HELP pufa_media_grant_hits_total Media requests answered from a grant, without the database check (src/server/grants.rs).\n# TYPE pufa_media_grant_hits_total counter\npufa_media_grant_hits_total {}\n\
         # HELP pufa_media_grants Media grants held.\n# TYPE pufa_media_grants gauge\npufa_media_grants {}\n",
        grants.hits(),
        grants.len()
    );
    let (size, idle) = state.db.pool_size();
    let _ = write!(
        out,
        "# HELP pufa_db_pool_connections Database connections the pool holds.\n# TYPE pufa_db_pool_connections gauge\npufa_db_pool_connections {size}\n\
         # HELP pufa_db_pool_idle Idle database connections in the pool.\n# TYPE pufa_db_pool_idle gauge\npufa_db_pool_idle {idle}\n"
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        out,
    )
        .into_response()
}

/// Free bytes for unprivileged users on the file system holding `dir`.
pub fn free_disk_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// `/readyz`: whether this process can do its work — the database answers, the media
/// storage takes a write, and its disk has the configured free space. 503 with the failed
/// checks named otherwise (`/healthz` stays liveness).
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (ready, body) = readiness(
        &state.db,
        &state.config.media_dir,
        state.config.min_free_disk_bytes,
    )
    .await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

/// The checks of `/readyz`: whether all passed, and the JSON body naming each check's outcome
/// (`failed` lists the names of the failed ones).
pub async fn readiness(
    db: &crate::db::Db,
    media_dir: &std::path::Path,
    min_free_disk_bytes: u64,
) -> (bool, serde_json::Value) {
    let mut checks = serde_json::Map::new();
    let mut failed = Vec::new();

    match db.ping().await {
        Ok(()) => {
            checks.insert("database".into(), "ok".into());
        }
        Err(e) => {
            tracing::error!(error = ?e, "readiness: database unreachable");
            checks.insert("database".into(), "the database does not answer".into());
            failed.push("database");
        }
    }

    let media = media_dir.to_path_buf();
    let probe = media.join(format!(".readyz-{}", uuid::Uuid::new_v4()));
    let written = async {
        tokio::fs::write(&probe, b"ready?").await?;
        tokio::fs::remove_file(&probe).await
    }
    .await;
    match written {
        Ok(()) => {
            checks.insert("storage".into(), "ok".into());
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness: media storage not writable");
            checks.insert("storage".into(), "the media storage is not writable".into());
            failed.push("storage");
        }
    }

    let min = min_free_disk_bytes;
    let free = tokio::task::spawn_blocking(move || free_disk_bytes(&media)).await;
    match free {
        Ok(Ok(free)) if free >= min => {
            checks.insert("disk".into(), "ok".into());
        }
        Ok(Ok(free)) => {
            tracing::error!(
                free_mb = free / (1024 * 1024),
                min_mb = min / (1024 * 1024),
                "readiness: media disk almost full"
            );
            checks.insert(
                "disk".into(),
                format!(
                    "{} MB free on the media disk, below the minimum of {} MB",
                    free / (1024 * 1024),
                    min / (1024 * 1024)
                )
                .into(),
            );
            failed.push("disk");
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness: reading the media disk's free space");
            checks.insert(
                "disk".into(),
                "the media disk's free space cannot be read".into(),
            );
            failed.push("disk");
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness: the free-space check did not finish");
            checks.insert("disk".into(), "the free-space check did not finish".into());
            failed.push("disk");
        }
    }

    let ready = failed.is_empty();
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "failed": failed,
        "checks": checks,
    });
    (ready, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn metrics_are_for_loopback_or_the_token() {
        let local = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        let remote = Some(SocketAddr::from(([203, 0, 113, 9], 5000)));
        assert!(metrics_allowed(None, local, &HeaderMap::new()));
        assert!(!metrics_allowed(None, remote, &HeaderMap::new()));
        // a local proxy forwards outside clients from loopback
        assert!(!metrics_allowed(
            None,
            local,
            &headers(&[("x-forwarded-for", "203.0.113.9")])
        ));
        let bearer = headers(&[("authorization", "Bearer s3cret")]);
        assert!(metrics_allowed(Some("s3cret"), remote, &bearer));
        assert!(!metrics_allowed(None, remote, &bearer));
        assert!(!metrics_allowed(
            Some("s3cret"),
            remote,
            &headers(&[("authorization", "Bearer s3cre")])
        ));
        assert!(!metrics_allowed(Some("s3cret"), None, &HeaderMap::new()));
    }

    #[test]
    fn latency_lands_in_every_bucket_at_or_above_it() {
        let m = Metrics::default();
        m.observe("GET", "/calendar/{file}", 200, 0.03);
        let mut out = String::new();
        m.render_http(&mut out);
        assert!(out.contains(
            "pufa_http_requests_total{method=\"GET\",route=\"/calendar/{file}\",status=\"200\"} 1"
        ));
        assert!(out.contains("route=\"/calendar/{file}\",le=\"0.025\"} 0"));
        assert!(out.contains("route=\"/calendar/{file}\",le=\"0.05\"} 1"));
        assert!(out.contains("route=\"/calendar/{file}\",le=\"+Inf\"} 1"));
    }

    #[tokio::test]
    async fn readiness_names_an_unanswering_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::Db::open(dir.path()).await.expect("open");
        let (ready, body) = readiness(&db, dir.path(), 0).await;
        assert!(ready, "{body}");
        assert_eq!(body["status"], "ready");
        db.pool.close().await;
        let (ready, body) = readiness(&db, dir.path(), 0).await;
        assert!(!ready);
        assert_eq!(body["failed"], serde_json::json!(["database"]), "{body}");
        assert_eq!(body["checks"]["storage"], "ok");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
