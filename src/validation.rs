//! Messages about invalid input, collected per field. Domain validation (`validate_*` and
//! `parse` functions) returns these; the HTTP layer renders them as a 422 problem or next to
//! the form field.

use serde::Serialize;

/// A message about one input field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The field name as sent by the client.
    pub field: String,
    /// What is wrong, in Chinese.
    pub message: String,
}

/// A list of field messages collected while validating one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Errors holding one message about `field`.
    pub fn single(field: &str, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if any (used by forms to show it next to the input).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// `Ok(())` when empty, otherwise the errors.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> = self.0.iter().map(|e| e.message.as_str()).collect();
        f.write_str(&parts.join("；"))
    }
}

/// Longest piece of a client's input quoted back in a message; longer values are cut with `…`,
/// so an error never echoes megabytes of input.
pub const MAX_ECHO_CHARS: usize = 100;

/// `value` as it may be quoted in a message: at most [`MAX_ECHO_CHARS`] characters (then `…`),
/// with control and direction-override characters shown as `�` so a quote cannot reorder or
/// break the text around it.
pub fn excerpt(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_ECHO_CHARS)
        .map(|c| if is_forbidden(c, true) { '\u{FFFD}' } else { c })
        .collect();
    if value.chars().nth(MAX_ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Whether a text may hold line breaks and tabs (a summary, a reason) or is a single line (a
/// name, a title, a search).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    Multi,
}

/// The bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069):
/// they make text display in another order than it is stored ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_forbidden(c: char, allow_breaks: bool) -> bool {
    if allow_breaks && matches!(c, '\n' | '\r' | '\t') {
        return false;
    }
    c.is_control() || is_bidi_control(c)
}

/// The first character of `value` that no stored text may hold: a control character (NUL,
/// escape, …; line breaks and tabs only where `lines` is [`Lines::Multi`]) or a bidi control.
pub fn forbidden_char(value: &str, lines: Lines) -> Option<char> {
    value
        .chars()
        .find(|&c| is_forbidden(c, lines == Lines::Multi))
}

/// The one check every free-text field goes through: `Err` with a Chinese message naming
/// `label` (e.g. "企业名称") and the offending character when [`forbidden_char`] finds one.
pub fn check_text(label: &str, value: &str, lines: Lines) -> Result<(), String> {
    match forbidden_char(value, lines) {
        None => Ok(()),
        Some(c) if is_bidi_control(c) => Err(format!(
            "{label}不能包含文字方向控制字符（U+{:04X}），请删除后重新填写",
            u32::from(c)
        )),
        Some('\n' | '\r' | '\t') => Err(format!("{label}应为一行文字，不能包含换行或制表符")),
        Some(c) => Err(format!(
            "{label}不能包含控制字符（U+{:04X}），请删除后重新填写",
            u32::from(c)
        )),
    }
}

impl FieldErrors {
    /// Add [`check_text`]'s message for `field` when `value` holds a forbidden character;
    /// returns whether it was clean.
    pub fn check_text(&mut self, field: &str, label: &str, value: &str, lines: Lines) -> bool {
        match check_text(label, value, lines) {
            Ok(()) => true,
            Err(message) => {
                self.add(field, message);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_found() {
        assert_eq!(forbidden_char("示例企业有限公司", Lines::Single), None);
        assert_eq!(forbidden_char("a\0b", Lines::Single), Some('\0'));
        assert_eq!(forbidden_char("a\u{1b}[31m", Lines::Multi), Some('\u{1b}'));
        assert_eq!(forbidden_char("a\u{7f}", Lines::Single), Some('\u{7f}'));
        assert_eq!(forbidden_char("a\u{85}", Lines::Multi), Some('\u{85}'));
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'] {
            assert_eq!(forbidden_char(&format!("x{c}y"), Lines::Multi), Some(c));
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(forbidden_char(&format!("x{c}y"), Lines::Single), Some(c));
        }
        // neighbours of the ranges and ordinary marks stay allowed
        for ok in [
            '\u{2029}', '\u{202F}', '\u{2065}', '\u{206A}', '\u{200E}', '·', '（',
        ] {
            assert_eq!(
                forbidden_char(&format!("x{ok}y"), Lines::Single),
                None,
                "{ok:?}"
            );
        }
        // line breaks: only in multi-line texts
        assert_eq!(forbidden_char("a\r\n\tb", Lines::Multi), None);
        assert_eq!(forbidden_char("a\nb", Lines::Single), Some('\n'));
    }

    #[test]
    fn messages_are_chinese_and_name_the_character() {
        let m = check_text("企业名称", "示例\0公司", Lines::Single).unwrap_err();
        assert!(m.starts_with("企业名称") && m.contains("控制字符") && m.contains("U+0000"));
        let m = check_text("联系人姓名", "张\u{202E}三", Lines::Single).unwrap_err();
        assert!(m.contains("文字方向") && m.contains("U+202E"), "{m}");
        let m = check_text("课程标题", "a\nb", Lines::Single).unwrap_err();
        assert!(m.contains("一行"), "{m}");
        assert_eq!(
            check_text("移除原因", "第一行\n第二行", Lines::Multi),
            Ok(())
        );
    }

    #[test]
    fn excerpts_are_capped_and_defanged() {
        assert_eq!(excerpt("短"), "短");
        let long = "长".repeat(5000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(
            excerpt(&"x".repeat(MAX_ECHO_CHARS)).chars().count(),
            MAX_ECHO_CHARS
        );
        assert_eq!(excerpt("a\0b\u{202E}c"), "a\u{FFFD}b\u{FFFD}c");
    }
}
