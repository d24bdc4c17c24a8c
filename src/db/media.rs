//! Lectures (published recordings), the durable transcode job queue, watch progress and the
//! archive's search index.
//!
//! The queue: a worker claims the oldest queued job with one conditional UPDATE (on PostgreSQL
//! the same statement with `FOR UPDATE SKIP LOCKED` in the subquery), so two workers never run
//! the same job. A running job's worker writes a heartbeat; a job whose heartbeat went stale
//! (its worker died) is queued again, or failed once it has used its attempts.

use super::Db;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// One rendition of a published lecture.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RenditionRow {
    /// e.g. "720p" or "audio".
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bandwidth: u64,
}

/// A lecture with its session facts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LectureRow {
    pub id: i64,
    pub session_id: i64,
    pub program_id: i64,
    pub visibility: String,
    pub hls_path: Option<String>,
    pub duration_s: Option<f64>,
    pub renditions: String,
    pub audio_only: bool,
    pub warnings: String,
    pub published_at: Option<DateTime<Utc>>,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub target_industries: String,
    pub lecturer_name: String,
    pub lecturer_firm: String,
    pub lecturer_id: i64,
    pub starts_at: Option<DateTime<Utc>>,
}

impl LectureRow {
    pub fn is_public(&self) -> bool {
        self.visibility == "public"
    }
    pub fn is_published(&self) -> bool {
        self.hls_path.is_some()
    }
    pub fn renditions(&self) -> Vec<RenditionRow> {
        serde_json::from_str(&self.renditions).unwrap_or_default()
    }
    pub fn warnings(&self) -> Vec<String> {
        serde_json::from_str(&self.warnings).unwrap_or_default()
    }
    pub fn industries(&self) -> Vec<String> {
        serde_json::from_str(&self.target_industries).unwrap_or_default()
    }
}

const LECTURE_SELECT: &str = "
    SELECT l.id, l.session_id, s.program_id, l.visibility, l.hls_path, l.duration_s, l.renditions,
           l.audio_only, l.warnings, l.published_at, s.title, s.summary, s.category,
           s.target_industries, lr.name AS lecturer_name, lr.firm AS lecturer_firm,
           lr.id AS lecturer_id, s.starts_at
    FROM lectures l
    JOIN lecture_sessions s ON s.id = l.session_id
    JOIN lecturers lr ON lr.id = s.lecturer_id";

/// A job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub lecture_id: i64,
    pub input_path: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub progress: f64,
    pub eta_s: Option<f64>,
    pub error: Option<String>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a finished transcode publishes.
#[derive(Debug, Clone)]
pub struct Publication {
    pub hls_path: String,
    pub duration_s: f64,
    pub renditions: Vec<RenditionRow>,
    pub audio_only: bool,
    pub warnings: Vec<String>,
}

/// Watch progress of one account for one lecture.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WatchRow {
    pub user_id: i64,
    pub lecture_id: i64,
    pub ranges: String,
    pub watched_s: f64,
    pub last_position: f64,
    pub last_report: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
}

impl WatchRow {
    pub fn ranges(&self) -> Vec<(f64, f64)> {
        serde_json::from_str(&self.ranges).unwrap_or_default()
    }
}

/// A viewer of a lecture with the enterprise, for the organizer's figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ViewerRow {
    pub user_id: i64,
    pub role: String,
    pub display_name: String,
    pub uscc: Option<String>,
    pub watched_s: f64,
    pub first_seen: DateTime<Utc>,
    pub last_report: DateTime<Utc>,
}

impl Db {
    /// Store an uploaded recording for a session: create its lecture if needed and queue a
    /// transcode job, in one transaction. Returns (lecture id, job id).
    pub async fn queue_recording(
        &self,
        session_id: i64,
        input_path: &str,
    ) -> Result<(i64, i64), sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let now = Utc::now();
        let row = sqlx::query(
            "INSERT INTO lectures (session_id, created_at, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(session_id)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let lecture_id: i64 = row.try_get("id")?;
        let row = sqlx::query(
            "INSERT INTO jobs (kind, lecture_id, input_path, state, created_at, updated_at)
             VALUES ('transcode', ?, ?, 'queued', ?, ?) RETURNING id",
        )
        .bind(lecture_id)
        .bind(input_path)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let job_id: i64 = row.try_get("id")?;
        tx.commit().await?;
        Ok((lecture_id, job_id))
    }

