//! De-identification of a question thread before it becomes a public Q&A entry.
//!
//! An entry is read by everyone, so the enterprise must not be recognisable in it: its name
//! (in full and in the short forms people write, "示例制造" for "福州示例制造有限公司"), its
//! credit code, its contact's name and mobile, and any other credit code, mobile, ID-card
//! number or e-mail address that slipped into the text. [`redact`] drafts the public text;
//! [`findings`] re-checks a text an organizer edited, so that publishing it can be refused
//! when something identifying is still there. Both are pure: the caller loads the identity.

/// What identifies the enterprise that asked.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub enterprise_name: String,
    pub uscc: String,
    pub contact_name: String,
    pub mobile: String,
}

/// A kind of identifying detail found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Found {
    /// The enterprise's name or a short form of it.
    EnterpriseName,
    /// An 18-character 统一社会信用代码 (the enterprise's or any other).
    CreditCode,
    /// A mainland mobile number.
    Mobile,
    /// An e-mail address.
    Email,
    /// A resident ID-card number.
    IdCard,
    /// The enterprise's contact person.
    ContactName,
}

impl Found {
    /// How the refusal names it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Found::EnterpriseName => "企业名称",
            Found::CreditCode => "统一社会信用代码",
            Found::Mobile => "手机号码",
            Found::Email => "电子邮箱",
            Found::IdCard => "身份证号码",
            Found::ContactName => "联系人姓名",
        }
    }
}

/// Replaces a number, code or address.
pub const MASK: &str = "***";
/// Replaces the enterprise's full name when it is a company.
pub const SOME_COMPANY: &str = "某公司";
/// Replaces the enterprise's name otherwise, and its short forms.
pub const SOME_ENTERPRISE: &str = "某企业";

/// Legal-form suffixes, longest first: what is left is the name people say.
const LEGAL_FORMS: [&str; 12] = [
    "股份有限公司",
    "有限责任公司",
    "个人独资企业",
    "合伙企业",
    "有限公司",
    "集团公司",
    "分公司",
    "公司",
    "集团",
    "工作室",
    "商行",
    "厂",
];

/// Line-of-business words at the end of a trade name ("示例制造" → "示例").
const BUSINESS_WORDS: [&str; 24] = [
    "科技", "技术", "信息", "网络", "电子", "制造", "贸易", "商贸", "实业", "建筑", "建设", "工程",
    "装饰", "物流", "餐饮", "食品", "服装", "机械", "电器", "医药", "文化", "传媒", "咨询", "服务",
];

/// The names of the enterprise to look for, longest first, each with its replacement.
fn name_forms(identity: &Identity) -> Vec<(String, &'static str)> {
    let full = identity.enterprise_name.trim().to_string();
    let mut forms: Vec<(String, &'static str)> = Vec::new();
    if full.chars().count() < 2 {
        return forms;
    }
    let full_replacement = if full.ends_with("公司") {
        SOME_COMPANY
    } else {
        SOME_ENTERPRISE
    };
    forms.push((full.clone(), full_replacement));
    let mut core = full.as_str();
    for form in LEGAL_FORMS {
        if let Some(rest) = core.strip_suffix(form) {
            core = rest;
            break;
        }
    }
    let mut cores = vec![core.to_string()];
    // a place at the start: "福州市示例" → "示例"; "福州示例" → "示例" (a two-character city)
    for marker in ['省', '市', '区', '县'] {
        if let Some(pos) = core.find(marker) {
            let after = &core[pos + marker.len_utf8()..];
            if core[..pos].chars().count() <= 4 {
                cores.push(after.to_string());
            }
        }
    }
    let without_city: String = core.chars().skip(2).collect();
    if core.chars().count() >= 6 {
        cores.push(without_city);
    }
    let mut short = Vec::new();
    for c in &cores {
        short.push(c.clone());
        for word in BUSINESS_WORDS {
            if let Some(rest) = c.strip_suffix(word) {
                short.push(rest.to_string());
                // a two-character trade name with its business word: "海峡制造" of
                // "福州示例海峡制造"
                let trade: String = rest
                    .chars()
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                short.push(format!("{trade}{word}"));
            }
        }
    }
    for s in short {
        let s = s.trim_matches(|c: char| c == '（' || c == '）' || c == '(' || c == ')');
        // one character would hit ordinary words
        if s.chars().count() >= 2 && !forms.iter().any(|(f, _)| f == s) {
            forms.push((s.to_string(), SOME_ENTERPRISE));
        }
    }
    forms.sort_by_key(|(f, _)| std::cmp::Reverse(f.chars().count()));
    forms
}

/// A span of `text` (byte range) holding a detail, and what it is.
type Span = (usize, usize, Found);

fn is_code_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || c.is_ascii_lowercase()
}

