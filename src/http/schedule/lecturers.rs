//! `/admin/lecturers`: the lecturer directory (issue 17). A lecturer is added once — name,
//! firm, biography, when they can teach, their lawyer account — and picked on session forms.

use super::organize::Pairs;
use crate::accounts::Role;
use crate::app::lecturers as uc;
use crate::app::schedule::ScheduleError;
use crate::db::lecturers::LecturerRow;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
use crate::http::views::choice::Choice;
use crate::http::AppState;
use crate::schedule::{weekday_zh, LecturerInput};
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Blank date pickers offered after the filled ones.
const SPARE_DATES: usize = 2;

/// A directory line.
pub struct LecturerLine {
    pub id: i64,
    pub name: String,
    pub firm: String,
    pub when: String,
    pub account: Option<(i64, String)>,
    pub session_count: i64,
}

impl LecturerLine {
    fn of(r: &LecturerRow) -> LecturerLine {
        LecturerLine {
            id: r.id,
            name: r.name.clone(),
            firm: r.firm.clone(),
            when: availability_zh(r),
            account: r.user_id.map(|id| {
                let name = r.display_name.clone().unwrap_or_default();
                let login = r.username.clone().unwrap_or_default();
                (id, format!("{name}（{login}）"))
            }),
            session_count: r.session_count,
        }
    }
}

/// "周二、周四；5月4日不可" — when a lecturer teaches, as the directory lists it.
fn availability_zh(r: &LecturerRow) -> String {
    let days = match &r.available_weekdays {
        None => "每天".to_string(),
        Some(w) => {
            w.0.iter()
                .map(|d| weekday_zh(*d))
                .collect::<Vec<_>>()
                .join("、")
        }
    };
    let off = &r.unavailable_dates.0;
    if off.is_empty() {
        days
    } else {
        let dates: Vec<String> = off
            .iter()
            .map(|d| d.format("%-m月%-d日").to_string())
            .collect();
        format!("{days}；{}不可", dates.join("、"))
    }
}

/// The form's values.
pub struct LecturerFormValues {
    pub name: String,
    pub firm: String,
    pub bio: String,
    pub weekdays: Vec<Choice>,
    pub unavailable: Vec<String>,
    pub accounts: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "organize/lecturers.html")]
pub struct LecturersPage {
    pub layout: Layout,
    /// The lecturer being edited; `None` on the directory page (list + new lecturer).
    pub editing: Option<i64>,
    pub rows: Vec<LecturerLine>,
    pub v: LecturerFormValues,
    pub errors: FieldErrors,
    pub notice: Option<String>,
}

impl LecturersPage {
    pub fn err(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
    pub fn action(&self) -> String {
        match self.editing {
            Some(id) => format!("/admin/lecturers/{id}"),
            None => "/admin/lecturers".into(),
        }
    }
}

async fn form_values(
    state: &AppState,
    input: &LecturerInput,
    unavailable: Vec<String>,
) -> AppResult<LecturerFormValues> {
    let days: Vec<u8> = input.available_weekdays.clone().unwrap_or_default();
    let account = input.account.clone().unwrap_or_default();
    let accounts = state
        .db
        .staff(Role::Lawyer)
        .await?
        .into_iter()
        .filter_map(|u| {
            let login = u.username?;
            Some(Choice {
                chosen: login == account,
                label: format!("{}（{login}）", u.display_name),
                value: login,
            })
        })
        .collect();
    let mut unavailable = unavailable;
    unavailable.extend((0..SPARE_DATES).map(|_| String::new()));
    Ok(LecturerFormValues {
        name: input.name.clone(),
        firm: input.firm.clone(),
        bio: input.bio.clone(),
        weekdays: (1..=7u8)
            .map(|d| Choice {
                value: d.to_string(),
                label: weekday_zh(d).into(),
                chosen: days.contains(&d),
            })
            .collect(),
        unavailable,
        accounts,
    })
}

fn input_of(p: &Pairs) -> LecturerInput {
    let days: Vec<u8> = p
        .all("weekdays")
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    LecturerInput {
        name: p.get("name"),
        firm: p.get("firm"),
        bio: p.get("bio"),
        // none ticked = every day
        available_weekdays: (!days.is_empty()).then_some(days),
        unavailable_dates: p
            .all("unavailable")
            .into_iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect(),
        account: Some(p.get("account")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /admin/lecturers`: the directory and the form for a new lecturer.
pub async fn directory_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> AppResult<LecturersPage> {
    user.require(Role::Organizer)?;
    let rows = uc::directory(&state.db, &user.0).await?;
    Ok(LecturersPage {
        layout,
        editing: None,
        rows: rows.iter().map(LecturerLine::of).collect(),
        v: form_values(&state, &LecturerInput::default(), Vec::new()).await?,
        errors: FieldErrors::default(),
        notice: (q.notice.as_deref() == Some("saved")).then(|| "讲师信息已保存。".to_string()),
    })
}

/// `GET /admin/lecturers/{id}`: edit a lecturer.
pub async fn edit_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<LecturersPage> {
    user.require(Role::Organizer)?;
    let row = uc::lecturer(&state.db, &user.0, id).await?;
    let mut input = uc::session_lecturer(&row);
    input.account = row.username.clone();
    let dates = input.unavailable_dates.clone();
    Ok(LecturersPage {
        layout,
        editing: Some(id),
        rows: Vec::new(),
        v: form_values(&state, &input, dates).await?,
        errors: FieldErrors::default(),
        notice: None,
    })
}

async fn save(
    state: AppState,
    layout: Layout,
    user: CurrentUser,
    id: Option<i64>,
    pairs: Pairs,
) -> AppResult<Response> {
    user.require(Role::Organizer)?;
    let input = input_of(&pairs);
    match uc::save(&state.db, state.clock.now(), &user.0, id, &input).await {
        Ok(_) => Ok(Redirect::to("/admin/lecturers?notice=saved").into_response()),
        Err(ScheduleError::Invalid(errors)) => {
            let rows = match id {
                Some(_) => Vec::new(),
                None => uc::directory(&state.db, &user.0).await?,
            };
            let dates = input.unavailable_dates.clone();
            let page = LecturersPage {
                layout,
                editing: id,
                rows: rows.iter().map(LecturerLine::of).collect(),
                v: form_values(&state, &input, dates).await?,
                errors,
                notice: None,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/lecturers`: add a lecturer.
pub async fn create_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    save(state, layout, user, None, Pairs(pairs)).await
}

/// `POST /admin/lecturers/{id}`: change a lecturer.
pub async fn update_form(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    save(state, layout, user, Some(id), Pairs(pairs)).await
}
