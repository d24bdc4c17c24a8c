//! Staff accounts managed by organizers (`/admin/accounts`, `/api/v1/admin/accounts…`) and on
//! the command line (`pufa admin reset-password|list-users|disable|enable`), and the password
//! strength rule.

use crate::helpers::{problem, TestApp, ADMIN_PASSWORD};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const LAWYER_PASSWORD: &str = "river bamboo kettle 42";

async fn add_lawyer(app: &TestApp, org: &Client, name: &str) -> i64 {
    let r = org
        .post(app.url("/api/v1/admin/accounts"))
        .json(
            &json!({"role": "lawyer", "username": name, "display_name": "示例律师",
                      "password": LAWYER_PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["role"], "lawyer");
    assert_eq!(body["active"], true);
    body["id"].as_i64().unwrap()
}

async fn me_status(app: &TestApp, c: &Client) -> StatusCode {
    c.get(app.url("/api/v1/me")).send().await.unwrap().status()
}

#[tokio::test]
async fn an_organizer_adds_disables_and_resets_a_lawyer_and_the_login_follows() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;

    // a guessable password is refused with the reason in Chinese
    let r = org
        .post(app.url("/api/v1/admin/accounts"))
        .json(&json!({"role": "lawyer", "username": "lawyer.wang", "password": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    let msg = p["errors"][0]["message"].as_str().unwrap().to_string();
    assert_eq!(p["errors"][0]["field"], "password");
    assert!(msg.starts_with("密码太容易被猜到："), "{msg}");
    // the login name itself too
    let r = org
        .post(app.url("/api/v1/admin/accounts"))
        .json(&json!({"role": "lawyer", "username": "lawyer.wang", "password": "lawyer.wang"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let id = add_lawyer(&app, &org, "lawyer.wang").await;
    let r = org
        .post(app.url("/api/v1/admin/accounts"))
        .json(&json!({"role": "lawyer", "username": "lawyer.wang", "password": LAWYER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "username_taken");

    let lawyer = app.logged_in("lawyer.wang", LAWYER_PASSWORD).await;
    assert_eq!(me_status(&app, &lawyer).await, StatusCode::OK);
    let list: Vec<Value> = app.get_json(&org, "/api/v1/admin/accounts").await;
    let row = list.iter().find(|a| a["id"] == id).unwrap();
    assert!(row["last_login_at"].is_string(), "{row}");
    assert!(row.get("password_hash").is_none());

    // disabled: the open session ends at once, and only the right password learns why
    let r = org
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/disable")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
    assert_eq!(me_status(&app, &lawyer).await, StatusCode::UNAUTHORIZED);
    let r = app
        .login(&app.client(), "lawyer.wang", "wrong horse battery")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .login(&app.client(), "lawyer.wang", LAWYER_PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert_eq!(p["code"], "account_disabled");
    assert_eq!(p["detail"], "账号已停用，请联系组织方");
    // the login page says the same
    let c = app.client();
    let csrf = app.csrf_token(&c, "/login").await;
    let html = c
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "lawyer.wang"),
            ("password", LAWYER_PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("账号已停用，请联系组织方"), "{html}");

    let r = org
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/enable")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let lawyer = app.logged_in("lawyer.wang", LAWYER_PASSWORD).await;

    // a generated password is returned once; the old password and the session stop working
    let r = org
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/password")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let generated = body["generated_password"].as_str().unwrap().to_string();
    assert_eq!(me_status(&app, &lawyer).await, StatusCode::UNAUTHORIZED);
    let r = app
        .login(&app.client(), "lawyer.wang", LAWYER_PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.logged_in("lawyer.wang", &generated).await;
    // a chosen one is strength-checked
    let r = org
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/password")))
        .json(&json!({"password": "12345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = org
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/password")))
        .json(&json!({"password": "lantern meadow copper 9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .json::<Value>()
        .await
        .unwrap()
        .get("generated_password")
        .is_none());
    app.logged_in("lawyer.wang", "lantern meadow copper 9")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn an_organizer_cannot_disable_itself_or_the_last_organizer() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let list: Vec<Value> = app.get_json(&org, "/api/v1/admin/accounts").await;
    let admin_id = list.iter().find(|a| a["username"] == "admin").unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = org
        .post(app.url(&format!("/api/v1/admin/accounts/{admin_id}/disable")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "disable_self");

    // a second organizer may disable admin, but then not itself
    let r = org
        .post(app.url("/api/v1/admin/accounts"))
        .json(
            &json!({"role": "organizer", "username": "org2", "password": "harbor lamp orchard 7"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let org2_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let org2 = app.logged_in("org2", "harbor lamp orchard 7").await;
    let r = org2
        .post(app.url(&format!("/api/v1/admin/accounts/{admin_id}/disable")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(me_status(&app, &org).await, StatusCode::UNAUTHORIZED);
    let r = org2
        .post(app.url(&format!("/api/v1/admin/accounts/{org2_id}/disable")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn the_accounts_page_adds_disables_and_shows_a_generated_password_once() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let csrf = app.csrf_token(&org, "/admin/accounts").await;
    // weak: the form comes back with the message and the entered name
    let r = org
        .post(app.url("/admin/accounts"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("role", "lawyer"),
            ("username", "lawyer.li"),
            ("display_name", "李律师"),
            ("password", "12345678"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("密码太容易被猜到"), "{html}");
    assert!(html.contains("lawyer.li"));
    let r = org
        .post(app.url("/admin/accounts"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("role", "lawyer"),
            ("username", "lawyer.li"),
            ("display_name", "李律师"),
            ("password", LAWYER_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = app.get_text(&org, "/admin/accounts?notice=created").await;
    assert!(
        html.contains("李律师") && html.contains("账号已创建"),
        "{html}"
    );
    let list: Vec<Value> = app.get_json(&org, "/api/v1/admin/accounts").await;
    let id = list.iter().find(|a| a["username"] == "lawyer.li").unwrap()["id"]
        .as_i64()
        .unwrap();

    let lawyer = app.logged_in("lawyer.li", LAWYER_PASSWORD).await;
    let r = org
        .post(app.url(&format!("/admin/accounts/{id}/disable")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(&app, &lawyer).await, StatusCode::UNAUTHORIZED);
    assert!(app
        .get_text(&org, "/admin/accounts")
        .await
        .contains("已停用"));
    let r = org
        .post(app.url(&format!("/admin/accounts/{id}/enable")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let r = org
        .post(app.url(&format!("/admin/accounts/{id}/password")))
        .form(&[("csrf", csrf.as_str()), ("password", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let marker = "id=\"generated-password\">";
    let start = html.find(marker).expect("generated password shown") + marker.len();
    let password = &html[start..start + html[start..].find('<').unwrap()];
    app.logged_in("lawyer.li", password).await;
    assert!(!app
        .get_text(&org, "/admin/accounts")
        .await
        .contains(password));

    // without the CSRF field nothing changes
    let r = org
        .post(app.url(&format!("/admin/accounts/{id}/disable")))
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn non_organizers_get_403_on_every_admin_route() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let id = add_lawyer(&app, &org, "lawyer.zhao").await;
    let lawyer = app.logged_in("lawyer.zhao", LAWYER_PASSWORD).await;
    let (enterprise, _) = app.register_enterprise(501).await;
    for c in [&lawyer, &enterprise] {
        for path in [
            "/api/v1/admin/accounts",
            "/admin/accounts",
            "/admin/audit",
            "/admin/audit.csv",
        ] {
            let r = c.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "GET {path}");
        }
        let posts = [
            (
                "/api/v1/admin/accounts".to_string(),
                json!({"role": "lawyer", "username": "x.y.z", "password": LAWYER_PASSWORD}),
            ),
            (format!("/api/v1/admin/accounts/{id}/disable"), json!({})),
            (format!("/api/v1/admin/accounts/{id}/enable"), json!({})),
            (format!("/api/v1/admin/accounts/{id}/password"), json!({})),
        ];
        for (path, body) in &posts {
            let r = c.post(app.url(path)).json(body).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path}");
        }
        let csrf = app.csrf_token(c, "/").await;
        for path in [
            "/admin/accounts".to_string(),
            format!("/admin/accounts/{id}/disable"),
            format!("/admin/accounts/{id}/password"),
        ] {
            let r = c
                .post(app.url(&path))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("role", "lawyer"),
                    ("username", "x.y.z"),
                    ("password", LAWYER_PASSWORD),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path}");
        }
    }
    // still enabled, still one lawyer
    assert_eq!(me_status(&app, &lawyer).await, StatusCode::OK);
    let list: Vec<Value> = app.get_json(&org, "/api/v1/admin/accounts").await;
    assert_eq!(list.len(), 2);
    let r = app
        .anonymous()
        .get(app.url("/api/v1/admin/accounts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

fn admin_cli(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let dir = data.parent().expect("the data directory's parent");
    let mut child =
        crate::helpers::use_database_of(dir, &mut Command::new(env!("CARGO_BIN_EXE_pufa")))
            .args(["admin", "--data"])
            .arg(data)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pufa admin");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("stdin");
    }
    drop(input);
    child.wait_with_output().expect("pufa admin")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn the_admin_command_line_resets_lists_and_disables() {
    let app = TestApp::spawn().await;
    let data = app.dir.join("data");
    let (_, _) = app.register_enterprise(601).await;
    let out = admin_cli(
        &data,
        &["add-user", "--role", "lawyer", "lawyer.cli"],
        Some("password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("密码太容易被猜到"), "{}", text(&out));
    let out = admin_cli(
        &data,
        &["add-user", "--role", "lawyer", "lawyer.cli"],
        Some(&format!("{LAWYER_PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));

    // a lost admin password: reset on the command line, the open session ends
    let org = app.organizer().await;
    let out = admin_cli(&data, &["reset-password", "admin"], Some("12345678\n"));
    assert!(!out.status.success());
    assert!(text(&out).contains("密码"), "{}", text(&out));
    let out = admin_cli(
        &data,
        &["reset-password", "admin"],
        Some("new admin harbor 2027\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(me_status(&app, &org).await, StatusCode::UNAUTHORIZED);
    let r = app.login(&app.client(), "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let org = app.logged_in("admin", "new admin harbor 2027").await;
    let out = admin_cli(
        &data,
        &["reset-password", "nobody"],
        Some("new admin harbor 2027\n"),
    );
    assert!(!out.status.success());

    let out = admin_cli(&data, &["list-users"], None);
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains("admin") && listing.contains("lawyer.cli"),
        "{listing}"
    );
    assert!(listing.contains("enterprises: 1"), "{listing}");
    assert!(!listing.contains("139"), "no mobile numbers: {listing}");

    let lawyer = app.logged_in("lawyer.cli", LAWYER_PASSWORD).await;
    let out = admin_cli(&data, &["disable", "lawyer.cli"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(me_status(&app, &lawyer).await, StatusCode::UNAUTHORIZED);
    let r = app
        .login(&app.client(), "lawyer.cli", LAWYER_PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let listing =
        String::from_utf8_lossy(&admin_cli(&data, &["list-users"], None).stdout).to_string();
    assert!(
        listing
            .lines()
            .any(|l| l.contains("lawyer.cli") && l.contains("disabled")),
        "{listing}"
    );
    // the last organizer cannot be disabled, not even here
    let out = admin_cli(&data, &["disable", "admin"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("最后一个"), "{}", text(&out));
    let out = admin_cli(&data, &["enable", "lawyer.cli"], None);
    assert!(out.status.success(), "{}", text(&out));
    app.logged_in("lawyer.cli", LAWYER_PASSWORD).await;

    // the command line's changes are in the audit log, without an actor
    let html = app.get_text(&org, "/admin/audit").await;
    assert!(
        html.contains("停用账号") && html.contains("重置密码"),
        "{html}"
    );
    app.stop().await;
}

/// The review found `PUFA_ADMIN_PASSWORD` silently ignored on a second start.
#[tokio::test]
async fn an_admin_password_that_does_not_apply_is_logged_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = admin_cli(
        &data,
        &["add-user", "--role", "organizer", "admin"],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
    let mut command = Command::new(env!("CARGO_BIN_EXE_pufa"));
    command
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--rtmp-listen",
            "off",
            "--srt-listen",
            "off",
            "--transcode-workers",
            "0",
            "--data",
        ])
        .arg(&data)
        .arg("--media")
        .arg(dir.path().join("media"))
        .env("PUFA_ADMIN_PASSWORD", "Different-Pw-2027!")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let (child, stdout) =
        crate::helpers::ChildGuard::spawn_piped(&mut command).expect("start pufa");
    // the demo loads after the "serving on" line: read on a thread until the warning or
    // the health check says start-up is over
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) => {
                let found = line.contains("PUFA_ADMIN_PASSWORD not applied");
                seen.push(line);
                if found {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    child.kill();
    let log = seen.join("\n");
    assert!(
        log.contains("PUFA_ADMIN_PASSWORD not applied")
            && log.contains("pufa admin reset-password admin"),
        "{log}"
    );
    assert!(!log.contains("Different-Pw-2027!"));
}

/// A city puts its own name on the site: header, title, footer and the personal calendar.
#[tokio::test]
async fn branding_flags_change_the_header_footer_and_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_binary(
        dir.path(),
        &[
            "--site-name",
            "榕城普法",
            "--chamber-name",
            "福州市工商业联合会",
            "--footer",
            "福州市工商联 主办",
        ],
    )
    .await;
    let c = app.client();
    let home = app.get_text(&c, "/").await;
    assert!(
        home.contains("<a class=\"brand\" href=\"/\">榕城普法"),
        "{home}"
    );
    // a demo always says so in the chamber's name
    assert!(home.contains("福州市工商业联合会（示例）"), "{home}");
    assert!(home.contains("福州市工商联 主办"));
    assert!(home.contains("· 榕城普法</title>"));
    assert!(!home.contains("精准普法<small>"));

    let (enterprise, _) = app.register_enterprise(71).await;
    let me = app.get_text(&enterprise, "/me").await;
    let start = me.find("/calendar/").expect("calendar URL");
    let end = start + me[start..].find(".ics").expect("ics") + 4;
    let feed = app.get_text(&app.anonymous(), &me[start..end]).await;
    assert!(feed.contains("X-WR-CALNAME:榕城普法："), "{feed}");
    app.stop().await;
}

/// 「退出其他设备」 on 我的 ends the account's other sessions and keeps this one.
#[tokio::test]
async fn logging_out_other_devices_keeps_this_one() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    add_lawyer(&app, &org, "lawyer.devices").await;
    let phone = app.logged_in("lawyer.devices", LAWYER_PASSWORD).await;
    let office = app.logged_in("lawyer.devices", LAWYER_PASSWORD).await;
    let page = app.get_text(&office, "/me").await;
    assert!(page.contains("退出其他设备"));
    let csrf = app.csrf_token(&office, "/me").await;
    let r = office
        .post(app.url("/logout/others"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(&app, &phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &office).await, StatusCode::OK);
    assert!(app
        .get_text(&office, "/me?notice=others_out")
        .await
        .contains("已退出其他设备上的登录"));
    // the organizer's own session was never touched
    assert_eq!(me_status(&app, &org).await, StatusCode::OK);
    app.stop().await;
}
