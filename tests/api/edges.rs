//! The edges an attacker probes first: connections that never send a request, more of them
//! than the server may hold, control and direction-override characters in names and searches,
//! dates of year 0 or +262142, JSON that is not an object or names unknown fields, and error
//! messages that would echo megabytes back. Each answer is a clear Chinese refusal, never a
//! hang, a 500 or a silently ignored field.

use crate::helpers::{problem, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `host:port` of the app, for raw TCP clients.
fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// Read from `stream` until the server closes it; the bytes received. Panics when it stays
/// open longer than `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server should close an idle connection after the header timeout");
    received
}

/// Before the fix (`axum::serve`) idle and half-sent connections were kept for ever and their
/// number was not limited: 20,000 of them exhausted the file descriptors. Now each must send
/// its headers within the header timeout, at most `max_connections` are served, and a new
/// client is answered once the idle ones are dropped.
#[tokio::test]
async fn idle_connections_beyond_the_cap_do_not_lock_out_other_clients() {
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 4;
        c.header_timeout = Duration::from_millis(500);
    })
    .await;
    let address = socket_address(&app);
    // twice the cap: half send nothing, half stop in the middle of the request line
    let mut idle = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(&address).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"GET /healthz HT").await.unwrap();
        }
        idle.push(s);
    }
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        app.anonymous().get(app.url("/healthz")).send(),
    )
    .await
    .expect("/healthz answers while idle connections fill the cap")
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for s in &mut idle {
        let said = closed_by_server(s, Duration::from_secs(10)).await;
        // at most a bare 408 status, never a page
        let text = String::from_utf8_lossy(&said);
        assert!(
            said.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    app.stop().await;
}

/// The header timeout is for headers only: a request body that arrives slowly and a job's
/// event stream that stays open are not cut by it.
#[tokio::test]
async fn bodies_and_event_streams_outlive_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.header_timeout = Duration::from_millis(300)).await;
    // a login body sent in two halves, 700 ms apart
    let mut s = TcpStream::connect(socket_address(&app)).await.unwrap();
    let body = br#"{"login": "admin", "password": "wrong-password"}"#;
    let head = format!(
        "POST /api/v1/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.write_all(&body[10..]).await.unwrap();
    let answer = closed_by_server(&mut s, Duration::from_secs(10)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // a queued job's event stream keeps sending, once a second, past the header timeout
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let junk = app.dir.join("junk.mp4");
    std::fs::write(&junk, vec![1u8; 4096]).unwrap();
    let r = app.upload(&org, session, &junk).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_i64().unwrap();
    let mut events = org
        .get(app.url(&format!("/api/v1/jobs/{job}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.matches("event: job").count() < 2 {
            let chunk = events
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("two job events");
    drop(events);
    app.stop().await;
}

/// A program of next month and one session of it with open sign-ups; its id.
async fn open_session(app: &TestApp, org: &Client) -> (i64, i64) {
    let start = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let end = start + chrono::Duration::days(30);
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "边界测试项目", "starts_on": start.to_string(), "ends_on": end.to_string(),
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let program = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .add_session(
            org,
            program,
            &json!({
                "title": "边界测试课程", "category": "合同管理",
                "lecturer": {"name": "示例律师", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": 10,
                "starts_at": format!("{}T10:00+08:00", start + chrono::Duration::days(3)),
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (
        program,
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap(),
    )
}

/// The field messages of a 422 problem.
async fn field_errors(r: reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(r).await;
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn message_for<'a>(errors: &'a [(String, String)], field: &str) -> &'a str {
    errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, m)| m.as_str())
        .unwrap_or_else(|| panic!("no message for {field} in {errors:?}"))
}

/// Before the fix NUL, escape and direction-override characters were stored in names as
/// given (and a NUL in an archive search of 3+ characters was a 500).
#[tokio::test]
async fn control_and_direction_characters_are_refused_with_a_chinese_message() {
    let app = TestApp::spawn().await;
    // enterprise name and contact
    let r = app
        .post_enterprise(
            &app.client(),
            &json!({
                "name": "示例\u{0}科技有限公司", "uscc": crate::helpers::valid_uscc(1),
                "industry": "E", "contact_name": "张\u{202E}三", "mobile": "13900000001",
                "password": crate::helpers::ENTERPRISE_PASSWORD, "privacy_consent": true,
            }),
        )
        .await;
    let errors = field_errors(r).await;
    assert!(
        message_for(&errors, "name").contains("控制字符"),
        "{errors:?}"
    );
    assert!(message_for(&errors, "contact_name").contains("文字方向"));

    // program, session and lecturer names
    let org = app.organizer().await;
    let r = org
        .post(app.url("/api/v1/programs"))
        .json(&json!({
            "title": "普法\u{1b}[31m月", "starts_on": "2027-03-01", "ends_on": "2027-03-31",
            "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
        }))
        .send()
        .await
        .unwrap();
    assert!(message_for(&field_errors(r).await, "title").contains("控制字符"));
    let (program, session) = open_session(&app, &org).await;
    let r = app
        .add_session(
            &org,
            program,
            &json!({
                "title": "合同\u{2066}管理", "category": "合同管理",
                "lecturer": {"name": "律师\u{0}甲", "firm": "示例律师事务所"},
                "minutes": 90, "capacity": 10,
            }),
        )
        .await;
    let errors = field_errors(r).await;
    assert!(message_for(&errors, "title").contains("文字方向"));
    assert!(message_for(&errors, "lecturer.name").contains("控制字符"));

    // attendee names and removal reasons
    let (ent, _) = app.register_enterprise(2).await;
    let r = ent
        .post(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .json(&json!({"seats": 1, "attendees": ["王\u{202D}五"]}))
        .send()
        .await
        .unwrap();
    assert!(message_for(&field_errors(r).await, "attendees").contains("参加人员姓名"));
    let (status, _) = app.sign_up(&ent, session, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let enterprise = app.roster(&org, session).await[0]["enterprise_id"]
        .as_i64()
        .unwrap();
    let r = org
        .post(app.url(&format!(
            "/api/v1/sessions/{session}/registrations/{enterprise}/removal"
        )))
        .json(&json!({"reason": "重复\u{0}报名"}))
        .send()
        .await
        .unwrap();
    assert!(message_for(&field_errors(r).await, "reason").contains("移除原因"));

    // the archive search: a clear 422 page, not a 500
    for q in ["%00abc", "abc%00", "%E2%80%AE%E5%90%88%E5%90%8C"] {
        let r = app
            .anonymous()
            .get(app.url(&format!("/archive?q={q}")))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        let page = r.text().await.unwrap();
        assert!(page.contains("搜索内容不能包含"), "{q}: {page}");
    }
    app.stop().await;
}

/// Before the fix year 0000, negative years and +262142 were accepted, and the public
/// calendar carried the invalid DTSTARTs.
#[tokio::test]
async fn dates_outside_2000_to_2100_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    for bad in ["0000-03-01", "-0001-03-01", "+262142-03-01", "2101-03-01"] {
        let r = org
            .post(app.url("/api/v1/programs"))
            .json(&json!({
                "title": "测试普法月", "starts_on": bad, "ends_on": "2027-03-31",
                "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
            }))
            .send()
            .await
            .unwrap();
        let errors = field_errors(r).await;
        assert!(
            message_for(&errors, "starts_on").contains("2000年到2100年"),
            "{bad}: {errors:?}"
        );
    }
    let (program, session) = open_session(&app, &org).await;
    for bad in [
        "0000-01-01T10:00:00Z",
        "+262142-03-02T10:00",
        "-0001-03-02T10:00",
    ] {
        let r = app
            .update_session(&org, session, &json!({"starts_at": bad}))
            .await;
        let errors = field_errors(r).await;
        assert!(
            message_for(&errors, "starts_at").contains("2000年到2100年"),
            "{bad}: {errors:?}"
        );
    }
    // the calendar only ever carries four-digit years
    let feed = app
        .get_text(
            &app.anonymous(),
            &format!("/programs/{program}/calendar.ics"),
        )
        .await;
    assert!(feed.contains("DTSTART"), "{feed}");
    for line in feed.lines().filter(|l| l.starts_with("DTSTART")) {
        let value = line.rsplit(':').next().unwrap();
        assert!(value.starts_with("20"), "{line}");
    }
    app.stop().await;
}

/// The JSON error cases: each is a 400 problem in Chinese naming the field, where serde's
/// English ("invalid type: string \"two\", expected i64 at line 1 column 14") came back before,
/// and bodies that were accepted before (an array for an object, a misspelled field) are
/// refused.
#[tokio::test]
async fn json_errors_are_chinese_and_name_the_field() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (_, session) = open_session(&app, &org).await;
    let (ent, _) = app.register_enterprise(3).await;
    let signup = app.url(&format!("/api/v1/sessions/{session}/registrations"));
    let cases: Vec<(&Client, String, Value, &str, &str)> = vec![
        (
            &ent,
            signup.clone(),
            json!({"seats": "two"}),
            "seats",
            "字段 seats 应为整数",
        ),
        (
            &ent,
            signup.clone(),
            json!({"seats": 1, "attendees": "甲"}),
            "attendees",
            "字段 attendees 应为数组",
        ),
        (
            &ent,
            signup.clone(),
            json!({"seats": 1, "seat": 2}),
            "seat",
            "不允许的字段 seat",
        ),
        (
            &ent,
            signup.clone(),
            json!([1, ["甲"]]),
            "",
            "请求体应为 JSON 对象",
        ),
        (
            &org,
            app.url("/api/v1/login"),
            json!(["admin", "x"]),
            "",
            "请求体应为 JSON 对象",
        ),
        (
            &org,
            app.url("/api/v1/login"),
            json!({"login": "admin", "passwd": "x"}),
            "passwd",
            "不允许的字段 passwd",
        ),
        (
            &org,
            app.url(&format!("/api/v1/sessions/{session}")),
            json!({"lecturer": {"nmae": "x"}}),
            "lecturer.nmae",
            "不允许的字段 lecturer.nmae",
        ),
        (
            &org,
            app.url(&format!("/api/v1/sessions/{session}")),
            json!({"capacity": 1.5}),
            "capacity",
            "字段 capacity 应为整数",
        ),
        (
            &org,
            app.url("/api/v1/programs"),
            json!({"title": "测试", "slots": [[2, "14:30", 90]]}),
            "slots[0]",
            "字段 slots[0] 应为 JSON 对象",
        ),
        (
            &org,
            app.url("/api/v1/programs"),
            json!({"title": "测试", "slots": [{"weekday": 300, "start": "14:30", "minutes": 90}]}),
            "slots[0].weekday",
            "字段 slots[0].weekday 的取值超出范围",
        ),
        (
            &org,
            app.url("/api/v1/lectures/1/progress"),
            json!({}),
            "position_s",
            "缺少字段 position_s",
        ),
    ];
    for (client, url, body, field, message) in cases {
        let r = if url.ends_with(&format!("/sessions/{session}")) {
            client.put(&url).json(&body).send().await.unwrap()
        } else {
            client.post(&url).json(&body).send().await.unwrap()
        };
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url} {body}");
        let p = problem(r).await;
        assert_eq!(p["code"], "invalid_json_fields", "{body}");
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.starts_with(message), "{body}: {detail}");
        assert!(!detail.contains("expected"), "no serde English: {detail}");
        assert_eq!(p["errors"][0]["field"], field, "{body}");
    }
    // nothing of it was stored
    assert!(app.roster(&org, session).await.is_empty());
    app.stop().await;
}

/// Before the fix a validation message quoted the offending value whole: a 1 MB date or
/// attendee name came back in the problem document (twice: detail and errors).
#[tokio::test]
async fn error_messages_do_not_echo_megabytes() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let huge = "9".repeat(500_000);
    let many: Vec<String> = (0..20_000).map(|i| format!("x{i}")).collect();
    let bodies = [
        json!({"title": "测试普法月", "starts_on": "2027-03-01", "ends_on": "2027-03-31",
               "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
               "blackout_dates": [huge]}),
        json!({"title": "测试普法月", "starts_on": "2027-03-01", "ends_on": "2027-03-31",
               "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
               "blackout_dates": many}),
        {
            let mut unknown = serde_json::Map::new();
            unknown.insert("title".into(), json!("测试普法月"));
            unknown.insert(huge.clone(), json!(1));
            Value::Object(unknown)
        },
    ];
    for body in bodies {
        let r = org
            .post(app.url("/api/v1/programs"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
        let text = r.text().await.unwrap();
        assert!(text.len() < 8_000, "{} bytes echoed", text.len());
    }
    let (_, session) = open_session(&app, &org).await;
    let (ent, _) = app.register_enterprise(4).await;
    let r = ent
        .post(app.url(&format!("/api/v1/sessions/{session}/registrations")))
        .json(&json!({"seats": 1, "attendees": ["名".repeat(300_000)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(text.len() < 2_000, "{} bytes echoed", text.len());
    app.stop().await;
}

/// Pages link stylesheets and scripts by content hash: the linked version is cached for a
/// year, an unversioned or outdated link briefly and with an `ETag` that revalidates to 304 —
/// so an upgrade never leaves a browser on stale CSS or JavaScript.
#[tokio::test]
async fn assets_are_linked_by_content_hash_and_revalidate() {
    let app = TestApp::spawn().await;
    let c = app.anonymous();
    let page = app.get_text(&c, "/").await;
    let start = page
        .find("/assets/pufa.css?v=")
        .expect("hashed stylesheet link");
    let link: String = page[start..].chars().take_while(|ch| *ch != '"').collect();
    let r = c.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", link.rsplit('=').next().unwrap()));
    assert!(r.text().await.unwrap().contains("table.cards"));

    for stale in ["/assets/pufa.css", "/assets/pufa.css?v=1"] {
        let r = c.get(app.url(stale)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=300",
            "{stale}"
        );
        let r = c
            .get(app.url(stale))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{stale}");
    }
    // the player's scripts too, hls.js at its current release
    let r = c.get(app.url("/assets/hls.min.js")).send().await.unwrap();
    let js = r.text().await.unwrap();
    assert!(js.contains("1.7.4"), "hls.js 1.7.4");
    assert_eq!(
        c.get(app.url("/assets/none.js"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
