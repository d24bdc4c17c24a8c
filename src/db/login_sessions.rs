//! Server-side login sessions. The cookie holds a random token; the database keeps only its
//! SHA-256, so a leaked database does not leak usable sessions.

use super::Db;
use super::RowExt;
use crate::accounts::User;
use chrono::{DateTime, Utc};

impl Db {
    /// Store a new session (by the hash of its token) created at `now`.
    pub async fn create_login_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO login_sessions (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, sqlx::Error> {
        // one query, not the session and then the user: it runs on every logged-in request,
        // every private playlist and segment included (issue 19)
        let row = sqlx::query(
            // a disabled account's sessions are deleted when it is disabled; the join also
            // refuses one opened by a login that raced the disabling
            "SELECT u.id, u.role, u.display_name, u.username, s.expires_at
             FROM login_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: DateTime<Utc> = row.time("expires_at")?;
        if expires_at <= now {
            return Ok(None);
        }
        super::accounts::user_from_row(&row).map(Some)
    }

    pub async fn delete_login_session(&self, token_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// End every session of `user_id`; returns how many there were.
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// End every session of `user_id` but the one stored as `keep_hash`; returns how many
    /// ended.
    pub async fn delete_other_sessions(
        &self,
        user_id: i64,
        keep_hash: &str,
    ) -> Result<u64, sqlx::Error> {
        let done =
            sqlx::query("DELETE FROM login_sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id)
                .bind(keep_hash)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    /// Remove expired sessions (run periodically).
    pub async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1")
            .bind(crate::db::ts(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
