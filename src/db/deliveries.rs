//! The delivery queue: the `deliveries` rows that [`super::notifications::enqueue`] writes, one
//! per notification and external channel, claimed and sent by the delivery workers
//! (`crate::app::notify::delivery`).
//!
//! Like the transcode queue (`super::jobs`), a worker claims the oldest due delivery with one
//! conditional UPDATE (`… WHERE id = (oldest due) AND state = 'queued'`; on PostgreSQL the
//! subquery takes `FOR UPDATE SKIP LOCKED`), so two workers never send the same row. A claimed
//! row is `sending` under the worker's lease; a lease that ran out belongs to a worker that
//! died (SIGKILL, power cut), and [`Db::recover_stale_deliveries`] queues its row again — which
//! makes e-mail "at least once" (the mail may have left just before the kill) and never "not
//! at all". Every update of a `sending` row names its worker, so a worker that lost its lease
//! cannot overwrite the attempt of the worker that took the row over.
//!
//! Whether a delivery is still wanted is decided again at send time, in the claiming
//! transaction: a reminder after the start, an account that unsubscribed or turned the kind
//! off, an address that is no longer verified, a channel this server does not have — each
//! makes the row `skipped` with the reason, instead of sending. The address itself is read
//! from `contacts` then, never copied into the queue.

use super::notifications::wants;
use super::Db;
use super::Json;
use super::RowExt;
use crate::notify::{Channel, Kind};
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use std::collections::BTreeMap;

/// A delivery a worker has claimed: what to send, to whom, which attempt this is.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub notification_id: i64,
    pub channel: Channel,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    pub max_attempts: i64,
    pub user_id: i64,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// Site-relative link of the notification.
    pub link: Option<String>,
    pub sms_template: String,
    pub sms_params: BTreeMap<String, String>,
    /// The verified address (e-mail or mobile), read from `contacts` at claim time.
    pub address: String,
}

/// What [`Db::claim_delivery`] found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Nothing is due.
    Idle,
    /// The oldest due row is no longer wanted; it is `skipped` with this reason.
    Skipped { id: i64, reason: String },
    /// A row to send; it is `sending` under the worker's lease.
    Claimed(ClaimedDelivery),
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// A failure worth retrying (connection refused, gateway 500, SMTP 4xx).
    Retry(String),
    /// A failure that will not change by retrying (SMTP 5xx: no such mailbox).
    Permanent(String),
}

/// A delivery as the organizer's list and the tests see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub notification_id: i64,
    pub channel: Channel,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[sqlx(try_from = "crate::db::Ts")]
    pub next_attempt_at: DateTime<Utc>,
    pub worker: Option<String>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub sent_at: Option<DateTime<Utc>>,
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub attempt: i64,
    pub worker: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub started_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// Why a due delivery is not sent after all (shown to organizers as its last error).
pub const SKIP_EXPIRED: &str = "已过时效（开课后不再提醒）";
pub const SKIP_UNWANTED: &str = "对方已退订、关闭此类通知或联系方式未验证";
pub const SKIP_NO_EMAIL: &str = "未配置邮件服务器";
pub const SKIP_NO_SMS: &str = "未配置短信网关";
/// The last error of a row whose worker died while sending.
pub const INTERRUPTED: &str = "发送中断（发送进程退出），已重新排队";

