//! Verifiable 学习证明 (issue 17): the certificate carries the date attendance was reached (not
//! the day it is printed), the chamber's name, a verification code and a QR code; anyone with
//! the code sees enterprise, lecture, date and share on a public page — nothing else; a wrong
//! code is a clear 404; after the enterprise deletes its account the code no longer verifies.

use crate::helpers::{TestApp, ENTERPRISE_PASSWORD};
use crate::media::six_second_lecture;
use reqwest::StatusCode;
use serde_json::json;

/// The verification code printed on a certificate page.
fn code_of(page: &str) -> String {
    let marker = "证明编号 <span class=\"mono\">";
    let start = page.find(marker).expect("code on the certificate") + marker.len();
    page[start..start + 19].to_string()
}

#[tokio::test]
async fn a_certificate_is_verified_by_its_code_and_dated_by_attendance() {
    // 16:30 UTC on 1 December is 00:30 on 2 December in China
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T16:30:00Z")
        .unwrap()
        .to_utc();
    let clock = pufa::clock::Clock::manual(start);
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let lecture = six_second_lecture(&app, &org, session).await;
    let (ent, uscc) = app.register_enterprise(5).await;
    let url = app.url(&format!("/api/v1/lectures/{lecture}/progress"));
    for pos in [0.0, 2.0, 4.0, 5.9] {
        let r = ent
            .post(&url)
            .json(&json!({ "position_s": pos }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        clock.advance(chrono::Duration::milliseconds(2100));
    }
    let me: serde_json::Value = app.get_json(&ent, "/api/v1/me").await;
    let eid = me["id"].as_i64().unwrap();

    // printed three days later (logged in again): still dated the day of attendance
    clock.advance(chrono::Duration::days(3));
    let ent = app.logged_in(&uscc, ENTERPRISE_PASSWORD).await;
    let org = app.organizer().await;
    let page = app
        .get_text(&ent, &format!("/lectures/{lecture}/certificate/{eid}"))
        .await;
    assert!(page.contains("学习日期：2026年12月2日"), "{page}");
    assert!(!page.contains("2026年12月5日"));
    assert!(
        page.contains("市工商联"),
        "the chamber's name from the branding settings"
    );
    let code = code_of(&page);
    assert_eq!(code.len(), 19);
    assert!(page.contains(&format!("{}/certificates/{code}", app.url(""))));
    assert!(page.contains("aria-label=\"证明核验二维码：扫码核验本证明\""));
    // the organizer's print shows the same code
    let again = app
        .get_text(&org, &format!("/lectures/{lecture}/certificate/{eid}"))
        .await;
    assert_eq!(code_of(&again), code);

    // the PDF: rendered on the server, its text readable (pdftotext), the same facts
    let r = ent
        .get(app.url(&format!("/lectures/{lecture}/certificate/{eid}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"certificate-"));
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        pdf.len() < 200_000,
        "the font is subset: {} bytes",
        pdf.len()
    );
    let file = app.dir.join("certificate.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "学习证明",
        "示例企业5有限公司",
        uscc.as_str(),
        "《劳动合同签订与试用期管理》",
        "学习日期：2026年12月2日",
        "市工商联",
        code.as_str(),
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from the PDF text:\n{text}"
        );
    }
    // another enterprise gets no PDF either
    let (other, _) = app.register_enterprise(6).await;
    let r = other
        .get(app.url(&format!("/lectures/{lecture}/certificate/{eid}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // anyone with the code: enterprise, lecture, date, share — nothing else
    let anon = app.anonymous();
    let r = anon
        .get(app.url(&format!("/certificates/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v = r.text().await.unwrap();
    assert!(v.contains("证明有效"));
    assert!(v.contains("示例企业5有限公司"));
    assert!(
        v.contains("<dt>学习日期</dt><dd>2026年12月2日</dd>")
            && v.contains("<dt>完成比例</dt><dd>98%</dd>"),
        "{v}"
    );
    assert!(!v.contains(&uscc) && !v.contains("13900000005") && !v.contains("示例联系人"));
    // typed by hand: lower case, spaces, O for 0
    let typed = code.replace('-', " ").to_lowercase();
    let r = anon
        .get(app.url("/certificates"))
        .query(&[("code", typed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("示例企业5有限公司"));
    // a wrong code: 404 with the reason, the form to try again
    let r = anon
        .get(app.url("/certificates/ABCD-EFGH-JKMN-PQRS"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(body.contains("未找到编号为“ABCD-EFGH-JKMN-PQRS”的学习证明"));
    assert!(body.contains("aria-describedby=\"verify-error\""));
    let r = anon
        .get(app.url("/certificates?code=<script>"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains("<script>"));
    assert_eq!(
        anon.get(app.url("/certificates"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // the enterprise deletes its account: the certificate no longer verifies
    let r = ent
        .delete(app.url("/api/v1/me"))
        .json(&json!({"password": ENTERPRISE_PASSWORD, "confirm": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = anon
        .get(app.url(&format!("/certificates/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
