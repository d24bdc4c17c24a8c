//! Use cases of the lecture archive: search, the player page, watch progress, the organizer's
//! figures, learning certificates, visibility and the protected HLS files.

use crate::accounts::{industry, Role, User};
use crate::archive::access::needs_enrolment;
use crate::archive::certificate::{self, NotAttended};
use crate::archive::retention;
use crate::archive::watch::{self, Ranges, WatchState};
use crate::archive::{access, Access, Attendance, Enrolment, Visibility};
use crate::db::accounts::Enterprise;
use crate::db::lectures::LectureRow;
use crate::db::watch::{ViewerRow, WatchRow};
use crate::db::Db;
use crate::media::storage::{FileSource, Storage};
use crate::schedule::CATEGORIES;
use crate::validation::{check_text, FieldErrors, Lines};
use chrono::{DateTime, Utc};

/// Longest search text used; the rest is ignored.
const MAX_QUERY_CHARS: usize = 100;
/// Lectures of the same category shown next to the player.
const RELATED_LECTURES: usize = 4;

/// Why an archive request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// No such lecture (or not published, or a certificate the viewer may not see).
    #[error("not found")]
    NotFound,
    /// The lecture is for registered accounts and the viewer is not logged in.
    #[error("login required")]
    LoginRequired,
    /// The lecture is for the session's enrolled enterprises and the viewer is not one.
    #[error("not enrolled")]
    NotEnrolled,
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The viewer may not change this lecture (captions: organizers and its lecturer).
    #[error("forbidden")]
    Forbidden,
    /// The enterprise did not watch enough for a certificate.
    #[error("not attended")]
    NotAttended(NotAttended),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ArchiveError {
    fn from(e: sqlx::Error) -> Self {
        ArchiveError::Internal(e.into())
    }
}

pub(super) async fn lecture_row(db: &Db, id: i64) -> Result<LectureRow, ArchiveError> {
    db.lecture(id).await?.ok_or(ArchiveError::NotFound)
}

/// The access rule (see [`access`]) for `viewer` on a lecture of `visibility` of session
/// `session_id`; the enrolment is read (one indexed query) only when the rule needs it.
pub async fn viewer_access(
    db: &Db,
    session_id: i64,
    visibility: Visibility,
    viewer: Option<&User>,
) -> Result<Access, sqlx::Error> {
    let enrolment = match viewer {
        Some(u) if needs_enrolment(visibility, Some(u)) => db.enrolment(session_id, u.id).await?,
        _ => Enrolment::default(),
    };
    Ok(access(visibility, viewer, enrolment))
}

/// [`Access`] as the archive's refusal.
pub(super) fn allowed(access: Access) -> Result<(), ArchiveError> {
    match access {
        Access::Allowed => Ok(()),
        Access::LoginRequired => Err(ArchiveError::LoginRequired),
        Access::NotEnrolled => Err(ArchiveError::NotEnrolled),
    }
}

/// A parameter with its surrounding blanks removed; `None` when nothing is left.
fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// What the archive is filtered by, cleaned: unknown categories, industries and lecturers are
/// ignored, the search text is trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveFilter {
    pub category: Option<String>,
    /// An industry section code (`A`…`T`).
    pub industry: Option<char>,
    pub lecturer: Option<i64>,
    pub query: Option<String>,
}

impl ArchiveFilter {
    /// The filter from query parameters as given.
    pub fn from_params(
        category: Option<&str>,
        industry: Option<&str>,
        lecturer: Option<&str>,
        query: Option<&str>,
    ) -> ArchiveFilter {
        ArchiveFilter {
            category: clean(category)
                .filter(|c| CATEGORIES.contains(c))
                .map(str::to_string),
            industry: clean(industry).and_then(industry::parse_section),
            lecturer: clean(lecturer).and_then(|l| l.parse::<i64>().ok()),
            query: clean(query).map(|q| q.chars().take(MAX_QUERY_CHARS).collect()),
        }
    }

