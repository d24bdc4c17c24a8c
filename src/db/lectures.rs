//! Lectures (published recordings) and the archive's search index.

use super::types::Sql;
use super::Db;
use super::Json;
use crate::archive::{LectureVersion, Visibility};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
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
    #[sqlx(try_from = "crate::db::Flag")]
    pub audio_only: bool,
    /// Non-fatal transcode problems, in English, for organizers.
    pub warnings: Json<Vec<String>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub published_at: Option<DateTime<Utc>>,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub lecturer_name: String,
    pub lecturer_firm: String,
    pub lecturer_id: i64,
    #[sqlx(try_from = "crate::db::OptTs")]
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
impl Type<Any> for LectureVersion {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for LectureVersion {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        let path = <String as Decode<Any>>::decode(value)?;
        let path = path.as_str();
        LectureVersion::parse(path)
            .ok_or_else(|| format!("not a lecture version path: {path:?}").into())
    }
}

impl<'q> Encode<'q, Any> for LectureVersion {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Any>>::encode(self.path(), buf)
    }
}

impl Db {
    pub async fn lecture(&self, id: i64) -> Result<Option<LectureRow>, sqlx::Error> {
        sqlx::query_as(&format!("{LECTURE_SELECT} WHERE l.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn lecture_of_session(
        &self,
        session_id: i64,
    ) -> Result<Option<LectureRow>, sqlx::Error> {
        sqlx::query_as(&format!("{LECTURE_SELECT} WHERE l.session_id = $1"))
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
        let mut q = Sql::new(&format!(
            "{LECTURE_SELECT} WHERE l.hls_path IS NOT NULL AND s.status = 'scheduled'"
        ));
        if let Some(c) = category {
            q.push(" AND s.category = ").push_bind(c.to_string());
        }
        if let Some(i) = industry {
            q.push(" AND (s.target_industries = '[]' OR ")
                .push(&self.json_array_contains("s.target_industries"))
                .push_bind(i.to_string())
                .push("))");
        }
        if let Some(l) = lecturer_id {
            q.push(" AND lr.id = ").push_bind(l);
        }
        if let Some(text) = query.map(str::trim).filter(|q| !q.is_empty()) {
            q.push(" AND l.id IN (SELECT rowid FROM lecture_search WHERE ");
            self.push_text_search(
                &mut q,
                &["title", "summary", "lecturer"],
                "lecture_search",
                text,
            );
            q.push(")");
        }
        q.push(" ORDER BY s.starts_at IS NULL, s.starts_at DESC, l.id DESC");
        let (sql, args) = q.build()?;
        sqlx::query_as_with(&sql, args).fetch_all(&self.pool).await
    }

    pub async fn set_lecture_visibility(
        &self,
        id: i64,
        visibility: Visibility,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE lectures SET visibility = $1, updated_at = $2 WHERE id = $3")
            .bind(visibility)
            .bind(crate::db::ts(Utc::now()))
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
            "INSERT INTO lectures (session_id, visibility, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id) DO UPDATE SET visibility = excluded.visibility,
                                                    updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(session_id)
        .bind(visibility)
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&self.pool)
        .await
    }

    /// Refresh the search entry of the lecture of a session (after the session was edited).
    pub async fn reindex_session(&self, session_id: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let row =
            sqlx::query("SELECT id FROM lectures WHERE session_id = $1 AND hls_path IS NOT NULL")
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
    conn: &mut sqlx::AnyConnection,
    lecture_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM lecture_search WHERE rowid = $1")
        .bind(lecture_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO lecture_search (rowid, title, summary, lecturer)
         SELECT l.id, s.title, s.summary, lr.name || ' ' || lr.firm
         FROM lectures l JOIN lecture_sessions s ON s.id = l.session_id
         JOIN lecturers lr ON lr.id = s.lecturer_id WHERE l.id = $1",
    )
    .bind(lecture_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
