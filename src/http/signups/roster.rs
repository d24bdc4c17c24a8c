//! Rosters for organizers and the session's lawyer: the page, removals, the CSV and `.xlsx`
//! exports and the printable sign-in sheet.

use super::api::RosterEntry;
use super::pages::notice_text;
use crate::app::signup as uc;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::export;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
use crate::http::views::format;
use crate::http::views::timetable::SessionItem;
use crate::http::AppState;
use crate::signup::RegistrationStatus;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// The roster of session `id` as `user` may read it for `purpose` (the use case checks the
/// access and records the audited kinds of reading).
pub(super) async fn load_roster(
    state: &AppState,
    user: &crate::accounts::User,
    id: i64,
    purpose: uc::RosterUse,
) -> AppResult<(
    crate::db::schedule::SessionRow,
    crate::db::schedule::ProgramRow,
    Vec<uc::RosterLine>,
)> {
    Ok(uc::roster(
        &state.db,
        state.clock.now(),
        user,
        id,
        state.config.attendance_share,
        purpose,
    )
    .await?)
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions/roster.html")]
pub struct RosterPage {
    pub layout: Layout,
    pub item: SessionItem,
    pub program_title: String,
    pub entries: Vec<RosterEntry>,
    pub can_remove: bool,
    /// The mobile numbers shown are masked (a lawyer without the organizer's permission).
    pub masked: bool,
    /// Whether the session's lawyer may see full mobile numbers (the organizer's checkbox).
    pub lawyer_sees_full_mobiles: bool,
    pub notice: Option<String>,
    /// The program's zone, in which times are shown.
    pub tz: Tz,
    /// The search text and the status asked for (`confirmed`, `waitlisted` or empty).
    pub q: String,
    pub status: String,
    pub filtered: bool,
    /// Matching confirmed and waitlisted entries (all pages).
    pub confirmed_count: usize,
    pub waitlist_count: usize,
    pub paging: crate::http::views::paging::Paging,
}

/// How many entries a roster page shows.
pub const ROSTER_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct RosterQuery {
    #[serde(default)]
    pub notice: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

/// Whether `e` matches the roster search: the company, its credit code, the contact or the
/// mobile number as shown (a masked number matches on its visible digits only).
fn matches(e: &RosterEntry, q: &str) -> bool {
    let q_lower = q.to_lowercase();
    e.company.contains(q)
        || e.contact_name.contains(q)
        || e.uscc.to_lowercase().starts_with(&q_lower)
        || e.mobile.starts_with(q)
        || (q.chars().count() >= 4 && e.mobile.ends_with(q))
}

impl RosterPage {
    pub fn confirmed(&self) -> Vec<&RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == RegistrationStatus::Confirmed)
            .collect()
    }
    pub fn waitlist(&self) -> Vec<&RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == RegistrationStatus::Waitlisted)
            .collect()
    }
    pub fn local(&self, t: &DateTime<Utc>) -> String {
        format::timestamp(t, self.tz)
    }
}

