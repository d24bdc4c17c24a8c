//! Use cases of the live pages and API: a session's live as a viewer sees it (state, player
//! URL, viewers), the ingest URLs and figures organizers and the session's lawyer see, key
//! rotation, the access check of the live playlists and segments, and live watching that
//! counts towards attendance like the replay does.

use super::service::{LivePhase, LiveService, LiveSettings, LiveSnapshot};
use crate::accounts::{Role, User};
use crate::app::archive::{save_report, viewer_access, SavedReport};
use crate::archive::{access, Access, Visibility};
use crate::db::live::{LiveRow, LiveRowState};
use crate::db::schedule::SessionRow;
use crate::db::Db;
use crate::media::live::hub::LiveHub;
use crate::media::live::ingest::admission::{window, Refusal};
use crate::media::live::packager::LiveStatus;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The SRT receive latency lecturers are given, in microseconds as ffmpeg and OBS read the
/// `latency` URL option: one second absorbs the retransmissions of a poor uplink at a small
/// cost in glass-to-glass latency (SRT's 120 ms default does not).
pub const SRT_LATENCY_US: u64 = 1_000_000;
/// Refused publish attempts shown to organizers.
const REFUSALS_SHOWN: i64 = 20;

/// Why a live request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No such session, or no live (hub) to serve.
    #[error("not found")]
    NotFound,
    /// Not logged in, and the lecture is not public.
    #[error("login required")]
    LoginRequired,
    /// Logged in, but not enrolled in the session of an enrolled lecture.
    #[error("not enrolled")]
    NotEnrolled,
    /// The account's role may not do this (rotate a key, read another session's key).
    #[error("forbidden")]
    Forbidden,
    /// A watch report whose `playing_date` is in no segment of the live.
    #[error("unknown position")]
    UnknownPosition,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for LiveError {
    fn from(e: sqlx::Error) -> Self {
        LiveError::Internal(e.into())
    }
}

impl LiveError {
    /// The Chinese message of a refused watch report.
    pub fn unknown_position_zh() -> &'static str {
        "播放时间不在本场直播的范围内，未记录观看进度"
    }
}

/// [`Access`] as a refusal.
fn allowed(access: Access) -> Result<(), LiveError> {
    match access {
        Access::Allowed => Ok(()),
        Access::LoginRequired => Err(LiveError::LoginRequired),
        Access::NotEnrolled => Err(LiveError::NotEnrolled),
    }
}

/// Where a session's live is, as viewers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LiveState {
    /// No live yet (or none since the last one was archived and forgotten).
    Idle,
    /// A publisher is streaming, or went away and may come back within the grace period.
    Live,
    /// The latest live is over; its replay is being made or published.
    Ended,
}

impl LiveState {
    /// Chinese label for pages.
    pub fn label_zh(self) -> &'static str {
        match self {
            LiveState::Idle => "未开始",
            LiveState::Live => "直播中",
            LiveState::Ended => "已结束",
        }
    }
}

/// The rule: live while this process has the live in `Live` or `Grace`; ended when its live
/// ended here or the database says the latest live is being (or was) archived; idle otherwise
/// (a database row still `live`/`grace` without a live in this process is a start in
/// progress or a stop the next start recovers, and has nothing to play).
pub fn live_state(current: Option<LivePhase>, latest: Option<LiveRowState>) -> LiveState {
    match current {
        Some(LivePhase::Live | LivePhase::Grace) => LiveState::Live,
        Some(LivePhase::Ended) => LiveState::Ended,
        None => match latest {
            Some(LiveRowState::Archiving | LiveRowState::Archived | LiveRowState::Interrupted) => {
                LiveState::Ended
            }
            Some(LiveRowState::Live | LiveRowState::Grace) | None => LiveState::Idle,
        },
    }
}

/// The master playlist of live `live_id` of `session_id`. The live's id is part of the path
/// because segment names restart with every live of a session and segments are cached as
/// immutable: a second live must not hit the first one's segments in a browser cache.
pub fn hls_url(session_id: i64, live_id: i64) -> String {
    format!("/live/{session_id}/{live_id}/master.m3u8")
}

/// What a viewer may do with the session's live beyond watching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    /// Organizers: ingest URLs and key, figures with the publishers' addresses, key rotation.
    Organizer,
    /// The session's linked lawyer (the lecturer who streams): ingest URLs and key, figures.
    Lecturer,
}

