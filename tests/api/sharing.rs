//! Sharing and phones (issue 17): session and lecture pages carry the link card messengers read
//! (title, description, absolute image and URL), a QR code and a copyable link; a public
//! lecture's card shows its poster, a private one the site's image (a messenger fetches it
//! without a login). On a 390 px phone the navigation folds into 菜单 and no page scrolls
//! sideways (chromium).

use crate::helpers::TestApp;
use crate::media::six_second_lecture;
use crate::webdriver::Browser;
use reqwest::StatusCode;

/// The `content` of `<meta property|name="{key}" …>` in `html`.
fn meta(html: &str, key: &str) -> Option<String> {
    let at = html
        .find(&format!("property=\"{key}\""))
        .or_else(|| html.find(&format!("name=\"{key}\"")))?;
    let rest = &html[at..];
    let start = rest.find("content=\"")? + "content=\"".len();
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_string())
}

#[tokio::test]
async fn session_and_lecture_pages_carry_a_share_card_and_a_qr_code() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let sessions = app.demo_sessions(&org).await;
    let id = sessions[0]["id"].as_i64().unwrap();
    let title = sessions[0]["title"].as_str().unwrap().to_string();
    let base = app.url("");

    let page = app
        .get_text(&app.anonymous(), &format!("/sessions/{id}"))
        .await;
    let og_title = meta(&page, "og:title").expect("og:title");
    assert!(og_title.starts_with(&title), "{og_title}");
    assert_eq!(
        meta(&page, "og:url").unwrap(),
        format!("{base}/sessions/{id}")
    );
    let description = meta(&page, "og:description").unwrap();
    assert!(
        description.contains("主讲：") && description.chars().count() <= 120,
        "{description}"
    );
    assert_eq!(meta(&page, "description").unwrap(), description);
    let image = meta(&page, "og:image").unwrap();
    assert!(
        image.starts_with(&format!("{base}/assets/share.png?v=")),
        "{image}"
    );
    assert!(page.contains(&format!(
        "<link rel=\"canonical\" href=\"{base}/sessions/{id}\">"
    )));
    // the card's image is there, for anyone
    let r = app.anonymous().get(&image).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.bytes().await.unwrap().starts_with(b"\x89PNG"));
    // the QR code and the link to copy
    assert!(page.contains("<summary>分享</summary>"));
    assert!(page.contains("aria-label=\"本页二维码：用微信扫一扫打开\""));
    assert!(page.contains(&format!(
        "id=\"share-url\" type=\"url\" readonly value=\"{base}/sessions/{id}\""
    )));

    // a lecture: private by default → the site's image; public → its poster
    let lecture = six_second_lecture(&app, &org, id).await;
    let page = app.get_text(&org, &format!("/lectures/{lecture}")).await;
    assert!(meta(&page, "og:title").unwrap().ends_with("· 课程回放"));
    assert!(meta(&page, "og:image")
        .unwrap()
        .contains("/assets/share.png"));
    let token = app
        .csrf_token(&org, &format!("/admin/lectures/{lecture}"))
        .await;
    let r = org
        .post(app.url(&format!("/admin/lectures/{lecture}/visibility")))
        .form(&[("csrf", token.as_str()), ("visibility", "public")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = app
        .get_text(&app.anonymous(), &format!("/lectures/{lecture}"))
        .await;
    let image = meta(&page, "og:image").unwrap();
    assert!(
        image.starts_with(&format!("{base}/media/lectures/{lecture}/"))
            && image.ends_with("/poster.jpg"),
        "{image}"
    );
    let r = app.anonymous().get(&image).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
}

#[tokio::test]
async fn on_a_phone_the_navigation_is_a_menu_and_nothing_scrolls_sideways() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let session = app.demo_session_ids(&org).await[0];
    let browser = Browser::start(390, 844).await;
    for path in [
        "/".to_string(),
        "/programs".to_string(),
        format!("/sessions/{session}"),
        "/archive".to_string(),
        "/qa".to_string(),
        "/login".to_string(),
        "/register".to_string(),
    ] {
        browser.goto(&app.url(&path)).await;
        let state = browser
            .eval(
                "var nav=document.getElementById('main-nav'); var b=document.querySelector('.menu-toggle'); \
                 return [getComputedStyle(nav).display, b.hidden, getComputedStyle(b).display, \
                         document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        assert_eq!(
            state[0], "none",
            "{path}: the navigation is folded: {state}"
        );
        assert_eq!(state[1], false, "{path}: {state}");
        assert_ne!(state[2], "none", "{path}: 菜单 is shown: {state}");
        let (scroll, width) = (state[3].as_i64().unwrap(), state[4].as_i64().unwrap());
        assert!(
            scroll <= width,
            "{path} scrolls sideways: {scroll} > {width}"
        );
    }
    // 菜单 opens the navigation; Escape folds it again
    browser
        .eval("document.querySelector('.menu-toggle').click();", vec![])
        .await;
    let open = browser
        .eval(
            "var b=document.querySelector('.menu-toggle'); \
             return [getComputedStyle(document.getElementById('main-nav')).display, b.getAttribute('aria-expanded'), \
                     document.querySelector('a[href=\"/login\"]').getBoundingClientRect().height > 0];",
            vec![],
        )
        .await;
    assert_eq!(open, serde_json::json!(["block", "true", true]));
    browser
        .eval(
            "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));",
            vec![],
        )
        .await;
    let closed = browser
        .eval(
            "return getComputedStyle(document.getElementById('main-nav')).display;",
            vec![],
        )
        .await;
    assert_eq!(closed, "none");
    browser.quit().await;
}
