//! The session page with its sign-up and cancel forms.

use crate::app::schedule as schedule_uc;
use crate::app::signup as uc;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::confirm::{self, ConfirmPage};
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
    /// The organizer removed the enterprise's sign-up, for this reason.
    pub removal: Option<String>,
    pub share: crate::http::views::share::Share,
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
    // a sign-up an organizer removed: the enterprise sees that, and why
    let removal = match (enterprise_id, &mine) {
        (Some(e), None) => state
            .db
            .last_ended_registration(id, e)
            .await?
            .filter(|r| r.is_removed())
            .map(|r| r.end_reason.unwrap_or_default()),
        _ => None,
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
    let item = SessionItem::new(session, program.tz(), mine, now);
    let share = crate::http::views::share::Share::new(
        &state.config.public_url,
        &format!("/sessions/{id}"),
        &format!("{} · {}", item.row.title, program.title),
        &format!(
            "{} · 主讲：{} · {}",
            item.when,
            item.row.lecturer_name,
            if item.row.summary.trim().is_empty() {
                &item.row.category
            } else {
                &item.row.summary
            }
        ),
        None,
    );
    Ok(SessionPage {
        share,
        removal,
        layout,
        lecture_id,
        live,
        item,
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

/// `GET /sessions/{id}/cancel`: what cancelling the enterprise's sign-up means, and the
/// button that does it. Without an active sign-up, back to the session page.
pub async fn cancel_confirm_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    if !user.is_enterprise() {
        return Err(AppError::Forbidden);
    }
    let (session, program) = schedule_uc::session_in_program(&state.db, id).await?;
    let Some(mine) = state.db.registration_state(id, user.id).await? else {
        return Ok(Redirect::to(&format!("/sessions/{id}")).into_response());
    };
    let item = SessionItem::new(session, program.tz(), None, state.clock.now());
    let (status, consequences) = if mine.is_confirmed() {
        (
            format!("已确认，{} 人", mine.seats),
            vec![
                format!("您的 {} 个名额将立即让给候补企业。", mine.seats),
                "如需再报名，须重新办理：有空余名额即确认，否则排在候补末尾。".to_string(),
            ],
        )
    } else {
        let place = mine.position.unwrap_or(0);
        (
            format!("候补第 {place} 位，{} 人", mine.seats),
            vec![
                format!("您将退出候补队列（现为第 {place} 位）。"),
                "如需再报名，将排在候补末尾。".to_string(),
            ],
        )
    };
    Ok(ConfirmPage {
        layout,
        title: "取消报名？".into(),
        facts: vec![
            ("课程".into(), item.row.title.clone()),
            ("时间".into(), item.when.clone()),
            ("报名".into(), status),
        ],
        consequences,
        action: format!("/sessions/{id}/cancel"),
        hidden: Vec::new(),
        confirm_label: "确认取消报名".into(),
        back_href: format!("/sessions/{id}"),
        back_label: "不取消，返回课程页".into(),
    }
    .into_response())
}

/// `POST /sessions/{id}/cancel`: with `confirm=yes`, cancel the sign-up and offer the undo on
/// 我的; without it, nothing changes and the confirmation page is shown.
pub async fn cancel_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    if !confirm::confirmed(&form) {
        return Ok(Redirect::to(&format!("/sessions/{id}/cancel")).into_response());
    }
    uc::cancel(&state.db, state.clock.now(), &user, id).await?;
    Ok(Redirect::to(&format!("/me?notice=cancelled&session={id}")).into_response())
}