/// Runs of ASCII letters and digits of exactly 18 characters: ID-card numbers (17 digits and
/// a digit or X) and credit codes (digits and upper-case letters, at least one letter).
fn code_spans(text: &str, out: &mut Vec<Span>) {
    let mut start: Option<usize> = None;
    let flush = |s: usize, e: usize, out: &mut Vec<Span>| {
        let run = &text[s..e];
        if run.len() != 18 {
            return;
        }
        let upper = run.to_ascii_uppercase();
        let (head, last) = upper.split_at(17);
        if head.bytes().all(|b| b.is_ascii_digit())
            && (last == "X" || last.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push((s, e, Found::IdCard));
        } else if upper.bytes().any(|b| b.is_ascii_digit()) {
            out.push((s, e, Found::CreditCode));
        }
    };
    for (i, c) in text.char_indices() {
        if is_code_char(c) {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            flush(s, i, out);
        }
    }
    if let Some(s) = start {
        flush(s, text.len(), out);
    }
}

/// Mainland mobiles: 11 digits starting 13–19, digits possibly grouped by spaces or hyphens
/// ("138 0013 8000", "138-0013-8000"), not part of a longer number.
fn mobile_spans(text: &str, out: &mut Vec<Span>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let after_digit = i > 0 && chars[i - 1].1.is_ascii_digit();
        if !c.is_ascii_digit() || after_digit {
            i += 1;
            continue;
        }
        // collect digits, allowing single separators between them
        let mut digits = String::new();
        let mut j = i;
        let mut end = start;
        while j < chars.len() {
            let (pos, ch) = chars[j];
            if ch.is_ascii_digit() {
                digits.push(ch);
                end = pos + 1;
                j += 1;
            } else if (ch == ' ' || ch == '-')
                && j + 1 < chars.len()
                && chars[j + 1].1.is_ascii_digit()
                && !digits.is_empty()
            {
                j += 1;
            } else {
                break;
            }
        }
        let bytes = digits.as_bytes();
        if digits.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]) {
            out.push((start, end, Found::Mobile));
        }
        i = j.max(i + 1);
    }
}

/// E-mail addresses: `local@domain.tld` in ASCII.
fn email_spans(text: &str, out: &mut Vec<Span>) {
    let local_ok = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain_ok = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| local_ok(*c))
            .last()
            .map(|(i, _)| i);
        let Some(start) = start else { continue };
        let domain_len: usize = text[at + 1..]
            .chars()
            .take_while(|c| domain_ok(*c))
            .map(char::len_utf8)
            .sum();
        let domain = text[at + 1..at + 1 + domain_len].trim_end_matches('.');
        if domain.contains('.') && !domain.starts_with('.') {
            out.push((start, at + 1 + domain.len(), Found::Email));
        }
    }
}

fn literal_spans(text: &str, needle: &str, found: Found, out: &mut Vec<Span>) {
    if needle.is_empty() {
        return;
    }
    for (i, m) in text.match_indices(needle) {
        out.push((i, i + m.len(), found));
    }
}

