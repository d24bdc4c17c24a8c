//! The in-app inbox (an account's own notifications, read state, the bell's count) and the
//! notification preferences with the contacts they depend on.
//!
//! Every query is scoped to the account: an id of another account's notification matches no
//! row, which the use cases answer with 404.

use super::Db;
use crate::notify::{Channel, ContactKind, Kind};
use chrono::{DateTime, Utc};

/// A notification as the inbox lists it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InboxRow {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub read_at: Option<DateTime<Utc>>,
}

impl InboxRow {
    pub fn is_unread(&self) -> bool {
        self.read_at.is_none()
    }
}

/// An account's contact as the preferences show it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ContactRow {
    pub kind: ContactKind,
    pub value: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub verified: bool,
}

impl Db {
    /// Up to `limit` of the account's notifications older than `before` (all when `None`),
    /// newest first. Paging by id rather than offset: new arrivals do not shift the pages.
    pub async fn inbox(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<InboxRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, kind, title, body, link, created_at, read_at FROM notifications
             WHERE user_id = $1 AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// How many of the account's notifications are unread (the bell on every page; it runs
    /// on the account prefix of the `UNIQUE (user_id, key)` index).
    pub async fn unread_count(&self, user_id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
    }

    /// Mark one of the account's notifications read (once: a second call keeps the first
    /// time). Returns its link (`Some(None)` when it has none), or `None` when the account
    /// has no such notification.
    pub async fn mark_read(
        &self,
        user_id: i64,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<String>>, sqlx::Error> {
        let link: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE notifications SET read_at = COALESCE(read_at, $1)
             WHERE id = $2 AND user_id = $3 RETURNING link",
        )
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(link)
    }

    /// Mark all of the account's notifications read; returns how many were unread.
    pub async fn mark_all_read(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
        )
        .bind(crate::db::ts(now))
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The account's explicit choices (kind, channel, enabled); a kind and channel not listed
    /// follows [`Kind::default_on`]. Rows of kinds this version does not know are left out.
    pub async fn notification_prefs(
        &self,
        user_id: i64,
    ) -> Result<Vec<(Kind, Channel, bool)>, sqlx::Error> {
        let rows: Vec<(String, Channel, super::Flag)> = sqlx::query_as(
            "SELECT kind, channel, enabled FROM notification_prefs WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(kind, channel, on)| Some((Kind::parse(&kind)?, channel, on.0)))
            .collect())
    }

    /// Store the account's choices, all in one transaction (a form or a PUT is saved whole or
    /// not at all).
    pub async fn set_notification_prefs(
        &self,
        user_id: i64,
        choices: &[(Kind, Channel, bool)],
    ) -> Result<(), sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        for (kind, channel, enabled) in choices {
            sqlx::query(
                "INSERT INTO notification_prefs (user_id, kind, channel, enabled)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, kind, channel) DO UPDATE SET enabled = excluded.enabled",
            )
            .bind(user_id)
            .bind(kind)
            .bind(channel)
            .bind(enabled)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account's e-mail address and mobile for notifications, with whether each is
    /// verified: mail and SMS go only to a verified contact.
    pub async fn notification_contacts(
        &self,
        user_id: i64,
    ) -> Result<Vec<ContactRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT kind, value, verified_at IS NOT NULL AS verified FROM contacts
             WHERE user_id = $1 ORDER BY kind",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::notifications::enqueue;
    use crate::notify::Event;

    async fn db_with_users() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        for id in [1, 2] {
            sqlx::query(
                "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
                 VALUES ($1, 'lawyer', $2, 'L', 'x', $3)",
            )
            .bind(id)
            .bind(format!("u{id}"))
            .bind(crate::db::ts(Utc::now()))
            .execute(&db.pool)
            .await
            .unwrap();
        }
        (dir, db)
    }

    async fn notify(db: &Db, user: i64, checkup: i64) -> i64 {
        let mut conn = db.pool.acquire().await.unwrap();
        let event = Event::CheckupReady {
            checkup_id: checkup,
            level_zh: "低".into(),
        };
        enqueue(&mut conn, user, &event, Utc::now())
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn pages_are_newest_first_and_reads_stay_with_their_account() {
        let (_dir, db) = db_with_users().await;
        let ids: Vec<i64> = {
            let mut v = Vec::new();
            for c in 1..=5 {
                v.push(notify(&db, 1, c).await);
            }
            v
        };
        let other = notify(&db, 2, 99).await;

        let first = db.inbox(1, None, 2).await.unwrap();
        assert_eq!(
            first.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[4], ids[3]]
        );
        let next = db.inbox(1, Some(ids[3]), 10).await.unwrap();
        assert_eq!(
            next.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[2], ids[1], ids[0]]
        );
        assert_eq!(db.unread_count(1).await.unwrap(), 5);

        // another account's notification is not found, and stays unread
        assert_eq!(db.mark_read(1, other, Utc::now()).await.unwrap(), None);
        assert_eq!(db.unread_count(2).await.unwrap(), 1);

        let link = db.mark_read(1, ids[0], Utc::now()).await.unwrap();
        assert_eq!(link, Some(Some("/checkup/reports/1".to_string())));
        let first_read = db.inbox(1, Some(ids[1]), 1).await.unwrap()[0].read_at;
        assert!(first_read.is_some());
        db.mark_read(1, ids[0], Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            db.inbox(1, Some(ids[1]), 1).await.unwrap()[0].read_at,
            first_read,
            "reading again keeps the first time"
        );
        assert_eq!(db.unread_count(1).await.unwrap(), 4);
        assert_eq!(db.mark_all_read(1, Utc::now()).await.unwrap(), 4);
        assert_eq!(db.unread_count(1).await.unwrap(), 0);
        assert_eq!(db.unread_count(2).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn choices_are_stored_and_overwritten() {
        let (_dir, db) = db_with_users().await;
        assert!(db.notification_prefs(1).await.unwrap().is_empty());
        db.set_notification_prefs(1, &[(Kind::Reminder, Channel::Sms, false)])
            .await
            .unwrap();
        db.set_notification_prefs(
            1,
            &[
                (Kind::Reminder, Channel::Sms, true),
                (Kind::SessionMessage, Channel::Email, false),
            ],
        )
        .await
        .unwrap();
        let mut prefs = db.notification_prefs(1).await.unwrap();
        prefs.sort_by_key(|(k, c, _)| (k.as_str(), c.as_str()));
        assert_eq!(
            prefs,
            [
                (Kind::Reminder, Channel::Sms, true),
                (Kind::SessionMessage, Channel::Email, false),
            ]
        );
        assert!(db.notification_prefs(2).await.unwrap().is_empty());
    }
}
