//! Industry sections (门类) of GB/T 4754-2017 《国民经济行业分类》.

/// GB/T 4754-2017 sections A–T, in code order.
pub const SECTIONS: [(char, &str); 20] = [
    ('A', "农、林、牧、渔业"),
    ('B', "采矿业"),
    ('C', "制造业"),
    ('D', "电力、热力、燃气及水生产和供应业"),
    ('E', "建筑业"),
    ('F', "批发和零售业"),
    ('G', "交通运输、仓储和邮政业"),
    ('H', "住宿和餐饮业"),
    ('I', "信息传输、软件和信息技术服务业"),
    ('J', "金融业"),
    ('K', "房地产业"),
    ('L', "租赁和商务服务业"),
    ('M', "科学研究和技术服务业"),
    ('N', "水利、环境和公共设施管理业"),
    ('O', "居民服务、修理和其他服务业"),
    ('P', "教育"),
    ('Q', "卫生和社会工作"),
    ('R', "文化、体育和娱乐业"),
    ('S', "公共管理、社会保障和社会组织"),
    ('T', "国际组织"),
];

/// Chinese name of the section with the given code.
///
/// `code` must be an upper-case ASCII letter `A`–`T`; use [`parse_section`]
/// to normalise user input first.
pub fn section_name(code: char) -> Option<&'static str> {
    SECTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

/// The name of the section a stored industry code starts with (`"C"` → 制造业), if any.
pub fn name_of(code: &str) -> Option<&'static str> {
    code.chars().next().and_then(section_name)
}

/// A stored industry code with its section's name, as pages and exports show it: `"C"` →
/// `"C 制造业"`; an unknown code stays as it is.
pub fn label(code: &str) -> String {
    match name_of(code) {
        Some(name) => format!("{code} {name}"),
        None => code.to_string(),
    }
}

/// Parses a section code from user input.
///
/// Surrounding whitespace (including the ideographic space U+3000) is
/// trimmed; exactly one letter must remain, ASCII or full-width, either case.
/// Accepts `" e "`, `"E"`, `"Ｅ"` → `'E'`; anything else → `None`.
pub fn parse_section(input: &str) -> Option<char> {
    let mut chars = input.trim().chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    let c = match c {
        '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => char::from_u32(u32::from(c) - 0xFEE0)?,
        _ => c,
    }
    .to_ascii_uppercase();
    section_name(c).map(|_| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_a_to_t_in_order() {
        let codes: String = SECTIONS.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, "ABCDEFGHIJKLMNOPQRST");
    }

    #[test]
    fn names_match_domain() {
        assert_eq!(section_name('A'), Some("农、林、牧、渔业"));
        assert_eq!(section_name('D'), Some("电力、热力、燃气及水生产和供应业"));
        assert_eq!(section_name('E'), Some("建筑业"));
        assert_eq!(section_name('I'), Some("信息传输、软件和信息技术服务业"));
        assert_eq!(section_name('O'), Some("居民服务、修理和其他服务业"));
        assert_eq!(section_name('S'), Some("公共管理、社会保障和社会组织"));
        assert_eq!(section_name('T'), Some("国际组织"));
    }

    #[test]
    fn unknown_codes_have_no_name() {
        assert_eq!(section_name('U'), None);
        assert_eq!(section_name('e'), None);
        assert_eq!(section_name('1'), None);
        assert_eq!(section_name('建'), None);
    }

    #[test]
    fn parse_accepts_variants() {
        assert_eq!(parse_section(" e "), Some('E'));
        assert_eq!(parse_section("E"), Some('E'));
        assert_eq!(parse_section("Ｅ"), Some('E'));
        assert_eq!(parse_section("ｅ"), Some('E'));
        assert_eq!(parse_section("\u{3000}a\t"), Some('A'));
        assert_eq!(parse_section("t"), Some('T'));
    }

    #[test]
    fn parse_rejects_everything_else() {
        for s in [
            "",
            " ",
            "U",
            "Z",
            "ＵＶ",
            "EE",
            "E1",
            "1",
            "建筑业",
            "é",
            "Ｕ",
            "-E",
        ] {
            assert_eq!(parse_section(s), None, "{s:?}");
        }
    }

    #[test]
    fn every_section_parses_and_names() {
        for (c, name) in SECTIONS {
            assert_eq!(parse_section(&c.to_string()), Some(c));
            assert_eq!(parse_section(&c.to_ascii_lowercase().to_string()), Some(c));
            assert_eq!(section_name(c), Some(name));
        }
    }
}
