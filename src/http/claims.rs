//! Credit-code claims over HTTP: the public claim form (`/claims/new`, `POST /api/v1/claims`),
//! the claimant's private status page and password setup, and the organizers' review
//! (`/admin/claims`, `/api/v1/admin/claims`). Every handler calls [`crate::app::claims`].

use crate::accounts::privacy::mask_mobile;
use crate::app::claims::{self as uc, ClaimsError, NewClaim};
use crate::db::claims::{Claim, ClaimState, Holder};
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Json, Multipart, Path, Query};
use crate::http::layout::Layout;
use crate::http::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized,
    Unprocessable, UnsupportedMediaType,
};
use crate::http::AppState;
use crate::validation::FieldErrors;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Request bodies of the claim form: the licence (5 MB) and the text fields.
const CLAIM_BODY_LIMIT: usize = uc::MAX_LICENCE_BYTES + 256 * 1024;

/// The routes of the claims room, with their own body limit (the licence upload).
pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .routes(routes!(api_file))
        .routes(routes!(api_list))
        .routes(routes!(api_decide))
        .route("/claims/new", get(new_page).post(new_form))
        .route("/claims/{id}/{token}", get(status_page))
        .route(
            "/claims/{id}/{token}/activate",
            get(activate_page).post(activate_form),
        )
        .route("/admin/claims", get(admin_list))
        .route("/admin/claims/{id}", get(admin_detail))
        .route("/admin/claims/{id}/licence", get(admin_licence))
        .route("/admin/claims/{id}/{action}", post(admin_decide))
        .layer(DefaultBodyLimit::max(CLAIM_BODY_LIMIT))
}

// ---------------------------------------------------------------------------------------------
// Filing

/// The multipart form of a claim, for the API document.
#[derive(Debug, utoipa::ToSchema)]
pub struct ClaimForm {
    /// The `pufa_csrf` cookie's value (or send it as `X-CSRF-Token`).
    pub csrf: String,
    /// Company name as on the licence.
    pub company_name: String,
    /// 统一社会信用代码 (must be registered by an account).
    pub uscc: String,
    pub contact_name: String,
    /// Mainland mobile; this or `email` is required.
    pub mobile: Option<String>,
    pub email: Option<String>,
    /// At most 500 characters.
    pub statement: String,
    /// The business licence: JPEG, PNG or PDF (by content), at most 5 MB.
    #[schema(value_type = String, format = Binary)]
    pub licence: Vec<u8>,
}

/// A filed claim: its number and the private status link (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FiledClaimView {
    pub id: i64,
    /// Site-relative private status page; keep it, it is not shown again.
    pub status_url: String,
}

/// The fields and licence of a claim form, after the double-submit CSRF check (the `csrf`
/// field or `X-CSRF-Token` equals the `pufa_csrf` cookie).
async fn read_claim(
    headers: &HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> AppResult<(NewClaim, Option<Vec<u8>>)> {
    let mut input = NewClaim::default();
    let mut licence: Option<Vec<u8>> = None;
    let mut csrf: Option<String> = None;
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("upload_interrupted", "上传中断，请重新提交")
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "licence" {
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > uc::MAX_LICENCE_BYTES {
                    // enough to refuse it; the rest is not read
                    break;
                }
            }
            if !bytes.is_empty() {
                licence = Some(bytes);
            }
            continue;
        }
        let text = field.text().await.map_err(broken)?;
        let text: String = text.chars().take(4000).collect();
        match name.as_str() {
            "csrf" => csrf = Some(text),
            "company_name" => input.company_name = text,
            "uscc" => input.uscc = text,
            "contact_name" => input.contact_name = text,
            "mobile" => input.mobile = text,
            "email" => input.email = text,
            "statement" => input.statement = text,
            _ => {}
        }
    }
    if !crate::http::csrf::double_submit_ok(headers, csrf.as_deref()) {
        return Err(AppError::CsrfRejected);
    }
    Ok((input, licence))
}

