//! Counters of login attempts, per account (or unknown login) and per client address, in fixed
//! windows. Kept in the database so that several replicas agree.
//!
//! An attempt is *reserved* before its password is checked: one statement adds it to the
//! counter only while the counter is under the limit and says whether it did. However many
//! attempts arrive at once, no more than the limit are granted per window; a successful login
//! gives its reservation back.

use super::Db;
use super::RowExt;
use chrono::{DateTime, Duration, Utc};

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted in the window that started at `window_start`.
    Granted { window_start: DateTime<Utc> },
    /// The window that started at `window_start` is full.
    Refused { window_start: DateTime<Utc> },
}

impl Db {
    /// Count one attempt for `scope` if fewer than `limit` are counted in the window that
    /// contains `now` (a window older than `window` is restarted at `now`). One statement,
    /// `INSERT … ON CONFLICT DO UPDATE … WHERE failures < limit RETURNING`, decides and counts,
    /// so concurrent attempts, of this process or of another replica, cannot all pass.
    pub async fn reserve_login_attempt(
        &self,
        scope: &str,
        now: DateTime<Utc>,
        window: Duration,
        limit: i64,
    ) -> Result<Reservation, sqlx::Error> {
        let stale_before = now - window;
        let (_turn, mut tx) = self.begin_write().await?;
        let granted = sqlx::query(
            "INSERT INTO login_failures (scope, window_start, failures) VALUES ($1, $2, 1)
             ON CONFLICT (scope) DO UPDATE SET
               failures = CASE WHEN login_failures.window_start <= $3 THEN 1
                               ELSE login_failures.failures + 1 END,
               window_start = CASE WHEN login_failures.window_start <= $3
                                   THEN excluded.window_start
                                   ELSE login_failures.window_start END
             WHERE login_failures.window_start <= $3 OR login_failures.failures < $4
             RETURNING window_start",
        )
        .bind(scope)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(stale_before))
        .bind(limit)
        .fetch_optional(&mut *tx)
        .await?;
        let answer = match granted {
            Some(row) => Reservation::Granted {
                window_start: row.time("window_start")?,
            },
            None => {
                let row = sqlx::query("SELECT window_start FROM login_failures WHERE scope = $1")
                    .bind(scope)
                    .fetch_one(&mut *tx)
                    .await?;
                Reservation::Refused {
                    window_start: row.time("window_start")?,
                }
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    /// Give back one attempt reserved for `scope` in the window that started at
    /// `window_start` (nothing when that window has been restarted since).
    pub async fn release_login_attempt(
        &self,
        scope: &str,
        window_start: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE login_failures SET failures = failures - 1
             WHERE scope = $1 AND window_start = $2 AND failures > 0",
        )
        .bind(scope)
        .bind(crate::db::ts(window_start))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forget every attempt counted for `scope`.
    pub async fn clear_login_failures(&self, scope: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE scope = $1")
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_stop_at_the_limit_until_the_window_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let start = Utc::now();
        let window = Duration::minutes(15);
        for _ in 0..3 {
            let r = db
                .reserve_login_attempt("s", start, window, 3)
                .await
                .expect("reserve");
            assert!(matches!(r, Reservation::Granted { window_start } if window_start == start));
        }
        let later = start + Duration::minutes(1);
        let r = db
            .reserve_login_attempt("s", later, window, 3)
            .await
            .expect("reserve");
        assert_eq!(
            r,
            Reservation::Refused {
                window_start: start
            }
        );
        // a released attempt frees one place
        db.release_login_attempt("s", start).await.expect("release");
        let r = db
            .reserve_login_attempt("s", later, window, 3)
            .await
            .expect("reserve");
        assert!(matches!(r, Reservation::Granted { .. }));
        // a new window starts afresh; releasing into the old one changes nothing
        let next = start + window;
        let r = db
            .reserve_login_attempt("s", next, window, 3)
            .await
            .expect("reserve");
        assert_eq!(r, Reservation::Granted { window_start: next });
        db.release_login_attempt("s", start).await.expect("release");
        for _ in 0..2 {
            let r = db.reserve_login_attempt("s", next, window, 3).await;
            assert!(matches!(r, Ok(Reservation::Granted { .. })));
        }
        let r = db.reserve_login_attempt("s", next, window, 3).await;
        assert!(matches!(r, Ok(Reservation::Refused { .. })));
        // other scopes are counted apart
        let r = db.reserve_login_attempt("t", next, window, 3).await;
        assert!(matches!(r, Ok(Reservation::Granted { .. })));
    }

    /// Before reservations, the counter was read, the password checked and the failure written
    /// afterwards, so simultaneous attempts all saw a counter under the limit.
    #[tokio::test]
    async fn simultaneous_reservations_never_exceed_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let now = Utc::now();
        let window = Duration::minutes(15);
        let attempts = (0..100).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.reserve_login_attempt("s", now, window, 5).await })
        });
        let mut granted = 0;
        for a in attempts {
            if let Reservation::Granted { .. } = a.await.expect("join").expect("reserve") {
                granted += 1;
            }
        }
        assert_eq!(granted, 5);
    }
}