    /// Whether anything is filtered.
    pub fn is_active(&self) -> bool {
        self.category.is_some()
            || self.industry.is_some()
            || self.lecturer.is_some()
            || self.query.is_some()
    }
}

/// A lecturer of the published lectures, for the archive's lecturer filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLecturer {
    pub id: i64,
    pub name: String,
    pub firm: String,
}

/// The archive as filtered.
#[derive(Debug, Clone)]
pub struct Archive {
    pub filter: ArchiveFilter,
    /// Matching published lectures, newest session first.
    pub lectures: Vec<LectureRow>,
    /// Every lecturer with a published lecture, in order of their newest lecture.
    pub lecturers: Vec<ArchiveLecturer>,
}

/// Search the published lectures. A search text with control or direction characters is
/// refused with a message (a NUL used to reach the full-text index and fail there).
pub async fn search(db: &Db, filter: ArchiveFilter) -> Result<Archive, ArchiveError> {
    if let Some(query) = &filter.query {
        check_text("搜索内容", query, Lines::Single)
            .map_err(|m| ArchiveError::Invalid(FieldErrors::single("q", m)))?;
    }
    let industry = filter.industry.map(|c| c.to_string());
    let lectures = db
        .published_lectures(
            filter.category.as_deref(),
            industry.as_deref(),
            filter.lecturer,
            filter.query.as_deref(),
        )
        .await?;
    let mut lecturers: Vec<ArchiveLecturer> = Vec::new();
    for l in db.published_lectures(None, None, None, None).await? {
        if !lecturers.iter().any(|known| known.id == l.lecturer_id) {
            lecturers.push(ArchiveLecturer {
                id: l.lecturer_id,
                name: l.lecturer_name,
                firm: l.lecturer_firm,
            });
        }
    }
    Ok(Archive {
        filter,
        lectures,
        lecturers,
    })
}

/// A published lecture as its player page shows it to one viewer.
#[derive(Debug, Clone)]
pub struct LectureView {
    pub lecture: LectureRow,
    /// Whether the viewer may play it (see [`access`]).
    pub access: Access,
    /// Where the viewer left off, in seconds.
    pub resume_s: f64,
    /// How much the viewer watched, once they did and the duration is known.
    pub watched: Option<Attendance>,
    /// Other published lectures of the same category.
    pub related: Vec<LectureRow>,
}

/// The player page of a published lecture for `viewer` (`None` when not logged in).
pub async fn lecture(
    db: &Db,
    id: i64,
    viewer: Option<&User>,
    attendance_share: f64,
) -> Result<LectureView, ArchiveError> {
    let lecture = lecture_row(db, id).await?;
    if !lecture.is_published() {
        return Err(ArchiveError::NotFound);
    }
    let access = viewer_access(db, lecture.session_id, lecture.visibility, viewer).await?;
    let (resume_s, watched) = match viewer {
        Some(u) => match db.watch(u.id, id).await? {
            Some(w) => (
                crate::archive::watch::resume_position(w.last_position, lecture.duration_s),
                lecture
                    .duration_s
                    .map(|d| Attendance::of(w.watched_s, d, attendance_share)),
            ),
            None => (0.0, None),
        },
        None => (0.0, None),
    };
    let related = db
        .published_lectures(Some(&lecture.category), None, None, None)
        .await?
        .into_iter()
        .filter(|l| l.id != id)
        .take(RELATED_LECTURES)
        .collect();
    Ok(LectureView {
        lecture,
        access,
        resume_s,
        watched,
        related,
    })
}

/// The outcome of a progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordedProgress {
    /// Seconds of the lecture watched at least once.
    pub watched_s: f64,
    pub attendance: Attendance,
    /// The position as recorded (clamped to the duration).
    pub position_s: f64,
}

