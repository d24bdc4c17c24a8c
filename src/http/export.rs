//! CSV downloads that open correctly in Excel: UTF-8 with a BOM, and every cell guarded against
//! spreadsheet formula injection (enterprise names and attendee names are user input).

use crate::error::AppResult;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A cell starting with = + - @ (or a tab or CR) is prefixed with ' so Excel shows it as text.
fn safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// A CSV attachment named `filename` with a header row and data rows.
pub fn download(filename: &str, header: &[String], rows: &[Vec<String>]) -> AppResult<Response> {
    let mut out = Vec::from("\u{FEFF}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        for record in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
            w.write_record(record.iter().map(|c| safe(c)))
                .map_err(anyhow::Error::from)?;
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response())
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
}
