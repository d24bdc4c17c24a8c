//! The password rule every account goes through (enterprise registration, staff accounts made
//! by organizers or the CLI, resets): a length range, then a strength estimate by `zxcvbn`
//! that knows dictionaries, keyboard rows, dates and the account's own names.
//!
//! The threshold is zxcvbn's score 3 ("safely unguessable": more than 10^8 guesses), which
//! its authors name as the least a password should reach. A refusal says in Chinese what made
//! the password guessable and what to do instead.

use zxcvbn::feedback::{Suggestion, Warning};
use zxcvbn::Score;

/// Shortest password accepted before the strength estimate is even made.
pub const MIN_CHARS: usize = 8;
/// Longest password accepted (zxcvbn's time grows with the length; 128 is plenty for a phrase).
pub const MAX_CHARS: usize = 128;
/// The least zxcvbn score accepted.
pub const MIN_SCORE: Score = Score::Three;

/// Check `password` for an account described by `user_inputs` (login name, display name,
/// company name, credit code, mobile …: a password built from them is weak). `Err` holds the
/// Chinese message for the password field.
pub fn check(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_CHARS {
        return Err(format!(
            "密码至少需要{MIN_CHARS}个字符，建议使用由几个词组成的短语"
        ));
    }
    if len > MAX_CHARS {
        return Err(format!("密码不能超过{MAX_CHARS}个字符"));
    }
    let lowered = password.to_lowercase();
    let inputs: Vec<String> = user_inputs
        .iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    // zxcvbn finds a user input inside a longer password; the password that *is* one is
    // refused outright with a clearer message
    if inputs.contains(&lowered) {
        return Err(
            "密码太容易被猜到：不能与用户名、企业名称、信用代码或手机号相同，\
                    请使用更长的短语或混合字符"
                .into(),
        );
    }
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &refs);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let (why, how) = match estimate.feedback() {
        Some(f) => (
            f.warning().map(warning_zh),
            f.suggestions()
                .iter()
                .find_map(|s| suggestion_zh(*s))
                .unwrap_or(DEFAULT_ADVICE),
        ),
        None => (None, DEFAULT_ADVICE),
    };
    let why = why.unwrap_or(if uses_own_data(&lowered, &inputs) {
        "包含了用户名、企业名称、信用代码或手机号"
    } else {
        "组合过于简单"
    });
    Err(format!("密码太容易被猜到：{why}，{how}"))
}

const DEFAULT_ADVICE: &str = "请使用更长的短语或混合字符";

fn uses_own_data(password: &str, inputs: &[String]) -> bool {
    inputs
        .iter()
        .any(|i| i.chars().count() >= 3 && password.contains(i.as_str()))
}

/// What made the password guessable, from zxcvbn's warning.
fn warning_zh(w: Warning) -> &'static str {
    match w {
        Warning::StraightRowsOfKeysAreEasyToGuess => {
            "键盘上连成一行的按键（如 qwerty）很容易被猜到"
        }
        Warning::ShortKeyboardPatternsAreEasyToGuess => "键盘上的简短图案很容易被猜到",
        Warning::RepeatsLikeAaaAreEasyToGuess => "重复的字符（如 aaa）很容易被猜到",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
            "重复的片段（如 abcabc）并不比 abc 难猜多少"
        }
        Warning::ThisIsATop10Password | Warning::ThisIsATop100Password => "这是最常用的密码之一",
        Warning::ThisIsACommonPassword => "这是常见密码",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "与常见密码过于相似",
        Warning::SequencesLikeAbcAreEasyToGuess => "连续的字母或数字（如 abc、6543）很容易被猜到",
        Warning::RecentYearsAreEasyToGuess => "近年的年份很容易被猜到",
        Warning::AWordByItselfIsEasyToGuess => "单个英文单词很容易被猜到",
        Warning::DatesAreOftenEasyToGuess => "日期很容易被猜到",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess
        | Warning::CommonNamesAndSurnamesAreEasyToGuess => "常见的姓名很容易被猜到",
    }
}

/// What to do instead, from zxcvbn's suggestions; `None` for the ones that do not help
/// someone fix it (e.g. "no need for symbols").
fn suggestion_zh(s: Suggestion) -> Option<&'static str> {
    Some(match s {
        Suggestion::UseAFewWordsAvoidCommonPhrases | Suggestion::AddAnotherWordOrTwo => {
            "请再加一两个不常见的词，使用更长的短语或混合字符"
        }
        Suggestion::CapitalizationDoesntHelpVeryMuch
        | Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => {
            "只改大小写帮助不大，请使用更长的短语"
        }
        Suggestion::ReversedWordsArentMuchHarderToGuess => "倒写单词帮助不大，请使用更长的短语",
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => {
            "用 @ 代替 a 这类替换帮助不大，请使用更长的短语"
        }
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => "请避免键盘图案，使用更长的短语",
        Suggestion::AvoidRepeatedWordsAndCharacters => "请避免重复的词和字符",
        Suggestion::AvoidSequences => "请避免连续的字母或数字",
        Suggestion::AvoidRecentYears
        | Suggestion::AvoidYearsThatAreAssociatedWithYou
        | Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => {
            "请避免使用年份和与您相关的日期"
        }
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => return None,
    })
}

/// A strong random password for "generate and show once" resets: four groups of letters and
/// digits without look-alikes (0/O, 1/l/I), e.g. `k7pm-w3xq-…`, easy to read out and type.
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_own_passwords_are_refused_in_chinese() {
        for weak in [
            "password",
            "12345678",
            "qwertyuiop",
            "password1",
            "iloveyou",
        ] {
            let e = check(weak, &[]).expect_err(weak);
            assert!(e.starts_with("密码太容易被猜到："), "{weak}: {e}");
        }
        let e = check("password", &[]).expect_err("password");
        assert!(e.contains("常用") || e.contains("常见"), "{e}");
        let e = check("zhangwei-lawyer", &["zhangwei-lawyer"]).expect_err("own name");
        assert!(e.contains("用户名"), "{e}");
        let e = check("1234", &[]).expect_err("short");
        assert!(e.contains("8个字符"), "{e}");
        assert!(check(&"x".repeat(129), &[]).is_err());
    }

    #[test]
    fn the_users_own_data_weakens_a_password() {
        // strong for a stranger, guessable for this account
        let code = "91350100M000100Y43";
        let candidate = "91350100m000100y43!";
        assert!(check(candidate, &[]).is_ok());
        assert!(check(candidate, &[code]).is_err());
    }

    #[test]
    fn phrases_and_generated_passwords_pass() {
        for strong in [
            "correct horse battery staple",
            "Minjiang-river-2026-lecture",
            "organizer-lamp-harbor-9",
        ] {
            assert_eq!(check(strong, &["admin"]), Ok(()), "{strong}");
        }
        for _ in 0..20 {
            let p = generate();
            assert_eq!(p.len(), 19);
            assert_eq!(check(&p, &[]), Ok(()), "{p}");
        }
    }
}
