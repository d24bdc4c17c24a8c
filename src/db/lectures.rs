//! Lectures (published recordings) and the archive's search index.

use super::Db;
use crate::archive::{LectureVersion, Visibility};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::types::Json;
use sqlx::{Decode, Encode, Row, Type};
use std::str::FromStr;

/// One rendition of a published lecture, as the player's quality menu lists it
/// (`lectures.renditions`, a JSON array).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PublishedRendition {
    /// e.g. "720p" or "audio".
    pub name: String,
    /// 0 for audio.
    pub width: u32,
    pub height: u32,
    /// Peak bitrate in bits/s.
    pub bandwidth: u64,
}

/// A lecture with its session facts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LectureRow {
    pub id: i64,
    pub session_id: i64,
    pub program_id: i64,
    pub visibility: Visibility,
    /// The published version; `None` until a transcode is complete.
    #[sqlx(rename = "hls_path")]
    pub published: Option<LectureVersion>,
    pub duration_s: Option<f64>,
    pub renditions: Json<Vec<PublishedRendition>>,
    pub audio_only: bool,
    /// Non-fatal transcode problems, in English, for organizers.
    pub warnings: Json<Vec<String>>,
    pub published_at: Option<DateTime<Utc>>,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub lecturer_name: String,
    pub lecturer_firm: String,
    pub lecturer_id: i64,
    pub starts_at: Option<DateTime<Utc>>,
    /// The program's time zone (IANA name); lecture times are shown in it.
    pub timezone: String,
}

impl LectureRow {
    /// The program's time zone. Validation admits only known zone names, so the fallback is
    /// reached only by a row written outside pufa.
    pub fn tz(&self) -> Tz {
        Tz::from_str(&self.timezone).unwrap_or(crate::schedule::DEFAULT_TZ)
    }
    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public
    }
    pub fn is_published(&self) -> bool {
        self.published.is_some()
    }
    pub fn renditions(&self) -> &[PublishedRendition] {
        &self.renditions
    }
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// The master playlist's URL once published.
    pub fn master_url(&self) -> Option<String> {
        self.published.map(|v| v.master_url())
    }
    /// The poster's URL once published, for lectures with video.
    pub fn poster_url(&self) -> Option<String> {
        self.published
            .filter(|_| !self.audio_only)
            .map(|v| v.poster_url())
    }
}

const LECTURE_SELECT: &str = "
    SELECT l.id, l.session_id, s.program_id, l.visibility, l.hls_path, l.duration_s, l.renditions,
           l.audio_only, l.warnings, l.published_at, s.title, s.summary, s.category,
           lr.name AS lecturer_name, lr.firm AS lecturer_firm, lr.id AS lecturer_id, s.starts_at,
           p.timezone
    FROM lectures l
    JOIN lecture_sessions s ON s.id = l.session_id
    JOIN programs p ON p.id = s.program_id
    JOIN lecturers lr ON lr.id = s.lecturer_id";

/// A version is stored as its path (`lectures.hls_path`); a path that is not one is a corrupt
/// row and fails to decode.
impl Type<Sqlite> for LectureVersion {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for LectureVersion {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let path = <&str as Decode<Sqlite>>::decode(value)?;
        LectureVersion::parse(path)
            .ok_or_else(|| format!("not a lecture version path: {path:?}").into())
    }
}

impl<'q> Encode<'q, Sqlite> for LectureVersion {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.path(), buf)
    }
}

impl Db {
    pub async fn lecture(&self, id: i64) -> Result<Option<LectureRow>, sqlx::Error> {
        sqlx::query_as(&format!("{LECTURE_SELECT} WHERE l.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn lecture_of_session(
        &self,
        session_id: i64,
    ) -> Result<Option<LectureRow>, sqlx::Error> {
        sqlx::query_as(&format!("{LECTURE_SELECT} WHERE l.session_id = ?"))
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Published lectures, newest session first, optionally filtered; `query` searches titles,
    /// summaries and lecturers (FTS5 trigram; LIKE for queries under three characters, which
    /// a trigram index cannot match).
    pub async fn published_lectures(
        &self,
        category: Option<&str>,
        industry: Option<&str>,
        lecturer_id: Option<i64>,
        query: Option<&str>,
    ) -> Result<Vec<LectureRow>, sqlx::Error> {
        let mut sql =
            format!("{LECTURE_SELECT} WHERE l.hls_path IS NOT NULL AND s.status = 'scheduled'");
        if category.is_some() {
            sql.push_str(" AND s.category = ?");
        }
        if industry.is_some() {
            sql.push_str(
                " AND (s.target_industries = '[]' OR EXISTS (SELECT 1 FROM json_each(s.target_industries) j WHERE j.value = ?))",
            );
        }
        if lecturer_id.is_some() {
            sql.push_str(" AND lr.id = ?");
        }
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        let fts = query.map(|q| q.chars().count() >= 3);
        match fts {
            Some(true) => sql.push_str(" AND l.id IN (SELECT rowid FROM lecture_search WHERE lecture_search MATCH ?)"),
            Some(false) => sql.push_str(
                " AND l.id IN (SELECT rowid FROM lecture_search WHERE title LIKE ? OR summary LIKE ? OR lecturer LIKE ?)",
            ),
            None => {}
        }
        sql.push_str(" ORDER BY s.starts_at IS NULL, s.starts_at DESC, l.id DESC");
        let mut q = sqlx::query_as(&sql);
        if let Some(c) = category {
            q = q.bind(c);
        }
        if let Some(i) = industry {
            q = q.bind(i);
        }
        if let Some(l) = lecturer_id {
            q = q.bind(l);
        }
        if let Some(text) = query {
            if fts == Some(true) {
                // a phrase query: quotes doubled so user input cannot inject FTS syntax
                q = q.bind(format!("\"{}\"", text.replace('"', "\"\"")));
            } else {
                let like = format!("%{}%", text.replace(['%', '_'], ""));
                q = q.bind(like.clone()).bind(like.clone()).bind(like);
            }
        }
        q.fetch_all(&self.pool).await
    }

    pub async fn set_lecture_visibility(
        &self,
        id: i64,
        visibility: Visibility,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE lectures SET visibility = ?, updated_at = ? WHERE id = ?")
            .bind(visibility)
            .bind(Utc::now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Set who may watch the session's lecture, creating the lecture (unpublished) when the
    /// session has none yet, so that an organizer can decide before the first live or upload.
    pub async fn set_session_visibility(
        &self,
        session_id: i64,
        visibility: Visibility,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "INSERT INTO lectures (session_id, visibility, created_at, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET visibility = excluded.visibility,
                                                    updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(session_id)
        .bind(visibility)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
    }

    /// Refresh the search entry of the lecture of a session (after the session was edited).
    pub async fn reindex_session(&self, session_id: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let row =
            sqlx::query("SELECT id FROM lectures WHERE session_id = ? AND hls_path IS NOT NULL")
                .bind(session_id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(row) = row {
            reindex(&mut conn, row.try_get("id")?).await?;
        }
        Ok(())
    }
}

/// Rewrite a lecture's entry in the search index from its session and lecturer.
pub(super) async fn reindex(
    conn: &mut sqlx::SqliteConnection,
    lecture_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM lecture_search WHERE rowid = ?")
        .bind(lecture_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO lecture_search (rowid, title, summary, lecturer)
         SELECT l.id, s.title, s.summary, lr.name || ' ' || lr.firm
         FROM lectures l JOIN lecture_sessions s ON s.id = l.session_id
         JOIN lecturers lr ON lr.id = s.lecturer_id WHERE l.id = ?",
    )
    .bind(lecture_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