/// Every identifying span of `text`, with the replacement of each, without overlaps (the
/// earliest, then the longest wins).
fn spans(text: &str, identity: &Identity) -> Vec<(usize, usize, Found, &'static str)> {
    let mut all: Vec<(usize, usize, Found, &'static str)> = Vec::new();
    let mut masked: Vec<Span> = Vec::new();
    code_spans(text, &mut masked);
    mobile_spans(text, &mut masked);
    email_spans(text, &mut masked);
    let uscc = identity.uscc.trim();
    if uscc.chars().count() >= 6 {
        literal_spans(text, uscc, Found::CreditCode, &mut masked);
        literal_spans(
            text,
            &uscc.to_ascii_lowercase(),
            Found::CreditCode,
            &mut masked,
        );
    }
    let mobile = identity.mobile.trim();
    if mobile.chars().count() >= 7 {
        literal_spans(text, mobile, Found::Mobile, &mut masked);
    }
    let contact = identity.contact_name.trim();
    if contact.chars().count() >= 2 {
        literal_spans(text, contact, Found::ContactName, &mut masked);
    }
    all.extend(masked.into_iter().map(|(s, e, f)| (s, e, f, MASK)));
    for (form, replacement) in name_forms(identity) {
        for (i, m) in text.match_indices(form.as_str()) {
            all.push((i, i + m.len(), Found::EnterpriseName, replacement));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut kept: Vec<(usize, usize, Found, &'static str)> = Vec::new();
    for s in all {
        if kept.last().is_none_or(|k| s.0 >= k.1) {
            kept.push(s);
        }
    }
    kept
}

/// `text` with every identifying detail replaced: the enterprise's name by 某公司/某企业,
/// numbers, codes, addresses and the contact's name by `***`.
pub fn redact(text: &str, identity: &Identity) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, _, replacement) in spans(text, identity) {
        out.push_str(&text[at..s]);
        out.push_str(replacement);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

/// The kinds of identifying details still in `text`, each once, in a fixed order.
pub fn findings(text: &str, identity: &Identity) -> Vec<Found> {
    let mut kinds: Vec<Found> = spans(text, identity).into_iter().map(|s| s.2).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Identity {
        Identity {
            enterprise_name: "福州示例制造有限公司".into(),
            uscc: "91350100MA2XXXXX7K".into(),
            contact_name: "张三丰".into(),
            mobile: "13912345678".into(),
        }
    }

    #[test]
    fn removes_name_code_mobile_email_and_contact() {
        let text = "我是福州示例制造有限公司的张三丰，信用代码91350100MA2XXXXX7K，\
                    电话13912345678，邮箱zs@example.com。示例制造去年招了10名员工。";
        let out = redact(text, &acme());
        for gone in [
            "福州示例制造",
            "示例制造",
            "张三丰",
            "91350100MA2XXXXX7K",
            "13912345678",
            "zs@example.com",
        ] {
            assert!(!out.contains(gone), "{gone} left in {out}");
        }
        assert!(out.contains("某公司的***"), "{out}");
        assert!(out.contains("某企业去年招了10名员工"), "{out}");
        assert!(findings(&out, &acme()).is_empty(), "{out}");
    }

    #[test]
    fn short_forms_without_city_and_business_word() {
        let forms: Vec<String> = name_forms(&acme()).into_iter().map(|f| f.0).collect();
        assert!(forms.contains(&"福州示例制造".to_string()), "{forms:?}");
        assert!(forms.contains(&"示例制造".to_string()), "{forms:?}");
        let id = Identity {
            enterprise_name: "厦门市海滨贸易有限责任公司".into(),
            ..Identity::default()
        };
        assert_eq!(redact("海滨贸易与海滨公司", &id), "某企业与某企业公司");
        assert_eq!(redact("厦门市海滨贸易有限责任公司", &id), "某公司");
        let id = Identity {
            enterprise_name: "福州示例海峡制造有限公司".into(),
            ..Identity::default()
        };
        assert_eq!(redact("海峡制造的车间", &id), "某企业的车间");
    }

    #[test]
    fn any_code_mobile_id_or_email_is_masked() {
        let id = Identity::default();
        assert_eq!(
            redact("对方代码 91110000600037341L 已核实", &id),
            "对方代码 *** 已核实"
        );
        assert_eq!(
            redact("身份证350102199001011234，手机138 0013 8000", &id),
            "身份证***，手机***"
        );
        assert_eq!(
            redact("写信到 a.b-c@mail.example.cn。", &id),
            "写信到 ***。"
        );
        assert_eq!(
            findings("35010219900101123X 与 138-0013-8000", &id),
            vec![Found::Mobile, Found::IdCard]
        );
    }

    #[test]
    fn ordinary_numbers_stay() {
        let id = acme();
        for text in [
            "合同金额 120000 元，违约金 20%",
            "《劳动合同法》第八十二条：二倍工资",
            "2026年12月1日前 12348 热线",
            "订单号 123456789012345678901",
        ] {
            assert_eq!(redact(text, &id), text);
            assert!(findings(text, &id).is_empty(), "{text}");
        }
    }

    #[test]
    fn findings_name_what_is_left() {
        let f = findings("示例制造的电话是 13912345678", &acme());
        assert_eq!(f, vec![Found::EnterpriseName, Found::Mobile]);
        assert_eq!(Found::CreditCode.label_zh(), "统一社会信用代码");
    }
}
