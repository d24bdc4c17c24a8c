//! Downloads for Excel, as CSV and as `.xlsx`.
//!
//! - CSV: UTF-8 with a BOM (so Excel shows the Chinese text), every cell guarded against
//!   spreadsheet formula injection (enterprise and attendee names are user input).
//! - `.xlsx` (rust_xlsxwriter): the header row in bold, frozen and with a filter, column widths
//!   from the content (a Chinese character counts twice), number columns as numbers. Cells
//!   are written as text, never as formulas, so no guard is needed there.

use crate::error::AppResult;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

/// Which file a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// One table to download: its sheet name (the `.xlsx` tab), header and rows; the columns in
/// `numeric` are written as numbers in `.xlsx` where their cells parse as one.
#[derive(Debug, Clone)]
pub struct Table {
    pub sheet: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub numeric: Vec<usize>,
}

impl Table {
    pub fn new(sheet: &'static str, header: Vec<String>, rows: Vec<Vec<String>>) -> Self {
        Table {
            sheet,
            header,
            rows,
            numeric: Vec::new(),
        }
    }

    /// Mark columns (0-based) as numbers.
    pub fn numeric(mut self, columns: &[usize]) -> Self {
        self.numeric = columns.to_vec();
        self
    }
}

/// An attachment `{basename}.csv` or `{basename}.xlsx` of `table`.
pub fn download(format: Format, basename: &str, table: &Table) -> AppResult<Response> {
    let (content_type, body) = match format {
        Format::Csv => ("text/csv; charset=utf-8", csv(table)?),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            xlsx(table).map_err(|e| anyhow::anyhow!("writing a spreadsheet: {e}"))?,
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{basename}.{}\"", format.extension()),
            ),
        ],
        body,
    )
        .into_response())
}

/// A cell starting with = + - @ (or a tab or CR) is prefixed with ' so Excel shows it as text.
fn safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn csv(table: &Table) -> AppResult<Vec<u8>> {
    let mut out = Vec::from("\u{FEFF}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        for record in std::iter::once(&table.header).chain(table.rows.iter()) {
            w.write_record(record.iter().map(|c| safe(c)))
                .map_err(anyhow::Error::from)?;
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok(out)
}

/// The most characters Excel keeps in a cell.
const MAX_CELL_CHARS: usize = 32_767;

/// Column width in Excel's units (about one Latin digit): wide characters count twice.
fn display_width(cell: &str) -> usize {
    cell.chars()
        .map(|c| if (c as u32) < 0x1100 { 1 } else { 2 })
        .sum()
}

fn xlsx(table: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(table.sheet)?;
    let bold = CellFormat::new().set_bold();
    let columns = table.header.len();
    for (col, title) in table.header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, title, &bold)?;
    }
    let mut widths: Vec<usize> = table.header.iter().map(|h| display_width(h)).collect();
    for (i, record) in table.rows.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (col, cell) in record.iter().enumerate().take(columns) {
            let number = table
                .numeric
                .contains(&col)
                .then(|| cell.trim().parse::<f64>().ok())
                .flatten()
                .filter(|n| n.is_finite());
            match number {
                Some(n) => {
                    sheet.write_number(row, col as u16, n)?;
                }
                None if cell.is_empty() => {}
                None => {
                    let text: String = cell.chars().take(MAX_CELL_CHARS).collect();
                    sheet.write_string(row, col as u16, &text)?;
                }
            }
            widths[col] = widths[col].max(display_width(cell));
        }
    }
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, (*width).clamp(6, 60) as f64 + 2.0)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    if columns > 0 {
        let last_row = u32::try_from(table.rows.len()).unwrap_or(u32::MAX);
        sheet.autofilter(0, 0, last_row, (columns - 1) as u16)?;
    }
    workbook.save_to_buffer()
}

/// Renders a PDF off the async threads with the server's renderer (src/pdf.rs): 503
/// `pdf_font_missing` when the server has no CJK font (the printable page still works).
pub async fn render_pdf<F>(
    renderer: std::sync::Arc<crate::pdf::Renderer>,
    f: F,
) -> AppResult<Vec<u8>>
where
    F: FnOnce(&crate::pdf::Renderer) -> Result<Vec<u8>, crate::pdf::PdfError> + Send + 'static,
{
    use crate::error::AppError;
    tokio::task::spawn_blocking(move || f(&renderer))
        .await
        .map_err(|e| anyhow::anyhow!("PDF task: {e}"))?
        .map_err(|e| match e {
            crate::pdf::PdfError::NoFont(detail) => {
                tracing::error!(%detail, "PDF font unavailable (--pdf-font)");
                AppError::Unavailable {
                    code: "pdf_font_missing",
                    message: "服务器未安装生成 PDF 所需的中文字体，请使用“打印”另存为 PDF，或联系管理员。"
                        .into(),
                }
            }
            e => AppError::Internal(e.into()),
        })
}

/// A PDF download: `ascii_name` for old clients, `file_name` (Chinese) per RFC 5987.
pub fn pdf_attachment(bytes: Vec<u8>, ascii_name: &str, file_name: &str) -> Response {
    let disposition = format!(
        "attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{}",
        utf8_percent(file_name)
    );
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// RFC 5987 percent-encoding of a file name.
fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe("示例公司"), "示例公司");
        assert_eq!(safe("+86"), "'+86");
    }

    #[test]
    fn chinese_characters_are_twice_as_wide() {
        assert_eq!(display_width("ab"), 2);
        assert_eq!(display_width("示例公司"), 8);
    }
}
