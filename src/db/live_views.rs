//! What the live pages and the access rule read: a viewer's enrolment in a session, and a
//! lecture's visibility together with it (one query per live playlist or segment request).

use super::Db;
use crate::archive::{Enrolment, Visibility};

/// The two enrolment facts as columns, for the session and user expressions given: a confirmed
/// sign-up (looked up through the partial unique index of active sign-ups: the `IN` term is
/// that index's own condition, so SQLite may use it), and whether the user is the session's
/// linked lawyer.
fn enrolment_columns(session: &str, user: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM registrations r
                 WHERE r.session_id = {session} AND r.enterprise_id = {user}
                   AND r.status IN ('confirmed', 'waitlisted') AND r.status = 'confirmed')
           AS confirmed,
         EXISTS (SELECT 1 FROM lecture_sessions s JOIN lecturers lr ON lr.id = s.lecturer_id
                 WHERE s.id = {session} AND lr.user_id = {user}) AS lecturer"
    )
}

/// A lecture's visibility with a viewer's enrolment in its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LectureAccess {
    pub session_id: i64,
    pub visibility: Visibility,
    pub enrolment: Enrolment,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    session_id: i64,
    visibility: Visibility,
    #[sqlx(try_from = "crate::db::Flag")]
    confirmed: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    lecturer: bool,
}

impl Db {
    /// `user_id`'s tie to `session_id` for the access rule of enrolled lectures.
    pub async fn enrolment(&self, session_id: i64, user_id: i64) -> Result<Enrolment, sqlx::Error> {
        let (super::Flag(confirmed), super::Flag(lecturer)): (super::Flag, super::Flag) =
            sqlx::query_as(&format!("SELECT {}", enrolment_columns("$1", "$2")))
                .bind(session_id)
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Enrolment {
            confirmed,
            lecturer,
        })
    }

    /// Lecture `lecture_id`'s visibility and `user_id`'s enrolment in its session (all false
    /// without a viewer), in one query; `None` when there is no such lecture.
    pub async fn lecture_access(
        &self,
        lecture_id: i64,
        user_id: Option<i64>,
    ) -> Result<Option<LectureAccess>, sqlx::Error> {
        let row: Option<AccessRow> = sqlx::query_as(&format!(
            "SELECT l.session_id, l.visibility, {} FROM lectures l WHERE l.id = $2",
            enrolment_columns("l.session_id", "$1")
        ))
        .bind(user_id)
        .bind(lecture_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| LectureAccess {
            session_id: r.session_id,
            visibility: r.visibility,
            enrolment: Enrolment {
                confirmed: r.confirmed,
                lecturer: r.lecturer,
            },
        }))
    }
}