/// Seconds since the Unix epoch, with milliseconds, the time base of [`WatchState`].
fn epoch_s(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn watch_state(row: WatchRow) -> WatchState {
    WatchState {
        ranges: Ranges(row.ranges.0),
        last_position: row.last_position,
        last_report_s: Some(epoch_s(row.last_report)),
    }
}

/// Record that `user`'s player is at `position_s` of a published lecture at `now`: the
/// watched ranges grow only by plausible playback (see [`watch::apply_report`]). Only viewers
/// who may watch the lecture report progress (an enterprise not enrolled in an enrolled
/// lecture could otherwise earn its certificate without the video).
pub async fn record_progress(
    db: &Db,
    user: &User,
    lecture_id: i64,
    position_s: f64,
    now: DateTime<Utc>,
    attendance_share: f64,
) -> Result<RecordedProgress, ArchiveError> {
    let lecture = lecture_row(db, lecture_id).await?;
    let Some(duration) = lecture.duration_s.filter(|_| lecture.is_published()) else {
        return Err(ArchiveError::NotFound);
    };
    allowed(viewer_access(db, lecture.session_id, lecture.visibility, Some(user)).await?)?;
    let watched = save_report(
        db,
        user.id,
        lecture_id,
        position_s,
        now,
        duration,
        watch::Completion::AtShare(attendance_share),
    )
    .await?
    .map_err(|e| ArchiveError::Invalid(FieldErrors::single("position_s", e.message_zh())))?;
    Ok(RecordedProgress {
        watched_s: watched.watched_s,
        attendance: Attendance::of(watched.watched_s, duration, attendance_share),
        position_s: watched.position_s,
    })
}

/// What a saved report amounts to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavedReport {
    /// Seconds watched at least once (the union of ranges).
    pub watched_s: f64,
    /// The position as recorded (clamped to the duration).
    pub position_s: f64,
}

/// Apply a position report of `user_id` on `lecture_id` (of `duration_s` so far) to the
/// stored watched ranges and save it: the one bookkeeping of the recorded player's progress
/// and of live watching, so that both add up in the same union per account and lecture.
/// The inner error is a report out of range; nothing is saved then. The moment a report
/// completes the lecture under `completion` ([`watch::completes`]) is kept as the date of
/// attendance.
pub async fn save_report(
    db: &Db,
    user_id: i64,
    lecture_id: i64,
    position_s: f64,
    now: DateTime<Utc>,
    duration_s: f64,
    completion: watch::Completion,
) -> Result<Result<SavedReport, watch::ReportError>, sqlx::Error> {
    let current = db
        .watch(user_id, lecture_id)
        .await?
        .map(watch_state)
        .unwrap_or_default();
    let next = match watch::apply_report(&current, position_s, epoch_s(now), duration_s) {
        Ok(next) => next,
        Err(e) => return Ok(Err(e)),
    };
    let watched_s = next.ranges.total();
    let attended = watch::completes(watched_s, duration_s, completion);
    db.save_watch(
        user_id,
        lecture_id,
        &crate::db::watch::WatchUpdate {
            ranges: &next.ranges.0,
            watched_s,
            last_position: next.last_position,
            at: now,
            attended,
        },
    )
    .await?;
    Ok(Ok(SavedReport {
        watched_s,
        position_s: next.last_position,
    }))
}

/// Make a lecture public, registered-only or enrolled-only (organizers); returns the lecture
/// as it was.
pub async fn set_visibility(
    db: &Db,
    lecture_id: i64,
    visibility: &str,
    now: DateTime<Utc>,
    actor: Option<&User>,
) -> Result<LectureRow, ArchiveError> {
    let lecture = lecture_row(db, lecture_id).await?;
    let Some(visibility) = Visibility::parse(visibility) else {
        return Err(ArchiveError::Invalid(FieldErrors::single(
            "visibility",
            "请选择“公开”“仅注册企业”或“仅已报名企业”",
        )));
    };
    db.set_lecture_visibility(lecture_id, visibility).await?;
    super::audit::record(
        db,
        now,
        actor,
        super::audit::Action::LectureVisibilityChanged,
        super::audit::Target::Lecture(lecture_id),
        serde_json::json!({"session_id": lecture.session_id, "visibility": visibility.as_str()}),
    )
    .await;
    Ok(lecture)
}

