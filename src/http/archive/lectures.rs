//! The lecture archive: player pages, the archive with search, watch progress, attendance
//! figures and learning certificates.

use crate::accounts::{industry, Role};
use crate::app::archive::{self as uc, ArchiveFilter, ViewerFigures};
use crate::app::captions::{self as captions_uc, TrackSummary};
use crate::archive::attendance::percent;
use crate::archive::attendance::COMPLETED_PERCENT;
use crate::archive::captions::{Chapter, TrackKind};
use crate::db::lectures::{LectureRow, PublishedRendition};
use crate::error::AppResult;
use crate::http::auth::{CurrentUser, MaybeUser};
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::views::choice::Choice;
use crate::http::views::format::datetime_zh;
use crate::http::views::share::Share;
use crate::http::AppState;
use crate::schedule::CATEGORIES;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

fn when(l: &LectureRow) -> String {
    l.starts_at
        .map(|t| datetime_zh(&t, l.tz()))
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
    /// Why the viewer may not watch (登录 / 报名), when they may not.
    pub refusal: Option<&'static str>,
    pub login_required: bool,
    pub master: String,
    pub poster: String,
    pub renditions: Vec<PublishedRendition>,
    pub resume: f64,
    pub related: Vec<LectureCard>,
    pub is_organizer: bool,
    pub watched_share: Option<u32>,
    /// Captions exist: the player offers its 字幕 button.
    pub subtitles: bool,
    /// The chapters: markers under the player and a list that seeks.
    pub chapters: Vec<Chapter>,
    /// The captions form, for organizers and the lecture's lecturer.
    pub captions: Option<CaptionsPanel>,
    pub share: Share,
}

/// The captions and chapters of a lecture, as someone who may change them sees them.
pub struct CaptionsPanel {
    pub subtitles: Option<TrackSummary>,
    pub chapters: Option<TrackSummary>,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub max_mb: usize,
}

