//! The public timetable pages: all programs, and one program as a month grid and a list.

use crate::app::schedule as uc;
use crate::db::schedule::ProgramRow;
use crate::error::AppResult;
use crate::http::auth::MaybeUser;
use crate::http::extract::Path;
use crate::http::layout::Layout;
use crate::http::views::timetable::{month_grids, slots_text, MonthGrid, SessionItem};
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

#[derive(Template, WebTemplate)]
#[template(path = "programs/list.html")]
pub struct ProgramsPage {
    pub layout: Layout,
    pub programs: Vec<(ProgramRow, i64)>,
}

pub async fn programs_page(
    State(state): State<AppState>,
    layout: Layout,
) -> AppResult<ProgramsPage> {
    Ok(ProgramsPage {
        layout,
        programs: state.db.programs().await?,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "programs/show.html")]
pub struct ProgramPage {
    pub layout: Layout,
    pub program: ProgramRow,
    pub items: Vec<SessionItem>,
    pub grids: Vec<MonthGrid>,
    pub slots_text: String,
    pub is_enterprise: bool,
    /// The program's public feed as a `webcal:` subscription link.
    pub calendar_webcal: String,
}

pub async fn program_page(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(user): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<ProgramPage> {
    let enterprise_id = user.as_ref().filter(|u| u.is_enterprise()).map(|u| u.id);
    let (program, sessions) = uc::program_timetable(&state.db, id, enterprise_id).await?;
    let tz = program.tz();
    let now = state.clock.now();
    let items: Vec<SessionItem> = sessions
        .into_iter()
        .map(|(row, mine)| SessionItem::new(row, tz, mine, now))
        .collect();
    let grids = month_grids(&program, &items);
    let calendar_webcal = crate::http::views::qr::webcal(
        &state
            .config
            .public_url
            .join(&format!("/programs/{}/calendar.ics", program.id)),
    );
    Ok(ProgramPage {
        calendar_webcal,
        layout,
        slots_text: slots_text(&program),
        program,
        items,
        grids,
        is_enterprise: enterprise_id.is_some(),
    })
}
