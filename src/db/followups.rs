//! SQL of 回访 follow-ups (issue 16; see `crate::app::qa::followups`): opening one in the
//! transaction of a submitted report, recording the retake, contacts and outcomes, the
//! advisor assignment, the lists and the loop dashboard's timestamps.

use super::notifications;
use super::types::Sql;
use super::Db;
use super::Json;
use super::RowExt;
use crate::notify::Event;
use crate::qa::followup::{self, LevelsSnapshot};
use crate::qa::funnel::{FollowupTimes, QuestionTimes};
use crate::qa::{FollowupOutcome, FollowupStatus};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{AnyConnection, Row};

/// A stored follow-up with its enterprise and advisor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowupRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub checkup_id: Option<i64>,
    pub levels: Json<LevelsSnapshot>,
    pub advisor_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub status: StatusColumn,
    #[sqlx(try_from = "crate::db::Day")]
    pub due_on: NaiveDate,
    #[sqlx(try_from = "crate::db::Ts")]
    pub opened_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub assigned_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub first_contact_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub outcome_at: Option<DateTime<Utc>>,
    pub retake_checkup_id: Option<i64>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub retaken_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub closed_at: Option<DateTime<Utc>>,
    pub enterprise_name: String,
    pub enterprise_industry: String,
    pub contact_name: String,
    pub mobile: String,
    pub advisor_name: Option<String>,
}

/// `followups.status` decoded (the CHECK constraint admits only these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusColumn(pub FollowupStatus);

impl TryFrom<String> for StatusColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        FollowupStatus::parse(&s)
            .map(StatusColumn)
            .ok_or_else(|| format!("unknown follow-up status {s}"))
    }
}

impl FollowupRow {
    pub fn status(&self) -> FollowupStatus {
        self.status.0
    }
}

/// One recorded contact.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub author_id: i64,
    pub author_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub outcome: OutcomeColumn,
    pub note: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
}

/// `followup_contacts.outcome` decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeColumn(pub FollowupOutcome);

impl TryFrom<String> for OutcomeColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        FollowupOutcome::parse(&s)
            .map(OutcomeColumn)
            .ok_or_else(|| format!("unknown follow-up outcome {s}"))
    }
}

/// Which follow-ups a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this advisor's.
    pub advisor: Option<i64>,
    /// Only those without an advisor (the organizers' queue).
    pub unassigned: bool,
    /// Only this enterprise's.
    pub enterprise: Option<i64>,
    pub status: Option<FollowupStatus>,
    /// Only those overdue on this day (past `due_on`, no verdict yet).
    pub overdue_on: Option<NaiveDate>,
}

const SELECT: &str = "SELECT f.*, e.name AS enterprise_name, e.industry AS enterprise_industry,
        e.contact_name, e.mobile, u.display_name AS advisor_name
   FROM followups f
   JOIN enterprises e ON e.user_id = f.enterprise_id
   LEFT JOIN users u ON u.id = f.advisor_id";

/// The enterprise's advisors with their open follow-ups: active lawyers of its group.
async fn advisor_loads(
    conn: &mut AnyConnection,
    enterprise_id: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.lawyer_id,
                (SELECT COUNT(*) FROM followups f
                  WHERE f.advisor_id = l.lawyer_id AND f.status <> 'closed')
           FROM advisor_group_enterprises g
           JOIN advisor_group_lawyers l ON l.group_id = g.group_id
           JOIN users u ON u.id = l.lawyer_id
          WHERE g.enterprise_id = $1 AND u.role = 'lawyer' AND u.disabled_at IS NULL",
    )
    .bind(enterprise_id)
    .fetch_all(&mut *conn)
    .await
}

/// Active organizer accounts: who hears of a follow-up without an advisor.
async fn organizers(conn: &mut AnyConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE role = 'organizer' AND disabled_at IS NULL")
        .fetch_all(&mut *conn)
        .await
}

/// Tell whoever has follow-up `id` to do it: its advisor, or every organizer.
async fn notify_due(
    conn: &mut AnyConnection,
    id: i64,
    advisor: Option<i64>,
    enterprise_name: &str,
    due_on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let event = Event::FollowupDue {
        followup_id: id,
        enterprise_name: enterprise_name.to_string(),
        due_on,
    };
    let recipients = match advisor {
        Some(a) => vec![a],
        None => organizers(conn).await?,
    };
    for r in recipients {
        notifications::enqueue(conn, r, &event, now).await?;
    }
    Ok(())
}

