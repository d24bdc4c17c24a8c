//! Markdown of lawyers' answers and public Q&A entries, rendered to HTML that is safe to put
//! in a page as is.
//!
//! Lawyers write Markdown; enterprises and the public read it. The renderer (pulldown-cmark)
//! is asked for events and every event that could carry markup of the writer's own is
//! defused here, so no sanitiser is needed afterwards:
//! - raw HTML (blocks and inline) is shown as text, escaped — never passed through;
//! - a link keeps its target only when it is `http:`, `https:` or relative (same site), and
//!   gets `rel="nofollow noopener"`; any other target (`javascript:`, `data:`, `mailto:`,
//!   protocol-relative `//host`) leaves the link text alone, without a link;
//! - images are never loaded (an answer must not make the reader's browser fetch from
//!   another host): an image is shown as its alt text.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The safe HTML of `md`. Askama templates print it with `|safe`.
pub fn to_html(md: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    // Whether each open link was kept, so that its end is written only when its start was.
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(md, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => None,
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            ..
        }) => {
            let keep =
                !matches!(link_type, pulldown_cmark::LinkType::Email) && is_safe_href(&dest_url);
            links.push(keep);
            keep.then(|| {
                Event::Html(
                    format!(
                        "<a href=\"{}\" rel=\"nofollow noopener\">",
                        escape_attr(&dest_url)
                    )
                    .into(),
                )
            })
        }
        Event::End(TagEnd::Link) => links
            .pop()
            .unwrap_or(false)
            .then(|| Event::Html("</a>".into())),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        // People write answers like messages, a line per thought; as in GitHub comments, a
        // line break in the text stays a line break on the page.
        Event::SoftBreak => Some(Event::HardBreak),
        other => Some(other),
    });
    let mut html = String::with_capacity(md.len() + md.len() / 4);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// A link target the reader may follow: `http:`, `https:`, or a path of this site. Anything
/// with another scheme, a protocol-relative `//host`, a backslash (browsers read `/\host` as
/// `//host`) or a control or space character (browsers drop tabs and newlines, so
/// `java\tscript:` would still run) is refused.
fn is_safe_href(url: &str) -> bool {
    if url.is_empty()
        || url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return true;
    }
    if url.starts_with("//") {
        return false;
    }
    // Relative: no scheme, i.e. no ':' before the first '/', '?' or '#'.
    let head = url.split(['/', '?', '#']).next().unwrap_or("");
    !head.contains(':')
}

fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    fn no_markup_of_the_writer(html: &str) {
        let lower = html.to_ascii_lowercase();
        for bad in [
            "<script",
            "<img",
            "<iframe",
            "<svg",
            "onerror=",
            "javascript:",
            "<style",
        ] {
            if bad.ends_with('=') || bad == "javascript:" {
                // Shown as text is fine; inside a tag is not.
                for tag in lower.split('<').skip(1) {
                    let inside = tag.split('>').next().unwrap_or("");
                    assert!(!inside.contains(bad), "{bad} inside a tag: {html}");
                }
            } else {
                assert!(!lower.contains(bad), "{bad} in {html}");
            }
        }
    }

    #[test]
    fn formats_ordinary_answers() {
        let html = to_html("**劳动合同**应当在用工之日起*一个月*内订立。\n\n- 第一条\n- 第二条");
        assert!(html.contains("<strong>劳动合同</strong>"), "{html}");
        assert!(html.contains("<em>一个月</em>"), "{html}");
        assert!(html.contains("<li>第一条</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_escaped_not_passed_through() {
        for md in [
            "<script>alert(1)</script>",
            "text <script>alert(1)</script> more",
            "<img src=x onerror=alert(1)>",
            "<div>\n<iframe src=\"https://evil.example\"></iframe>\n</div>",
            "<svg onload=alert(1)>",
            "a <b onmouseover=alert(1)>bold</b>",
        ] {
            let html = to_html(md);
            no_markup_of_the_writer(&html);
            assert!(html.contains("&lt;"), "escaped, shown as text: {html}");
        }
    }

    #[test]
    fn only_web_and_relative_links_are_kept() {
        let html = to_html("[法条](https://flk.npc.gov.cn/detail?id=1&x=2)");
        assert!(
            html.contains(
                "<a href=\"https://flk.npc.gov.cn/detail?id=1&amp;x=2\" rel=\"nofollow noopener\">法条</a>"
            ),
            "{html}"
        );
        let html = to_html("[讲座](/lectures/3)");
        assert!(
            html.contains("<a href=\"/lectures/3\" rel=\"nofollow noopener\">讲座</a>"),
            "{html}"
        );
        for md in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](<java\tscript:alert(1)>)",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox)",
            "[x](//evil.example/a)",
            "[x](/\\evil.example)",
            "<javascript:alert(1)>",
            "[x][r]\n\n[r]: javascript:alert(1)",
        ] {
            let html = to_html(md);
            no_markup_of_the_writer(&html);
            assert!(!html.contains("<a "), "{md} → {html}");
        }
        // The text of a refused link stays.
        assert!(to_html("[点这里](javascript:alert(1))").contains("点这里"));
    }

    #[test]
    fn link_targets_cannot_break_out_of_the_attribute() {
        let html = to_html("[x](https://a.example/\"onmouseover=alert(1))");
        no_markup_of_the_writer(&html);
    }

    #[test]
    fn images_are_never_loaded() {
        for md in [
            "![流程图](https://evil.example/track.png)",
            "![流程图](/media/x.png)",
            "![a\" onerror=\"alert(1)](x)",
        ] {
            let html = to_html(md);
            assert!(!html.contains("<img"), "{html}");
            no_markup_of_the_writer(&html);
        }
        assert!(to_html("![流程图](https://evil.example/t.png)").contains("流程图"));
    }

    #[test]
    fn autolinks_to_mail_are_text() {
        let html = to_html("<lawyer@example.com>");
        assert!(!html.contains("mailto:"), "{html}");
    }
}
