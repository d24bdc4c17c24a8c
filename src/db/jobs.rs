//! The durable transcode job queue.
//!
//! A worker claims the oldest queued job with one conditional UPDATE (on PostgreSQL the same
//! statement with `FOR UPDATE SKIP LOCKED` in the subquery), so two workers never run the
//! same job. A running job's worker writes a heartbeat; a job whose heartbeat went stale (its
//! worker died) is queued again, or failed once it has used its attempts. Every update of a
//! running job names its worker, so a worker whose job was taken away cannot touch the new
//! attempt.

use super::lectures::{reindex, PublishedRendition};
use super::notifications;
use super::Db;
use super::Json;
use crate::archive::LectureVersion;
use crate::notify::Event;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

/// Where a job is in its life (`jobs.state`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker is transcoding.
    Running,
    /// Published.
    Done,
    /// Stopped with a reason; the organizer may run it again.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    /// Chinese label for the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            JobState::Queued => "排队中",
            JobState::Running => "转码中",
            JobState::Done => "已完成",
            JobState::Failed => "失败",
        }
    }

    /// The CSS class of the state's tag.
    pub fn css(self) -> &'static str {
        match self {
            JobState::Queued | JobState::Running => "warn",
            JobState::Done => "ok",
            JobState::Failed => "bad",
        }
    }

    /// Done or failed: nothing more happens unless the organizer re-runs it.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// A job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub lecture_id: i64,
    /// The upload to transcode: a storage key (`uploads/…`); for `live_archive`, the live's
    /// folder (`live/{session}/{live}`).
    pub input_path: String,
    /// The live a `live_archive` job archives.
    pub live_id: Option<i64>,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub progress: f64,
    pub eta_s: Option<f64>,
    pub error: Option<String>,
    pub worker: Option<String>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub heartbeat_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub started_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub finished_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    /// The transcoding path taken (`remux` or `transcode`), once the transcoder decided.
    pub path: Option<String>,
    /// Why (a stable code, see `media::transcode::PathReason`).
    pub path_reason: Option<String>,
    /// The organizer's line, e.g. 快速路径：复制原视频（GOP 1.0 s）.
    pub path_note: Option<String>,
}

impl JobRow {
    /// The version this job writes.
    pub fn version(&self) -> LectureVersion {
        LectureVersion::new(self.lecture_id, self.id)
    }
}

/// What the organizer's job list is narrowed to (`None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// In the session's or the program's title, or the job's number.
    pub text: Option<String>,
    pub state: Option<JobState>,
}

/// A job as the organizer's list shows it, with the session it is for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobListRow {
    pub id: i64,
    pub kind: String,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub progress: f64,
    pub error: Option<String>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub finished_at: Option<DateTime<Utc>>,
    pub session_id: i64,
    pub session_title: String,
    pub program_title: String,
    /// The program's zone, in which the job's times are shown.
    pub program_timezone: String,
}

/// What a finished transcode publishes.
#[derive(Debug, Clone)]
pub struct Publication {
    pub version: LectureVersion,
    pub duration_s: f64,
    pub renditions: Vec<PublishedRendition>,
    pub audio_only: bool,
    pub warnings: Vec<String>,
}

