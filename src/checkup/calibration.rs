//! Calibration of scoring rules 2 on the shipped questionnaire (the lawyer's review, §4 and §5):
//! the review's three enterprises answered as it describes them, a reasonably run SME, and red
//! lines. The profiles live in `testdata/profiles.toml`, which also drives the screenshots in
//! docs/checkup/. `cargo test --lib calibration -- --nocapture` prints each profile's counts.

use super::laws::Laws;
use super::questionnaire::{Answers, Item, OptionKind, Questionnaire, Severity, BUILTIN};
use super::scoring::{score, Level, Report, TOP_FINDINGS};
use proptest::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const PROFILES: &str = include_str!("testdata/profiles.toml");

#[derive(Deserialize)]
struct Profiles {
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    id: String,
    industry: String,
    answers: BTreeMap<String, String>,
}

fn q() -> &'static Questionnaire {
    static Q: OnceLock<Questionnaire> = OnceLock::new();
    Q.get_or_init(|| Questionnaire::load(BUILTIN).expect("the shipped questionnaire"))
}

fn profiles() -> &'static [Profile] {
    static P: OnceLock<Profiles> = OnceLock::new();
    &P.get_or_init(|| toml::from_str(PROFILES).expect("profiles.toml"))
        .profiles
}

fn compliant(item: &Item) -> String {
    item.options
        .iter()
        .find(|o| o.kind == OptionKind::Compliant)
        .map(|o| o.id.clone())
        .unwrap_or_default()
}

/// The profile's answers: its own, the compliant option for every other applicable item.
fn answers(p: &Profile) -> Answers {
    q().applicable(&p.industry)
        .map(|i| {
            let chosen = p.answers.get(&i.id).cloned();
            (i.id.clone(), chosen.unwrap_or_else(|| compliant(i)))
        })
        .collect()
}

fn report(id: &str) -> Report {
    let p = profiles()
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("profile {id}"));
    score(q(), &p.industry, &answers(p))
}

fn finding<'a>(r: &'a Report, item: &str) -> &'a super::scoring::Finding {
    r.findings
        .iter()
        .find(|f| f.item_id == item)
        .unwrap_or_else(|| panic!("no finding for {item}"))
}

fn summary(id: &str, r: &Report) -> String {
    format!(
        "{id}: overall {}, {} findings (高 {}, 中 {}, 低 {}; 需律师核实 {}), red lines {:?}, top {}, appendix {}",
        r.overall_level.label_zh(),
        r.findings.len(),
        r.count_at(Level::High),
        r.count_at(Level::Medium),
        r.count_at(Level::Low),
        r.needs_lawyer(),
        r.red_lines,
        r.top_findings().len(),
        r.appendix().len(),
    )
}

#[test]
fn the_shipped_questionnaire_is_scored_by_rules_2() {
    assert_eq!(q().scoring, 2);
    assert!(q().law_date.is_some());
    let laws = Laws::builtin().expect("laws.toml");
    for item in &q().items {
        assert!(laws.check(&item.citations).is_ok(), "{}", item.id);
    }
}

/// The profiles answer real items with real options, and only items their industry is asked:
/// a content change that drops an item or option shows here, not as a silent default.
#[test]
fn profiles_name_real_items_and_options() {
    assert!(profiles().len() >= 4);
    for p in profiles() {
        for (item, option) in &p.answers {
            let i = q()
                .item(item)
                .unwrap_or_else(|| panic!("{}: no item {item}", p.id));
            assert!(i.applies_to(&p.industry), "{}: {item} not asked", p.id);
            assert!(
                i.option(option).is_some(),
                "{}: {item} has no {option}",
                p.id
            );
        }
    }
}

#[test]
fn print_the_profiles() {
    for p in profiles() {
        let r = report(&p.id);
        eprintln!("{}", summary(&p.id, &r));
        for f in r.top_findings() {
            eprintln!(
                "    {} {}{} {} · {}",
                f.level.label_zh(),
                if f.red_line { "红线 " } else { "" },
                if f.needs_lawyer {
                    "需律师核实 "
                } else {
                    ""
                },
                f.item_id,
                f.severity.label_zh()
            );
        }
    }
}

