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
    /// How many enterprises are registered.
    pub enterprise_count: i64,
    /// The newest few (the directory has them all).
    pub rows: Vec<DirectoryRow>,
    pub lawyers: usize,
    pub programs: Vec<(crate::db::schedule::ProgramRow, i64)>,
    pub notice: Option<&'static str>,
}

/// An enterprise as the organizer's lists show it: the mobile masked, the time local.
pub struct DirectoryRow {
    pub name: String,
    pub uscc: String,
    pub industry: String,
    pub district: String,
    pub contact_name: String,
    pub mobile: String,
    pub registered: String,
}

impl From<Enterprise> for DirectoryRow {
    fn from(e: Enterprise) -> DirectoryRow {
        DirectoryRow {
            industry: super::accounts::pages::industry_label(&e),
            mobile: crate::accounts::privacy::mask_mobile(&e.mobile),
            registered: super::views::format::timestamp(&e.created_at, crate::schedule::DEFAULT_TZ),
            district: e.district.unwrap_or_default(),
            name: e.name,
            uscc: e.uscc,
            contact_name: e.contact_name,
        }
    }
}

/// How many enterprises a directory page shows.
pub const DIRECTORY_PAGE: i64 = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct DirectoryQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/enterprises.html")]
pub struct DirectoryPage {
    pub layout: Layout,
    pub rows: Vec<DirectoryRow>,
    pub q: String,
    pub industries: Vec<super::views::choice::Choice>,
    pub districts: Vec<super::views::choice::Choice>,
    pub filtered: bool,
    pub paging: super::views::paging::Paging,
}

/// `GET /admin/enterprises`: the enterprise directory with search, filters and pages.
pub async fn enterprises_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(query): Query<DirectoryQuery>,
) -> AppResult<DirectoryPage> {
    use crate::db::accounts::EnterpriseFilter;
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(60).collect::<String>())
    };
    let industry = clean(&query.industry).filter(|c| {
        c.chars().count() == 1
            && crate::accounts::industry::section_name(c.chars().next().unwrap_or(' ')).is_some()
    });
    let filter = EnterpriseFilter {
        text: clean(&query.q),
        industry,
        district: clean(&query.district),
    };
    let (_, total) =
        crate::app::accounts::enterprise_directory(&state.db, &user, &filter, 0, 0).await?;
    let base = super::views::paging::url_with(
        "/admin/enterprises",
        &[
            ("q", filter.text.as_deref().unwrap_or("")),
            ("industry", filter.industry.as_deref().unwrap_or("")),
            ("district", filter.district.as_deref().unwrap_or("")),
        ],
    );
    let paging =
        super::views::paging::Paging::new(query.page.as_deref(), DIRECTORY_PAGE, total, base);
    let (rows, _) = crate::app::accounts::enterprise_directory(
        &state.db,
        &user,
        &filter,
        paging.per_page,
        paging.offset(),
    )
    .await?;
    let districts = state.db.enterprise_districts().await?;
    Ok(DirectoryPage {
        layout,
        rows: rows.into_iter().map(DirectoryRow::from).collect(),
        q: filter.text.clone().unwrap_or_default(),
        industries: crate::accounts::industry::SECTIONS
            .iter()
            .map(|(code, name)| super::views::choice::Choice {
                value: code.to_string(),
                label: format!("{code} {name}"),
                chosen: filter.industry.as_deref() == Some(code.to_string().as_str()),
            })
            .collect(),
        districts: districts
            .into_iter()
            .map(|d| super::views::choice::Choice {
                chosen: filter.district.as_deref() == Some(d.as_str()),
                label: d.clone(),
                value: d,
            })
            .collect(),
        filtered: filter != EnterpriseFilter::default(),
        paging,
    })
}

/// How many rows a page of the session and job lists shows.
pub const LIST_PAGE: i64 = 50;

/// A search box's text: trimmed, at most 60 characters, `None` when empty.
fn search_text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(60).collect())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SessionListQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub program: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

