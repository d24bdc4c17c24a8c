//! What an account does to itself (issue 15): the password reset with a code, profile edits,
//! a new login mobile, and the deletion of an enterprise account.
//!
//! Each change is one transaction; the notifications it causes (密码已重置, 候补转正 for the
//! enterprises a deletion lets move up) are written inside it ([`notifications::enqueue`]).

use super::notifications;
use super::registrations::end_upcoming_registrations;
use super::Db;
use crate::notify::{ContactKind, Event};
use crate::signup::EndReason;
use chrono::{DateTime, Utc};

/// What [`Db::delete_enterprise_account`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletion {
    /// Sessions whose future registration was cancelled.
    pub cancelled_sessions: Vec<i64>,
    /// Registrations of other enterprises confirmed from the waitlist as a result.
    pub promoted: Vec<i64>,
}

/// The password hash stored for a deleted account: not a PHC string, so no password ever
/// verifies against it.
pub const NO_PASSWORD: &str = "!deleted";

impl Db {
    /// The stored password hash of `user_id`.
    pub async fn password_hash(&self, user_id: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The verified contact of `kind` of `user_id`, if it has one.
    pub async fn verified_contact(
        &self,
        user_id: i64,
        kind: ContactKind,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT value FROM contacts
             WHERE user_id = $1 AND kind = $2 AND verified_at IS NOT NULL",
        )
        .bind(user_id)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await
    }

    /// Replace the password after a reset by code: the new hash, every login session ended and
    /// the "密码已重置" notification stored, in one transaction. False when there is no such
    /// account.
    pub async fn reset_password_by_code(
        &self,
        user_id: i64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        notifications::enqueue(&mut tx, user_id, &Event::PasswordReset { at: now }, now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    /// Store the editable profile fields of enterprise `user_id` (the company name is also
    /// the account's display name). False when there is no such enterprise.
    pub async fn update_enterprise_profile(
        &self,
        user_id: i64,
        name: &str,
        industry: char,
        district: Option<&str>,
        contact_name: &str,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE enterprises SET name = $1, industry = $2, district = $3, contact_name = $4
             WHERE user_id = $5",
        )
        .bind(name)
        .bind(industry.to_string())
        .bind(district)
        .bind(contact_name)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Store the display name of staff account `user_id`. False when there is none.
    pub async fn set_staff_display_name(
        &self,
        user_id: i64,
        display_name: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE users SET display_name = $1 WHERE id = $2 AND role IN ('organizer', 'lawyer')",
        )
        .bind(display_name)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Make `mobile` (proven by a code) the login mobile of enterprise `user_id` and its
    /// verified mobile contact, in one transaction. A mobile of another enterprise is a unique
    /// violation of [`super::ENTERPRISES_MOBILE_KEY`]. False when there is no such enterprise.
    pub async fn change_login_mobile(
        &self,
        user_id: i64,
        mobile: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query("UPDATE enterprises SET mobile = $1 WHERE user_id = $2")
            .bind(mobile)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO contacts (user_id, kind, value, verified_at, updated_at)
             VALUES ($1, 'mobile', $2, $3, $3)
             ON CONFLICT (user_id, kind) DO UPDATE SET value = excluded.value,
               verified_at = excluded.verified_at, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(mobile)
        .bind(crate::db::ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Delete enterprise account `user_id` at `now`, in one transaction (个人信息保护法
    /// 第四十七条):
    ///
    /// - registrations of sessions that have not started are cancelled, freeing their seats
    ///   for the waitlist (the promoted enterprises are notified);
    /// - login sessions, contacts, codes, preferences, notifications, check-ups with their
    ///   consents and access log, issued learning certificates (their codes stop verifying)
    ///   and the resume points of watched lectures are deleted;
    /// - kept, anonymised: the enterprise row ("已注销企业 #id", credit code and mobile
    ///   replaced by [`crate::accounts::released_uscc`] / [`crate::accounts::released_mobile`]
    ///   so the real company can register again, no contact name), registrations of sessions
    ///   that took place (without attendee names) and the watched seconds of lectures, so
    ///   the chamber's attendance figures stay right;
    /// - the user row loses its name and password and is disabled: nobody can log in.
    ///
    /// `None` when there is no such enterprise.
    pub async fn delete_enterprise_account(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Deletion>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM enterprises WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut deletion = Deletion::default();
        // active registrations of sessions that have not started (or have no time yet)
        let (cancelled_sessions, promoted) =
            end_upcoming_registrations(&mut tx, user_id, &EndReason::Cancelled, now).await?;
        deletion.cancelled_sessions = cancelled_sessions;
        deletion.promoted = promoted;
        // the names of the people who attended are personal data; the seats count stays
        sqlx::query("UPDATE registrations SET attendees = '[]' WHERE enterprise_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM login_sessions WHERE user_id = $1",
            "DELETE FROM contact_codes WHERE user_id = $1",
            "DELETE FROM contacts WHERE user_id = $1",
            "DELETE FROM notification_prefs WHERE user_id = $1",
            "DELETE FROM notifications WHERE user_id = $1",
            // 企问律答: the enterprise's questions and every message in them (published Q&A
            // entries are de-identified copies and stay, their link set to NULL)
            "DELETE FROM question_messages
               WHERE question_id IN (SELECT id FROM questions WHERE enterprise_id = $1)",
            "DELETE FROM questions WHERE enterprise_id = $1",
            "DELETE FROM checkup_access
               WHERE checkup_id IN (SELECT id FROM checkups WHERE enterprise_id = $1)",
            "DELETE FROM checkups WHERE enterprise_id = $1",
            "DELETE FROM checkup_consents WHERE enterprise_id = $1",
            // its learning certificates: their codes no longer verify
            "DELETE FROM certificates WHERE enterprise_id = $1",
            // where the viewer stopped is personal; how long it watched is the attendance
            "UPDATE watch_progress SET ranges = '[]', last_position = 0 WHERE user_id = $1",
            "DELETE FROM login_failures WHERE scope IN ('user:' || $1,
               'contact-code:email:' || $1, 'contact-code:mobile:' || $1)",
        ] {
            sqlx::query(statement)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let name = format!("已注销企业 #{user_id}");
        sqlx::query(
            "UPDATE enterprises SET name = $1, uscc = $2, mobile = $3, contact_name = '',
                    district = NULL, calendar_token = $4
             WHERE user_id = $5",
        )
        .bind(&name)
        .bind(crate::accounts::released_uscc(user_id))
        .bind(crate::accounts::released_mobile(user_id))
        // the old feed address stops working; nobody knows the new one
        .bind(crate::accounts::random_token())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET display_name = $1, password_hash = $2,
                    disabled_at = COALESCE(disabled_at, $3)
             WHERE id = $4",
        )
        .bind(&name)
        .bind(NO_PASSWORD)
        .bind(crate::db::ts(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(Some(deletion))
    }
}
