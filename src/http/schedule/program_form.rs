//! The organizer's program form: create, edit and delete a program. Dates are date pickers,
//! weekly slots are rows of weekday, time and length, blackout days are date pickers, and the
//! time zone is chosen from a list in Chinese (issue 17) — no free-text syntax to learn.

use super::organize::Pairs;
use crate::accounts::Role;
use crate::app::schedule::{self as uc, ScheduleError};
use crate::db::schedule::ProgramRow;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::Path;
use crate::http::layout::Layout;
use crate::http::views::choice::Choice;
use crate::http::AppState;
use crate::schedule::zones::ZONES;
use crate::schedule::{weekday_zh, ProgramInput, SlotSpec, DEFAULT_TZ};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

/// Blank rows offered after the filled ones (more come with 添加 when JS runs).
const SPARE_SLOT_ROWS: usize = 2;
const SPARE_BLACKOUT_ROWS: usize = 2;

/// One weekly-slot row of the form, as shown (values kept as typed after an error).
pub struct SlotRow {
    pub weekdays: Vec<Choice>,
    pub start: String,
    pub minutes: String,
}

impl SlotRow {
    fn new(weekday: &str, start: &str, minutes: &str) -> SlotRow {
        let mut weekdays = vec![Choice {
            value: String::new(),
            label: "星期…".into(),
            chosen: weekday.is_empty(),
        }];
        weekdays.extend((1..=7u8).map(|d| Choice {
            value: d.to_string(),
            label: weekday_zh(d).into(),
            chosen: weekday == d.to_string(),
        }));
        SlotRow {
            weekdays,
            start: start.into(),
            minutes: minutes.into(),
        }
    }

    fn blank() -> SlotRow {
        SlotRow::new("", "", "")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "organize/program_form.html")]
pub struct ProgramFormPage {
    pub layout: Layout,
    /// The program being edited; `None` for a new one.
    pub program_id: Option<i64>,
    pub title: String,
    pub summary: String,
    pub starts_on: String,
    pub ends_on: String,
    pub zones: Vec<Choice>,
    pub slots: Vec<SlotRow>,
    pub blackout: Vec<String>,
    pub errors: FieldErrors,
    /// A refusal that is not about one field (sessions the change would break).
    pub error: Option<String>,
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
    pub fn action(&self) -> String {
        match self.program_id {
            Some(id) => format!("/admin/programs/{id}/edit"),
            None => "/admin/programs".into(),
        }
    }
}

/// The zone list with `chosen` selected; a zone not on the list (set through the API) is
/// offered too, so saving the form never changes it silently.
fn zone_choices(chosen: &str) -> Vec<Choice> {
    let mut out: Vec<Choice> = ZONES
        .iter()
        .map(|(name, zh)| Choice {
            value: (*name).into(),
            label: (*zh).into(),
            chosen: *name == chosen,
        })
        .collect();
    if !out.iter().any(|c| c.chosen) && !chosen.trim().is_empty() {
        out.push(Choice {
            value: chosen.into(),
            label: chosen.into(),
            chosen: true,
        });
    }
    out
}

/// The form's values as submitted.
struct Submitted {
    title: String,
    summary: String,
    starts_on: String,
    ends_on: String,
    timezone: String,
    /// (weekday, start, minutes) per row, blank rows dropped.
    slots: Vec<(String, String, String)>,
    blackout: Vec<String>,
}

