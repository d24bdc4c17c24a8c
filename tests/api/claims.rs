//! Credit-code disputes: a squatter registers a company's code; the company files a claim with
//! its licence; organizers review it, reject another claim, freeze the squatter and hand the
//! code over; the company sets its password and logs in with its code. Both sides are told:
//! the claimant by SMS (a real webhook receiver here), the holder in its inbox.

use crate::helpers::{problem, valid_uscc, TestApp, ENTERPRISE_PASSWORD};
use crate::outside::{Gateway, SmtpSink, SMS_SECRET};
use chrono::{Duration, Utc};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// A real 1×1 PNG, made here rather than committed.
fn tiny_png() -> Vec<u8> {
    let hex = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489\
               0000000a49444154789c63000100000500010d0a2db40000000049454e44ae426082";
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The text fields of a claim for `uscc` by contact `mobile`.
fn claim_form(uscc: &str, mobile: &str, licence: Option<(&str, Vec<u8>)>) -> Form {
    let mut form = Form::new()
        .text("company_name", "真实示例制造有限公司")
        .text("uscc", uscc.to_string())
        .text("contact_name", "王经理")
        .text("mobile", mobile.to_string())
        .text(
            "statement",
            "本企业从未在本平台注册，该账号系他人冒用我司信用代码注册。",
        );
    if let Some((name, bytes)) = licence {
        form = form.part("licence", Part::bytes(bytes).file_name(name.to_string()));
    }
    form
}

async fn post_claim(app: &TestApp, c: &Client, token: &str, form: Form) -> reqwest::Response {
    c.post(app.url("/api/v1/claims"))
        .header("x-csrf-token", token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A program with one session of `capacity` seats a month ahead.
async fn session(app: &TestApp, org: &Client, capacity: i64) -> i64 {
    let start = Utc::now().date_naive() + Duration::days(30);
    let end = start + Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "申诉测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .add_session(
            org,
            pid,
            &json!({
                "title": "合同风险防范", "category": "合同管理",
                "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": capacity,
                "starts_at": format!("{}T10:00+08:00", start + Duration::days(3)),
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn notification_kinds(app: &TestApp, user: i64) -> Vec<String> {
    let pool = crate::helpers::pool_of(&app.dir).await;
    let kinds = sqlx::query_scalar("SELECT kind FROM notifications WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    kinds
}

async fn audit_actions(app: &TestApp, org: &Client) -> Vec<String> {
    let csv = app.get_text(org, "/admin/audit.csv").await;
    csv.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn a_squatted_code_is_claimed_reviewed_and_handed_over() {
    let gw = Gateway::start().await;
    let url = gw.url.clone();
    let app = TestApp::spawn_with(|c| {
        c.notify.sms_webhook_url = Some(url);
        c.notify.sms_webhook_secret = Some(SMS_SECRET.into());
        c.notify.delivery_workers = 0;
    })
    .await;
    let org = app.organizer().await;

    // a squatter registers the real company's code, with the company's own mobile number
    let (squatter, uscc) = app.register_enterprise(501).await;
    let real_mobile = "13900000501";
    let me: Value = app.get_json(&squatter, "/api/v1/me").await;
    let holder_id = me["id"].as_i64().unwrap();
    // the company registering finds its code taken and is pointed to the claim form
    let r = app
        .post_enterprise(
            &app.client(),
            &json!({"name": "真实示例制造有限公司", "uscc": uscc, "industry": "C",
                    "contact_name": "王经理", "mobile": "13700000009",
                    "password": "harbor lamp orchard 7", "privacy_consent": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let p = problem(r).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("/claims/new?uscc={uscc}")),
        "{p}"
    );

    // the squatter holds the only seat of a session, another enterprise waits for it
    let sid = session(&app, &org, 1).await;
    let (status, _) = app.sign_up(&squatter, sid, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let (waiting, _) = app.register_enterprise(502).await;
    let (_, reg) = app.sign_up(&waiting, sid, 1).await;
    assert_eq!(reg["status"], "waitlisted", "{reg}");

    // the claimant: no account, the claim form's CSRF token
    let claimant = app.client();
    let token = app.csrf_token(&claimant, "/claims/new").await;
    let page = app
        .get_text(&claimant, &format!("/claims/new?uscc={uscc}"))
        .await;
    assert!(page.contains(&uscc), "the code is filled in");

    // refused: without a licence, with a text file named .png, for a code nobody registered,
    // without the CSRF token
    let r = post_claim(
        &app,
        &claimant,
        &token,
        claim_form(&uscc, real_mobile, None),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    assert!(p.to_string().contains("营业执照"), "{p}");
    let fake = Some(("licence.png", b"this is not an image at all".to_vec()));
    let r = post_claim(
        &app,
        &claimant,
        &token,
        claim_form(&uscc, real_mobile, fake),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(r).await.to_string().contains("JPEG、PNG"));
    let free = valid_uscc(777);
    let png = Some(("licence.png", tiny_png()));
    let r = post_claim(
        &app,
        &claimant,
        &token,
        claim_form(&free, real_mobile, png.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(r)
        .await
        .to_string()
        .contains("该信用代码尚未注册，可直接注册"));
    let r = post_claim(
        &app,
        &claimant,
        "wrong",
        claim_form(&uscc, real_mobile, png.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // accepted with a real PNG; a second one by the same contact is refused while it is open
    let r = post_claim(
        &app,
        &claimant,
        &token,
        claim_form(&uscc, real_mobile, png.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let filed: Value = r.json().await.unwrap();
    let claim_id = filed["id"].as_i64().unwrap();
    let status_url = filed["status_url"].as_str().unwrap().to_string();
    assert_eq!(gw.templates_to(real_mobile), ["PUFA_CLAIM_RECEIVED"]);
    let r = post_claim(
        &app,
        &claimant,
        &token,
        claim_form(&uscc, real_mobile, png.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // the licence folder holds the file, and no file is left by the refused attempts
    let licences: Vec<_> = std::fs::read_dir(app.dir.join("data/claims"))
        .unwrap()
        .collect();
    assert_eq!(licences.len(), 1);
    assert!(!app.dir.join("media/claims").exists());

    // the private status page; a wrong token is 404
    let page = app.get_text(&claimant, &status_url).await;
    assert!(page.contains("待审核"), "{page}");
    let wrong = format!("/claims/{claim_id}/{}", "A".repeat(43));
    let r = claimant.get(app.url(&wrong)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // a second claim, by another contact, to be rejected
    let other_mobile = "13700000001";
    let r = post_claim(
        &app,
        &claimant,
        &token,
        claim_form(&uscc, other_mobile, png.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let rejected: Value = r.json().await.unwrap();
    let rejected_id = rejected["id"].as_i64().unwrap();

    // non-organizers get 403 on every admin route and the licence
    let squatter_token = app.csrf_token(&squatter, "/").await;
    for path in [
        "/admin/claims".to_string(),
        format!("/admin/claims/{claim_id}"),
        format!("/admin/claims/{claim_id}/licence"),
        "/api/v1/admin/claims".to_string(),
    ] {
        let r = waiting.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for action in ["reject", "freeze", "transfer"] {
        let r = squatter
            .post(app.url(&format!("/api/v1/admin/claims/{claim_id}/{action}")))
            .json(&json!({"reason": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
        let r = squatter
            .post(app.url(&format!("/admin/claims/{claim_id}/{action}")))
            .form(&[("csrf", squatter_token.as_str()), ("reason", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let r = claimant
        .get(app.url("/api/v1/admin/claims"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // the organizer: list, detail with the holder (mobile masked), licence never cached
    let list: Vec<Value> = app
        .get_json(&org, "/api/v1/admin/claims?state=pending")
        .await;
    assert_eq!(list.len(), 2);
    let page = app.get_text(&org, "/admin/claims?state=pending").await;
    assert!(page.contains("真实示例制造有限公司"));
    let page = app
        .get_text(&org, &format!("/admin/claims/{claim_id}"))
        .await;
    assert!(page.contains("示例企业501有限公司"), "holder shown");
    assert!(page.contains("139****0501"), "masked mobile");
    let r = org
        .get(app.url(&format!("/admin/claims/{claim_id}/licence")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert_eq!(r.bytes().await.unwrap().to_vec(), tiny_png());

    // reject path: the claimant is told, its page shows the reason; a decided claim stays so
    let r = org
        .post(app.url(&format!("/api/v1/admin/claims/{rejected_id}/reject")))
        .json(&json!({"reason": "营业执照照片无法辨认"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "rejected");
    assert_eq!(
        gw.templates_to(other_mobile),
        ["PUFA_CLAIM_RECEIVED", "PUFA_CLAIM_REJECTED"]
    );
    let page = app
        .get_text(&claimant, rejected["status_url"].as_str().unwrap())
        .await;
    assert!(page.contains("已驳回") && page.contains("营业执照照片无法辨认"));
    let r = org
        .post(app.url(&format!("/api/v1/admin/claims/{rejected_id}/transfer")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // freeze through the page form: the squatter is logged out and cannot log in, its seat
    // goes to the waitlist
    let org_token = app
        .csrf_token(&org, &format!("/admin/claims/{claim_id}"))
        .await;
    let r = org
        .post(app.url(&format!("/admin/claims/{claim_id}/freeze")))
        .form(&[("csrf", org_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = squatter.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "sessions ended");
    let r = app.login(&app.client(), &uscc, ENTERPRISE_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "account_disabled");
    let roster = app.roster(&org, sid).await;
    assert_eq!(roster.len(), 1, "{roster:?}");
    assert_eq!(roster[0]["status"], "confirmed");
    assert_eq!(roster[0]["uscc"], valid_uscc(502));

    // hand-over: the code (and the mobile the squatter took) go to a new account
    let r = org
        .post(app.url(&format!("/api/v1/admin/claims/{claim_id}/transfer")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["state"], "transferred");
    assert_ne!(done["new_account"], Value::Null);
    assert_eq!(
        gw.templates_to(real_mobile),
        ["PUFA_CLAIM_RECEIVED", "PUFA_CLAIM_DONE"]
    );
    assert_eq!(
        notification_kinds(&app, holder_id).await,
        ["signup_confirmed", "account_frozen", "uscc_transferred"]
    );
    // nobody can log in with the code before the claimant set its password
    let r = app.login(&app.client(), &uscc, ENTERPRISE_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // the claimant sets its password through its status link (strength-checked, once)
    let page = app.get_text(&claimant, &status_url).await;
    assert!(page.contains("已移交") && page.contains("/activate"));
    let activate = format!("{status_url}/activate");
    let token = app.csrf_token(&claimant, &activate).await;
    let r = claimant
        .post(app.url(&activate))
        .form(&[
            ("csrf", token.as_str()),
            ("password", "password"),
            ("privacy_consent", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = claimant
        .post(app.url(&activate))
        .form(&[
            ("csrf", token.as_str()),
            ("password", "copper valley lantern 58"),
            ("privacy_consent", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = claimant.get(app.url(&activate)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "the link is used up");

    // it logs in with the code, and with the mobile the squatter had registered
    let company = app.logged_in(&uscc, "copper valley lantern 58").await;
    let me: Value = app.get_json(&company, "/api/v1/me").await;
    assert_eq!(me["display_name"], "真实示例制造有限公司", "{me}");
    assert_ne!(me["id"].as_i64().unwrap(), holder_id);
    app.logged_in(real_mobile, "copper valley lantern 58").await;

    // every decision and the licence opening are in the audit log
    let audit = audit_actions(&app, &org).await.join("\n");
    for label in [
        "查看申诉营业执照",
        "驳回信用代码申诉",
        "冻结占用信用代码的账号",
        "移交信用代码",
    ] {
        assert!(audit.contains(label), "{label} missing in\n{audit}");
    }

    // the licences are data: `pufa backup` takes them and `pufa restore` brings them back
    if crate::helpers::sqlite_only("a_squatted_code_is_claimed: backup of the licences") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("backup.tar");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pufa"))
        .arg("backup")
        .arg("--data")
        .arg(app.dir.join("data"))
        .arg("--media")
        .arg(app.dir.join("media"))
        .arg(&archive)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (data2, media2) = (work.path().join("data"), work.path().join("media"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pufa"))
        .arg("restore")
        .arg(&archive)
        .arg("--data")
        .arg(&data2)
        .arg("--media")
        .arg(&media2)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored: Vec<Vec<u8>> = std::fs::read_dir(data2.join("claims"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(restored, [tiny_png(), tiny_png()]);
}

/// A small real JPEG made by FFmpeg's lavfi source.
fn tiny_jpeg(dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join("licence.jpg");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=white:s=32x24",
            "-frames:v",
            "1",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// The claim form as a browser sends it: multipart with the CSRF field first.
fn html_claim(csrf: &str, uscc: &str, email: &str, licence: Vec<u8>) -> Form {
    Form::new()
        .text("csrf", csrf.to_string())
        .text("company_name", "邮箱示例贸易有限公司")
        .text("uscc", uscc.to_string())
        .text("contact_name", "李会计")
        .text("mobile", "")
        .text("email", email.to_string())
        .text("statement", "该信用代码为我司所有，请核实。")
        .part(
            "licence",
            Part::bytes(licence)
                .file_name("licence.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        )
}

#[tokio::test]
async fn a_claim_through_the_pages_is_told_by_mail_and_limited_per_address() {
    let sink = SmtpSink::start(0.0);
    let smtp = sink.url();
    let app = TestApp::spawn_with(|c| {
        c.notify.smtp_url = Some(smtp);
        c.notify.delivery_workers = 0;
    })
    .await;
    let org = app.organizer().await;
    let (_squatter, uscc) = app.register_enterprise(601).await;
    let work = tempfile::tempdir().unwrap();
    let jpeg = tiny_jpeg(work.path());

    // the registration page names the claim form when the code is taken
    let visitor = app.client();
    let csrf = app.csrf_token(&visitor, "/register").await;
    let r = visitor
        .post(app.url("/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "邮箱示例贸易有限公司"),
            ("uscc", uscc.as_str()),
            ("industry", "F"),
            ("contact_name", "李会计"),
            ("mobile", "13600000601"),
            ("password", "harbor lamp orchard 7"),
            ("privacy_consent", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains(&format!(
        "<a href=\"/claims/new?uscc={uscc}\">提交信用代码申诉</a>"
    )));

    // the form, e-mail only: the claimant lands on its status page and gets the link by mail
    let csrf = app
        .csrf_token(&visitor, &format!("/claims/new?uscc={uscc}"))
        .await;
    let email = "claims@example.cn";
    let r = visitor
        .post(app.url("/claims/new"))
        .multipart(html_claim(&csrf, &uscc, email, jpeg.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("?filed=1"), "{location}");
    let status_path = location.trim_end_matches("?filed=1").to_string();
    let page = app.get_text(&visitor, &location).await;
    assert!(page.contains("申诉已提交") && page.contains(&status_path));
    let mails = sink.mails_to(email);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0]["subject"]
        .as_str()
        .unwrap()
        .starts_with("信用代码申诉已受理"));
    assert!(mails[0]["text"].as_str().unwrap().contains(&status_path));

    // a form error is shown on the page with the values kept
    let r = visitor
        .post(app.url("/claims/new"))
        .multipart(html_claim(&csrf, &uscc, "not-an-address", jpeg.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("电子邮箱地址格式不正确") && page.contains("邮箱示例贸易有限公司"));

    // five claims per address and hour: the sixth is refused
    for n in 2..=5 {
        let r = visitor
            .post(app.url("/claims/new"))
            .multipart(html_claim(
                &csrf,
                &uscc,
                &format!("c{n}@example.cn"),
                jpeg.clone(),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "claim {n}");
    }
    let r = visitor
        .post(app.url("/claims/new"))
        .multipart(html_claim(&csrf, &uscc, "c6@example.cn", jpeg.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("提交次数过多"));

    // the organizer hands the code over through the page; the claimant is told by mail
    let id: i64 = status_path.split('/').nth(2).unwrap().parse().unwrap();
    let page = app.get_text(&org, &format!("/admin/claims/{id}")).await;
    assert!(page.contains("移交信用代码") && page.contains(email));
    let token = app.csrf_token(&org, &format!("/admin/claims/{id}")).await;
    let r = org
        .post(app.url(&format!("/admin/claims/{id}/transfer")))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let page = app.get_text(&org, &location).await;
    assert!(
        page.contains("信用代码已移交") && page.contains("已冻结"),
        "{page}"
    );
    let mails = sink.mails_to(email);
    assert_eq!(mails.len(), 2);
    assert!(mails[1]["subject"]
        .as_str()
        .unwrap()
        .starts_with("信用代码申诉已通过"));
    // another open claim for the code cannot move it again: the holder no longer has it
    let r = org
        .post(app.url(&format!("/api/v1/admin/claims/{}/transfer", id + 1)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(problem(r).await["code"], "claim_code_moved");

    // the claimant without a mobile logs in with the code once its password is set
    let activate = format!("{status_path}/activate");
    let csrf = app.csrf_token(&visitor, &activate).await;
    let r = visitor
        .post(app.url(&activate))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "copper valley lantern 58"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "consent required"
    );
    let r = visitor
        .post(app.url(&activate))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "copper valley lantern 58"),
            ("privacy_consent", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.logged_in(&uscc, "copper valley lantern 58").await;
}