/// Whether `viewer` manages `session`'s live.
pub fn manager(viewer: Option<&User>, session: &SessionRow) -> Option<Manager> {
    let viewer = viewer?;
    match viewer.role {
        Role::Organizer => Some(Manager::Organizer),
        Role::Lawyer if session.lecturer_user_id == Some(viewer.id) => Some(Manager::Lecturer),
        Role::Lawyer | Role::Enterprise => None,
    }
}

/// The URLs a lecturer publishes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestInfo {
    pub stream_key: String,
    /// The RTMP server URL without the key (OBS's 服务器 field); `None` when RTMP is off.
    pub rtmp_server: Option<String>,
    /// The full RTMP URL (server + key), as ffmpeg takes it.
    pub rtmp_url: Option<String>,
    /// `srt://host:port?streamid={key}&latency=…`; `None` when SRT is off.
    pub srt_url: Option<String>,
}

impl IngestInfo {
    fn new(settings: &LiveSettings, stream_key: String) -> IngestInfo {
        IngestInfo {
            rtmp_server: settings.rtmp_base.clone(),
            rtmp_url: settings
                .rtmp_base
                .as_ref()
                .map(|base| format!("{base}{stream_key}")),
            srt_url: settings
                .srt_base
                .as_ref()
                .map(|base| format!("{base}?streamid={stream_key}&latency={SRT_LATENCY_US}")),
            stream_key,
        }
    }
}

/// A refused publish attempt as the organizer's log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusalLine {
    pub at: DateTime<Utc>,
    pub protocol: String,
    /// The stable code (`unknown_key`, `too_early`, …).
    pub code: String,
    /// Why, in Chinese.
    pub reason_zh: String,
    /// The publisher's address; only organizers see it.
    pub remote: Option<String>,
}

/// The Chinese reason of a refusal stored by its code; the publishing window of a
/// too-early/too-late refusal is the session's current one.
pub fn refusal_reason_zh(code: &str, session: &SessionRow) -> String {
    let tz = session.tz();
    let window = session.starts_at.map(|s| window(s, session.minutes));
    let refusal = match code {
        "unknown_key" => Refusal::UnknownKey,
        "rotated_key" => Refusal::RotatedKey,
        "cancelled" => Refusal::Cancelled,
        "unplaced" => Refusal::Unplaced,
        "already_live" => Refusal::AlreadyLive,
        "wrong_path" => Refusal::WrongPath,
        "unavailable" => Refusal::Unavailable,
        "too_early" => match window {
            Some((opens_at, _)) => Refusal::TooEarly { opens_at },
            None => return "尚未到直播时间".into(),
        },
        "too_late" => match window {
            Some((_, closed_at)) => Refusal::TooLate { closed_at },
            None => return "直播时段已结束".into(),
        },
        other => return format!("推流被拒绝（{other}）"),
    };
    refusal.message_zh(tz)
}

/// The keyframe interval lecturers are asked for: segments are cut at keyframes about every
/// 2 s, so a longer interval makes long segments (more latency), a shorter one wastes bits.
pub const KEYFRAME_INTERVAL_S: f64 = 2.0;

/// Whether a measured source keyframe interval deserves a warning (not about 2 s).
pub fn keyframe_interval_off(interval_s: Option<f64>) -> bool {
    interval_s.is_some_and(|s| (s - KEYFRAME_INTERVAL_S).abs() > 0.5)
}

/// What organizers and the session's lawyer see of the ingest.
#[derive(Clone, Debug)]
pub struct LiveFigures {
    /// The current period's packager status (default while idle).
    pub status: LiveStatus,
    pub peak_viewers: usize,
    /// Rungs the real-time guard dropped in the current period, with the lag (ms).
    pub dropped_rungs: Vec<(String, u64)>,
    /// Newest first.
    pub refusals: Vec<RefusalLine>,
    /// Viewers over time of the latest live, oldest first.
    pub viewer_samples: Vec<(DateTime<Utc>, i64)>,
}