async fn file_claim(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    input: &NewClaim,
    licence: Option<&[u8]>,
) -> Result<uc::FiledClaim, ClaimsError> {
    let ip = crate::http::accounts::client_ip(state, headers, peer);
    uc::file(
        &state.db,
        &state.channels,
        &state.config.public_url,
        &state.config.data_dir,
        state.clock.now(),
        &ip,
        input,
        licence,
    )
    .await
}

/// File a credit-code claim (no login): the company whose code another account registered
/// sends its licence and a contact. 422 for a bad field, a missing or fake licence, or a code
/// no account holds; 409 `claim_open` when this contact has an open claim for the code; 429
/// after too many claims from one address.
#[utoipa::path(post, path = "/api/v1/claims", tag = "claims",
    params(("X-CSRF-Token" = Option<String>, Header, description = "the `pufa_csrf` cookie's value (or the `csrf` field)")),
    request_body(content = ClaimForm, content_type = "multipart/form-data"),
    responses((status = 201, body = FiledClaimView), (status = 400, response = BadRequest),
              (status = 403, response = Forbidden), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge), (status = 422, response = Unprocessable),
              (status = 429, response = TooManyRequests)))]
pub async fn api_file(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Multipart(multipart): Multipart,
) -> AppResult<Response> {
    let (input, licence) = read_claim(&headers, multipart).await?;
    let filed = file_claim(&state, &headers, peer, &input, licence.as_deref()).await?;
    let mut response = (
        StatusCode::CREATED,
        Json(FiledClaimView {
            id: filed.id,
            status_url: filed.status_path(),
        }),
    )
        .into_response();
    no_store(&mut response);
    Ok(response)
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

/// The claim form, empty or with the values and errors of a refused attempt.
#[derive(Template, WebTemplate)]
#[template(path = "claims/new.html")]
pub struct NewClaimPage {
    pub layout: Layout,
    pub form: NewClaim,
    pub errors: FieldErrors,
    pub error: Option<String>,
    pub max_statement: usize,
}

impl NewClaimPage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

/// `?uscc=` pre-fills the code (the registration page links here with it).
#[derive(Debug, Default, Deserialize)]
pub struct NewClaimQuery {
    #[serde(default)]
    pub uscc: Option<String>,
}

/// `GET /claims/new[?uscc=…]`.
pub async fn new_page(layout: Layout, Query(q): Query<NewClaimQuery>) -> NewClaimPage {
    NewClaimPage {
        layout,
        form: NewClaim {
            uscc: q.uscc.unwrap_or_default().chars().take(40).collect(),
            ..Default::default()
        },
        errors: FieldErrors::default(),
        error: None,
        max_statement: uc::MAX_STATEMENT_CHARS,
    }
}

/// `POST /claims/new`: the form; on success the private status page.
pub async fn new_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    layout: Layout,
    headers: HeaderMap,
    Multipart(multipart): Multipart,
) -> AppResult<Response> {
    let (input, licence) = read_claim(&headers, multipart).await?;
    match file_claim(&state, &headers, peer, &input, licence.as_deref()).await {
        Ok(filed) => {
            let mut r = Redirect::to(&format!("{}?filed=1", filed.status_path())).into_response();
            no_store(&mut r);
            Ok(r)
        }
        Err(e) => {
            let (status, errors) = match &e {
                ClaimsError::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors.clone()),
                ClaimsError::NotRegistered => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    FieldErrors::single("uscc", e.message_zh()),
                ),
                ClaimsError::AlreadyOpen => (StatusCode::CONFLICT, FieldErrors::default()),
                ClaimsError::Throttled { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, FieldErrors::default())
                }
                _ => return Err(e.into()),
            };
            let page = NewClaimPage {
                layout,
                form: input,
                error: Some(e.message_zh()),
                errors,
                max_statement: uc::MAX_STATEMENT_CHARS,
            };
            Ok((status, page).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The claimant's status page and password setup

/// The claimant's private status page.
#[derive(Template, WebTemplate)]
#[template(path = "claims/status.html")]
pub struct StatusPage {
    pub layout: Layout,
    pub claim: Claim,
    pub filed: bool,
    /// The path of this page (its own address, to be kept).
    pub self_path: String,
    /// The same as an absolute address under the public URL, to be copied.
    pub self_url: String,
    pub can_activate: bool,
    pub activated: bool,
}

impl StatusPage {
    pub fn state_label(&self) -> &'static str {
        self.claim.state.label_zh()
    }
}

