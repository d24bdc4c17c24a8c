//! Observability: the access log, `/metrics` (parsed strictly as the Prometheus text
//! exposition format), `/readyz`.

use crate::helpers::{ChildGuard, TestApp, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);
/// A histogram's buckets (upper bound, cumulative count) by its labels other than `le`.
type Series = BTreeMap<Vec<(String, String)>, Vec<(f64, f64)>>;

/// Parse the text exposition format 0.0.4 strictly: every line is a `# HELP`, a `# TYPE` (of a
/// known type, before the family's samples, once per family) or a sample
/// `name{label="value",…} number` whose name belongs to a declared family; label values use
/// only the allowed escapes; histograms have cumulative buckets ending in `+Inf` equal to
/// `_count`. Panics with the offending line otherwise.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().expect("comment kind");
            let name = parts.next().unwrap_or_else(|| panic!("no name: {line}"));
            assert!(is_name(name), "bad metric name in {line}");
            match kind {
                "HELP" => {}
                "TYPE" => {
                    let t = parts.next().unwrap_or_else(|| panic!("no type: {line}"));
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                        "unknown type in {line}"
                    );
                    assert!(
                        types.insert(name.to_string(), t.to_string()).is_none(),
                        "family declared twice: {line}"
                    );
                }
                _ => panic!("unknown comment {line}"),
            }
            continue;
        }
        assert!(!line.is_empty(), "empty line in the exposition");
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("sample without a value: {line}"),
        };
        assert!(is_name(name), "bad sample name in {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        let mut labels = BTreeMap::new();
        let value_text = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.chars().peekable();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                assert!(is_name(&key), "bad label name in {line}");
                assert_eq!(chars.next(), Some('"'), "unquoted label value in {line}");
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line}"),
                        },
                        Some('"') => break,
                        Some('\n') | None => panic!("unterminated label value in {line}"),
                        Some(c) => value.push(c),
                    }
                }
                assert!(labels.insert(key, value).is_none(), "label twice in {line}");
                match chars.next() {
                    Some(',') => continue,
                    Some('}') => break,
                    other => panic!("unexpected {other:?} in {line}"),
                }
            }
            chars.collect::<String>()
        } else {
            rest.to_string()
        };
        let value_text = value_text
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line}"));
        let value: f64 = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        samples.push((name.to_string(), labels, value));
    }
    // histograms: cumulative buckets, +Inf == _count
    for (family, t) in &types {
        if t != "histogram" {
            continue;
        }
        let bucket = format!("{family}_bucket");
        let mut series = Series::new();
        for (name, labels, v) in &samples {
            if *name == bucket {
                let le = labels.get("le").expect("bucket without le");
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("le is a number")
                };
                let key = labels
                    .iter()
                    .filter(|(k, _)| *k != "le")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                series.entry(key).or_default().push((bound, *v));
            }
        }
        for (key, buckets) in series {
            assert!(
                buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{family} {key:?}: buckets not cumulative"
            );
            let last = buckets.last().expect("a bucket");
            assert!(last.0.is_infinite(), "{family} {key:?}: no +Inf bucket");
            let labels: BTreeMap<String, String> = key.into_iter().collect();
            let count = value(&samples, &format!("{family}_count"), &labels)
                .unwrap_or_else(|| panic!("{family}: no _count"));
            assert_eq!(last.1, count, "{family}: +Inf bucket differs from _count");
        }
    }
    samples
}

/// The value of the sample `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &BTreeMap<String, String>) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l == labels)
        .map(|(_, _, v)| *v)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let r = app
        .anonymous()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse_exposition(&r.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_parse_as_prometheus_and_counters_move_after_requests() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let healthz = labels(&[("method", "GET"), ("route", "/healthz"), ("status", "200")]);
    let healthz_before = value(&before, "pufa_http_requests_total", &healthz).unwrap_or(0.0);
    let confirmed = labels(&[("status", "confirmed")]);
    let signups_before = value(&before, "pufa_signups", &confirmed).unwrap_or(0.0);

    let anonymous = app.anonymous();
    for _ in 0..3 {
        anonymous
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
    }
    // a secret calendar token in the path and a query string: only the template is counted
    let r = anonymous
        .get(app.url("/calendar/secret-token-123.ics?key=hush"))
        .send()
        .await
        .expect("calendar");
    let calendar_status = r.status().as_u16().to_string();
    let (enterprise, _) = app.register_enterprise(71).await;
    let session = app.demo_session_ids(&enterprise).await[0];
    let (status, body) = app.sign_up(&enterprise, session, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let text = app
        .anonymous()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        !text.contains("secret-token-123") && !text.contains("hush"),
        "{text}"
    );
    let after = parse_exposition(&text);
    assert_eq!(
        value(&after, "pufa_http_requests_total", &healthz),
        Some(healthz_before + 3.0)
    );
    assert_eq!(
        value(
            &after,
            "pufa_http_requests_total",
            &labels(&[
                ("method", "GET"),
                ("route", "/calendar/{file}"),
                ("status", &calendar_status)
            ])
        ),
        Some(1.0)
    );
    let route = labels(&[("route", "/healthz")]);
    assert!(value(&after, "pufa_http_request_duration_seconds_count", &route) >= Some(3.0));
    assert_eq!(
        value(&after, "pufa_signups", &confirmed),
        Some(signups_before + 1.0)
    );
    for gauge in [
        "pufa_job_queue_depth",
        "pufa_live_viewers",
        "pufa_live_lectures",
        "pufa_db_pool_connections",
        "pufa_db_pool_idle",
        "pufa_database_up",
    ] {
        assert!(
            value(&after, gauge, &BTreeMap::new()).is_some(),
            "{gauge} missing"
        );
    }
    assert_eq!(
        value(&after, "pufa_database_up", &BTreeMap::new()),
        Some(1.0)
    );
    assert!(value(&after, "pufa_db_pool_connections", &BTreeMap::new()) >= Some(1.0));
    // the sign-up above went through the database writer: at least one job in at least one
    // transaction, never more transactions than jobs
    let none = BTreeMap::new();
    let jobs = value(&after, "pufa_db_writer_jobs_total", &none).expect("writer jobs");
    let transactions =
        value(&after, "pufa_db_writer_transactions_total", &none).expect("writer transactions");
    assert!(
        jobs >= 1.0 && transactions >= 1.0 && transactions <= jobs,
        "{jobs} {transactions}"
    );
}