/// A session as the organizer's list shows it: its time in its program's zone.
pub struct SessionListRow {
    pub id: i64,
    pub title: String,
    pub program_id: i64,
    pub program: String,
    pub when: String,
    pub lecturer: String,
    pub seats: String,
    pub waitlisted: i64,
    pub status: crate::schedule::SessionStatus,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/sessions.html")]
pub struct SessionListPage {
    pub layout: Layout,
    pub rows: Vec<SessionListRow>,
    pub q: String,
    pub programs: Vec<super::views::choice::Choice>,
    pub statuses: Vec<super::views::choice::Choice>,
    pub filtered: bool,
    pub paging: super::views::paging::Paging,
}

/// `GET /admin/sessions`: every program's sessions with search, filters and pages.
pub async fn sessions_page(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<SessionListQuery>,
) -> AppResult<SessionListPage> {
    use super::views::choice::Choice;
    use super::views::paging::{url_with, Paging};
    use crate::db::schedule::SessionFilter;
    use crate::schedule::SessionStatus;
    user.require(Role::Organizer)?;
    let programs = state.db.programs().await?;
    let program_id = query
        .program
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|id| programs.iter().any(|(p, _)| p.id == *id));
    let status = match query.status.as_deref() {
        Some("scheduled") => Some(SessionStatus::Scheduled),
        Some("cancelled") => Some(SessionStatus::Cancelled),
        _ => None,
    };
    let filter = SessionFilter {
        text: search_text(&query.q),
        program_id,
        status,
    };
    let (_, total) = state.db.session_list(&filter, 0, 0).await?;
    let program_value = program_id.map(|p| p.to_string()).unwrap_or_default();
    let base = url_with(
        "/admin/sessions",
        &[
            ("q", filter.text.as_deref().unwrap_or("")),
            ("program", &program_value),
            ("status", status.map_or("", SessionStatus::as_str)),
        ],
    );
    let paging = Paging::new(query.page.as_deref(), LIST_PAGE, total, base);
    let (rows, _) = state
        .db
        .session_list(&filter, paging.per_page, paging.offset())
        .await?;
    let titles: std::collections::HashMap<i64, String> = programs
        .iter()
        .map(|(p, _)| (p.id, p.title.clone()))
        .collect();
    Ok(SessionListPage {
        layout,
        rows: rows
            .into_iter()
            .map(|s| SessionListRow {
                when: super::views::format::when_zh(s.starts_at.as_ref(), s.tz()),
                program: titles.get(&s.program_id).cloned().unwrap_or_default(),
                seats: format!("{} / {}", s.confirmed_seats, s.capacity),
                lecturer: s.lecturer_name,
                id: s.id,
                title: s.title,
                program_id: s.program_id,
                waitlisted: s.waitlisted,
                status: s.status,
            })
            .collect(),
        q: filter.text.clone().unwrap_or_default(),
        programs: programs
            .iter()
            .map(|(p, _)| Choice {
                value: p.id.to_string(),
                label: p.title.clone(),
                chosen: program_id == Some(p.id),
            })
            .collect(),
        statuses: [SessionStatus::Scheduled, SessionStatus::Cancelled]
            .into_iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: s.label_zh().into(),
                chosen: status == Some(s),
            })
            .collect(),
        filtered: filter != SessionFilter::default(),
        paging,
    })
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct JobListQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

