//! WCAG 2.1 AA (issue 17): axe-core scans every page, for a visitor, an enterprise (with a
//! sign-up, a check-up report and a question), the organizer and a lawyer, at 1366×900 and 390×844, in
//! Debian's chromium. Any serious or critical violation fails the test with its page, width,
//! rule and elements; so does a heading that skips a level. A failed submit (the register form
//! sent empty) is scanned too, and must leave the focus on its error summary.
//!
//! axe-core comes from npm (`axe-core@4`); `make test` installs it into
//! `~/.cache/pufa-axe`. `PUFA_AXE_JS` names another copy of `axe.min.js`.

use crate::checkup_privacy::riskiest;
use crate::helpers::{add_staff, TestApp, ENTERPRISE_PASSWORD};
use crate::qa_questions::ask_ok;
use crate::webdriver::Browser;
use pufa::media::testsrc::{generate_clip, ClipSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const LAWYER: &str = "lawyer-a11y";
const LAWYER_PASSWORD: &str = "lawyer-a11y-pass-1";

/// Where `make test` installs axe-core, unless `PUFA_AXE_JS` says otherwise.
fn axe_path() -> PathBuf {
    if let Some(p) = std::env::var_os("PUFA_AXE_JS") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    cache.join("pufa-axe/node_modules/axe-core/axe.min.js")
}

/// Runs after axe.min.js in the same script: the serious and critical WCAG 2.0/2.1 A and AA
/// violations, and every heading that is more than one level below the one before it.
const SCAN: &str = r#"
var done = arguments[arguments.length - 1];
var skips = [], last = 0;
document.querySelectorAll('h1, h2, h3, h4, h5, h6').forEach(function (h) {
  if (!h.getClientRects().length) return;
  var level = Number(h.tagName.charAt(1));
  if (level > last + 1) skips.push(h.tagName.toLowerCase() + ' after ' + (last ? 'h' + last : 'the start') + ': ' + h.textContent.trim().slice(0, 40));
  last = level;
});
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
  .then(function (r) {
    done({skips: skips, passes: r.passes.length, violations: r.violations
      .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
      .map(function (v) {
        return {id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(function (n) { return n.target.join(' '); })};
      })});
  }, function (e) { done({error: String(e)}); });
"#;

/// What the pages show: the ids the page list needs.
struct Data {
    program: i64,
    first: i64,
    signed_up: i64,
    report: i64,
    question: i64,
    lecture: i64,
    enterprise_login: String,
}

#[tokio::test]
async fn every_page_has_no_serious_axe_violation_at_both_widths() {
    let axe_file = axe_path();
    let axe = std::fs::read_to_string(&axe_file).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing at {} ({e}): `make test` installs it, or \
             `npm install --prefix ~/.cache/pufa-axe axe-core@4`, or set PUFA_AXE_JS",
            axe_file.display()
        )
    });
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (ent, data) = prepare(&app, &org).await;
    let anon = app.anonymous();

    // a lawyer, with a profile page of their own
    add_staff(&app, "lawyer", LAWYER, LAWYER_PASSWORD);
    let law = app.logged_in(LAWYER, LAWYER_PASSWORD).await;
    // pages reached through a list: the first public Q&A entry, follow-up and lawyer
    let entry = first_link(&app.get_text(&anon, "/qa").await, "/qa/");
    let follow_up = first_link(&app.get_text(&org, "/followups").await, "/followups/");
    let lawyer = first_link(&app.get_text(&org, "/lawyers").await, "/lawyers/");
    let d = &data;
    let visitor: Vec<String> = vec![
        "/".into(),
        "/programs".into(),
        format!("/programs/{}", d.program),
        format!("/sessions/{}", d.first),
        "/archive".into(),
        "/qa".into(),
        "/login".into(),
        "/register".into(),
        "/password/forgot".into(),
        "/privacy".into(),
        "/claims/new".into(),
        "/certificates".into(),
        format!("/lectures/{}", d.lecture),
        entry,
    ];
    let enterprise: Vec<String> = vec![
        "/me".into(),
        "/me/notifications".into(),
        "/me/profile".into(),
        "/me/contacts".into(),
        "/me/delete".into(),
        format!("/sessions/{}", d.signed_up),
        format!("/sessions/{}/cancel", d.signed_up),
        "/checkup".into(),
        "/checkup/notice".into(),
        "/checkup/fill/1".into(),
        format!("/checkup/reports/{}", d.report),
        "/questions".into(),
        "/questions/new".into(),
        format!("/questions/{}", d.question),
        format!("/lectures/{}", d.lecture),
    ];
    let organizer: Vec<String> = vec![
        "/admin".into(),
        "/admin/enterprises".into(),
        format!("/admin/programs/{}", d.program),
        format!("/admin/programs/{}/attendance", d.program),
        "/admin/programs/new".into(),
        format!("/admin/programs/{}/edit", d.program),
        format!("/admin/programs/{}/delete", d.program),
        "/admin/lecturers".into(),
        "/admin/sessions".into(),
        "/admin/jobs".into(),
        format!("/admin/programs/{}/sessions/new", d.program),
        format!("/admin/sessions/{}", d.signed_up),
        format!("/admin/sessions/{}/live", d.signed_up),
        format!("/admin/sessions/{}/message", d.signed_up),
        format!("/sessions/{}/roster", d.signed_up),
        format!("/sessions/{}/signin-sheet", d.signed_up),
        "/admin/audit".into(),
        "/admin/checkups".into(),
        "/admin/notifications".into(),
        "/admin/claims".into(),
        "/admin/accounts".into(),
        "/admin/qa".into(),
        "/admin/advisors".into(),
        "/admin/loop".into(),
        "/admin/planning".into(),
        "/followups".into(),
        follow_up,
        "/questions".into(),
        format!("/questions/{}", d.question),
        "/lawyers".into(),
        lawyer.clone(),
        format!("/admin/lectures/{}", d.lecture),
        format!("/lectures/{}", d.lecture),
    ];
    let lawyer_pages: Vec<String> = vec![
        "/me".into(),
        // where /lawyers/me leads: the lawyer's own profile form
        lawyer,
        "/advisors".into(),
        "/questions".into(),
        "/followups".into(),
    ];
    // every page answers 200 to its role, so the scan never looks at an error page instead
    for (client, pages) in [
        (&anon, &visitor),
        (&ent, &enterprise),
        (&org, &organizer),
        (&law, &lawyer_pages),
    ] {
        for path in pages {
            let r = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        }
    }
    let roles = [
        Role {
            name: "visitor",
            login: None,
            pages: &visitor,
        },
        Role {
            name: "enterprise",
            login: Some((d.enterprise_login.as_str(), ENTERPRISE_PASSWORD)),
            pages: &enterprise,
        },
        Role {
            name: "organizer",
            login: Some(("admin", crate::helpers::ADMIN_PASSWORD)),
            pages: &organizer,
        },
        Role {
            name: "lawyer",
            login: Some((LAWYER, LAWYER_PASSWORD)),
            pages: &lawyer_pages,
        },
    ];
    let started = Instant::now();
    // one browser per width, side by side
    let (wide, narrow) = tokio::join!(
        scan_width(&app, &axe, 1366, 900, &roles),
        scan_width(&app, &axe, 390, 844, &roles)
    );
    let problems: Vec<String> = wide.into_iter().chain(narrow).collect();
    eprintln!(
        "axe: {} pages × 2 widths in {:.0?}",
        visitor.len() + enterprise.len() + organizer.len() + lawyer_pages.len() + 1,
        started.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} accessibility problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    app.stop().await;
}

