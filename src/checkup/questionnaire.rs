//! The questionnaire of the legal health check: a versioned TOML file in the repository
//! (`questionnaire.toml` beside this file), loaded and validated at start. A broken file stops
//! the server with the line at fault.
//!
//! Two formats are read. Version 1 (`scoring` absent, e.g. v2026.1, kept in the database for
//! old reports) is scored by the original rules. Version 2 (`scoring = 2`) adds what the
//! scoring v2 rules need: each option's `kind` (compliant/partial/gap/na/unsure) and optional
//! `severity`, an item's `ruinous` flag and `verify` step for 不清楚, the date of the legal
//! basis (`law_date`), and citations that must parse as `《全称》第X条` and name a law of the
//! registry (`laws.toml`, see [`super::laws`]). Everything new is optional in the parser, so
//! the stored v1 texts still parse, and a v1 option's kind is inferred.

use super::laws::{parse_legal_basis, Citation, Laws};
use crate::validation::excerpt;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use toml::Spanned;

/// The questionnaire shipped with this build.
pub const BUILTIN: &str = include_str!("questionnaire.toml");

/// Exposure if a risk materialises; severity rises from loss (the company is the victim) to
/// civil to administrative to criminal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 经营损失风险: the company is exposed to loss (an employee's embezzlement, a supplier's
    /// bad invoice), not liable itself. v2 only.
    Loss,
    Civil,
    Administrative,
    Criminal,
}

impl Severity {
    pub fn label_zh(self) -> &'static str {
        match self {
            Severity::Loss => "经营损失风险",
            Severity::Civil => "民事责任",
            Severity::Administrative => "行政责任",
            Severity::Criminal => "刑事责任",
        }
    }
}

/// What an answer says about the company, which the v2 rules grade: a `partial` answer is a
/// lesser finding than a `gap`, `na` is left out of the score, `unsure` asks for a lawyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OptionKind {
    Compliant,
    Partial,
    Gap,
    /// 不适用.
    Na,
    /// 不清楚: graded 需律师核实 with the item's `verify` step.
    Unsure,
}

impl OptionKind {
    /// The kind of a v1 option, which has none: by its id (`na`, `unsure`), else by its risk
    /// (0 compliant, 1 gap, in between partial).
    pub fn infer(id: &str, risk: f64) -> OptionKind {
        match id {
            "na" => OptionKind::Na,
            "unsure" => OptionKind::Unsure,
            _ if risk <= 0.0 => OptionKind::Compliant,
            _ if risk >= 1.0 => OptionKind::Gap,
            _ => OptionKind::Partial,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dimension {
    pub id: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnswerOption {
    pub id: String,
    pub text: String,
    /// 0 = compliant … 1 = highest risk.
    pub risk: f64,
    /// Given in v2, inferred in v1 (see [`OptionKind::infer`]).
    pub kind: OptionKind,
    /// Overrides the item's severity for this answer (v2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Overrides the item's `finding` for this answer (v2): a partial answer to an item whose
    /// finding reads as an admission ("存在……行为") is described as what it is ("未建立……制度").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

/// Which enterprises an item applies to.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AppliesTo {
    /// GB/T 4754 section letters; absent = every industry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industries: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    pub id: String,
    pub dimension: String,
    pub text: String,
    pub help: String,
    pub options: Vec<AnswerOption>,
    pub weight: u32,
    pub severity: Severity,
    pub red_line: bool,
    /// A civil exposure that can ruin the owner (personal unlimited liability, a failing
    /// guarantee chain): its gap is graded 高 in v2.
    pub ruinous: bool,
    /// The concrete next step shown for 不清楚 (需律师核实); required in v2 when the item has
    /// an `unsure` option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
    pub applies_to: AppliesTo,
    pub legal_basis: String,
    pub finding: String,
    pub consequence: String,
    pub recommendation: String,
    /// Lecture categories that address this item.
    pub categories: Vec<String>,
    /// `legal_basis` parsed (v2; v1 best effort, empty when it does not parse).
    #[serde(skip)]
    pub citations: Vec<Citation>,
}

impl Item {
    /// Whether the item is asked of an enterprise in industry section `industry`.
    pub fn applies_to(&self, industry: &str) -> bool {
        match &self.applies_to.industries {
            None => true,
            Some(list) => list.iter().any(|i| i == industry),
        }
    }

    pub fn option(&self, id: &str) -> Option<&AnswerOption> {
        self.options.iter().find(|o| o.id == id)
    }

    /// The highest risk any option carries.
    pub fn max_risk(&self) -> f64 {
        self.options.iter().map(|o| o.risk).fold(0.0, f64::max)
    }

    /// The exposure of answering `option`: its own severity, else the item's.
    pub fn severity_of(&self, option: &AnswerOption) -> Severity {
        option.severity.unwrap_or(self.severity)
    }
}

/// A validated questionnaire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Questionnaire {
    pub version: String,
    pub title: String,
    /// The rules reports of this version are scored by: 1 (v2026.1) or 2.
    pub scoring: u32,
    /// 法律依据更新至: the date the legal basis was last checked (v2, `YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub law_date: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub items: Vec<Item>,
}

impl Questionnaire {
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn dimension(&self, id: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.id == id)
    }

    /// Items an enterprise of `industry` is asked, in file order.
    pub fn applicable<'a>(&'a self, industry: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |i| i.applies_to(industry))
    }

