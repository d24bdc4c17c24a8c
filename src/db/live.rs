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
            "INSERT INTO live_stream_keys (session_id, stream_key, created_at) VALUES (?, ?, ?)
             ON CONFLICT (session_id) DO NOTHING",
        )
        .bind(session_id)
        .bind(fresh)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query_scalar("SELECT stream_key FROM live_stream_keys WHERE session_id = ?")
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
            sqlx::query_scalar("SELECT stream_key FROM live_stream_keys WHERE session_id = ?")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(old) = old {
            sqlx::query(
                "INSERT INTO live_retired_keys (stream_key, session_id, retired_at) VALUES (?, ?, ?)
                 ON CONFLICT (stream_key) DO NOTHING",
            )
            .bind(old)
            .bind(session_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO live_stream_keys (session_id, stream_key, created_at) VALUES (?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET stream_key = excluded.stream_key,
                                                    created_at = excluded.created_at",
        )
        .bind(session_id)
        .bind(fresh)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(fresh.to_string())
    }

    /// The keys of the session a presented key belongs to (as its current or a retired key).
    pub async fn keys_by_stream_key(&self, key: &str) -> Result<Option<SessionKeys>, sqlx::Error> {
        let session_id: Option<i64> = sqlx::query_scalar(
            "SELECT session_id FROM live_stream_keys WHERE stream_key = ?
             UNION ALL
             SELECT session_id FROM live_retired_keys WHERE stream_key = ?
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
            sqlx::query_scalar("SELECT stream_key FROM live_stream_keys WHERE session_id = ?")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        let retired: Vec<String> = sqlx::query_scalar(
            "SELECT stream_key FROM live_retired_keys WHERE session_id = ? ORDER BY retired_at",
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
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(session_id)
        .bind(protocol)
        .bind(reason)
        .bind(remote)
        .bind(now)
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
             WHERE session_id = ? ORDER BY refused_at DESC, id DESC LIMIT ?",
        )
        .bind(session_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }
}
