//! Backups that restore: `pufa backup` of a running server with sign-ups and a published
//! lecture, `pufa restore` into new directories, and a server started there finds both.

use crate::helpers::{master_playlist, TestApp};
use reqwest::StatusCode;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn pufa(args: &[&str], data: &Path, media: &Path, file: &Path, restore: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pufa"));
    command.args(args);
    if restore {
        command
            .arg(file)
            .arg("--data")
            .arg(data)
            .arg("--media")
            .arg(media);
    } else {
        command
            .arg("--data")
            .arg(data)
            .arg("--media")
            .arg(media)
            .arg(file);
    }
    command.env("RUST_LOG", "warn").output().expect("run pufa")
}

#[tokio::test]
async fn a_backup_of_a_running_server_restores_with_sign_ups_and_lectures() {
    if crate::helpers::sqlite_only("a_backup_of_a_running_server_restores") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_binary(dir.path(), &[]).await;
    let org = app.organizer().await;
    let sessions = app.demo_session_ids(&org).await;
    let (enterprise, uscc) = app.register_enterprise(77_001).await;
    let (status, _) = app.sign_up(&enterprise, sessions[1], 2).await;
    assert_eq!(status, StatusCode::CREATED);

    // the demo's recording of the first session is transcoded by the server's worker
    let deadline = Instant::now() + Duration::from_secs(300);
    let lecture = loop {
        let job = app.job(&org, 1).await;
        if job["state"] == "done" {
            break job["lecture_id"].as_i64().unwrap();
        }
        assert!(job["state"] != "failed", "{job}");
        assert!(
            Instant::now() < deadline,
            "demo recording not published: {job}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // work files a backup must leave out
    let media = dir.path().join("media");
    std::fs::write(media.join("uploads").join("half.mp4.part"), b"half").unwrap();
    std::fs::create_dir_all(media.join("live").join("9").join("9")).unwrap();
    std::fs::write(media.join("live/9/9/journal.bin"), b"live").unwrap();

    // back up while the server runs
    let archive = dir.path().join("pufa-backup.tar");
    let out = pufa(
        &["backup"],
        &dir.path().join("data"),
        &media,
        &archive,
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    // a second backup never overwrites the first
    let again = pufa(
        &["backup"],
        &dir.path().join("data"),
        &media,
        &archive,
        false,
    );
    assert!(!again.status.success());
    app.stop().await;

    // restore into new directories, then refuse non-empty ones
    let restored = tempfile::tempdir().unwrap();
    let (data2, media2) = (restored.path().join("data"), restored.path().join("media"));
    let out = pufa(&["restore"], &data2, &media2, &archive, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!media2.join("uploads/half.mp4.part").exists());
    assert!(!media2.join("live").exists());
    let out = pufa(
        &["restore"],
        &data2,
        &restored.path().join("other"),
        &archive,
        true,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a server on the restored directories has both
    let app = TestApp::start_binary(restored.path(), &[]).await;
    let org = app.organizer().await;
    let rows = app.roster(&org, sessions[1]).await;
    let row = rows.iter().find(|r| r["uscc"] == uscc.as_str());
    assert!(row.is_some(), "sign-up of {uscc} lost: {rows:?}");
    let page = app.get_text(&org, &format!("/lectures/{lecture}")).await;
    let master = master_playlist(&page);
    let r = org.get(app.url(&master)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{master}");
    let text = r.text().await.unwrap();
    let variant = text
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("a variant in the master playlist");
    let base = &master[..master.rfind('/').unwrap() + 1];
    let variant_url = format!("{base}{variant}");
    let playlist = app.get_text(&org, &variant_url).await;
    let segment = playlist
        .lines()
        .find(|l| l.ends_with(".m4s"))
        .expect("a segment in the playlist");
    let variant_base = &variant_url[..variant_url.rfind('/').unwrap() + 1];
    let r = org
        .get(app.url(&format!("{variant_base}{segment}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.bytes().await.unwrap().is_empty());
    app.stop().await;
}
