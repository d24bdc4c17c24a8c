//! QR codes as inline SVG (the `qrcode` crate, SVG renderer only): for the calendar
//! subscription on a phone, and wherever a page offers a link to open on another device.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An `<svg role="img">` QR code of `text` labelled `label` (its accessible name), or an empty
/// string when the text is too long for a QR code (the link next to it still works).
pub fn svg(text: &str, label: &str) -> String {
    let Ok(code) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) else {
        return String::new();
    };
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(168, 168)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // inline in HTML: no XML declaration; an accessible name instead
    let start = image.find("<svg").unwrap_or(0);
    let label = askama_escape(label);
    image[start..].replacen(
        "<svg",
        &format!("<svg class=\"qr\" role=\"img\" aria-label=\"{label}\""),
        1,
    )
}

/// Minimal escaping for an attribute value.
fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `webcal:` form of a calendar feed's `http(s):` address, which phones and desktop
/// calendars open as a subscription rather than a download.
pub fn webcal(url: &str) -> String {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map_or_else(|| url.to_string(), |rest| format!("webcal://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_an_inline_svg_with_a_name() {
        let s = svg("webcal://example.test/calendar/abc.ics", "订阅 \"日历\"");
        assert!(
            s.starts_with("<svg class=\"qr\" role=\"img\" aria-label=\"订阅 &quot;日历&quot;\"")
        );
        assert!(s.contains("<path") && s.ends_with("</svg>"), "{s}");
        assert!(svg(&"x".repeat(5000), "too long").is_empty());
    }

    #[test]
    fn webcal_replaces_the_scheme() {
        assert_eq!(webcal("https://a.test/c.ics"), "webcal://a.test/c.ics");
        assert_eq!(
            webcal("http://127.0.0.1:8080/c.ics"),
            "webcal://127.0.0.1:8080/c.ics"
        );
    }
}