/// A session's live as one viewer sees it.
#[derive(Clone, Debug)]
pub struct LiveView {
    pub session: SessionRow,
    /// Whether the viewer may watch; the fields below that could start playback are empty
    /// when not.
    pub access: Access,
    /// Who may watch (the session's lecture's visibility; enrolled before any live).
    pub visibility: Visibility,
    pub state: LiveState,
    pub live_id: Option<i64>,
    /// The live's master playlist, once it exists (the packager recognised the stream).
    pub hls_url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub viewers: usize,
    /// The published lecture of the session (the replay, or an uploaded recording).
    pub lecture_id: Option<i64>,
    /// The live ended and its replay is not published yet.
    pub replay_pending: bool,
    pub manager: Option<Manager>,
    pub ingest: Option<IngestInfo>,
    pub figures: Option<LiveFigures>,
}

impl LiveView {
    pub fn tz(&self) -> Tz {
        self.session.tz()
    }
}

async fn session_row(db: &Db, session_id: i64) -> Result<SessionRow, LiveError> {
    db.session(session_id).await?.ok_or(LiveError::NotFound)
}

/// The session's live for `viewer`, whether or not they may watch (the session page says why
/// not); the ingest key and figures only for its managers.
pub async fn live_view(
    db: &Db,
    service: &LiveService,
    now: DateTime<Utc>,
    session_id: i64,
    viewer: Option<&User>,
) -> Result<LiveView, LiveError> {
    let session = session_row(db, session_id).await?;
    let lecture = db.lecture_of_session(session_id).await?;
    // a live creates its lecture as enrolled; before that, the same rule applies
    let visibility = lecture
        .as_ref()
        .map_or(Visibility::Enrolled, |l| l.visibility);
    let access = viewer_access(db, session_id, visibility, viewer).await?;
    let current = service.current(session_id);
    let latest = match &current {
        Some(_) => None,
        None => db.latest_live(session_id).await?,
    };
    // a live another replica ingests, once its mirror has a master playlist
    let mirrored = match &latest {
        Some(l) if current.is_none() && mirror_running(service, l).await => Some(l.id),
        _ => None,
    };
    let state = match mirrored {
        Some(_) => LiveState::Live,
        None => live_state(
            current.as_ref().map(|c| c.phase),
            latest.as_ref().map(|l| l.state),
        ),
    };
    let lecture_id = lecture.as_ref().filter(|l| l.is_published()).map(|l| l.id);
    let manager = manager(viewer, &session);
    let (ingest, figures) = match manager {
        Some(m) => {
            let key = super::stream_key(db, now, session_id).await?;
            let figures = figures(db, &session, m, current.as_ref(), latest.as_ref()).await?;
            (
                Some(IngestInfo::new(service.settings(), key)),
                Some(figures),
            )
        }
        None => (None, None),
    };
    let may_watch = access.is_allowed();
    Ok(LiveView {
        access,
        visibility,
        state,
        live_id: current
            .as_ref()
            .map(|c| c.live_id)
            .or(latest.as_ref().map(|l| l.id)),
        // only once the packager started: a player given the URL earlier gets a 404
        hls_url: current
            .as_ref()
            .filter(|c| may_watch && c.hub.master_playlist().is_some())
            .map(|c| hls_url(session_id, c.live_id))
            .or(mirrored
                .filter(|_| may_watch)
                .map(|id| hls_url(session_id, id))),
        started_at: current
            .as_ref()
            .map(|c| c.started_at)
            .or(latest.as_ref().map(|l| l.started_at)),
        ended_at: match &current {
            Some(c) => c.ended_at,
            None => latest.as_ref().and_then(|l| l.ended_at),
        },
        viewers: current.as_ref().map_or(0, |c| c.viewers),
        lecture_id,
        replay_pending: state == LiveState::Ended && lecture_id.is_none(),
        manager,
        ingest,
        figures,
        session,
    })
}

async fn figures(
    db: &Db,
    session: &SessionRow,
    manager: Manager,
    current: Option<&LiveSnapshot>,
    latest: Option<&LiveRow>,
) -> Result<LiveFigures, LiveError> {
    let live_id = current.map(|c| c.live_id).or(latest.map(|l| l.id));
    let viewer_samples = match live_id {
        Some(id) => db.live_viewer_samples(id).await?,
        None => Vec::new(),
    };
    let refusals = db
        .live_refusals(session.id, REFUSALS_SHOWN)
        .await?
        .into_iter()
        .map(|r| RefusalLine {
            reason_zh: refusal_reason_zh(&r.reason, session),
            at: r.refused_at,
            protocol: r.protocol,
            code: r.reason,
            remote: (manager == Manager::Organizer).then_some(r.remote),
        })
        .collect();
    let stored_peak = latest.map_or(0, |l| usize::try_from(l.peak_viewers).unwrap_or(0));
    Ok(LiveFigures {
        status: current.map(|c| c.status.clone()).unwrap_or_default(),
        peak_viewers: current.map_or(stored_peak, |c| c.peak_viewers),
        dropped_rungs: current.map(|c| c.dropped_rungs.clone()).unwrap_or_default(),
        refusals,
        viewer_samples,
    })
}

