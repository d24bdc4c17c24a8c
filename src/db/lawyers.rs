//! SQL of lawyer profiles (issue 16): firm, contact, bio, whether new questions come, and the
//! topics and industries a lawyer answers, for every lawyer account.

use super::Db;
use super::RowExt;
use chrono::{DateTime, Utc};
use sqlx::Row;

/// A lawyer account with its profile (defaults when it has none yet) and its load.
#[derive(Debug, Clone)]
pub struct LawyerProfileRow {
    pub user_id: i64,
    pub display_name: String,
    pub username: Option<String>,
    pub disabled: bool,
    pub firm: String,
    pub contact: String,
    pub bio: String,
    pub accepting: bool,
    pub topics: Vec<String>,
    pub industries: Vec<String>,
    /// Questions waiting for this lawyer's word.
    pub load: i64,
    /// The firm in the lecturer directory, when a lecturer is linked to this account.
    pub lecturer_firm: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A profile to store, checked by the use case.
#[derive(Debug, Clone)]
pub struct ProfileUpdate {
    pub firm: String,
    pub contact: String,
    pub bio: String,
    pub accepting: bool,
    pub topics: Vec<String>,
    pub industries: Vec<String>,
}

impl Db {
    /// Every lawyer account (or the one with id `only`), by display name.
    pub async fn lawyer_profiles(
        &self,
        only: Option<i64>,
    ) -> Result<Vec<LawyerProfileRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, u.username, u.disabled_at IS NOT NULL AS disabled,
                    COALESCE(p.firm, '') AS firm, COALESCE(p.contact, '') AS contact,
                    COALESCE(p.bio, '') AS bio, COALESCE(p.accepting, TRUE) AS accepting,
                    p.updated_at,
                    (SELECT COUNT(*) FROM questions q
                      WHERE q.assigned_lawyer_id = u.id
                        AND q.status IN ('pending', 'assigned', 'followup')) AS load,
                    (SELECT l.firm FROM lecturers l WHERE l.user_id = u.id
                      ORDER BY l.id LIMIT 1) AS lecturer_firm
             FROM users u LEFT JOIN lawyer_profiles p ON p.user_id = u.id
             WHERE u.role = 'lawyer' AND ($1 IS NULL OR u.id = $2)
             ORDER BY u.display_name, u.id",
        )
        .bind(only)
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        let topics: Vec<(i64, String)> =
            sqlx::query_as("SELECT user_id, topic FROM lawyer_topics ORDER BY topic")
                .fetch_all(&self.pool)
                .await?;
        let industries: Vec<(i64, String)> =
            sqlx::query_as("SELECT user_id, industry FROM lawyer_industries ORDER BY industry")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                Ok(LawyerProfileRow {
                    user_id: id,
                    display_name: row.try_get("display_name")?,
                    username: row.try_get("username")?,
                    disabled: row.time("disabled")?,
                    firm: row.try_get("firm")?,
                    contact: row.try_get("contact")?,
                    bio: row.try_get("bio")?,
                    accepting: row.time("accepting")?,
                    topics: topics
                        .iter()
                        .filter(|(u, _)| *u == id)
                        .map(|(_, t)| t.clone())
                        .collect(),
                    industries: industries
                        .iter()
                        .filter(|(u, _)| *u == id)
                        .map(|(_, i)| i.clone())
                        .collect(),
                    load: row.try_get("load")?,
                    lecturer_firm: row.try_get("lecturer_firm")?,
                    updated_at: row.time("updated_at")?,
                })
            })
            .collect()
    }

    /// Replace lawyer `user_id`'s profile, topics and industries in one transaction.
    pub async fn put_lawyer_profile(
        &self,
        user_id: i64,
        p: &ProfileUpdate,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO lawyer_profiles (user_id, firm, contact, bio, accepting, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id) DO UPDATE SET firm = excluded.firm,
                contact = excluded.contact, bio = excluded.bio,
                accepting = excluded.accepting, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(&p.firm)
        .bind(&p.contact)
        .bind(&p.bio)
        .bind(p.accepting)
        .bind(crate::db::ts(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lawyer_topics WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for topic in &p.topics {
            sqlx::query("INSERT INTO lawyer_topics (user_id, topic) VALUES ($1, $2)")
                .bind(user_id)
                .bind(topic)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM lawyer_industries WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for industry in &p.industries {
            sqlx::query("INSERT INTO lawyer_industries (user_id, industry) VALUES ($1, $2)")
                .bind(user_id)
                .bind(industry)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
