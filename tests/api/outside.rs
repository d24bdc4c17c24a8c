//! The world outside pufa, as the notification tests meet it: a real SMTP server process
//! (Debian's `python3-aiosmtpd`, tests/support/smtp_sink.py) that writes every message it
//! receives to a folder as JSON, and a local SMS gateway webhook that checks every signature
//! and can be told to fail. One definition for every test that sends mail or SMS.

use crate::helpers::{first_line_after, ChildGuard};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// The webhook secret the gateway checks signatures with (configure pufa with it).
pub const SMS_SECRET: &str = "webhook-test-secret";

/// The subject of a verification-code mail.
const CODE_SUBJECT: &str = "精准普法验证码";

/// The SMTP sink process and the folder it writes every message to.
pub struct SmtpSink {
    port: u16,
    dir: TempDir,
    _child: ChildGuard,
}

impl SmtpSink {
    /// Start the sink on a free port; `delay_s` slows every message down.
    pub fn start(delay_s: f64) -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut command = Command::new("/usr/bin/python3");
        command
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(delay_s.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        let (child, stdout) = ChildGuard::spawn_piped(&mut command)
            .expect("python3 (with python3-aiosmtpd: make test-deps)");
        first_line_after(stdout, "ready").expect("the SMTP sink did not start: python3-aiosmtpd?");
        SmtpSink {
            port,
            dir,
            _child: child,
        }
    }

    /// `PUFA_SMTP_URL` for the sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far (decoded by the sink), in arrival order.
    pub fn mails(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// The messages to `rcpt`, in arrival order.
    pub fn mails_to(&self, rcpt: &str) -> Vec<Value> {
        self.mails()
            .into_iter()
            .filter(|m| m["rcpt"][0] == rcpt)
            .collect()
    }

    /// The messages to `rcpt` that are not verification codes.
    pub fn notifications_to(&self, rcpt: &str) -> Vec<Value> {
        self.mails_to(rcpt)
            .into_iter()
            .filter(|m| m["subject"] != CODE_SUBJECT)
            .collect()
    }

    /// The code of the latest verification mail to `rcpt`.
    pub fn code_for(&self, rcpt: &str) -> String {
        let mail = self
            .mails_to(rcpt)
            .into_iter()
            .rev()
            .find(|m| m["subject"] == CODE_SUBJECT)
            .unwrap_or_else(|| panic!("no code mail to {rcpt}"));
        let text = mail["text"].as_str().unwrap();
        let start = text.find("验证码是：").unwrap() + "验证码是：".len();
        text[start..start + 6].to_string()
    }
}

/// The SMS webhook receiver: checks every signature, answers 500 while `fail_next` > 0.
#[derive(Clone, Default)]
pub struct Gateway {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
    /// Answers 500 to this many more requests.
    pub fail_next: Arc<AtomicUsize>,
    pub failed: Arc<AtomicUsize>,
    pub bad_signatures: Arc<AtomicUsize>,
}

async fn sms_webhook(State(gw): State<Gateway>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let signature = headers
        .get("x-pufa-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if signature != pufa::notify::webhook_signature(SMS_SECRET, &body) {
        gw.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return AxumStatus::UNAUTHORIZED;
    }
    let failing = gw
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        gw.failed.fetch_add(1, Ordering::SeqCst);
        return AxumStatus::INTERNAL_SERVER_ERROR;
    }
    gw.received
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    AxumStatus::OK
}

impl Gateway {
    /// Listen on a free loopback port (`url` is `PUFA_SMS_WEBHOOK_URL`).
    pub async fn start() -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = Gateway {
            url: format!("http://{}/sms", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = axum::Router::new()
            .route("/sms", axum::routing::post(sms_webhook))
            .with_state(gw.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        gw
    }

    /// Every correctly signed message accepted so far, in order.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    /// The messages to `to`, in order.
    pub fn to(&self, to: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|m| m["to"] == to)
            .collect()
    }

    /// The templates sent to `to`, in order.
    pub fn templates_to(&self, to: &str) -> Vec<String> {
        self.to(to)
            .iter()
            .map(|m| m["template"].as_str().unwrap().to_string())
            .collect()
    }

    /// The messages to `to` that are not verification codes.
    pub fn notifications_to(&self, to: &str) -> Vec<Value> {
        self.to(to)
            .into_iter()
            .filter(|m| m["template"] != "PUFA_CODE")
            .collect()
    }

    /// The verification codes sent to `to`, in order.
    pub fn codes_to(&self, to: &str) -> Vec<String> {
        self.to(to)
            .iter()
            .filter(|m| m["template"] == "PUFA_CODE")
            .map(|m| m["params"]["code"].as_str().unwrap().to_string())
            .collect()
    }

    /// The latest code sent to `to`.
    pub fn code_for(&self, to: &str) -> String {
        self.codes_to(to)
            .pop()
            .unwrap_or_else(|| panic!("no code SMS to {to}"))
    }

    /// The `n`-th code to `to` (0-based), waiting for it: reset codes go out in the
    /// background.
    pub async fn code(&self, to: &str, n: usize) -> String {
        for _ in 0..200 {
            if let Some(code) = self.codes_to(to).get(n) {
                return code.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("no code number {n} to {to}");
    }
}