impl Submitted {
    fn from_pairs(p: &Pairs) -> Submitted {
        let (days, starts, minutes) = (
            p.all("slot_weekday"),
            p.all("slot_start"),
            p.all("slot_minutes"),
        );
        let rows = days.len().max(starts.len()).max(minutes.len());
        let at =
            |v: &Vec<String>, i: usize| v.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
        let slots = (0..rows)
            .map(|i| (at(&days, i), at(&starts, i), at(&minutes, i)))
            .filter(|(d, s, m)| !(d.is_empty() && s.is_empty() && m.is_empty()))
            .collect();
        Submitted {
            title: p.get("title"),
            summary: p.get("summary"),
            starts_on: p.get("starts_on"),
            ends_on: p.get("ends_on"),
            timezone: p.get("timezone"),
            slots,
            blackout: p
                .all("blackout")
                .iter()
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }

    /// The API input; a weekday or length that does not parse becomes 0 and the validator
    /// names the row.
    fn to_input(&self) -> ProgramInput {
        ProgramInput {
            title: self.title.clone(),
            summary: self.summary.clone(),
            starts_on: self.starts_on.clone(),
            ends_on: self.ends_on.clone(),
            timezone: self.timezone.clone(),
            slots: self
                .slots
                .iter()
                .map(|(d, s, m)| SlotSpec {
                    weekday: d.parse().unwrap_or(0),
                    start: s.clone(),
                    minutes: m.parse().unwrap_or(0),
                })
                .collect(),
            blackout_dates: self.blackout.clone(),
        }
    }

    fn page(
        self,
        layout: Layout,
        program_id: Option<i64>,
        errors: FieldErrors,
        error: Option<String>,
    ) -> ProgramFormPage {
        let mut slots: Vec<SlotRow> = self
            .slots
            .iter()
            .map(|(d, s, m)| SlotRow::new(d, s, m))
            .collect();
        slots.extend((0..SPARE_SLOT_ROWS).map(|_| SlotRow::blank()));
        let mut blackout = self.blackout;
        blackout.extend((0..SPARE_BLACKOUT_ROWS).map(|_| String::new()));
        ProgramFormPage {
            layout,
            program_id,
            title: self.title,
            summary: self.summary,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            zones: zone_choices(&self.timezone),
            slots,
            blackout,
            errors,
            error,
        }
    }

    fn of_program(p: &ProgramRow) -> Submitted {
        Submitted {
            title: p.title.clone(),
            summary: p.summary.clone(),
            starts_on: p.starts_on.to_string(),
            ends_on: p.ends_on.to_string(),
            timezone: p.timezone.clone(),
            slots: p
                .slot_specs()
                .iter()
                .map(|s| {
                    (
                        s.weekday.to_string(),
                        s.start.clone(),
                        s.minutes.to_string(),
                    )
                })
                .collect(),
            blackout: p.blackout_list().iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// `GET /admin/programs/new`: Tuesdays and Thursdays 14:30 for 90 minutes to start from.
pub async fn new_program_page(layout: Layout, user: CurrentUser) -> AppResult<ProgramFormPage> {
    user.require(Role::Organizer)?;
    let start = Submitted {
        title: String::new(),
        summary: String::new(),
        starts_on: String::new(),
        ends_on: String::new(),
        timezone: DEFAULT_TZ.name().into(),
        slots: vec![
            ("2".into(), "14:30".into(), "90".into()),
            ("4".into(), "14:30".into(), "90".into()),
        ],
        blackout: Vec::new(),
    };
    Ok(start.page(layout, None, FieldErrors::default(), None))
}

/// The answer to a refused form: the form again, as typed, with the reasons.
fn refused(
    layout: Layout,
    program_id: Option<i64>,
    submitted: Submitted,
    e: ScheduleError,
) -> AppResult<Response> {
    match e {
        ScheduleError::Invalid(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            submitted.page(layout, program_id, errors, None),
        )
            .into_response()),
        e @ ScheduleError::CalendarBreaks(_) => {
            let message = e.message_zh();
            Ok((
                StatusCode::CONFLICT,
                submitted.page(layout, program_id, FieldErrors::default(), Some(message)),
            )
                .into_response())
        }
        e => Err(e.into()),
    }
}

/// `POST /admin/programs`.
pub async fn create_program_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let submitted = Submitted::from_pairs(&Pairs(pairs));
    match uc::create_program(&state.db, state.clock.now(), &submitted.to_input()).await {
        Ok(id) => Ok(Redirect::to(&format!("/admin/programs/{id}")).into_response()),
        Err(e) => refused(layout, None, submitted, e),
    }
}

/// `GET /admin/programs/{id}/edit`.
pub async fn edit_program_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<ProgramFormPage> {
    user.require(Role::Organizer)?;
    let program = uc::program(&state.db, id).await?;
    Ok(Submitted::of_program(&program).page(layout, Some(id), FieldErrors::default(), None))
}

/// `POST /admin/programs/{id}/edit`: saved after the placed sessions were re-checked.
pub async fn update_program_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let submitted = Submitted::from_pairs(&Pairs(pairs));
    let now = state.clock.now();
    match uc::update_program(&state.db, now, id, &submitted.to_input(), Some(&user.0)).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/programs/{id}?notice=program_saved")).into_response())
        }
        Err(e) => refused(layout, Some(id), submitted, e),
    }
}

/// `GET /admin/programs/{id}/delete`: what deleting does, before it is done.
pub async fn delete_program_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let program = uc::program(&state.db, id).await?;
    let sessions = state.db.program_sessions(id).await?;
    Ok(crate::http::confirm::ConfirmPage {
        layout,
        title: "删除此项目？".into(),
        facts: vec![
            ("项目".into(), program.title.clone()),
            (
                "日期".into(),
                format!("{} 至 {}", program.starts_on, program.ends_on),
            ),
            ("课程".into(), format!("{} 个", sessions.len())),
        ],
        consequences: vec![
            "项目及其全部课程将被删除，公开课表和日历订阅中不再出现。".into(),
            "只有还没有任何企业报名、也没有录像或直播的项目可以删除；否则请逐个取消课程（报名企业会收到通知）。".into(),
            "此操作不能撤销。".into(),
        ],
        action: format!("/admin/programs/{id}/delete"),
        hidden: Vec::new(),
        confirm_label: "确认删除项目".into(),
        back_href: format!("/admin/programs/{id}"),
        back_label: "不删除，返回".into(),
    }
    .into_response())
}

/// `POST /admin/programs/{id}/delete`: with `confirm=yes` the program is deleted (or the
/// refusal is shown on the program page); without, the confirmation page.
pub async fn delete_program_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    if !crate::http::confirm::confirmed(&form) {
        return Ok(Redirect::to(&format!("/admin/programs/{id}/delete")).into_response());
    }
    match uc::delete_program(&state.db, state.clock.now(), id, Some(&user.0)).await {
        Ok(()) => Ok(Redirect::to("/admin?notice=program_deleted").into_response()),
        Err(e @ ScheduleError::ProgramInUse { .. }) => {
            let mut page =
                super::organize::admin_program_page(&state, layout, id, None, None).await?;
            page.error = Some(e.message_zh());
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
