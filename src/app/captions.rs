//! Captions and chapters of a lecture (issue 17): organizers and the lecture's lecturer upload
//! WebVTT or SRT files; viewers who may watch the lecture get them as an HLS subtitle rendition
//! (`subs/zh.m3u8` beside the master playlist) and as the chapter list of the player page.

use super::archive::{allowed, lecture_row, viewer_access, ArchiveError};
use super::audit;
use crate::accounts::{Role, User};
use crate::archive::captions::{self, Chapter, TrackKind};
use crate::archive::Visibility;
use crate::db::captions::NewTrack;
use crate::db::lectures::LectureRow;
use crate::db::Db;
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};

/// A stored track as the API and the pages describe it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TrackSummary {
    pub lecture_id: i64,
    pub kind: TrackKind,
    /// `zh`.
    pub language: String,
    /// How many cues (captions or chapters) the track has.
    pub cues: i64,
    /// The uploaded file's format (`webvtt` or `srt`; SRT is stored converted to WebVTT).
    pub source_format: String,
    pub uploaded_at: DateTime<Utc>,
}

/// Organizers, and the lawyer who gives the lecture's session.
pub async fn may_manage(db: &Db, user: &User, lecture: &LectureRow) -> Result<bool, ArchiveError> {
    Ok(match user.role {
        Role::Organizer => true,
        Role::Lawyer => db.session_lecturer_user(lecture.session_id).await? == Some(user.id),
        Role::Enterprise => false,
    })
}

fn kind_of(kind: &str) -> Result<TrackKind, ArchiveError> {
    TrackKind::parse(kind).ok_or_else(|| {
        ArchiveError::Invalid(FieldErrors::single(
            "kind",
            "请选择“字幕”（subtitles）或“章节”（chapters）",
        ))
    })
}

/// The lecture and the track kind of an upload or removal by `user`, once `user` may manage
/// the lecture's tracks.
async fn managed(
    db: &Db,
    user: &User,
    lecture_id: i64,
    kind: &str,
) -> Result<(LectureRow, TrackKind), ArchiveError> {
    let lecture = lecture_row(db, lecture_id).await?;
    if !may_manage(db, user, &lecture).await? {
        return Err(ArchiveError::Forbidden);
    }
    Ok((lecture, kind_of(kind)?))
}

/// The audit entry of a change to a lecture's tracks.
async fn record_change(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    lecture_id: i64,
    detail: serde_json::Value,
) {
    audit::record(
        db,
        now,
        Some(user),
        audit::Action::CaptionsChanged,
        audit::Target::Lecture(lecture_id),
        detail,
    )
    .await;
}

/// Store `bytes` (WebVTT or SRT) as the lecture's track of `kind`, replacing an earlier one.
/// A file that cannot be read is refused with the line at fault (field `file`).
pub async fn upload(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    lecture_id: i64,
    kind: &str,
    bytes: &[u8],
) -> Result<TrackSummary, ArchiveError> {
    let (lecture, kind) = managed(db, user, lecture_id, kind).await?;
    let invalid = |e: captions::CaptionError| {
        ArchiveError::Invalid(FieldErrors::single("file", e.to_string()))
    };
    let track = captions::parse(bytes).map_err(invalid)?;
    captions::check(&track, kind, lecture.duration_s).map_err(invalid)?;
    let vtt = captions::to_webvtt(&track.cues);
    let cues = i64::try_from(track.cues.len()).unwrap_or(i64::MAX);
    db.put_lecture_track(&NewTrack {
        lecture_id,
        kind: kind.as_str(),
        vtt: &vtt,
        cues,
        source_format: track.format.as_str(),
        uploaded_by: Some(user.id),
        uploaded_at: now,
    })
    .await?;
    let detail =
        serde_json::json!({"kind": kind.as_str(), "cues": cues, "format": track.format.as_str()});
    record_change(db, now, user, lecture_id, detail).await;
    Ok(TrackSummary {
        lecture_id,
        kind,
        language: "zh".into(),
        cues,
        source_format: track.format.as_str().into(),
        uploaded_at: now,
    })
}

/// Remove the lecture's track of `kind` (404 when there is none).
pub async fn remove(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    lecture_id: i64,
    kind: &str,
) -> Result<(), ArchiveError> {
    let (_, kind) = managed(db, user, lecture_id, kind).await?;
    if !db.delete_lecture_track(lecture_id, kind.as_str()).await? {
        return Err(ArchiveError::NotFound);
    }
    let detail = serde_json::json!({"kind": kind.as_str(), "removed": true});
    record_change(db, now, user, lecture_id, detail).await;
    Ok(())
}

/// The lecture's tracks, for the page of someone who may manage them.
pub async fn summaries(db: &Db, lecture_id: i64) -> Result<Vec<TrackSummary>, ArchiveError> {
    Ok(db
        .lecture_tracks(lecture_id)
        .await?
        .into_iter()
        .filter_map(|t| {
            Some(TrackSummary {
                lecture_id: t.lecture_id,
                kind: TrackKind::parse(&t.kind)?,
                language: t.language,
                cues: t.cues,
                source_format: t.source_format,
                uploaded_at: t.uploaded_at,
            })
        })
        .collect())
}

/// The chapters of a lecture (empty without a chapters track).
pub async fn chapters(db: &Db, lecture: &LectureRow) -> Result<Vec<Chapter>, ArchiveError> {
    Ok(
        match db
            .lecture_track(lecture.id, TrackKind::Chapters.as_str())
            .await?
        {
            Some(t) => captions::chapters(&t.vtt, lecture.duration_s),
            None => Vec::new(),
        },
    )
}

/// A file of the subtitle rendition, made from the stored track.
pub struct CaptionFile {
    pub body: String,
    pub content_type: &'static str,
    pub visibility: Visibility,
}

/// `subs/zh.m3u8` or `subs/zh.vtt` of version `version` of a lecture, with the same checks
/// as its other files: the published version only, the viewers the access rule admits.
pub async fn subtitle_file(
    db: &Db,
    lecture_id: i64,
    version: &str,
    file: &str,
    viewer: Option<&User>,
) -> Result<CaptionFile, ArchiveError> {
    let lecture = lecture_row(db, lecture_id).await?;
    if !lecture.published.is_some_and(|v| v.is_named(version)) {
        return Err(ArchiveError::NotFound);
    }
    allowed(viewer_access(db, lecture.session_id, lecture.visibility, viewer).await?)?;
    let Some(track) = db
        .lecture_track(lecture_id, TrackKind::Subtitles.as_str())
        .await?
    else {
        return Err(ArchiveError::NotFound);
    };
    let (body, content_type) = if file == captions::SUBTITLE_PLAYLIST {
        (
            captions::subtitle_playlist(lecture.duration_s.unwrap_or(1.0)),
            "application/vnd.apple.mpegurl",
        )
    } else if file.strip_prefix("subs/") == Some(captions::SUBTITLE_FILE) {
        (track.vtt, "text/vtt; charset=utf-8")
    } else {
        return Err(ArchiveError::NotFound);
    };
    Ok(CaptionFile {
        body,
        content_type,
        visibility: lecture.visibility,
    })
}
