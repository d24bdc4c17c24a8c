//! The questionnaire of the legal health check: a versioned TOML file in the repository
//! (`questionnaire.toml` beside this file), loaded and validated at start. A broken file stops
//! the server with the line at fault.

use crate::validation::excerpt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use toml::Spanned;

/// The questionnaire shipped with this build.
pub const BUILTIN: &str = include_str!("questionnaire.toml");

/// Exposure if a risk materialises; severity rises from civil to administrative to criminal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Civil,
    Administrative,
    Criminal,
}

impl Severity {
    pub fn label_zh(self) -> &'static str {
        match self {
            Severity::Civil => "民事责任",
            Severity::Administrative => "行政责任",
            Severity::Criminal => "刑事责任",
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
    pub applies_to: AppliesTo,
    pub legal_basis: String,
    pub finding: String,
    pub consequence: String,
    pub recommendation: String,
    /// Lecture categories that address this item.
    pub categories: Vec<String>,
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
}

/// A validated questionnaire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Questionnaire {
    pub version: String,
    pub title: String,
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

    /// Load and validate the TOML text.
    pub fn parse(text: &str) -> Result<Questionnaire, LoadError> {
        let raw: RawQuestionnaire = toml::from_str(text).map_err(|e| LoadError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        raw.validate(text)
    }
}

/// Why the questionnaire file is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("questionnaire.toml{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct LoadError {
    pub line: Option<usize>,
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map(|t| t.matches('\n').count() + 1)
        .unwrap_or(1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestionnaire {
    version: Spanned<String>,
    title: String,
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
    applies_to: Option<RawAppliesTo>,
    legal_basis: String,
    finding: String,
    consequence: String,
    recommendation: String,
    categories: Vec<String>,
    options: Vec<RawOption>,
}

impl RawQuestionnaire {
    fn validate(self, text: &str) -> Result<Questionnaire, LoadError> {
        let fail = |offset: usize, message: String| LoadError {
            line: Some(line_of(text, offset)),
            message,
        };
        if self.version.get_ref().trim().is_empty() {
            return Err(fail(self.version.span().start, "version is empty".into()));
        }
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
                ("legal_basis", &raw.legal_basis),
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
            if !(2..=5).contains(&raw.options.len()) {
                return Err(fail(at, format!("item '{id}': needs 2 to 5 options")));
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
                options.push(AnswerOption {
                    id: oid,
                    text: o.text,
                    risk: o.risk,
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
            items.push(Item {
                id,
                dimension: raw.dimension,
                text: raw.text,
                help: raw.help,
                options,
                weight: raw.weight,
                severity: raw.severity,
                red_line: raw.red_line,
                applies_to: AppliesTo { industries },
                legal_basis: raw.legal_basis,
                finding: raw.finding,
                consequence: raw.consequence,
                recommendation: raw.recommendation,
                categories: raw.categories,
            });
        }
        for d in &dimensions {
            if !items.iter().any(|i| i.dimension == d.id) {
                return Err(LoadError {
                    line: None,
                    message: format!("dimension '{}' has no items", d.id),
                });
            }
        }
        Ok(Questionnaire {
            version: self.version.into_inner(),
            title: self.title,
            dimensions,
            items,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_questionnaire_is_valid_and_big_enough() {
        let q = Questionnaire::parse(BUILTIN).expect("valid");
        assert!(q.dimensions.len() >= 10);
        assert!(q.items.len() >= 60);
        assert_eq!(q.items.iter().filter(|i| i.red_line).count(), 5);
        // construction only for section E
        let construction: Vec<_> = q
            .items
            .iter()
            .filter(|i| i.dimension == "construction")
            .collect();
        assert!(construction
            .iter()
            .all(|i| i.applies_to("E") && !i.applies_to("C")));
        // 2023 Company Law and 2025 Anti-Unfair Competition Law numbering
        let bribery = q
            .items
            .iter()
            .find(|i| i.id == "integ-bribery")
            .expect("bribery item");
        assert!(bribery.legal_basis.contains("2025") && bribery.legal_basis.contains("第八条"));
        assert!(q
            .items
            .iter()
            .any(|i| i.legal_basis.contains("公司法》（2023年修订）")));
    }

    #[test]
    fn answer_checks_name_each_problem() {
        let q = Questionnaire::parse(BUILTIN).expect("valid");
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
        let broken = BUILTIN.replacen("dimension = \"governance\"", "dimension = \"nope\"", 1);
        let e = Questionnaire::parse(&broken).expect_err("invalid");
        let expected = BUILTIN
            .lines()
            .position(|l| l.starts_with("id = \"gov-capital-paid-5y\""))
            .map(|i| i + 1);
        assert_eq!(e.line, expected);
        assert!(e.to_string().contains("unknown dimension"));
        let syntax = BUILTIN.replacen("weight = 4", "weight = = 4", 1);
        let e = Questionnaire::parse(&syntax).expect_err("syntax");
        assert!(e.line.is_some());
        let risk = BUILTIN.replacen("risk = 1.0", "risk = 1.5", 1);
        assert!(Questionnaire::parse(&risk).is_err());
    }
}