/// Set who may watch session `session_id`'s live and recordings before it has any (its
/// lecture is created unpublished); later lives and uploads keep the choice.
pub async fn set_session_visibility(
    db: &Db,
    now: DateTime<Utc>,
    session_id: i64,
    visibility: &str,
    actor: Option<&User>,
) -> Result<i64, ArchiveError> {
    let Some(visibility) = Visibility::parse(visibility) else {
        return Err(ArchiveError::Invalid(FieldErrors::single(
            "visibility",
            "请选择“公开”“仅注册企业”或“仅已报名企业”",
        )));
    };
    if db.session(session_id).await?.is_none() {
        return Err(ArchiveError::NotFound);
    }
    let lecture_id = db
        .set_session_visibility(session_id, visibility, now)
        .await?;
    super::audit::record(
        db,
        now,
        actor,
        super::audit::Action::LectureVisibilityChanged,
        super::audit::Target::Lecture(lecture_id),
        serde_json::json!({"session_id": session_id, "visibility": visibility.as_str()}),
    )
    .await;
    Ok(lecture_id)
}

/// One viewer in the organizer's figures.
#[derive(Debug, Clone)]
pub struct ViewerFigures {
    pub row: ViewerRow,
    pub attendance: Attendance,
}

impl ViewerFigures {
    pub fn is_enterprise(&self) -> bool {
        self.row.role == Role::Enterprise.as_str()
    }
}

/// Who watched a lecture and how much (organizers).
#[derive(Debug, Clone)]
pub struct LectureStats {
    pub lecture: LectureRow,
    /// Most watched first.
    pub viewers: Vec<ViewerFigures>,
    /// Viewers that are enterprises.
    pub enterprises: usize,
    /// Mean watched percentage over all viewers.
    pub average_percent: u32,
    /// Viewers who completed the lecture.
    pub completed: usize,
    /// Enterprises that reached the attendance threshold.
    pub attended: usize,
    /// Viewers who watched each point of the timeline, at every [`RETENTION_STEPS`]th of it
    /// (empty without a duration).
    pub retention: Vec<usize>,
    /// Viewers per band of the watched share ([`retention::BANDS`]).
    pub bands: [usize; 5],
}

/// Into how many steps the retention curve divides a lecture's timeline.
pub const RETENTION_STEPS: usize = 100;

/// The figures of a lecture.
pub async fn stats(
    db: &Db,
    lecture_id: i64,
    attendance_share: f64,
) -> Result<LectureStats, ArchiveError> {
    let lecture = lecture_row(db, lecture_id).await?;
    let duration = lecture.duration_s.unwrap_or(0.0);
    let viewers: Vec<ViewerFigures> = db
        .viewers(lecture_id)
        .await?
        .into_iter()
        .map(|row| ViewerFigures {
            attendance: Attendance::of(row.watched_s, duration, attendance_share),
            row,
        })
        .collect();
    let average_percent = if viewers.is_empty() {
        0
    } else {
        let sum: u32 = viewers.iter().map(|v| v.attendance.percent).sum();
        (f64::from(sum) / viewers.len() as f64).round() as u32
    };
    let ranges: Vec<&[(f64, f64)]> = viewers.iter().map(|v| v.row.ranges.0.as_slice()).collect();
    let retention = retention::curve(&ranges, duration, RETENTION_STEPS);
    let percents: Vec<u32> = viewers.iter().map(|v| v.attendance.percent).collect();
    Ok(LectureStats {
        retention,
        bands: retention::bands(&percents),
        enterprises: viewers.iter().filter(|v| v.is_enterprise()).count(),
        average_percent,
        completed: viewers.iter().filter(|v| v.attendance.completed()).count(),
        attended: viewers
            .iter()
            .filter(|v| v.attendance.attended && v.is_enterprise())
            .count(),
        viewers,
        lecture,
    })
}