/// A. The manufacturer: 45 findings and 高 under rules 1 (8 高, victim-side items at the top);
/// now a handful of 中 at the top, the everyday gaps in the appendix, overall 中.
#[test]
fn the_manufacturer_is_medium_with_a_short_top_list() {
    let r = report("manufacturer");
    let s = summary("manufacturer", &r);
    assert_eq!(r.overall_level, Level::Medium, "{s}");
    assert!(r.red_lines.is_empty(), "{s}");
    assert_eq!(r.count_at(Level::High), 0, "{s}");
    // about ten 中 lead (a dozen at most), the everyday gaps stay in the appendix
    assert!((3..=12).contains(&r.count_at(Level::Medium)), "{s}");
    assert!(r.top_findings().len() <= TOP_FINDINGS);
    assert!(r.appendix().len() >= 20, "{s}");
    // S1/E10: the victim of a bad invoice or an embezzling employee is not an offender
    let intake = finding(&r, "tax-invoice-intake");
    assert_eq!(intake.level, Level::Low);
    assert_ne!(intake.severity, Severity::Criminal);
    for victim in ["integ-embezzlement", "integ-conflict", "integ-procurement"] {
        let f = finding(&r, victim);
        assert_eq!(
            (f.severity, f.level),
            (Severity::Loss, Level::Low),
            "{victim}"
        );
    }
    // S3: a partial answer to the written-contract question is a certain double-wage claim
    assert!(finding(&r, "lab-written-contract").level >= Level::Medium);
    // S5: 不清楚 whether a discharge permit is needed asks for a check, with the step
    let permit = finding(&r, "safe-discharge-permit");
    assert!(permit.needs_lawyer && permit.verify.is_some());
    assert_eq!(permit.level, Level::Medium);
    // the owner-decided guarantee and decisions lead, above the data-protection paperwork
    let top: Vec<&str> = r
        .top_findings()
        .iter()
        .map(|f| f.item_id.as_str())
        .collect();
    assert!(top.contains(&"gov-guarantee-approval") && top.contains(&"gov-major-decisions"));
    assert!(!top.contains(&"data-internal-rules") && !top.contains(&"data-incident-plan"));
    assert!(
        top.contains(&"safe-discharge-permit"),
        "a criminal 不清楚 is not buried"
    );
}

/// B. The online shop: off-book receipts and a one-person company mixing the owner's money
/// are the owner's real risks (高); the factory safety items are no longer 高 noise.
#[test]
fn the_online_shop_is_high_for_its_owner_risks() {
    let r = report("online-shop");
    let s = summary("online-shop", &r);
    assert_eq!(r.overall_level, Level::High, "{s}");
    assert_eq!(r.red_lines, vec!["tax-offbook".to_string()], "{s}");
    // S2: unlimited personal liability reaches 高
    assert_eq!(finding(&r, "gov-one-person-separation").level, Level::High);
    assert_eq!(r.findings[0].item_id, "tax-offbook", "the red line leads");
    // S7: a five-person office gets no 高 or 中 safety findings
    assert!(r
        .findings
        .iter()
        .filter(|f| f.dimension == "safety")
        .all(|f| f.level == Level::Low));
    // the shop's own risks are found
    for item in ["mkt-online-shop", "mkt-fake-reviews", "data-marketing"] {
        assert!(finding(&r, item).level >= Level::Medium, "{item}");
    }
    assert!(r.top_findings().len() <= TOP_FINDINGS);
}

/// C. The contractor: rules 1 gave 高 for victim-side integrity partials; now those are 低,
/// the construction-specific gaps lead, and without a red line or two 高 it is 中.
#[test]
fn the_contractor_is_led_by_construction_risks() {
    let r = report("contractor");
    let s = summary("contractor", &r);
    assert_eq!(r.overall_level, Level::Medium, "{s}");
    assert!(r.red_lines.is_empty(), "{s}");
    for victim in ["integ-conflict", "integ-procurement"] {
        assert_eq!(finding(&r, victim).level, Level::Low, "{victim}");
    }
    // S3: 部分专业工程分包给资质不全的单位 on the subcontracting red line is at least 中
    assert!(finding(&r, "cons-no-illegal-subcontract").level >= Level::Medium);
    assert!((3..=12).contains(&r.count_at(Level::Medium)), "{s}");
    let top = r.top_findings();
    assert!(top.len() <= TOP_FINDINGS);
    assert!(
        top.iter().filter(|f| f.dimension == "construction").count() >= 2,
        "{s}"
    );
    let construction = r
        .dimensions
        .iter()
        .find(|d| d.id == "construction")
        .expect("construction");
    assert_eq!(construction.level, Level::Medium);
}

