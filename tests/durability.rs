//! An acknowledged sign-up survives a crash: the real binary is killed with SIGKILL right after
//! sign-ups were acknowledged, restarted on the same data directory, and every one is there.

mod common;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Child;

const ADMIN_PASSWORD: &str = "admin-durable-1";

fn start(dir: &Path) -> (Child, String) {
    common::start_binary(dir, ADMIN_PASSWORD, &[])
}

async fn wait_ready(url: &str) {
    common::wait_ready(url).await
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
            let uscc = common::valid_uscc(90_000 + n);
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
