//! Live lectures: stream keys (current and retired) and the log of refused publish attempts.

use super::Db;
use chrono::{DateTime, Utc};

/// A session's keys: the current one and those it had before rotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub session_id: i64,
    pub current: String,
    pub retired: Vec<String>,
}

/// One refused publish attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefusalRow {
    pub id: i64,
    pub session_id: Option<i64>,
    pub protocol: String,
    /// The refusal's stable code (`unknown_key`, `too_early`, …).
    pub reason: String,
    pub remote: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub refused_at: DateTime<Utc>,
}

impl Db {
    /// The session's current stream key, creating it from `fresh` when it has none yet
    /// (one statement: two callers racing both get the same key).
    pub async fn ensure_stream_key(
        &self,
        session_id: i64,
        fresh: &str,
        now: DateTime<Utc>,
    ) -> Result<String, sqlx::Error> {
        sqlx::query(
            "INSERT INTO live_stream_keys (session_id, stream_key, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (session_id) DO NOTHING",
        )
        .bind(session_id)
        .bind(fresh)
        .bind(crate::db::ts(now))
        .execute(&self.pool)
        .await?;
        sqlx::query_scalar("SELECT stream_key FROM live_stream_keys WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&self.pool)
            .await
    }

    /// Replace the session's key with `fresh`; the old one is kept as retired so that a
    /// publisher presenting it is told it was replaced. Returns the new key.
    pub async fn rotate_stream_key(
        &self,
        session_id: i64,
        fresh: &str,
        now: DateTime<Utc>,
    ) -> Result<String, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let old: Option<String> =
            sqlx::query_scalar("SELECT stream_key FROM live_stream_keys WHERE session_id = $1")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(old) = old {
            sqlx::query(
                "INSERT INTO live_retired_keys (stream_key, session_id, retired_at) VALUES ($1, $2, $3)
                 ON CONFLICT (stream_key) DO NOTHING",
            )
            .bind(old)
            .bind(session_id)
            .bind(crate::db::ts(now))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO live_stream_keys (session_id, stream_key, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (session_id) DO UPDATE SET stream_key = excluded.stream_key,
                                                    created_at = excluded.created_at",
        )
        .bind(session_id)
        .bind(fresh)
        .bind(crate::db::ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(fresh.to_string())
    }

    /// The keys of the session a presented key belongs to (as its current or a retired key).
    pub async fn keys_by_stream_key(&self, key: &str) -> Result<Option<SessionKeys>, sqlx::Error> {
        let session_id: Option<i64> = sqlx::query_scalar(
            "SELECT session_id FROM live_stream_keys WHERE stream_key = $1
             UNION ALL
             SELECT session_id FROM live_retired_keys WHERE stream_key = $2
             LIMIT 1",
        )
        .bind(key)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(session_id) = session_id else {
            return Ok(None);
        };
        let current: Option<String> =
            sqlx::query_scalar("SELECT stream_key FROM live_stream_keys WHERE session_id = $1")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        let retired: Vec<String> = sqlx::query_scalar(
            "SELECT stream_key FROM live_retired_keys WHERE session_id = $1 ORDER BY retired_at",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(current.map(|current| SessionKeys {
            session_id,
            current,
            retired,
        }))
    }

    /// Record a refused publish attempt.
    pub async fn record_live_refusal(
        &self,
        session_id: Option<i64>,
        protocol: &str,
        reason: &str,
        remote: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO live_refusals (session_id, protocol, reason, remote, refused_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session_id)
        .bind(protocol)
        .bind(reason)
        .bind(remote)
        .bind(crate::db::ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest refused attempts for a session, newest first.
    pub async fn live_refusals(
        &self,
        session_id: i64,
        limit: i64,
    ) -> Result<Vec<RefusalRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, session_id, protocol, reason, remote, refused_at FROM live_refusals
             WHERE session_id = $1 ORDER BY refused_at DESC, id DESC LIMIT $2",
        )
        .bind(session_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }
}

/// Where a live is (`lives.state`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum LiveRowState {
    /// A publisher is streaming.
    Live,
    /// The publisher went away; a reconnect within the grace period continues the live.
    Grace,
    /// The replay job is queued or running.
    Archiving,
    /// The replay is published.
    Archived,
    /// The server stopped during the live; the replay job was queued at restart.
    Interrupted,
}

/// One live of a session.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LiveRow {
    pub id: i64,
    pub session_id: i64,
    pub lecture_id: i64,
    pub state: LiveRowState,
    /// Relative to the media root: `live/{session_id}/{id}`.
    pub dir: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub started_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub ended_at: Option<DateTime<Utc>>,
    pub peak_viewers: i64,
}

/// One publisher connection of a live.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PeriodRow {
    pub live_id: i64,
    pub period: i64,
    pub protocol: String,
    /// `flv` or `mpegts`.
    pub format: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub started_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// The folder of live `live_id` of `session_id`, relative to the media root.
pub fn live_dir_key(session_id: i64, live_id: i64) -> String {
    format!("live/{session_id}/{live_id}")
}

const LIVE_COLUMNS: &str =
    "id, session_id, lecture_id, state, dir, started_at, ended_at, peak_viewers";

impl Db {
    /// A new live of `session_id` with its first period: the session's lecture is created if
    /// it has none (a live lecture is for enrolled viewers unless the organizer says
    /// otherwise), in one transaction.
    pub async fn start_live(
        &self,
        session_id: i64,
        protocol: &str,
        format: &str,
        now: DateTime<Utc>,
    ) -> Result<LiveRow, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let lecture_id: i64 = sqlx::query_scalar(
            "INSERT INTO lectures (session_id, visibility, created_at, updated_at)
             VALUES ($1, 'enrolled', $2, $3)
             ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(session_id)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO lives (session_id, lecture_id, state, dir, started_at, updated_at,
                                heartbeat_at)
             VALUES ($1, $2, 'live', '', $3, $4, $5) RETURNING id",
        )
        .bind(session_id)
        .bind(lecture_id)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE lives SET dir = $1 WHERE id = $2")
            .bind(live_dir_key(session_id, id))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_period(&mut tx, id, 0, protocol, format, now).await?;
        let row = sqlx::query_as(&format!("SELECT {LIVE_COLUMNS} FROM lives WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A reconnect within grace: period `period` of live `live_id` begins, the live is live
    /// again.
    pub async fn add_live_period(
        &self,
        live_id: i64,
        period: i64,
        protocol: &str,
        format: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        insert_period(&mut tx, live_id, period, protocol, format, now).await?;
        sqlx::query(
            "UPDATE lives SET state = 'live', ended_at = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(crate::db::ts(now))
        .bind(live_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The publisher of `period` went away: the live waits for a reconnect.
    pub async fn end_live_period(
        &self,
        live_id: i64,
        period: i64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE live_periods SET ended_at = $1 WHERE live_id = $2 AND period = $3")
            .bind(crate::db::ts(now))
            .bind(live_id)
            .bind(period)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE lives SET state = 'grace', ended_at = $1, updated_at = $2
             WHERE id = $3 AND state = 'live'",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(live_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The grace period of live `live_id` is over: it is archived by a `live_archive` job,
    /// queued in the same transaction. Returns the job id, `None` when the live was not in
    /// grace (already archiving).
    pub async fn archive_live(
        &self,
        live_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE lives SET state = 'archiving', updated_at = $1 WHERE id = $2 AND state = 'grace'",
        )
        .bind(crate::db::ts(now))
        .bind(live_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(None);
        }
        let job = queue_archive(&mut tx, live_id, now).await?;
        tx.commit().await?;
        Ok(Some(job))
    }

    /// `viewers` (non-personal keys) fetched playlists of live `live_id` from this replica,
    /// which does not ingest it, until `now`.
    pub async fn record_remote_viewers(
        &self,
        live_id: i64,
        viewers: &[u64],
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        if viewers.is_empty() {
            return Ok(());
        }
        let (_turn, mut tx) = self.begin_write().await?;
        for viewer in viewers {
            sqlx::query(
                "INSERT INTO live_viewers (live_id, viewer, seen_at) VALUES ($1, $2, $3)
                 ON CONFLICT (live_id, viewer) DO UPDATE SET seen_at = excluded.seen_at",
            )
            .bind(live_id)
            .bind(format!("{viewer:016x}"))
            .bind(crate::db::ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The viewers other replicas saw on live `live_id` since `since`.
    pub async fn remote_viewers(
        &self,
        live_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<u64>, sqlx::Error> {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT viewer FROM live_viewers WHERE live_id = $1 AND seen_at >= $2",
        )
        .bind(live_id)
        .bind(crate::db::ts(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(keys
            .iter()
            .filter_map(|k| u64::from_str_radix(k, 16).ok())
            .collect())
    }

    /// Delete viewer rows last seen before `before`.
    pub async fn forget_remote_viewers(&self, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        // a read first: this runs every few seconds, and an idle server takes no write lock
        let old: Option<i64> =
            sqlx::query_scalar("SELECT live_id FROM live_viewers WHERE seen_at < $1 LIMIT 1")
                .bind(crate::db::ts(before))
                .fetch_optional(&self.pool)
                .await?;
        if old.is_none() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM live_viewers WHERE seen_at < $1")
            .bind(crate::db::ts(before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// The process running these lives is alive: their heartbeat is `now`.
    pub async fn beat_lives(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        for &id in ids {
            sqlx::query(
                "UPDATE lives SET heartbeat_at = $1 WHERE id = $2 AND state IN ('live', 'grace')",
            )
            .bind(crate::db::ts(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Every live whose process stopped while running it (state `live` or `grace`, heartbeat
    /// older than `stale_before`: the process was killed, or stopped without ending it) is
    /// marked interrupted and its replay job queued, in one transaction. Lives other replicas
    /// are running keep their fresh heartbeat and are left alone. Returns the lives.
    pub async fn recover_lives(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<i64>, sqlx::Error> {
        // a read first: this runs every few seconds, and an idle server takes no write lock
        let stale: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM lives WHERE state IN ('live', 'grace')
               AND (heartbeat_at IS NULL OR heartbeat_at < $1) LIMIT 1",
        )
        .bind(crate::db::ts(stale_before))
        .fetch_optional(&self.pool)
        .await?;
        if stale.is_none() {
            return Ok(Vec::new());
        }
        let (_turn, mut tx) = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM lives WHERE state IN ('live', 'grace')
               AND (heartbeat_at IS NULL OR heartbeat_at < $1) ORDER BY id",
        )
        .bind(crate::db::ts(stale_before))
        .fetch_all(&mut *tx)
        .await?;
        for &id in &ids {
            sqlx::query(
                "UPDATE lives SET state = 'interrupted', ended_at = COALESCE(ended_at, $1),
                        updated_at = $2 WHERE id = $3",
            )
            .bind(crate::db::ts(now))
            .bind(crate::db::ts(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE live_periods SET ended_at = $1 WHERE live_id = $2 AND ended_at IS NULL",
            )
            .bind(crate::db::ts(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            queue_archive(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn live(&self, live_id: i64) -> Result<Option<LiveRow>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {LIVE_COLUMNS} FROM lives WHERE id = $1"))
            .bind(live_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The session's most recent live.
    pub async fn latest_live(&self, session_id: i64) -> Result<Option<LiveRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {LIVE_COLUMNS} FROM lives WHERE session_id = $1 ORDER BY id DESC LIMIT 1"
        ))
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// The periods of a live, in order.
    pub async fn live_periods(&self, live_id: i64) -> Result<Vec<PeriodRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT live_id, period, protocol, format, started_at, ended_at FROM live_periods
             WHERE live_id = $1 ORDER BY period",
        )
        .bind(live_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Record how many watched live `live_id` at `at` (and raise the peak).
    pub async fn record_live_viewers(
        &self,
        live_id: i64,
        at: DateTime<Utc>,
        viewers: i64,
    ) -> Result<(), sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO live_viewer_samples (live_id, at, viewers) VALUES ($1, $2, $3)
             ON CONFLICT (live_id, at) DO UPDATE SET viewers = excluded.viewers",
        )
        .bind(live_id)
        .bind(crate::db::ts(at))
        .bind(viewers)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE lives SET peak_viewers = $1 WHERE id = $2 AND peak_viewers < $1")
            .bind(viewers)
            .bind(live_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Viewers over time of a live, oldest first.
    pub async fn live_viewer_samples(
        &self,
        live_id: i64,
    ) -> Result<Vec<(DateTime<Utc>, i64)>, sqlx::Error> {
        let rows: Vec<(super::Ts, i64)> = sqlx::query_as(
            "SELECT at, viewers FROM live_viewer_samples WHERE live_id = $1 ORDER BY at",
        )
        .bind(live_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(at, n)| (at.0, n)).collect())
    }
}

async fn insert_period(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    live_id: i64,
    period: i64,
    protocol: &str,
    format: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_periods (live_id, period, protocol, format, started_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(live_id)
    .bind(period)
    .bind(protocol)
    .bind(format)
    .bind(crate::db::ts(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queue the `live_archive` job of live `live_id` (inside the caller's transaction).
async fn queue_archive(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    live_id: i64,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, lecture_id, input_path, live_id, state, created_at, updated_at)
         SELECT 'live_archive', lecture_id, dir, id, 'queued', $1, $2 FROM lives WHERE id = $3
         RETURNING id",
    )
    .bind(crate::db::ts(now))
    .bind(crate::db::ts(now))
    .bind(live_id)
    .fetch_one(&mut **tx)
    .await
}