#[test]
fn a_reasonably_run_sme_is_low_or_medium() {
    let r = report("reasonable-sme");
    let s = summary("reasonable-sme", &r);
    assert!(r.overall_level <= Level::Medium, "{s}");
    assert!(r.findings.len() <= 12, "{s}");
    assert!(r.count_at(Level::High) == 0, "{s}");
}

/// The review's counterfactuals on the shipped content: each single change moves the level
/// the way a lawyer expects.
#[test]
fn single_answers_move_the_level_as_a_lawyer_expects() {
    let base = |industry: &str| -> Answers {
        q().applicable(industry)
            .map(|i| (i.id.clone(), compliant(i)))
            .collect()
    };
    let with = |industry: &str, changes: &[(&str, &str)]| {
        let mut a = base(industry);
        for (item, option) in changes {
            a.insert((*item).into(), (*option).into());
        }
        score(q(), industry, &a)
    };
    assert_eq!(with("C", &[]).overall_level, Level::Low);
    // S2: a one-person company mixing accounts, alone: one 高, overall 中
    let r = with("C", &[("gov-one-person-separation", "no")]);
    assert_eq!(finding(&r, "gov-one-person-separation").level, Level::High);
    assert_eq!(r.overall_level, Level::Medium);
    // S7: two major findings make it 高
    let r = with(
        "C",
        &[
            ("gov-one-person-separation", "no"),
            ("guar-mutual", "risky"),
        ],
    );
    assert_eq!(r.overall_level, Level::High);
    // S4: 不适用 guarantees next to a failing 互保 chain do not dilute it: the dimension
    // scores lower than with the same items answered compliant, and its badge is 高
    let guarantees = |r: &Report| {
        r.dimensions
            .iter()
            .find(|d| d.id == "guarantees")
            .map(|d| (d.score, d.level))
            .expect("guarantees")
    };
    let na = with(
        "C",
        &[
            ("guar-form-explicit", "na"),
            ("guar-check-resolution", "na"),
            ("guar-ledger", "na"),
            ("guar-claim-in-period", "na"),
            ("guar-mutual", "risky"),
        ],
    );
    let answered = with("C", &[("guar-mutual", "risky")]);
    assert!(guarantees(&na).0 < guarantees(&answered).0);
    assert_eq!(guarantees(&na).1, Level::High);
    // S5: never having checked the dishonest list is 中 with a next step, not 高
    let r = with("C", &[("disp-dishonest-list", "unchecked")]);
    let f = finding(&r, "disp-dishonest-list");
    assert_eq!(f.level, Level::Medium);
    assert!(f.verify.as_deref().is_some_and(|v| !v.is_empty()));
    assert_eq!(r.overall_level, Level::Medium);
}

fn red_line_items(industry: &str) -> Vec<&'static Item> {
    q().items
        .iter()
        .filter(|i| i.red_line && i.applies_to(industry))
        .collect()
}

fn gap_of(item: &Item) -> String {
    item.options
        .iter()
        .find(|o| o.kind == OptionKind::Gap)
        .map(|o| o.id.clone())
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any red line hit makes the report 高, whatever else a profile answered.
    #[test]
    fn any_red_line_comes_out_high(p in 0..4usize, pick in any::<prop::sample::Index>()) {
        let profile = &profiles()[p % profiles().len()];
        let red = red_line_items(&profile.industry);
        prop_assume!(!red.is_empty());
        let item = red[pick.index(red.len())];
        let mut a = answers(profile);
        a.insert(item.id.clone(), gap_of(item));
        let r = score(q(), &profile.industry, &a);
        prop_assert_eq!(r.overall_level, Level::High);
        prop_assert!(r.red_lines.contains(&item.id));
        prop_assert!(r.top_findings().iter().any(|f| f.item_id == item.id));
    }
}
