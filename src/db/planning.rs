//! SQL of precision planning (issue 16; see `crate::app::qa::planning`): questions by topic
//! and industry, lectures held by category, lawyers by topic and the lecturer details of a
//! lawyer account.

use super::Db;
use crate::qa::planning::{LawyerRef, QuestionCount};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// A lawyer account as a session's lecturer: login name, display name and firm.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LawyerLecturer {
    pub username: Option<String>,
    pub display_name: String,
    pub firm: String,
}

impl Db {
    /// Questions asked since `since`, counted by topic and industry.
    pub async fn question_counts_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<QuestionCount>, sqlx::Error> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT topic, industry, COUNT(*) FROM questions WHERE created_at >= $1
              GROUP BY topic, industry",
        )
        .bind(crate::db::ts(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(topic, industry, n)| QuestionCount {
                topic,
                industry,
                count: u32::try_from(n).unwrap_or(u32::MAX),
            })
            .collect())
    }

    /// Sessions held (placed, not cancelled, started) in `[from, to)`, counted by category.
    pub async fn sessions_held_by_category(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, u32>, sqlx::Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT category, COUNT(*) FROM lecture_sessions
              WHERE status = 'scheduled' AND starts_at IS NOT NULL
                AND starts_at >= $1 AND starts_at < $2
              GROUP BY category",
        )
        .bind(crate::db::ts(from))
        .bind(crate::db::ts(to))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(c, n)| (c, u32::try_from(n).unwrap_or(u32::MAX)))
            .collect())
    }

    /// Active lawyers by the topics of their profiles, by name.
    pub async fn lawyers_by_topic(&self) -> Result<HashMap<String, Vec<LawyerRef>>, sqlx::Error> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT t.topic, u.id, u.display_name
               FROM lawyer_topics t JOIN users u ON u.id = t.user_id
              WHERE u.role = 'lawyer' AND u.disabled_at IS NULL
              ORDER BY u.display_name, u.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<LawyerRef>> = HashMap::new();
        for (topic, id, name) in rows {
            out.entry(topic).or_default().push(LawyerRef { id, name });
        }
        Ok(out)
    }

    /// Lawyer account `id` as a lecturer.
    pub async fn lawyer_lecturer(&self, id: i64) -> Result<Option<LawyerLecturer>, sqlx::Error> {
        sqlx::query_as(
            "SELECT u.username, u.display_name, COALESCE(p.firm, '') AS firm
               FROM users u LEFT JOIN lawyer_profiles p ON p.user_id = u.id
              WHERE u.id = $1 AND u.role = 'lawyer'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }
}
