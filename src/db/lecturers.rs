//! The lecturer directory (issue 17): lecturers are created once and picked from a list, so a
//! typo on a session form no longer creates a second lecturer.

use super::Db;
use super::Json;
use crate::schedule::planner::Availability;
use crate::schedule::ValidLecturer;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::BTreeSet;

/// A lecturer with the lawyer account it is linked to and how many sessions it gives.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LecturerRow {
    pub id: i64,
    pub name: String,
    pub firm: String,
    pub bio: String,
    pub available_weekdays: Option<Json<BTreeSet<u8>>>,
    pub unavailable_dates: Json<BTreeSet<NaiveDate>>,
    pub user_id: Option<i64>,
    /// Login of the linked lawyer account.
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Sessions (not cancelled) the lecturer gives.
    pub session_count: i64,
}

impl LecturerRow {
    pub fn availability(&self) -> Availability {
        Availability {
            weekdays: self.available_weekdays.as_ref().map(|w| w.0.clone()),
            unavailable_dates: self.unavailable_dates.0.clone(),
        }
    }
}

/// What saving a lecturer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LecturerSave {
    Saved(i64),
    NotFound,
    /// Another lecturer of the directory has this name and firm.
    Duplicate(i64),
}

const SELECT: &str = "SELECT l.id, l.name, l.firm, l.bio, l.available_weekdays,
       l.unavailable_dates, l.user_id, u.username, u.display_name,
       (SELECT COUNT(*) FROM lecture_sessions s
         WHERE s.lecturer_id = l.id AND s.status <> 'cancelled') AS session_count
  FROM lecturers l LEFT JOIN users u ON u.id = l.user_id";

impl Db {
    /// The directory, in the order lecturers were added.
    pub async fn lecturers(&self) -> Result<Vec<LecturerRow>, sqlx::Error> {
        sqlx::query_as(&format!("{SELECT} ORDER BY l.id"))
            .fetch_all(&self.pool)
            .await
    }

    pub async fn lecturer(&self, id: i64) -> Result<Option<LecturerRow>, sqlx::Error> {
        sqlx::query_as(&format!("{SELECT} WHERE l.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Add (`id` = `None`) or change a lecturer and its account link, unless another lecturer
    /// already has the name and firm.
    pub async fn save_lecturer(
        &self,
        id: Option<i64>,
        l: &ValidLecturer,
        user_id: Option<i64>,
    ) -> Result<LecturerSave, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let twin: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM lecturers WHERE name = $1 AND firm = $2 AND id IS DISTINCT FROM $3",
        )
        .bind(&l.name)
        .bind(&l.firm)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(twin) = twin {
            return Ok(LecturerSave::Duplicate(twin));
        }
        let weekdays = l
            .availability
            .weekdays
            .as_ref()
            .map(|w| Json(w.iter().collect::<Vec<_>>()));
        let unavailable = Json(&l.availability.unavailable_dates);
        let saved = match id {
            None => {
                let row = sqlx::query(
                    "INSERT INTO lecturers (name, firm, bio, available_weekdays, unavailable_dates, user_id)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&l.name)
                .bind(&l.firm)
                .bind(&l.bio)
                .bind(weekdays)
                .bind(unavailable)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
                LecturerSave::Saved(row.try_get("id")?)
            }
            Some(id) => {
                let n = sqlx::query(
                    "UPDATE lecturers SET name = $1, firm = $2, bio = $3, available_weekdays = $4,
                       unavailable_dates = $5, user_id = $6
                     WHERE id = $7",
                )
                .bind(&l.name)
                .bind(&l.firm)
                .bind(&l.bio)
                .bind(weekdays)
                .bind(unavailable)
                .bind(user_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok(LecturerSave::NotFound);
                }
                // a new name, firm or availability shows in the sessions' calendar entries
                sqlx::query(
                    "UPDATE lecture_sessions SET sequence = sequence + 1 WHERE lecturer_id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                LecturerSave::Saved(id)
            }
        };
        tx.commit().await?;
        Ok(saved)
    }
}