/// Tell the active registrants of the lecture's session (unless it was cancelled) that its
/// recording or replay can be watched, in the publishing transaction.
async fn tell_published(
    conn: &mut AnyConnection,
    lecture_id: i64,
    version: LectureVersion,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let session_id: Option<i64> = sqlx::query_scalar(
        "SELECT l.session_id FROM lectures l JOIN lecture_sessions s ON s.id = l.session_id
         WHERE l.id = $1 AND s.status = 'scheduled'",
    )
    .bind(lecture_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(session_id) = session_id else {
        return Ok(());
    };
    let Some(session) = notifications::session_ref(conn, session_id).await? else {
        return Ok(());
    };
    for (enterprise_id, _, _) in notifications::active_registrants(conn, session_id).await? {
        let event = Event::RecordingPublished {
            session: session.clone(),
            lecture_id,
            version: version.dir_name(),
        };
        notifications::enqueue(conn, enterprise_id, &event, now).await?;
    }
    Ok(())
}

impl Db {
    /// The queued or running job of the lecture of session `session_id`, if any.
    pub async fn active_job_of_session(&self, session_id: i64) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT j.id FROM jobs j JOIN lectures l ON l.id = j.lecture_id
              WHERE l.session_id = $1 AND j.state IN ('queued', 'running')
              ORDER BY j.id LIMIT 1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Store an uploaded recording for a session: create its lecture if needed and queue a
    /// transcode job, in one transaction. Returns (lecture id, job id), or `None` when the
    /// lecture already has a job queued or running (checked in the same transaction, so two
    /// uploads at once cannot both queue).
    pub async fn queue_recording(
        &self,
        session_id: i64,
        input_path: &str,
    ) -> Result<Option<(i64, i64)>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let active: Option<i64> = sqlx::query_scalar(
            "SELECT j.id FROM jobs j JOIN lectures l ON l.id = j.lecture_id
              WHERE l.session_id = $1 AND j.state IN ('queued', 'running') LIMIT 1",
        )
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_some() {
            return Ok(None);
        }
        let now = Utc::now();
        let row = sqlx::query(
            "INSERT INTO lectures (session_id, created_at, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(session_id)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let lecture_id: i64 = row.try_get("id")?;
        let row = sqlx::query(
            "INSERT INTO jobs (kind, lecture_id, input_path, state, created_at, updated_at)
             VALUES ('transcode', $1, $2, 'queued', $3, $4) RETURNING id",
        )
        .bind(lecture_id)
        .bind(input_path)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let job_id: i64 = row.try_get("id")?;
        tx.commit().await?;
        Ok(Some((lecture_id, job_id)))
    }

    /// Claim the oldest queued job for `worker`.
    pub async fn claim_job(&self, worker: &str) -> Result<Option<JobRow>, sqlx::Error> {
        self.claim_job_except(worker, &[]).await
    }

    /// [`claim_job`](Self::claim_job), passing over the jobs `skip` (ones this worker cannot
    /// run, see `media::worker`).
    pub async fn claim_job_except(
        &self,
        worker: &str,
        skip: &[i64],
    ) -> Result<Option<JobRow>, sqlx::Error> {
        let now = Utc::now();
        let skip_locked = self.backend().skip_locked();
        // ids are integers: listed in the text, no binding needed
        let except = if skip.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = skip.iter().map(i64::to_string).collect();
            format!(" AND id NOT IN ({})", ids.join(", "))
        };
        sqlx::query_as(&format!(
            "UPDATE jobs SET state = 'running', worker = $1, attempts = attempts + 1,
                    heartbeat_at = $2, started_at = $3, updated_at = $4, progress = 0, eta_s = NULL,
                    error = NULL
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued'{except}
                         ORDER BY id LIMIT 1{skip_locked})
               AND state = 'queued'
             RETURNING *"
        ))
        .bind(worker)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
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
            "UPDATE jobs SET heartbeat_at = $1, progress = $2, eta_s = $3, updated_at = $4
             WHERE id = $5 AND worker = $6 AND state = 'running'",
        )
        .bind(crate::db::ts(now))
        .bind(progress.clamp(0.0, 1.0))
        .bind(eta_s)
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Finish a job and publish its output in one transaction. Returns the lecture's previous
    /// version (to be removed from storage) — `Err` leaves everything as it was.
    pub async fn complete_job(
        &self,
        id: i64,
        worker: &str,
        lecture_id: i64,
        p: &Publication,
    ) -> Result<Option<LectureVersion>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let now = Utc::now();
        let previous: Option<LectureVersion> =
            sqlx::query_scalar("SELECT hls_path FROM lectures WHERE id = $1")
                .bind(lecture_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        let claimed = sqlx::query(
            "UPDATE jobs SET state = 'done', progress = 1, eta_s = 0, finished_at = $1, updated_at = $2,
                    heartbeat_at = $3
             WHERE id = $4 AND worker = $5 AND state = 'running'",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Err(sqlx::Error::RowNotFound);
        }
        sqlx::query(
            "UPDATE lectures SET hls_path = $1, duration_s = $2, renditions = $3, audio_only = $4,
                    warnings = $5, published_at = COALESCE(published_at, $6), updated_at = $7
             WHERE id = $8",
        )
        .bind(p.version)
        .bind(p.duration_s)
        .bind(Json(&p.renditions))
        .bind(p.audio_only)
        .bind(Json(&p.warnings))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(lecture_id)
        .execute(&mut *tx)
        .await?;
        reindex(&mut tx, lecture_id).await?;
        // a live's replay: the live is archived with the same commit
        sqlx::query(
            "UPDATE lives SET state = 'archived', updated_at = $1
             WHERE id = (SELECT live_id FROM jobs WHERE id = $2)",
        )
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // the first published version is news to the session's registrants; a later one
        // (a re-upload, a fixed replay) replaces what they can already watch
        if previous.is_none() {
            tell_published(&mut tx, lecture_id, p.version, now).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(previous.filter(|old| *old != p.version))
    }

    /// Record the path `worker`'s running job took (see migration 0014); false when the job is
    /// no longer that worker's.
    pub async fn record_job_path(
        &self,
        id: i64,
        worker: &str,
        path: &str,
        reason: &str,
        note: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET path = $1, path_reason = $2, path_note = $3, updated_at = $4
             WHERE id = $5 AND worker = $6 AND state = 'running'",
        )
        .bind(path)
        .bind(reason)
        .bind(note)
        .bind(crate::db::ts(Utc::now()))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mark `worker`'s running job failed with a reason shown to organizers; false when the
    /// job is no longer that worker's (declared stale and taken over, or already finished).
    pub async fn fail_job(&self, id: i64, worker: &str, reason: &str) -> Result<bool, sqlx::Error> {
        let now = Utc::now();
        let done = sqlx::query(
            "UPDATE jobs SET state = 'failed', error = $1, finished_at = $2, updated_at = $3, eta_s = NULL
             WHERE id = $4 AND worker = $5 AND state = 'running'",
        )
        .bind(reason)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give a job back to the queue (worker shutting down), without counting the attempt.
    pub async fn release_job(&self, id: i64, worker: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET state = 'queued',
                    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, worker = NULL,
                    progress = 0, eta_s = NULL, updated_at = $1
             WHERE id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(crate::db::ts(Utc::now()))
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
            "UPDATE jobs SET state = 'failed', updated_at = $1, finished_at = $2,
                    error = '转码进程多次中断，已停止重试；请检查录像文件后点击“重新转码”'
             WHERE state = 'running' AND heartbeat_at < $3 AND attempts >= max_attempts",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(cutoff))
        .execute(&self.pool)
        .await?;
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'queued', worker = NULL, progress = 0, eta_s = NULL, updated_at = $1
             WHERE state = 'running' AND heartbeat_at < $2",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(cutoff))
        .execute(&self.pool)
        .await?;
        Ok(failed.rows_affected() + requeued.rows_affected())
    }

    /// Queue a failed job again with fresh attempts (the organizer's "重新转码"); false when
    /// the job is not failed.
    pub async fn retry_job(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, progress = 0,
                    eta_s = NULL, worker = NULL, finished_at = NULL, updated_at = $1
             WHERE id = $2 AND state = 'failed'",
        )
        .bind(crate::db::ts(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Jobs matching `filter`, the newest first: `limit` rows from `offset`, and how many
    /// match.
    pub async fn job_list(
        &self,
        filter: &JobFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobListRow>, i64), sqlx::Error> {
        let from_sql = "FROM jobs j JOIN lectures l ON l.id = j.lecture_id
             JOIN lecture_sessions s ON s.id = l.session_id
             JOIN programs p ON p.id = s.program_id
             WHERE ($1 IS NULL OR s.title LIKE '%' || $1 || '%' ESCAPE '\\'
                    OR p.title LIKE '%' || $1 || '%' ESCAPE '\\'
                    OR CAST(j.id AS TEXT) = $1)
               AND ($2 IS NULL OR j.state = $2)";
        let text = filter.text.as_deref().map(super::accounts::like_escaped);
        let state = filter.state.map(JobState::as_str);
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {from_sql}"))
            .bind(text.as_deref())
            .bind(state)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT j.id, j.kind, j.state, j.attempts, j.max_attempts, j.progress, j.error,
                    j.created_at, j.finished_at, s.id AS session_id, s.title AS session_title,
                    p.title AS program_title, p.timezone AS program_timezone
             {from_sql} ORDER BY j.id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(text.as_deref())
        .bind(state)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows, total))
    }

    pub async fn job(&self, id: i64) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The latest job of a lecture.
    pub async fn latest_job(&self, lecture_id: i64) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM jobs WHERE lecture_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(lecture_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Whether an upload is still needed: by a queued or running job, or by a failed job the
    /// organizer may still re-run. A failed job is failed for good once a later job of its
    /// lecture has been published: the newer recording replaced it.
    pub async fn input_in_use(&self, input_path: &str) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (
                SELECT 1 FROM jobs j WHERE j.input_path = $1 AND (
                    j.state IN ('queued', 'running')
                    OR (j.state = 'failed' AND NOT EXISTS (
                        SELECT 1 FROM jobs d
                        WHERE d.lecture_id = j.lecture_id AND d.state = 'done' AND d.id > j.id))))",
        )
        .bind(input_path)
        .fetch_one(&self.pool)
        .await
        .map(|f: super::Flag| f.0)
    }

    /// The uploads of a lecture's finished jobs up to `job_id` that no job needs any more
    /// (see [`Db::input_in_use`]): to be deleted from storage once `job_id` has finished.
    pub async fn unused_uploads(
        &self,
        lecture_id: i64,
        job_id: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        let finished: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT input_path FROM jobs
             WHERE lecture_id = $1 AND id <= $2 AND state IN ('done', 'failed') ORDER BY input_path",
        )
        .bind(lecture_id)
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        let mut unused = Vec::new();
        for input in finished {
            if !self.input_in_use(&input).await? {
                unused.push(input);
            }
        }
        Ok(unused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::lectures::PublishedRendition;

    /// A database with the demo month; returns one of its sessions.
    async fn db_with_session() -> (tempfile::TempDir, Db, i64) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).await.expect("db");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
        let program = crate::demo::load_month(&db, today)
            .await
            .expect("demo month");
        let sessions = db.program_sessions(program).await.expect("sessions");
        (dir, db, sessions[0].id)
    }

    fn publication(lecture_id: i64, job_id: i64) -> Publication {
        Publication {
            version: LectureVersion::new(lecture_id, job_id),
            duration_s: 6.0,
            renditions: vec![PublishedRendition {
                name: "360p".into(),
                width: 640,
                height: 360,
                bandwidth: 800_000,
            }],
            audio_only: false,
            warnings: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_publication_tells_registrants_once_and_a_refused_one_nobody() {
        let (_dir, db, session) = db_with_session().await;
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, role, display_name, password_hash, created_at)
             VALUES (900, 'enterprise', 'E', 'x', $1);
             INSERT INTO enterprises (user_id, name, uscc, industry, contact_name, mobile,
                                      calendar_token)
             VALUES (900, 'E', '91330100MA0000000X', 'E', 'C', '13900000900', 't900')",
        )
        .bind(crate::db::ts(now))
        .execute(&db.pool)
        .await
        .expect("enterprise");
        db.sign_up(session, 900, 1, &[], now)
            .await
            .expect("sign up");
        let told = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notifications
                 WHERE user_id = 900 AND kind = 'recording_published'",
            )
            .fetch_one(&db.pool)
            .await
            .expect("count")
        };
        let (lecture, job) = db
            .queue_recording(session, "uploads/a.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        db.claim_job("w1").await.expect("claim").expect("job");
        // a worker that lost the job cannot publish: the transaction rolls back, nobody is told
        assert!(db
            .complete_job(job, "w2", lecture, &publication(lecture, job))
            .await
            .is_err());
        assert_eq!(told().await, 0);
        db.complete_job(job, "w1", lecture, &publication(lecture, job))
            .await
            .expect("publish");
        assert_eq!(told().await, 1);
        // a newer version replaces the one registrants were told about
        let (_, second) = db
            .queue_recording(session, "uploads/b.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        db.claim_job("w1").await.expect("claim").expect("job");
        db.complete_job(second, "w1", lecture, &publication(lecture, second))
            .await
            .expect("publish");
        assert_eq!(told().await, 1);
    }

    #[tokio::test]
    async fn only_the_running_worker_may_fail_its_job() {
        let (_dir, db, session) = db_with_session().await;
        let (_, job) = db
            .queue_recording(session, "uploads/a.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        let claimed = db.claim_job("w1").await.expect("claim").expect("a job");
        assert_eq!((claimed.id, claimed.state), (job, JobState::Running));
        assert!(!db.fail_job(job, "w2", "x").await.expect("fail"));
        assert_eq!(
            db.job(job).await.expect("job").expect("row").state,
            JobState::Running
        );
        assert!(db.fail_job(job, "w1", "坏文件").await.expect("fail"));
        let failed = db.job(job).await.expect("job").expect("row");
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.error.as_deref(), Some("坏文件"));
        assert!(!db.fail_job(job, "w1", "again").await.expect("fail"));
    }

    #[tokio::test]
    async fn uploads_are_released_once_published_or_superseded() {
        let (_dir, db, session) = db_with_session().await;
        // a failed job keeps its upload: the organizer may re-run it
        let (lecture, first) = db
            .queue_recording(session, "uploads/a.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        db.claim_job("w").await.expect("claim").expect("first");
        assert!(db.fail_job(first, "w", "x").await.expect("fail"));
        assert!(db.input_in_use("uploads/a.mp4").await.expect("in use"));
        assert!(db
            .unused_uploads(lecture, first)
            .await
            .expect("unused")
            .is_empty());

        // a later recording is published: the failure is for good, both uploads can go
        let (_, second) = db
            .queue_recording(session, "uploads/b.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        db.claim_job("w").await.expect("claim").expect("second");
        let previous = db
            .complete_job(second, "w", lecture, &publication(lecture, second))
            .await
            .expect("publish");
        assert_eq!(previous, None);
        assert!(!db.input_in_use("uploads/a.mp4").await.expect("in use"));
        assert_eq!(
            db.unused_uploads(lecture, second).await.expect("unused"),
            vec!["uploads/a.mp4".to_string(), "uploads/b.mp4".to_string()]
        );

        // the published version reads back; a queued re-upload keeps its file
        let row = db.lecture(lecture).await.expect("lecture").expect("row");
        assert_eq!(row.published, Some(LectureVersion::new(lecture, second)));
        assert_eq!(row.renditions()[0].name, "360p");
        let (_, third) = db
            .queue_recording(session, "uploads/c.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        assert!(db.input_in_use("uploads/c.mp4").await.expect("in use"));
        assert!(!db
            .unused_uploads(lecture, third)
            .await
            .expect("unused")
            .contains(&"uploads/c.mp4".to_string()));
    }
}
