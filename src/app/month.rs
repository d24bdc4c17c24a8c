//! The month attendance report of a program (issue 17): organizers only.

use super::archive::ArchiveError;
use crate::accounts::User;
use crate::archive::month::{self, Line, Totals, Watched};
use crate::db::month::ReportEnterprise;
use crate::db::schedule::{ProgramRow, SessionRow};
use crate::db::Db;
use std::collections::HashMap;

/// The report: the program's sessions (columns), a line per enterprise, totals per session.
pub struct MonthReport {
    pub program: ProgramRow,
    pub sessions: Vec<SessionRow>,
    pub lines: Vec<(ReportEnterprise, Line)>,
    pub totals: Vec<Totals>,
}

/// Build the report of program `program_id` for `viewer` (an organizer); `threshold` is the
/// attendance share (0..=1).
pub async fn month_report(
    db: &Db,
    viewer: &User,
    program_id: i64,
    threshold: f64,
) -> Result<MonthReport, ArchiveError> {
    if !viewer.is_organizer() {
        return Err(ArchiveError::Forbidden);
    }
    let program = db
        .program(program_id)
        .await?
        .ok_or(ArchiveError::NotFound)?;
    let sessions = db.program_sessions(program_id).await?;
    let ids: Vec<i64> = sessions.iter().map(|s| s.id).collect();
    let confirmed = db.program_confirmed(program_id).await?;
    let watched: Vec<(i64, i64, Watched)> = db
        .program_watching(program_id)
        .await?
        .into_iter()
        .map(|f| {
            (
                f.enterprise_id,
                f.session_id,
                Watched {
                    watched_s: f.watched_s,
                    duration_s: f.duration_s,
                    reached_in_replay: f.reached_in_replay,
                },
            )
        })
        .collect();
    let (lines, totals) = month::lines(&ids, &confirmed, &watched, threshold);
    let mut enterprises: HashMap<i64, ReportEnterprise> = db
        .program_participants(program_id)
        .await?
        .into_iter()
        .map(|e| (e.user_id, e))
        .collect();
    let lines = lines
        .into_iter()
        .filter_map(|l| enterprises.remove(&l.enterprise_id).map(|e| (e, l)))
        .collect();
    Ok(MonthReport {
        program,
        sessions,
        lines,
        totals,
    })
}
