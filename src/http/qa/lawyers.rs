//! Lawyer profiles in the API and the browser: `/lawyers` (organizers: every lawyer account
//! with firm, topics, industries and load), `/lawyers/{id}` (the edit form, for organizers and
//! the lawyer itself), `GET /api/v1/lawyers`, `PUT /api/v1/lawyers/{id}/profile`.

use crate::accounts::industry;
use crate::app::qa::lawyers::{self as uc, ProfileRequest};
use crate::app::qa::questions::topics;
use crate::app::qa::QaError;
use crate::db::lawyers::LawyerProfileRow;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Path};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::http::AppState;
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_lawyers))
        .routes(routes!(api_put_profile))
        .route("/lawyers", get(list_page))
        .route("/lawyers/me", get(own_page))
        .route("/lawyers/{id}", get(edit_page).post(edit_form))
}

/// A lawyer account with its profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LawyerView {
    /// The account id (as in `/api/v1/me`).
    pub id: i64,
    pub display_name: String,
    pub firm: String,
    /// Shown to the enterprises of the lawyer's advisor groups.
    pub contact: String,
    pub bio: String,
    /// `false`: away, gets no new questions.
    pub accepting: bool,
    pub disabled: bool,
    /// Check-up dimension ids.
    pub topics: Vec<String>,
    /// GB/T 4754 sections; empty: every industry.
    pub industries: Vec<String>,
    /// Questions waiting for this lawyer's word.
    pub load: i64,
}

impl From<LawyerProfileRow> for LawyerView {
    fn from(l: LawyerProfileRow) -> Self {
        LawyerView {
            id: l.user_id,
            display_name: l.display_name,
            firm: l.firm,
            contact: l.contact,
            bio: l.bio,
            accepting: l.accepting,
            disabled: l.disabled,
            topics: l.topics,
            industries: l.industries,
            load: l.load,
        }
    }
}

/// Every lawyer account with its profile and load (organizers only).
#[utoipa::path(get, path = "/api/v1/lawyers", tag = "qa", security(("pufa_session" = [])),
    responses((status = 200, body = Vec<LawyerView>), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden)))]
