//! The registry of laws the questionnaire may cite (`laws.toml` beside this file) and the parser
//! of an item's `legal_basis` into citations.
//!
//! Every citation of a v2 questionnaire is `《全称》第X条` (optionally `之一`, `第X款`, `第X项`),
//! several separated by `、` or `；`, and every law it names must be in the registry with its
//! current version and effective date. A citation of an unknown law, a malformed article
//! reference or a repealed instrument stops the server at start with the line at fault, so a
//! report can never cite a law nobody checked ("法律依据更新至" on the report is honest).

use super::questionnaire::{line_of, LoadError};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;
use toml::Spanned;

/// The registry shipped with this build.
pub const BUILTIN: &str = include_str!("laws.toml");

/// Where a registered instrument stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LawStatus {
    /// The registered version is the one in force.
    Current,
    /// In force, in the registered version as amended (the amendment is named in `version`).
    Amended,
    /// No longer in force: citing it is refused (see `replaced_by`).
    Repealed,
}

/// One instrument of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Law {
    /// The full name exactly as cited inside 《》.
    pub name: String,
    /// The cited version, e.g. "2023年修订"; empty when never amended.
    pub version: String,
    /// The date the cited version took effect.
    pub effective: NaiveDate,
    pub status: LawStatus,
    /// For a repealed instrument: what replaced it.
    pub replaced_by: Option<String>,
}

/// The validated registry.
#[derive(Debug, Clone, Default)]
pub struct Laws {
    laws: Vec<Law>,
}