/// Who looks at which pages: `login` is (account, password), none for a visitor.
struct Role<'a> {
    name: &'a str,
    login: Option<(&'a str, &'a str)>,
    pages: &'a [String],
}

/// Scan every page of every role in one browser of `width`×`height`; the problems found.
async fn scan_width(
    app: &TestApp,
    axe: &str,
    width: u32,
    height: u32,
    roles: &[Role<'_>],
) -> Vec<String> {
    let browser = Browser::start(width, height).await;
    let mut problems = Vec::new();
    for Role {
        name: role,
        login,
        pages,
    } in roles
    {
        browser.goto(&app.url("/")).await;
        browser.delete_cookies().await;
        match login {
            Some((login, password)) => log_in(&browser, app, login, password).await,
            None => {
                // a failed submit: the register form sent empty
                browser.goto(&app.url("/register")).await;
                browser
                    .eval(
                        "document.querySelector('main form.stack').submit();",
                        vec![],
                    )
                    .await;
                let focused = browser
                    .wait_for(
                        "if (document.readyState !== 'complete' \
                         || !document.querySelector('[aria-invalid=true]')) return null; \
                     var s = document.querySelector('.error-summary'); \
                     return !!s && document.activeElement === s;",
                    )
                    .await;
                if focused != true {
                    problems.push(format!(
                        "{width}px visitor /register (failed submit): the error summary does not have the focus"
                    ));
                }
                problems.extend(
                    scan(&browser, axe, width, "visitor", "/register (failed submit)").await,
                );
            }
        }
        for path in pages.iter() {
            browser.goto(&app.url(path)).await;
            problems.extend(scan(&browser, axe, width, role, path).await);
        }
    }
    browser.quit().await;
    problems
}

/// Run axe on the page the browser shows; one line per problem.
async fn scan(browser: &Browser, axe: &str, width: u32, role: &str, path: &str) -> Vec<String> {
    let script = format!("{axe}\n;{SCAN}");
    let r = browser
        .eval_async(&script, vec![], Duration::from_secs(60))
        .await;
    assert!(r["error"].is_null(), "axe on {path}: {}", r["error"]);
    // axe really looked at the page: some rules passed
    assert!(r["passes"].as_u64().unwrap_or(0) > 5, "axe on {path}: {r}");
    let mut lines = Vec::new();
    for v in r["violations"].as_array().into_iter().flatten() {
        let targets: Vec<&str> = v["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        lines.push(format!(
            "{width}px {role} {path}: {} ({}) {}: {}",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or(""),
            targets.join(" | ")
        ));
    }
    for s in r["skips"].as_array().into_iter().flatten() {
        lines.push(format!(
            "{width}px {role} {path}: heading skips a level: {}",
            s.as_str().unwrap_or("?")
        ));
    }
    lines
}