/// Open the follow-up of report `checkup_id` inside the report's transaction: the enterprise's
/// other follow-ups still running are closed as superseded (the new report is the current
/// state of things), the least-loaded advisor of its group gets it (else the organizers'
/// queue), and the advisor — or every organizer — is told. Returns the follow-up's id.
pub async fn open_in_tx(
    conn: &mut AnyConnection,
    enterprise_id: i64,
    checkup_id: i64,
    levels: &LevelsSnapshot,
    due_on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "UPDATE followups SET status = 'closed', closed_at = $1
          WHERE enterprise_id = $2 AND status <> 'closed'",
    )
    .bind(crate::db::ts(now))
    .bind(enterprise_id)
    .execute(&mut *conn)
    .await?;
    let advisor = followup::choose_advisor(&advisor_loads(conn, enterprise_id).await?);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO followups (enterprise_id, checkup_id, levels, advisor_id, status, due_on,
                                opened_at, assigned_at)
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7) RETURNING id",
    )
    .bind(enterprise_id)
    .bind(checkup_id)
    .bind(Json(levels))
    .bind(advisor)
    .bind(crate::db::day(due_on))
    .bind(crate::db::ts(now))
    .bind((advisor.map(|_| now)).map(crate::db::ts))
    .fetch_one(&mut *conn)
    .await?;
    let name: String = sqlx::query_scalar("SELECT name FROM enterprises WHERE user_id = $1")
        .bind(enterprise_id)
        .fetch_one(&mut *conn)
        .await?;
    notify_due(conn, id, advisor, &name, due_on, now).await?;
    Ok(id)
}

/// Inside the transaction of a new report: when the enterprise was invited to retake the
/// check-up (a follow-up at 已整改 without a retake), the report is that retake, and the
/// follow-up closes. Returns the follow-up's id.
pub async fn record_retake_in_tx(
    conn: &mut AnyConnection,
    enterprise_id: i64,
    checkup_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE followups
            SET retake_checkup_id = $1, retaken_at = $2, status = 'closed', closed_at = $3
          WHERE id = (SELECT id FROM followups
                       WHERE enterprise_id = $4 AND status = 'rectified'
                         AND retake_checkup_id IS NULL
                       ORDER BY id DESC LIMIT 1)
          RETURNING id",
    )
    .bind(checkup_id)
    .bind(crate::db::ts(now))
    .bind(crate::db::ts(now))
    .bind(enterprise_id)
    .fetch_optional(&mut *conn)
    .await
}

/// How a report takes part in a follow-up (the line on the report page).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportFollowup {
    pub id: i64,
    /// The report is the retake after 已整改 (else it opened the follow-up).
    #[sqlx(try_from = "crate::db::Flag")]
    pub retake: bool,
    #[sqlx(try_from = "crate::db::Day")]
    pub due_on: NaiveDate,
}

/// Where a contact could not be recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum ContactRefused {
    NotFound,
    Closed,
}