pub async fn roster_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<RosterQuery>,
) -> AppResult<RosterPage> {
    use crate::http::views::paging::{url_with, Paging};
    let (session, program, lines) = load_roster(&state, &user, id, uc::RosterUse::Page).await?;
    let tz = program.tz();
    let masked = !uc::sees_full_mobiles(&state.db, &user, id).await?;
    let lawyer_sees_full_mobiles = state.db.roster_full_mobiles(id).await?;
    let notice = match q.notice.as_deref() {
        Some("mobiles_full") => Some("已允许主讲律师查看完整手机号。".to_string()),
        Some("mobiles_masked") => Some("主讲律师看到的手机号将隐去中间四位。".to_string()),
        other => notice_text(other),
    };
    let text: String =
        q.q.as_deref()
            .unwrap_or("")
            .trim()
            .chars()
            .take(60)
            .collect();
    let status = match q.status.as_deref() {
        Some("confirmed") => Some(RegistrationStatus::Confirmed),
        Some("waitlisted") => Some(RegistrationStatus::Waitlisted),
        _ => None,
    };
    let rank = |s: RegistrationStatus| match s {
        RegistrationStatus::Confirmed => 0,
        _ => 1,
    };
    // confirmed first in the use case's order, then the waitlist by position
    let mut entries: Vec<RosterEntry> = lines
        .into_iter()
        .map(RosterEntry::from)
        .filter(|e| {
            matches!(
                e.status,
                RegistrationStatus::Confirmed | RegistrationStatus::Waitlisted
            )
        })
        .filter(|e| status.is_none_or(|s| e.status == s))
        .filter(|e| text.is_empty() || matches(e, &text))
        .collect();
    entries.sort_by_key(|e| (rank(e.status), e.position.unwrap_or(0)));
    let confirmed_count = entries
        .iter()
        .filter(|e| e.status == RegistrationStatus::Confirmed)
        .count();
    let waitlist_count = entries.len() - confirmed_count;
    let status_value = match status {
        Some(RegistrationStatus::Confirmed) => "confirmed",
        Some(_) => "waitlisted",
        None => "",
    };
    let base = url_with(
        &format!("/sessions/{id}/roster"),
        &[("q", text.as_str()), ("status", status_value)],
    );
    let paging = Paging::new(q.page.as_deref(), ROSTER_PAGE, entries.len() as i64, base);
    let entries: Vec<RosterEntry> = entries
        .into_iter()
        .skip(paging.offset().max(0) as usize)
        .take(paging.per_page.max(0) as usize)
        .collect();
    Ok(RosterPage {
        masked,
        lawyer_sees_full_mobiles,
        layout,
        item: SessionItem::new(session, tz, None, state.clock.now()),
        program_title: program.title,
        entries,
        can_remove: user.is_organizer(),
        notice,
        tz,
        filtered: !text.is_empty() || status.is_some(),
        q: text,
        status: status_value.to_string(),
        confirmed_count,
        waitlist_count,
        paging,
    })
}

#[derive(Debug, Deserialize)]
pub struct RemovalForm {
    #[serde(default)]
    pub enterprise_id: i64,
    #[serde(default)]
    pub reason: String,
    /// `yes` once the organizer confirmed (see [`crate::http::confirm`]).
    #[serde(default)]
    pub confirm: Option<String>,
}

