//! Sharing a page (issue 17): the absolute link, a QR code for WeChat's scanner and the meta
//! tags (Open Graph) that messengers read for the link's card: title, description, image.

use crate::config::PublicUrl;

/// What a shareable page carries.
pub struct Share {
    /// The page's absolute address (also `og:url` and the canonical link).
    pub url: String,
    pub title: String,
    /// One or two sentences, at most 120 characters.
    pub description: String,
    /// An absolute image address: the lecture's poster when it is public, else the site's
    /// share image.
    pub image: String,
    /// Inline SVG of the QR code (empty when the address is too long for one).
    pub qr: String,
}

/// The longest description, in characters (messenger cards show about two lines).
const MAX_DESCRIPTION: usize = 120;

/// `text` on one line, shortened to [`MAX_DESCRIPTION`] characters with an ellipsis.
fn description(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_DESCRIPTION {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

impl Share {
    /// The share card of the page at `path` (starting with `/`); `image_path` a public image
    /// of the page, if it has one.
    pub fn new(
        public_url: &PublicUrl,
        path: &str,
        title: &str,
        text: &str,
        image_path: Option<&str>,
    ) -> Share {
        let url = public_url.join(path);
        let image = match image_path {
            Some(p) => public_url.join(p),
            None => public_url.join(&crate::http::assets::url("share.png")),
        };
        Share {
            qr: super::qr::svg(&url, "本页二维码：用微信扫一扫打开"),
            url,
            title: title.to_string(),
            description: description(text),
            image,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_one_short_line() {
        assert_eq!(description("劳动合同\n\n  试用期"), "劳动合同 试用期");
        let long = "很".repeat(300);
        let d = description(&long);
        assert_eq!(d.chars().count(), MAX_DESCRIPTION);
        assert!(d.ends_with('…'));
    }

    #[test]
    fn share_card_is_absolute() {
        let base: PublicUrl = "https://pufa.example.cn".parse().expect("url");
        let s = Share::new(&base, "/sessions/3", "标题", "简介", None);
        assert_eq!(s.url, "https://pufa.example.cn/sessions/3");
        assert!(s
            .image
            .starts_with("https://pufa.example.cn/assets/share.png?v="));
        assert!(s.qr.starts_with("<svg class=\"qr\" role=\"img\""));
        let s = Share::new(
            &base,
            "/lectures/1",
            "标题",
            "简介",
            Some("/media/lectures/1/v2/poster.jpg"),
        );
        assert_eq!(
            s.image,
            "https://pufa.example.cn/media/lectures/1/v2/poster.jpg"
        );
    }
}