/// A transcoding job as the organizer's list shows it: times in its program's zone.
pub struct JobListLine {
    pub id: i64,
    pub kind: &'static str,
    pub state: crate::db::jobs::JobState,
    pub progress: i64,
    pub attempts: String,
    pub error: Option<String>,
    pub created: String,
    pub finished: String,
    pub session_id: i64,
    pub session_title: String,
    pub program_title: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/jobs.html")]
pub struct JobListPage {
    pub layout: Layout,
    pub rows: Vec<JobListLine>,
    pub q: String,
    pub states: Vec<super::views::choice::Choice>,
    pub filtered: bool,
    pub paging: super::views::paging::Paging,
}

/// `GET /admin/jobs`: transcoding jobs (recordings and live archives) with search, a state
/// filter and pages; each links to its session, where it is re-run.
pub async fn jobs_page(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<JobListQuery>,
) -> AppResult<JobListPage> {
    use super::views::choice::Choice;
    use super::views::format::timestamp;
    use super::views::paging::{url_with, Paging};
    use crate::db::jobs::{JobFilter, JobState};
    user.require(Role::Organizer)?;
    const STATES: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
    ];
    let job_state = query
        .state
        .as_deref()
        .and_then(|s| STATES.into_iter().find(|x| x.as_str() == s));
    let filter = JobFilter {
        text: search_text(&query.q),
        state: job_state,
    };
    let (_, total) = state.db.job_list(&filter, 0, 0).await?;
    let base = url_with(
        "/admin/jobs",
        &[
            ("q", filter.text.as_deref().unwrap_or("")),
            ("state", job_state.map_or("", JobState::as_str)),
        ],
    );
    let paging = Paging::new(query.page.as_deref(), LIST_PAGE, total, base);
    let (rows, _) = state
        .db
        .job_list(&filter, paging.per_page, paging.offset())
        .await?;
    Ok(JobListPage {
        layout,
        rows: rows
            .into_iter()
            .map(|j| {
                let tz = j
                    .program_timezone
                    .parse::<chrono_tz::Tz>()
                    .unwrap_or(crate::schedule::DEFAULT_TZ);
                JobListLine {
                    id: j.id,
                    kind: if j.kind == "live_archive" {
                        "直播回放"
                    } else {
                        "录像转码"
                    },
                    state: j.state,
                    progress: (j.progress.clamp(0.0, 1.0) * 100.0).round() as i64,
                    attempts: format!("{} / {}", j.attempts, j.max_attempts),
                    error: j.error,
                    created: timestamp(&j.created_at, tz),
                    finished: j
                        .finished_at
                        .map(|t| timestamp(&t, tz))
                        .unwrap_or_else(|| "—".into()),
                    session_id: j.session_id,
                    session_title: j.session_title,
                    program_title: j.program_title,
                }
            })
            .collect(),
        q: filter.text.clone().unwrap_or_default(),
        states: STATES
            .into_iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: s.label_zh().into(),
                chosen: job_state == Some(s),
            })
            .collect(),
        filtered: filter != JobFilter::default(),
        paging,
    })
}

/// Organizer home: registered enterprises and staff.
pub async fn dashboard(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    super::extract::Query(q): super::extract::Query<DashboardQuery>,
) -> AppResult<AdminHomePage> {
    user.require(Role::Organizer)?;
    let (newest, enterprise_count) =
        crate::app::accounts::enterprise_directory(&state.db, &user.0, &Default::default(), 5, 0)
            .await?;
    let lawyers = state.db.staff(Role::Lawyer).await?.len();
    let programs = state.db.programs().await?;
    Ok(AdminHomePage {
        layout,
        enterprise_count,
        rows: newest.into_iter().map(DirectoryRow::from).collect(),
        lawyers,
        programs,
        notice: (q.notice.as_deref() == Some("program_deleted")).then_some("项目已删除。"),
    })
}

/// `?notice=` on the organizer home (after deleting a program).
#[derive(Debug, Default, serde::Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    pub notice: Option<String>,
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
            "question" => "企业提问",
            "program" => "普法月项目",
            "lecturer" => "讲师",
            other => other,
        };
        AuditLine {
            id: r.id,
            at: super::views::format::timestamp(&r.at, crate::schedule::DEFAULT_TZ),
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
        .route("/admin/enterprises", get(enterprises_page))
        .route("/admin/sessions", get(sessions_page))
        .route("/admin/jobs", get(jobs_page))
        .route("/admin/audit", get(audit_page))
        .route("/admin/audit.csv", get(audit_csv))
        .route("/admin/audit.xlsx", get(audit_xlsx))
}
