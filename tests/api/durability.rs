//! An acknowledged sign-up survives a crash: the real binary is killed with SIGKILL right after
//! sign-ups were acknowledged, restarted on the same data directory, and every one is there.

use crate::helpers::TestApp;
use futures_util::future::join_all;
use reqwest::StatusCode;

#[tokio::test]
async fn acknowledged_sign_ups_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_binary(dir.path(), &[]).await;
    let org = app.organizer().await;
    let sessions = app.demo_session_ids(&org).await;

    // 12 enterprises each sign up for 4 sessions, concurrently
    let enterprises = (0..12u32).map(|n| {
        let (app, sessions) = (&app, &sessions);
        async move {
            let (c, uscc) = app.register_enterprise(90_000 + n).await;
            let mut acks = Vec::new();
            for &s in sessions.iter().skip(n as usize % 4).take(4) {
                let (status, body) = app.sign_up(&c, s, 1).await;
                if status == StatusCode::CREATED {
                    acks.push((
                        s,
                        uscc.clone(),
                        body["status"].as_str().unwrap().to_string(),
                    ));
                }
            }
            acks
        }
    });
    let acknowledged: Vec<(i64, String, String)> =
        join_all(enterprises).await.into_iter().flatten().collect();
    assert_eq!(acknowledged.len(), 48);
    // crash right after the last acknowledgement
    app.crash();

    let app = TestApp::start_binary(dir.path(), &[]).await;
    let org = app.organizer().await;
    for (sid, uscc, status) in &acknowledged {
        let rows = app.roster(&org, *sid).await;
        let row = rows.iter().find(|r| r["uscc"] == uscc.as_str());
        assert!(row.is_some(), "sign-up of {uscc} for {sid} lost");
        assert_eq!(row.unwrap()["status"], status.as_str());
    }
}
