//! Questionnaire versions and check-ups, the enterprises' consent to the notice, the log of
//! report openings by others, and deleting a check-up for good.

use super::followups;
use super::notifications;
use super::Db;
use super::Json;
use super::RowExt;
use crate::accounts::Role;
use crate::checkup::questionnaire::Answers;
use crate::checkup::scoring::Level;
use crate::checkup::CheckupStatus;
use crate::notify::Event;
use crate::qa::followup::LevelsSnapshot;
use chrono::{DateTime, NaiveDate, Utc};
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
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub updated_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub submitted_at: Option<DateTime<Utc>>,
}

/// One opening of a report by an account other than its enterprise.
#[derive(Debug, Clone)]
pub struct AccessRow {
    pub viewer_id: i64,
    /// The role the account had when it opened the report.
    pub viewer_role: Role,
    /// The account's current display name; `None` when the account no longer exists.
    pub viewer_name: Option<String>,
    pub accessed_at: DateTime<Utc>,
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
            "INSERT INTO questionnaires (version, source, loaded_at) VALUES ($1, $2, $3)
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(source)
        .bind(crate::db::ts(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored text of a questionnaire version.
    pub async fn questionnaire_source(&self, version: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT source FROM questionnaires WHERE version = $1")
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("source")).transpose()
    }

    pub async fn draft(&self, enterprise_id: i64) -> Result<Option<CheckupRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM checkups WHERE enterprise_id = $1 AND status = 'draft'")
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
             VALUES ($1, $2, $3, $4, 'draft', $5, $6)
             ON CONFLICT (enterprise_id) WHERE status = 'draft' DO UPDATE SET
               version = excluded.version, industry = excluded.industry,
               answers = excluded.answers, updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(enterprise_id)
        .bind(version)
        .bind(industry)
        .bind(Json(answers))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    /// Store a check-up submitted at `now` (the draft, if any, is consumed in the same
    /// transaction) and tell the enterprise its report is ready. In the same transaction the
    /// report is recorded as the retake of a follow-up at 已整改, and `followup` (levels
    /// snapshot and due date of a high-risk report) opens a 回访 follow-up.
    #[allow(clippy::too_many_arguments)]
    pub async fn submit_checkup(
        &self,
        enterprise_id: i64,
        version: &str,
        industry: &str,
        answers: &Answers,
        overall_level: Level,
        followup: Option<(&LevelsSnapshot, NaiveDate)>,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM checkups WHERE enterprise_id = $1 AND status = 'draft'")
            .bind(enterprise_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO checkups (enterprise_id, version, industry, answers, status, overall_level,
                                   created_at, updated_at, submitted_at)
             VALUES ($1, $2, $3, $4, 'submitted', $5, $6, $7, $8) RETURNING id",
        )
        .bind(enterprise_id)
        .bind(version)
        .bind(industry)
        .bind(Json(answers))
        .bind(overall_level)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let event = Event::CheckupReady {
            checkup_id: id,
            level_zh: overall_level.label_zh().to_string(),
        };
        notifications::enqueue(&mut tx, enterprise_id, &event, now).await?;
        // the retake first: a new follow-up would otherwise close the 已整改 one unrecorded
        followups::record_retake_in_tx(&mut tx, enterprise_id, id, now).await?;
        if let Some((levels, due_on)) = followup {
            followups::open_in_tx(&mut tx, enterprise_id, id, levels, due_on, now).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(id)
    }

    pub async fn checkup(&self, id: i64) -> Result<Option<CheckupRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM checkups WHERE id = $1")
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
            "SELECT * FROM checkups WHERE enterprise_id = $1 AND status = 'submitted' AND id < $2
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
            "SELECT * FROM checkups WHERE enterprise_id = $1 AND status = 'submitted' ORDER BY id DESC",
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

    /// Every submitted report, retakes included, oldest first (the dashboard's trend).
    pub async fn submitted_reports(&self) -> Result<Vec<CheckupRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM checkups WHERE status = 'submitted' ORDER BY id")
            .fetch_all(&self.pool)
            .await
    }

    /// When the enterprise confirmed notice revision `notice` for questionnaire `version`.
    pub async fn consent(
        &self,
        enterprise_id: i64,
        version: &str,
        notice: &str,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT consented_at FROM checkup_consents
             WHERE enterprise_id = $1 AND version = $2 AND notice = $3",
        )
        .bind(enterprise_id)
        .bind(version)
        .bind(notice)
        .fetch_optional(&self.pool)
        .await
        .map(|t: Option<super::Ts>| t.map(|t| t.0))
    }