#[tokio::test]
async fn metrics_need_loopback_or_the_token() {
    let app = TestApp::spawn_with(|c| c.metrics_token = Some("metrics-token-1".into())).await;
    let c = app.anonymous();
    // as a local reverse proxy would forward an outside client
    let r = c
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.7")
        .bearer_auth("wrong")
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.7")
        .bearer_auth("metrics-token-1")
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    parse_exposition(&r.text().await.expect("body"));
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let r = app
        .anonymous()
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    (r.status(), r.json().await.expect("json body"))
}

#[tokio::test]
async fn readyz_is_ready_then_names_unwritable_storage() {
    let app = TestApp::spawn().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["failed"], serde_json::json!([]));

    // the media folder replaced by a file: nothing can be written under it (also as root)
    let media = app.dir.join("media");
    std::fs::remove_dir_all(&media).expect("remove media");
    std::fs::write(&media, b"not a folder").expect("file");
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failed"], serde_json::json!(["storage"]), "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    // liveness is not readiness
    let r = app
        .anonymous()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_fails_when_free_disk_is_below_the_threshold() {
    let app = TestApp::spawn_with(|c| c.min_free_disk_bytes = u64::MAX).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failed"], serde_json::json!(["disk"]), "{body}");
    assert_eq!(body["status"], "not ready");
    let disk = body["checks"]["disk"].as_str().expect("disk message");
    assert!(disk.contains("below the minimum"), "{disk}");
}

/// Start the binary with its log on a pipe, as under systemd or `> file`; its lines are
/// collected in the background.
fn start_logging(
    dir: &std::path::Path,
    extra: &[&str],
) -> (ChildGuard, Arc<Mutex<Vec<String>>>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pufa"));
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .arg("--media")
        .arg(dir.join("media"))
        .args([
            "--rtmp-listen",
            "off",
            "--srt-listen",
            "off",
            "--transcode-workers",
            "0",
        ])
        .args(extra)
        .env("PUFA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("RUST_LOG")
        .stderr(Stdio::null());
    let (child, stdout) = ChildGuard::spawn_piped(&mut command).expect("start pufa");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let collected = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("pufa serving on ") {
                let _ = tx.send(addr.trim().to_string());
            }
            collected.lock().expect("lines").push(line);
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("pufa said where it serves");
    (child, lines, address)
}

#[tokio::test]
async fn one_access_log_line_per_request_without_secrets_or_colours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_child, lines, address) = start_logging(dir.path(), &[]);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = client
        .get(format!("{address}/calendar/secret-token-456.ics?sig=hush"))
        .send()
        .await
        .expect("calendar");
    let calendar_status = r.status().as_u16();
    let r = client
        .post(format!("{address}/api/v1/login"))
        .json(&serde_json::json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{address}/me"))
        .send()
        .await
        .expect("me");
    let me_status = r.status().as_u16();

    let mut log = String::new();
    for _ in 0..100 {
        log = lines.lock().expect("lines").join("\n");
        if log.contains("route=/me ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!log.contains('\u{1b}'), "ANSI codes in a piped log:\n{log}");
    assert!(
        !log.contains("secret-token-456") && !log.contains("hush"),
        "{log}"
    );
    assert!(
        !log.contains("pufa_session="),
        "a cookie in the log:\n{log}"
    );
    let access: Vec<&str> = log.lines().filter(|l| l.contains("pufa::access")).collect();
    let calendar: Vec<&&str> = access
        .iter()
        .filter(|l| l.contains("route=/calendar/{file} "))
        .collect();
    assert_eq!(calendar.len(), 1, "one line per request:\n{log}");
    let line = calendar[0];
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(
        line.contains(&format!("status={calendar_status}")),
        "{line}"
    );
    assert!(line.contains("duration_ms="), "{line}");
    assert!(line.contains("account=-"), "{line}");
    // the event's own fields (the span before it repeats some)
    let line = line.split("pufa::access: ").nth(1).expect("event fields");
    let request_id = line
        .split("request_id=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("request id");
    assert_eq!(request_id.len(), 36, "a UUID: {line}");
    let me = access
        .iter()
        .find(|l| l.contains("route=/me "))
        .unwrap_or_else(|| panic!("no line for /me:\n{log}"));
    assert!(me.contains(&format!("status={me_status}")), "{me}");
    let account = me
        .split("account=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("account");
    assert!(account.parse::<i64>().is_ok(), "the admin's id: {me}");
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_pufa"))
        .args(["serve", "--log-format", "xml"])
        .output()
        .expect("run pufa");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("xml") && err.contains("--log-format"), "{err}");
}
