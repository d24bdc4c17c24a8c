//! The lecture archive: player pages, the archive with search, watch progress, attendance
//! figures and learning certificates.

use super::extract::{Json, Path, Query};
use super::media::may_watch;
use super::pages::Layout;
use super::session::{CsrfForm, CurrentUser, MaybeUser};
use super::views::format::zoned_zh as format_local;
use super::AppState;
use crate::accounts::{industry, Role};
use crate::archive::watch::{self, Ranges, WatchState};
use crate::db::media::{LectureRow, RenditionRow, ViewerRow};
use crate::error::{AppError, AppResult};
use crate::schedule::CATEGORIES;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

async fn load_lecture(state: &AppState, id: i64) -> AppResult<LectureRow> {
    state.db.lecture(id).await?.ok_or(AppError::NotFound)
}

/// The master playlist URL of a published lecture.
pub fn master_url(l: &LectureRow) -> Option<String> {
    let path = l.hls_path.as_deref()?;
    let version = path.rsplit('/').next()?;
    Some(format!("/media/lectures/{}/{version}/master.m3u8", l.id))
}

pub fn poster_url(l: &LectureRow) -> Option<String> {
    let path = l.hls_path.as_deref()?;
    let version = path.rsplit('/').next()?;
    (!l.audio_only).then(|| format!("/media/lectures/{}/{version}/poster.jpg", l.id))
}

fn when(l: &LectureRow) -> String {
    l.starts_at
        .map(|t| format_local(&t.with_timezone(&chrono_tz::Asia::Shanghai)))
        .unwrap_or_else(|| "—".into())
}

fn minutes(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s >= 60.0 => format!("{}分钟", (s / 60.0).round()),
        Some(s) => format!("{}秒", s.round()),
        None => "—".into(),
    }
}

/// A lecture in a list.
pub struct LectureCard {
    pub row: LectureRow,
    pub when: String,
    pub length: String,
}