    /// Record that the enterprise confirmed the notice at `now`; a repeated confirmation keeps
    /// the first time, which is returned.
    pub async fn record_consent(
        &self,
        enterprise_id: i64,
        version: &str,
        notice: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, sqlx::Error> {
        sqlx::query(
            "INSERT INTO checkup_consents (enterprise_id, version, notice, consented_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (enterprise_id, version, notice) DO NOTHING",
        )
        .bind(enterprise_id)
        .bind(version)
        .bind(notice)
        .bind(crate::db::ts(now))
        .execute(&self.pool)
        .await?;
        self.consent(enterprise_id, version, notice)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Log that account `viewer_id` (with `role`) opened check-up `checkup_id` at `now`.
    pub async fn record_access(
        &self,
        checkup_id: i64,
        viewer_id: i64,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO checkup_access (checkup_id, viewer_id, viewer_role, accessed_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(checkup_id)
        .bind(viewer_id)
        .bind(role.as_str())
        .bind(crate::db::ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Openings of check-up `checkup_id` by others, newest first.
    pub async fn access_log(&self, checkup_id: i64) -> Result<Vec<AccessRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT a.viewer_id, a.viewer_role, a.accessed_at, u.display_name
             FROM checkup_access a LEFT JOIN users u ON u.id = a.viewer_id
             WHERE a.checkup_id = $1 ORDER BY a.id DESC",
        )
        .bind(checkup_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("viewer_role")?;
                Ok(AccessRow {
                    viewer_id: r.try_get("viewer_id")?,
                    viewer_role: Role::parse(&role)
                        .ok_or_else(|| sqlx::Error::Decode("unknown role".into()))?,
                    viewer_name: r.try_get("display_name")?,
                    accessed_at: r.time("accessed_at")?,
                })
            })
            .collect()
    }

    /// Delete check-up `id` (a report or a draft) of enterprise `enterprise_id`, with its
    /// access log. False when there is no such check-up of that enterprise. The connection
    /// options set `secure_delete`, so SQLite overwrites the freed content instead of leaving
    /// it in free pages of the file.
    pub async fn delete_checkup(&self, id: i64, enterprise_id: i64) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM checkups WHERE id = $1 AND enterprise_id = $2")
            .bind(id)
            .bind(enterprise_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        // the foreign key cascades already; this does not depend on foreign keys being on
        sqlx::query("DELETE FROM checkup_access WHERE checkup_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Copy the write-ahead log into the database file and truncate it, so that page images
    /// written before a deletion do not linger in the log. Best effort: with readers active
    /// the log is only partly reset, and the next checkpoint finishes the job.
    /// SQLite only: PostgreSQL has no such log of page images to empty.
    pub async fn truncate_wal(&self) -> Result<(), sqlx::Error> {
        if self.backend() == super::Backend::Postgres {
            return Ok(());
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    /// Migration 0008 rebuilds `checkups` (AUTOINCREMENT ids): stored drafts and reports keep
    /// their ids and contents, and a deleted report's id is not handed out again.
    #[tokio::test]
    async fn the_access_migration_keeps_check_ups_and_never_reuses_an_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pool, all) = super::super::migrated_before(dir.path(), 8).await;
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (1, 'enterprise', NULL, 'E', 'x', '2026-11-01T00:00:00Z');
             INSERT INTO enterprises (user_id, name, uscc, industry, contact_name, mobile,
                                      calendar_token)
             VALUES (1, 'E', 'U1', 'E', 'c', '13800000001', 't1');
             INSERT INTO questionnaires (version, source, loaded_at)
             VALUES ('2026.1', 'x', '2026-11-01T00:00:00Z');
             INSERT INTO checkups (id, enterprise_id, version, industry, answers, status,
                                   overall_level, created_at, updated_at, submitted_at)
             VALUES (3, 1, '2026.1', 'E', '{\"a\":\"no\"}', 'submitted', 'high',
                     '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z'),
                    (7, 1, '2026.1', 'E', '{\"b\":\"yes\"}', 'draft', NULL,
                     '2026-11-03T00:00:00Z', '2026-11-03T00:00:00Z', NULL);",
        )
        .execute(&pool)
        .await
        .expect("seed");
        all.run(&pool).await.expect("migration 8");
        let kept: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, answers, status FROM checkups ORDER BY id")
                .fetch_all(&pool)
                .await
                .expect("rows kept");
        assert_eq!(
            kept,
            vec![
                (3, "{\"a\":\"no\"}".to_string(), "submitted".to_string()),
                (7, "{\"b\":\"yes\"}".to_string(), "draft".to_string()),
            ]
        );
        sqlx::query("DELETE FROM checkups WHERE id = 7")
            .execute(&pool)
            .await
            .expect("delete");
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO checkups (enterprise_id, version, industry, answers, status, created_at,
                                   updated_at)
             VALUES (1, '2026.1', 'E', '{}', 'draft', '2026-11-04T00:00:00Z',
                     '2026-11-04T00:00:00Z') RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .expect("insert");
        assert_eq!(next, 8, "id 7 is not reused");
        // the one-draft rule survived the rebuild
        sqlx::query(
            "INSERT INTO checkups (enterprise_id, version, industry, answers, status, created_at,
                                   updated_at)
             VALUES (1, '2026.1', 'E', '{}', 'draft', '2026-11-04T00:00:00Z',
                     '2026-11-04T00:00:00Z')",
        )
        .execute(&pool)
        .await
        .expect_err("a second draft");
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&pool)
            .await
            .expect("foreign key check");
        assert!(dangling.is_empty());
    }
}
