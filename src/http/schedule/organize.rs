//! Organizer pages for planning the month: programs, sessions, the auto-scheduler, conflicts.

use crate::accounts::{industry, Role};
use crate::app::schedule::{self as uc, ScheduleError};
use crate::db::lecturers::LecturerRow;
use crate::db::schedule::{ProgramRow, SessionRow};
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
use crate::http::views::choice::Choice;
use crate::http::views::format;
use crate::http::views::timetable::{slots_text, SessionItem};
use crate::http::AppState;
use crate::schedule::planner::Plan;
use crate::schedule::{validate_session, SessionInput, CATEGORIES};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

/// Form fields as (name, value) pairs: keeps repeated names (checkbox groups).
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

// ---------- programs ----------

/// A session row on the organizer's program page, with its current conflicts.
pub struct AdminSessionRow {
    pub item: SessionItem,
    pub conflicts: Vec<String>,
    /// Placed by hand outside every weekly slot (allowed; the organizer is warned).
    pub outside_slots: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "organize/program.html")]
pub struct AdminProgramPage {
    pub layout: Layout,
    pub program: ProgramRow,
    pub rows: Vec<AdminSessionRow>,
    pub slots_text: String,
    pub blackout_text: String,
    pub proposal: Option<Vec<ProposalRow>>,
    pub notice: Option<String>,
    pub total_capacity: i64,
    pub total_confirmed: i64,
    pub total_waitlisted: i64,
    /// The program's zone in Chinese.
    pub zone_zh: String,
    /// A refused action on the program (deleting one in use).
    pub error: Option<String>,
}

pub struct ProposalRow {
    pub session_id: i64,
    pub title: String,
    pub outcome: String,
    pub placed: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProgramQuery {
    #[serde(default)]
    notice: Option<String>,
}

pub(super) async fn admin_program_page(
    state: &AppState,
    layout: Layout,
    id: i64,
    plan: Option<Plan>,
    notice: Option<String>,
) -> AppResult<AdminProgramPage> {
    let program = uc::program(&state.db, id).await?;
    let tz = program.tz();
    let now = state.clock.now();
    let sessions: Vec<(SessionRow, Vec<String>)> = uc::timetable_conflicts(&state.db, &program)
        .await?
        .into_iter()
        .map(|(s, found)| (s, found.iter().map(|c| c.message_zh()).collect()))
        .collect();
    let rows: Vec<AdminSessionRow> = sessions
        .iter()
        .map(|(s, conflicts)| AdminSessionRow {
            item: SessionItem::new(s.clone(), tz, None, now),
            conflicts: conflicts.clone(),
            outside_slots: !s.is_cancelled() && !uc::within_slots(&program, s),
        })
        .collect();
    let sessions: Vec<SessionRow> = sessions.into_iter().map(|(s, _)| s).collect();
    let title_of = |sid: i64| {
        sessions
            .iter()
            .find(|s| s.id == sid)
            .map(|s| s.title.clone())
            .unwrap_or_default()
    };
    let proposal = plan.map(|plan| {
        let mut out: Vec<ProposalRow> = plan
            .placed
            .iter()
            .map(|p| ProposalRow {
                session_id: p.session_id,
                title: title_of(p.session_id),
                outcome: format::datetime_zh(&p.starts_at.with_timezone(&Utc), tz),
                placed: true,
            })
            .collect();
        out.extend(plan.unplaced.iter().map(|u| ProposalRow {
            session_id: u.session_id,
            title: title_of(u.session_id),
            outcome: u.reason.message_zh(),
            placed: false,
        }));
        out
    });
    let live: Vec<&SessionRow> = sessions.iter().filter(|s| !s.is_cancelled()).collect();
    Ok(AdminProgramPage {
        layout,
        slots_text: slots_text(&program),
        blackout_text: program
            .blackout_list()
            .iter()
            .map(|d| d.format("%m月%d日").to_string())
            .collect::<Vec<_>>()
            .join("、"),
        total_capacity: live.iter().map(|s| s.capacity).sum(),
        total_confirmed: live.iter().map(|s| s.confirmed_seats).sum(),
        total_waitlisted: live.iter().map(|s| s.waitlisted).sum(),
        zone_zh: crate::schedule::zones::zone_zh(&program.timezone),
        program,
        rows,
        proposal,
        notice,
        error: None,
    })
}

fn program_notice(code: Option<&str>) -> Option<String> {
    match code? {
        "applied" => Some("已按自动排课方案保存。".into()),
        "saved" => Some("课程已保存。".into()),
        "saved_outside_slots" => {
            Some("课程已保存。注意：该时间不在项目的每周上课时段内，请确认是有意安排。".into())
        }
        "program_saved" => Some("项目已保存，已排定的课程均符合新的安排。".into()),
        "cancelled" => Some("课程已取消，日历订阅中会显示为已取消。".into()),
        _ => None,
    }
}

pub async fn program_admin_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<ProgramQuery>,
) -> AppResult<AdminProgramPage> {
    user.require(Role::Organizer)?;
    admin_program_page(
        &state,
        layout,
        id,
        None,
        program_notice(q.notice.as_deref()),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    action: String,
}

pub async fn schedule_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ScheduleForm>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let apply = form.action == "apply";
    let plan = uc::schedule(&state.db, state.clock.now(), id, apply).await?;
    if apply {
        return Ok(Redirect::to(&format!("/admin/programs/{id}?notice=applied")).into_response());
    }
    Ok(admin_program_page(&state, layout, id, Some(plan), None)
        .await?
        .into_response())
}