/// `POST /sessions/{id}/removal`: the first submission (reason given) shows what the removal
/// does and changes nothing; the confirmed one removes the sign-up.
pub async fn remove_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<RemovalForm>,
) -> AppResult<Response> {
    if form.confirm.as_deref() != Some("yes") {
        if !user.is_organizer() {
            return Err(crate::error::AppError::Forbidden);
        }
        let reason = crate::signup::check_reason(&form.reason).map_err(|(field, msg)| {
            crate::error::AppError::from(uc::SignupError::Invalid(
                crate::validation::FieldErrors::single(field, msg),
            ))
        })?;
        let company = state
            .db
            .enterprise(form.enterprise_id)
            .await?
            .ok_or(crate::error::AppError::NotFound)?
            .name;
        let (session, program) = crate::app::schedule::session_in_program(&state.db, id).await?;
        let item = SessionItem::new(session, program.tz(), None, state.clock.now());
        return Ok(crate::http::confirm::ConfirmPage {
            layout,
            title: "移除该企业的报名？".into(),
            facts: vec![
                ("企业".into(), company),
                ("课程".into(), item.row.title.clone()),
                ("原因".into(), reason.clone()),
            ],
            consequences: vec![
                "该企业的报名立即失效，空出的名额按顺序让给候补企业。".into(),
                "企业会收到通知，并在“我的”和课程页看到移除及原因。".into(),
                "移除后企业可以重新报名（名额已满时排在候补末尾）。".into(),
            ],
            action: format!("/sessions/{id}/removal"),
            hidden: vec![
                ("enterprise_id".into(), form.enterprise_id.to_string()),
                ("reason".into(), reason),
            ],
            confirm_label: "确认移除".into(),
            back_href: format!("/sessions/{id}/roster"),
            back_label: "不移除，返回名单".into(),
        }
        .into_response());
    }
    uc::remove(
        &state.db,
        state.clock.now(),
        &user,
        id,
        form.enterprise_id,
        &form.reason,
    )
    .await?;
    Ok(Redirect::to(&format!("/sessions/{id}/roster?notice=removed")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MobilesForm {
    /// `true` when the box is checked; absent when not.
    #[serde(default)]
    pub full_mobiles: Option<String>,
}

/// `POST /sessions/{id}/roster/mobiles`: the organizer's checkbox that lets the session's
/// lawyer see full mobile numbers.
pub async fn mobiles_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<MobilesForm>,
) -> AppResult<Response> {
    let full = form
        .full_mobiles
        .is_some_and(|v| matches!(v.as_str(), "true" | "on" | "1"));
    uc::set_roster_full_mobiles(&state.db, state.clock.now(), &user, id, full).await?;
    let notice = if full {
        "mobiles_full"
    } else {
        "mobiles_masked"
    };
    Ok(Redirect::to(&format!("/sessions/{id}/roster?notice={notice}")).into_response())
}

/// `GET /sessions/{id}/roster.csv` — UTF-8 with BOM so Excel shows the Chinese text.
pub async fn roster_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    roster_export(&state, &user, id, export::Format::Csv).await
}

/// `GET /sessions/{id}/roster.xlsx` — the same table as an Excel workbook.
pub async fn roster_xlsx(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    roster_export(&state, &user, id, export::Format::Xlsx).await
}

/// The roster of session `id` as a download (an audited export, as the page's full view).
async fn roster_export(
    state: &AppState,
    user: &crate::accounts::User,
    id: i64,
    format: export::Format,
) -> AppResult<Response> {
    let (_, program, lines) = load_roster(
        state,
        user,
        id,
        match format {
            export::Format::Csv => uc::RosterUse::Export,
            export::Format::Xlsx => uc::RosterUse::Workbook,
        },
    )
    .await?;
    let tz = program.tz();
    let header: Vec<String> = [
        "状态",
        "候补顺位",
        "企业名称",
        "统一社会信用代码",
        "行业门类",
        "联系人",
        "手机号",
        "人数",
        "参加人员",
        "报名时间",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|line| {
            let e = &line.row;
            vec![
                e.status.label_zh().to_string(),
                e.position.map(|p| p.to_string()).unwrap_or_default(),
                e.company.clone(),
                e.uscc.clone(),
                e.industry.clone(),
                e.contact_name.clone(),
                e.mobile.clone(),
                e.seats.to_string(),
                e.attendees.0.join("、"),
                format::timestamp(&e.created_at, tz),
            ]
        })
        .collect();
    let table = export::Table::new("报名名单", header, rows).numeric(&[1, 7]);
    export::download(format, &format!("roster-session-{id}"), &table)
}

/// One line of the sign-in sheet: a seat of a confirmed enterprise.
pub struct SignInLine {
    pub number: usize,
    pub company: String,
    /// The attendee's name when the enterprise gave it; blank lines are filled in by hand.
    pub attendee: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions/signin_sheet.html")]
pub struct SignInSheetPage {
    pub layout: Layout,
    pub item: SessionItem,
    pub program_title: String,
    pub lines: Vec<SignInLine>,
    pub companies: usize,
}

/// The lines of a sign-in sheet: one per confirmed seat, in roster order, with the attendee
/// names the enterprise gave (more names than seats are all listed).
pub fn sign_in_lines(entries: &[RosterEntry]) -> Vec<SignInLine> {
    let mut lines = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.status == RegistrationStatus::Confirmed)
    {
        let seats = usize::try_from(e.seats)
            .unwrap_or(0)
            .max(e.attendees.len())
            .max(1);
        for i in 0..seats {
            lines.push(SignInLine {
                number: lines.len() + 1,
                company: e.company.clone(),
                attendee: e.attendees.get(i).cloned().unwrap_or_default(),
            });
        }
    }
    lines
}

/// `GET /sessions/{id}/signin-sheet`: the printable 签到表 of a session — for the same people
/// as the roster, with names only (no credit codes, contacts or mobiles), one line per
/// confirmed seat and columns for the signature and the time of arrival.
pub async fn signin_sheet(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<SignInSheetPage> {
    let (session, program, lines) =
        load_roster(&state, &user, id, uc::RosterUse::SignInSheet).await?;
    let tz = program.tz();
    let entries: Vec<RosterEntry> = lines.into_iter().map(RosterEntry::from).collect();
    let companies = entries
        .iter()
        .filter(|e| e.status == RegistrationStatus::Confirmed)
        .count();
    Ok(SignInSheetPage {
        layout,
        item: SessionItem::new(session, tz, None, state.clock.now()),
        program_title: program.title,
        lines: sign_in_lines(&entries),
        companies,
    })
}