/// What the captions panel says after a form.
pub enum PanelMessage {
    None,
    Notice(&'static str),
    Error(String),
}

#[derive(Debug, Default, Deserialize)]
pub struct LectureQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

pub async fn lecture_page(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
    Query(q): Query<LectureQuery>,
) -> AppResult<LecturePage> {
    let message = match q.notice.as_deref() {
        Some("captions_saved") => PanelMessage::Notice("已保存，观看者刷新页面即可使用。"),
        Some("captions_removed") => PanelMessage::Notice("已删除。"),
        _ => PanelMessage::None,
    };
    lecture_view(&state, layout, user, id, message).await
}

/// The lecture page for `user` (also shown again by the captions form with its error).
pub async fn lecture_view(
    state: &AppState,
    layout: Layout,
    user: Option<crate::accounts::User>,
    id: i64,
    message: PanelMessage,
) -> AppResult<LecturePage> {
    let view = uc::lecture(&state.db, id, user.as_ref(), state.config.attendance_share).await?;
    let captions = match &user {
        Some(u) if captions_uc::may_manage(&state.db, u, &view.lecture).await? => {
            let tracks = captions_uc::summaries(&state.db, id).await?;
            let of = |k: TrackKind| tracks.iter().find(|t| t.kind == k).cloned();
            let (notice, error) = match message {
                PanelMessage::None => (None, None),
                PanelMessage::Notice(n) => (Some(n), None),
                PanelMessage::Error(e) => (None, Some(e)),
            };
            Some(CaptionsPanel {
                subtitles: of(TrackKind::Subtitles),
                chapters: of(TrackKind::Chapters),
                notice,
                error,
                max_mb: crate::archive::captions::MAX_BYTES / 1024 / 1024,
            })
        }
        _ => None,
    };
    let can_watch = view.access.is_allowed();
    let (subtitles, chapters) = if can_watch {
        (
            state.db.has_subtitles(id).await?,
            captions_uc::chapters(&state.db, &view.lecture).await?,
        )
    } else {
        (false, Vec::new())
    };
    let l = &view.lecture;
    // messengers fetch the card's image without a login: the poster of a public lecture only
    let public_poster = l
        .poster_url()
        .filter(|_| l.visibility == crate::archive::Visibility::Public);
    let share = Share::new(
        &state.config.public_url,
        &format!("/lectures/{id}"),
        &format!("{} · 课程回放", l.title),
        &if l.summary.trim().is_empty() {
            format!(
                "主讲：{}（{}）· {}",
                l.lecturer_name,
                l.lecturer_firm,
                minutes(l.duration_s)
            )
        } else {
            l.summary.clone()
        },
        public_poster.as_deref(),
    );
    Ok(LecturePage {
        share,
        master: view.lecture.master_url().unwrap_or_default(),
        poster: view.lecture.poster_url().unwrap_or_default(),
        renditions: view.lecture.renditions().to_vec(),
        layout,
        can_watch,
        refusal: view.access.reason_zh(),
        login_required: view.access == crate::archive::Access::LoginRequired,
        resume: view.resume_s,
        related: view.related.into_iter().map(LectureCard::new).collect(),
        is_organizer: user.as_ref().is_some_and(|u| u.is_organizer()),
        watched_share: view.watched.map(|a| a.percent),
        subtitles,
        chapters,
        captions,
        card: LectureCard::new(view.lecture),
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
    let filter = ArchiveFilter::from_params(
        query.category.as_deref(),
        query.industry.as_deref(),
        query.lecturer.as_deref(),
        query.q.as_deref(),
    );
    let archive = uc::search(&state.db, filter).await?;
    let filter = &archive.filter;
    Ok(ArchivePage {
        layout,
        filtered: filter.is_active(),
        categories: CATEGORIES
            .iter()
            .map(|c| Choice {
                value: c.to_string(),
                label: c.to_string(),
                chosen: filter.category.as_deref() == Some(*c),
            })
            .collect(),
        industries: industry::SECTIONS
            .iter()
            .map(|(code, name)| Choice {
                value: code.to_string(),
                label: format!("{code} {name}"),
                chosen: filter.industry == Some(*code),
            })
            .collect(),
        lecturers: archive
            .lecturers
            .iter()
            .map(|l| Choice {
                value: l.id.to_string(),
                label: format!("{}（{}）", l.name, l.firm),
                chosen: filter.lecturer == Some(l.id),
            })
            .collect(),
        q: filter.query.clone().unwrap_or_default(),
        lectures: archive.lectures.into_iter().map(LectureCard::new).collect(),
    })
}

/// A progress report from the player.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"position_s": 12.5}))]
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
/// ranges and never credits jumps. 404 when the lecture does not exist or is not published.
#[utoipa::path(post, path = "/api/v1/lectures/{id}/progress", tag = "archive",
    params(("id" = i64, Path)), request_body = ProgressReport, security(("pufa_session" = [])),
    responses((status = 200, body = ProgressAnswer), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(report): Json<ProgressReport>,
) -> AppResult<Json<ProgressAnswer>> {
    let recorded = uc::record_progress(
        &state.db,
        &user,
        id,
        report.position_s,
        state.clock.now(),
        state.config.attendance_share,
    )
    .await?;
    Ok(Json(ProgressAnswer {
        watched_s: recorded.watched_s,
        share: recorded.attendance.share,
        attended: recorded.attendance.attended,
        position_s: recorded.position_s,
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
    let now = state.clock.now();
    let lecture = uc::set_visibility(&state.db, id, &form.visibility, now, Some(&user.0)).await?;
    // whoever may read its segments now is decided again
    state.media.grants().forget_all();
    Ok(Redirect::to(&format!("/admin/sessions/{}#recording", lecture.session_id)).into_response())
}

/// `POST /admin/sessions/{id}/visibility`: who may watch a session that has no lecture yet
/// (before its first live or upload).
pub async fn session_visibility_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<VisibilityForm>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    uc::set_session_visibility(
        &state.db,
        state.clock.now(),
        id,
        &form.visibility,
        Some(&user.0),
    )
    .await?;
    state.media.grants().forget_all();
    Ok(Redirect::to(&format!("/admin/sessions/{id}#recording")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/stats.html")]
pub struct StatsPage {
    pub layout: Layout,
    pub card: LectureCard,
    pub viewers: Vec<ViewerFigures>,
    pub enterprises: usize,
    pub average_share: u32,
    pub completed: usize,
    pub completed_percent: u32,
    pub attended: usize,
    pub threshold: u32,
    /// Completed of all viewers, "—" without viewers.
    pub completion_rate: String,
    /// The retention curve and the completion bands, each with its table.
    pub retention_chart: String,
    pub retention_rows: Vec<RetentionRow>,
    pub bands_chart: String,
    pub band_rows: Vec<(String, usize, String)>,
    /// The lecture's length ("1:02:03"), empty when unknown.
    pub length: String,
}

/// A point of the retention curve in the table: where, how many viewers, their share.
pub struct RetentionRow {
    pub progress: u32,
    pub at: String,
    pub viewers: usize,
    pub share: String,
}

/// "40%" of `n` out of `of`, "—" when `of` is 0.
fn share_of(n: usize, of: usize) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{}%", percent(n as f64 / of as f64))
    }
}

/// The lecture's charts and the rows of their tables.
struct StatsCharts {
    retention_chart: String,
    retention_rows: Vec<RetentionRow>,
    bands_chart: String,
    band_rows: Vec<(String, usize, String)>,
}

/// The retention curve (share of viewers who watched each point of the timeline) and the
/// viewers per band of the watched share, with the rows of their tables.
fn stats_charts(stats: &uc::LectureStats) -> StatsCharts {
    use crate::archive::retention::{timecode, BANDS};
    use crate::http::views::charts::{self, Axis, Bar, Point};
    let viewers = stats.viewers.len();
    let duration = stats.lecture.duration_s.unwrap_or(0.0);
    let steps = uc::RETENTION_STEPS;
    let share = |n: usize| {
        if viewers == 0 {
            0.0
        } else {
            100.0 * n as f64 / viewers as f64
        }
    };
    let at = |i: usize| duration * i as f64 / steps as f64;
    let points: Vec<Point> = stats
        .retention
        .iter()
        .enumerate()
        .map(|(i, n)| Point {
            x: 100.0 * i as f64 / steps as f64,
            y: share(*n),
            label: i
                .is_multiple_of(steps / 4)
                .then(|| format!("{}%", share(*n).round())),
        })
        .collect();
    let x = Axis {
        name: format!("课程时间轴（全长 {}）", timecode(duration)),
        min: 0.0,
        max: 100.0,
        ticks: (0..=4)
            .map(|q| (q as f64 * 25.0, timecode(duration * q as f64 / 4.0)))
            .collect(),
    };
    let retention_chart = charts::line_chart(
        "chart-retention",
        "留存曲线：看过课程各时间点的观看者占比",
        &x,
        &Axis::percent("看过该处的观看者占比"),
        if viewers == 0 { &[] } else { &points },
        true,
    );
    let retention_rows = stats
        .retention
        .iter()
        .enumerate()
        .filter(|(i, _)| i.is_multiple_of(steps / 10))
        .map(|(i, n)| RetentionRow {
            progress: (100 * i / steps) as u32,
            at: timecode(at(i)),
            viewers: *n,
            share: share_of(*n, viewers),
        })
        .collect();
    let band_rows: Vec<(String, usize, String)> = BANDS
        .iter()
        .zip(stats.bands)
        .map(|((label, _), n)| (label.to_string(), n, share_of(n, viewers)))
        .collect();
    let bars: Vec<Bar> = band_rows
        .iter()
        .map(|(label, n, s)| Bar {
            label: format!("观看比例 {label}"),
            value: *n as f64,
            text: format!("{n} 人（{s}）"),
        })
        .collect();
    let bands_chart = charts::bar_chart(
        "chart-completion",
        "观看者按观看比例分组",
        &bars,
        Some(viewers.max(1) as f64),
    );
    StatsCharts {
        retention_chart,
        retention_rows,
        bands_chart,
        band_rows,
    }
}

impl StatsPage {
    pub fn local(&self, t: &DateTime<Utc>) -> String {
        crate::http::views::format::minute(t, self.card.row.tz())
    }
}

pub async fn stats_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatsPage> {
    user.require(Role::Organizer)?;
    let threshold = state.config.attendance_share;
    let stats = uc::stats(&state.db, id, threshold).await?;
    let StatsCharts {
        retention_chart,
        retention_rows,
        bands_chart,
        band_rows,
    } = stats_charts(&stats);
    Ok(StatsPage {
        layout,
        completion_rate: share_of(stats.completed, stats.viewers.len()),
        retention_chart,
        retention_rows,
        bands_chart,
        band_rows,
        length: stats
            .lecture
            .duration_s
            .map(crate::archive::retention::timecode)
            .unwrap_or_default(),
        enterprises: stats.enterprises,
        average_share: stats.average_percent,
        completed: stats.completed,
        completed_percent: COMPLETED_PERCENT,
        attended: stats.attended,
        threshold: percent(threshold),
        viewers: stats.viewers,
        card: LectureCard::new(stats.lecture),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/certificate.html")]
pub struct CertificatePage {
    pub layout: Layout,
    pub enterprise_id: i64,
    pub company: String,
    pub uscc: String,
    pub card: LectureCard,
    pub share: u32,
    pub watched: String,
    /// 2026年12月1日: the day attendance was reached.
    pub attended_on: String,
    pub code: String,
    pub verify_url: String,
    pub qr: String,
}

/// 学习证明: for an enterprise that reached the attendance threshold; the organizer or the
/// enterprise itself may print it.
pub async fn certificate_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path((id, enterprise_id)): Path<(i64, i64)>,
) -> AppResult<CertificatePage> {
    certificate_view(&state, layout, &user, id, enterprise_id).await
}

async fn certificate_view(
    state: &AppState,
    layout: Layout,
    user: &crate::accounts::User,
    id: i64,
    enterprise_id: i64,
) -> AppResult<CertificatePage> {
    let certificate = uc::certificate(
        &state.db,
        state.clock.now(),
        user,
        id,
        enterprise_id,
        state.config.attendance_share,
    )
    .await?;
    let verify_url = state
        .config
        .public_url
        .join(&format!("/certificates/{}", certificate.code));
    Ok(CertificatePage {
        layout,
        enterprise_id,
        company: certificate.enterprise.name,
        uscc: certificate.enterprise.uscc,
        share: certificate.attendance.percent,
        watched: minutes(Some(certificate.watched_s)),
        attended_on: crate::schedule::date_zh(certificate.attended_on),
        qr: crate::http::views::qr::svg(&verify_url, "证明核验二维码：扫码核验本证明"),
        verify_url,
        code: certificate.code,
        card: LectureCard::new(certificate.lecture),
    })
}

/// `GET /lectures/{id}/certificate/{enterprise_id}/pdf`: the same certificate as an A4 PDF,
/// rendered on the server (src/pdf.rs). 503 when the server has no CJK font.
pub async fn certificate_pdf(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path((id, enterprise_id)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let page = certificate_view(&state, layout, &user, id, enterprise_id).await?;
    let doc = crate::pdf::CertificateDoc {
        company: page.company.clone(),
        uscc: page.uscc.clone(),
        lecture_title: page.card.row.title.clone(),
        lecturer: page.card.row.lecturer_name.clone(),
        lecturer_firm: page.card.row.lecturer_firm.clone(),
        length: page.card.length.clone(),
        watched: page.watched.clone(),
        percent: page.share,
        attended_on: page.attended_on.clone(),
        chamber_name: page.layout.brand.chamber_name.clone(),
        site_name: page.layout.brand.site_name.clone(),
        code: page.code.clone(),
        verify_url: page.verify_url.clone(),
    };
    let bytes =
        crate::http::export::render_pdf(state.pdf.clone(), move |r| r.certificate(&doc)).await?;
    Ok(crate::http::export::pdf_attachment(
        bytes,
        &format!("certificate-{}.pdf", page.code),
        &format!("学习证明-{}.pdf", page.code),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "lectures/verify.html")]
pub struct VerifyPage {
    pub layout: Layout,
    /// The code as asked (to show it back), empty on the blank form.
    pub asked: String,
    pub found: Option<crate::db::certificates::VerifiedCertificate>,
}

impl VerifyPage {
    pub fn date(&self, d: &chrono::NaiveDate) -> String {
        crate::schedule::date_zh(*d)
    }
}

/// `GET /certificates`: the form to check a 学习证明 by its code; with `?code=` the answer.
pub async fn verify_form(
    State(state): State<AppState>,
    layout: Layout,
    Query(q): Query<VerifyQuery>,
) -> AppResult<Response> {
    match q.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => verify(&state, layout, code).await,
        None => Ok(VerifyPage {
            layout,
            asked: String::new(),
            found: None,
        }
        .into_response()),
    }
}

/// `GET /certificates/{code}` (the QR code's address): a certificate's facts for anyone
/// holding its code — enterprise, lecture, date, share; 404 when no certificate has it.
pub async fn verify_page(
    State(state): State<AppState>,
    layout: Layout,
    Path(code): Path<String>,
) -> AppResult<Response> {
    verify(&state, layout, &code).await
}

async fn verify(state: &AppState, layout: Layout, code: &str) -> AppResult<Response> {
    let found = uc::verify_certificate(&state.db, code).await?;
    let status = if found.is_some() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::NOT_FOUND
    };
    let page = VerifyPage {
        layout,
        asked: code.chars().take(40).collect(),
        found,
    };
    Ok((status, page).into_response())
}