    /// Claim the oldest queued job for `worker`.
    pub async fn claim_job(&self, worker: &str) -> Result<Option<JobRow>, sqlx::Error> {
        let now = Utc::now();
        sqlx::query_as(
            "UPDATE jobs SET state = 'running', worker = ?, attempts = attempts + 1,
                    heartbeat_at = ?, started_at = ?, updated_at = ?, progress = 0, eta_s = NULL,
                    error = NULL
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1)
               AND state = 'queued'
             RETURNING *",
        )
        .bind(worker)
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
    }

    /// Heartbeat and progress of a running job; false when the job is no longer ours.
    pub async fn job_heartbeat(
        &self,
        id: i64,
        worker: &str,
        progress: f64,
        eta_s: Option<f64>,
    ) -> Result<bool, sqlx::Error> {
        let now = Utc::now();
        let done = sqlx::query(
            "UPDATE jobs SET heartbeat_at = ?, progress = ?, eta_s = ?, updated_at = ?
             WHERE id = ? AND worker = ? AND state = 'running'",
        )
        .bind(now)
        .bind(progress.clamp(0.0, 1.0))
        .bind(eta_s)
        .bind(now)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Finish a job and publish its output in one transaction. Returns the lecture's previous
    /// HLS path (to be removed from storage) — `Err` leaves everything as it was.
    pub async fn complete_job(
        &self,
        id: i64,
        worker: &str,
        lecture_id: i64,
        p: &Publication,
    ) -> Result<Option<String>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let now = Utc::now();
        let previous: Option<String> = sqlx::query("SELECT hls_path FROM lectures WHERE id = ?")
            .bind(lecture_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("hls_path"))
            .transpose()?
            .flatten();
        let claimed = sqlx::query(
            "UPDATE jobs SET state = 'done', progress = 1, eta_s = 0, finished_at = ?, updated_at = ?,
                    heartbeat_at = ?
             WHERE id = ? AND worker = ? AND state = 'running'",
        )
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Err(sqlx::Error::RowNotFound);
        }
        sqlx::query(
            "UPDATE lectures SET hls_path = ?, duration_s = ?, renditions = ?, audio_only = ?,
                    warnings = ?, published_at = COALESCE(published_at, ?), updated_at = ?
             WHERE id = ?",
        )
        .bind(&p.hls_path)
        .bind(p.duration_s)
        .bind(serde_json::to_string(&p.renditions).unwrap_or_else(|_| "[]".into()))
        .bind(p.audio_only)
        .bind(serde_json::to_string(&p.warnings).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(now)
        .bind(lecture_id)
        .execute(&mut *tx)
        .await?;
        reindex(&mut tx, lecture_id).await?;
        tx.commit().await?;
        Ok(previous.filter(|old| *old != p.hls_path))
    }

    /// Mark a job failed with a reason shown to organizers.
    pub async fn fail_job(&self, id: i64, reason: &str) -> Result<(), sqlx::Error> {
        let now = Utc::now();
        sqlx::query(
            "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ?, eta_s = NULL
             WHERE id = ?",
        )
        .bind(reason)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Give a job back to the queue (worker shutting down), without counting the attempt.
    pub async fn release_job(&self, id: i64, worker: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), worker = NULL,
                    progress = 0, eta_s = NULL, updated_at = ?
             WHERE id = ? AND worker = ? AND state = 'running'",
        )
        .bind(Utc::now())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs whose worker stopped sending heartbeats: queued again, or failed when out of
    /// attempts. Returns how many were recovered.
    pub async fn recover_stale_jobs(&self, stale_after: Duration) -> Result<u64, sqlx::Error> {
        let now = Utc::now();
        let cutoff = now - stale_after;
        let failed = sqlx::query(
            "UPDATE jobs SET state = 'failed', updated_at = ?, finished_at = ?,
                    error = '转码进程多次中断，已停止重试；请检查录像文件后点击“重新转码”'
             WHERE state = 'running' AND heartbeat_at < ? AND attempts >= max_attempts",
        )
        .bind(now)
        .bind(now)
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'queued', worker = NULL, progress = 0, eta_s = NULL, updated_at = ?
             WHERE state = 'running' AND heartbeat_at < ?",
        )
        .bind(now)
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        Ok(failed.rows_affected() + requeued.rows_affected())
    }

    /// Queue a failed job again with fresh attempts (the organizer's "重新转码").
    pub async fn retry_job(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, progress = 0,
                    eta_s = NULL, worker = NULL, finished_at = NULL, updated_at = ?
             WHERE id = ? AND state = 'failed'",
        )
        .bind(Utc::now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn job(&self, id: i64) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The latest job of a lecture.
    pub async fn latest_job(&self, lecture_id: i64) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM jobs WHERE lecture_id = ? ORDER BY id DESC LIMIT 1")
            .bind(lecture_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Input files still referenced by a job that is not finished.
    pub async fn input_in_use(&self, input_path: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE input_path = ? AND state IN ('queued', 'running', 'failed')",
        )
        .bind(input_path)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn lecture(&self, id: i64) -> Result<Option<LectureRow>, sqlx::Error> {
        sqlx::query_as(&format!("{LECTURE_SELECT} WHERE l.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn lecture_of_session(
        &self,
        session_id: i64,
    ) -> Result<Option<LectureRow>, sqlx::Error> {
        sqlx::query_as(&format!("{LECTURE_SELECT} WHERE l.session_id = ?"))
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Published lectures, newest session first, optionally filtered; `query` searches titles,
    /// summaries and lecturers (FTS5 trigram; LIKE for queries under three characters, which
    /// a trigram index cannot match).
    pub async fn published_lectures(
        &self,
        category: Option<&str>,
        industry: Option<&str>,
        lecturer_id: Option<i64>,
        query: Option<&str>,
    ) -> Result<Vec<LectureRow>, sqlx::Error> {
        let mut sql =
            format!("{LECTURE_SELECT} WHERE l.hls_path IS NOT NULL AND s.status = 'scheduled'");
        if category.is_some() {
            sql.push_str(" AND s.category = ?");
        }
        if industry.is_some() {
            sql.push_str(
                " AND (s.target_industries = '[]' OR EXISTS (SELECT 1 FROM json_each(s.target_industries) j WHERE j.value = ?))",
            );
        }
        if lecturer_id.is_some() {
            sql.push_str(" AND lr.id = ?");
        }
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        let fts = query.map(|q| q.chars().count() >= 3);
        match fts {
            Some(true) => sql.push_str(" AND l.id IN (SELECT rowid FROM lecture_search WHERE lecture_search MATCH ?)"),
            Some(false) => sql.push_str(
                " AND l.id IN (SELECT rowid FROM lecture_search WHERE title LIKE ? OR summary LIKE ? OR lecturer LIKE ?)",
            ),
            None => {}
        }
        sql.push_str(" ORDER BY s.starts_at IS NULL, s.starts_at DESC, l.id DESC");
        let mut q = sqlx::query_as(&sql);
        if let Some(c) = category {
            q = q.bind(c);
        }
        if let Some(i) = industry {
            q = q.bind(i);
        }
        if let Some(l) = lecturer_id {
            q = q.bind(l);
        }
        if let Some(text) = query {
            if fts == Some(true) {
                // a phrase query: quotes doubled so user input cannot inject FTS syntax
                q = q.bind(format!("\"{}\"", text.replace('"', "\"\"")));
            } else {
                let like = format!("%{}%", text.replace(['%', '_'], ""));
                q = q.bind(like.clone()).bind(like.clone()).bind(like);
            }
        }
        q.fetch_all(&self.pool).await
    }

    pub async fn set_lecture_visibility(
        &self,
        id: i64,
        visibility: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE lectures SET visibility = ?, updated_at = ? WHERE id = ?")
            .bind(visibility)
            .bind(Utc::now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Refresh the search entry of the lecture of a session (after the session was edited).
    pub async fn reindex_session(&self, session_id: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let row =
            sqlx::query("SELECT id FROM lectures WHERE session_id = ? AND hls_path IS NOT NULL")
                .bind(session_id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(row) = row {
            reindex(&mut conn, row.try_get("id")?).await?;
        }
        Ok(())
    }

    pub async fn watch(
        &self,
        user_id: i64,
        lecture_id: i64,
    ) -> Result<Option<WatchRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM watch_progress WHERE user_id = ? AND lecture_id = ?")
            .bind(user_id)
            .bind(lecture_id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn save_watch(
        &self,
        user_id: i64,
        lecture_id: i64,
        ranges: &[(f64, f64)],
        watched_s: f64,
        last_position: f64,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO watch_progress (user_id, lecture_id, ranges, watched_s, last_position, last_report, first_seen)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id, lecture_id) DO UPDATE SET
               ranges = excluded.ranges, watched_s = excluded.watched_s,
               last_position = excluded.last_position, last_report = excluded.last_report",
        )
        .bind(user_id)
        .bind(lecture_id)
        .bind(serde_json::to_string(ranges).unwrap_or_else(|_| "[]".into()))
        .bind(watched_s)
        .bind(last_position)
        .bind(at)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Everyone who watched a lecture.
    pub async fn viewers(&self, lecture_id: i64) -> Result<Vec<ViewerRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT w.user_id, u.role, u.display_name, e.uscc, w.watched_s, w.first_seen, w.last_report
             FROM watch_progress w JOIN users u ON u.id = w.user_id
             LEFT JOIN enterprises e ON e.user_id = w.user_id
             WHERE w.lecture_id = ? ORDER BY w.watched_s DESC",
        )
        .bind(lecture_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Seconds watched by an enterprise, per lecture of the given sessions.
    pub async fn watched_by(
        &self,
        user_id: i64,
    ) -> Result<Vec<(i64, f64, Option<f64>)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT l.session_id, w.watched_s, l.duration_s FROM watch_progress w
             JOIN lectures l ON l.id = w.lecture_id WHERE w.user_id = ?",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("session_id")?,
                    r.try_get("watched_s")?,
                    r.try_get("duration_s")?,
                ))
            })
            .collect()
    }
}

async fn reindex(conn: &mut sqlx::SqliteConnection, lecture_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM lecture_search WHERE rowid = ?")
        .bind(lecture_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO lecture_search (rowid, title, summary, lecturer)
         SELECT l.id, s.title, s.summary, lr.name || ' ' || lr.firm
         FROM lectures l JOIN lecture_sessions s ON s.id = l.session_id
         JOIN lecturers lr ON lr.id = s.lecturer_id WHERE l.id = ?",
    )
    .bind(lecture_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
