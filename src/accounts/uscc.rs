//! 统一社会信用代码 (Unified Social Credit Code, USCC) per GB 32100-2015.
//!
//! A USCC has 18 characters:
//!
//! | positions | meaning                                              |
//! |-----------|------------------------------------------------------|
//! | 1         | registering authority (1 机构编制, 5 民政, 9 工商, Y 其他 …) |
//! | 2         | organisation type                                    |
//! | 3–8       | administrative region code                           |
//! | 9–17      | organisation code (GB 11714), check char at 17       |
//! | 18        | check character over positions 1–17                  |
//!
//! Every character is taken from the alphabet `0123456789ABCDEFGHJKLMNPQRTUWXY`
//! (values 0–30; no `I`, `O`, `S`, `V`, `Z`). Positions 1–8 are *not* required
//! to be digits: codes starting with a letter (e.g. `Y`) exist.
//!
//! [`Uscc::parse`] normalises the input (see [`normalize`]) and then checks, in
//! order: emptiness, length, characters, the embedded GB 11714 organisation
//! code check (position 17) and finally the GB 32100 check character
//! (position 18). Errors carry enough detail to tell the user which character
//! is wrong, in Chinese, via [`UsccError::message_zh`].
//!
//! The code never panics on any input: it works on `char`s, never on byte
//! offsets.

use std::fmt;

/// The USCC alphabet; a character's index is its value (0–30).
const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Number of characters in a USCC.
const USCC_LEN: usize = 18;

/// Weights for positions 1–17: `3^(i-1) mod 31`.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// GB 11714 weights for the first eight characters of the organisation code
/// (USCC positions 9–16).
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A validated, normalised 统一社会信用代码 (18 chars, upper-case ASCII).
///
/// The only way to obtain one is [`Uscc::parse`], so holding a `Uscc` means
/// both check characters have been verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

impl Uscc {
    /// Normalises `input` (see [`normalize`]) and validates it as a USCC.
    ///
    /// Checks run in this order, and the first failure is returned:
    /// 1. empty after normalisation → [`UsccError::Empty`];
    /// 2. not exactly 18 characters → [`UsccError::WrongLength`];
    /// 3. a character outside the alphabet → [`UsccError::InvalidChar`]
    ///    (the first one, 1-based position);
    /// 4. the GB 11714 organisation-code check at position 17 →
    ///    [`UsccError::OrgCodeCheck`];
    /// 5. the GB 32100 check character at position 18 →
    ///    [`UsccError::CheckChar`].
    pub fn parse(input: &str) -> Result<Uscc, UsccError> {
        let normalized = normalize(input);
        if normalized.is_empty() {
            return Err(UsccError::Empty);
        }

        let chars: Vec<char> = normalized.chars().collect();
        if chars.len() != USCC_LEN {
            return Err(UsccError::WrongLength { len: chars.len() });
        }

        let mut values = [0u32; USCC_LEN];
        for (i, &ch) in chars.iter().enumerate() {
            match char_value(ch) {
                Some(v) => values[i] = v,
                None => {
                    return Err(UsccError::InvalidChar {
                        position: i + 1,
                        ch,
                    })
                }
            }
        }

        // Positions 9–16 (indices 8..16) carry the organisation code body;
        // all of them are in the USCC alphabet here, so `org_char_value`
        // always succeeds, but stay total anyway.
        let expected_org = org_code_check_char(&chars[8..16]);
        let found_org = chars[16];
        match expected_org {
            Some(expected) if expected == found_org => {}
            Some(expected) => {
                return Err(UsccError::OrgCodeCheck {
                    expected,
                    found: found_org,
                })
            }
            // Unreachable after the alphabet check; report position 9–16
            // garbage as an invalid character rather than panicking.
            None => {
                return Err(UsccError::InvalidChar {
                    position: 9,
                    ch: chars[8],
                })
            }
        }

        let expected = check_char_for_values(&values[..17]);
        let found = chars[17];
        if expected != found {
            return Err(UsccError::CheckChar { expected, found });
        }

        Ok(Uscc(normalized))
    }

    /// The normalised 18-character code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a valid 统一社会信用代码.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsccError {
    /// Nothing left after normalisation.
    Empty,
    /// Not 18 characters; `len` is the length in chars after normalisation.
    WrongLength { len: usize },
    /// The first character not in the USCC alphabet; `position` is 1-based.
    InvalidChar { position: usize, ch: char },
    /// The GB 11714 organisation-code check character (position 17) is wrong.
    OrgCodeCheck { expected: char, found: char },
    /// The GB 32100 check character (position 18) is wrong.
    CheckChar { expected: char, found: char },
}