    /// Dimensions that have at least one item for `industry`.
    pub fn dimensions_for(&self, industry: &str) -> Vec<&Dimension> {
        self.dimensions
            .iter()
            .filter(|d| self.applicable(industry).any(|i| i.dimension == d.id))
            .collect()
    }

    /// Parse and validate the TOML text without the law registry: for a stored version, which
    /// must keep parsing (and its reports keep opening) after a law it cites is repealed.
    pub fn parse(text: &str) -> Result<Questionnaire, LoadError> {
        Self::parse_with(text, None)
    }

    /// Parse and validate the questionnaire new check-ups answer: a v2 file must also cite
    /// only laws of the registry shipped with this build, none repealed.
    pub fn load(text: &str) -> Result<Questionnaire, LoadError> {
        Self::parse_with(text, Some(Laws::builtin()?))
    }

    /// Parse and validate, checking v2 citations against `laws` when given.
    pub fn parse_with(text: &str, laws: Option<&Laws>) -> Result<Questionnaire, LoadError> {
        let raw: RawQuestionnaire = toml::from_str(text).map_err(|e| LoadError {
            file: FILE,
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        raw.validate(text, laws)
    }
}

const FILE: &str = "questionnaire.toml";

/// Why a shipped TOML file (the questionnaire or the law registry) is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct LoadError {
    pub file: &'static str,
    pub line: Option<usize>,
    pub message: String,
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map(|t| t.matches('\n').count() + 1)
        .unwrap_or(1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestionnaire {
    version: Spanned<String>,
    title: String,
    scoring: Option<Spanned<u32>>,
    law_date: Option<Spanned<String>>,
    dimensions: Vec<RawDimension>,
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDimension {
    id: Spanned<String>,
    name: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppliesTo {
    industries: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    id: Spanned<String>,
    text: String,
    risk: f64,
    kind: Option<OptionKind>,
    severity: Option<Severity>,
    finding: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    dimension: String,
    text: String,
    #[serde(default)]
    help: String,
    weight: u32,
    severity: Severity,
    #[serde(default)]
    red_line: bool,
    #[serde(default)]
    ruinous: bool,
    verify: Option<String>,
    applies_to: Option<RawAppliesTo>,
    legal_basis: Spanned<String>,
    finding: String,
    consequence: String,
    recommendation: String,
    categories: Vec<String>,
    options: Vec<RawOption>,
}

impl RawQuestionnaire {
    fn validate(self, text: &str, laws: Option<&Laws>) -> Result<Questionnaire, LoadError> {
        let fail = |offset: usize, message: String| LoadError {
            file: FILE,
            line: Some(line_of(text, offset)),
            message,
        };
        if self.version.get_ref().trim().is_empty() {
            return Err(fail(self.version.span().start, "version is empty".into()));
        }
        let scoring = match &self.scoring {
            None => 1,
            Some(s) if matches!(*s.get_ref(), 1 | 2) => *s.get_ref(),
            Some(s) => return Err(fail(s.span().start, "scoring must be 1 or 2".into())),
        };
        let v2 = scoring >= 2;
        let law_date = match self.law_date {
            Some(d) => {
                if NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d").is_err() {
                    return Err(fail(
                        d.span().start,
                        format!("law_date '{}' is not a date YYYY-MM-DD", d.get_ref()),
                    ));
                }
                Some(d.into_inner())
            }
            None if v2 => {
                return Err(fail(
                    self.version.span().start,
                    "scoring = 2 needs law_date = \"YYYY-MM-DD\" (法律依据更新至)".into(),
                ))
            }
            None => None,
        };
        let mut dimensions = Vec::new();
        let mut seen = HashSet::new();
        for d in self.dimensions {
            let at = d.id.span().start;
            let id = d.id.into_inner();
            if id.is_empty() || !seen.insert(id.clone()) {
                return Err(fail(
                    at,
                    format!("dimension id '{id}' is empty or repeated"),
                ));
            }
            if d.name.trim().is_empty() {
                return Err(fail(at, format!("dimension '{id}' has no name")));
            }
            dimensions.push(Dimension {
                id,
                name: d.name,
                description: d.description,
            });
        }
        if dimensions.is_empty() {
            return Err(LoadError {
                file: FILE,
                line: None,
                message: "no dimensions".into(),
            });
        }
        let names: HashSet<&str> = dimensions.iter().map(|d| d.name.as_str()).collect();
        let mut items = Vec::new();
        let mut item_ids = HashSet::new();
        for raw in self.items {
            let at = raw.id.span().start;
            let id = raw.id.into_inner();
            if id.is_empty() || !item_ids.insert(id.clone()) {
                return Err(fail(at, format!("item id '{id}' is empty or repeated")));
            }
            if !dimensions.iter().any(|d| d.id == raw.dimension) {
                return Err(fail(
                    at,
                    format!("item '{id}': unknown dimension '{}'", raw.dimension),
                ));
            }
            if !(1..=5).contains(&raw.weight) {
                return Err(fail(at, format!("item '{id}': weight must be 1..5")));
            }
            for (field, value) in [
                ("text", &raw.text),
                ("legal_basis", raw.legal_basis.get_ref()),
                ("finding", &raw.finding),
                ("consequence", &raw.consequence),
                ("recommendation", &raw.recommendation),
            ] {
                if value.trim().is_empty() {
                    return Err(fail(at, format!("item '{id}': {field} is empty")));
                }
            }
            if raw.categories.is_empty() {
                return Err(fail(at, format!("item '{id}': no lecture categories")));
            }
            if let Some(bad) = raw.categories.iter().find(|c| !names.contains(c.as_str())) {
                return Err(fail(
                    at,
                    format!("item '{id}': category '{bad}' is not a dimension name"),
                ));
            }
            let industries = raw.applies_to.and_then(|a| a.industries);
            if let Some(list) = &industries {
                if list.is_empty()
                    || list
                        .iter()
                        .any(|s| s.len() != 1 || !s.chars().all(|c| ('A'..='T').contains(&c)))
                {
                    return Err(fail(
                        at,
                        format!("item '{id}': applies_to industries must be letters A–T"),
                    ));
                }
            }
            if !(2..=6).contains(&raw.options.len()) {
                return Err(fail(at, format!("item '{id}': needs 2 to 6 options")));
            }
            let mut options = Vec::new();
            let mut option_ids = HashSet::new();
            for o in raw.options {
                let oat = o.id.span().start;
                let oid = o.id.into_inner();
                if oid.is_empty() || !option_ids.insert(oid.clone()) {
                    return Err(fail(
                        oat,
                        format!("item '{id}': option id '{oid}' is empty or repeated"),
                    ));
                }
                if !(0.0..=1.0).contains(&o.risk) {
                    return Err(fail(
                        oat,
                        format!("item '{id}': option '{oid}' risk must be within 0..1"),
                    ));
                }
                let kind = match o.kind {
                    Some(k) => k,
                    None if v2 => {
                        return Err(fail(
                            oat,
                            format!(
                                "item '{id}': option '{oid}' needs kind = \"compliant\" | \"partial\" | \"gap\" | \"na\" | \"unsure\""
                            ),
                        ))
                    }
                    None => OptionKind::infer(&oid, o.risk),
                };
                let finding = o.finding.filter(|f| !f.trim().is_empty());
                if v2 {
                    check_option_v2(&id, &oid, kind, o.risk, o.severity)
                        .map_err(|m| fail(oat, m))?;
                    if finding.is_some() && matches!(kind, OptionKind::Compliant | OptionKind::Na) {
                        return Err(fail(
                            oat,
                            format!("item '{id}': option '{oid}' is {kind:?} and cannot carry a finding"),
                        ));
                    }
                }
                options.push(AnswerOption {
                    id: oid,
                    text: o.text,
                    risk: o.risk,
                    kind,
                    severity: o.severity,
                    finding,
                });
            }
            if !options.iter().any(|o| o.risk == 0.0) {
                return Err(fail(
                    at,
                    format!("item '{id}': no compliant option (risk 0)"),
                ));
            }
            if !options.iter().any(|o| o.risk > 0.0) {
                return Err(fail(at, format!("item '{id}': no risky option")));
            }
            let basis_at = raw.legal_basis.span().start;
            let legal_basis = raw.legal_basis.into_inner();
            let citations = if v2 {
                check_item_v2(
                    &id,
                    ItemFlags {
                        severity: raw.severity,
                        red_line: raw.red_line,
                        ruinous: raw.ruinous,
                        verify: raw.verify.as_deref(),
                    },
                    &options,
                )
                .map_err(|m| fail(at, m))?;
                let citations = parse_legal_basis(&legal_basis)
                    .map_err(|e| fail(basis_at, format!("item '{id}': legal_basis: {e}")))?;
                if let Some(laws) = laws {
                    laws.check(&citations)
                        .map_err(|e| fail(basis_at, format!("item '{id}': legal_basis: {e}")))?;
                }
                citations
            } else {
                parse_legal_basis(&legal_basis).unwrap_or_default()
            };
            items.push(Item {
                id,
                dimension: raw.dimension,
                text: raw.text,
                help: raw.help,
                options,
                weight: raw.weight,
                severity: raw.severity,
                red_line: raw.red_line,
                ruinous: raw.ruinous,
                verify: raw.verify.filter(|v| !v.trim().is_empty()),
                applies_to: AppliesTo { industries },
                legal_basis,
                finding: raw.finding,
                consequence: raw.consequence,
                recommendation: raw.recommendation,
                categories: raw.categories,
                citations,
            });
        }
        for d in &dimensions {
            if !items.iter().any(|i| i.dimension == d.id) {
                return Err(LoadError {
                    file: FILE,
                    line: None,
                    message: format!("dimension '{}' has no items", d.id),
                });
            }
        }
        Ok(Questionnaire {
            version: self.version.into_inner(),
            title: self.title,
            scoring,
            law_date,
            dimensions,
            items,
        })
    }
}

/// v2 rules for one option: its kind must agree with its risk, and only an answer that is a
/// finding may carry its own severity.
fn check_option_v2(
    item: &str,
    option: &str,
    kind: OptionKind,
    risk: f64,
    severity: Option<Severity>,
) -> Result<(), String> {
    let fits = match kind {
        OptionKind::Compliant | OptionKind::Na => risk == 0.0,
        // a partial answer may score like a gap (risk 1) and still be graded as partial
        OptionKind::Partial | OptionKind::Gap => risk > 0.0,
        OptionKind::Unsure => true,
    };
    if !fits {
        let want = match kind {
            OptionKind::Compliant | OptionKind::Na => "0",
            _ => "above 0",
        };
        return Err(format!(
            "item '{item}': option '{option}' of kind {kind:?} needs risk {want}"
        ));
    }
    if severity.is_some() && matches!(kind, OptionKind::Compliant | OptionKind::Na) {
        return Err(format!(
            "item '{item}': option '{option}' is {kind:?} and cannot carry a severity"
        ));
    }
    Ok(())
}

/// What [`check_item_v2`] needs of a raw item besides its options.
struct ItemFlags<'a> {
    severity: Severity,
    red_line: bool,
    ruinous: bool,
    verify: Option<&'a str>,
}

/// v2 rules for one item: one compliant answer at least and one finding; at most one `na` and
/// one `unsure`; `verify` exactly when there is an `unsure` answer; a red line needs a gap
/// (hitting it is answering the gap); `ruinous` only on a civil exposure.
fn check_item_v2(id: &str, raw: ItemFlags<'_>, options: &[AnswerOption]) -> Result<(), String> {
    let count = |k: OptionKind| options.iter().filter(|o| o.kind == k).count();
    if count(OptionKind::Compliant) == 0 {
        return Err(format!("item '{id}': no option of kind compliant"));
    }
    if count(OptionKind::Partial) + count(OptionKind::Gap) == 0 {
        return Err(format!("item '{id}': no option of kind partial or gap"));
    }
    if count(OptionKind::Na) > 1 || count(OptionKind::Unsure) > 1 {
        return Err(format!("item '{id}': at most one na and one unsure option"));
    }
    let has_verify = raw.verify.is_some_and(|v| !v.trim().is_empty());
    match (count(OptionKind::Unsure) > 0, has_verify) {
        (true, false) => {
            return Err(format!(
            "item '{id}': an unsure option needs verify = \"…\" (the next step shown for 不清楚)"
        ))
        }
        (false, true) => {
            return Err(format!(
                "item '{id}': verify is shown for 不清楚 only: add an unsure option or drop verify"
            ))
        }
        _ => {}
    }
    if raw.red_line && count(OptionKind::Gap) == 0 {
        return Err(format!(
            "item '{id}': a red line needs an option of kind gap (the answer that hits it)"
        ));
    }
    let civil = raw.severity == Severity::Civil
        || options.iter().any(|o| o.severity == Some(Severity::Civil));
    if raw.ruinous && !civil {
        return Err(format!(
            "item '{id}': ruinous applies to a civil exposure only"
        ));
    }
    Ok(())
}

/// Answers: item id → option id.
pub type Answers = BTreeMap<String, String>;

/// What is wrong with a set of answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerProblem {
    UnknownItem(String),
    UnknownOption { item: String, option: String },
    NotApplicable(String),
    Missing(Vec<String>),
}

impl AnswerProblem {
    pub fn field(&self) -> String {
        match self {
            AnswerProblem::UnknownItem(i)
            | AnswerProblem::UnknownOption { item: i, .. }
            | AnswerProblem::NotApplicable(i) => format!("answers.{}", excerpt(i)),
            AnswerProblem::Missing(_) => "answers".into(),
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            // item and option ids come from the client: quoted capped
            AnswerProblem::UnknownItem(i) => format!("问卷中没有题目“{}”", excerpt(i)),
            AnswerProblem::UnknownOption { item, option } => {
                format!("题目“{}”没有选项“{}”", excerpt(item), excerpt(option))
            }
            AnswerProblem::NotApplicable(i) => {
                format!("题目“{}”不适用于贵企业所属行业，请勿作答", excerpt(i))
            }
            AnswerProblem::Missing(ids) => {
                format!("还有{}道题未作答：{}", ids.len(), ids.join("、"))
            }
        }
    }
}

/// Check answers of an enterprise in `industry`. With `complete`, every applicable item must
/// be answered (final submission); a draft may leave items open.
pub fn check_answers(
    q: &Questionnaire,
    industry: &str,
    answers: &Answers,
    complete: bool,
) -> Vec<AnswerProblem> {
    let mut problems = Vec::new();
    for (item_id, option_id) in answers {
        match q.item(item_id) {
            None => problems.push(AnswerProblem::UnknownItem(item_id.clone())),
            Some(item) if !item.applies_to(industry) => {
                problems.push(AnswerProblem::NotApplicable(item_id.clone()))
            }
            Some(item) if item.option(option_id).is_none() => {
                problems.push(AnswerProblem::UnknownOption {
                    item: item_id.clone(),
                    option: option_id.clone(),
                })
            }
            Some(_) => {}
        }
    }
    if complete {
        let missing = unanswered(q, industry, answers);
        if !missing.is_empty() {
            problems.push(AnswerProblem::Missing(missing));
        }
    }
    problems
}

/// Applicable items without an answer, in questionnaire order.
pub fn unanswered(q: &Questionnaire, industry: &str, answers: &Answers) -> Vec<String> {
    q.applicable(industry)
        .filter(|i| !answers.contains_key(&i.id))
        .map(|i| i.id.clone())
        .collect()
}

/// The v2026.1 questionnaire (rules 1), as stored for the reports that answered it.
#[cfg(test)]
pub(crate) const V2026_1: &str = include_str!("questionnaire-2026.1.toml");

/// A small v2 questionnaire with one item per rule of scoring 2, and its law registry.
#[cfg(test)]
pub(crate) const V2_FIXTURE: &str = include_str!("testdata/questionnaire-v2.toml");
#[cfg(test)]
pub(crate) const LAWS_FIXTURE: &str = include_str!("testdata/laws.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_laws() -> Laws {
        Laws::parse(LAWS_FIXTURE).expect("laws fixture")
    }

    fn parse_v2(text: &str) -> Result<Questionnaire, LoadError> {
        Questionnaire::parse_with(text, Some(&fixture_laws()))
    }

    /// The 1-based line of the first line of `text` starting with `prefix`.
    fn line_starting(text: &str, prefix: &str) -> Option<usize> {
        text.lines()
            .position(|l| l.starts_with(prefix))
            .map(|i| i + 1)
    }

    #[test]
    fn builtin_questionnaire_loads_with_the_law_registry() {
        let q = Questionnaire::load(BUILTIN).expect("valid");
        assert!(q.dimensions.len() >= 10);
        assert!(q.items.len() >= 60);
        // construction only for section E
        let construction: Vec<_> = q
            .items
            .iter()
            .filter(|i| i.dimension == "construction")
            .collect();
        assert!(construction
            .iter()
            .all(|i| i.applies_to("E") && !i.applies_to("C")));
        if q.scoring >= 2 {
            assert!(q.law_date.is_some());
            let laws = Laws::builtin().expect("registry");
            for item in &q.items {
                assert!(!item.citations.is_empty(), "{}", item.id);
                assert!(laws.check(&item.citations).is_ok(), "{}", item.id);
            }
        }
    }

    #[test]
    fn the_stored_v2026_1_text_still_parses_with_inferred_kinds() {
        let q = Questionnaire::parse(V2026_1).expect("valid");
        assert_eq!(q.version, "2026.1");
        assert_eq!(q.scoring, 1);
        assert_eq!(q.law_date, None);
        assert_eq!(q.items.iter().filter(|i| i.red_line).count(), 5);
        let kinds = |id: &str| -> Vec<OptionKind> {
            q.item(id)
                .expect("item")
                .options
                .iter()
                .map(|o| o.kind)
                .collect()
        };
        use OptionKind::*;
        // yes (0) / partial (0.5) / no (1) / na (0)
        assert!(q
            .items
            .iter()
            .flat_map(|i| &i.options)
            .all(|o| o.kind == OptionKind::infer(&o.id, o.risk)));
        assert!(q
            .items
            .iter()
            .flat_map(|i| &i.options)
            .any(|o| o.kind == Unsure));
        assert!(kinds("gov-capital-paid-5y").contains(&Compliant));
        assert!(q
            .items
            .iter()
            .flat_map(|i| &i.options)
            .filter(|o| o.id == "na")
            .all(|o| o.kind == Na));
        // v1 citations are not checked (one of them names a chapter), but the 2023 Company Law
        // and 2025 Anti-Unfair Competition Law numbering is there
        let bribery = q.item("integ-bribery").expect("bribery item");
        assert!(bribery.legal_basis.contains("2025") && bribery.legal_basis.contains("第八条"));
        // loading it as the current questionnaire is fine too: rules 1 have no registry
        assert!(Questionnaire::load(V2026_1).is_ok());
    }

    #[test]
    fn v1_kinds_are_inferred_from_id_and_risk() {
        use OptionKind::*;
        assert_eq!(OptionKind::infer("yes", 0.0), Compliant);
        assert_eq!(OptionKind::infer("na", 0.0), Na);
        assert_eq!(OptionKind::infer("unsure", 0.5), Unsure);
        assert_eq!(OptionKind::infer("no", 1.0), Gap);
        assert_eq!(OptionKind::infer("partial", 0.5), Partial);
        assert_eq!(OptionKind::infer("late", 0.25), Partial);
    }

    #[test]
    fn the_v2_fixture_parses_with_its_fields() {
        let q = parse_v2(V2_FIXTURE).expect("valid");
        assert_eq!(q.scoring, 2);
        assert_eq!(q.law_date.as_deref(), Some("2026-11-30"));
        let one = q.item("gov-one-person").expect("item");
        assert!(one.ruinous);
        assert_eq!(one.citations[0].law, "中华人民共和国公司法");
        let invoice = q.item("tax-invoice").expect("item");
        assert!(invoice.verify.is_some());
        let lax = invoice.option("lax").expect("option");
        assert_eq!(lax.kind, OptionKind::Partial);
        assert_eq!(invoice.severity_of(lax), Severity::Criminal);
        assert_eq!(lax.finding.as_deref(), Some("小额进项发票未核对"));
        let late = invoice.option("late").expect("option");
        assert_eq!(invoice.severity_of(late), Severity::Administrative);
        assert_eq!(
            invoice.option("no").and_then(|o| o.finding.as_deref()),
            None
        );
        assert_eq!(
            invoice.severity_of(invoice.option("no").expect("option")),
            Severity::Criminal
        );
        assert_eq!(
            q.item("lab-embezzlement").expect("item").severity,
            Severity::Loss
        );
        assert_eq!(Severity::Loss.label_zh(), "经营损失风险");
        assert!(Severity::Loss < Severity::Civil);
    }

    /// Each v2 rule refuses the file with a message and the line at fault.
    #[test]
    fn v2_validation_names_the_line() {
        let cases: &[(&str, &str, &str, &str)] = &[
            // (replace, with, line starting with, message contains)
            (
                "{ id = \"partial\", text = \"部分\", risk = 0.5, kind = \"partial\" }",
                "{ id = \"partial\", text = \"部分\", risk = 0.5 }",
                "  { id = \"partial\", text = \"部分\"",
                "needs kind",
            ),
            (
                "verify = \"调取近一年开票记录，与合同、出入库单逐笔核对\"\n",
                "",
                "id = \"tax-invoice\"",
                "needs verify",
            ),
            (
                "{ id = \"no\", text = \"否\", risk = 1.0, kind = \"gap\" },\n]\n\n# civil red line",
                "{ id = \"no\", text = \"否\", risk = 1.0, kind = \"compliant\" },\n]\n\n# civil red line",
                "  { id = \"no\", text = \"否\", risk = 1.0, kind = \"compliant\" }",
                "needs risk 0",
            ),
            (
                "legal_basis = \"《中华人民共和国公司法》（2023年修订）第二十三条\"",
                "legal_basis = \"《中华人民共和国公司法》（2023年修订）第23条\"",
                "legal_basis = \"《中华人民共和国公司法》（2023年修订）第23条\"",
                "malformed citation",
            ),
            (
                "legal_basis = \"《中华人民共和国公司法》（2023年修订）第二十三条\"",
                "legal_basis = \"《公司法》第二十三条\"",
                "legal_basis = \"《公司法》第二十三条\"",
                "not in laws.toml",
            ),
            (
                "legal_basis = \"《中华人民共和国公司法》（2023年修订）第二十三条\"",
                "legal_basis = \"《失信行为纠正后的信用信息修复管理办法（试行）》第三条\"",
                "legal_basis = \"《失信行为纠正后的信用信息修复管理办法（试行）》第三条\"",
                "repealed",
            ),
            (
                "{ id = \"yes\", text = \"是\", risk = 0.0, kind = \"compliant\" },\n  { id = \"lax\"",
                "{ id = \"yes\", text = \"是\", risk = 0.0, kind = \"compliant\", finding = \"无\" },\n  { id = \"lax\"",
                "  { id = \"yes\", text = \"是\", risk = 0.0, kind = \"compliant\", finding",
                "cannot carry a finding",
            ),
            (
                "law_date = \"2026-11-30\"",
                "law_date = \"2026-11\"",
                "law_date",
                "law_date",
            ),
            ("scoring = 2", "scoring = 3", "scoring", "scoring must be 1 or 2"),
            (
                "severity = \"loss\"",
                "severity = \"loss\"\nruinous = true",
                "id = \"lab-embezzlement\"",
                "ruinous applies to a civil exposure",
            ),
            (
                "{ id = \"no\", text = \"普遍不签\", risk = 1.0, kind = \"gap\" }",
                "{ id = \"no\", text = \"普遍不签\", risk = 0.0, kind = \"gap\" }",
                "  { id = \"no\", text = \"普遍不签\"",
                "needs risk above 0",
            ),
            (
                "{ id = \"yes\", text = \"是\", risk = 0.0, kind = \"compliant\" },\n  { id = \"small\"",
                "{ id = \"yes\", text = \"是\", risk = 0.0, kind = \"compliant\", severity = \"civil\" },\n  { id = \"small\"",
                "  { id = \"yes\", text = \"是\", risk = 0.0, kind = \"compliant\", severity",
                "cannot carry a severity",
            ),
        ];
        for (from, to, line, message) in cases {
            assert!(V2_FIXTURE.contains(from), "fixture lacks {from}");
            let text = V2_FIXTURE.replacen(from, to, 1);
            let e = parse_v2(&text).expect_err(message);
            assert!(e.message.contains(message), "{message}: {e}");
            assert_eq!(e.line, line_starting(&text, line), "{message}: {e}");
            assert!(e.to_string().starts_with("questionnaire.toml line"));
        }
        // verify without an unsure option
        let text = V2_FIXTURE.replacen(
            "severity = \"civil\"\nlegal_basis = \"《中华人民共和国公司法》（2023年修订）第二十五条",
            "severity = \"civil\"\nverify = \"查阅\"\nlegal_basis = \"《中华人民共和国公司法》（2023年修订）第二十五条",
            1,
        );
        let e = parse_v2(&text).expect_err("verify without unsure");
        assert!(e.message.contains("verify is shown for 不清楚 only"), "{e}");
        assert_eq!(e.line, line_starting(&text, "id = \"gov-resolutions\""));
        // a red line needs a gap
        let text = V2_FIXTURE.replacen(
            "{ id = \"no\", text = \"普遍不签\", risk = 1.0, kind = \"gap\" }",
            "{ id = \"no\", text = \"普遍不签\", risk = 0.75, kind = \"partial\" }",
            1,
        );
        let e = parse_v2(&text).expect_err("red line without gap");
        assert!(e.message.contains("red line needs"), "{e}");
        // a stored v2 text parses without the registry, so a later repeal cannot lock a
        // report out
        let repealed = V2_FIXTURE.replacen(
            "《中华人民共和国公司法》（2023年修订）第二十三条",
            "《失信行为纠正后的信用信息修复管理办法（试行）》第三条",
            1,
        );
        assert!(Questionnaire::parse(&repealed).is_ok());
        assert!(parse_v2(&repealed).is_err());
        // v1 files need none of it
        assert!(Questionnaire::parse(&V2_FIXTURE.replacen("scoring = 2\n", "", 1)).is_ok());
    }

    #[test]
    fn answer_checks_name_each_problem() {
        let q = Questionnaire::parse(V2026_1).expect("valid");
        let mut answers = Answers::new();
        answers.insert("nope".into(), "yes".into());
        answers.insert("gov-capital-paid-5y".into(), "maybe-not".into());
        let construction = q
            .items
            .iter()
            .find(|i| i.dimension == "construction")
            .expect("construction item");
        answers.insert(construction.id.clone(), construction.options[0].id.clone());
        let problems = check_answers(&q, "C", &answers, true);
        assert!(problems.contains(&AnswerProblem::UnknownItem("nope".into())));
        assert!(problems
            .iter()
            .any(|p| matches!(p, AnswerProblem::UnknownOption { .. })));
        assert!(problems.contains(&AnswerProblem::NotApplicable(construction.id.clone())));
        assert!(problems
            .iter()
            .any(|p| matches!(p, AnswerProblem::Missing(m) if m.len() > 50)));
        assert!(check_answers(&q, "C", &Answers::new(), false).is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let broken = V2026_1.replacen("dimension = \"governance\"", "dimension = \"nope\"", 1);
        let e = Questionnaire::parse(&broken).expect_err("invalid");
        assert_eq!(
            e.line,
            line_starting(V2026_1, "id = \"gov-capital-paid-5y\"")
        );
        assert!(e.to_string().contains("unknown dimension"));
        let syntax = V2026_1.replacen("weight = 4", "weight = = 4", 1);
        let e = Questionnaire::parse(&syntax).expect_err("syntax");
        assert!(e.line.is_some());
        let risk = V2026_1.replacen("risk = 1.0", "risk = 1.5", 1);
        assert!(Questionnaire::parse(&risk).is_err());
    }
}