impl Laws {
    /// Load and validate the registry's TOML text.
    pub fn parse(text: &str) -> Result<Laws, LoadError> {
        let raw: RawLaws = toml::from_str(text).map_err(|e| LoadError {
            file: FILE,
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        let fail = |offset: usize, message: String| LoadError {
            file: FILE,
            line: Some(line_of(text, offset)),
            message,
        };
        let mut laws = Vec::new();
        let mut names = HashSet::new();
        for raw in raw.laws {
            let at = raw.name.span().start;
            let name = raw.name.into_inner();
            if name.trim().is_empty() || name.trim() != name {
                return Err(fail(at, format!("law name '{name}' is empty or padded")));
            }
            if name.starts_with('《') || name.ends_with('》') {
                return Err(fail(
                    at,
                    format!("law '{name}': write the name without 《》"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(fail(at, format!("law '{name}' is listed twice")));
            }
            let effective =
                NaiveDate::parse_from_str(&raw.effective, "%Y-%m-%d").map_err(|_| {
                    fail(
                        at,
                        format!(
                            "law '{name}': effective '{}' is not a date YYYY-MM-DD",
                            raw.effective
                        ),
                    )
                })?;
            let replaced_by = raw.replaced_by.filter(|r| !r.trim().is_empty());
            match (raw.status, &replaced_by) {
                (LawStatus::Repealed, None) => {
                    return Err(fail(
                        at,
                        format!("law '{name}': a repealed instrument needs replaced_by"),
                    ))
                }
                (LawStatus::Current | LawStatus::Amended, Some(_)) => {
                    return Err(fail(
                        at,
                        format!("law '{name}': replaced_by is only for a repealed instrument"),
                    ))
                }
                _ => {}
            }
            laws.push(Law {
                name,
                version: raw.version,
                effective,
                status: raw.status,
                replaced_by,
            });
        }
        if laws.is_empty() {
            return Err(LoadError {
                file: FILE,
                line: None,
                message: "no laws".into(),
            });
        }
        Ok(Laws { laws })
    }

    /// The registry shipped with this build, parsed once.
    pub fn builtin() -> Result<&'static Laws, LoadError> {
        static LAWS: OnceLock<Result<Laws, LoadError>> = OnceLock::new();
        LAWS.get_or_init(|| Laws::parse(BUILTIN))
            .as_ref()
            .map_err(|e| e.clone())
    }

    /// The instrument registered under exactly `name`.
    pub fn get(&self, name: &str) -> Option<&Law> {
        self.laws.iter().find(|l| l.name == name)
    }

    /// Every registered instrument, in file order.
    pub fn all(&self) -> &[Law] {
        &self.laws
    }

    /// Check `citations` against the registry: each law must be registered and not repealed,
    /// and a version named in a citation's note (`（2023年修订）`) must be the registered one.
    pub fn check(&self, citations: &[Citation]) -> Result<(), CitationError> {
        for c in citations {
            let law = self
                .get(&c.law)
                .ok_or_else(|| CitationError::UnknownLaw(c.law.clone()))?;
            if law.status == LawStatus::Repealed {
                return Err(CitationError::Repealed {
                    law: law.name.clone(),
                    replaced_by: law.replaced_by.clone().unwrap_or_default(),
                });
            }
            if let Some(cited) = c.notes.iter().find_map(|n| cited_version(n)) {
                // "2023年修正" against "2023年修正（刑法修正案（十二））"
                if cited_version(&law.version) != Some(cited) {
                    return Err(CitationError::VersionMismatch {
                        law: law.name.clone(),
                        cited: cited.to_string(),
                        registered: law.version.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

const FILE: &str = "laws.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaws {
    #[serde(default)]
    laws: Vec<RawLaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaw {
    name: Spanned<String>,
    #[serde(default)]
    version: String,
    effective: String,
    status: LawStatus,
    replaced_by: Option<String>,
}

/// A version named in a citation's note, e.g. "2023年修订" in "（2023年修订）" or in
/// "（2021年修正，2021年9月1日起施行）".
fn cited_version(note: &str) -> Option<&str> {
    let end = note
        .find("年修订")
        .or_else(|| note.find("年修正"))
        .map(|i| i + "年修订".len())?;
    let digits = note[..end - "年修订".len()]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i)?;
    Some(&note[digits..end])
}

// ---------- citations ----------

/// One article reference: 第X条[之Y][第Z款][第W项].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleRef {
    pub article: u32,
    /// `之一` → 1.
    pub sub: Option<u32>,
    pub paragraph: Option<u32>,
    /// 项, several when written 第（四）（五）项.
    pub points: Vec<u32>,
}

impl fmt::Display for ArticleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "第{}条", chinese_number(self.article))?;
        if let Some(s) = self.sub {
            write!(f, "之{}", chinese_number(s))?;
        }
        if let Some(p) = self.paragraph {
            write!(f, "第{}款", chinese_number(p))?;
        }
        for p in &self.points {
            write!(f, "第{}项", chinese_number(*p))?;
        }
        Ok(())
    }
}

/// A paragraph or point cited after `、` without repeating its article.
enum Sibling {
    Paragraph(u32),
    Point(u32),
}

/// The articles of one law cited in a `legal_basis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    /// The name inside 《》.
    pub law: String,
    /// Notes in （） after the name or after the articles, e.g. "2023年修订",
    /// "国家发展改革委令第36号", "刑法修正案（十二），2024年3月1日施行".
    pub notes: Vec<String>,
    pub articles: Vec<ArticleRef>,
}

/// Why a `legal_basis` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitationError {
    /// Not `《全称》第X条…`: `at` is the text from the fault on.
    #[error("malformed citation at '{at}': {reason}")]
    Malformed { at: String, reason: &'static str },
    #[error("《{0}》 is not in laws.toml")]
    UnknownLaw(String),
    #[error("《{law}》 is repealed (replaced by {replaced_by})")]
    Repealed { law: String, replaced_by: String },
    #[error("《{law}》 cited as {cited} but laws.toml has version '{registered}'")]
    VersionMismatch {
        law: String,
        cited: String,
        registered: String,
    },
}

/// Parse a `legal_basis` into citations. The grammar is strict on purpose: what a lawyer
/// checks in SOURCES.md must be exactly what the report prints.
pub fn parse_legal_basis(text: &str) -> Result<Vec<Citation>, CitationError> {
    let mut p = Cursor {
        chars: text.trim().chars().collect(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        out.push(p.citation()?);
        p.skip_spaces();
        if p.done() {
            return Ok(out);
        }
        if !(p.eat('、') || p.eat('；')) {
            return Err(p.malformed("expected 、 or ； between citations"));
        }
        p.skip_spaces();
    }
}

struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn done(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn malformed(&self, reason: &'static str) -> CitationError {
        let at: String = self.chars[self.pos.min(self.chars.len())..]
            .iter()
            .take(24)
            .collect();
        CitationError::Malformed {
            at: if at.is_empty() { "(end)".into() } else { at },
            reason,
        }
    }

    /// `《name》[（note）]article(、article)*`; a `、` followed by `《` starts the next
    /// citation and is left for the caller.
    fn citation(&mut self) -> Result<Citation, CitationError> {
        if !self.eat('《') {
            return Err(self.malformed("a citation starts with 《law name》"));
        }
        let start = self.pos;
        // the name may quote another instrument: 《国务院关于实施〈公司法〉…》 or nested 《》
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => return Err(self.malformed("《 without a closing 》")),
                Some('《') => depth += 1,
                Some('》') => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        let law: String = self.chars[start..self.pos - 1].iter().collect();
        if law.trim().is_empty() {
            return Err(self.malformed("empty law name"));
        }
        let mut notes = Vec::new();
        if let Some(note) = self.note()? {
            notes.push(note);
        }
        let mut articles = vec![self.article()?];
        while self.peek() == Some('、') && self.peek_at(1) == Some('第') {
            self.pos += 1;
            let previous = articles.last().cloned();
            match (self.sibling(), previous) {
                // 第二百零一条第一款、第四款: another paragraph of the same article
                (Some(Sibling::Paragraph(p)), Some(prev)) => articles.push(ArticleRef {
                    paragraph: Some(p),
                    points: Vec::new(),
                    ..prev
                }),
                // 第一百零一条第四项、第五项: another point of the same article and paragraph
                (Some(Sibling::Point(p)), Some(prev)) => articles.push(ArticleRef {
                    points: vec![p],
                    ..prev
                }),
                _ => articles.push(self.article()?),
            }
        }
        // a note may also follow the articles: 第一百六十六条第二款（刑法修正案（十二））
        if let Some(note) = self.note()? {
            notes.push(note);
        }
        Ok(Citation {
            law,
            notes,
            articles,
        })
    }

    /// After `、`: `第X款` or `第X项` continuing the previous article (consumed), or `None`
    /// with nothing consumed when something else (a new article `第X条`) follows.
    fn sibling(&mut self) -> Option<Sibling> {
        let save = self.pos;
        self.pos += 1; // 第
        let sibling = match (self.number().ok(), self.peek()) {
            (Some(n), Some('款')) => Some(Sibling::Paragraph(n)),
            (Some(n), Some('项')) => Some(Sibling::Point(n)),
            _ => None,
        };
        match sibling {
            Some(_) => self.pos += 1,
            None => self.pos = save,
        }
        sibling
    }

    /// An optional note in （）, which may itself hold （）.
    fn note(&mut self) -> Result<Option<String>, CitationError> {
        if !self.eat('（') {
            return Ok(None);
        }
        let start = self.pos;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => return Err(self.malformed("（ without a closing ）")),
                Some('（') => depth += 1,
                Some('）') => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        let note: String = self.chars[start..self.pos - 1].iter().collect();
        Ok(Some(note))
    }

    /// `第X条[之Y][第Z款][第W项|第（W）项…]`.
    fn article(&mut self) -> Result<ArticleRef, CitationError> {
        if !self.eat('第') {
            return Err(self.malformed("expected 第X条 after the law name"));
        }
        let article = self.number()?;
        if !self.eat('条') {
            return Err(self.malformed("expected 条 (cite articles, not chapters or sections)"));
        }
        let sub = if self.eat('之') {
            Some(self.number()?)
        } else {
            None
        };
        let mut paragraph = None;
        let mut points = Vec::new();
        if self.peek() == Some('第') {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('（' | '(')) {
                self.pos = save;
            } else {
                let n = self.number()?;
                match self.peek() {
                    Some('款') => {
                        self.pos += 1;
                        paragraph = Some(n);
                    }
                    Some('项') => {
                        self.pos += 1;
                        points.push(n);
                    }
                    _ => return Err(self.malformed("expected 款 or 项")),
                }
            }
        }
        if points.is_empty() && self.peek() == Some('第') {
            self.pos += 1;
            if matches!(self.peek(), Some('（' | '(')) {
                while let Some(open) = self.peek().filter(|c| matches!(*c, '（' | '(')) {
                    self.pos += 1;
                    points.push(self.number()?);
                    let close = if open == '（' { '）' } else { ')' };
                    if !self.eat(close) {
                        return Err(self.malformed("unclosed （ in 第（X）项"));
                    }
                }
            } else {
                points.push(self.number()?);
            }
            if !self.eat('项') {
                return Err(self.malformed("expected 项"));
            }
        }
        Ok(ArticleRef {
            article,
            sub,
            paragraph,
            points,
        })
    }

    /// A number in canonical Chinese numerals (二百零五, 十五, 一千二百六十).
    fn number(&mut self) -> Result<u32, CitationError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| digit_value(c).is_some() || matches!(c, '十' | '百' | '千' | '零'))
        {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        if word.is_empty() {
            self.pos = start;
            return Err(self.malformed("expected a number in Chinese numerals"));
        }
        match parse_chinese_number(&word) {
            Some(n) => Ok(n),
            None => {
                self.pos = start;
                Err(self.malformed("not a well-formed Chinese numeral"))
            }
        }
    }
}

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

fn digit_value(c: char) -> Option<u32> {
    DIGITS
        .iter()
        .position(|d| *d == c)
        .filter(|&v| v > 0)
        .map(|v| v as u32)
}

/// `n` (1..=9999) written as statutes number articles: 十, 十五, 一百一十, 二百零五, 一千零一.
pub fn chinese_number(n: u32) -> String {
    let (th, h, t, o) = (n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10);
    let d = |v: u32| DIGITS[v as usize];
    let mut s = String::new();
    if th > 0 {
        s.push(d(th));
        s.push('千');
    }
    if h > 0 {
        s.push(d(h));
        s.push('百');
    } else if th > 0 && (t > 0 || o > 0) {
        s.push('零');
    }
    if t > 0 {
        if t > 1 || th > 0 || h > 0 {
            s.push(d(t));
        }
        s.push('十');
    } else if h > 0 && o > 0 {
        s.push('零');
    }
    if o > 0 || n == 0 {
        s.push(d(o));
    }
    s
}

/// The value of a canonical Chinese numeral; `None` for anything written otherwise (二零五,
/// 一十五, 两百), so a typo cannot pass as another article.
pub fn parse_chinese_number(word: &str) -> Option<u32> {
    let mut total = 0u32;
    let mut current = 0u32;
    for c in word.chars() {
        let unit = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            '零' => continue,
            _ => {
                current = digit_value(c)?;
                continue;
            }
        };
        total += current.max(1) * unit;
        current = 0;
    }
    total += current;
    (total > 0 && total < 10_000 && chinese_number(total) == word).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"
[[laws]]
name = "中华人民共和国公司法"
version = "2023年修订"
effective = "2024-07-01"
status = "current"

[[laws]]
name = "中华人民共和国刑法"
version = "2023年修正"
effective = "2024-03-01"
status = "amended"

[[laws]]
name = "失信行为纠正后的信用信息修复管理办法（试行）"
effective = "2023-03-01"
status = "repealed"
replaced_by = "信用修复管理办法"

[[laws]]
name = "国务院关于实施《中华人民共和国公司法》注册资本登记管理制度的规定"
effective = "2024-07-01"
status = "current"
"#;

    fn laws() -> Laws {
        Laws::parse(FIXTURE).expect("fixture")
    }

    #[test]
    fn numerals_round_trip() {
        for (n, s) in [
            (1, "一"),
            (10, "十"),
            (15, "十五"),
            (20, "二十"),
            (100, "一百"),
            (101, "一百零一"),
            (110, "一百一十"),
            (205, "二百零五"),
            (266, "二百六十六"),
            (1001, "一千零一"),
            (1010, "一千零一十"),
            (1260, "一千二百六十"),
        ] {
            assert_eq!(chinese_number(n), s);
            assert_eq!(parse_chinese_number(s), Some(n), "{s}");
        }
        for n in 1..2000 {
            assert_eq!(parse_chinese_number(&chinese_number(n)), Some(n));
        }
        for bad in ["二零五", "一十五", "十十", "零", "百", "二百五"] {
            assert_eq!(parse_chinese_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn legal_basis_parses_into_citations() {
        let c = parse_legal_basis(
            "《中华人民共和国公司法》（2023年修订）第五十九条第三款、第二百零五条之一；\
             《中华人民共和国刑法》第二百零一条第四款、《中华人民共和国安全生产法》第一百零一条第（四）（五）项、第九十七条第七项",
        )
        .expect("valid");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].law, "中华人民共和国公司法");
        assert_eq!(c[0].notes, vec!["2023年修订".to_string()]);
        assert_eq!(
            c[0].articles,
            vec![
                ArticleRef {
                    article: 59,
                    sub: None,
                    paragraph: Some(3),
                    points: vec![]
                },
                ArticleRef {
                    article: 205,
                    sub: Some(1),
                    paragraph: None,
                    points: vec![]
                }
            ]
        );
        assert_eq!(c[1].articles[0].paragraph, Some(4));
        assert_eq!(c[2].articles[0].points, vec![4, 5]);
        assert_eq!(c[2].articles[1].points, vec![7]);
        assert_eq!(c[2].articles[1].to_string(), "第九十七条第七项");
        // paragraphs and points of the same article after 、
        let siblings = parse_legal_basis(
            "《中华人民共和国刑法》第二百零一条第一款、第四款、第二百零五条；\
             《中华人民共和国安全生产法》第一百零一条第四项、第五项",
        )
        .expect("siblings");
        let refs: Vec<String> = siblings
            .iter()
            .flat_map(|c| c.articles.iter().map(|a| a.to_string()))
            .collect();
        assert_eq!(
            refs,
            [
                "第二百零一条第一款",
                "第二百零一条第四款",
                "第二百零五条",
                "第一百零一条第四项",
                "第一百零一条第五项"
            ]
        );
        assert!(parse_legal_basis("《中华人民共和国刑法》第二百零一条、第四章").is_err());
        // a name quoting another instrument
        let nested = parse_legal_basis(
            "《国务院关于实施《中华人民共和国公司法》注册资本登记管理制度的规定》第二条、第六条",
        )
        .expect("nested");
        assert_eq!(
            nested[0].law,
            "国务院关于实施《中华人民共和国公司法》注册资本登记管理制度的规定"
        );
        assert_eq!(nested[0].articles.len(), 2);
        assert!(laws().check(&nested).is_ok());
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "中华人民共和国公司法第十五条",                     // no 《》
            "《中华人民共和国公司法》",                         // no article
            "《中华人民共和国民营经济促进法》第五章“规范经营”", // a chapter
            "《中华人民共和国公司法》第15条",                   // Arabic numerals
            "《中华人民共和国公司法》第二零五条",               // not a numeral
            "《中华人民共和国公司法》第十五条等",               // trailing text
            "《中华人民共和国公司法》第十五条第二",             // 款 or 项 missing
            "《中华人民共和国公司法第十五条",                   // unclosed
            "《中华人民共和国公司法》第十五条，第十六条",       // wrong separator
        ] {
            let e = parse_legal_basis(bad).expect_err(bad);
            assert!(matches!(e, CitationError::Malformed { .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn unknown_laws_are_refused() {
        let c = parse_legal_basis("《中华人民共和国公司法》第十五条；《公司法》第十六条")
            .expect("well-formed");
        assert_eq!(
            laws().check(&c),
            Err(CitationError::UnknownLaw("公司法".into()))
        );
    }

    #[test]
    fn repealed_instruments_are_refused() {
        let c = parse_legal_basis(
            "《失信行为纠正后的信用信息修复管理办法（试行）》（国家发展改革委令第58号）第三条",
        )
        .expect("well-formed");
        let e = laws().check(&c).expect_err("repealed");
        assert_eq!(
            e,
            CitationError::Repealed {
                law: "失信行为纠正后的信用信息修复管理办法（试行）".into(),
                replaced_by: "信用修复管理办法".into()
            }
        );
        assert!(e.to_string().contains("信用修复管理办法"));
    }

    #[test]
    fn a_cited_version_must_be_the_registered_one() {
        let ok = parse_legal_basis("《中华人民共和国公司法》（2023年修订）第十五条").expect("ok");
        assert!(laws().check(&ok).is_ok());
        let old = parse_legal_basis("《中华人民共和国公司法》（2018年修正）第十五条").expect("ok");
        assert!(matches!(
            laws().check(&old),
            Err(CitationError::VersionMismatch { .. })
        ));
        // a note that names no version is not a version; notes may nest and trail
        let amendment = parse_legal_basis(
            "《中华人民共和国刑法》第一百六十六条第二款（刑法修正案（十二），2024年3月1日施行）",
        )
        .expect("trailing note");
        assert_eq!(
            amendment[0].notes,
            vec!["刑法修正案（十二），2024年3月1日施行".to_string()]
        );
        assert!(laws().check(&amendment).is_ok());
    }

    #[test]
    fn the_registry_is_validated_with_lines() {
        let dup = format!("{FIXTURE}\n[[laws]]\nname = \"中华人民共和国公司法\"\neffective = \"2024-07-01\"\nstatus = \"current\"\n");
        let e = Laws::parse(&dup).expect_err("duplicate");
        assert_eq!(e.line, Some(FIXTURE.lines().count() + 3));
        assert!(e.to_string().starts_with("laws.toml line"));
        let no_successor =
            "[[laws]]\nname = \"某办法\"\neffective = \"2020-01-01\"\nstatus = \"repealed\"\n";
        assert!(Laws::parse(no_successor)
            .expect_err("needs replaced_by")
            .message
            .contains("replaced_by"));
        let bad_date =
            "[[laws]]\nname = \"某办法\"\neffective = \"2020-13-01\"\nstatus = \"current\"\n";
        assert_eq!(Laws::parse(bad_date).expect_err("date").line, Some(2));
        let bad_status =
            "[[laws]]\nname = \"某办法\"\neffective = \"2020-01-01\"\nstatus = \"old\"\n";
        assert!(Laws::parse(bad_status).is_err());
        let brackets =
            "[[laws]]\nname = \"《某办法》\"\neffective = \"2020-01-01\"\nstatus = \"current\"\n";
        assert!(Laws::parse(brackets).is_err());
    }
}