pub async fn api_lawyers(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<Json<Vec<LawyerView>>> {
    let list = uc::list(&state.db, &user).await?;
    Ok(Json(list.into_iter().map(LawyerView::from).collect()))
}

/// A lawyer's profile.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"firm": "示例律师事务所", "topics": ["labor", "contract"], "industries": ["C", "E"]}))]
pub struct ProfileBody {
    pub firm: String,
    /// Check-up dimension ids; an unknown one is refused (422 naming it).
    pub topics: Vec<String>,
    /// GB/T 4754 sections (one letter); empty: every industry.
    pub industries: Vec<String>,
    #[serde(default)]
    pub contact: Option<String>,
    #[serde(default)]
    pub bio: Option<String>,
    /// `false`: away, no new questions. Left out: unchanged.
    #[serde(default)]
    pub accepting: Option<bool>,
}

/// Set a lawyer's profile (organizers, or the lawyer itself). Fields left out keep their value.
#[utoipa::path(put, path = "/api/v1/lawyers/{id}/profile", tag = "qa",
    params(("id" = i64, Path)), request_body = ProfileBody, security(("pufa_session" = [])),
    responses((status = 200, body = LawyerView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_put_profile(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<ProfileBody>,
) -> AppResult<Json<LawyerView>> {
    let saved = uc::update(
        &state.db,
        &state.questionnaires,
        state.clock.now(),
        &user,
        id,
        ProfileRequest {
            firm: body.firm,
            topics: body.topics,
            industries: body.industries,
            contact: body.contact,
            bio: body.bio,
            accepting: body.accepting,
        },
    )
    .await?;
    Ok(Json(LawyerView::from(saved)))
}

/// A lawyer as the list page shows it.
pub struct LawyerItem {
    pub id: i64,
    pub name: String,
    pub firm: String,
    pub topics: String,
    pub industries: String,
    pub load: i64,
    pub accepting: bool,
    pub disabled: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/lawyers.html")]
pub struct ListPage {
    pub layout: Layout,
    pub lawyers: Vec<LawyerItem>,
}

fn topic_names(state: &AppState, ids: &[String]) -> String {
    if ids.is_empty() {
        return "—".into();
    }
    ids.iter()
        .map(|t| crate::app::qa::questions::topic_name(&state.questionnaires, t))
        .collect::<Vec<_>>()
        .join("、")
}

fn industry_names(ids: &[String]) -> String {
    if ids.is_empty() {
        return "全部行业".into();
    }
    ids.iter()
        .map(|i| {
            i.chars()
                .next()
                .and_then(industry::section_name)
                .map(|n| format!("{i} {n}"))
                .unwrap_or_else(|| i.clone())
        })
        .collect::<Vec<_>>()
        .join("、")
}

pub async fn list_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
) -> AppResult<ListPage> {
    let list = uc::list(&state.db, &user).await?;
    Ok(ListPage {
        lawyers: list
            .into_iter()
            .map(|l| LawyerItem {
                id: l.user_id,
                firm: if l.firm.is_empty() {
                    l.lecturer_firm.clone().unwrap_or_else(|| "—".into())
                } else {
                    l.firm.clone()
                },
                topics: topic_names(&state, &l.topics),
                industries: industry_names(&l.industries),
                name: l.display_name,
                load: l.load,
                accepting: l.accepting,
                disabled: l.disabled,
            })
            .collect(),
        layout,
    })
}

/// A lawyer's own profile page.
pub async fn own_page(CurrentUser(user): CurrentUser) -> AppResult<Response> {
    if !user.is_lawyer() {
        return Err(AppError::Forbidden);
    }
    Ok(Redirect::to(&format!("/lawyers/{}", user.id)).into_response())
}

/// A choice in the form.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "qa/lawyer_edit.html")]
pub struct EditPage {
    pub layout: Layout,
    pub id: i64,
    pub name: String,
    pub firm: String,
    pub contact: String,
    pub bio: String,
    pub accepting: bool,
    pub topics: Vec<Choice>,
    pub industries: Vec<Choice>,
    pub errors: FieldErrors,
    pub notice: Option<String>,
    pub is_organizer: bool,
}

impl EditPage {
    pub fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

fn edit_page_for(
    state: &AppState,
    layout: Layout,
    l: &LawyerProfileRow,
    errors: FieldErrors,
    notice: Option<String>,
) -> EditPage {
    EditPage {
        id: l.user_id,
        name: l.display_name.clone(),
        firm: if l.firm.is_empty() {
            l.lecturer_firm.clone().unwrap_or_default()
        } else {
            l.firm.clone()
        },
        contact: l.contact.clone(),
        bio: l.bio.clone(),
        accepting: l.accepting,
        topics: topics(&state.questionnaires)
            .into_iter()
            .map(|(id, name)| Choice {
                chosen: l.topics.contains(&id),
                value: id,
                label: name,
            })
            .collect(),
        industries: industry::SECTIONS
            .iter()
            .map(|(c, name)| Choice {
                chosen: l.industries.contains(&c.to_string()),
                value: c.to_string(),
                label: format!("{c} {name}"),
            })
            .collect(),
        errors,
        notice,
        is_organizer: layout.user.as_ref().is_some_and(|u| u.is_organizer()),
        layout,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EditParams {
    #[serde(default)]
    pub saved: Option<String>,
}

pub async fn edit_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    crate::http::extract::Query(params): crate::http::extract::Query<EditParams>,
) -> AppResult<EditPage> {
    let l = uc::profile(&state.db, &user, id).await?;
    let notice = params.saved.map(|_| "资料已保存。".to_string());
    Ok(edit_page_for(
        &state,
        layout,
        &l,
        FieldErrors::default(),
        notice,
    ))
}

/// The edit form. `topics` and `industries` are repeated checkbox fields, which
/// `serde_urlencoded` cannot gather into a struct's list, so the body is read pair by pair.
pub async fn edit_form(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<Response> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let list = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let req = ProfileRequest {
        firm: field("firm"),
        topics: list("topics"),
        industries: list("industries"),
        contact: Some(field("contact")),
        bio: Some(field("bio")),
        accepting: Some(field("accepting") == "1"),
    };
    match uc::update(
        &state.db,
        &state.questionnaires,
        state.clock.now(),
        &user,
        id,
        req,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/lawyers/{id}?saved=1")).into_response()),
        Err(QaError::Invalid(errors)) => {
            let l = uc::profile(&state.db, &user, id).await?;
            let page = edit_page_for(&state, layout, &l, errors, None);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
