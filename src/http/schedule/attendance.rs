//! The month attendance report of a program (issue 17): which enterprise attended which
//! lecture, live or by replay — the page, and the same as CSV and `.xlsx` for reporting
//! upwards. The page draws seats filled and attendance per session as charts above the table
//! that says the same.

use crate::app::month::{month_report, MonthReport};
use crate::archive::attendance::percent;
use crate::error::AppResult;
use crate::http::auth::CurrentUser;
use crate::http::export;
use crate::http::extract::Path;
use crate::http::layout::Layout;
use crate::http::views::charts::{self, Fill, Scale, Series, Stack};
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;

/// A session as a column of the report.
pub struct Column {
    pub number: usize,
    pub id: i64,
    pub title: String,
    pub date: String,
    pub cancelled: bool,
    pub confirmed: usize,
    pub live: usize,
    pub replay: usize,
    pub partial: usize,
    /// Attended of confirmed, "—" without sign-ups.
    pub rate: String,
    /// Seats: confirmed, of the capacity, and sign-ups waiting for a seat.
    pub seats: i64,
    pub capacity: i64,
    pub waitlisted: i64,
}

impl Column {
    /// "18/30（60%）" in the table.
    pub fn seats_text(&self) -> String {
        self.seats_with("")
    }

    /// "18/30 座（60%）": `unit` after the capacity.
    fn seats_with(&self, unit: &str) -> String {
        if self.capacity > 0 {
            format!(
                "{}/{}{unit}（{}%）",
                self.seats,
                self.capacity,
                percent(self.seats as f64 / self.capacity as f64)
            )
        } else {
            format!("{}/{}{unit}", self.seats, self.capacity)
        }
    }

    fn chart_label(&self) -> String {
        format!(
            "第{}讲 {} {}{}",
            self.number,
            self.date,
            self.title,
            if self.cancelled {
                "（已取消）"
            } else {
                ""
            }
        )
    }
}

/// Seats filled per session (confirmed against capacity) and attendance per session (live,
/// replay, watched too little), each drawn from the columns the table beside it shows.
fn charts(columns: &[Column]) -> (String, String) {
    let seats = charts::stacked_bars(
        "chart-seats",
        "各讲座位：已确认与空余",
        &[
            Series::new("已确认座位", "#0969da", Fill::Solid),
            Series::new("空余座位", "#8c959f", Fill::Light),
        ],
        &columns
            .iter()
            .map(|c| Stack {
                label: c.chart_label(),
                values: vec![c.seats as f64, (c.capacity - c.seats).max(0) as f64],
                text: c.seats_with(" 座"),
            })
            .collect::<Vec<_>>(),
        Scale::Absolute(None),
    );
    let attendance = charts::stacked_bars(
        "chart-attendance",
        "各讲出勤企业：直播、回放与未达标",
        &[
            Series::new("直播出勤", "#1a7f37", Fill::Solid),
            Series::new("回放出勤", "#0969da", Fill::Hatch),
            Series::new("观看未达标", "#9a6700", Fill::Dots),
        ],
        &columns
            .iter()
            .map(|c| Stack {
                label: c.chart_label(),
                values: vec![c.live as f64, c.replay as f64, c.partial as f64],
                text: if c.confirmed == 0 {
                    format!("出勤 {} 家", c.live + c.replay)
                } else {
                    format!("出勤 {} 家，出勤率 {}", c.live + c.replay, c.rate)
                },
            })
            .collect::<Vec<_>>(),
        Scale::Absolute(None),
    );
    (seats, attendance)
}

/// An enterprise's line as shown.
pub struct Row {
    pub name: String,
    pub uscc: String,
    pub industry: String,
    pub district: String,
    pub attended: usize,
    pub cells: Vec<(String, &'static str)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "organize/attendance.html")]
pub struct AttendancePage {
    pub layout: Layout,
    pub program_id: i64,
    pub program_title: String,
    pub threshold: u32,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub seats_chart: String,
    pub attendance_chart: String,
}

fn view(report: MonthReport) -> (Vec<Column>, Vec<Row>) {
    let tz = report.program.tz();
    let columns = report
        .sessions
        .iter()
        .zip(&report.totals)
        .enumerate()
        .map(|(i, (s, t))| Column {
            number: i + 1,
            id: s.id,
            title: s.title.clone(),
            date: s
                .starts_at
                .map(|t| t.with_timezone(&tz).format("%-m月%-d日").to_string())
                .unwrap_or_else(|| "时间待定".into()),
            cancelled: s.is_cancelled(),
            confirmed: t.confirmed,
            live: t.live,
            replay: t.replay,
            partial: t.partial,
            seats: s.confirmed_seats,
            capacity: s.capacity,
            waitlisted: s.waitlisted,
            rate: if t.confirmed == 0 {
                "—".into()
            } else {
                format!(
                    "{}%",
                    percent((t.live + t.replay) as f64 / t.confirmed as f64).min(100)
                )
            },
        })
        .collect();
    let rows = report
        .lines
        .into_iter()
        .map(|(e, line)| Row {
            industry: crate::accounts::industry::label(&e.industry),
            district: e.district.unwrap_or_default(),
            attended: line.attended(),
            cells: line
                .marks
                .iter()
                .map(|m| (m.label_zh(), m.class()))
                .collect(),
            name: e.name,
            uscc: e.uscc,
        })
        .collect();
    (columns, rows)
}

/// `GET /admin/programs/{id}/attendance`.
pub async fn attendance_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<AttendancePage> {
    let report = month_report(&state.db, &user, id, state.config.attendance_share).await?;
    let program_title = report.program.title.clone();
    let (columns, rows) = view(report);
    let (seats_chart, attendance_chart) = charts(&columns);
    Ok(AttendancePage {
        layout,
        program_id: id,
        program_title,
        threshold: percent(state.config.attendance_share),
        columns,
        rows,
        seats_chart,
        attendance_chart,
    })
}

/// `GET /admin/programs/{id}/attendance.{csv,xlsx}`: the matrix as a table.
pub async fn attendance_export(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, ext)): Path<(i64, String)>,
) -> AppResult<Response> {
    let format = match ext.as_str() {
        "attendance.csv" => export::Format::Csv,
        "attendance.xlsx" => export::Format::Xlsx,
        _ => return Err(crate::error::AppError::NotFound),
    };
    let report = month_report(&state.db, &user, id, state.config.attendance_share).await?;
    let (columns, rows) = view(report);
    let mut header: Vec<String> = [
        "企业名称",
        "统一社会信用代码",
        "行业门类",
        "区县",
        "出勤讲数",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    header.extend(
        columns
            .iter()
            .map(|c| format!("第{}讲 {} {}", c.number, c.date, c.title)),
    );
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            let mut line = vec![
                r.name,
                r.uscc,
                r.industry,
                r.district,
                r.attended.to_string(),
            ];
            line.extend(r.cells.into_iter().map(|(label, _)| label));
            line
        })
        .collect();
    let table = export::Table::new("出勤统计", header, rows).numeric(&[4]);
    export::download(format, &format!("attendance-program-{id}"), &table)
}