// ---------- sessions ----------

#[derive(Template, WebTemplate)]
#[template(path = "organize/session_form.html")]
pub struct SessionFormPage {
    pub layout: Layout,
    pub program: ProgramRow,
    /// `None` for a new session.
    pub session_id: Option<i64>,
    pub v: SessionFormValues,
    pub categories: Vec<Choice>,
    pub industries: Vec<Choice>,
    /// The lecturer directory.
    pub lecturers: Vec<Choice>,
    pub errors: FieldErrors,
    pub conflicts: Option<Vec<String>>,
    pub error: Option<String>,
    pub warning: Option<String>,
    pub recording: Option<Recording>,
}

/// The recording part of an existing session's page.
pub struct Recording {
    pub lecture: Option<crate::db::lectures::LectureRow>,
    pub job: Option<crate::db::jobs::JobRow>,
    pub max_upload: String,
    /// The session was cancelled: no upload.
    pub cancelled: bool,
}

impl Recording {
    pub fn job_running(&self) -> bool {
        self.job.as_ref().is_some_and(|j| !j.state.is_finished())
    }
    /// Why a new recording cannot be uploaded now, if it cannot (the server refuses it too).
    pub fn upload_blocked(&self) -> Option<&'static str> {
        if self.cancelled {
            Some("本课程已取消，不能上传录像。")
        } else if self.job_running() {
            Some("录像正在转码，转码完成后才能上传新的录像。")
        } else {
            None
        }
    }
    pub fn progress_percent(&self) -> u32 {
        self.job
            .as_ref()
            .map(|j| (j.progress * 100.0).round() as u32)
            .unwrap_or(0)
    }
}

