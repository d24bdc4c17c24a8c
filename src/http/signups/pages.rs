//! The session page with its sign-up and cancel forms.

use crate::app::schedule as schedule_uc;
use crate::app::signup as uc;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
use crate::http::live::pages::LiveWidget;
use crate::http::views::timetable::SessionItem;
use crate::http::AppState;
use crate::schedule::is_live_now;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "sessions/show.html")]
pub struct SessionPage {
    pub layout: Layout,
    pub item: SessionItem,
    pub program_title: String,
    pub is_enterprise: bool,
    pub can_roster: bool,
    pub live_now: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// The published recording, if any ("回放").
    pub lecture_id: Option<i64>,
    /// The live lecture: countdown, player, replay (see `templates/live/widget.html`).
    pub live: Option<LiveWidget>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

pub(super) fn notice_text(code: Option<&str>) -> Option<String> {
    match code? {
        "confirmed" => Some("报名成功，名额已确认。".into()),
        "waitlisted" => Some("名额已满，已为您登记候补；有名额空出时将按顺序自动递补。".into()),
        "unchanged" => Some("您已报名此课程，报名信息未改变。".into()),
        "cancelled" => Some("已取消报名。".into()),
        "removed" => Some("已移除该报名，候补已自动递补。".into()),
        _ => None,
    }
}

async fn session_page_for(
    state: &AppState,
    layout: Layout,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<SessionPage> {
    let user = layout.user.clone();
    let (session, program) = schedule_uc::session_in_program(&state.db, id).await?;
    let enterprise_id = user.as_ref().filter(|u| u.is_enterprise()).map(|u| u.id);
    let mine = match enterprise_id {
        Some(e) => state.db.registration_state(id, e).await?,
        None => None,
    };
    let can_roster = user
        .as_ref()
        .is_some_and(|u| uc::may_read_roster(u, &session));
    let now = state.clock.now();
    let live_now = is_live_now(session.starts_at, session.minutes, session.status, now);
    let lecture_id = state
        .db
        .lecture_of_session(id)
        .await?
        .filter(|l| l.is_published())
        .map(|l| l.id);
    let live_view =
        crate::app::live::view::live_view(&state.db, &state.live, now, id, user.as_ref()).await?;
    let live = LiveWidget::new(&live_view, now, user.is_some());
    Ok(SessionPage {
        layout,
        lecture_id,
        live,
        item: SessionItem::new(session, program.tz(), mine, now),
        program_title: program.title,
        is_enterprise: enterprise_id.is_some(),
        can_roster,
        live_now,
        notice,
        error,
    })
}

pub async fn session_page(
    State(state): State<AppState>,
    layout: Layout,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<SessionPage> {
    session_page_for(&state, layout, id, notice_text(q.notice.as_deref()), None).await
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    pub seats: String,
    #[serde(default)]
    pub attendees: String,
}

pub async fn signup_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> AppResult<Response> {
    let seats = form.seats.trim().parse::<i64>().unwrap_or(0);
    let attendees: Vec<String> = form
        .attendees
        .split(['\n', ',', '，', '、'])
        .map(str::to_string)
        .collect();
    let outcome = uc::sign_up(&state.db, state.clock.now(), &user, id, seats, &attendees).await;
    match outcome.map_err(AppError::from) {
        Ok((reg, created)) => {
            let code = if !created {
                "unchanged"
            } else if reg.is_confirmed() {
                "confirmed"
            } else {
                "waitlisted"
            };
            Ok(Redirect::to(&format!("/sessions/{id}?notice={code}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            let status = e.status();
            let page = session_page_for(&state, layout, id, None, Some(e.detail())).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn cancel_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    uc::cancel(&state.db, state.clock.now(), &user, id).await?;
    Ok(Redirect::to("/me?notice=cancelled").into_response())
}
