//! The confidentiality pages of the check-up: the notice an enterprise confirms before its first
//! page, the confirmation before deleting a check-up for good, and the access section of the
//! report page (`templates/checkup/_access.html`, included by `checkup/report.html`).

use super::local_time;
use crate::accounts::User;
use crate::app::checkup::{self as use_case, CheckupReport};
use crate::checkup::notice::{self, Section};
use crate::checkup::CheckupStatus;
use crate::db::Db;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::Path;
use crate::http::layout::Layout;
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Where the enterprise goes once it confirmed the notice.
const FIRST_PAGE: &str = "/checkup/fill/1";

#[derive(Template, WebTemplate)]
#[template(path = "checkup/notice.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub sections: &'static [Section],
    pub revision: &'static str,
    /// The questionnaire version the consent is for.
    pub version: String,
    /// Only enterprises confirm; others read the notice without the form.
    pub is_enterprise: bool,
    /// When the enterprise confirmed, shown instead of the form.
    pub consented_at: Option<String>,
    pub error: Option<String>,
}

async fn notice_page_for(
    state: &AppState,
    layout: Layout,
    user: &User,
    error: Option<String>,
) -> AppResult<NoticePage> {
    let mut page = NoticePage {
        layout,
        sections: notice::SECTIONS,
        revision: notice::REVISION,
        version: state.questionnaires.current().version.clone(),
        is_enterprise: user.is_enterprise(),
        consented_at: None,
        error,
    };
    if page.is_enterprise {
        let consent = use_case::consent(&state.db, &state.questionnaires, user).await?;
        page.consented_at = consent.consented_at.map(local_time);
    }
    Ok(page)
}

/// The notice: who can read the report, how long it is kept, a self-check and not legal advice.
pub async fn notice_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
) -> AppResult<NoticePage> {
    notice_page_for(&state, layout, &user, None).await
}

#[derive(Debug, Deserialize)]
pub struct NoticeForm {
    /// The checkbox "我已阅读并了解": `yes` when ticked.
    #[serde(default)]
    pub agree: String,
}

/// Record the confirmation and go to the first page; without the box ticked, the notice again.
pub async fn notice_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    CsrfForm(form): CsrfForm<NoticeForm>,
) -> AppResult<Response> {
    if form.agree != "yes" {
        let error = Some("请先勾选“我已阅读并了解以上说明”，再开始体检。".to_string());
        let page = notice_page_for(&state, layout, &user, error).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    use_case::give_consent(&state.db, &state.questionnaires, state.clock.now(), &user).await?;
    Ok(Redirect::to(FIRST_PAGE).into_response())
}

/// Send an enterprise that has not confirmed the notice there instead of the questionnaire.
pub(super) fn to_notice() -> Response {
    Redirect::to("/checkup/notice").into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "checkup/delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub id: i64,
    pub is_draft: bool,
    /// When the report was submitted (the draft started).
    pub when: String,
    pub answered: usize,
}

/// The confirmation before deleting a check-up (its enterprise only).
pub async fn delete_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<DeletePage> {
    let row = use_case::own_checkup(&state.db, &user, id).await?;
    Ok(DeletePage {
        layout,
        id: row.id,
        is_draft: row.status == CheckupStatus::Draft,
        when: local_time(row.submitted_or_created()),
        answered: row.answers.len(),
    })
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {}

/// Delete the check-up for good and return to the check-up home page, which says so.
pub async fn delete_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<ConfirmForm>,
) -> AppResult<Redirect> {
    let notice = match use_case::delete(&state.db, &user, id).await? {
        CheckupStatus::Draft => "draft_deleted",
        CheckupStatus::Submitted => "report_deleted",
    };
    Ok(Redirect::to(&format!("/checkup?notice={notice}")))
}

/// The notice the check-up home page shows after `?notice=code`.
pub(super) fn notice_text(code: Option<&str>) -> Option<String> {
    match code? {
        "report_deleted" => {
            Some("报告已永久删除，它的查阅记录也一并删除；任何人都无法再打开。".into())
        }
        "draft_deleted" => Some("草稿已永久删除。".into()),
        _ => None,
    }
}

/// One line of a report's access log, as the enterprise reads it.
pub struct AccessLine {
    pub when: String,
    pub role: &'static str,
    /// The account's display name and id ("管理员（账号 3）").
    pub who: String,
}

/// What `templates/checkup/_access.html` shows on a report page: to the enterprise, who else
/// opened the report and the button to delete it; to an organizer, that this opening is logged.
pub struct AccessSection {
    pub report_id: i64,
    /// The viewer is the report's enterprise.
    pub owner: bool,
    /// Openings by others, newest first (for the enterprise only).
    pub entries: Vec<AccessLine>,
}

/// The access section of `report`'s page for `viewer`. Called after the report was opened, so
/// an organizer's opening is already logged.
pub async fn access_section(
    db: &Db,
    viewer: &User,
    report: &CheckupReport,
) -> AppResult<AccessSection> {
    let owner = viewer.id == report.enterprise.id;
    let entries = if owner {
        use_case::access_log(db, viewer, report.id)
            .await?
            .into_iter()
            .map(|a| AccessLine {
                when: local_time(a.accessed_at),
                role: a.viewer_role.label_zh(),
                who: match a.viewer_name {
                    Some(name) => format!("{name}（账号 {}）", a.viewer_id),
                    None => format!("已删除的账号 {}", a.viewer_id),
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(AccessSection {
        report_id: report.id,
        owner,
        entries,
    })
}
