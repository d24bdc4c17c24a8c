//! Caption and chapter tracks of lectures (checked WebVTT, one of each kind per lecture).

use super::Db;
use chrono::{DateTime, Utc};

/// A stored track.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrackRow {
    pub lecture_id: i64,
    pub kind: String,
    pub language: String,
    pub vtt: String,
    pub cues: i64,
    pub source_format: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub uploaded_at: DateTime<Utc>,
}

/// A track to store.
pub struct NewTrack<'a> {
    pub lecture_id: i64,
    pub kind: &'a str,
    pub vtt: &'a str,
    pub cues: i64,
    pub source_format: &'a str,
    pub uploaded_by: Option<i64>,
    pub uploaded_at: DateTime<Utc>,
}

const COLUMNS: &str = "lecture_id, kind, language, vtt, cues, source_format, uploaded_at";

impl Db {
    /// Store a track, replacing the lecture's track of the same kind.
    pub async fn put_lecture_track(&self, t: &NewTrack<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO lecture_tracks (lecture_id, kind, vtt, cues, source_format, uploaded_by, uploaded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (lecture_id, kind) DO UPDATE SET
                vtt = excluded.vtt, cues = excluded.cues, source_format = excluded.source_format,
                uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at",
        )
        .bind(t.lecture_id)
        .bind(t.kind)
        .bind(t.vtt)
        .bind(t.cues)
        .bind(t.source_format)
        .bind(t.uploaded_by)
        .bind(crate::db::ts(t.uploaded_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The lecture's track of `kind`, if uploaded.
    pub async fn lecture_track(
        &self,
        lecture_id: i64,
        kind: &str,
    ) -> Result<Option<TrackRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM lecture_tracks WHERE lecture_id = $1 AND kind = $2"
        ))
        .bind(lecture_id)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await
    }

    /// Every track of the lecture (at most one per kind).
    pub async fn lecture_tracks(&self, lecture_id: i64) -> Result<Vec<TrackRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM lecture_tracks WHERE lecture_id = $1 ORDER BY kind"
        ))
        .bind(lecture_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Whether the lecture has captions (one indexed lookup, asked on every master playlist).
    pub async fn has_subtitles(&self, lecture_id: i64) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM lecture_tracks WHERE lecture_id = $1 AND kind = 'subtitles')",
        )
        .bind(lecture_id)
        .fetch_one(&self.pool)
        .await
        .map(|f: super::Flag| f.0)
    }

    /// Remove the lecture's track of `kind`; false when there was none.
    pub async fn delete_lecture_track(
        &self,
        lecture_id: i64,
        kind: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM lecture_tracks WHERE lecture_id = $1 AND kind = $2")
            .bind(lecture_id)
            .bind(kind)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
