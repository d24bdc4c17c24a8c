//! The audit log of organizer actions (who, when, what). Rows are only ever inserted.

use super::Db;
use chrono::{DateTime, Utc};

/// One audit entry as stored, with the actor's names when the account still exists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    #[sqlx(try_from = "crate::db::Ts")]
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<i64>,
    /// Login name (staff) or display name of the actor; `None` for the command line or a
    /// deleted account.
    pub actor_name: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    /// JSON object without personal data.
    pub detail: String,
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_user_id: Option<i64>,
    /// Entries with an id below this one (the next page of a newest-first list).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// A new entry.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<i64>,
    pub detail: &'a str,
}

impl Db {
    /// Append an entry; returns its id.
    pub async fn insert_audit(&self, e: &NewAuditEntry<'_>) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_log (at, actor_user_id, action, target_type, target_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(crate::db::ts(e.at))
        .bind(e.actor_user_id)
        .bind(e.action)
        .bind(e.target_type)
        .bind(e.target_id)
        .bind(e.detail)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Entries matching `filter`, newest first.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT a.id, a.at, a.actor_user_id, COALESCE(u.username, u.display_name) AS actor_name,
                    a.action, a.target_type, a.target_id, a.detail
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
             WHERE ($1 IS NULL OR a.action = $2)
               AND ($3 IS NULL OR a.actor_user_id = $4)
               AND ($5 IS NULL OR a.id < $6)
             ORDER BY a.id DESC LIMIT $7",
        )
        .bind(&filter.action)
        .bind(&filter.action)
        .bind(filter.actor_user_id)
        .bind(filter.actor_user_id)
        .bind(filter.before_id)
        .bind(filter.before_id)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await
    }

    /// The accounts that appear as actors, with their names, for the filter menu.
    pub async fn audit_actors(&self) -> Result<Vec<(i64, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT DISTINCT a.actor_user_id, COALESCE(u.username, u.display_name, '#' || a.actor_user_id)
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
             WHERE a.actor_user_id IS NOT NULL ORDER BY 2",
        )
        .fetch_all(&self.pool)
        .await
    }
}
