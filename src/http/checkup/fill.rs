//! Filling in the check-up page by page, with drafts, and the enterprise's check-up index. The
//! pages open only after the enterprise confirmed the notice (see [`super::privacy`]).

use super::local_time;
use super::privacy;
use crate::app::checkup::{self as use_case, CheckupError, Sheet, SheetSubmission};
use crate::checkup::questionnaire::{Answers, Item};
use crate::checkup::scoring::Level;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// A submitted report in the enterprise's list.
pub struct ReportLine {
    pub id: i64,
    pub when: String,
    pub level: Level,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkup/index.html")]
pub struct IndexPage {
    pub layout: Layout,
    pub title: String,
    pub dimension_count: usize,
    pub item_count: usize,
    pub has_draft: bool,
    pub draft_answered: usize,
    /// The draft's id, for its delete button.
    pub draft_id: i64,
    pub reports: Vec<ReportLine>,
    pub is_enterprise: bool,
    /// The enterprise confirmed the notice: "开始体检" goes straight to the first page.
    pub consented: bool,
    pub notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

pub async fn index_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Query(query): Query<IndexQuery>,
) -> AppResult<Response> {
    if user.is_organizer() {
        return Ok(Redirect::to("/admin/checkups").into_response());
    }
    let q = state.questionnaires.current();
    let mut page = IndexPage {
        layout,
        title: q.title.clone(),
        dimension_count: q.dimensions.len(),
        item_count: q.items.len(),
        has_draft: false,
        draft_answered: 0,
        draft_id: 0,
        reports: Vec::new(),
        is_enterprise: user.is_enterprise(),
        consented: false,
        notice: privacy::notice_text(query.notice.as_deref()),
    };
    if let Some(overview) = use_case::overview(&state.db, &state.questionnaires, &user).await? {
        page.dimension_count = overview.dimension_count;
        page.item_count = overview.item_count;
        page.has_draft = overview.draft_answered.is_some();
        page.draft_answered = overview.draft_answered.unwrap_or(0);
        page.draft_id = overview.draft_id.unwrap_or(0);
        page.consented = overview.consented_at.is_some();
        page.reports = overview
            .reports
            .into_iter()
            .map(|r| ReportLine {
                id: r.id,
                when: local_time(r.submitted_at),
                level: r.overall_level,
            })
            .collect();
    }
    Ok(page.into_response())
}

pub struct StepView {
    pub number: usize,
    pub name: String,
    pub answered: usize,
    pub total: usize,
}

pub struct ItemView {
    pub item: Item,
    pub chosen: String,
    pub number: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkup/fill.html")]
pub struct FillPage {
    pub layout: Layout,
    pub page: usize,
    pub pages: usize,
    pub dimension_name: String,
    pub dimension_description: String,
    pub items: Vec<ItemView>,
    pub steps: Vec<StepView>,
    pub unanswered_total: usize,
    /// Set when a submission found open items: (page, question) of each.
    pub missing: Vec<(usize, String, String)>,
    pub notice: Option<String>,
}

fn fill_page_for(
    layout: Layout,
    sheet: &Sheet,
    page: usize,
    missing: Vec<(usize, String, String)>,
    notice: Option<String>,
) -> AppResult<FillPage> {
    let q = &sheet.questionnaire;
    let industry = &sheet.enterprise.industry;
    let answers = &sheet.answers;
    let dims = q.dimensions_for(industry);
    let Some(dim) = page.checked_sub(1).and_then(|i| dims.get(i)) else {
        return Err(AppError::NotFound);
    };
    let applicable: Vec<&Item> = q.applicable(industry).collect();
    let steps = dims
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let items: Vec<&&Item> = applicable
                .iter()
                .filter(|it| it.dimension == d.id)
                .collect();
            StepView {
                number: i + 1,
                name: d.name.clone(),
                answered: items
                    .iter()
                    .filter(|it| answers.contains_key(&it.id))
                    .count(),
                total: items.len(),
            }
        })
        .collect();
    let first_number = applicable
        .iter()
        .position(|i| i.dimension == dim.id)
        .unwrap_or(0);
    let items = applicable
        .iter()
        .filter(|i| i.dimension == dim.id)
        .enumerate()
        .map(|(n, i)| ItemView {
            chosen: answers.get(&i.id).cloned().unwrap_or_default(),
            item: (*i).clone(),
            number: first_number + n + 1,
        })
        .collect();
    Ok(FillPage {
        layout,
        page,
        pages: dims.len(),
        dimension_name: dim.name.clone(),
        dimension_description: dim.description.clone(),
        items,
        steps,
        unanswered_total: sheet.unanswered().len(),
        missing,
        notice,
    })
}

pub async fn fill_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(page): Path<usize>,
) -> AppResult<Response> {
    let sheet = match use_case::sheet(&state.db, &state.questionnaires, &user).await {
        Err(CheckupError::ConsentRequired) => return Ok(privacy::to_notice()),
        other => other?,
    };
    Ok(fill_page_for(layout, &sheet, page, Vec::new(), None)?.into_response())
}

pub async fn fill_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(page): Path<usize>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let mut action = String::new();
    let mut posted = Answers::new();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => {}
            "action" => action = v,
            _ => {
                posted.insert(k, v);
            }
        }
    }
    let sheet =
        match use_case::save_page(&state.db, &state.questionnaires, now, &user, posted).await {
            Err(CheckupError::ConsentRequired) => return Ok(privacy::to_notice()),
            other => other?,
        };
    let pages = sheet
        .questionnaire
        .dimensions_for(&sheet.enterprise.industry)
        .len();
    match action.as_str() {
        "prev" => Ok(
            Redirect::to(&format!("/checkup/fill/{}", page.saturating_sub(1).max(1)))
                .into_response(),
        ),
        "next" => {
            Ok(Redirect::to(&format!("/checkup/fill/{}", (page + 1).min(pages))).into_response())
        }
        "submit" => match use_case::submit_sheet(&state.db, &state.config.qa, now, &sheet).await? {
            SheetSubmission::Submitted(id) => {
                Ok(Redirect::to(&format!("/checkup/reports/{id}")).into_response())
            }
            SheetSubmission::Incomplete(open) => {
                let q = &sheet.questionnaire;
                let dims = q.dimensions_for(&sheet.enterprise.industry);
                let missing = open
                    .iter()
                    .filter_map(|id| q.item(id))
                    .map(|i| {
                        let p = dims.iter().position(|d| d.id == i.dimension).unwrap_or(0) + 1;
                        (p, i.id.clone(), i.text.clone())
                    })
                    .collect();
                let page = fill_page_for(layout, &sheet, page, missing, None)?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
        },
        _ => {
            let page = fill_page_for(
                layout,
                &sheet,
                page,
                Vec::new(),
                Some("草稿已保存，可以随时回来继续填写。".into()),
            )?;
            Ok(page.into_response())
        }
    }
}