/// What a learning certificate states.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub lecture: LectureRow,
    pub enterprise: Enterprise,
    pub attendance: Attendance,
    pub watched_s: f64,
    /// The verification code (`/certificates/{code}`).
    pub code: String,
    /// The day attendance was reached, in the program's zone (not the day of printing).
    pub attended_on: chrono::NaiveDate,
}

/// The certificate of `enterprise_id` for a lecture, for `viewer` (see
/// [`certificate::may_view`]; anyone else is told it does not exist).
pub async fn certificate(
    db: &Db,
    now: DateTime<Utc>,
    viewer: &User,
    lecture_id: i64,
    enterprise_id: i64,
    attendance_share: f64,
) -> Result<Certificate, ArchiveError> {
    if !certificate::may_view(viewer, enterprise_id) {
        return Err(ArchiveError::NotFound);
    }
    let lecture = lecture_row(db, lecture_id).await?;
    let enterprise = db
        .enterprise(enterprise_id)
        .await?
        .ok_or(ArchiveError::NotFound)?;
    let watch = db
        .watch(enterprise_id, lecture_id)
        .await?
        .ok_or(ArchiveError::NotFound)?;
    let attendance = Attendance::of(
        watch.watched_s,
        lecture.duration_s.unwrap_or(0.0),
        attendance_share,
    );
    certificate::check_eligible(&attendance, attendance_share)
        .map_err(ArchiveError::NotAttended)?;
    let secret = db.signing_secret().await?;
    let code = certificate::code(secret.as_bytes(), lecture.id, enterprise_id);
    // reached while watching the replay, else (a live) the day of the last report
    let attended_on = watch
        .attended_at
        .unwrap_or(watch.last_report)
        .with_timezone(&lecture.tz())
        .date_naive();
    db.record_certificate(&crate::db::certificates::IssuedCertificate {
        code: &code,
        lecture_id: lecture.id,
        enterprise_id,
        attended_on,
        percent: i64::from(attendance.percent),
        issued_at: now,
    })
    .await?;
    Ok(Certificate {
        code,
        attended_on,
        lecture,
        enterprise,
        attendance,
        watched_s: watch.watched_s,
    })
}

/// The public check of a certificate: the code as typed; `None` when no certificate (or no
/// longer one: the enterprise deleted its account, the lecture was removed) has it.
pub async fn verify_certificate(
    db: &Db,
    input: &str,
) -> Result<Option<crate::db::certificates::VerifiedCertificate>, ArchiveError> {
    let Some(code) = certificate::normalize_code(input) else {
        return Ok(None);
    };
    Ok(db.verified_certificate(&code).await?)
}

/// A file of a published lecture that `viewer` may fetch.
#[derive(Debug, Clone)]
pub struct PlayableFile {
    pub source: FileSource,
    /// The master playlist of a lecture with captions: served with the subtitle rendition.
    pub with_subtitles: bool,
    /// Public files may be cached by shared caches, the others only by the viewer's browser.
    pub visibility: Visibility,
}

/// `file` of version `version` (the URL's `v{job}`) of a lecture, checked on every request:
/// only the published version is served, and only to viewers the [`access`] rule admits.
pub async fn playable_file(
    db: &Db,
    storage: &dyn Storage,
    lecture_id: i64,
    version: &str,
    file: &str,
    viewer: Option<&User>,
) -> Result<PlayableFile, ArchiveError> {
    let lecture = lecture_row(db, lecture_id).await?;
    // half-made output and replaced versions are never served
    let Some(published) = lecture.published.filter(|v| v.is_named(version)) else {
        return Err(ArchiveError::NotFound);
    };
    allowed(viewer_access(db, lecture.session_id, lecture.visibility, viewer).await?)?;
    let source = storage
        .open_file(published, file)
        .ok_or(ArchiveError::NotFound)?;
    let with_subtitles = file == "master.m3u8" && db.has_subtitles(lecture_id).await?;
    Ok(PlayableFile {
        source,
        with_subtitles,
        visibility: lecture.visibility,
    })
}