impl SessionFormPage {
    pub fn err(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

#[derive(Debug, Default, Clone)]
pub struct SessionFormValues {
    pub title: String,
    pub summary: String,
    pub category: String,
    pub target_industries: Vec<String>,
    /// The directory lecturer chosen (its id as typed).
    pub lecturer_id: String,
    pub minutes: String,
    pub capacity: String,
    pub max_seats: String,
    pub signup_opens_at: String,
    pub signup_closes_at: String,
    pub stream_url: String,
    pub starts_at: String,
}

/// Local "YYYY-MM-DDTHH:MM" for a datetime-local input.
fn local_input(t: &Option<String>) -> String {
    t.as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

impl SessionFormValues {
    fn from_input(i: &SessionInput, lecturer_id: i64) -> Self {
        SessionFormValues {
            title: i.title.clone(),
            summary: i.summary.clone(),
            category: i.category.clone(),
            target_industries: i.target_industries.clone(),
            lecturer_id: lecturer_id.to_string(),
            minutes: i.minutes.to_string(),
            capacity: i.capacity.to_string(),
            max_seats: i.max_seats_per_enterprise.unwrap_or(5).to_string(),
            signup_opens_at: local_input(&i.signup_opens_at),
            signup_closes_at: local_input(&i.signup_closes_at),
            stream_url: i.stream_url.clone().unwrap_or_default(),
            starts_at: local_input(&i.starts_at),
        }
    }

    fn from_pairs(p: &Pairs) -> Self {
        SessionFormValues {
            title: p.get("title"),
            summary: p.get("summary"),
            category: p.get("category"),
            target_industries: p.all("target_industries"),
            lecturer_id: p.get("lecturer_id"),
            minutes: p.get("minutes"),
            capacity: p.get("capacity"),
            max_seats: p.get("max_seats"),
            signup_opens_at: p.get("signup_opens_at"),
            signup_closes_at: p.get("signup_closes_at"),
            stream_url: p.get("stream_url"),
            starts_at: p.get("starts_at"),
        }
    }

    /// The form as an API input, the lecturer taken from the directory. A number that does not
    /// parse becomes 0 and is reported by the validator.
    fn to_input(&self, lecturer: Option<&LecturerRow>) -> SessionInput {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        SessionInput {
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: self.category.clone(),
            target_industries: self.target_industries.clone(),
            lecturer: lecturer
                .map(crate::app::lecturers::session_lecturer)
                .unwrap_or_default(),
            minutes: self.minutes.trim().parse().unwrap_or(0),
            capacity: self.capacity.trim().parse().unwrap_or(0),
            max_seats_per_enterprise: Some(self.max_seats.trim().parse().unwrap_or(0)),
            signup_opens_at: opt(&self.signup_opens_at),
            signup_closes_at: opt(&self.signup_closes_at),
            stream_url: opt(&self.stream_url),
            starts_at: opt(&self.starts_at),
        }
    }
}

/// The warning for a time outside every weekly slot of the program.
const OUTSIDE_SLOTS_ZH: &str =
    "提醒：该时间不在项目的每周上课时段内。可以保存，但请确认是有意安排（如补课、特邀讲座）。";

/// What a submitted session form gets told.
#[derive(Default)]
struct Feedback {
    errors: FieldErrors,
    conflicts: Option<Vec<String>>,
    error: Option<String>,
    /// Saved or savable, but worth a second look (a time outside the weekly slots).
    warning: Option<String>,
}

async fn session_form_page(
    state: &AppState,
    layout: Layout,
    program: ProgramRow,
    session_id: Option<i64>,
    v: SessionFormValues,
    feedback: Feedback,
) -> AppResult<SessionFormPage> {
    let Feedback {
        errors,
        conflicts,
        error,
        warning,
    } = feedback;
    let recording = match session_id {
        Some(id) => {
            let lecture = state.db.lecture_of_session(id).await?;
            let job = match &lecture {
                Some(l) => state.db.latest_job(l.id).await?,
                None => None,
            };
            let cancelled = state
                .db
                .session(id)
                .await?
                .is_some_and(|s| s.is_cancelled());
            Some(Recording {
                lecture,
                job,
                max_upload: human_size(state.config.max_upload_bytes),
                cancelled,
            })
        }
        None => None,
    };
    let categories = CATEGORIES
        .iter()
        .map(|c| Choice {
            value: c.to_string(),
            label: c.to_string(),
            chosen: v.category == *c,
        })
        .collect();
    let industries = industry::SECTIONS
        .iter()
        .map(|(code, name)| Choice {
            value: code.to_string(),
            label: format!("{code} {name}"),
            chosen: v.target_industries.iter().any(|t| t == &code.to_string()),
        })
        .collect();
    let lecturers = state
        .db
        .lecturers()
        .await?
        .into_iter()
        .map(|l| Choice {
            chosen: v.lecturer_id == l.id.to_string(),
            label: format!("{}（{}）", l.name, l.firm),
            value: l.id.to_string(),
        })
        .collect();
    Ok(SessionFormPage {
        layout,
        program,
        session_id,
        v,
        categories,
        industries,
        lecturers,
        errors,
        conflicts,
        error,
        warning,
        recording,
    })
}

pub async fn new_session_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<SessionFormPage> {
    user.require(Role::Organizer)?;
    let program = uc::program(&state.db, id).await?;
    let v = SessionFormValues {
        minutes: "90".into(),
        capacity: "100".into(),
        max_seats: "5".into(),
        ..Default::default()
    };
    session_form_page(&state, layout, program, None, v, Feedback::default()).await
}

async fn save_session_form(
    state: &AppState,
    layout: Layout,
    program: ProgramRow,
    existing: Option<SessionRow>,
    pairs: Pairs,
) -> AppResult<Response> {
    // the organizer, for the audit log (the handlers checked the role)
    let layout_user = layout.user.clone();
    let v = SessionFormValues::from_pairs(&pairs);
    let lecturer = match v.lecturer_id.trim().parse::<i64>() {
        Ok(id) => state.db.lecturer(id).await?,
        Err(_) => None,
    };
    let input = v.to_input(lecturer.as_ref());
    let session_id = existing.as_ref().map(|s| s.id);
    let form_program = program.clone();
    let show = |v, feedback: Feedback, status: StatusCode| async move {
        let page = session_form_page(state, layout, form_program, session_id, v, feedback).await?;
        Ok::<Response, AppError>((status, page).into_response())
    };
    let checked = validate_session(&input, program.tz()).and_then(|valid| {
        if lecturer.is_some() {
            Ok(valid)
        } else {
            Err(FieldErrors::default())
        }
    });
    let valid = match checked {
        Ok(valid) => valid,
        Err(errors) => {
            // the lecturer comes from the directory: its problems belong to the one select
            let mut errors = FieldErrors(
                errors
                    .0
                    .into_iter()
                    .filter(|e| !e.field.starts_with("lecturer"))
                    .collect(),
            );
            if lecturer.is_none() {
                errors.add("lecturer_id", "请从讲师名录中选择主讲律师");
            }
            let feedback = Feedback {
                errors,
                error: Some("请按提示修改标红的内容".into()),
                ..Feedback::default()
            };
            return show(v, feedback, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let found = uc::placement_conflicts(&state.db, &program, session_id, &valid).await?;
    let outside_slots = valid.starts_at.is_some_and(|at| {
        !crate::schedule::conflicts::within_weekly_slot(&program.calendar(), at, valid.minutes)
    });
    if pairs.get("action") == "check" {
        let list = found.iter().map(|c| c.message_zh()).collect();
        let feedback = Feedback {
            conflicts: Some(list),
            warning: outside_slots.then(|| OUTSIDE_SLOTS_ZH.to_string()),
            ..Feedback::default()
        };
        return show(v, feedback, StatusCode::OK).await;
    }
    let now = state.clock.now();
    let result = match &existing {
        Some(s) => uc::update_session(&state.db, now, s, &input, layout_user.as_ref())
            .await
            .map(|_| s.id),
        None => uc::create_session(&state.db, now, &program, &input).await,
    };
    match result {
        Ok(_) => {
            let notice = if outside_slots {
                "saved_outside_slots"
            } else {
                "saved"
            };
            Ok(
                Redirect::to(&format!("/admin/programs/{}?notice={notice}", program.id))
                    .into_response(),
            )
        }
        Err(ScheduleError::Conflicts(found)) => {
            let list = found.iter().map(|c| c.message_zh()).collect();
            let e = AppError::from(ScheduleError::Conflicts(found));
            let feedback = Feedback {
                conflicts: Some(list),
                error: Some(e.detail()),
                ..Feedback::default()
            };
            show(v, feedback, StatusCode::CONFLICT).await
        }
        Err(ScheduleError::Invalid(errors)) => {
            let e = AppError::Validation(errors.clone());
            let status = e.status();
            let feedback = Feedback {
                errors,
                error: Some(e.detail()),
                ..Feedback::default()
            };
            show(v, feedback, status).await
        }
        Err(e @ ScheduleError::CapacityBelowConfirmed { .. }) => {
            let e = AppError::from(e);
            let status = e.status();
            let feedback = Feedback {
                error: Some(e.detail()),
                ..Feedback::default()
            };
            show(v, feedback, status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create_session_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let program = uc::program(&state.db, id).await?;
    save_session_form(&state, layout, program, None, Pairs(pairs)).await
}

pub async fn edit_session_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<SessionFormPage> {
    user.require(Role::Organizer)?;
    let (session, program) = uc::session_in_program(&state.db, id).await?;
    let v = SessionFormValues::from_input(&session.to_input(program.tz()), session.lecturer_id);
    session_form_page(&state, layout, program, Some(id), v, Feedback::default()).await
}

pub async fn update_session_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let (session, program) = uc::session_in_program(&state.db, id).await?;
    if session.is_cancelled() {
        return Err(ScheduleError::SessionCancelled.into());
    }
    save_session_form(&state, layout, program, Some(session), Pairs(pairs)).await
}

/// `GET /admin/sessions/{id}/cancel`: what cancelling a session does, before it is done.
pub async fn cancel_session_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let (session, program) = uc::session_in_program(&state.db, id).await?;
    if session.is_cancelled() {
        return Ok(
            Redirect::to(&format!("/admin/programs/{}", session.program_id)).into_response(),
        );
    }
    let item = SessionItem::new(session, program.tz(), None, state.clock.now());
    let signed_up = format!(
        "已确认 {} 人，候补 {} 家",
        item.row.confirmed_seats, item.row.waitlisted
    );
    Ok(crate::http::confirm::ConfirmPage {
        layout,
        title: "取消此课程？".into(),
        facts: vec![
            ("课程".into(), item.row.title.clone()),
            ("时间".into(), item.when.clone()),
            ("报名".into(), signed_up),
        ],
        consequences: vec![
            "已报名和候补的企业都会收到课程取消的通知（站内消息，及其开通的邮件、短信）。".into(),
            "课程在课表中标为已取消，日历订阅中显示为“已取消”；报名名单仍可查看。".into(),
            "此操作不能撤销；如需恢复，请重新添加课程并通知企业再次报名。".into(),
        ],
        action: format!("/admin/sessions/{id}/cancel"),
        hidden: Vec::new(),
        confirm_label: "确认取消此课程".into(),
        back_href: format!("/admin/sessions/{id}"),
        back_label: "不取消，返回".into(),
    }
    .into_response())
}

/// `POST /admin/sessions/{id}/cancel`: with `confirm=yes` the session is cancelled; without,
/// nothing changes and the confirmation page is shown.
pub async fn cancel_session_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    if !crate::http::confirm::confirmed(&form) {
        return Ok(Redirect::to(&format!("/admin/sessions/{id}/cancel")).into_response());
    }
    let session = uc::cancel_session(&state.db, state.clock.now(), id, Some(&user.0)).await?;
    Ok(Redirect::to(&format!(
        "/admin/programs/{}?notice=cancelled",
        session.program_id
    ))
    .into_response())
}

/// A byte count as the upload page states it: `8 GB`, `1.5 GB`, `300 MB`, `512 KB` (binary
/// units, rounded down so the page never promises more than the server accepts).
pub fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = KB * 1024;
    const GB: u64 = MB * 1024;
    let (unit, name) = if bytes >= GB {
        (GB, "GB")
    } else if bytes >= MB {
        (MB, "MB")
    } else if bytes >= KB {
        (KB, "KB")
    } else {
        return format!("{bytes} 字节");
    };
    let tenths = u128::from(bytes) * 10 / u128::from(unit);
    if tenths % 10 == 0 {
        format!("{} {name}", tenths / 10)
    } else {
        format!("{}.{} {name}", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod size_tests {
    use super::human_size;

    #[test]
    fn sizes_are_stated_without_rounding_up() {
        assert_eq!(human_size(8 * 1024 * 1024 * 1024), "8 GB");
        assert_eq!(human_size(1536 * 1024 * 1024), "1.5 GB");
        assert_eq!(human_size(50 * 1024 * 1024), "50 MB");
        assert_eq!(human_size(1024 * 1024 - 1), "1023.9 KB");
        assert_eq!(human_size(100), "100 字节");
    }
}
