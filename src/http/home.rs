//! The home page, "我的" and the health check.

use super::layout::Layout;
use super::views::format;
use super::AppState;
use crate::accounts::{industry, User};
use crate::db::accounts::Enterprise;
use crate::db::registrations::MyRegistration;
use crate::error::{AppError, AppResult};
use crate::schedule::DEFAULT_TZ;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use std::str::FromStr;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
}

pub async fn home(layout: Layout) -> HomePage {
    HomePage { layout }
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/me.html")]
pub struct MePage {
    pub layout: Layout,
    pub user: User,
    pub enterprise: Option<Enterprise>,
    pub industry_name: String,
    pub courses: Vec<MyCourse>,
    pub lawyer_sessions: Vec<super::views::timetable::SessionItem>,
    pub calendar_url: String,
    /// The same feed as a `webcal:` subscription link, and its QR code (inline SVG).
    pub calendar_webcal: String,
    pub calendar_qr: String,
    pub notice: Option<String>,
    /// The enterprise's legal advisors (its 5+1 group's lawyers).
    pub advisors: Vec<crate::db::advisors::GroupLawyer>,
    /// Right after 取消报名: the cancelled sign-up, for the 撤销 form.
    pub undo: Option<crate::db::registrations::EndedRegistration>,
    /// Sign-ups an organizer removed, with the reasons.
    pub removed: Vec<crate::db::registrations::EndedRegistration>,
}

/// The personal calendar feed's address, below the configured public URL.
pub fn personal_calendar_url(state: &AppState, token: &str) -> String {
    state
        .config
        .public_url
        .join(&format!("/calendar/{token}.ics"))
}

/// A row of "我的课程".
pub struct MyCourse {
    pub reg: MyRegistration,
    pub when: String,
    /// The published recording and the share of it watched (percent).
    pub lecture: Option<(i64, u32, bool)>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct MeQuery {
    #[serde(default)]
    pub notice: Option<String>,
    #[serde(default)]
    pub welcome: Option<String>,
    /// The session whose sign-up was just cancelled (the undo).
    #[serde(default)]
    pub session: Option<i64>,
}

/// "我的": the account's own page. Staff are sent to their workspace.
pub async fn me(
    State(state): State<AppState>,
    layout: Layout,
    super::extract::Query(q): super::extract::Query<MeQuery>,
) -> AppResult<Response> {
    let Some(user) = layout.user.clone() else {
        return Err(AppError::Unauthorized);
    };
    if user.is_organizer() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let enterprise = state.db.enterprise(user.id).await?;
    let industry_name = enterprise
        .as_ref()
        .and_then(|e| e.industry.chars().next())
        .and_then(industry::section_name)
        .unwrap_or("")
        .to_string();
    let mut courses = Vec::new();
    let mut calendar_url = String::new();
    if let Some(e) = &enterprise {
        let threshold = state.config.attendance_share;
        for course in crate::app::signup::my_courses(&state.db, e.id, threshold).await? {
            let reg = course.reg;
            let tz = chrono_tz::Tz::from_str(&reg.timezone).unwrap_or(DEFAULT_TZ);
            let when = format::when_zh(reg.starts_at.as_ref(), tz);
            let lecture = course.lecture.map(|(id, a)| (id, a.percent, a.attended));
            courses.push(MyCourse { reg, when, lecture });
        }
        calendar_url = personal_calendar_url(&state, &e.calendar_token);
    }
    let mut lawyer_sessions = Vec::new();
    if user.is_lawyer() {
        let now = state.clock.now();
        for row in state.db.lawyer_sessions(user.id).await? {
            let program = crate::app::schedule::program(&state.db, row.program_id).await?;
            lawyer_sessions.push(super::views::timetable::SessionItem::new(
                row,
                program.tz(),
                None,
                now,
            ));
        }
    }
    let notice = match (q.notice.as_deref(), q.welcome.as_deref()) {
        (Some("cancelled"), _) => Some("已取消报名，您的名额已释放给候补企业。".to_string()),
        (Some("others_out"), _) => Some("已退出其他设备上的登录，本设备保持登录。".to_string()),
        (Some("calendar_token"), _) => {
            Some("已更换日历订阅地址，旧地址已失效；请在日历应用中改用下面的新地址。".to_string())
        }
        (_, Some(_)) => Some("注册成功，欢迎使用！可以去“普法月课程”报名了。".to_string()),
        _ => None,
    };
    let advisors = crate::app::qa::advisors::advisors_of(&state.db, &user).await?;
    let (mut undo, mut removed) = (None, Vec::new());
    if let Some(e) = &enterprise {
        if let (Some("cancelled"), Some(session)) = (q.notice.as_deref(), q.session) {
            undo = state
                .db
                .last_ended_registration(session, e.id)
                .await?
                .filter(|r| !r.is_removed());
        }
        removed = state.db.removed_registrations(e.id, 5).await?;
    }
    let calendar_webcal = super::views::qr::webcal(&calendar_url);
    let calendar_qr = if calendar_url.is_empty() {
        String::new()
    } else {
        super::views::qr::svg(&calendar_webcal, "日历订阅二维码：用手机相机扫码订阅")
    };
    Ok(MePage {
        undo,
        removed,
        calendar_webcal,
        calendar_qr,
        advisors,
        layout,
        user,
        enterprise,
        industry_name,
        courses,
        lawyer_sessions,
        calendar_url,
        notice,
    }
    .into_response())
}

/// The body of `/healthz`, for the API document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Health {
    /// `ok`, or `unavailable` when the database cannot be reached.
    pub status: String,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = Health, description = "serving: `{\"status\": \"ok\"}`"),
              (status = 503, body = Health, description = "database unreachable: `{\"status\": \"unavailable\"}`")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(healthz))
        .route("/", axum::routing::get(home))
        .route("/me", axum::routing::get(me))
}
