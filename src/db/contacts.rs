//! Contacts (an account's e-mail address and mobile), their verification codes and the
//! one-click e-mail unsubscription.
//!
//! A code is stored only as a keyed hash (`crate::app::notify::contacts` computes it), one
//! pending code per account and contact kind; asking again replaces it. Mail and SMS go only
//! to a verified value, and storing a different value clears the verification (and an old
//! unsubscription, which belonged to the old address).

use super::Db;
use super::RowExt;
use crate::notify::ContactKind;
use chrono::{DateTime, Utc};
use sqlx::Row;

/// A stored contact.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub kind: ContactKind,
    pub value: String,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub verified_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub email_unsubscribed_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub updated_at: DateTime<Utc>,
}

/// The answer of [`Db::check_contact_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matched; it is used up. The value it was sent to.
    Matched(String),
    /// No pending code, an expired one, or one whose tries are used up.
    Missing,
    /// A wrong code; one try less.
    Wrong,
}

impl Db {
    /// The account's contacts, e-mail first.
    pub async fn contacts(&self, user_id: i64) -> Result<Vec<ContactRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT kind, value, verified_at, email_unsubscribed_at, updated_at
             FROM contacts WHERE user_id = $1 ORDER BY kind",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
    }

    /// When the pending code of this account and kind was sent, if there is one.
    pub async fn contact_code_sent_at(
        &self,
        user_id: i64,
        kind: ContactKind,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        sqlx::query_scalar("SELECT created_at FROM contact_codes WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await
            .map(|t: Option<super::Ts>| t.map(|t| t.0))
    }

    /// Store a new pending code (replacing any earlier one) and, with `set_contact`, the
    /// value as the account's contact: unverified when it differs from the stored one.
    /// Nothing is stored, and the answer is false, when the pending code was sent after
    /// `not_after` (two requests at once cannot both pass the one-code-a-minute limit).
    #[allow(clippy::too_many_arguments)]
    pub async fn store_contact_code(
        &self,
        user_id: i64,
        kind: ContactKind,
        value: &str,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        set_contact: bool,
        not_after: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let recent: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM contact_codes WHERE user_id = $1 AND kind = $2 AND created_at > $3",
        )
        .bind(user_id)
        .bind(kind)
        .bind(crate::db::ts(not_after))
        .fetch_optional(&mut *tx)
        .await?;
        if recent.is_some() {
            return Ok(false);
        }
        if set_contact {
            sqlx::query(
                "INSERT INTO contacts (user_id, kind, value, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, kind) DO UPDATE SET
                   verified_at = CASE WHEN contacts.value = excluded.value
                                      THEN contacts.verified_at END,
                   email_unsubscribed_at = CASE WHEN contacts.value = excluded.value
                                                THEN contacts.email_unsubscribed_at END,
                   value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(user_id)
            .bind(kind)
            .bind(value)
            .bind(crate::db::ts(now))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO contact_codes (user_id, kind, value, code_hash, attempts, expires_at,
                                        created_at)
             VALUES ($1, $2, $3, $4, 0, $5, $6)
             ON CONFLICT (user_id, kind) DO UPDATE SET value = excluded.value,
               code_hash = excluded.code_hash, attempts = 0, expires_at = excluded.expires_at,
               created_at = excluded.created_at",
        )
        .bind(user_id)
        .bind(kind)
        .bind(value)
        .bind(code_hash)
        .bind(crate::db::ts(expires_at))
        .bind(crate::db::ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forget the pending code (it could not be sent).
    pub async fn drop_contact_code(
        &self,
        user_id: i64,
        kind: ContactKind,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM contact_codes WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(kind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Check a code against the pending one, counting the try: a match uses the code up;
    /// at most `max_tries` tries per code; an expired code matches nothing.
    pub async fn check_contact_code(
        &self,
        user_id: i64,
        kind: ContactKind,
        code_hash: &str,
        now: DateTime<Utc>,
        max_tries: i64,
    ) -> Result<CodeCheck, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT value, code_hash, attempts, expires_at FROM contact_codes
             WHERE user_id = $1 AND kind = $2",
        )
        .bind(user_id)
        .bind(kind)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CodeCheck::Missing);
        };
        let attempts: i64 = row.try_get("attempts")?;
        let expires_at: DateTime<Utc> = row.time("expires_at")?;
        let stored: String = row.try_get("code_hash")?;
        // a used or expired code stays (used up) until the next one replaces it: its
        // `created_at` keeps counting for the one-code-a-minute limit
        let answer = if expires_at <= now || attempts >= max_tries {
            CodeCheck::Missing
        } else {
            let matched = constant_time_eq(stored.as_bytes(), code_hash.as_bytes());
            sqlx::query(
                "UPDATE contact_codes SET attempts = CASE WHEN $1 THEN $2 ELSE attempts + 1 END
                 WHERE user_id = $3 AND kind = $4",
            )
            .bind(matched)
            .bind(max_tries)
            .bind(user_id)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
            if matched {
                CodeCheck::Matched(row.try_get("value")?)
            } else {
                CodeCheck::Wrong
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    /// Mark the contact verified if it still has `value`. False when it changed meanwhile.
    pub async fn mark_contact_verified(
        &self,
        user_id: i64,
        kind: ContactKind,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE contacts SET verified_at = $1, updated_at = $2
             WHERE user_id = $3 AND kind = $4 AND value = $5",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(user_id)
        .bind(kind)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stop all e-mail to the account (one-click unsubscribe). True when it has an e-mail
    /// contact; unsubscribing twice keeps the first instant.
    pub async fn unsubscribe_email(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE contacts SET email_unsubscribed_at = COALESCE(email_unsubscribed_at, $1)
             WHERE user_id = $2 AND kind = 'email'",
        )
        .bind(crate::db::ts(now))
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Receive e-mail again after an unsubscription (the account's own choice on its page).
    pub async fn resubscribe_email(&self, user_id: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE contacts SET email_unsubscribed_at = NULL WHERE user_id = $1 AND kind = 'email'",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[tokio::test]
    async fn a_changed_value_loses_its_verification_and_codes_allow_five_tries() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (1, 'lawyer', 'l', 'L', 'x', $1)",
        )
        .bind(crate::db::ts(now))
        .execute(&db.pool)
        .await
        .unwrap();
        let k = ContactKind::Email;
        let later = now + Duration::minutes(10);
        db.store_contact_code(1, k, "a@example.cn", "h1", later, now, true, now)
            .await
            .unwrap();
        assert_eq!(
            db.check_contact_code(1, k, "h1", now, 5).await.unwrap(),
            CodeCheck::Matched("a@example.cn".into())
        );
        // used up
        assert_eq!(
            db.check_contact_code(1, k, "h1", now, 5).await.unwrap(),
            CodeCheck::Missing
        );
        assert!(db
            .mark_contact_verified(1, k, "a@example.cn", now)
            .await
            .unwrap());
        // the same value again keeps the verification, another one loses it
        db.store_contact_code(1, k, "a@example.cn", "h2", later, now, true, now)
            .await
            .unwrap();
        assert!(db.contacts(1).await.unwrap()[0].verified_at.is_some());
        db.store_contact_code(1, k, "b@example.cn", "h3", later, now, true, now)
            .await
            .unwrap();
        let c = &db.contacts(1).await.unwrap()[0];
        assert_eq!((c.value.as_str(), c.verified_at), ("b@example.cn", None));
        for _ in 0..5 {
            assert_eq!(
                db.check_contact_code(1, k, "bad", now, 5).await.unwrap(),
                CodeCheck::Wrong
            );
        }
        // the right code after five wrong ones is too late
        assert_eq!(
            db.check_contact_code(1, k, "h3", now, 5).await.unwrap(),
            CodeCheck::Missing
        );
        // an expired code does not match
        db.store_contact_code(1, k, "b@example.cn", "h4", later, now, true, now)
            .await
            .unwrap();
        assert_eq!(
            db.check_contact_code(1, k, "h4", later, 5).await.unwrap(),
            CodeCheck::Missing
        );
    }
}
