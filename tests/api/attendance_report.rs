//! The month attendance report (issue 17): per program, which enterprise attended which
//! lecture, live or by replay, with totals per session; the same as `.xlsx` (read back with
//! calamine) and CSV; organizers only.

use crate::exports::{cells, download, text};
use crate::helpers::TestApp;
use crate::media::six_second_lecture;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn the_month_report_tells_live_from_replay_and_counts_each_session() {
    let clock = pufa::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let org = app.organizer().await;
    let sessions = app.demo_sessions(&org).await;
    let program = sessions[0]["program_id"].as_i64().unwrap();
    let (s0, s1) = (
        sessions[0]["id"].as_i64().unwrap(),
        sessions[1]["id"].as_i64().unwrap(),
    );
    let (a, _) = app.register_enterprise(11).await;
    let (b, _) = app.register_enterprise(12).await;
    let (c, _) = app.register_enterprise(13).await;
    for (client, session) in [(&a, s0), (&a, s1), (&b, s0)] {
        let (status, _) = app.sign_up(client, session, 1).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let lecture = six_second_lecture(&app, &org, s0).await;
    let id_of = |v: Value| v["id"].as_i64().unwrap();
    let b_id = id_of(app.get_json(&b, "/api/v1/me").await);

    // A watches the replay through; C only a little of it
    let url = app.url(&format!("/api/v1/lectures/{lecture}/progress"));
    for (client, positions) in [(&a, &[0.0, 2.0, 4.0, 5.9][..]), (&c, &[0.0, 1.5][..])] {
        for pos in positions {
            let r = client
                .post(&url)
                .json(&json!({ "position_s": pos }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            clock.advance(chrono::Duration::milliseconds(2100));
        }
    }
    // B watched it while it was live (live reports never mark the replay's completion)
    let db = app.db().await;
    db.save_watch(
        b_id,
        lecture,
        &pufa::db::watch::WatchUpdate {
            ranges: &[(0.0, 6.0)],
            watched_s: 6.0,
            last_position: 6.0,
            at: clock.now(),
            attended: false,
        },
    )
    .await
    .unwrap();

    let page = app
        .get_text(&org, &format!("/admin/programs/{program}/attendance"))
        .await;
    assert!(page.contains("企业出勤（3 家）"), "{page}");
    // the first session: 2 confirmed, 1 live, 1 replay, 1 below the share → 100 %
    assert!(
        page.contains("<td data-label=\"报名确认\">2</td><td data-label=\"直播出勤\">1</td><td data-label=\"回放出勤\">1</td><td data-label=\"未达标\">1</td><td data-label=\"出勤率\">100%</td>"),
        "{page}"
    );
    // the second: A signed up and watched nothing
    assert!(page.contains("<td data-label=\"报名确认\">1</td><td data-label=\"直播出勤\">0</td><td data-label=\"回放出勤\">0</td><td data-label=\"未达标\">0</td><td data-label=\"出勤率\">0%</td>"));
    let row = |name: &str| {
        let start = page.find(&format!("<th scope=\"row\">{name}")).expect(name);
        let end = page[start..].find("</tr>").unwrap() + start;
        page[start..end].to_string()
    };
    let a_row = row("示例企业11有限公司");
    assert!(
        a_row.contains("<td class=\"mark ok\">回放</td><td class=\"mark bad\">未观看</td>"),
        "{a_row}"
    );
    assert!(row("示例企业12有限公司").contains("<td class=\"mark ok\">直播</td>"));
    assert!(row("示例企业13有限公司").contains("<td class=\"mark warn\">未达标"));

    // the workbook: a line per enterprise, a column per session
    let (status, bytes) = download(
        &app,
        &org,
        &format!("/admin/programs/{program}/attendance.xlsx"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sheet = cells(&bytes, "出勤统计");
    assert_eq!(text(&sheet[0][4]), "出勤讲数");
    assert!(text(&sheet[0][5]).starts_with("第1讲"), "{:?}", sheet[0]);
    assert_eq!(sheet[0].len(), 5 + sessions.len());
    assert_eq!(sheet.len(), 4, "a header and three enterprises");
    let a_line = sheet
        .iter()
        .find(|r| text(&r[0]) == "示例企业11有限公司")
        .unwrap();
    assert_eq!(a_line[4], calamine::Data::Float(1.0));
    assert_eq!(
        (text(&a_line[5]), text(&a_line[6])),
        ("回放".into(), "未观看".into())
    );
    let csv = app
        .get_text(&org, &format!("/admin/programs/{program}/attendance.csv"))
        .await;
    assert!(csv.contains("示例企业12有限公司") && csv.contains("直播"));

    // organizers only
    let r = a
        .get(app.url(&format!("/admin/programs/{program}/attendance")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = a
        .get(app.url(&format!("/admin/programs/{program}/attendance.xlsx")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = org
        .get(app.url(&format!("/admin/programs/{program}/attendance.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
