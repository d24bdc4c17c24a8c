//! Watch progress per account and lecture.

use super::Db;
use super::Json;
use chrono::{DateTime, Utc};

/// Watch progress of one account for one lecture.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WatchRow {
    pub user_id: i64,
    pub lecture_id: i64,
    /// The watched ranges `[from, to)` in seconds, sorted and disjoint.
    pub ranges: Json<Vec<(f64, f64)>>,
    pub watched_s: f64,
    pub last_position: f64,
    #[sqlx(try_from = "crate::db::Ts")]
    pub last_report: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub first_seen: DateTime<Utc>,
    /// When replay watching first reached the attendance share (see migration 0016).
    #[sqlx(try_from = "crate::db::OptTs")]
    pub attended_at: Option<DateTime<Utc>>,
}

/// A viewer of a lecture with the enterprise, for the organizer's figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ViewerRow {
    pub user_id: i64,
    pub role: String,
    pub display_name: String,
    pub uscc: Option<String>,
    pub watched_s: f64,
    /// The watched ranges `[from, to)` in seconds (the retention curve).
    pub ranges: Json<Vec<(f64, f64)>>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub first_seen: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub last_report: DateTime<Utc>,
}

/// A report applied to an account's watching of a lecture.
#[derive(Debug, Clone, Copy)]
pub struct WatchUpdate<'a> {
    /// The watched ranges after the report.
    pub ranges: &'a [(f64, f64)],
    pub watched_s: f64,
    pub last_position: f64,
    pub at: DateTime<Utc>,
    /// The attendance share is reached (replay reports only; the first time is kept).
    pub attended: bool,
}

impl Db {
    pub async fn watch(
        &self,
        user_id: i64,
        lecture_id: i64,
    ) -> Result<Option<WatchRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM watch_progress WHERE user_id = $1 AND lecture_id = $2")
            .bind(user_id)
            .bind(lecture_id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn save_watch(
        &self,
        user_id: i64,
        lecture_id: i64,
        w: &WatchUpdate<'_>,
    ) -> Result<(), sqlx::Error> {
        let WatchUpdate {
            ranges,
            watched_s,
            last_position,
            at,
            attended,
        } = *w;
        sqlx::query(
            "INSERT INTO watch_progress (user_id, lecture_id, ranges, watched_s, last_position, last_report, first_seen, attended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (user_id, lecture_id) DO UPDATE SET
               ranges = excluded.ranges, watched_s = excluded.watched_s,
               last_position = excluded.last_position, last_report = excluded.last_report,
               attended_at = COALESCE(watch_progress.attended_at, excluded.attended_at)",
        )
        .bind(user_id)
        .bind(lecture_id)
        .bind(Json(ranges))
        .bind(watched_s)
        .bind(last_position)
        .bind(crate::db::ts(at))
        .bind(crate::db::ts(at))
        .bind((attended.then_some(at)).map(crate::db::ts))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Everyone who watched a lecture, most watched first.
    pub async fn viewers(&self, lecture_id: i64) -> Result<Vec<ViewerRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT w.user_id, u.role, u.display_name, e.uscc, w.watched_s, w.ranges, w.first_seen, w.last_report
             FROM watch_progress w JOIN users u ON u.id = w.user_id
             LEFT JOIN enterprises e ON e.user_id = w.user_id
             WHERE w.lecture_id = $1 ORDER BY w.watched_s DESC",
        )
        .bind(lecture_id)
        .fetch_all(&self.pool)
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::accounts::Role;
    use crate::db::Db;

    #[tokio::test]
    async fn a_corrupt_watch_row_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).await.expect("db");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
        let program = crate::demo::load_month(&db, today)
            .await
            .expect("demo month");
        let session = db.program_sessions(program).await.expect("sessions")[0].id;
        let (lecture, _) = db
            .queue_recording(session, "uploads/a.mp4")
            .await
            .expect("queue")
            .expect("no job queued or running");
        let user = db
            .insert_staff(Role::Organizer, "viewer", "观众", "x")
            .await
            .expect("user");
        let at = chrono::Utc::now();
        let update = super::WatchUpdate {
            ranges: &[(0.0, 30.0)],
            watched_s: 30.0,
            last_position: 30.0,
            at,
            attended: false,
        };
        db.save_watch(user, lecture, &update).await.expect("save");
        let row = db.watch(user, lecture).await.expect("watch").expect("row");
        assert_eq!(row.ranges.0, vec![(0.0, 30.0)]);
        sqlx::query("UPDATE watch_progress SET ranges = 'not json'")
            .execute(&db.pool)
            .await
            .expect("corrupt");
        assert!(db.watch(user, lecture).await.is_err());
    }
}
