//! Where a login may send the browser afterwards: the `next` parameter, accepted only as a path
//! of this site.
//!
//! Browsers are lenient with `Location`: they drop tabs and newlines inside a URL
//! (`/\t/evil.example` becomes `//evil.example`, another site), read `\` as `/`, and treat a
//! leading `//` as "same scheme, other host". A header value cannot hold CR or LF at all (today
//! such a `next` ends a successful login in a 500). So a `next` is taken only when it is
//! plainly a local path; anything else is ignored and the login goes to the default page.

/// Longest `next` followed; a longer one is ignored.
pub const MAX_NEXT_LEN: usize = 2048;

/// `next` as a same-site path to redirect to after login, or `None` when it must be ignored.
///
/// Accepted: a path starting with exactly one `/` (not `//`, not `/\`), with no backslash, no
/// whitespace and no control or invisible formatting character (bidi overrides, zero-width
/// characters) anywhere, at most [`MAX_NEXT_LEN`] bytes. Other non-ASCII characters (a
/// Chinese search term) are kept, percent-encoded, so the `Location` header stays ASCII.
pub fn safe_next(next: &str) -> Option<String> {
    if next.len() > MAX_NEXT_LEN || !next.starts_with('/') {
        return None;
    }
    let mut rest = next.chars().skip(1);
    if matches!(rest.next(), Some('/' | '\\')) {
        return None;
    }
    let mut out = String::with_capacity(next.len());
    for c in next.chars() {
        if c == '\\' || c.is_whitespace() || c.is_control() || is_invisible_format(c) {
            return None;
        }
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

/// Characters that change how text is shown without being visible (Unicode `Cf` ranges that
/// matter here): bidi embeddings, overrides and isolates, zero-width joiners and marks, BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_followed() {
        for ok in [
            "/",
            "/me",
            "/sessions/12/roster?tab=waitlist#top",
            "/login?next=%2Fme",
            "/archive?q=%E5%8A%B3%E5%8A%A8",
            "/a//b",
            "/./x",
            "/%2F%2Fevil.example",
        ] {
            assert_eq!(safe_next(ok).as_deref(), Some(ok), "{ok:?}");
        }
    }

    #[test]
    fn non_ascii_is_percent_encoded() {
        assert_eq!(
            safe_next("/archive?q=劳动").as_deref(),
            Some("/archive?q=%E5%8A%B3%E5%8A%A8")
        );
    }

    /// Each of these sends the browser elsewhere or breaks the `Location` header.
    #[test]
    fn attacks_are_ignored() {
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        for bad in [
            "",
            "me",
            "https://evil.example/",
            "http:/evil.example",
            "javascript:alert(1)",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "/x\\y",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/me\r\nSet-Cookie: pufa_session=x",
            "/me\nLocation: //evil.example",
            "/\u{0B}/evil.example",
            "/\u{0C}/evil.example",
            "/\0/evil.example",
            "/\u{7F}",
            "/\u{85}/evil.example",
            "/ /evil.example",
            "/me page",
            "/\u{A0}/evil.example",
            "/\u{3000}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{202E}lmth.exe",
            "/\u{200B}/evil.example",
            "/\u{FEFF}/evil.example",
            " /me",
            long.as_str(),
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