/// `?filed=1` right after filing: the page asks to keep its address.
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    pub filed: Option<String>,
}

/// `GET /claims/{id}/{token}`: 待审核 / 已驳回（原因）/ 已移交. A wrong token is 404.
pub async fn status_page(
    State(state): State<AppState>,
    layout: Layout,
    Path((id, token)): Path<(i64, String)>,
    Query(q): Query<StatusQuery>,
) -> AppResult<Response> {
    let claim = uc::by_token(&state.db, id, &token).await?;
    let page = StatusPage {
        layout,
        can_activate: uc::can_activate(&claim, state.clock.now()),
        activated: claim.activated_at.is_some(),
        claim,
        filed: q.filed.is_some(),
        self_path: uc::status_path(id, &token),
        self_url: state.config.public_url.join(&uc::status_path(id, &token)),
    };
    let mut r = page.into_response();
    no_store(&mut r);
    Ok(r)
}

/// The one-time password setup of a handed-over account.
#[derive(Template, WebTemplate)]
#[template(path = "claims/activate.html")]
pub struct ActivatePage {
    pub layout: Layout,
    pub claim: Claim,
    pub action: String,
    pub errors: FieldErrors,
    pub error: Option<String>,
    pub privacy_version: &'static str,
}

impl ActivatePage {
    pub fn field_error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or("").to_string()
    }
}

/// `GET /claims/{id}/{token}/activate`: set the password of the handed-over account.
pub async fn activate_page(
    State(state): State<AppState>,
    layout: Layout,
    Path((id, token)): Path<(i64, String)>,
) -> AppResult<Response> {
    let claim = uc::by_token(&state.db, id, &token).await?;
    if !uc::can_activate(&claim, state.clock.now()) {
        return Err(ClaimsError::LinkUsed.into());
    }
    let mut r = ActivatePage {
        layout,
        claim,
        action: format!("{}/activate", uc::status_path(id, &token)),
        errors: FieldErrors::default(),
        error: None,
        privacy_version: crate::accounts::privacy::NOTICE_VERSION,
    }
    .into_response();
    no_store(&mut r);
    Ok(r)
}

/// The setup form (its `csrf` field is checked by [`CsrfForm`]).
#[derive(Debug, Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub privacy_consent: Option<String>,
}

