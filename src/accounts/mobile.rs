//! Mainland China mobile numbers.
//!
//! A mainland mobile number is 11 digits matching `^1[3-9]\d{9}$` once the
//! country prefix (`+86`, `0086` or `86`) and any spaces or dashes are
//! removed. Full-width input (`１３８…`, `＋８６`, `－`) is accepted.

use std::fmt;

/// Why a string is not a mainland mobile number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MobileError {
    /// Nothing was entered (only whitespace or separators).
    Empty,
    /// Something was entered but it is not a mainland mobile number.
    Invalid,
}

impl MobileError {
    /// A Chinese message for the user.
    pub fn message_zh(&self) -> String {
        match self {
            MobileError::Empty => "请输入手机号码（11位大陆手机号码，如 13800138000）".to_string(),
            MobileError::Invalid => "请输入11位大陆手机号码（如 13800138000）".to_string(),
        }
    }
}

impl fmt::Display for MobileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_zh())
    }
}

impl std::error::Error for MobileError {}

/// Normalises a mainland mobile number to its 11 ASCII digits.
///
/// * Full-width digits, `＋` and `－` are mapped to ASCII first.
/// * Whitespace (including the ideographic space U+3000) and `-` are dropped.
/// * A `+86`, `0086` or `86` prefix is stripped only when exactly 11 digits
///   follow it.
/// * The result must match `^1[3-9]\d{9}$`.
///
/// Returns [`MobileError::Empty`] when nothing but whitespace/dashes was
/// given and [`MobileError::Invalid`] otherwise.
pub fn normalize_mobile(input: &str) -> Result<String, MobileError> {
    let cleaned: String = input
        .chars()
        .map(fullwidth_to_ascii)
        .filter(|&c| !c.is_whitespace() && c != '-')
        .collect();
    if cleaned.is_empty() {
        return Err(MobileError::Empty);
    }

    let number = ["+86", "0086", "86"]
        .iter()
        .find_map(|prefix| {
            cleaned
                .strip_prefix(prefix)
                .filter(|rest| rest.len() == 11 && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or(&cleaned);

    if is_mainland_mobile(number) {
        Ok(number.to_string())
    } else {
        Err(MobileError::Invalid)
    }
}

/// `^1[3-9]\d{9}$` over ASCII digits.
fn is_mainland_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// Maps full-width digits and `＋`/`－` to ASCII; other characters unchanged.
fn fullwidth_to_ascii(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' | '\u{FF0B}' | '\u{FF0D}' => {
            char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
        }
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_number() {
        assert_eq!(normalize_mobile("13800138000").unwrap(), "13800138000");
        assert_eq!(normalize_mobile(" 19912345678 ").unwrap(), "19912345678");
    }

    #[test]
    fn spaces_and_dashes() {
        assert_eq!(normalize_mobile("138 0013 8000").unwrap(), "13800138000");
        assert_eq!(normalize_mobile("138-0013-8000").unwrap(), "13800138000");
        assert_eq!(
            normalize_mobile("138\u{3000}0013\t8000").unwrap(),
            "13800138000"
        );
    }

    #[test]
    fn country_prefixes() {
        assert_eq!(
            normalize_mobile("+86 138-0013-8000").unwrap(),
            "13800138000"
        );
        assert_eq!(normalize_mobile("0086 13800138000").unwrap(), "13800138000");
        assert_eq!(normalize_mobile("8613800138000").unwrap(), "13800138000");
        assert_eq!(
            normalize_mobile("+86-138 0013 8000").unwrap(),
            "13800138000"
        );
    }

    #[test]
    fn full_width_digits() {
        assert_eq!(
            normalize_mobile("１３８００１３８０００").unwrap(),
            "13800138000"
        );
        assert_eq!(
            normalize_mobile("＋８６ １３８－００１３－８０００").unwrap(),
            "13800138000"
        );
    }

    #[test]
    fn invalid_second_digit() {
        assert_eq!(normalize_mobile("12800138000"), Err(MobileError::Invalid));
        assert_eq!(normalize_mobile("10800138000"), Err(MobileError::Invalid));
        assert_eq!(normalize_mobile("23800138000"), Err(MobileError::Invalid));
    }

    #[test]
    fn wrong_digit_count() {
        assert_eq!(normalize_mobile("1380013800"), Err(MobileError::Invalid));
        assert_eq!(normalize_mobile("138001380001"), Err(MobileError::Invalid));
        // Prefix only stripped when exactly 11 digits follow.
        assert_eq!(normalize_mobile("+861380013800"), Err(MobileError::Invalid));
        assert_eq!(
            normalize_mobile("00861380013800"),
            Err(MobileError::Invalid)
        );
        assert_eq!(normalize_mobile("+86"), Err(MobileError::Invalid));
    }

    #[test]
    fn letters_and_garbage() {
        assert_eq!(normalize_mobile("1380013800a"), Err(MobileError::Invalid));
        assert_eq!(normalize_mobile("abcdefghijk"), Err(MobileError::Invalid));
        assert_eq!(
            normalize_mobile("+8613800138OOO"),
            Err(MobileError::Invalid)
        );
        assert_eq!(
            normalize_mobile("１３８〇〇１３８〇〇〇"),
            Err(MobileError::Invalid)
        );
        assert_eq!(normalize_mobile("+13800138000"), Err(MobileError::Invalid));
        // Non-ASCII digits elsewhere must not be accepted by `is_ascii_digit`.
        assert_eq!(normalize_mobile("1380013800٣"), Err(MobileError::Invalid));
    }

    #[test]
    fn empty() {
        assert_eq!(normalize_mobile(""), Err(MobileError::Empty));
        assert_eq!(normalize_mobile("   "), Err(MobileError::Empty));
        assert_eq!(normalize_mobile(" - \u{3000}"), Err(MobileError::Empty));
    }

    #[test]
    fn messages() {
        assert_eq!(
            MobileError::Invalid.message_zh(),
            "请输入11位大陆手机号码（如 13800138000）"
        );
        assert!(MobileError::Empty.message_zh().contains("请输入手机号码"));
        assert_eq!(
            MobileError::Invalid.to_string(),
            MobileError::Invalid.message_zh()
        );
    }

    proptest! {
        #[test]
        fn valid_numbers_round_trip(n in "1[3-9][0-9]{9}") {
            prop_assert_eq!(normalize_mobile(&n).unwrap(), n.clone());
            let prefixed = format!("+86 {} {} {}", &n[..3], &n[3..7], &n[7..]);
            prop_assert_eq!(normalize_mobile(&prefixed).unwrap(), n.clone());
            prop_assert_eq!(normalize_mobile(&format!("0086{n}")).unwrap(), n.clone());
        }

        #[test]
        fn output_always_matches_pattern(s in ".{0,30}") {
            if let Ok(n) = normalize_mobile(&s) {
                prop_assert!(is_mainland_mobile(&n));
            }
        }
    }
}
