//! Users and enterprises.

use super::Db;
use super::RowExt;
use crate::accounts::{LoginKey, Role, User, ValidEnterprise};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// A lawyer or organizer account as organizers manage it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffAccount {
    pub id: i64,
    pub role: String,
    pub username: String,
    pub display_name: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// When the account was disabled; `None` while it is active.
    #[sqlx(try_from = "crate::db::OptTs")]
    pub disabled_at: Option<DateTime<Utc>>,
}

impl StaffAccount {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// The privacy consent an enterprise gave at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyConsent {
    pub notice_version: String,
    pub at: DateTime<Utc>,
}

/// An enterprise account as stored. Not an API type: it holds the calendar feed's secret
/// token; the API shows `crate::http::accounts::EnterpriseView`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Enterprise {
    #[sqlx(rename = "user_id")]
    pub id: i64,
    pub name: String,
    pub uscc: String,
    pub industry: String,
    pub district: Option<String>,
    pub contact_name: String,
    pub mobile: String,
    /// Secret of the personal calendar feed.
    pub calendar_token: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    /// 企业规模 (`micro`…`large`); NULL: not stated.
    pub size: Option<String>,
}

/// What the enterprise directory is narrowed to; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnterpriseFilter {
    pub text: Option<String>,
    /// The industry section letter (`C`).
    pub industry: Option<String>,
    pub district: Option<String>,
}

/// `s` with LIKE's wildcards (and the escape character) escaped by `\`.
pub(super) fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode("unknown role".into()))?,
        display_name: row.try_get("display_name")?,
        username: row.try_get("username")?,
    })
}

