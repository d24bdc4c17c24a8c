//! Charts where people would rather look than read (issue 17): the check-up dashboard (levels by
//! industry, frequent findings, the monthly trend), lecture statistics (the retention curve and
//! completion) and the month report (seats and attendance per session). Each page carries the
//! SVG and a table with the same figures; the dashboard's list of enterprises is searched,
//! filtered and paged.

use crate::credit_code::valid_uscc;
use crate::helpers::TestApp;
use crate::media::six_second_lecture;
use chrono::{Datelike, Months, TimeZone};
use pufa::accounts::ValidEnterprise;
use pufa::checkup::questionnaire::{Answers, Questionnaire, BUILTIN};
use pufa::checkup::scoring::{score, Level};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The SVG with `id` in `page`.
fn svg<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("<svg class=\"plot\" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = page[start..].find("</svg>").unwrap() + start;
    &page[start..end]
}

fn answers(q: &Questionnaire, industry: &str, risky: bool) -> Answers {
    q.applicable(industry)
        .map(|i| {
            let option = if risky {
                i.options.last()
            } else {
                i.options.first()
            };
            (i.id.clone(), option.unwrap().id.clone())
        })
        .collect()
}

#[tokio::test]
async fn the_checkup_dashboard_draws_levels_findings_and_the_trend_and_pages_its_list() {
    let now = chrono::Utc::now();
    let clock = pufa::clock::Clock::manual(now);
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let org = app.organizer().await;
    let served: Value = app
        .get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await;
    let q = Questionnaire::parse(BUILTIN).unwrap();
    assert_eq!(served["version"], q.version.as_str());

    // 60 enterprises straight into the database, half manufacturing (C), half IT (I); the first
    // five answer riskily (高) this month and did so two months ago too, the rest safely (低)
    let db = app.db().await;
    let tz = pufa::schedule::DEFAULT_TZ;
    let today = now.with_timezone(&tz).date_naive();
    let earlier_day = today
        .with_day(1)
        .unwrap()
        .checked_sub_months(Months::new(2))
        .unwrap();
    let middle_day = today
        .with_day(1)
        .unwrap()
        .checked_sub_months(Months::new(1))
        .unwrap();
    let earlier = tz
        .from_local_datetime(&earlier_day.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .to_utc();
    for i in 0..60u32 {
        let industry = if i % 2 == 0 { 'C' } else { 'I' };
        let e = ValidEnterprise {
            name: format!("示例看板企业{i:02}有限公司"),
            uscc: valid_uscc(80_000 + i),
            industry,
            district: None,
            contact_name: format!("示例联系人{i}"),
            mobile: format!("138{:08}", 20_000 + i),
            privacy_notice_version: pufa::accounts::privacy::NOTICE_VERSION,
            size: None,
        };
        let id = db
            .insert_enterprise(&e, "not-a-hash", &format!("token-{i}"), earlier)
            .await
            .unwrap();
        let section = industry.to_string();
        let risky = i < 5;
        let a = answers(&q, &section, risky);
        let level = score(&q, &section, &a).overall_level;
        assert_eq!(level, if risky { Level::High } else { Level::Low });
        if risky {
            db.submit_checkup(id, &q.version, &section, &a, level, None, earlier)
                .await
                .unwrap();
        }
        db.submit_checkup(id, &q.version, &section, &a, level, None, now)
            .await
            .unwrap();
    }

    let page = app.get_text(&org, "/admin/checkups").await;
    // levels by industry: a bar per industry with its figures, and the same in the table
    let levels = svg(&page, "chart-levels");
    assert!(levels.contains("<title>各行业企业的总体风险等级（按企业数占比）</title>"));
    assert!(levels.contains(r#"role="img""#));
    for figure in [
        "60 家，高 8%",
        "30 家，高 10%",
        "30 家，高 7%",
        ">高风险<",
        ">低风险<",
    ] {
        assert!(levels.contains(figure), "{figure}: {levels}");
    }
    assert!(page.contains("<summary>表格</summary>"));
    assert!(page.contains(
        "<th scope=\"row\">全部企业</th><td>60</td><td>5</td><td>0</td><td>55</td><td>8%</td>"
    ));
    assert!(page.contains(
        "<th scope=\"row\">C 制造业</th><td>30</td><td>3</td><td>0</td><td>27</td><td>10%</td>"
    ));
    // the frequent findings: five enterprises share each risky answer
    let findings = svg(&page, "chart-findings");
    assert!(findings.contains(">5 家<"), "{findings}");
    // the trend: two months ago 5 (all 高), last month none, this month 60
    let label = |d: chrono::NaiveDate| format!("{}年{}月", d.year(), d.month());
    let trend = svg(&page, "chart-trend");
    assert!(trend.contains(&format!(">{}<", label(earlier_day))));
    assert!(trend.contains(">60 份<") && trend.contains(">0 份<") && trend.contains(">5 份<"));
    assert!(page.contains(&format!(
        "<th scope=\"row\">{}</th><td>5</td><td>5</td><td>0</td><td>0</td><td>100%</td>",
        label(earlier_day)
    )));
    assert!(page.contains(&format!(
        "<th scope=\"row\">{}</th><td>0</td><td>0</td><td>0</td><td>0</td><td>—</td>",
        label(middle_day)
    )));
    assert!(page.contains(&format!(
        "<th scope=\"row\">{}</th><td>60</td><td>5</td><td>0</td><td>55</td><td>8%</td>",
        label(today)
    )));
    let share = svg(&page, "chart-trend-share");
    assert!(share.contains(">100%</text>") && share.contains(">8%</text>"));

    // the list: 50 a page, 高 first
    assert!(page.contains("第 1–50 条，共 60 条"), "{page}");
    assert_eq!(page.matches("示例看板企业").count(), 50);
    let first_low = page.find("示例看板企业59有限公司").unwrap();
    for i in 0..5 {
        let at = page.find(&format!("示例看板企业{i:02}有限公司")).unwrap();
        assert!(at < first_low, "高 first");
    }
    assert!(page.contains("href=\"/admin/checkups?page=2\" rel=\"next\""));
    let second = app.get_text(&org, "/admin/checkups?page=2").await;
    assert!(second.contains("第 51–60 条，共 60 条"));
    assert_eq!(second.matches("示例看板企业").count(), 10);

    // filters: level, industry, name or credit code, kept in the page links
    let high = app.get_text(&org, "/admin/checkups?level=high").await;
    assert!(high.contains("共 5 条") && high.contains("<option value=\"high\" selected>"));
    assert_eq!(high.matches("示例看板企业").count(), 5);
    let high_it = app
        .get_text(&org, "/admin/checkups?level=high&industry=I")
        .await;
    assert!(high_it.contains("共 2 条"));
    assert!(
        high_it.contains("示例看板企业01有限公司") && high_it.contains("示例看板企业03有限公司")
    );
    let low = app.get_text(&org, "/admin/checkups?level=low").await;
    assert!(low.contains("第 1–50 条，共 55 条"));
    assert!(low.contains("href=\"/admin/checkups?level=low&#38;page=2\""));
    let by_name = app
        .get_text(
            &org,
            "/admin/checkups?q=%E7%9C%8B%E6%9D%BF%E4%BC%81%E4%B8%9A07",
        )
        .await;
    assert!(by_name.contains("共 1 条") && by_name.contains("示例看板企业07有限公司"));
    let by_code = app
        .get_text(&org, &format!("/admin/checkups?q={}", valid_uscc(80_042)))
        .await;
    assert!(by_code.contains("共 1 条") && by_code.contains("示例看板企业42有限公司"));
    // nonsense filters are ignored, not an error
    let r = org
        .get(app.url("/admin/checkups?level=extreme&industry=ZZ&page=-4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("第 1–50 条，共 60 条"));
    app.stop().await;
}

#[tokio::test]
async fn lecture_stats_and_the_month_report_draw_retention_completion_seats_and_attendance() {
    let clock = pufa::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let org = app.organizer().await;
    let sessions = app.demo_sessions(&org).await;
    let program = sessions[0]["program_id"].as_i64().unwrap();
    let s0 = sessions[0]["id"].as_i64().unwrap();
    let capacity = sessions[0]["capacity"].as_i64().unwrap();
    let (a, _) = app.register_enterprise(21).await;
    let (b, _) = app.register_enterprise(22).await;
    let (c, _) = app.register_enterprise(23).await;
    let (status, _) = app.sign_up(&a, s0, 2).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app.sign_up(&b, s0, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let lecture = six_second_lecture(&app, &org, s0).await;

    // A watches the 6 s replay through, B the first half, C skips from 1.5 s to the end
    let url = app.url(&format!("/api/v1/lectures/{lecture}/progress"));
    for (client, positions) in [
        (&a, &[0.0, 2.0, 4.0, 6.0][..]),
        (&b, &[0.0, 2.0, 3.0][..]),
        (&c, &[0.0, 1.5][..]),
    ] {
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

    let stats = app
        .get_text(&org, &format!("/admin/lectures/{lecture}"))
        .await;
    let retention = svg(&stats, "chart-retention");
    assert!(retention.contains("<title>留存曲线：看过课程各时间点的观看者占比</title>"));
    assert!(retention.contains("<polyline"), "{retention}");
    // at the start all three, at the end only A (B stopped at 3 s, C at 1.5 s)
    assert!(retention.contains(">100%</text>") && retention.contains(">33%</text>"));
    for row in [
        "<td>0%</td><td class=\"mono\">0:00</td><td>3</td><td>100%</td>",
        "<td>50%</td><td class=\"mono\">0:03</td><td>2</td><td>67%</td>",
        "<td>90%</td><td class=\"mono\">0:05</td><td>1</td><td>33%</td>",
        "<td>100%</td><td class=\"mono\">0:06</td><td>1</td><td>33%</td>",
    ] {
        assert!(stats.contains(row), "{row}");
    }
    assert!(stats.contains("不是按“最远看到哪里”推算"));
    // completion: A saw it all, B half, C a quarter
    let completion = svg(&stats, "chart-completion");
    assert!(completion.contains(">1 人（33%）<"), "{completion}");
    assert!(stats.contains("<td>看完（≥95%）</td><td>1</td><td>33%</td>"));
    assert!(stats.contains("<td>50%–74%</td><td>1</td><td>33%</td>"));
    assert!(stats.contains("<td>25%–49%</td><td>1</td><td>33%</td>"));
    assert!(stats.contains("<div class=\"muted\">完成率</div><div class=\"big\">33%</div>"));

    let month = app
        .get_text(&org, &format!("/admin/programs/{program}/attendance"))
        .await;
    let pct = (300.0 / capacity as f64).round();
    let seats = svg(&month, "chart-seats");
    assert!(
        seats.contains(&format!(">3/{capacity} 座（{pct}%）<")),
        "{seats}"
    );
    assert!(seats.contains(">已确认座位<") && seats.contains(">空余座位<"));
    assert!(month.contains(&format!(
        "<td data-label=\"座位\">3/{capacity}（{pct}%）</td><td data-label=\"候补\">0</td><td data-label=\"报名确认\">2</td>"
    )));
    // A reached the share by replay, B (half) and C (a quarter) did not
    let attendance = svg(&month, "chart-attendance");
    assert!(
        attendance.contains(">出勤 1 家，出勤率 50%<"),
        "{attendance}"
    );
    assert!(month.contains("<td data-label=\"直播出勤\">0</td><td data-label=\"回放出勤\">1</td><td data-label=\"未达标\">2</td><td data-label=\"出勤率\">50%</td>"));
    app.stop().await;
}
