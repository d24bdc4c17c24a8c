//! Downloads for Excel: the roster, the check-up table and the audit log as `.xlsx` beside CSV —
//! read back with calamine (values, numbers as numbers, user input as text, never a formula),
//! with the header row frozen and filtered and columns sized to their content; the same
//! authorization as the pages they come from.

use crate::helpers::TestApp;
use calamine::{Data, Reader, Xlsx};
use reqwest::{Client, StatusCode};
use serde_json::json;
use std::io::{Cursor, Read};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// GET `path` as `c`: the status, and the bytes of a workbook download.
pub(crate) async fn download(app: &TestApp, c: &Client, path: &str) -> (StatusCode, Vec<u8>) {
    let r = c.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    if status == StatusCode::OK {
        assert_eq!(r.headers()["content-type"], XLSX, "{path}");
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.contains(".xlsx\""), "{disposition}");
    }
    (status, r.bytes().await.unwrap().to_vec())
}

/// The cells of the workbook's only sheet, named `sheet`.
pub(crate) fn cells(bytes: &[u8], sheet: &str) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(workbook.sheet_names(), vec![sheet.to_string()]);
    let range = workbook.worksheet_range(sheet).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

/// The XML of the first sheet (what calamine does not read: panes, filter, widths).
fn sheet_xml(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

pub(crate) fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn the_roster_is_an_excel_workbook_with_numbers_text_and_a_frozen_header() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (enterprise, uscc) = app.register_enterprise(41).await;
    let r = enterprise
        .post(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .json(&json!({"seats": 2, "attendees": ["=HYPERLINK(\"http://x\")", "示例参会人"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);

    let (status, bytes) = download(&app, &org, &format!("/sessions/{session}/roster.xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    let rows = cells(&bytes, "报名名单");
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(
        header,
        [
            "状态",
            "候补顺位",
            "企业名称",
            "统一社会信用代码",
            "行业门类",
            "联系人",
            "手机号",
            "人数",
            "参加人员",
            "报名时间"
        ]
    );
    let mine = rows
        .iter()
        .find(|r| text(&r[3]) == uscc)
        .expect("the enterprise's row");
    assert_eq!(text(&mine[0]), "已确认");
    assert_eq!(mine[7], Data::Float(2.0), "seats are a number");
    // user input stays text: no formula in the file
    assert_eq!(text(&mine[8]), "=HYPERLINK(\"http://x\")、示例参会人");
    let xml = sheet_xml(&bytes);
    assert!(!xml.contains("<f>"), "no formulas");
    assert!(
        xml.contains("state=\"frozen\"") && xml.contains("ySplit=\"1\""),
        "header frozen"
    );
    assert!(xml.contains("<autoFilter ref=\"A1:J"), "header filtered");
    assert!(xml.contains("<col "), "column widths set");

    // the CSV beside it holds the same rows (formula guarded there)
    let csv = app
        .get_text(&org, &format!("/sessions/{session}/roster.csv"))
        .await;
    assert!(csv.contains(&uscc) && csv.contains("'=HYPERLINK"));

    // the page links both; an enterprise gets neither
    let page = app
        .get_text(&org, &format!("/sessions/{session}/roster"))
        .await;
    assert!(page.contains(&format!("/sessions/{session}/roster.xlsx")));
    let (status, _) = download(
        &app,
        &enterprise,
        &format!("/sessions/{session}/roster.xlsx"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = download(
        &app,
        &app.anonymous(),
        &format!("/sessions/{session}/roster.xlsx"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn the_checkup_table_and_the_audit_log_download_as_workbooks_for_organizers_only() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (enterprise, uscc) = app.register_enterprise(42).await;
    let q = crate::checkup_privacy::questionnaire(&app).await;
    crate::checkup_privacy::submit(&app, &enterprise, &crate::checkup_privacy::riskiest(&q)).await;

    let (status, bytes) = download(&app, &org, "/admin/checkups.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let rows = cells(&bytes, "法治体检");
    assert_eq!(text(&rows[0][0]), "企业名称");
    assert_eq!(text(&rows[0][5]), "总体风险");
    // the enterprise's latest report is a row; its dimension scores are numbers
    let mine = rows
        .iter()
        .find(|r| text(&r[1]) == uscc)
        .expect("the report's row");
    assert_eq!(text(&mine[5]), "高");
    assert!(
        mine[6..rows[0].len() - 1]
            .iter()
            .all(|c| matches!(c, Data::Float(_)) || text(c) == "不适用"),
        "{mine:?}"
    );
    assert!(
        mine[6..].iter().any(|c| matches!(c, Data::Float(_))),
        "{mine:?}"
    );

    // an audited action: the roster leaves as a workbook
    let session = app.demo_session_ids(&org).await[0];
    let (status, _) = download(&app, &org, &format!("/sessions/{session}/roster.xlsx")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, bytes) = download(&app, &org, "/admin/audit.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let rows = cells(&bytes, "操作日志");
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(header, ["编号", "时间", "操作者", "操作", "对象", "详情"]);
    assert!(rows[1..].iter().all(|r| matches!(r[0], Data::Float(_))));
    let export = rows[1..]
        .iter()
        .find(|r| text(&r[3]) == "导出报名名单")
        .expect("the roster export is in the log");
    assert!(text(&export[5]).contains("xlsx"), "{export:?}");

    for path in ["/admin/checkups.xlsx", "/admin/audit.xlsx"] {
        let (status, _) = download(&app, &enterprise, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let page = app.get_text(&org, "/admin/audit").await;
    assert!(page.contains("/admin/audit.xlsx"));
    let page = app.get_text(&org, "/admin/checkups").await;
    assert!(page.contains("/admin/checkups.xlsx"));
    app.stop().await;
}

/// The printable 签到表: one line per confirmed seat with the names the enterprise gave, no
/// contact data; the roster links it; only the roster's readers open it.
#[tokio::test]
async fn the_signin_sheet_has_a_line_per_confirmed_seat_and_no_contact_data() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let (enterprise, uscc) = app.register_enterprise(43).await;
    let r = enterprise
        .post(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .json(&json!({"seats": 3, "attendees": ["示例甲", "示例乙"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let roster = app.roster(&org, session).await;
    let mine = roster.iter().find(|r| r["uscc"] == uscc.as_str()).unwrap();
    let company = mine["company"].as_str().unwrap().to_string();
    let mobile = mine["mobile"].as_str().unwrap().to_string();
    let confirmed_seats: i64 = roster
        .iter()
        .filter(|r| r["status"] == "confirmed")
        .map(|r| r["seats"].as_i64().unwrap())
        .sum();

    let page = app
        .get_text(&org, &format!("/sessions/{session}/signin-sheet"))
        .await;
    assert!(page.contains("签到表") && page.contains("签名") && page.contains("签到时间"));
    let lines: Vec<&str> = page
        .split("<tr>")
        .filter(|l| l.contains(&format!("<td>{company}</td>")))
        .collect();
    assert_eq!(lines.len(), 3, "a line per seat");
    assert!(lines[0].contains("<td>示例甲</td>") && lines[1].contains("<td>示例乙</td>"));
    assert!(
        lines[2].contains("<td></td>"),
        "the third name is written by hand"
    );
    assert_eq!(
        page.matches("<td class=\"num\">").count() as i64,
        confirmed_seats
    );
    assert!(
        !page.contains(&uscc) && !page.contains(&mobile),
        "no contact data"
    );
    let roster_page = app
        .get_text(&org, &format!("/sessions/{session}/roster"))
        .await;
    assert!(roster_page.contains(&format!("/sessions/{session}/signin-sheet")));

    let r = enterprise
        .get(app.url(&format!("/sessions/{session}/signin-sheet")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
