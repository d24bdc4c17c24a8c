//! Failed submits are accessible (issue 17, WCAG 3.3.1 and 2.4.3): the page that comes back
//! puts the focus on its error summary (`tabindex="-1"` and `autofocus`, the first autofocus
//! of the page), and every field marked `aria-invalid` names, with `aria-describedby`, an
//! element of the page that says what is wrong. Checked on the HTML of the register, login,
//! program, session, question and course-message forms. (tests/api/axe.rs checks in chromium
//! that the focus really lands on the summary.)

use crate::helpers::TestApp;
use reqwest::{Client, StatusCode};

/// The tag (`<…>`) around byte `at` of `html`.
fn tag_around(html: &str, at: usize) -> &str {
    let start = html[..at].rfind('<').unwrap();
    let end = html[at..].find('>').unwrap() + at + 1;
    &html[start..end]
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// The text inside the element with `id` (up to its first closing tag).
fn text_of<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!(" id=\"{id}\""))?;
    let open_end = html[at..].find('>')? + at + 1;
    let close = html[open_end..].find("</")? + open_end;
    Some(&html[open_end..close])
}

/// The page of a failed submit: focused summary, each invalid field linked to its message.
/// `expected_fields` are ids of fields that must be among those marked invalid.
fn assert_accessible_errors(what: &str, html: &str, expected_fields: &[&str]) {
    let at = html
        .find("error-summary")
        .unwrap_or_else(|| panic!("{what}: no error summary in {html}"));
    let summary = tag_around(html, at);
    assert_eq!(
        attribute(summary, "tabindex"),
        Some("-1"),
        "{what}: {summary}"
    );
    assert!(summary.contains(" autofocus"), "{what}: {summary}");
    assert_eq!(
        attribute(summary, "role"),
        Some("alert"),
        "{what}: {summary}"
    );
    // the summary is the first element that asks for the focus
    let first = html.find(" autofocus").unwrap();
    assert!(
        first > at && first < at + summary.len(),
        "{what}: another autofocus comes first"
    );

    let mut linked = Vec::new();
    for (at, _) in html.match_indices("aria-invalid=\"true\"") {
        let field = tag_around(html, at);
        let ids = attribute(field, "aria-describedby")
            .unwrap_or_else(|| panic!("{what}: an invalid field names no message: {field}"));
        for id in ids.split_whitespace() {
            let text = text_of(html, id)
                .unwrap_or_else(|| panic!("{what}: {field} points at a missing #{id}"));
            assert!(!text.trim().is_empty(), "{what}: #{id} is empty");
        }
        linked.push(attribute(field, "id").unwrap_or_default().to_string());
    }
    for f in expected_fields {
        assert!(
            linked.iter().any(|l| l == f),
            "{what}: #{f} is not marked invalid with its message (marked: {linked:?})"
        );
    }
}

async fn post_form(app: &TestApp, c: &Client, path: &str, form: &[(&str, &str)]) -> String {
    // the privacy page of a logged-in user has one (the logout form), a visitor's does not
    let logged_in = app.get_text(c, "/privacy").await.contains("name=\"csrf\"");
    let csrf = app
        .csrf_token(c, if logged_in { "/privacy" } else { "/register" })
        .await;
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let r = c.post(app.url(path)).form(&fields).send().await.unwrap();
    assert!(
        r.status() == StatusCode::UNPROCESSABLE_ENTITY
            || r.status() == StatusCode::OK
            || r.status() == StatusCode::UNAUTHORIZED,
        "POST {path}: {}",
        r.status()
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_failed_submit_focuses_the_error_summary_and_links_every_field_error() {
    let app = TestApp::spawn().await;

    let visitor = app.client();
    let html = post_form(&app, &visitor, "/register", &[]).await;
    assert_accessible_errors(
        "register",
        &html,
        &[
            "name",
            "uscc",
            "industry",
            "contact_name",
            "mobile",
            "password",
            "privacy_consent",
        ],
    );

    let html = post_form(
        &app,
        &visitor,
        "/login",
        &[
            ("login", "admin"),
            ("password", "wrong-password-1"),
            ("next", ""),
        ],
    )
    .await;
    assert_accessible_errors("login", &html, &["login", "password"]);
    // without an error the login field keeps its autofocus
    let html = app.get_text(&visitor, "/login").await;
    assert!(!html.contains("error-summary"));
    assert!(tag_around(&html, html.find("id=\"login\"").unwrap()).contains(" autofocus"));

    let org = app.organizer().await;
    let html = post_form(
        &app,
        &org,
        "/admin/programs",
        &[
            ("title", ""),
            ("starts_on", "2026-13-01"),
            ("ends_on", ""),
            ("slot_weekday", "2"),
            ("slot_start", "14:30"),
            ("slot_minutes", "90"),
        ],
    )
    .await;
    assert_accessible_errors("program form", &html, &["title", "starts_on"]);

    let programs: serde_json::Value = app.get_json(&org, "/api/v1/programs").await;
    let program = programs[0]["id"].as_i64().unwrap();
    let html = post_form(
        &app,
        &org,
        &format!("/admin/programs/{program}/sessions"),
        &[
            ("title", ""),
            ("category", ""),
            ("minutes", "5"),
            ("capacity", "0"),
            ("action", "save"),
        ],
    )
    .await;
    assert_accessible_errors(
        "session form",
        &html,
        &["title", "category", "minutes", "capacity"],
    );

    let session = app.demo_session_ids(&org).await[0];
    let html = post_form(
        &app,
        &org,
        &format!("/admin/sessions/{session}/message"),
        &[
            ("message_id", ""),
            ("subject", ""),
            ("text", ""),
            ("action", "preview"),
        ],
    )
    .await;
    assert_accessible_errors("course message", &html, &["subject", "text"]);

    let (ent, _) = app.register_enterprise(31).await;
    let html = post_form(
        &app,
        &ent,
        "/questions/new",
        &[("title", ""), ("body", ""), ("topic", "")],
    )
    .await;
    assert_accessible_errors("question", &html, &["q-topic", "q-title", "q-body"]);
    app.stop().await;
}