impl UsccError {
    /// A specific Chinese message for the user, naming the position and the
    /// wrong character, e.g.
    /// `第18位校验码应为“3”，实际为“Z”，请核对统一社会信用代码`.
    pub fn message_zh(&self) -> String {
        match self {
            UsccError::Empty => "请输入统一社会信用代码（18位）".to_string(),
            UsccError::WrongLength { len } => {
                format!("统一社会信用代码应为18位，实际为{len}位，请核对")
            }
            UsccError::InvalidChar { position, ch } => format!(
                "第{position}位字符“{}”无效：统一社会信用代码只含数字和除I、O、S、V、Z以外的大写字母，请核对",
                ch.escape_debug()
            ),
            UsccError::OrgCodeCheck { expected, found } => format!(
                "第17位（组织机构代码校验码）应为“{expected}”，实际为“{found}”，请核对统一社会信用代码"
            ),
            UsccError::CheckChar { expected, found } => {
                format!("第18位校验码应为“{expected}”，实际为“{found}”，请核对统一社会信用代码")
            }
        }
    }
}

impl fmt::Display for UsccError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_zh())
    }
}

impl std::error::Error for UsccError {}

/// Normalise user input before validation:
///
/// * trim surrounding whitespace;
/// * map full-width ASCII (U+FF01..=U+FF5E) to ASCII;
/// * drop whitespace (ASCII spaces, tabs, the ideographic space U+3000, …)
///   and `-` (including the full-width `－`) anywhere;
/// * upper-case ASCII letters.
///
/// Other characters are kept unchanged so that validation can point at them.
pub fn normalize(input: &str) -> String {
    input
        .trim()
        .chars()
        .map(fullwidth_to_ascii)
        .filter(|&c| !c.is_whitespace() && c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E) to its ASCII
/// counterpart (U+0021..=U+007E); other characters are returned unchanged.
fn fullwidth_to_ascii(c: char) -> char {
    let cp = u32::from(c);
    if (0xFF01..=0xFF5E).contains(&cp) {
        char::from_u32(cp - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// Value (0–30) of a character in the USCC alphabet, or `None`.
fn char_value(c: char) -> Option<u32> {
    ALPHABET
        .chars()
        .position(|a| a == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// Character of the USCC alphabet with the given value (0–30).
fn value_char(v: u32) -> char {
    let idx = usize::try_from(v % 31).unwrap_or(0);
    ALPHABET.chars().nth(idx).unwrap_or('0')
}

/// GB 11714 value of an organisation-code character: digits 0–9, letters
/// `A`–`Z` 10–35 (all letters, unlike the USCC alphabet).
fn org_char_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(u32::from(c) - u32::from('0')),
        'A'..='Z' => Some(u32::from(c) - u32::from('A') + 10),
        _ => None,
    }
}

/// GB 11714 check character for the first eight characters of an
/// organisation code: `C = 11 − (Σ cᵢ·wᵢ mod 11)`, with 10 → `X`, 11 → `0`.
///
/// Returns `None` if `body` is not eight characters of `0-9A-Z`. The result
/// is always one of `0-9` or `X`, all of which are in the USCC alphabet.
fn org_code_check_char(body: &[char]) -> Option<char> {
    if body.len() != ORG_WEIGHTS.len() {
        return None;
    }
    let mut sum = 0u32;
    for (&c, &w) in body.iter().zip(ORG_WEIGHTS.iter()) {
        sum += org_char_value(c)? * w;
    }
    let check = 11 - sum % 11;
    Some(match check {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10)?,
    })
}

/// GB 32100 check character for the values of positions 1–17:
/// `(31 − (Σ value·weight mod 31)) mod 31`.
fn check_char_for_values(values: &[u32]) -> char {
    let sum: u32 = values
        .iter()
        .zip(WEIGHTS.iter())
        .map(|(&v, &w)| v * w)
        .sum();
    value_char((31 - sum % 31) % 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: [&str; 3] = [
        "91350100M000100Y43",
        "91430111MA4L41YT1U",
        "91110000600037341L",
    ];

    /// A valid code starting with the letter `Y` (registering authority
    /// "其他"). Derived from the valid `91110000600037341L` by replacing
    /// position 1 with `Y` and recomputing position 18:
    /// positions 9–17 (`600037341`) are unchanged, so the GB 11714 check
    /// `1` still holds; the GB 32100 sum over `Y1110000600037341` is
    ///
    /// ```text
    /// 30·1 + 1·3 + 1·9 + 1·27 + 0·19 + 0·26 + 0·16 + 0·17
    ///   + 6·20 + 0·29 + 0·25 + 0·13 + 3·8 + 7·24 + 3·10 + 4·30 + 1·28
    ///   = 559;  559 mod 31 = 1;  (31 − 1) mod 31 = 30 → 'Y'
    /// ```
    ///
    /// (`complete("Y111000060003734")` recomputes the same result below.)
    const VALID_Y: &str = "Y1110000600037341Y";

    /// Full-width form of an ASCII string (for test inputs).
    fn to_fullwidth(s: &str) -> String {
        s.chars()
            .map(|c| {
                let cp = u32::from(c);
                if (0x21..=0x7E).contains(&cp) {
                    char::from_u32(cp + 0xFEE0).unwrap()
                } else {
                    c
                }
            })
            .collect()
    }

    /// Computes the full valid code for 16 alphabet characters (positions
    /// 1–16) by deriving positions 17 and 18.
    fn complete(first16: &str) -> String {
        let chars: Vec<char> = first16.chars().collect();
        assert_eq!(chars.len(), 16);
        let org = org_code_check_char(&chars[8..16]).unwrap();
        let mut s: String = chars.iter().collect();
        s.push(org);
        let values: Vec<u32> = s.chars().map(|c| char_value(c).unwrap()).collect();
        s.push(check_char_for_values(&values));
        s
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for &expected in WEIGHTS.iter() {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn alphabet_has_31_chars_without_iosvz() {
        assert_eq!(ALPHABET.chars().count(), 31);
        for c in ['I', 'O', 'S', 'V', 'Z'] {
            assert!(char_value(c).is_none());
        }
    }

    #[test]
    fn known_valid_codes_parse() {
        for code in VALID {
            let u = Uscc::parse(code).unwrap();
            assert_eq!(u.as_str(), code);
            assert_eq!(u.to_string(), code);
        }
    }

    #[test]
    fn lower_case_is_accepted() {
        for code in VALID {
            let u = Uscc::parse(&code.to_lowercase()).unwrap();
            assert_eq!(u.as_str(), code);
        }
    }

    #[test]
    fn full_width_is_accepted() {
        for code in VALID {
            let fw = to_fullwidth(code);
            assert_ne!(fw, code);
            assert_eq!(Uscc::parse(&fw).unwrap().as_str(), code);
            let fw_lower = to_fullwidth(&code.to_lowercase());
            assert_eq!(Uscc::parse(&fw_lower).unwrap().as_str(), code);
        }
    }

    #[test]
    fn spaces_and_dashes_are_dropped() {
        let u = Uscc::parse("  9143-0111 ma4l\u{3000}41yt－1u \t").unwrap();
        assert_eq!(u.as_str(), "91430111MA4L41YT1U");
        assert_eq!(normalize(" 9135 0100-m000 100Y43 "), "91350100M000100Y43");
    }

    #[test]
    fn code_starting_with_letter_is_valid() {
        assert_eq!(complete("Y111000060003734"), VALID_Y);
        let u = Uscc::parse(VALID_Y).unwrap();
        assert_eq!(u.as_str(), VALID_Y);
        assert_eq!(Uscc::parse("y111 0000 6000 3734 1y").unwrap(), u);
    }

    #[test]
    fn wrong_check_char_reports_expected() {
        assert_eq!(
            Uscc::parse("91350100M000100Y4Z"),
            Err(UsccError::InvalidChar {
                position: 18,
                ch: 'Z'
            })
        );
        assert_eq!(
            Uscc::parse("91350100M000100Y44"),
            Err(UsccError::CheckChar {
                expected: '3',
                found: '4'
            })
        );
        assert_eq!(
            Uscc::parse("91110000600037341M"),
            Err(UsccError::CheckChar {
                expected: 'L',
                found: 'M'
            })
        );
    }

    #[test]
    fn wrong_length() {
        assert_eq!(
            Uscc::parse("91350100M000100Y4"),
            Err(UsccError::WrongLength { len: 17 })
        );
        assert_eq!(
            Uscc::parse("91350100M000100Y433"),
            Err(UsccError::WrongLength { len: 19 })
        );
        assert_eq!(
            Uscc::parse("统一社会信用代码"),
            Err(UsccError::WrongLength { len: 8 })
        );
    }

    #[test]
    fn empty() {
        assert_eq!(Uscc::parse(""), Err(UsccError::Empty));
        assert_eq!(Uscc::parse("   "), Err(UsccError::Empty));
        assert_eq!(Uscc::parse(" - \u{3000}－ "), Err(UsccError::Empty));
    }

    #[test]
    fn excluded_letters_are_invalid() {
        for (i, bad) in ['I', 'O', 'S', 'V', 'Z'].into_iter().enumerate() {
            let mut chars: Vec<char> = "91430111MA4L41YT1U".chars().collect();
            let pos = 2 + 3 * i; // positions 3, 6, 9, 12, 15 (1-based)
            chars[pos - 1] = bad;
            let s: String = chars.into_iter().collect();
            assert_eq!(
                Uscc::parse(&s),
                Err(UsccError::InvalidChar {
                    position: pos,
                    ch: bad
                }),
                "{s}"
            );
            // Lower case is upper-cased first and reported as upper case.
            assert_eq!(
                Uscc::parse(&s.to_lowercase()),
                Err(UsccError::InvalidChar {
                    position: pos,
                    ch: bad
                })
            );
        }
    }

    #[test]
    fn first_invalid_char_is_reported() {
        assert_eq!(
            Uscc::parse("9135O100M00010SY43"),
            Err(UsccError::InvalidChar {
                position: 5,
                ch: 'O'
            })
        );
    }

    #[test]
    fn org_code_check_failure() {
        // 91350100M000100Y43 with position 17 changed from '4' to '5'.
        assert_eq!(
            Uscc::parse("91350100M000100Y53"),
            Err(UsccError::OrgCodeCheck {
                expected: '4',
                found: '5'
            })
        );
        // Positions 9–16 changed, 17/18 left as they were.
        assert_eq!(
            Uscc::parse("91110000700037341L"),
            Err(UsccError::OrgCodeCheck {
                expected: '9',
                found: '1'
            })
        );
    }

    #[test]
    fn org_check_maps_10_to_x_and_11_to_0() {
        // Σ = 0 → 11 − 0 = 11 → '0'.
        let zeros: Vec<char> = "00000000".chars().collect();
        assert_eq!(org_code_check_char(&zeros), Some('0'));
        // Σ = 1·3 = 3 → 11 − 3 = 8.
        let one: Vec<char> = "10000000".chars().collect();
        assert_eq!(org_code_check_char(&one), Some('8'));
        // Σ = 1·2 = 2 → 11 − 2 = 9; Σ = 1·4 → 7; need Σ mod 11 = 1:
        // '0000000' + '6' → 6·2 = 12 → 12 mod 11 = 1 → 10 → 'X'.
        let x: Vec<char> = "00000006".chars().collect();
        assert_eq!(org_code_check_char(&x), Some('X'));
        // Letters use 10–35, including those absent from the USCC alphabet
        // ('Z' = 35): 35·3 = 105, 105 mod 11 = 6 → 5.
        let z: Vec<char> = "Z0000000".chars().collect();
        assert_eq!(org_code_check_char(&z), Some('5'));
    }

    #[test]
    fn non_ascii_garbage_never_panics() {
        let inputs = [
            "九一三五〇一〇〇Ｍ〇〇〇一〇〇Ｙ四三",
            "91350100M000100Y4é",
            "é1350100M000100Y43",
            "🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀",
            "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
            "\u{200b}",
            "ＺＺＺ",
        ];
        for s in inputs {
            let r = Uscc::parse(s);
            assert!(r.is_err(), "{s}");
            let _ = r.unwrap_err().message_zh();
        }
        assert_eq!(
            Uscc::parse("91350100M000100Y4é"),
            Err(UsccError::InvalidChar {
                position: 18,
                ch: 'é'
            })
        );
        assert_eq!(
            Uscc::parse("🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀"),
            Err(UsccError::InvalidChar {
                position: 1,
                ch: '🦀'
            })
        );
    }

    #[test]
    fn messages_name_position_and_char() {
        let e = UsccError::CheckChar {
            expected: '3',
            found: 'Z',
        };
        assert_eq!(
            e.message_zh(),
            "第18位校验码应为“3”，实际为“Z”，请核对统一社会信用代码"
        );
        assert_eq!(e.to_string(), e.message_zh());

        let e = Uscc::parse("91350100M000100Y53").unwrap_err();
        assert!(e.message_zh().contains("第17位"));
        assert!(e.message_zh().contains("“4”"));
        assert!(e.message_zh().contains("“5”"));

        let e = Uscc::parse("9135O100M000100Y43").unwrap_err();
        assert!(e.message_zh().contains("第5位"));
        assert!(e.message_zh().contains("“O”"));

        assert!(UsccError::WrongLength { len: 17 }
            .message_zh()
            .contains("17位"));
        assert!(!UsccError::Empty.message_zh().is_empty());

        let boxed: Box<dyn std::error::Error> = Box::new(UsccError::Empty);
        assert_eq!(boxed.to_string(), UsccError::Empty.message_zh());
    }

    #[test]
    fn normalize_examples() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("ａｂｃ－１２３"), "ABC123");
        assert_eq!(normalize(" a b\u{3000}c "), "ABC");
        // Non-ASCII letters are kept (and later reported), not upper-cased.
        assert_eq!(normalize("é"), "é");
    }

    /// Strategy: 16 random alphabet characters for positions 1–16.
    fn first16() -> impl Strategy<Value = String> {
        proptest::collection::vec(0usize..31, 16).prop_map(|idx| {
            idx.into_iter()
                .map(|i| ALPHABET.chars().nth(i).unwrap())
                .collect()
        })
    }

    /// Strategy: a valid USCC. Positions 17 and 18 are derived. The GB 11714
    /// check is always one of `0-9X`, all inside the USCC alphabet, but
    /// filter anyway so the strategy never yields a code it cannot validate.
    fn valid_code() -> impl Strategy<Value = String> {
        first16()
            .prop_map(|s| complete(&s))
            .prop_filter("org check char must be in the USCC alphabet", |s| {
                s.chars().nth(16).and_then(char_value).is_some()
            })
    }

    proptest! {
        #[test]
        fn generated_codes_parse_and_round_trip(code in valid_code()) {
            let u = Uscc::parse(&code).unwrap();
            prop_assert_eq!(u.as_str(), code.as_str());
            prop_assert_eq!(u.to_string(), code.clone());
            prop_assert_eq!(Uscc::parse(&u.to_string()).unwrap(), u.clone());
            prop_assert_eq!(Uscc::parse(&code.to_lowercase()).unwrap(), u.clone());
            prop_assert_eq!(Uscc::parse(&to_fullwidth(&code)).unwrap(), u);
        }

        #[test]
        fn single_substitution_in_alphabet_is_rejected(
            code in valid_code(),
            pos in 0usize..18,
            delta in 1usize..31,
        ) {
            let mut chars: Vec<char> = code.chars().collect();
            let old = char_value(chars[pos]).unwrap() as usize;
            chars[pos] = ALPHABET.chars().nth((old + delta) % 31).unwrap();
            let mutated: String = chars.into_iter().collect();
            let err = Uscc::parse(&mutated).unwrap_err();
            // Positions 1–16 and 18 are caught by one of the two checks;
            // position 17 by the organisation-code check.
            match err {
                UsccError::OrgCodeCheck { .. } => prop_assert!((8..17).contains(&pos)),
                UsccError::CheckChar { .. } => prop_assert!(pos != 16),
                other => prop_assert!(false, "unexpected error {:?}", other),
            }
        }

        #[test]
        fn single_substitution_outside_alphabet_is_rejected(
            code in valid_code(),
            pos in 0usize..18,
            ch in any::<char>(),
        ) {
            let mut chars: Vec<char> = code.chars().collect();
            // Skip replacements that normalise back to the original
            // character (e.g. lower-case or full-width forms of it).
            prop_assume!(normalize(&ch.to_string()) != chars[pos].to_string());
            chars[pos] = ch;
            let mutated: String = chars.into_iter().collect();
            prop_assert!(Uscc::parse(&mutated).is_err());
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = Uscc::parse(&s).map_err(|e| e.message_zh());
        }

        #[test]
        fn never_panics_on_18_chars(s in proptest::collection::vec(any::<char>(), 18)) {
            let s: String = s.into_iter().collect();
            let _ = Uscc::parse(&s).map_err(|e| e.message_zh());
        }
    }
}
