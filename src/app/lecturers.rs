//! The lecturer directory: organizers add a lecturer once, link it to the lawyer's account,
//! and pick it on every session form.

use super::audit::{self, Action, Target};
use super::schedule::{Result, ScheduleError};
use crate::accounts::{Role, User};
use crate::db::lecturers::{LecturerRow, LecturerSave};
use crate::db::Db;
use crate::schedule::{validate_lecturer, LecturerInput};
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};

/// Every lecturer, by name (organizers).
pub async fn directory(db: &Db, viewer: &User) -> Result<Vec<LecturerRow>> {
    require_organizer(viewer)?;
    Ok(db.lecturers().await?)
}

/// One lecturer (organizers).
pub async fn lecturer(db: &Db, viewer: &User, id: i64) -> Result<LecturerRow> {
    require_organizer(viewer)?;
    db.lecturer(id).await?.ok_or(ScheduleError::NotFound)
}

fn require_organizer(viewer: &User) -> Result<()> {
    if viewer.role == Role::Organizer {
        Ok(())
    } else {
        Err(ScheduleError::NotFound)
    }
}

/// Add (`id` = `None`) or change a lecturer. `input.account` names the lawyer account to link
/// (empty = none). A second lecturer with the same name and firm is refused, naming the first.
pub async fn save(
    db: &Db,
    now: DateTime<Utc>,
    actor: &User,
    id: Option<i64>,
    input: &LecturerInput,
) -> Result<i64> {
    require_organizer(actor)?;
    let mut errors = FieldErrors::default();
    let valid = validate_lecturer(input, &mut errors);
    let account = input.account.as_deref().map(str::trim).unwrap_or("");
    let mut user_id = None;
    if errors.is_empty() && !account.is_empty() {
        let lawyers = db.staff(Role::Lawyer).await?;
        match lawyers
            .iter()
            .find(|u| u.username.as_deref() == Some(account))
        {
            Some(u) => user_id = Some(u.id),
            None => errors.add("lecturer.account", format!("律师账号“{account}”不存在")),
        }
    }
    if !errors.is_empty() {
        return Err(ScheduleError::Invalid(errors));
    }
    match db.save_lecturer(id, &valid, user_id).await? {
        LecturerSave::Saved(saved) => {
            audit::record(
                db,
                now,
                Some(actor),
                Action::LecturerSaved,
                Target::Lecturer(saved),
                serde_json::json!({"name": &valid.name, "firm": &valid.firm}),
            )
            .await;
            Ok(saved)
        }
        LecturerSave::NotFound => Err(ScheduleError::NotFound),
        LecturerSave::Duplicate(twin) => Err(ScheduleError::Invalid(FieldErrors::single(
            "lecturer.name",
            format!(
                "讲师名录中已有“{}（{}）”（#{twin}），请直接选用，不要重复添加",
                valid.name, valid.firm
            ),
        ))),
    }
}

/// The lecturer part of a session input, taken from the directory.
pub fn session_lecturer(row: &LecturerRow) -> LecturerInput {
    LecturerInput {
        name: row.name.clone(),
        firm: row.firm.clone(),
        bio: row.bio.clone(),
        available_weekdays: row
            .available_weekdays
            .as_ref()
            .map(|w| w.0.iter().copied().collect()),
        unavailable_dates: row
            .unavailable_dates
            .0
            .iter()
            .map(|d| d.to_string())
            .collect(),
        // leave the account link as the directory has it
        account: None,
    }
}
