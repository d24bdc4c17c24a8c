//! Questionnaire versions and check-ups.

use super::Db;
use crate::checkup::questionnaire::Answers;
use crate::checkup::scoring::Level;
use crate::checkup::CheckupStatus;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::Row;

/// A stored check-up (draft or submitted report). Answers that are not a JSON object of
/// strings fail to decode: a corrupt row is an error, never a check-up without answers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckupRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub version: String,
    pub industry: String,
    pub answers: Json<Answers>,
    pub status: CheckupStatus,
    /// The level scored at submission, kept for queries over the table. Pages and the API
    /// recompute the level from the answers instead, so that a scoring fix reaches old reports.
    pub overall_level: Option<Level>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
}

impl CheckupRow {
    /// When the report was submitted (when the draft was started, for a draft).
    pub fn submitted_or_created(&self) -> DateTime<Utc> {
        self.submitted_at.unwrap_or(self.created_at)
    }
}

impl Db {
    /// Remember a questionnaire version's text (first load wins: a version is immutable).
    pub async fn register_questionnaire(
        &self,
        version: &str,
        source: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO questionnaires (version, source, loaded_at) VALUES (?, ?, ?)
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(source)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored text of a questionnaire version.
    pub async fn questionnaire_source(&self, version: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT source FROM questionnaires WHERE version = ?")
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("source")).transpose()
    }

    pub async fn draft(&self, enterprise_id: i64) -> Result<Option<CheckupRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM checkups WHERE enterprise_id = ? AND status = 'draft'")
            .bind(enterprise_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Create or replace the enterprise's draft answers, saved at `now`.
    pub async fn save_draft(
        &self,
        enterprise_id: i64,
        version: &str,
        industry: &str,
        answers: &Answers,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO checkups (enterprise_id, version, industry, answers, status, created_at, updated_at)
             VALUES (?, ?, ?, ?, 'draft', ?, ?)
             ON CONFLICT (enterprise_id) WHERE status = 'draft' DO UPDATE SET
               version = excluded.version, industry = excluded.industry,
               answers = excluded.answers, updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(enterprise_id)
        .bind(version)
        .bind(industry)
        .bind(Json(answers))
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    /// Store a check-up submitted at `now` (the draft, if any, is consumed in the same
    /// transaction).
    pub async fn submit_checkup(
        &self,
        enterprise_id: i64,
        version: &str,
        industry: &str,
        answers: &Answers,
        overall_level: Level,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM checkups WHERE enterprise_id = ? AND status = 'draft'")
            .bind(enterprise_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO checkups (enterprise_id, version, industry, answers, status, overall_level,
                                   created_at, updated_at, submitted_at)
             VALUES (?, ?, ?, ?, 'submitted', ?, ?, ?, ?) RETURNING id",
        )
        .bind(enterprise_id)
        .bind(version)
        .bind(industry)
        .bind(Json(answers))
        .bind(overall_level)
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.try_get("id")
    }

    pub async fn checkup(&self, id: i64) -> Result<Option<CheckupRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM checkups WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The enterprise's submitted report before `id`, if any.
    pub async fn previous_report(
        &self,
        enterprise_id: i64,
        id: i64,
    ) -> Result<Option<CheckupRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT * FROM checkups WHERE enterprise_id = ? AND status = 'submitted' AND id < ?
             ORDER BY id DESC LIMIT 1",
        )
        .bind(enterprise_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// The enterprise's submitted reports, newest first.
    pub async fn reports_of(&self, enterprise_id: i64) -> Result<Vec<CheckupRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT * FROM checkups WHERE enterprise_id = ? AND status = 'submitted' ORDER BY id DESC",
        )
        .bind(enterprise_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The latest submitted report of every enterprise (organizer dashboard).
    pub async fn latest_reports(&self) -> Result<Vec<CheckupRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT c.* FROM checkups c
             WHERE c.status = 'submitted'
               AND c.id = (SELECT MAX(id) FROM checkups d
                           WHERE d.enterprise_id = c.enterprise_id AND d.status = 'submitted')
             ORDER BY c.id DESC",
        )
        .fetch_all(&self.pool)
        .await
    }
}