/// [`live_view`] for someone who may watch: 401/403 otherwise (the API).
pub async fn live_status(
    db: &Db,
    service: &LiveService,
    now: DateTime<Utc>,
    session_id: i64,
    viewer: Option<&User>,
) -> Result<LiveView, LiveError> {
    let view = live_view(db, service, now, session_id, viewer).await?;
    allowed(view.access)?;
    Ok(view)
}

/// Replace the session's stream key (organizers); the old key is refused from now on.
pub async fn rotate_key(
    db: &Db,
    settings: &LiveSettings,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
) -> Result<IngestInfo, LiveError> {
    if user.role != Role::Organizer {
        return Err(LiveError::Forbidden);
    }
    session_row(db, session_id).await?;
    let key = super::rotate_stream_key(db, now, session_id).await?;
    tracing::info!(session = session_id, "stream key rotated");
    Ok(IngestInfo::new(settings, key))
}

/// The live whose files a request asks for, once the viewer passed the access check.
#[derive(Clone, Debug)]
pub struct LiveFiles {
    pub live_id: i64,
    /// The live's hub when this process ingests it; `None`: another replica does, and the
    /// files come from its mirror in the media storage ([`super::mirror`]).
    pub hub: Option<LiveHub>,
    /// Public lives may be cached by shared caches, the others only by the viewer's browser.
    pub visibility: Visibility,
}

/// The hub of the session's live `live_id` (`None`: the current one) for `viewer`, checked
/// on every playlist and segment request with one query (the lecture's visibility and the
/// viewer's enrolment together). 404 when this process has no such live.
pub async fn live_files(
    db: &Db,
    service: &LiveService,
    session_id: i64,
    live_id: Option<i64>,
    viewer: Option<&User>,
) -> Result<LiveFiles, LiveError> {
    let (id, lecture_id, hub) = match service
        .serving(session_id)
        .filter(|c| live_id.is_none_or(|id| id == c.live_id))
    {
        Some(current) => (current.live_id, current.lecture_id, Some(current.hub)),
        None => {
            // another replica's live, running and mirrored (or just ended: the mirror's
            // playlists say so until its replay is published and the mirror deleted)
            if !service.settings().mirror {
                return Err(LiveError::NotFound);
            }
            let row = match live_id {
                Some(id) => db.live(id).await?,
                None => db.latest_live(session_id).await?,
            }
            .filter(|r| {
                r.session_id == session_id
                    && matches!(
                        r.state,
                        LiveRowState::Live | LiveRowState::Grace | LiveRowState::Archiving
                    )
            })
            .ok_or(LiveError::NotFound)?;
            (row.id, row.lecture_id, None)
        }
    };
    let facts = db
        .lecture_access(lecture_id, viewer.map(|u| u.id))
        .await?
        .ok_or(LiveError::NotFound)?;
    allowed(access(facts.visibility, viewer, facts.enrolment))?;
    Ok(LiveFiles {
        live_id: id,
        hub,
        visibility: facts.visibility,
    })
}

/// Whether `latest` is a live another replica runs whose mirror already has its master
/// playlist (so a player given its URL here finds it).
async fn mirror_running(service: &LiveService, latest: &LiveRow) -> bool {
    if !service.settings().mirror
        || !matches!(latest.state, LiveRowState::Live | LiveRowState::Grace)
    {
        return false;
    }
    let key = super::mirror::key(latest.session_id, latest.id, super::mirror::MASTER);
    match service.storage().file(&key) {
        Some(file) => file.read_to_string().await.is_ok(),
        None => false,
    }
}

/// Where a watch report's position is looked up.
enum Timeline {
    /// The live this process ingests.
    Hub(LiveHub),
    /// A live another replica ingests: its mirrored timeline.
    Mirror(LiveRow),
}