impl Db {
    /// Claim the oldest due delivery (`queued`, `next_attempt_at <= now`) for `worker` until
    /// `now + lease`, counting the attempt and recording it in `delivery_attempts`. A due row
    /// that is no longer wanted — expired, unwanted by its account, over a channel not in
    /// `configured` — is marked `skipped` instead and reported as [`Claim::Skipped`].
    pub async fn claim_delivery(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        configured: &[Channel],
    ) -> Result<Claim, sqlx::Error> {
        // idle workers poll: a read first, so that polling takes no write lock
        let any_due: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM deliveries WHERE state = 'queued' AND next_attempt_at <= $1 LIMIT 1",
        )
        .bind(crate::db::ts(now))
        .fetch_optional(&self.pool)
        .await?;
        if any_due.is_none() {
            return Ok(Claim::Idle);
        }
        let (_turn, mut tx) = self.begin_write().await?;
        let due = sqlx::query(
            "SELECT d.id, d.channel, n.user_id, n.kind, n.expires_at
             FROM deliveries d JOIN notifications n ON n.id = d.notification_id
             WHERE d.state = 'queued' AND d.next_attempt_at <= $1
             ORDER BY d.next_attempt_at, d.id LIMIT 1",
        )
        .bind(crate::db::ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(due) = due else {
            return Ok(Claim::Idle);
        };
        let id: i64 = due.try_get("id")?;
        let channel: Channel = due.try_get("channel")?;
        let user_id: i64 = due.try_get("user_id")?;
        let kind: Kind = due.try_get("kind")?;
        let expires_at: Option<DateTime<Utc>> = due.time("expires_at")?;
        let skip = if expires_at.is_some_and(|t| t < now) {
            Some(SKIP_EXPIRED)
        } else if !configured.contains(&channel) {
            Some(match channel {
                Channel::Email => SKIP_NO_EMAIL,
                Channel::Sms => SKIP_NO_SMS,
            })
        } else if !wants(&mut tx, user_id, kind, channel).await? {
            Some(SKIP_UNWANTED)
        } else {
            None
        };
        if let Some(reason) = skip {
            sqlx::query(
                "UPDATE deliveries SET state = 'skipped', last_error = $1, updated_at = $2
                 WHERE id = $3 AND state = 'queued'",
            )
            .bind(reason)
            .bind(crate::db::ts(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Claim::Skipped {
                id,
                reason: reason.to_string(),
            });
        }
        let row = sqlx::query(
            "UPDATE deliveries SET state = 'sending', worker = $1, lease_until = $2,
                    attempts = attempts + 1, updated_at = $3
             WHERE id = $4 AND state = 'queued'
             RETURNING notification_id, attempts, max_attempts",
        )
        .bind(worker)
        .bind(crate::db::ts(now + lease))
        .bind(crate::db::ts(now))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // taken meanwhile (another process on the same database)
            return Ok(Claim::Idle);
        };
        let notification_id: i64 = row.try_get("notification_id")?;
        let attempt: i64 = row.try_get("attempts")?;
        let max_attempts: i64 = row.try_get("max_attempts")?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, worker, started_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(attempt)
        .bind(worker)
        .bind(crate::db::ts(now))
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(
            "SELECT n.title, n.body, n.link, n.sms_template, n.sms_params, c.value
             FROM notifications n
             JOIN contacts c ON c.user_id = n.user_id AND c.kind = $1
             WHERE n.id = $2",
        )
        .bind(channel.contact())
        .bind(notification_id)
        .fetch_one(&mut *tx)
        .await?;
        let Json(sms_params): Json<BTreeMap<String, String>> = n.try_get("sms_params")?;
        let claimed = ClaimedDelivery {
            id,
            notification_id,
            channel,
            attempt,
            max_attempts,
            user_id,
            kind,
            title: n.try_get("title")?,
            body: n.try_get("body")?,
            link: n.try_get("link")?,
            sms_template: n.try_get("sms_template")?,
            sms_params,
            address: n.try_get("value")?,
        };
        tx.commit().await?;
        Ok(Claim::Claimed(claimed))
    }