/// `POST /claims/{id}/{token}/activate`: on success the login page.
pub async fn activate_form(
    State(state): State<AppState>,
    layout: Layout,
    Path((id, token)): Path<(i64, String)>,
    CsrfForm(form): CsrfForm<ActivateForm>,
) -> AppResult<Response> {
    let consent = form.privacy_consent.is_some_and(|v| !v.is_empty());
    match uc::activate(
        &state.db,
        state.clock.now(),
        id,
        &token,
        &form.password,
        consent,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/login?activated=1").into_response()),
        Err(ClaimsError::Invalid(errors)) => {
            let claim = uc::by_token(&state.db, id, &token).await?;
            let page = ActivatePage {
                layout,
                claim,
                action: format!("{}/activate", uc::status_path(id, &token)),
                error: Some(ClaimsError::Invalid(FieldErrors::default()).message_zh()),
                errors,
                privacy_version: crate::accounts::privacy::NOTICE_VERSION,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Organizer review

/// A claim as organizers see it through the API (no licence bytes, no token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClaimView {
    pub id: i64,
    pub state: ClaimState,
    pub uscc: String,
    pub company_name: String,
    pub contact_name: String,
    #[schema(required = true)]
    pub mobile: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
    pub statement: String,
    /// `image/jpeg`, `image/png` or `application/pdf`.
    pub licence_type: String,
    #[schema(required = true)]
    pub reject_reason: Option<String>,
    /// The account that held the code when the claim was filed.
    #[schema(required = true)]
    pub holder_account: Option<i64>,
    /// The account created for the claimant at the hand-over.
    #[schema(required = true)]
    pub new_account: Option<i64>,
    pub created_at: DateTime<Utc>,
    #[schema(required = true)]
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<Claim> for ClaimView {
    fn from(c: Claim) -> Self {
        ClaimView {
            id: c.id,
            state: c.state,
            uscc: c.uscc,
            company_name: c.company_name,
            contact_name: c.contact_name,
            mobile: c.mobile,
            email: c.email,
            statement: c.statement,
            licence_type: c.licence_type,
            reject_reason: c.reject_reason,
            holder_account: c.holder_user_id,
            new_account: c.new_user_id,
            created_at: c.created_at,
            decided_at: c.decided_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `pending`, `rejected` or `transferred`; all when left out.
    #[serde(default)]
    pub state: Option<String>,
}

fn parse_state(s: Option<&str>) -> Option<ClaimState> {
    s.and_then(ClaimState::parse)
}

/// Credit-code claims, newest first (organizers only).
#[utoipa::path(get, path = "/api/v1/admin/claims", tag = "claims", params(ListQuery),
    security(("pufa_session" = [])),
    responses((status = 200, body = [ClaimView]), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden)))]
pub async fn api_list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<ClaimView>>> {
    let list = uc::list(&state.db, &user, parse_state(q.state.as_deref())).await?;
    Ok(Json(list.into_iter().map(ClaimView::from).collect()))
}

/// A decision on a claim.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The reason of a rejection (required for `reject`; the claimant sees it).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Decide on a pending claim (organizers only): `reject` (with a reason), `freeze` the account
/// holding the code, or `transfer` the code to a new account for the claimant (freezing the
/// holder too). 409 `claim_decided` when it is not pending.
#[utoipa::path(post, path = "/api/v1/admin/claims/{id}/{action}", tag = "claims",
    params(("id" = i64, Path), ("action" = String, Path, description = "`reject`, `freeze` or `transfer`")),
    request_body(content = Option<Decision>, description = "`{\"reason\": …}` for `reject`"),
    security(("pufa_session" = [])),
    responses((status = 200, body = ClaimView), (status = 400, response = BadRequest),
              (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 404, response = NotFound), (status = 409, response = Conflict),
              (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable)))]
pub async fn api_decide(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, action)): Path<(i64, String)>,
    crate::http::extract::OptionalJson(d): crate::http::extract::OptionalJson<Option<Decision>>,
) -> AppResult<Json<ClaimView>> {
    let reason = d.and_then(|d| d.reason).unwrap_or_default();
    decide(&state, &user, id, &action, &reason).await?;
    let (claim, _) = uc::detail(&state.db, &user, id).await?;
    Ok(Json(claim.into()))
}

async fn decide(
    state: &AppState,
    user: &crate::accounts::User,
    id: i64,
    action: &str,
    reason: &str,
) -> Result<(), AppError> {
    let now = state.clock.now();
    match action {
        "reject" => {
            uc::reject(&state.db, &state.channels, now, user, id, reason).await?;
        }
        "freeze" => {
            uc::freeze(&state.db, now, user, id).await?;
        }
        "transfer" => {
            uc::transfer(&state.db, &state.channels, now, user, id).await?;
        }
        _ => return Err(AppError::NotFound),
    }
    Ok(())
}

/// One line of the organizers' list.
pub struct ClaimLine {
    pub id: i64,
    pub state: &'static str,
    pub uscc: String,
    pub company_name: String,
    pub created_at: String,
}

/// An entry of the state filter.
pub struct StateOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// `/admin/claims`: the organizers' list.
#[derive(Template, WebTemplate)]
#[template(path = "admin/claims.html")]
pub struct AdminListPage {
    pub layout: Layout,
    pub lines: Vec<ClaimLine>,
    pub states: Vec<StateOption>,
}