impl LectureCard {
    fn new(row: LectureRow) -> LectureCard {
        LectureCard {
            when: when(&row),
            length: minutes(row.duration_s),
            row,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/show.html")]
pub struct LecturePage {
    pub layout: Layout,
    pub card: LectureCard,
    pub can_watch: bool,
    pub master: String,
    pub poster: String,
    pub renditions: Vec<RenditionRow>,
    pub resume: f64,
    pub related: Vec<LectureCard>,
    pub is_organizer: bool,
    pub watched_share: Option<u32>,
}

pub async fn lecture_page(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<LecturePage> {
    let lecture = load_lecture(&state, id).await?;
    if !lecture.is_published() {
        return Err(AppError::NotFound);
    }
    let can_watch = may_watch(&lecture, user.as_ref());
    let (resume, watched_share) = match &user {
        Some(u) => match state.db.watch(u.id, id).await? {
            Some(w) => (
                w.last_position,
                lecture
                    .duration_s
                    .map(|d| (watch::share(&Ranges(w.ranges()), d) * 100.0).round() as u32),
            ),
            None => (0.0, None),
        },
        None => (0.0, None),
    };
    let related = state
        .db
        .published_lectures(Some(&lecture.category), None, None, None)
        .await?
        .into_iter()
        .filter(|l| l.id != id)
        .take(4)
        .map(LectureCard::new)
        .collect();
    Ok(LecturePage {
        master: master_url(&lecture).unwrap_or_default(),
        poster: poster_url(&lecture).unwrap_or_default(),
        renditions: lecture.renditions(),
        layout,
        can_watch,
        resume,
        related,
        is_organizer: user.as_ref().is_some_and(|u| u.is_organizer()),
        watched_share,
        card: LectureCard::new(lecture),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ArchiveQuery {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub lecturer: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/archive.html")]
pub struct ArchivePage {
    pub layout: Layout,
    pub lectures: Vec<LectureCard>,
    pub categories: Vec<Choice>,
    pub industries: Vec<Choice>,
    pub lecturers: Vec<Choice>,
    pub q: String,
    pub filtered: bool,
}

pub async fn archive_page(
    State(state): State<AppState>,
    layout: Layout,
    Query(query): Query<ArchiveQuery>,
) -> AppResult<ArchivePage> {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let category = clean(&query.category).filter(|c| CATEGORIES.contains(&c.as_str()));
    let industry_code = clean(&query.industry).and_then(|i| industry::parse_section(&i));
    let lecturer = clean(&query.lecturer).and_then(|l| l.parse::<i64>().ok());
    let q = clean(&query.q).map(|q| q.chars().take(100).collect::<String>());
    let lectures = state
        .db
        .published_lectures(
            category.as_deref(),
            industry_code.map(|c| c.to_string()).as_deref(),
            lecturer,
            q.as_deref(),
        )
        .await?;
    let all = state.db.published_lectures(None, None, None, None).await?;
    let mut lecturers: Vec<Choice> = Vec::new();
    for l in &all {
        if !lecturers
            .iter()
            .any(|c| c.value == l.lecturer_id.to_string())
        {
            lecturers.push(Choice {
                value: l.lecturer_id.to_string(),
                label: format!("{}（{}）", l.lecturer_name, l.lecturer_firm),
                selected: lecturer == Some(l.lecturer_id),
            });
        }
    }
    Ok(ArchivePage {
        layout,
        filtered: category.is_some()
            || industry_code.is_some()
            || lecturer.is_some()
            || q.is_some(),
        lectures: lectures.into_iter().map(LectureCard::new).collect(),
        categories: CATEGORIES
            .iter()
            .map(|c| Choice {
                value: c.to_string(),
                label: c.to_string(),
                selected: category.as_deref() == Some(*c),
            })
            .collect(),
        industries: industry::SECTIONS
            .iter()
            .map(|(code, name)| Choice {
                value: code.to_string(),
                label: format!("{code} {name}"),
                selected: industry_code == Some(*code),
            })
            .collect(),
        lecturers,
        q: q.unwrap_or_default(),
    })
}

/// A progress report from the player.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ProgressReport {
    /// Current playback position in seconds.
    pub position_s: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgressAnswer {
    /// Seconds of the lecture watched at least once.
    pub watched_s: f64,
    /// watched_s / duration, 0..1.
    pub share: f64,
    /// Whether the share reached the attendance threshold.
    pub attended: bool,
    pub position_s: f64,
}

/// Record the player's position (logged-in accounts); the server keeps the union of watched
/// ranges and never credits jumps.
#[utoipa::path(post, path = "/api/v1/lectures/{id}/progress", tag = "archive",
    params(("id" = i64, Path)), request_body = ProgressReport,
    responses((status = 200, body = ProgressAnswer), (status = 422, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem)))]
pub async fn api_progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(report): Json<ProgressReport>,
) -> AppResult<Json<ProgressAnswer>> {
    let lecture = load_lecture(&state, id).await?;
    let Some(duration) = lecture.duration_s.filter(|_| lecture.is_published()) else {
        return Err(AppError::NotFound);
    };
    let now = Utc::now();
    let epoch = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
    let current = match state.db.watch(user.id, id).await? {
        Some(w) => WatchState {
            ranges: Ranges(w.ranges()),
            last_position: w.last_position,
            last_report_s: Some(epoch(w.last_report)),
        },
        None => WatchState::default(),
    };
    let next = watch::apply_report(&current, report.position_s, epoch(now), duration)
        .map_err(|e| AppError::field("position_s", e.message_zh()))?;
    let watched = next.ranges.total();
    state
        .db
        .save_watch(
            user.id,
            id,
            &next.ranges.0,
            watched,
            next.last_position,
            now,
        )
        .await?;
    let share = watch::share(&next.ranges, duration);
    Ok(Json(ProgressAnswer {
        watched_s: watched,
        share,
        attended: share >= state.config.attendance_share,
        position_s: next.last_position,
    }))
}

#[derive(Debug, Deserialize)]
pub struct VisibilityForm {
    #[serde(default)]
    pub visibility: String,
}

pub async fn visibility_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<VisibilityForm>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let lecture = load_lecture(&state, id).await?;
    if !matches!(form.visibility.as_str(), "public" | "registered") {
        return Err(AppError::field("visibility", "请选择“公开”或“仅注册企业”"));
    }
    state
        .db
        .set_lecture_visibility(id, &form.visibility)
        .await?;
    Ok(Redirect::to(&format!("/admin/sessions/{}#recording", lecture.session_id)).into_response())
}

/// One viewer row on the organizer's figures page.
pub struct ViewerLine {
    pub row: ViewerRow,
    pub share: u32,
    pub attended: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/stats.html")]
pub struct StatsPage {
    pub layout: Layout,
    pub card: LectureCard,
    pub viewers: Vec<ViewerLine>,
    pub enterprises: usize,
    pub average_share: u32,
    pub completed: usize,
    pub attended: usize,
    pub threshold: u32,
}

impl StatsPage {
    pub fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

pub async fn stats_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatsPage> {
    user.require(Role::Organizer)?;
    let lecture = load_lecture(&state, id).await?;
    let duration = lecture.duration_s.unwrap_or(0.0);
    let threshold = state.config.attendance_share;
    let viewers: Vec<ViewerLine> = state
        .db
        .viewers(id)
        .await?
        .into_iter()
        .map(|row| {
            let share = if duration > 0.0 {
                (row.watched_s / duration).clamp(0.0, 1.0)
            } else {
                0.0
            };
            ViewerLine {
                share: (share * 100.0).round() as u32,
                attended: share >= threshold,
                row,
            }
        })
        .collect();
    let enterprises = viewers
        .iter()
        .filter(|v| v.row.role == "enterprise")
        .count();
    let average_share = if viewers.is_empty() {
        0
    } else {
        (viewers.iter().map(|v| v.share).sum::<u32>() as f64 / viewers.len() as f64).round() as u32
    };
    Ok(StatsPage {
        layout,
        enterprises,
        average_share,
        completed: viewers.iter().filter(|v| v.share >= 95).count(),
        attended: viewers
            .iter()
            .filter(|v| v.attended && v.row.role == "enterprise")
            .count(),
        threshold: (threshold * 100.0).round() as u32,
        viewers,
        card: LectureCard::new(lecture),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/certificate.html")]
pub struct CertificatePage {
    pub layout: Layout,
    pub company: String,
    pub uscc: String,
    pub card: LectureCard,
    pub share: u32,
    pub watched: String,
    pub issued: String,
    pub serial: String,
}

/// 学习证明: for an enterprise that reached the attendance threshold; the organizer or the
/// enterprise itself may print it.
pub async fn certificate_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path((id, enterprise_id)): Path<(i64, i64)>,
) -> AppResult<CertificatePage> {
    if !(user.is_organizer() || user.id == enterprise_id) {
        return Err(AppError::NotFound);
    }
    let lecture = load_lecture(&state, id).await?;
    let enterprise = state
        .db
        .enterprise(enterprise_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let watch = state
        .db
        .watch(enterprise_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let duration = lecture.duration_s.unwrap_or(0.0);
    let share = watch::share(&Ranges(watch.ranges()), duration);
    if share < state.config.attendance_share {
        return Err(AppError::conflict(
            "not_attended",
            format!(
                "该企业观看了{}%，未达到{}%的学习要求，暂不能出具学习证明",
                (share * 100.0).round(),
                (state.config.attendance_share * 100.0).round()
            ),
        ));
    }
    Ok(CertificatePage {
        layout,
        company: enterprise.name,
        uscc: enterprise.uscc,
        share: (share * 100.0).round() as u32,
        watched: minutes(Some(watch.watched_s)),
        issued: format_local(&Utc::now().with_timezone(&chrono_tz::Asia::Shanghai)),
        serial: format!(
            "PF-{}-{}-{}",
            lecture.id,
            enterprise_id,
            watch.first_seen.format("%Y%m%d")
        ),
        card: LectureCard::new(lecture),
    })
}
