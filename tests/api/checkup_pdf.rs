//! The check-up report as a PDF rendered on the server (issue 17): the enterprise's facts,
//! level and findings as text `pdftotext` reads back; only those who may open the report get
//! it, and staff downloads are logged like openings of the page; a long report runs over
//! pages with every finding whole on one page and "第 x 页 / 共 y 页" in the footers.

use crate::checkup_privacy::{questionnaire, riskiest, submit};
use crate::helpers::{add_staff, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// The text of pages `first..=last` of `pdf` (`pdftotext -f -l`), whitespace removed (lines
/// wrap anywhere).
fn text(app: &TestApp, pdf: &[u8], pages: Option<(usize, usize)>) -> String {
    let file = app.dir.join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let mut cmd = std::process::Command::new("pdftotext");
    if let Some((first, last)) = pages {
        cmd.args(["-f", &first.to_string(), "-l", &last.to_string()]);
    }
    let out = cmd
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn download(app: &TestApp, c: &Client, id: i64) -> reqwest::Response {
    c.get(app.url(&format!("/checkup/reports/{id}/pdf")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_report_pdf_has_its_findings_whole_on_numbered_pages() {
    let app = TestApp::spawn().await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await;
    let report = submit(&app, &c, &riskiest(&q)).await;
    let id = report["report_id"].as_i64().unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.len() > 15, "a long report: {}", findings.len());

    // the report page links it
    let page = app.get_text(&c, &format!("/checkup/reports/{id}")).await;
    assert!(page.contains(&format!("href=\"/checkup/reports/{id}/pdf\">下载 PDF</a>")));

    let r = download(&app, &c, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with(&format!("attachment; filename=\"checkup-report-{id}.pdf\"")));
    let pdf = r.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    let all = text(&app, &pdf, None);
    assert_eq!(report["overall_level"], "high");
    for expected in [
        "法治体检报告",
        "示例企业1有限公司",
        "总体风险等级：高",
        "各维度得分",
        "法律依据",
        "整改建议",
        &squeeze(findings[0]["finding"].as_str().unwrap()),
    ] {
        assert!(all.contains(expected), "{expected} missing:\n{all}");
    }
    // every dimension in the table with its score
    for d in report["dimensions"].as_array().unwrap() {
        assert!(all.contains(&squeeze(d["name"].as_str().unwrap())), "{d}");
    }

    // pages: each footer numbered, every finding's title on the page of its text
    let pages = all.matches("第1页/共").count();
    assert_eq!(pages, 1);
    let total: usize = {
        let at = all.find("第1页/共").unwrap() + "第1页/共".len();
        all[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    assert!(total >= 3, "{total} pages");
    let per_page: Vec<String> = (1..=total)
        .map(|n| text(&app, &pdf, Some((n, n))))
        .collect();
    for (n, p) in per_page.iter().enumerate() {
        assert!(
            p.contains(&format!("第{}页/共{total}页", n + 1)),
            "page {}: {p}",
            n + 1
        );
    }
    for f in findings {
        // a 不清楚 answer is headed by its question, like on the page
        let title = if f["needs_lawyer"] == true {
            f["question"].as_str().unwrap()
        } else {
            f["finding"].as_str().unwrap()
        };
        let (title, advice) = (
            squeeze(title),
            squeeze(f["recommendation"].as_str().unwrap()),
        );
        let basis = squeeze(f["legal_basis"].as_str().unwrap());
        assert!(
            per_page
                .iter()
                .any(|p| p.contains(&title) && p.contains(&advice) && p.contains(&basis)),
            "finding {title} split from its text"
        );
    }

    // another enterprise and a lawyer get nothing; refusals are not logged
    let (other, _) = app.register_enterprise(2).await;
    assert_eq!(
        download(&app, &other, id).await.status(),
        StatusCode::NOT_FOUND
    );
    add_staff(&app, "lawyer", "lawyer-pdf", "lawyer-pass-123");
    let lawyer = app.logged_in("lawyer-pdf", "lawyer-pass-123").await;
    assert_eq!(
        download(&app, &lawyer, id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        download(&app, &app.anonymous(), id).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let log_api = format!("/api/v1/checkup/reports/{id}/access-log");
    let log: Value = app.get_json(&c, &log_api).await;
    assert!(log["entries"].as_array().unwrap().is_empty(), "{log}");

    // an organizer may download it, and the enterprise sees that it was opened
    let org = app.organizer().await;
    let r = download(&app, &org, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(text(&app, &r.bytes().await.unwrap(), None).contains("示例企业1有限公司"));
    let log: Value = app.get_json(&c, &log_api).await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["viewer_role"], "organizer");
    app.stop().await;
}

#[tokio::test]
async fn without_the_font_the_pdf_is_a_clear_503_and_the_page_still_prints() {
    let app = TestApp::spawn_with(|config| {
        config.pdf_font = std::path::PathBuf::from("/nonexistent/pufa-font.ttc");
    })
    .await;
    let q = questionnaire(&app).await;
    let (c, _) = app.register_enterprise(1).await;
    let id = submit(&app, &c, &riskiest(&q)).await["report_id"]
        .as_i64()
        .unwrap();
    let r = download(&app, &c, id).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = r.text().await.unwrap();
    assert!(body.contains("中文字体"), "{body}");
    let page = app.get_text(&c, &format!("/checkup/reports/{id}")).await;
    assert!(page.contains("data-print"));
    app.stop().await;
}
