//! Counters of failed logins, per account and per client address, in fixed windows.
//! Kept in the database so that several replicas agree.

use super::Db;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

impl Db {
    /// Failures recorded for `scope` in the window that contains `now`.
    pub async fn login_failures(
        &self,
        scope: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<(i64, DateTime<Utc>), sqlx::Error> {
        let row = sqlx::query("SELECT window_start, failures FROM login_failures WHERE scope = ?")
            .bind(scope)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            let start: DateTime<Utc> = row.try_get("window_start")?;
            if start + window > now {
                return Ok((row.try_get("failures")?, start));
            }
        }
        Ok((0, now))
    }

    /// Count one failure for `scope`, starting a new window when the old one has passed.
    pub async fn record_login_failure(
        &self,
        scope: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<(), sqlx::Error> {
        let stale_before = now - window;
        sqlx::query(
            "INSERT INTO login_failures (scope, window_start, failures) VALUES (?, ?, 1)
             ON CONFLICT (scope) DO UPDATE SET
               failures = CASE WHEN login_failures.window_start <= ? THEN 1
                               ELSE login_failures.failures + 1 END,
               window_start = CASE WHEN login_failures.window_start <= ? THEN excluded.window_start
                                   ELSE login_failures.window_start END",
        )
        .bind(scope)
        .bind(now)
        .bind(stale_before)
        .bind(stale_before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, scope: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE scope = ?")
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