/// Record that `user`'s live player shows the frame of wall-clock time `playing_date` (hls.js
/// `playingDate`) at `now`: mapped to the replay position by the hub and added to the same
/// watched ranges as the replay's progress reports, so live and replay watching add up.
pub async fn record_watch(
    db: &Db,
    service: &LiveService,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
    playing_date: DateTime<Utc>,
) -> Result<SavedReport, LiveError> {
    // this replica's live, or another's served from its mirror with the same timeline
    let (lecture_id, timeline) = match service.serving(session_id) {
        Some(live) => (live.lecture_id, Timeline::Hub(live.hub)),
        None => {
            let row = db
                .latest_live(session_id)
                .await?
                .filter(|r| {
                    service.settings().mirror
                        && matches!(r.state, LiveRowState::Live | LiveRowState::Grace)
                })
                .ok_or(LiveError::NotFound)?;
            (row.lecture_id, Timeline::Mirror(row))
        }
    };
    let facts = db
        .lecture_access(lecture_id, Some(user.id))
        .await?
        .ok_or(LiveError::NotFound)?;
    allowed(access(facts.visibility, Some(user), facts.enrolment))?;
    let (position, duration) = match timeline {
        Timeline::Hub(hub) => (hub.position_at(playing_date), hub.duration_s()),
        Timeline::Mirror(row) => {
            let key = super::mirror::key(row.session_id, row.id, super::mirror::TIMELINE);
            let text = match service.storage().file(&key) {
                Some(file) => file.read_to_string().await.map_err(|e| match e.kind() {
                    // not mirrored yet: no segment to be in
                    std::io::ErrorKind::NotFound => LiveError::UnknownPosition,
                    _ => LiveError::Internal(anyhow::anyhow!("reading the live's timeline: {e}")),
                })?,
                None => return Err(LiveError::NotFound),
            };
            let timeline: crate::media::live::hub::Timeline = serde_json::from_str(&text)
                .map_err(|e| LiveError::Internal(anyhow::anyhow!("the live's timeline: {e}")))?;
            (timeline.position_at(playing_date), timeline.duration_s())
        }
    };
    let position = position.ok_or(LiveError::UnknownPosition)?;
    // the open segment is not in the duration yet, but the timeline knows the position
    let duration = duration.max(position);
    let completion = crate::archive::watch::Completion::NotYet;
    save_report(db, user.id, lecture_id, position, now, duration, completion)
        .await?
        .map_err(|_| LiveError::UnknownPosition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_process_then_the_database() {
        use LiveRowState as S;
        assert_eq!(live_state(None, None), LiveState::Idle);
        assert_eq!(live_state(Some(LivePhase::Live), None), LiveState::Live);
        assert_eq!(
            live_state(Some(LivePhase::Grace), Some(S::Archived)),
            LiveState::Live,
            "the process knows better than an older row"
        );
        assert_eq!(live_state(Some(LivePhase::Ended), None), LiveState::Ended);
        for ended in [S::Archiving, S::Archived, S::Interrupted] {
            assert_eq!(live_state(None, Some(ended)), LiveState::Ended);
        }
        assert_eq!(live_state(None, Some(S::Live)), LiveState::Idle);
    }

    #[test]
    fn keyframe_intervals_far_from_two_seconds_are_flagged() {
        assert!(!keyframe_interval_off(None));
        assert!(!keyframe_interval_off(Some(2.0)));
        assert!(!keyframe_interval_off(Some(2.4)));
        assert!(keyframe_interval_off(Some(4.0)));
        assert!(keyframe_interval_off(Some(1.0)));
    }

    #[test]
    fn ingest_urls_carry_the_key() {
        let settings = LiveSettings {
            rtmp_base: Some("rtmp://example.org:1935/live/".into()),
            srt_base: Some("srt://example.org:9710".into()),
            ..LiveSettings::default()
        };
        let info = IngestInfo::new(&settings, "k3y".into());
        assert_eq!(
            info.rtmp_url.as_deref(),
            Some("rtmp://example.org:1935/live/k3y")
        );
        assert_eq!(
            info.srt_url.as_deref(),
            Some("srt://example.org:9710?streamid=k3y&latency=1000000")
        );
        let off = IngestInfo::new(&LiveSettings::default(), "k3y".into());
        assert_eq!((off.rtmp_url, off.srt_url), (None, None));
        assert_eq!(hls_url(7, 3), "/live/7/3/master.m3u8");
    }
}