    /// Record how `worker`'s attempt at delivery `d` ended: `sent`; or queued again after
    /// [`crate::notify::backoff`]; or `failed` once the attempts are used up or the failure is
    /// permanent. False when the row is no longer `worker`'s (its lease ran out and it was
    /// taken over): nothing is changed then.
    pub async fn finish_delivery(
        &self,
        d: &ClaimedDelivery,
        worker: &str,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = match outcome {
            Outcome::Sent => {
                sqlx::query(
                    "UPDATE deliveries SET state = 'sent', sent_at = $1, lease_until = NULL,
                            last_error = NULL, updated_at = $2
                     WHERE id = $3 AND worker = $4 AND state = 'sending'",
                )
                .bind(crate::db::ts(now))
                .bind(crate::db::ts(now))
                .bind(d.id)
                .bind(worker)
                .execute(&mut *tx)
                .await?
            }
            Outcome::Retry(error) | Outcome::Permanent(error) => {
                let give_up =
                    matches!(outcome, Outcome::Permanent(_)) || d.attempt >= d.max_attempts;
                sqlx::query(
                    "UPDATE deliveries SET state = $1, next_attempt_at = $2, lease_until = NULL,
                            last_error = $3, updated_at = $4
                     WHERE id = $5 AND worker = $6 AND state = 'sending'",
                )
                .bind(if give_up { "failed" } else { "queued" })
                .bind(crate::db::ts(now + crate::notify::backoff(d.attempt)))
                .bind(error)
                .bind(crate::db::ts(now))
                .bind(d.id)
                .bind(worker)
                .execute(&mut *tx)
                .await?
            }
        };
        let (result, error) = match outcome {
            Outcome::Sent => ("sent", None),
            Outcome::Retry(e) | Outcome::Permanent(e) => ("error", Some(e.as_str())),
        };
        // the attempt is recorded even when the row was taken over: it did happen
        sqlx::query(
            "UPDATE delivery_attempts SET finished_at = $1, outcome = $2, error = $3
             WHERE delivery_id = $4 AND attempt = $5 AND worker = $6 AND finished_at IS NULL",
        )
        .bind(crate::db::ts(now))
        .bind(result)
        .bind(error)
        .bind(d.id)
        .bind(d.attempt)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queue again the rows whose worker's lease ran out before `now` (the worker died while
    /// sending), or fail them when their attempts are used up; their open attempts are closed
    /// as interrupted. Returns how many rows were recovered.
    pub async fn recover_stale_deliveries(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let any_stale: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM deliveries WHERE state = 'sending' AND lease_until < $1 LIMIT 1",
        )
        .bind(crate::db::ts(now))
        .fetch_optional(&self.pool)
        .await?;
        if any_stale.is_none() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query(
            "UPDATE delivery_attempts SET finished_at = $1, outcome = 'error', error = $2
             WHERE finished_at IS NULL AND delivery_id IN
               (SELECT id FROM deliveries WHERE state = 'sending' AND lease_until < $1)",
        )
        .bind(crate::db::ts(now))
        .bind(INTERRUPTED)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE deliveries SET
               state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
               next_attempt_at = $1, worker = NULL, lease_until = NULL, last_error = $2,
               updated_at = $1
             WHERE state = 'sending' AND lease_until < $1",
        )
        .bind(crate::db::ts(now))
        .bind(INTERRUPTED)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// When the next queued delivery falls due, if any (a worker sleeps until then at most).
    pub async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'queued'")
            .fetch_one(&self.pool)
            .await
            .map(|t: super::OptTs| t.0)
    }

    /// The deliveries of a notification, e-mail first.
    pub async fn deliveries_of(
        &self,
        notification_id: i64,
    ) -> Result<Vec<DeliveryRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, notification_id, channel, state, attempts, max_attempts, next_attempt_at,
                    worker, lease_until, last_error, sent_at
             FROM deliveries WHERE notification_id = $1 ORDER BY channel",
        )
        .bind(notification_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The recorded attempts of a delivery, in order.
    pub async fn delivery_attempts(
        &self,
        delivery_id: i64,
    ) -> Result<Vec<AttemptRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT attempt, worker, started_at, finished_at, outcome, error
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(delivery_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Store `event` for `user_id` in a transaction of its own and wake this process's
    /// workers: for events that are not part of another change (tests, benchmarks, a
    /// maintenance task). A change that causes a notification calls
    /// [`super::notifications::enqueue`] inside its own transaction instead.
    pub async fn notify_now(
        &self,
        user_id: i64,
        event: &crate::notify::Event,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let id = super::notifications::enqueue(&mut tx, user_id, event, now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(id)
    }

    /// A session as notification texts need it (see [`super::notifications::session_ref`]).
    pub async fn notification_session(
        &self,
        session_id: i64,
    ) -> Result<Option<crate::notify::SessionRef>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        super::notifications::session_ref(&mut conn, session_id).await
    }

    /// The server's signing secret (unsubscribe links, code hashes).
    pub async fn signing_secret(&self) -> Result<String, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        super::notifications::signing_secret(&mut conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Event;

    async fn setup() -> (tempfile::TempDir, Db, DateTime<Utc>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (1, 'lawyer', 'l', 'L', 'x', $1);
             INSERT INTO contacts (user_id, kind, value, verified_at, updated_at)
             VALUES (1, 'email', 'a@example.cn', $1, $1)",
        )
        .bind(crate::db::ts(now))
        .execute(&db.pool)
        .await
        .unwrap();
        (dir, db, now)
    }

    fn event(n: i64) -> Event {
        Event::CheckupReady {
            checkup_id: n,
            level_zh: "中".into(),
        }
    }

    #[tokio::test]
    async fn failures_back_off_then_give_up_and_every_attempt_is_recorded() {
        let (_dir, db, now) = setup().await;
        let nid = db.notify_now(1, &event(1), now).await.unwrap().unwrap();
        sqlx::query("UPDATE deliveries SET max_attempts = 2")
            .execute(&db.pool)
            .await
            .unwrap();
        let lease = Duration::seconds(60);
        let Claim::Claimed(d) = db
            .claim_delivery("w1", now, lease, &Channel::ALL)
            .await
            .unwrap()
        else {
            panic!("due")
        };
        assert_eq!((d.attempt, d.address.as_str()), (1, "a@example.cn"));
        // nobody else gets it while it is sending
        assert!(matches!(
            db.claim_delivery("w2", now, lease, &Channel::ALL)
                .await
                .unwrap(),
            Claim::Idle
        ));
        let retry = Outcome::Retry("SMTP 451".into());
        assert!(db.finish_delivery(&d, "w1", &retry, now).await.unwrap());
        // not due before the backoff
        assert!(matches!(
            db.claim_delivery("w1", now + Duration::seconds(29), lease, &Channel::ALL)
                .await
                .unwrap(),
            Claim::Idle
        ));
        let later = now + Duration::seconds(30);
        let Claim::Claimed(d) = db
            .claim_delivery("w2", later, lease, &Channel::ALL)
            .await
            .unwrap()
        else {
            panic!("due after the backoff")
        };
        assert_eq!(d.attempt, 2);
        // the first worker cannot touch the second attempt
        assert!(!db
            .finish_delivery(&d, "w1", &Outcome::Sent, later)
            .await
            .unwrap());
        assert!(db.finish_delivery(&d, "w2", &retry, later).await.unwrap());
        let rows = db.deliveries_of(nid).await.unwrap();
        assert_eq!(rows[0].state, "failed");
        assert_eq!(rows[0].last_error.as_deref(), Some("SMTP 451"));
        let attempts = db.delivery_attempts(rows[0].id).await.unwrap();
        let seen: Vec<_> = attempts
            .iter()
            .map(|a| (a.attempt, a.worker.as_str(), a.outcome.as_deref()))
            .collect();
        assert_eq!(seen, [(1, "w1", Some("error")), (2, "w2", Some("error"))]);
    }

    #[tokio::test]
    async fn a_dead_workers_lease_runs_out_and_the_row_is_sent_again() {
        let (_dir, db, now) = setup().await;
        let nid = db.notify_now(1, &event(2), now).await.unwrap().unwrap();
        let lease = Duration::seconds(60);
        let Claim::Claimed(_) = db
            .claim_delivery("dead", now, lease, &Channel::ALL)
            .await
            .unwrap()
        else {
            panic!("due")
        };
        assert_eq!(db.recover_stale_deliveries(now + lease).await.unwrap(), 0);
        let after = now + lease + Duration::seconds(1);
        assert_eq!(db.recover_stale_deliveries(after).await.unwrap(), 1);
        let Claim::Claimed(d) = db
            .claim_delivery("alive", after, lease, &Channel::ALL)
            .await
            .unwrap()
        else {
            panic!("queued again")
        };
        assert!(db
            .finish_delivery(&d, "alive", &Outcome::Sent, after)
            .await
            .unwrap());
        let row = &db.deliveries_of(nid).await.unwrap()[0];
        assert_eq!((row.state.as_str(), row.attempts), ("sent", 2));
        let attempts = db.delivery_attempts(row.id).await.unwrap();
        assert_eq!(attempts[0].error.as_deref(), Some(INTERRUPTED));
        assert_eq!(attempts[1].outcome.as_deref(), Some("sent"));
    }

    #[tokio::test]
    async fn unwanted_expired_and_unconfigured_rows_are_skipped_with_a_reason() {
        let (_dir, db, now) = setup().await;
        // a channel this server does not have
        let a = db.notify_now(1, &event(3), now).await.unwrap().unwrap();
        let claim = db
            .claim_delivery("w", now, Duration::seconds(60), &[Channel::Sms])
            .await
            .unwrap();
        assert!(matches!(claim, Claim::Skipped { reason, .. } if reason == SKIP_NO_EMAIL));
        // unsubscribed after the notification was written
        let b = db.notify_now(1, &event(4), now).await.unwrap().unwrap();
        sqlx::query("UPDATE contacts SET email_unsubscribed_at = $1")
            .bind(crate::db::ts(now))
            .execute(&db.pool)
            .await
            .unwrap();
        let claim = db
            .claim_delivery("w", now, Duration::seconds(60), &Channel::ALL)
            .await
            .unwrap();
        assert!(matches!(claim, Claim::Skipped { reason, .. } if reason == SKIP_UNWANTED));
        // expired: a reminder whose session has started
        sqlx::query("UPDATE contacts SET email_unsubscribed_at = NULL")
            .execute(&db.pool)
            .await
            .unwrap();
        let c = db.notify_now(1, &event(5), now).await.unwrap().unwrap();
        sqlx::query("UPDATE notifications SET expires_at = $1 WHERE id = $2")
            .bind(crate::db::ts(now - Duration::minutes(1)))
            .bind(c)
            .execute(&db.pool)
            .await
            .unwrap();
        let claim = db
            .claim_delivery("w", now, Duration::seconds(60), &Channel::ALL)
            .await
            .unwrap();
        assert!(matches!(claim, Claim::Skipped { reason, .. } if reason == SKIP_EXPIRED));
        for n in [a, b, c] {
            let row = &db.deliveries_of(n).await.unwrap()[0];
            assert_eq!((row.state.as_str(), row.attempts), ("skipped", 0));
        }
    }
}
