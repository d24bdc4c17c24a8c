//! Organizer pages for planning the month: programs, sessions, the auto-scheduler, conflicts.

use crate::accounts::{industry, Role, User};
use crate::app::schedule::{self as uc, ScheduleError};
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
use crate::schedule::{
    validate_session, weekday_zh, LecturerInput, ProgramInput, SessionInput, SlotSpec, CATEGORIES,
    DEFAULT_TZ,
};
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

fn lines(text: &str) -> Vec<String> {
    text.split(['\n', ',', '，', '、', ';', '；'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn weekday_from(s: &str) -> Option<u8> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    (1..=7u8).find(|d| {
        let zh = weekday_zh(*d);
        s == zh || s == zh.replace('周', "星期") || (*d == 7 && (s == "周天" || s == "星期天"))
    })
}

/// Parse "周二 14:30 90" lines into slots; a bad line becomes a slot the validator rejects.
pub fn parse_slot_lines(text: &str) -> Result<Vec<SlotSpec>, String> {
    let mut slots = Vec::new();
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let parsed = match parts.as_slice() {
            [day, start, minutes] => weekday_from(day)
                .zip(minutes.trim_end_matches("分钟").parse::<u32>().ok())
                .map(|(weekday, minutes)| SlotSpec {
                    weekday,
                    start: start.replace('：', ":"),
                    minutes,
                }),
            _ => None,
        };
        match parsed {
            Some(s) => slots.push(s),
            None => {
                return Err(format!(
                    "第{}行“{line}”无法识别，请按“周二 14:30 90”的格式填写",
                    i + 1
                ))
            }
        }
    }
    Ok(slots)
}

// ---------- programs ----------

#[derive(Template, WebTemplate)]
#[template(path = "organize/program_form.html")]
pub struct ProgramFormPage {
    pub layout: Layout,
    pub title: String,
    pub summary: String,
    pub starts_on: String,
    pub ends_on: String,
    pub timezone: String,
    pub slots: String,
    pub blackout: String,
    pub errors: FieldErrors,
}

impl ProgramFormPage {
    pub fn err(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
    pub fn all_errors(&self, field: &str) -> Vec<String> {
        self.errors
            .0
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect()
    }
}

pub async fn new_program_page(layout: Layout, user: CurrentUser) -> AppResult<ProgramFormPage> {
    user.require(Role::Organizer)?;
    Ok(ProgramFormPage {
        layout,
        title: String::new(),
        summary: String::new(),
        starts_on: String::new(),
        ends_on: String::new(),
        timezone: DEFAULT_TZ.name().into(),
        slots: "周二 14:30 90\n周四 14:30 90".into(),
        blackout: String::new(),
        errors: FieldErrors::default(),
    })
}

#[derive(Debug, Deserialize)]
pub struct ProgramForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    slots: String,
    #[serde(default)]
    blackout: String,
}

pub async fn create_program_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<ProgramForm>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let mut errors = FieldErrors::default();
    let slots = parse_slot_lines(&form.slots).unwrap_or_else(|msg| {
        errors.add("slots", msg);
        Vec::new()
    });
    let input = ProgramInput {
        title: form.title.clone(),
        summary: form.summary.clone(),
        starts_on: form.starts_on.clone(),
        ends_on: form.ends_on.clone(),
        timezone: form.timezone.clone(),
        slots,
        blackout_dates: lines(&form.blackout),
    };
    let result = if errors.is_empty() {
        uc::create_program(&state.db, state.clock.now(), &input).await
    } else {
        Err(ScheduleError::Invalid(errors))
    };
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/admin/programs/{id}")).into_response()),
        Err(ScheduleError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ProgramFormPage {
                layout,
                title: form.title,
                summary: form.summary,
                starts_on: form.starts_on,
                ends_on: form.ends_on,
                timezone: form.timezone,
                slots: form.slots,
                blackout: form.blackout,
                errors,
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// A session row on the organizer's program page, with its current conflicts.
pub struct AdminSessionRow {
    pub item: SessionItem,
    pub conflicts: Vec<String>,
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

async fn admin_program_page(
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
        program,
        rows,
        proposal,
        notice,
    })
}

fn program_notice(code: Option<&str>) -> Option<String> {
    match code? {
        "applied" => Some("已按自动排课方案保存。".into()),
        "saved" => Some("课程已保存。".into()),
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
    pub weekdays: Vec<Choice>,
    pub lawyers: Vec<Choice>,
    pub errors: FieldErrors,
    pub conflicts: Option<Vec<String>>,
    pub error: Option<String>,
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
    pub lecturer_name: String,
    pub lecturer_firm: String,
    pub lecturer_bio: String,
    pub lecturer_weekdays: Vec<String>,
    pub lecturer_unavailable: String,
    pub lecturer_account: String,
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
    fn from_input(i: &SessionInput, account: String) -> Self {
        SessionFormValues {
            title: i.title.clone(),
            summary: i.summary.clone(),
            category: i.category.clone(),
            target_industries: i.target_industries.clone(),
            lecturer_name: i.lecturer.name.clone(),
            lecturer_firm: i.lecturer.firm.clone(),
            lecturer_bio: i.lecturer.bio.clone(),
            lecturer_weekdays: i
                .lecturer
                .available_weekdays
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|d| d.to_string())
                .collect(),
            lecturer_unavailable: i.lecturer.unavailable_dates.join("\n"),
            lecturer_account: account,
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
            lecturer_name: p.get("lecturer_name"),
            lecturer_firm: p.get("lecturer_firm"),
            lecturer_bio: p.get("lecturer_bio"),
            lecturer_weekdays: p.all("lecturer_weekdays"),
            lecturer_unavailable: p.get("lecturer_unavailable"),
            lecturer_account: p.get("lecturer_account"),
            minutes: p.get("minutes"),
            capacity: p.get("capacity"),
            max_seats: p.get("max_seats"),
            signup_opens_at: p.get("signup_opens_at"),
            signup_closes_at: p.get("signup_closes_at"),
            stream_url: p.get("stream_url"),
            starts_at: p.get("starts_at"),
        }
    }

    /// The form as an API input. A number that does not parse becomes 0 and is reported by
    /// the validator.
    fn to_input(&self, weekdays_all_when_empty: bool) -> SessionInput {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let weekdays: Vec<u8> = self
            .lecturer_weekdays
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect();
        SessionInput {
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: self.category.clone(),
            target_industries: self.target_industries.clone(),
            lecturer: LecturerInput {
                name: self.lecturer_name.clone(),
                firm: self.lecturer_firm.clone(),
                bio: self.lecturer_bio.clone(),
                available_weekdays: if weekdays.is_empty() && weekdays_all_when_empty {
                    None
                } else {
                    Some(weekdays)
                },
                unavailable_dates: lines(&self.lecturer_unavailable),
                account: Some(self.lecturer_account.clone()),
            },
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

/// What a submitted session form gets told.
#[derive(Default)]
struct Feedback {
    errors: FieldErrors,
    conflicts: Option<Vec<String>>,
    error: Option<String>,
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
    let weekdays = (1..=7u8)
        .map(|d| Choice {
            value: d.to_string(),
            label: weekday_zh(d).to_string(),
            chosen: v.lecturer_weekdays.iter().any(|w| w == &d.to_string()),
        })
        .collect();
    let lawyers = state
        .db
        .staff(Role::Lawyer)
        .await?
        .into_iter()
        .filter_map(|u: User| {
            let name = u.username?;
            Some(Choice {
                chosen: v.lecturer_account == name,
                label: format!("{}（{}）", u.display_name, name),
                value: name,
            })
        })
        .collect();
    Ok(SessionFormPage {
        layout,
        program,
        session_id,
        v,
        categories,
        industries,
        weekdays,
        lawyers,
        errors,
        conflicts,
        error,
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
    let input = v.to_input(true);
    let session_id = existing.as_ref().map(|s| s.id);
    let form_program = program.clone();
    let show = |v, errors, conflicts, error, status: StatusCode| async move {
        let feedback = Feedback {
            errors,
            conflicts,
            error,
        };
        let page = session_form_page(state, layout, form_program, session_id, v, feedback).await?;
        Ok::<Response, AppError>((status, page).into_response())
    };
    let valid = match validate_session(&input, program.tz()) {
        Ok(valid) => valid,
        Err(errors) => {
            return show(
                v,
                errors,
                None,
                Some("请按提示修改标红的内容".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let found = uc::placement_conflicts(&state.db, &program, session_id, &valid).await?;
    if pairs.get("action") == "check" {
        let list = found.iter().map(|c| c.message_zh()).collect();
        return show(v, FieldErrors::default(), Some(list), None, StatusCode::OK).await;
    }
    let now = state.clock.now();
    let result = match &existing {
        Some(s) => uc::update_session(&state.db, now, s, &input, layout_user.as_ref())
            .await
            .map(|_| s.id),
        None => uc::create_session(&state.db, now, &program, &input).await,
    };
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("/admin/programs/{}?notice=saved", program.id)).into_response(),
        ),
        Err(ScheduleError::Conflicts(found)) => {
            let list = found.iter().map(|c| c.message_zh()).collect();
            let e = AppError::from(ScheduleError::Conflicts(found));
            show(
                v,
                FieldErrors::default(),
                Some(list),
                Some(e.detail()),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ScheduleError::Invalid(errors)) => {
            let e = AppError::Validation(errors.clone());
            show(v, errors, None, Some(e.detail()), e.status()).await
        }
        Err(e @ ScheduleError::CapacityBelowConfirmed { .. }) => {
            let e = AppError::from(e);
            show(
                v,
                FieldErrors::default(),
                None,
                Some(e.detail()),
                e.status(),
            )
            .await
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
    let account = match session.lecturer_user_id {
        Some(uid) => state
            .db
            .user(uid)
            .await?
            .and_then(|u| u.username)
            .unwrap_or_default(),
        None => String::new(),
    };
    let v = SessionFormValues::from_input(&session.to_input(program.tz()), account);
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