impl Db {
    /// The follow-up report `checkup_id` opened or retook, if any.
    pub async fn followup_of_report(
        &self,
        checkup_id: i64,
    ) -> Result<Option<ReportFollowup>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, COALESCE(retake_checkup_id = $1, FALSE) AS retake, due_on FROM followups
              WHERE checkup_id = $2 OR retake_checkup_id = $3 ORDER BY id DESC LIMIT 1",
        )
        .bind(checkup_id)
        .bind(checkup_id)
        .bind(checkup_id)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn followup(&self, id: i64) -> Result<Option<FollowupRow>, sqlx::Error> {
        sqlx::query_as(&format!("{SELECT} WHERE f.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// A page of follow-ups matching `filter`, newest first, and how many match in all.
    pub async fn followups(
        &self,
        filter: &Filter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<FollowupRow>, i64), sqlx::Error> {
        let filtered = |select: &str| {
            let mut q = Sql::new(select);
            q.push(" WHERE 1 = 1");
            if let Some(a) = filter.advisor {
                q.push(" AND f.advisor_id = ").push_bind(a);
            }
            if filter.unassigned {
                q.push(" AND f.advisor_id IS NULL");
            }
            if let Some(e) = filter.enterprise {
                q.push(" AND f.enterprise_id = ").push_bind(e);
            }
            if let Some(status) = filter.status {
                q.push(" AND f.status = ").push_bind(status.as_str());
            }
            if let Some(d) = filter.overdue_on {
                q.push(" AND f.status IN ('open', 'contacted', 'rectifying') AND f.due_on < ")
                    .push_bind(super::day(d));
            }
            q
        };
        let (sql, args) = filtered("SELECT COUNT(*) FROM followups f").build()?;
        let total: i64 = sqlx::query_scalar_with(&sql, args)
            .fetch_one(&self.pool)
            .await?;
        let mut list = filtered(SELECT);
        list.push(" ORDER BY f.id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let (sql, args) = list.build()?;
        let rows: Vec<FollowupRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// The contacts recorded on follow-up `id`, oldest first.
    pub async fn followup_contacts(&self, id: i64) -> Result<Vec<ContactRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT c.id, c.author_id, u.display_name AS author_name, c.outcome, c.note,
                    c.created_at
               FROM followup_contacts c LEFT JOIN users u ON u.id = c.author_id
              WHERE c.followup_id = $1 ORDER BY c.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
    }

    /// A later follow-up of the same enterprise (the one that superseded `id`), if any.
    pub async fn followup_successor(
        &self,
        id: i64,
        enterprise_id: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MIN(id) FROM followups WHERE enterprise_id = $1 AND id > $2 HAVING MIN(id) IS NOT NULL",
        )
        .bind(enterprise_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Record a contact with `outcome` on follow-up `id` by `author`: the status becomes the
    /// outcome; 已整改 invites the enterprise to retake the check-up, in the same transaction.
    pub async fn record_followup_contact(
        &self,
        id: i64,
        author: i64,
        outcome: FollowupOutcome,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, ContactRefused>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT enterprise_id, status FROM followups WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((enterprise_id, status)) = row else {
            return Ok(Err(ContactRefused::NotFound));
        };
        if status == FollowupStatus::Closed.as_str() {
            return Ok(Err(ContactRefused::Closed));
        }
        let contact_id: i64 = sqlx::query_scalar(
            "INSERT INTO followup_contacts (followup_id, author_id, outcome, note, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(id)
        .bind(author)
        .bind(outcome.as_str())
        .bind(note)
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let verdict = matches!(
            outcome,
            FollowupOutcome::Rectified | FollowupOutcome::NotRectified
        );
        sqlx::query(
            "UPDATE followups SET status = $1, first_contact_at = COALESCE(first_contact_at, $2),
                    outcome_at = CASE WHEN $3 THEN $4 ELSE outcome_at END
              WHERE id = $5",
        )
        .bind(outcome.as_str())
        .bind(crate::db::ts(now))
        .bind(verdict)
        .bind(crate::db::ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if outcome == FollowupOutcome::Rectified {
            let event = Event::RetakeInvited { followup_id: id };
            notifications::enqueue(&mut tx, enterprise_id, &event, now).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(Ok(contact_id))
    }

    /// Give follow-up `id` to advisor `lawyer_id` (who is told); false when it does not
    /// exist or is closed.
    pub async fn assign_followup(
        &self,
        id: i64,
        lawyer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE followups SET advisor_id = $1, assigned_at = $2
              WHERE id = $3 AND status <> 'closed'
              RETURNING due_on, (SELECT name FROM enterprises WHERE user_id = enterprise_id) AS name",
        )
        .bind(lawyer_id)
        .bind(crate::db::ts(now))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let due_on: NaiveDate = row.time("due_on")?;
        let name: String = row.try_get("name")?;
        notify_due(&mut tx, id, Some(lawyer_id), &name, due_on, now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    /// Active lawyer accounts `(id, display name)`, for the assignment form.
    pub async fn active_lawyers(&self) -> Result<Vec<(i64, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, display_name FROM users
              WHERE role = 'lawyer' AND disabled_at IS NULL ORDER BY display_name, id",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Check-ups submitted in `[from, to)`.
    pub async fn checkups_submitted_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<usize, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM checkups
              WHERE status = 'submitted' AND submitted_at >= $1 AND submitted_at < $2",
        )
        .bind(crate::db::ts(from))
        .bind(crate::db::ts(to))
        .fetch_one(&self.pool)
        .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The timestamps of the questions asked in `[from, to)`.
    pub async fn question_times_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<QuestionTimes>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT created_at, assigned_at, first_answered_at, closed_at,
                    (overdue_at IS NOT NULL AND status IN ('pending', 'assigned', 'followup')) AS overdue
               FROM questions WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(crate::db::ts(from))
        .bind(crate::db::ts(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QuestionTimes {
                    created_at: r.time("created_at")?,
                    assigned_at: r.time("assigned_at")?,
                    first_answered_at: r.time("first_answered_at")?,
                    closed_at: r.time("closed_at")?,
                    overdue: r.time("overdue")?,
                })
            })
            .collect()
    }

    /// The timestamps of the follow-ups opened in `[from, to)`, overdue as of `now`.
    pub async fn followup_times_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<FollowupTimes>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT opened_at, assigned_at, first_contact_at, outcome_at, retaken_at, status, due_on
               FROM followups WHERE opened_at >= $1 AND opened_at < $2",
        )
        .bind(crate::db::ts(from))
        .bind(crate::db::ts(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let due_on: NaiveDate = r.time("due_on")?;
                let overdue = FollowupStatus::parse(&status)
                    .is_some_and(|s| followup::is_overdue(s, due_on, now));
                Ok(FollowupTimes {
                    opened_at: r.time("opened_at")?,
                    assigned_at: r.time("assigned_at")?,
                    first_contact_at: r.time("first_contact_at")?,
                    outcome_at: r.time("outcome_at")?,
                    retaken_at: r.time("retaken_at")?,
                    overdue,
                })
            })
            .collect()
    }
}