fn local(t: &DateTime<Utc>) -> String {
    crate::http::views::format::minute(t, crate::schedule::DEFAULT_TZ)
}

/// `GET /admin/claims[?state=…]`.
pub async fn admin_list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Query(q): Query<ListQuery>,
) -> AppResult<AdminListPage> {
    let chosen = parse_state(q.state.as_deref());
    let list = uc::list(&state.db, &user, chosen).await?;
    let mut states = vec![StateOption {
        value: "",
        label: "全部",
        selected: chosen.is_none(),
    }];
    for s in [
        ClaimState::Pending,
        ClaimState::Rejected,
        ClaimState::Transferred,
    ] {
        states.push(StateOption {
            value: s.as_str(),
            label: s.label_zh(),
            selected: chosen == Some(s),
        });
    }
    Ok(AdminListPage {
        layout,
        states,
        lines: list
            .into_iter()
            .map(|c| ClaimLine {
                id: c.id,
                state: c.state.label_zh(),
                uscc: c.uscc,
                company_name: c.company_name,
                created_at: local(&c.created_at),
            })
            .collect(),
    })
}

/// `/admin/claims/{id}`: the claim, the holder and the actions.
#[derive(Template, WebTemplate)]
#[template(path = "admin/claims_detail.html")]
pub struct AdminDetailPage {
    pub layout: Layout,
    pub claim: Claim,
    pub holder: Option<Holder>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl AdminDetailPage {
    pub fn is_pending(&self) -> bool {
        self.claim.state == ClaimState::Pending
    }
    pub fn is_image(&self) -> bool {
        self.claim.licence_type.starts_with("image/")
    }
    pub fn when(&self, t: &DateTime<Utc>) -> String {
        local(t)
    }
    pub fn masked(&self, mobile: &str) -> String {
        if mobile.starts_with("released-") {
            "（已释放）".into()
        } else {
            mask_mobile(mobile)
        }
    }
}

/// `?notice=` after an action: which one succeeded.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<String> {
    Some(
        match code? {
            "reject" => "申诉已驳回，已告知申诉人。",
            "freeze" => {
                "占用账号已冻结：不能登录，未开始课程的报名已取消，候补已递补，并已通知该账号。"
            }
            "transfer" => {
                "信用代码已移交：占用账号已冻结并释放该代码，已为申诉企业建立新账号，并通知双方。"
            }
            _ => return None,
        }
        .to_string(),
    )
}

/// `GET /admin/claims/{id}`.
pub async fn admin_detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> AppResult<AdminDetailPage> {
    let (claim, holder) = uc::detail(&state.db, &user, id).await?;
    Ok(AdminDetailPage {
        layout,
        claim,
        holder,
        notice: notice_text(q.notice.as_deref()),
        error: None,
    })
}

/// `GET /admin/claims/{id}/licence`: the licence file, organizers only, never cached; each
/// opening is audited.
pub async fn admin_licence(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (bytes, content_type) = uc::licence(
        &state.db,
        &state.config.data_dir,
        state.clock.now(),
        &user,
        id,
    )
    .await?;
    let mut r = bytes.into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    no_store(&mut r);
    Ok(r)
}

/// An action form: the reason is used by `reject` only.
#[derive(Debug, Default, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    pub reason: String,
}

/// `POST /admin/claims/{id}/{reject|freeze|transfer}`.
pub async fn admin_decide(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    Path((id, action)): Path<(i64, String)>,
    CsrfForm(form): CsrfForm<DecideForm>,
) -> AppResult<Response> {
    match decide(&state, &user, id, &action, &form.reason).await {
        Ok(()) => Ok(Redirect::to(&format!("/admin/claims/{id}?notice={action}")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            let (claim, holder) = uc::detail(&state.db, &user, id).await?;
            let status = if matches!(e, AppError::Validation(_)) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::CONFLICT
            };
            let page = AdminDetailPage {
                layout,
                claim,
                holder,
                notice: None,
                error: Some(e.detail()),
            };
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}
