//! The organizer's enterprise directory (issue 17: 3,000 enterprises used to arrive in one
//! page on /admin with every mobile number): pages of 50, search by name, credit code, contact
//! or mobile (shown masked), filters by industry and district, local times, and only
//! organizers may open it.

use crate::credit_code::valid_uscc;
use crate::helpers::TestApp;
use pufa::accounts::ValidEnterprise;
use reqwest::StatusCode;

#[tokio::test]
async fn the_enterprise_directory_pages_searches_and_masks_mobiles() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    // 130 enterprises straight into the database (registration's hashing is tested elsewhere)
    let db = app.db().await;
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-30T16:30:00Z")
        .unwrap()
        .to_utc();
    for i in 0..130u32 {
        let e = ValidEnterprise {
            name: format!("示例名录企业{i:03}有限公司"),
            uscc: valid_uscc(70_000 + i),
            industry: if i % 2 == 0 { 'C' } else { 'I' },
            district: Some(if i % 3 == 0 { "鼓楼区" } else { "台江区" }.to_string()),
            contact_name: format!("示例联系人{i}"),
            mobile: format!("139{:08}", 10_000 + i),
            privacy_notice_version: pufa::accounts::privacy::NOTICE_VERSION,
            size: None,
        };
        db.insert_enterprise(&e, "not-a-hash", &format!("token-{i}"), start)
            .await
            .unwrap();
    }

    // page 1: 50 rows, newest first, masked mobiles, local time (16:30 UTC = 00:30 next day)
    let page = app.get_text(&org, "/admin/enterprises").await;
    assert!(page.contains("第 1–50 条，共 130 条"), "{page}");
    assert_eq!(page.matches("示例名录企业").count(), 50);
    assert!(page.contains("示例名录企业129有限公司"));
    assert!(!page.contains("示例名录企业079有限公司"));
    assert!(page.contains("139****0129"));
    assert!(!page.contains("13900010129"), "full mobiles are not listed");
    assert!(
        page.contains("2026-12-01 00:30:00"),
        "times in China Standard Time"
    );
    assert!(page.contains("href=\"/admin/enterprises?page=2\" rel=\"next\""));
    assert!(page.contains("<span class=\"current\" aria-current=\"page\">1</span>"));

    // the last page; a page beyond it shows the last
    let last = app.get_text(&org, "/admin/enterprises?page=3").await;
    assert!(last.contains("第 101–130 条，共 130 条"));
    assert!(last.contains("示例名录企业000有限公司"));
    assert_eq!(app.get_text(&org, "/admin/enterprises?page=99").await, last);
    // nonsense pages are the first
    let first = app.get_text(&org, "/admin/enterprises?page=abc").await;
    assert!(first.contains("第 1–50 条"));

    // search: name, credit code, contact, the mobile (whole or its last four digits)
    let by_name = app.get_text(&org, "/admin/enterprises?q=企业042").await;
    assert!(by_name.contains("共 1 条") && by_name.contains("示例名录企业042有限公司"));
    let uscc = valid_uscc(70_007);
    let by_code = app
        .get_text(
            &org,
            &format!("/admin/enterprises?q={}", uscc.to_lowercase()),
        )
        .await;
    assert!(
        by_code.contains("共 1 条") && by_code.contains("示例名录企业007有限公司"),
        "{by_code}"
    );
    let by_mobile = app.get_text(&org, "/admin/enterprises?q=13900010099").await;
    assert!(by_mobile.contains("共 1 条") && by_mobile.contains("示例名录企业099有限公司"));
    let by_tail = app.get_text(&org, "/admin/enterprises?q=0099").await;
    assert!(by_tail.contains("示例名录企业099有限公司"));
    // LIKE's wildcards are plain characters
    let wild = app.get_text(&org, "/admin/enterprises?q=%25").await;
    assert!(wild.contains("共 0 条") && wild.contains("没有符合条件的企业"));

    // filters, kept by the page links
    let c_gulou = app
        .get_text(&org, "/admin/enterprises?industry=C&district=鼓楼区")
        .await;
    // i even and divisible by 3: 0, 6, …, 126 → 22
    assert!(c_gulou.contains("共 22 条"), "{c_gulou}");
    let c = app.get_text(&org, "/admin/enterprises?industry=C").await;
    assert!(c.contains("第 1–50 条，共 65 条"));
    assert!(
        c.contains("href=\"/admin/enterprises?industry=C&#38;page=2\""),
        "{c}"
    );
    // an unknown industry is ignored rather than matching nothing
    let x = app.get_text(&org, "/admin/enterprises?industry=ZZ").await;
    assert!(x.contains("共 130 条"));

    // the dashboard: the count and the newest few, no longer every enterprise
    let dash = app.get_text(&org, "/admin").await;
    assert!(dash.contains(">130</a>"), "{dash}");
    assert_eq!(dash.matches("示例名录企业").count(), 5);
    assert!(!dash.contains("13900010129"));

    // only organizers
    let (ent, _) = app.register_enterprise(1).await;
    let r = ent.get(app.url("/admin/enterprises")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .anonymous()
        .get(app.url("/admin/enterprises"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