impl Db {
    /// Create an organizer or lawyer account. A taken username is a unique violation.
    pub async fn insert_staff(
        &self,
        role: Role,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO users (role, username, display_name, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(role.as_str())
        .bind(username)
        .bind(display_name)
        .bind(password_hash)
        .bind(crate::db::ts(Utc::now()))
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    /// Create an enterprise account, registered at `now`, in one transaction. A taken credit
    /// code or mobile number is a unique violation of [`super::ENTERPRISES_USCC_KEY`] or
    /// [`super::ENTERPRISES_MOBILE_KEY`] (see [`super::violated_unique_constraint`]).
    pub async fn insert_enterprise(
        &self,
        e: &ValidEnterprise,
        password_hash: &str,
        calendar_token: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO users (role, username, display_name, password_hash, created_at)
             VALUES ('enterprise', NULL, $1, $2, $3) RETURNING id",
        )
        .bind(&e.name)
        .bind(password_hash)
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO enterprises
               (user_id, name, uscc, industry, district, contact_name, mobile, calendar_token,
                privacy_notice_version, privacy_consent_at, size)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(&e.name)
        .bind(&e.uscc)
        .bind(e.industry.to_string())
        .bind(&e.district)
        .bind(&e.contact_name)
        .bind(&e.mobile)
        .bind(calendar_token)
        .bind(e.privacy_notice_version)
        .bind(crate::db::ts(now))
        .bind(e.size.map(crate::qa::EnterpriseSize::as_str))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The account a login string names, with its password hash.
    pub async fn find_login(&self, key: &LoginKey) -> Result<Option<(User, String)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT u.id, u.role, u.display_name, u.username, u.password_hash
             FROM users u LEFT JOIN enterprises e ON e.user_id = u.id
             WHERE (u.username IS NOT NULL AND u.username = $1)
                OR (e.uscc IS NOT NULL AND e.uscc = $2)
                OR (e.mobile IS NOT NULL AND e.mobile = $3)
             ORDER BY u.id LIMIT 1",
        )
        .bind(&key.username)
        .bind(&key.uscc)
        .bind(&key.mobile)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query("SELECT id, role, display_name, username FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    pub async fn username_exists(&self, username: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn enterprise(&self, user_id: i64) -> Result<Option<Enterprise>, sqlx::Error> {
        sqlx::query_as(
            "SELECT e.user_id, e.name, e.uscc, e.industry, e.district, e.contact_name, e.mobile,
                    e.calendar_token, u.created_at, e.size
             FROM enterprises e JOIN users u ON u.id = e.user_id WHERE e.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn enterprise_by_calendar_token(
        &self,
        token: &str,
    ) -> Result<Option<Enterprise>, sqlx::Error> {
        sqlx::query_as(
            "SELECT e.user_id, e.name, e.uscc, e.industry, e.district, e.contact_name, e.mobile,
                    e.calendar_token, u.created_at, e.size
             FROM enterprises e JOIN users u ON u.id = e.user_id WHERE e.calendar_token = $1",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await
    }

    /// Replace the calendar feed token of enterprise `user_id`; false when there is no such
    /// enterprise. The old token stops working at once.
    pub async fn set_calendar_token(&self, user_id: i64, token: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE enterprises SET calendar_token = $1 WHERE user_id = $2")
            .bind(token)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// All enterprises, newest first (organizer view).
    pub async fn enterprises(&self) -> Result<Vec<Enterprise>, sqlx::Error> {
        sqlx::query_as(
            "SELECT e.user_id, e.name, e.uscc, e.industry, e.district, e.contact_name, e.mobile,
                    e.calendar_token, u.created_at, e.size
             FROM enterprises e JOIN users u ON u.id = e.user_id ORDER BY u.id DESC",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// One page of the enterprise directory, newest first, and how many match in all.
    pub async fn enterprise_page(
        &self,
        filter: &EnterpriseFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Enterprise>, i64), sqlx::Error> {
        // `?1` text (name, contact: anywhere; credit code and mobile: from the start or, for a
        // mobile, its last digits), `?2` industry section, `?3` district; NULL: any
        let filter_sql = "FROM enterprises e JOIN users u ON u.id = e.user_id
             WHERE ($1 IS NULL OR e.name LIKE '%' || $1 || '%' ESCAPE '\\'
                    OR e.contact_name LIKE '%' || $1 || '%' ESCAPE '\\'
                    OR e.uscc LIKE $1 || '%' ESCAPE '\\'
                    OR e.mobile LIKE $1 || '%' ESCAPE '\\'
                    OR (length($1) >= 4 AND e.mobile LIKE '%' || $1 ESCAPE '\\'))
               AND ($2 IS NULL OR substr(e.industry, 1, 1) = $2)
               AND ($3 IS NULL OR e.district = $3)";
        let text = filter.text.as_deref().map(like_escaped);
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter_sql}"))
            .bind(text.as_deref())
            .bind(filter.industry.as_deref())
            .bind(filter.district.as_deref())
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT e.user_id, e.name, e.uscc, e.industry, e.district, e.contact_name, e.mobile,
                    e.calendar_token, u.created_at, e.size
             {filter_sql} ORDER BY u.id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(text.as_deref())
        .bind(filter.industry.as_deref())
        .bind(filter.district.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// The districts enterprises gave, for the directory's filter.
    pub async fn enterprise_districts(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT district FROM enterprises
              WHERE district IS NOT NULL AND district <> '' ORDER BY district",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Staff accounts of a role, by display name.
    pub async fn staff(&self, role: Role) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, role, display_name, username FROM users WHERE role = $1 ORDER BY display_name",
        )
        .bind(role.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Every organizer and lawyer account, organizers first, then by login name.
    pub async fn staff_accounts(&self) -> Result<Vec<StaffAccount>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, role, username, display_name, created_at, last_login_at, disabled_at
             FROM users WHERE role IN ('organizer', 'lawyer') AND username IS NOT NULL
             ORDER BY role DESC, username",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// One staff account by id.
    pub async fn staff_account(&self, id: i64) -> Result<Option<StaffAccount>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, role, username, display_name, created_at, last_login_at, disabled_at
             FROM users WHERE id = $1 AND role IN ('organizer', 'lawyer') AND username IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// One staff account by login name.
    pub async fn staff_account_named(
        &self,
        username: &str,
    ) -> Result<Option<StaffAccount>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, role, username, display_name, created_at, last_login_at, disabled_at
             FROM users WHERE username = $1 AND role IN ('organizer', 'lawyer')",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
    }

    /// When the account was disabled, if it is.
    pub async fn disabled_at(&self, user_id: i64) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let row = sqlx::query("SELECT disabled_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.time("disabled_at")?,
            None => None,
        })
    }

    /// Disable (`Some(now)`) or re-enable (`None`) account `user_id`. Disabling ends all its
    /// login sessions in the same transaction; and only while another organizer stays active,
    /// so the site can never be left without one. Returns what happened.
    pub async fn set_disabled(
        &self,
        user_id: i64,
        disabled_at: Option<DateTime<Utc>>,
    ) -> Result<DisableOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done = match disabled_at {
            Some(at) => {
                // the guard is inside the statement: two organizers disabling each other at
                // once cannot both succeed
                sqlx::query(
                    "UPDATE users SET disabled_at = $1
                     WHERE id = $2 AND disabled_at IS NULL
                       AND (role <> 'organizer' OR (SELECT COUNT(*) FROM users
                            WHERE role = 'organizer' AND disabled_at IS NULL AND id <> $3) > 0)",
                )
                .bind(crate::db::ts(at))
                .bind(user_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
            }
            None => {
                sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
            }
        };
        if disabled_at.is_some() {
            if done.rows_affected() == 0 {
                let row = sqlx::query("SELECT disabled_at FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Ok(match row {
                    None => DisableOutcome::NotFound,
                    Some(r) if r.time::<Option<DateTime<Utc>>>("disabled_at")?.is_some() => {
                        DisableOutcome::Done
                    }
                    Some(_) => DisableOutcome::LastOrganizer,
                });
            }
            sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        } else if done.rows_affected() == 0 {
            return Ok(DisableOutcome::NotFound);
        }
        tx.commit().await?;
        Ok(DisableOutcome::Done)
    }

    /// Replace the password of `user_id` and end all its login sessions, in one transaction.
    /// False when there is no such account.
    pub async fn set_password_hash(
        &self,
        user_id: i64,
        password_hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
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
        tx.commit().await?;
        Ok(true)
    }

    /// Note a successful login of `user_id` at `now`.
    pub async fn touch_last_login(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(crate::db::ts(now))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many enterprise accounts there are.
    pub async fn enterprise_count(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM enterprises")
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }

    /// The privacy consent stored with enterprise `user_id` (`None` for accounts older than
    /// the notice).
    pub async fn privacy_consent(
        &self,
        user_id: i64,
    ) -> Result<Option<PrivacyConsent>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT privacy_notice_version, privacy_consent_at FROM enterprises WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let version: Option<String> = row.try_get("privacy_notice_version")?;
        let at: Option<DateTime<Utc>> = row.time("privacy_consent_at")?;
        Ok(version
            .zip(at)
            .map(|(notice_version, at)| PrivacyConsent { notice_version, at }))
    }

    /// Whether the lawyer of session `session_id` sees full mobile numbers on its roster.
    pub async fn roster_full_mobiles(&self, session_id: i64) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT roster_full_mobiles FROM lecture_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.time::<bool>("roster_full_mobiles")?,
            None => false,
        })
    }

    /// Allow or stop full mobile numbers on session `session_id`'s roster for its lawyer;
    /// false when there is no such session.
    pub async fn set_roster_full_mobiles(
        &self,
        session_id: i64,
        full: bool,
    ) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("UPDATE lecture_sessions SET roster_full_mobiles = $1 WHERE id = $2")
                .bind(full)
                .bind(session_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// What [`Db::set_disabled`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableOutcome {
    /// Disabled or re-enabled (or already so).
    Done,
    /// Refused: it is the last active organizer.
    LastOrganizer,
    /// No such account.
    NotFound,
}
