//! The organizer's workspace.

use super::auth::CurrentUser;
use super::extract::Query;
use super::layout::Layout;
use super::AppState;
use crate::accounts::Role;
use crate::app::audit::{self, Action};
use crate::db::accounts::Enterprise;
use crate::db::audit::{AuditFilter, AuditRow};
use crate::error::AppResult;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

#[derive(Template, WebTemplate)]
#[template(path = "admin/dashboard.html")]
pub struct AdminHomePage {
    pub layout: Layout,
    pub enterprises: Vec<Enterprise>,
    pub lawyers: usize,
    pub programs: Vec<(crate::db::schedule::ProgramRow, i64)>,
}

impl AdminHomePage {
    pub fn industry(&self, e: &Enterprise) -> String {
        super::accounts::pages::industry_label(e)
    }
}

/// Organizer home: registered enterprises and staff.
pub async fn dashboard(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> AppResult<AdminHomePage> {
    user.require(Role::Organizer)?;
    let enterprises = state.db.enterprises().await?;
    let lawyers = state.db.staff(Role::Lawyer).await?.len();
    let programs = state.db.programs().await?;
    Ok(AdminHomePage {
        layout,
        enterprises,
        lawyers,
        programs,
    })
}

/// The filters of the audit page and its CSV (from the query string; empty means all).
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub actor: Option<String>,
    /// Entries older than this id (the next page).
    #[serde(default)]
    pub before: Option<String>,
}

impl AuditQuery {
    fn filter(&self, limit: i64) -> AuditFilter {
        let number = |s: &Option<String>| s.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
        AuditFilter {
            action: self
                .action
                .as_deref()
                .and_then(Action::parse)
                .map(|a| a.as_str().to_string()),
            actor_user_id: number(&self.actor),
            before_id: number(&self.before),
            limit,
        }
    }
}

/// An audit entry as the page and the CSV show it.
pub struct AuditLine {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl From<AuditRow> for AuditLine {
    fn from(r: AuditRow) -> Self {
        let actor = match (r.actor_user_id, r.actor_name) {
            (None, _) => "命令行（pufa admin）".to_string(),
            (Some(_), Some(name)) => name,
            (Some(id), None) => format!("#{id}"),
        };
        let target_zh = match r.target_type.as_str() {
            "session" => "课程",
            "lecture" => "回放",
            "account" => "账号",
            "checkup" => "体检报告",
            "claim" => "信用代码申诉",
            "qa_entry" => "公开问答",
            "advisor_group" => "法律顾问组",
            "followup" => "回访",
            other => other,
        };
        AuditLine {
            id: r.id,
            at: r
                .at
                .with_timezone(&crate::schedule::DEFAULT_TZ)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            actor,
            action: Action::parse(&r.action).map_or(r.action.clone(), |a| a.label_zh().to_string()),
            target: match r.target_id {
                Some(id) => format!("{target_zh} #{id}"),
                None => target_zh.to_string(),
            },
            detail: r.detail,
        }
    }
}

/// One option of a filter menu.
pub struct FilterOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub lines: Vec<AuditLine>,
    pub actions: Vec<FilterOption>,
    pub actors: Vec<FilterOption>,
    /// The query string of the next (older) page, when there is one.
    pub next: Option<String>,
    /// The query string of the current filter (for the CSV link).
    pub filter_query: String,
}

fn filter_query(q: &AuditQuery) -> String {
    let mut parts = Vec::new();
    if let Some(a) = q.action.as_deref().and_then(Action::parse) {
        parts.push(format!("action={}", a.as_str()));
    }
    if let Some(id) = q
        .actor
        .as_deref()
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        parts.push(format!("actor={id}"));
    }
    parts.join("&")
}

/// `GET /admin/audit`: the audit log, newest first, filtered by action and actor, in pages.
pub async fn audit_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(q): Query<AuditQuery>,
) -> AppResult<AuditPage> {
    let filter = q.filter(audit::PAGE_SIZE + 1);
    let mut rows = audit::entries(&state.db, &user, filter.clone()).await?;
    let more = rows.len() as i64 > audit::PAGE_SIZE;
    rows.truncate(audit::PAGE_SIZE as usize);
    let base = filter_query(&q);
    let next = match (more, rows.last()) {
        (true, Some(last)) if base.is_empty() => Some(format!("before={}", last.id)),
        (true, Some(last)) => Some(format!("{base}&before={}", last.id)),
        _ => None,
    };
    let actors = audit::actors(&state.db, &user)
        .await?
        .into_iter()
        .map(|(id, name)| FilterOption {
            selected: filter.actor_user_id == Some(id),
            value: id.to_string(),
            label: name,
        })
        .collect();
    let actions = Action::ALL
        .iter()
        .map(|a| FilterOption {
            selected: filter.action.as_deref() == Some(a.as_str()),
            value: a.as_str().to_string(),
            label: a.label_zh().to_string(),
        })
        .collect();
    Ok(AuditPage {
        layout,
        lines: rows.into_iter().map(AuditLine::from).collect(),
        actions,
        actors,
        next,
        filter_query: base,
    })
}

/// `GET /admin/audit.csv`: the filtered log (newest first) for Excel.
pub async fn audit_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<AuditQuery>,
) -> AppResult<axum::response::Response> {
    audit_export(&state, &user, q, super::export::Format::Csv).await
}

/// `GET /admin/audit.xlsx`: the same as an Excel workbook.
pub async fn audit_xlsx(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<AuditQuery>,
) -> AppResult<axum::response::Response> {
    audit_export(&state, &user, q, super::export::Format::Xlsx).await
}

async fn audit_export(
    state: &AppState,
    user: &crate::accounts::User,
    q: AuditQuery,
    format: super::export::Format,
) -> AppResult<axum::response::Response> {
    let rows = audit::entries(&state.db, user, q.filter(audit::EXPORT_LIMIT)).await?;
    let header: Vec<String> = ["编号", "时间", "操作者", "操作", "对象", "详情"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let lines: Vec<Vec<String>> = rows
        .into_iter()
        .map(AuditLine::from)
        .map(|l| {
            vec![
                l.id.to_string(),
                l.at,
                l.actor,
                l.action,
                l.target,
                l.detail,
            ]
        })
        .collect();
    let table = super::export::Table::new("操作日志", header, lines).numeric(&[0]);
    super::export::download(format, "audit-log", &table)
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use axum::routing::get;
    utoipa_axum::router::OpenApiRouter::new()
        .route("/admin", get(dashboard))
        .route("/admin/audit", get(audit_page))
        .route("/admin/audit.csv", get(audit_csv))
        .route("/admin/audit.xlsx", get(audit_xlsx))
}
