//! The numbers `/metrics` reads from the database at scrape time (so they are right across
//! restarts and across processes sharing the database).

use super::Db;

/// Upper bounds (seconds) of the job-duration histogram buckets.
pub const JOB_DURATION_BUCKETS: [f64; 8] = [10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// Counts taken from the database for one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbCounts {
    /// Sign-ups by status (`confirmed`, `waitlisted`, `cancelled`, `removed`).
    pub registrations: Vec<(String, i64)>,
    /// Jobs by kind and state.
    pub jobs: Vec<(String, String, i64)>,
    /// Notification deliveries (mail, SMS) by channel and state.
    pub deliveries: Vec<(String, String, i64)>,
    /// Finished jobs (`done` or `failed`) by kind: cumulative bucket counts (one per
    /// [`JOB_DURATION_BUCKETS`] entry), total count and sum of durations in seconds.
    pub job_durations: Vec<JobDurations>,
}

/// The duration histogram of one job kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobDurations {
    pub kind: String,
    pub buckets: Vec<i64>,
    pub count: i64,
    pub sum_s: f64,
}

impl Db {
    /// Sign-ups, job queue and job durations, for `/metrics`.
    pub async fn metric_counts(&self) -> anyhow::Result<DbCounts> {
        let registrations: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM registrations GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let jobs: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&self.pool)
        .await?;
        let deliveries: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state
             ORDER BY channel, state",
        )
        .fetch_all(&self.pool)
        .await?;
        let times: Vec<(String, super::Ts, super::Ts)> = sqlx::query_as(
            "SELECT kind, started_at, finished_at FROM jobs
              WHERE state IN ('done', 'failed') AND started_at IS NOT NULL
                AND finished_at IS NOT NULL
              ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        // milliseconds, as the SQL it replaces rounded them
        let durations = times.into_iter().map(|(kind, started, finished)| {
            let ms = (finished.0 - started.0).num_milliseconds();
            (kind, ms as f64 / 1000.0)
        });
        let mut job_durations: Vec<JobDurations> = Vec::new();
        for (kind, seconds) in durations {
            let seconds = seconds.max(0.0);
            if job_durations.last().is_none_or(|d| d.kind != kind) {
                job_durations.push(JobDurations {
                    kind: kind.clone(),
                    buckets: vec![0; JOB_DURATION_BUCKETS.len()],
                    count: 0,
                    sum_s: 0.0,
                });
            }
            if let Some(d) = job_durations.last_mut() {
                for (i, bound) in JOB_DURATION_BUCKETS.iter().enumerate() {
                    if seconds <= *bound {
                        d.buckets[i] += 1;
                    }
                }
                d.count += 1;
                d.sum_s += seconds;
            }
        }
        Ok(DbCounts {
            registrations,
            jobs,
            deliveries,
            job_durations,
        })
    }

    /// The database writer's transactions begun and jobs run (group commit: jobs per
    /// transaction).
    pub fn writer_counts(&self) -> (u64, u64) {
        self.writer.counts()
    }

    /// Connections the pool holds, and how many of them are idle.
    pub fn pool_size(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_the_queue_and_the_durations_of_finished_jobs() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).await.expect("db");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
        let program = crate::demo::load_month(&db, today)
            .await
            .expect("demo month");
        let session = db.program_sessions(program).await.expect("sessions")[0].id;
        let (_, first) = db
            .queue_recording(session, "uploads/a.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        db.claim_job("w").await.expect("claim").expect("a job");
        assert!(db.fail_job(first, "w", "x").await.expect("fail"));
        db.queue_recording(session, "uploads/b.mp4")
            .await
            .expect("queue")
            .expect("a failed job does not block a new recording");
        // the failed job ran 45 s
        sqlx::query(
            "UPDATE jobs SET started_at = '2026-11-02 10:00:00+00:00',
                             finished_at = '2026-11-02 10:00:45+00:00' WHERE id = $1",
        )
        .bind(first)
        .execute(&db.pool)
        .await
        .expect("set times");

        let counts = db.metric_counts().await.expect("counts");
        assert!(counts
            .jobs
            .contains(&("transcode".into(), "queued".into(), 1)));
        assert!(counts
            .jobs
            .contains(&("transcode".into(), "failed".into(), 1)));
        assert_eq!(
            counts.job_durations,
            vec![JobDurations {
                kind: "transcode".into(),
                buckets: vec![0, 0, 1, 1, 1, 1, 1, 1],
                count: 1,
                sum_s: 45.0,
            }]
        );
        let (size, idle) = db.pool_size();
        assert!(size >= 1 && idle <= size as usize);
    }
}
