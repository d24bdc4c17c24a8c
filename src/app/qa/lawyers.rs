//! Lawyer profiles: the firm, how advised enterprises reach the lawyer, a short bio, whether
//! new questions come, and the topics (check-up dimensions) and industries (GB/T 4754
//! sections) routing matches questions against. Organizers edit any; a lawyer its own.

use super::{QaError, Result};
use crate::accounts::{industry, Role, User};
use crate::app::checkup::Questionnaires;
use crate::db::lawyers::{LawyerProfileRow, ProfileUpdate};
use crate::db::Db;
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Utc};

/// Longest firm name and contact line, in characters.
pub const FIRM_MAX: usize = 60;
pub const CONTACT_MAX: usize = 100;
pub const BIO_MAX: usize = 1000;

/// A profile as a lawyer or an organizer submits it.
#[derive(Debug, Clone, Default)]
pub struct ProfileRequest {
    pub firm: String,
    pub topics: Vec<String>,
    pub industries: Vec<String>,
    pub contact: Option<String>,
    pub bio: Option<String>,
    pub accepting: Option<bool>,
}

/// Every lawyer account with its profile and load (organizers only).
pub async fn list(db: &Db, viewer: &User) -> Result<Vec<LawyerProfileRow>> {
    if !viewer.is_organizer() {
        return Err(QaError::Forbidden);
    }
    Ok(db.lawyer_profiles(None).await?)
}

/// Lawyer `id`'s profile: organizers, or the lawyer itself.
pub async fn profile(db: &Db, viewer: &User, id: i64) -> Result<LawyerProfileRow> {
    if !(viewer.is_organizer() || (viewer.role == Role::Lawyer && viewer.id == id)) {
        return Err(QaError::Forbidden);
    }
    db.lawyer_profiles(Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or(QaError::NotFound)
}

fn check_line(errors: &mut FieldErrors, field: &str, label: &str, value: &str, max: usize) {
    let lines = if field == "bio" {
        Lines::Multi
    } else {
        Lines::Single
    };
    if errors.check_text(field, label, value, lines) {
        let n = value.chars().count();
        if n > max {
            errors.add(field, format!("{label}不能超过 {max} 个字（现有 {n} 个）"));
        }
    }
}

/// Store lawyer `id`'s profile. Unknown topics or industries are refused, naming them; fields
/// left out (`contact`, `bio`, `accepting`) keep their stored value.
pub async fn update(
    db: &Db,
    questionnaires: &Questionnaires,
    now: DateTime<Utc>,
    viewer: &User,
    id: i64,
    req: ProfileRequest,
) -> Result<LawyerProfileRow> {
    let current = profile(db, viewer, id).await?;
    let mut errors = FieldErrors::default();
    let firm = req.firm.trim().to_string();
    check_line(&mut errors, "firm", "律师事务所", &firm, FIRM_MAX);
    let contact = req
        .contact
        .map(|c| c.trim().to_string())
        .unwrap_or(current.contact);
    check_line(&mut errors, "contact", "联系方式", &contact, CONTACT_MAX);
    let bio = req.bio.map(|b| b.trim().to_string()).unwrap_or(current.bio);
    check_line(&mut errors, "bio", "简介", &bio, BIO_MAX);
    let mut topics: Vec<String> = req.topics.iter().map(|t| t.trim().to_string()).collect();
    topics.sort();
    topics.dedup();
    let unknown: Vec<&str> = topics
        .iter()
        .filter(|t| questionnaires.current().dimension(t).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        errors.add(
            "topics",
            format!(
                "未知的专业领域：{}",
                crate::validation::excerpt(&unknown.join("、"))
            ),
        );
    }
    let mut industries: Vec<String> = req
        .industries
        .iter()
        .map(|i| i.trim().to_ascii_uppercase())
        .collect();
    industries.sort();
    industries.dedup();
    let unknown: Vec<&str> = industries
        .iter()
        .filter(|i| {
            let mut chars = i.chars();
            !matches!((chars.next(), chars.next()), (Some(c), None) if industry::section_name(c).is_some())
        })
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        errors.add(
            "industries",
            format!(
                "未知的行业门类：{}",
                crate::validation::excerpt(&unknown.join("、"))
            ),
        );
    }
    if !errors.is_empty() {
        return Err(QaError::Invalid(errors));
    }
    db.put_lawyer_profile(
        id,
        &ProfileUpdate {
            firm,
            contact,
            bio,
            accepting: req.accepting.unwrap_or(current.accepting),
            topics,
            industries,
        },
        now,
    )
    .await?;
    profile(db, viewer, id).await
}
