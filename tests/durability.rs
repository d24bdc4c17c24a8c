//! An acknowledged sign-up survives a crash: the real binary is killed with SIGKILL right after
//! sign-ups were acknowledged, restarted on the same data directory, and every one is there.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const ADMIN_PASSWORD: &str = "admin-durable-1";

/// Start `pufa serve` on a free port; returns the child and its base URL.
fn start(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pufa"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.join("data"))
        .arg("--media")
        .arg(data.join("media"))
        .env("PUFA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pufa");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("server output").expect("line");
        if let Some(rest) = line.strip_prefix("pufa serving on ") {
            break rest.trim().to_string();
        }
    };
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

async fn wait_ready(url: &str) {
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{url}/healthz")).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("server not ready");
}

fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

#[tokio::test]
async fn acknowledged_sign_ups_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(dir.path());
    wait_ready(&url).await;

    let org = client();
    let r = org
        .post(format!("{url}/api/v1/login"))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let programs: Value = org
        .get(format!("{url}/api/v1/programs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = programs[0]["id"].as_i64().unwrap();
    let program: Value = org
        .get(format!("{url}/api/v1/programs/{pid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions: Vec<i64> = program["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();

    // 12 enterprises each sign up for 4 sessions, concurrently
    let mut acknowledged = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    for n in 0..12u32 {
        let url = url.clone();
        let sessions = sessions.clone();
        set.spawn(async move {
            let c = client();
            let uscc = format!("91350100{:08}", 90_000 + n);
            let uscc = with_checks(&uscc);
            let r = c
                .post(format!("{url}/api/v1/enterprises"))
                .json(&json!({"name": format!("示例持久化企业{n}"), "uscc": uscc, "industry": "C",
                              "contact_name": "示例", "mobile": format!("137{:08}", n), "password": "durable-pass-1"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            c.post(format!("{url}/api/v1/login"))
                .json(&json!({"login": uscc, "password": "durable-pass-1"}))
                .send()
                .await
                .unwrap();
            let mut acks = Vec::new();
            for s in sessions.iter().skip(n as usize % 4).take(4) {
                let r = c
                    .post(format!("{url}/api/v1/sessions/{s}/registrations"))
                    .json(&json!({"seats": 1}))
                    .send()
                    .await
                    .unwrap();
                if r.status() == StatusCode::CREATED {
                    let body: Value = r.json().await.unwrap();
                    acks.push((*s, uscc.clone(), body["status"].as_str().unwrap().to_string()));
                }
            }
            acks
        });
    }
    for acks in set.join_all().await {
        acknowledged.extend(acks);
    }
    assert_eq!(acknowledged.len(), 48);
    // crash right after the last acknowledgement
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let (mut child, url) = start(dir.path());
    wait_ready(&url).await;
    let org = client();
    org.post(format!("{url}/api/v1/login"))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    for (sid, uscc, status) in &acknowledged {
        let rows: Vec<Value> = org
            .get(format!("{url}/api/v1/sessions/{sid}/registrations"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let row = rows.iter().find(|r| r["uscc"] == uscc.as_str());
        assert!(row.is_some(), "sign-up of {uscc} for {sid} lost");
        assert_eq!(row.unwrap()["status"], status.as_str());
    }
    child.kill().ok();
    child.wait().ok();
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Append both check characters to 16 characters (8 region/type + 8 org-code body).
fn with_checks(first16: &str) -> String {
    let body = &first16[8..16];
    let sum: u32 = body
        .bytes()
        .zip([3u32, 7, 9, 10, 5, 8, 4, 2])
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let org = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    };
    let first17 = format!("{first16}{org}");
    let total: u32 = first17
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            ALPHABET.iter().position(|a| *a == b).unwrap() as u32 * 3u32.pow(i as u32) % 31
        })
        .sum();
    format!(
        "{first17}{}",
        ALPHABET[((31 - total % 31) % 31) as usize] as char
    )
}
