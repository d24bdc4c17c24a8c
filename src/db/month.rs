//! The facts of a program's month attendance report (crate::archive::month).

use super::Db;

/// An enterprise of the report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportEnterprise {
    pub user_id: i64,
    pub name: String,
    pub uscc: String,
    pub industry: String,
    pub district: Option<String>,
}

/// One enterprise's watching of one session's lecture.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WatchFact {
    pub enterprise_id: i64,
    pub session_id: i64,
    pub watched_s: f64,
    pub duration_s: f64,
    #[sqlx(try_from = "crate::db::Flag")]
    pub reached_in_replay: bool,
}

impl Db {
    /// Confirmed sign-ups of the program's sessions: (enterprise, session).
    pub async fn program_confirmed(&self, program_id: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.enterprise_id, r.session_id
               FROM registrations r JOIN lecture_sessions s ON s.id = r.session_id
              WHERE s.program_id = $1 AND r.status = 'confirmed'",
        )
        .bind(program_id)
        .fetch_all(&self.pool)
        .await
    }

    /// What enterprises watched of the program's lectures (live and replay in one union).
    pub async fn program_watching(&self, program_id: i64) -> Result<Vec<WatchFact>, sqlx::Error> {
        sqlx::query_as(
            "SELECT w.user_id AS enterprise_id, l.session_id, w.watched_s,
                    COALESCE(l.duration_s, 0.0) AS duration_s,
                    w.attended_at IS NOT NULL AS reached_in_replay
               FROM watch_progress w
               JOIN lectures l ON l.id = w.lecture_id
               JOIN lecture_sessions s ON s.id = l.session_id
               JOIN enterprises e ON e.user_id = w.user_id
              WHERE s.program_id = $1",
        )
        .bind(program_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The enterprises that signed up for or watched any of the program's sessions.
    pub async fn program_participants(
        &self,
        program_id: i64,
    ) -> Result<Vec<ReportEnterprise>, sqlx::Error> {
        sqlx::query_as(
            "SELECT e.user_id, e.name, e.uscc, e.industry, e.district FROM enterprises e
              WHERE e.user_id IN (
                    SELECT r.enterprise_id FROM registrations r
                      JOIN lecture_sessions s ON s.id = r.session_id
                     WHERE s.program_id = $1 AND r.status = 'confirmed'
                    UNION
                    SELECT w.user_id FROM watch_progress w
                      JOIN lectures l ON l.id = w.lecture_id
                      JOIN lecture_sessions s ON s.id = l.session_id
                     WHERE s.program_id = $1)",
        )
        .bind(program_id)
        .fetch_all(&self.pool)
        .await
    }
}
