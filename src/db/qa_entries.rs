//! SQL of public Q&A entries (issue 16): entries, their linked lectures, the `qa_search`
//! full-text index kept in step with them, and what publication reads of a private thread.
//! See `crate::app::qa::publication`.

use super::types::Sql;
use super::Db;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// Where an entry stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    sqlx::Type,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    /// 待审核: a lawyer proposed it; an organizer approves it.
    Proposed,
    /// 已发布: on `/qa`.
    Published,
    /// 已撤回
    Withdrawn,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Proposed => "proposed",
            EntryStatus::Published => "published",
            EntryStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            EntryStatus::Proposed => "待审核",
            EntryStatus::Published => "已发布",
            EntryStatus::Withdrawn => "已撤回",
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub question_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub industry: Option<String>,
    pub topic: String,
    pub status: EntryStatus,
    pub proposed_by: Option<i64>,
    #[sqlx(try_from = "crate::db::Flag")]
    pub demo: bool,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub published_at: Option<DateTime<Utc>>,
}

const ENTRY_SELECT: &str = "SELECT id, question_id, title, body, industry, topic, status, \
     proposed_by, demo, created_at, published_at FROM qa_entries";

/// A new entry, proposed or published.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub question_id: Option<i64>,
    pub title: &'a str,
    pub body: &'a str,
    pub industry: Option<&'a str>,
    pub topic: &'a str,
    pub status: EntryStatus,
    pub proposed_by: Option<i64>,
    pub approved_by: Option<i64>,
    pub demo: bool,
    pub session_ids: &'a [i64],
}

/// The private thread an entry is made from, with what identifies its enterprise.
#[derive(Debug, Clone)]
pub struct ThreadSource {
    pub question_id: i64,
    pub enterprise_id: i64,
    pub title: String,
    pub topic: String,
    pub industry: String,
    pub status: String,
    pub assigned_lawyer_id: Option<i64>,
    pub session_id: Option<i64>,
    pub enterprise_name: String,
    pub uscc: String,
    pub contact_name: String,
    pub mobile: String,
    /// (kind, body) in order.
    pub messages: Vec<(String, String)>,
}

/// A lecture session an entry can link to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionChoice {
    pub id: i64,
    pub title: String,
    pub category: String,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub starts_at: Option<DateTime<Utc>>,
}

/// Filters of the public list.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter<'a> {
    pub industry: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub query: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// Rewrite (or drop, when it is not published) an entry's line in `qa_search`.
