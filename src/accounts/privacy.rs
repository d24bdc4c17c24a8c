//! The privacy notice shown at registration (个人信息保护法 第十七条: what is collected, why,
//! who sees it, how long it is kept, the enterprise's rights) and the consent recorded with
//! its version. The texts live in `templates/accounts/privacy.html` and the short form on the
//! registration page; a change of their substance raises [`NOTICE_VERSION`], so each
//! account's stored version tells which text it agreed to.

/// The version of the privacy notice in force.
pub const NOTICE_VERSION: &str = "2026-1";

/// The message when the consent box was left unchecked.
pub const CONSENT_REQUIRED_ZH: &str = "请阅读并勾选同意《个人信息处理说明》后再注册";

/// The message when a client agreed to another version of the notice than the one in force.
pub fn outdated_version_zh() -> String {
    format!("《个人信息处理说明》已更新为 {NOTICE_VERSION} 版，请阅读新版本后再确认同意")
}

/// A mobile number with its middle four digits hidden, as lawyers see rosters: `138****0000`.
/// Anything that is not an 11-digit number is hidden but for its last two characters.
pub fn mask_mobile(mobile: &str) -> String {
    let chars: Vec<char> = mobile.chars().collect();
    if chars.len() == 11 && chars.iter().all(char::is_ascii_digit) {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[7..].iter().collect();
        return format!("{head}****{tail}");
    }
    let keep = chars.len().saturating_sub(2);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_masked_in_the_middle() {
        assert_eq!(mask_mobile("13800000000"), "138****0000");
        assert_eq!(mask_mobile("13912345678"), "139****5678");
        assert_eq!(mask_mobile("12345"), "***45");
        assert_eq!(mask_mobile(""), "");
    }
}