async fn log_in(browser: &Browser, app: &TestApp, login: &str, password: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#login", login).await;
    browser.fill("#password", password).await;
    browser
        .eval(
            "document.querySelector('main form.stack').submit();",
            vec![],
        )
        .await;
    browser.wait_for(
        "return location.pathname !== '/login' && document.readyState === 'complete' ? true : null;",
    )
    .await;
}

/// The first link of `html` to a path starting with `prefix` followed by a number.
fn first_link(html: &str, prefix: &str) -> String {
    let marker = format!("href=\"{prefix}");
    html.match_indices(&marker)
        .find_map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty() && rest[digits.len()..].starts_with('"'))
                .then(|| format!("{prefix}{digits}"))
        })
        .unwrap_or_else(|| panic!("no link to {prefix}… in {html}"))
}

/// The demo month plus: a published lecture (a short generated clip), a cancelled session,
/// and an enterprise with a sign-up, a check-up report and a question.
async fn prepare(app: &TestApp, org: &Client) -> (Client, Data) {
    let program: Value = app.get_json(org, "/api/v1/programs").await;
    let program = program[0]["id"].as_i64().unwrap();
    let ids = app.demo_session_ids(org).await;
    // the recording of the first session, published
    let clip = app.dir.join("a11y.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 3.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = app.upload(org, ids[0], &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let lecture = r.json::<Value>().await.unwrap()["lecture_id"]
        .as_i64()
        .unwrap();
    app.drain_jobs().await;
    // a cancelled session: its card on the program page is dimmed
    let last = *ids.last().unwrap();
    let r = app.cancel_session(org, last).await;
    assert!(r.status().is_success(), "cancel: {}", r.status());

    let (ent, uscc) = app.register_enterprise(17).await;
    let signed_up = ids[1];
    let (status, body) = app.sign_up(&ent, signed_up, 2).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let q: Value = app
        .get_json(&app.anonymous(), "/api/v1/checkup/questionnaire")
        .await;
    let r = ent
        .post(app.url("/api/v1/checkup/consent"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = ent
        .post(app.url("/api/v1/checkup/submissions"))
        .json(&json!({ "answers": riskiest(&q) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let report = r.json::<Value>().await.unwrap()["report_id"]
        .as_i64()
        .unwrap();
    let topic = q["dimensions"][0]["id"].as_str().unwrap().to_string();
    let question = ask_ok(app, &ent, &topic, "示例：劳动合同到期不续签要补偿吗").await["id"]
        .as_i64()
        .unwrap();
    (
        ent,
        Data {
            program,
            first: ids[0],
            signed_up,
            report,
            question,
            lecture,
            enterprise_login: uscc,
        },
    )
}