async fn reindex(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM qa_search WHERE rowid = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO qa_search (rowid, title, body)
         SELECT id, title, body FROM qa_entries WHERE id = $1 AND status = 'published'",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Db {
    /// The thread `question_id` and its enterprise, for publication.
    pub async fn thread_source(
        &self,
        question_id: i64,
    ) -> Result<Option<ThreadSource>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT q.id, q.enterprise_id, q.title, q.topic, q.industry, q.status,
                    q.assigned_lawyer_id, q.session_id,
                    e.name, e.uscc, e.contact_name, e.mobile
             FROM questions q JOIN enterprises e ON e.user_id = q.enterprise_id
             WHERE q.id = $1",
        )
        .bind(question_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let messages = sqlx::query(
            "SELECT kind, body FROM question_messages WHERE question_id = $1 ORDER BY id",
        )
        .bind(question_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("body")?)))
        .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
        Ok(Some(ThreadSource {
            question_id: row.try_get(0)?,
            enterprise_id: row.try_get(1)?,
            title: row.try_get(2)?,
            topic: row.try_get(3)?,
            industry: row.try_get(4)?,
            status: row.try_get(5)?,
            assigned_lawyer_id: row.try_get(6)?,
            session_id: row.try_get(7)?,
            enterprise_name: row.try_get(8)?,
            uscc: row.try_get(9)?,
            contact_name: row.try_get(10)?,
            mobile: row.try_get(11)?,
            messages,
        }))
    }

    /// Scheduled (not cancelled) sessions, newest first: what an entry may link to.
    pub async fn linkable_sessions(&self) -> Result<Vec<SessionChoice>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, title, category, starts_at FROM lecture_sessions
             WHERE status = 'scheduled' ORDER BY starts_at IS NULL, starts_at DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Store a new entry with its lectures (and its search line when published).
    pub async fn insert_qa_entry(
        &self,
        entry: &NewEntry<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let published_at = (entry.status == EntryStatus::Published).then_some(now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO qa_entries (question_id, title, body, industry, topic, status,
                 proposed_by, approved_by, demo, created_at, published_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(entry.question_id)
        .bind(entry.title)
        .bind(entry.body)
        .bind(entry.industry)
        .bind(entry.topic)
        .bind(entry.status)
        .bind(entry.proposed_by)
        .bind(entry.approved_by)
        .bind(entry.demo)
        .bind(crate::db::ts(now))
        .bind((published_at).map(crate::db::ts))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        for s in entry.session_ids {
            sqlx::query(
                "INSERT INTO qa_entry_sessions (entry_id, session_id)
                 SELECT $1, id FROM lecture_sessions WHERE id = $2 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(s)
            .execute(&mut *tx)
            .await?;
        }
        reindex(&mut tx, id).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Move an entry from `from` to `to` (approve, withdraw); false when it was not in
    /// `from`. The search index follows in the same transaction.
    pub async fn set_qa_entry_status(
        &self,
        id: i64,
        from: &[EntryStatus],
        to: EntryStatus,
        approved_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let current: Option<EntryStatus> =
            sqlx::query_scalar("SELECT status FROM qa_entries WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if !current.is_some_and(|c| from.contains(&c)) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE qa_entries SET status = $1, updated_at = $2,
                 approved_by = COALESCE($3, approved_by),
                 published_at = CASE WHEN $4 = 'published' THEN $5 ELSE published_at END
             WHERE id = $6",
        )
        .bind(to)
        .bind(crate::db::ts(now))
        .bind(approved_by)
        .bind(to)
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        reindex(&mut tx, id).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn qa_entry(&self, id: i64) -> Result<Option<EntryRow>, sqlx::Error> {
        sqlx::query_as(&format!("{ENTRY_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Entries in `status`, newest first (organizers' list).
    pub async fn qa_entries_in(&self, status: EntryStatus) -> Result<Vec<EntryRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{ENTRY_SELECT} WHERE status = $1 ORDER BY updated_at DESC, id DESC LIMIT 200"
        ))
        .bind(status)
        .fetch_all(&self.pool)
        .await
    }

    /// Entries made from thread `question_id` (so the thread page can say it was published).
    pub async fn qa_entries_of_question(
        &self,
        question_id: i64,
    ) -> Result<Vec<EntryRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{ENTRY_SELECT} WHERE question_id = $1 ORDER BY id"
        ))
        .bind(question_id)
        .fetch_all(&self.pool)
        .await
    }

    /// A page of published entries, newest first, and how many match in all. `query` searches
    /// titles and bodies (FTS5 trigram; LIKE under three characters, as the archive does).
    pub async fn published_qa_entries(
        &self,
        f: &EntryFilter<'_>,
    ) -> Result<(Vec<EntryRow>, i64), sqlx::Error> {
        let query = f.query.map(str::trim).filter(|q| !q.is_empty());
        let filtered = |select: &str| {
            let mut q = Sql::new(select);
            q.push(" WHERE status = 'published'");
            if let Some(i) = f.industry {
                q.push(" AND industry = ").push_bind(i.to_string());
            }
            if let Some(t) = f.topic {
                q.push(" AND topic = ").push_bind(t.to_string());
            }
            if let Some(text) = query {
                q.push(" AND id IN (SELECT rowid FROM qa_search WHERE ");
                self.push_text_search(&mut q, &["title", "body"], "qa_search", text);
                q.push(")");
            }
            q
        };
        let mut list = filtered(ENTRY_SELECT);
        list.push(" ORDER BY published_at DESC, id DESC LIMIT ")
            .push_bind(f.limit)
            .push(" OFFSET ")
            .push_bind(f.offset);
        let (sql, args) = list.build()?;
        let rows: Vec<EntryRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        let (sql, args) = filtered("SELECT COUNT(*) FROM qa_entries").build()?;
        let total: i64 = sqlx::query_scalar_with(&sql, args)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Up to `limit` published entries of `topic`: those of `industry` first, then any other,
    /// newest first within each (check-up report links).
    pub async fn qa_entries_for_topic(
        &self,
        topic: &str,
        industry: &str,
        limit: i64,
    ) -> Result<Vec<EntryRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "{ENTRY_SELECT} WHERE status = 'published' AND topic = $1
             ORDER BY CASE WHEN industry = $2 THEN 0 ELSE 1 END, published_at DESC, id DESC LIMIT $3"
        ))
        .bind(topic)
        .bind(industry)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// The lectures an entry links to: those chosen for it, then scheduled sessions whose
    /// category is `category` (the topic's name), newest first, at most `limit`.
    pub async fn qa_entry_sessions(
        &self,
        entry_id: i64,
        category: &str,
        limit: i64,
    ) -> Result<Vec<SessionChoice>, sqlx::Error> {
        sqlx::query_as(
            "SELECT s.id, s.title, s.category, s.starts_at FROM lecture_sessions s
             LEFT JOIN qa_entry_sessions l ON l.session_id = s.id AND l.entry_id = $1
             WHERE s.status = 'scheduled' AND (l.entry_id IS NOT NULL OR s.category = $2)
             ORDER BY l.entry_id IS NULL, s.starts_at IS NULL, s.starts_at DESC, s.id DESC
             LIMIT $3",
        )
        .bind(entry_id)
        .bind(category)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// Whether any entry is marked demo (the demo loads its entries once).
    pub async fn has_demo_qa_entries(&self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM qa_entries WHERE demo = TRUE)")
            .fetch_one(&self.pool)
            .await
            .map(|f: super::Flag| f.0)
    }
}
