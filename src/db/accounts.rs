//! Users and enterprises.

use super::Db;
use crate::accounts::{LoginKey, Role, User, ValidEnterprise};
use chrono::{DateTime, Utc};
use sqlx::Row;

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
    pub created_at: DateTime<Utc>,
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User, sqlx::Error> {
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
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(role.as_str())
        .bind(username)
        .bind(display_name)
        .bind(password_hash)
        .bind(Utc::now())
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
             VALUES ('enterprise', NULL, ?, ?, ?) RETURNING id",
        )
        .bind(&e.name)
        .bind(password_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO enterprises
               (user_id, name, uscc, industry, district, contact_name, mobile, calendar_token)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&e.name)
        .bind(&e.uscc)
        .bind(e.industry.to_string())
        .bind(&e.district)
        .bind(&e.contact_name)
        .bind(&e.mobile)
        .bind(calendar_token)
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
             WHERE (u.username IS NOT NULL AND u.username = ?)
                OR (e.uscc IS NOT NULL AND e.uscc = ?)
                OR (e.mobile IS NOT NULL AND e.mobile = ?)
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
        let row = sqlx::query("SELECT id, role, display_name, username FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    pub async fn username_exists(&self, username: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE username = ?")
            .bind(username)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn enterprise(&self, user_id: i64) -> Result<Option<Enterprise>, sqlx::Error> {
        sqlx::query_as(
            "SELECT e.user_id, e.name, e.uscc, e.industry, e.district, e.contact_name, e.mobile,
                    e.calendar_token, u.created_at
             FROM enterprises e JOIN users u ON u.id = e.user_id WHERE e.user_id = ?",
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
                    e.calendar_token, u.created_at
             FROM enterprises e JOIN users u ON u.id = e.user_id WHERE e.calendar_token = ?",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await
    }

    /// Replace the calendar feed token of enterprise `user_id`; false when there is no such
    /// enterprise. The old token stops working at once.
    pub async fn set_calendar_token(&self, user_id: i64, token: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE enterprises SET calendar_token = ? WHERE user_id = ?")
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
                    e.calendar_token, u.created_at
             FROM enterprises e JOIN users u ON u.id = e.user_id ORDER BY u.id DESC",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Staff accounts of a role, by display name.
    pub async fn staff(&self, role: Role) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, role, display_name, username FROM users WHERE role = ? ORDER BY display_name",
        )
        .bind(role.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }
}
