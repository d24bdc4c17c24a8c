//! SQL of 企问律答 question threads (issue 16): asking (with routing and the throttle in one
//! transaction), reading threads and lists, writing messages, assignment, closing, the live
//! lecture's 在直播中已解答 and the overdue flag. Every change that tells someone stores its
//! notification in the same transaction (`notifications::enqueue`); callers wake the outbox.

use super::notifications;
use super::types::Sql;
use super::Db;
use super::RowExt;
use crate::accounts::Role;
use crate::notify::Event;
use crate::qa::routing::{self, Candidate};
use crate::qa::{AssignedBy, MessageKind, QuestionStatus};
use chrono::{DateTime, Duration, Utc};
use sqlx::{AnyConnection, Row};

/// A question thread's head.
#[derive(Debug, Clone)]
pub struct QuestionRow {
    pub id: i64,
    pub enterprise_id: i64,
    /// The enterprise's name (for staff; never logged).
    pub enterprise_name: String,
    pub title: String,
    pub topic: String,
    pub industry: String,
    pub session_id: Option<i64>,
    pub checkup_id: Option<i64>,
    pub finding: Option<String>,
    pub status: QuestionStatus,
    pub assigned_lawyer_id: Option<i64>,
    pub assigned_lawyer_name: Option<String>,
    pub assigned_by: Option<AssignedBy>,
    pub answered_live_at: Option<DateTime<Utc>>,
    pub overdue_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl QuestionRow {
    /// Flagged overdue and still waiting for a lawyer.
    pub fn is_overdue(&self) -> bool {
        self.overdue_at.is_some() && self.status.awaits_lawyer()
    }
}

/// A message of a thread.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: i64,
    pub author_id: i64,
    pub author_role: Role,
    pub kind: MessageKind,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A new question, checked by the use case.
#[derive(Debug, Clone)]
pub struct NewQuestion {
    pub enterprise_id: i64,
    pub title: String,
    pub body: String,
    pub topic: String,
    pub industry: String,
    pub session_id: Option<i64>,
    pub checkup_id: Option<i64>,
    pub finding: Option<String>,
}

/// What asking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Stored {
        id: i64,
        status: QuestionStatus,
        route: Option<routing::Route>,
    },
    /// `limit` questions in the last window; the oldest of them leaves it in `retry_after_s`.
    Throttled { retry_after_s: u64 },
}

/// Which questions a list shows.
#[derive(Debug, Clone, Default)]
pub struct QuestionFilter {
    pub enterprise_id: Option<i64>,
    pub lawyer_id: Option<i64>,
    pub session_id: Option<i64>,
    pub status: Option<QuestionStatus>,
    pub topic: Option<String>,
    pub only_overdue: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A change of a thread's state that is guarded against a concurrent one: it applies only
/// while the thread is still in `expect_status` with `expect_lawyer`.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub expect_status: QuestionStatus,
    pub expect_lawyer: Option<i64>,
}

/// A message to write into a thread, with the state it moves the thread to.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub author_id: i64,
    pub author_role: Role,
    pub kind: MessageKind,
    pub body: &'a str,
    pub new_status: QuestionStatus,
    /// Tell the enterprise (an answer or a request for details).
    pub notify_enterprise: bool,
    /// Set `answered_live_at` (the lecturer answered it in the lecture).
    pub answered_live: bool,
}

const COLUMNS: &str = "q.id, q.enterprise_id, e.name AS enterprise_name, q.title, q.topic,
    q.industry, q.session_id, q.checkup_id, q.finding, q.status, q.assigned_lawyer_id,
    u.display_name AS assigned_lawyer_name, q.assigned_by, q.answered_live_at, q.overdue_at,
    q.closed_at, q.created_at, q.updated_at
    FROM questions q JOIN enterprises e ON e.user_id = q.enterprise_id
    LEFT JOIN users u ON u.id = q.assigned_lawyer_id";

fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {value:?} in questions").into())
}

fn question_of(row: &sqlx::any::AnyRow) -> Result<QuestionRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let assigned_by: Option<String> = row.try_get("assigned_by")?;
    Ok(QuestionRow {
        id: row.try_get("id")?,
        enterprise_id: row.try_get("enterprise_id")?,
        enterprise_name: row.try_get("enterprise_name")?,
        title: row.try_get("title")?,
        topic: row.try_get("topic")?,
        industry: row.try_get("industry")?,
        session_id: row.try_get("session_id")?,
        checkup_id: row.try_get("checkup_id")?,
        finding: row.try_get("finding")?,
        status: QuestionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        assigned_lawyer_id: row.try_get("assigned_lawyer_id")?,
        assigned_lawyer_name: row.try_get("assigned_lawyer_name")?,
        assigned_by: match assigned_by {
            Some(s) => Some(AssignedBy::parse(&s).ok_or_else(|| corrupt("assigned_by", &s))?),
            None => None,
        },
        answered_live_at: row.time("answered_live_at")?,
        overdue_at: row.time("overdue_at")?,
        closed_at: row.time("closed_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// Active lawyers (not disabled, profile accepting or no profile yet) with their topics,
/// industries, load and whether they advise `enterprise_id`.
async fn candidates(
    conn: &mut AnyConnection,
    enterprise_id: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.id,
                (SELECT COUNT(*) FROM questions q
                  WHERE q.assigned_lawyer_id = u.id
                    AND q.status IN ('pending', 'assigned', 'followup')) AS load,
                EXISTS (SELECT 1 FROM advisor_group_lawyers gl
                          JOIN advisor_group_enterprises ge ON ge.group_id = gl.group_id
                         WHERE gl.lawyer_id = u.id AND ge.enterprise_id = $1) AS advisor
         FROM users u LEFT JOIN lawyer_profiles p ON p.user_id = u.id
         WHERE u.role = 'lawyer' AND u.disabled_at IS NULL AND COALESCE(p.accepting, TRUE) = TRUE
         ORDER BY u.id",
    )
    .bind(enterprise_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Candidate {
            lawyer_id: row.try_get("id")?,
            topics: Vec::new(),
            industries: Vec::new(),
            load: row.try_get("load")?,
            advisor: row.time("advisor")?,
        });
    }
    let topics: Vec<(i64, String)> = sqlx::query_as("SELECT user_id, topic FROM lawyer_topics")
        .fetch_all(&mut *conn)
        .await?;
    let industries: Vec<(i64, String)> =
        sqlx::query_as("SELECT user_id, industry FROM lawyer_industries")
            .fetch_all(&mut *conn)
            .await?;
    for c in &mut out {
        c.topics = topics
            .iter()
            .filter(|(id, _)| *id == c.lawyer_id)
            .map(|(_, t)| t.clone())
            .collect();
        c.industries = industries
            .iter()
            .filter(|(id, _)| *id == c.lawyer_id)
            .map(|(_, i)| i.clone())
            .collect();
    }
    Ok(out)
}

async fn title_of(conn: &mut AnyConnection, id: i64) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT title FROM questions WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

impl Db {
    /// Store a new question with its first message, routed to a lawyer (notified in the same
    /// transaction) or left pending, unless the enterprise asked `limit` questions within the
    /// last `window`. The count, the routing (loads) and the insert share one write
    /// transaction, so two questions at once neither slip past the throttle nor both see
    /// the same lawyer as least loaded.
    pub async fn ask_question(
        &self,
        q: &NewQuestion,
        now: DateTime<Utc>,
        window: Duration,
        limit: i64,
    ) -> Result<Asked, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let recent: Vec<super::Ts> = sqlx::query_scalar(
            "SELECT created_at FROM questions WHERE enterprise_id = $1 AND created_at > $2
             ORDER BY created_at",
        )
        .bind(q.enterprise_id)
        .bind(crate::db::ts(now - window))
        .fetch_all(&mut *tx)
        .await?;
        if recent.len() as i64 >= limit {
            let oldest = recent.first().map_or(now, |t| t.0);
            let retry = (oldest + window - now).num_seconds().max(1);
            return Ok(Asked::Throttled {
                retry_after_s: u64::try_from(retry).unwrap_or(1),
            });
        }
        let route = routing::route(
            &candidates(&mut tx, q.enterprise_id).await?,
            &q.topic,
            &q.industry,
        );
        let status = if route.is_some() {
            QuestionStatus::Assigned
        } else {
            QuestionStatus::Pending
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO questions (enterprise_id, title, topic, industry, session_id, checkup_id,
                                    finding, status, assigned_lawyer_id, assigned_by,
                                    assigned_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(q.enterprise_id)
        .bind(&q.title)
        .bind(&q.topic)
        .bind(&q.industry)
        .bind(q.session_id)
        .bind(q.checkup_id)
        .bind(&q.finding)
        .bind(status.as_str())
        .bind(route.map(|r| r.lawyer_id))
        .bind(route.map(|r| r.by.as_str()))
        .bind((route.map(|_| now)).map(crate::db::ts))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO question_messages (question_id, author_id, author_role, kind, body,
                                            created_at)
             VALUES ($1, $2, 'enterprise', 'question', $3, $4)",
        )
        .bind(id)
        .bind(q.enterprise_id)
        .bind(&q.body)
        .bind(crate::db::ts(now))
        .execute(&mut *tx)
        .await?;
        if let Some(r) = route {
            let event = Event::QuestionAssigned {
                question_id: id,
                title: q.title.clone(),
            };
            notifications::enqueue(&mut tx, r.lawyer_id, &event, now).await?;
        }
        tx.commit().await?;
        if route.is_some() {
            self.wake_outbox();
        }
        Ok(Asked::Stored { id, status, route })
    }

    /// A thread's head.
    pub async fn question(&self, id: i64) -> Result<Option<QuestionRow>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} WHERE q.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(question_of).transpose()
    }

    /// A thread's messages, oldest first.
    pub async fn question_messages(&self, id: i64) -> Result<Vec<MessageRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, author_id, author_role, kind, body, created_at
             FROM question_messages WHERE question_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("author_role")?;
                let kind: String = row.try_get("kind")?;
                Ok(MessageRow {
                    id: row.try_get("id")?,
                    author_id: row.try_get("author_id")?,
                    author_role: Role::parse(&role).ok_or_else(|| corrupt("author_role", &role))?,
                    kind: MessageKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                    body: row.try_get("body")?,
                    created_at: row.time("created_at")?,
                })
            })
            .collect()
    }

    /// A page of questions (overdue ones first, then newest first) and how many match.
    pub async fn questions(
        &self,
        f: &QuestionFilter,
    ) -> Result<(Vec<QuestionRow>, i64), sqlx::Error> {
        let filtered = |select: &str| {
            let mut q = Sql::new(select);
            q.push(" WHERE 1 = 1");
            if let Some(v) = f.enterprise_id {
                q.push(" AND q.enterprise_id = ").push_bind(v);
            }
            if let Some(v) = f.lawyer_id {
                q.push(" AND q.assigned_lawyer_id = ").push_bind(v);
            }
            if let Some(v) = f.session_id {
                q.push(" AND q.session_id = ").push_bind(v);
            }
            if let Some(v) = f.status {
                q.push(" AND q.status = ").push_bind(v.as_str());
            }
            if let Some(v) = &f.topic {
                q.push(" AND q.topic = ").push_bind(v.clone());
            }
            if f.only_overdue {
                q.push(
                    " AND q.overdue_at IS NOT NULL \
                     AND q.status IN ('pending', 'assigned', 'followup')",
                );
            }
            q
        };
        let mut list = filtered(&format!("SELECT {COLUMNS}"));
        list.push(
            " ORDER BY CASE WHEN q.overdue_at IS NOT NULL \
                            AND q.status IN ('pending', 'assigned', 'followup') THEN 0 ELSE 1 END, \
                       q.id DESC LIMIT ",
        )
        .push_bind(f.limit)
        .push(" OFFSET ")
        .push_bind(f.offset);
        let (sql, args) = list.build()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(&self.pool).await?;
        let (sql, args) = filtered("SELECT COUNT(*) FROM questions q").build()?;
        let total: i64 = sqlx::query_scalar_with(&sql, args)
            .fetch_one(&self.pool)
            .await?;
        let list = rows.iter().map(question_of).collect::<Result<_, _>>()?;
        Ok((list, total))
    }

    /// The first message (the question itself) of each of `ids`.
    pub async fn question_bodies(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let body: Option<String> = sqlx::query_scalar(
                "SELECT body FROM question_messages WHERE question_id = $1 ORDER BY id LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            out.push((*id, body.unwrap_or_default()));
        }
        Ok(out)
    }

    /// Write `m` into thread `id` and move it to `m.new_status`, if it is still as `guard`
    /// says (else `None`: someone changed it meanwhile). Returns the message id.
    pub async fn write_question_message(
        &self,
        id: i64,
        guard: Guard,
        m: &NewMessage<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let answering = matches!(m.kind, MessageKind::Answer | MessageKind::Request);
        let changed = sqlx::query(
            "UPDATE questions SET status = $1, updated_at = $2,
                    first_answered_at = CASE WHEN $3 THEN COALESCE(first_answered_at, $4)
                                             ELSE first_answered_at END,
                    overdue_at = CASE WHEN $5 THEN NULL ELSE overdue_at END,
                    answered_live_at = CASE WHEN $6 THEN $7 ELSE answered_live_at END
             WHERE id = $8 AND status = $9 AND assigned_lawyer_id IS NOT DISTINCT FROM $10",
        )
        .bind(m.new_status.as_str())
        .bind(crate::db::ts(now))
        .bind(answering)
        .bind(crate::db::ts(now))
        .bind(answering)
        .bind(m.answered_live)
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(guard.expect_status.as_str())
        .bind(guard.expect_lawyer)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        let message_id: i64 = sqlx::query_scalar(
            "INSERT INTO question_messages (question_id, author_id, author_role, kind, body,
                                            created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(id)
        .bind(m.author_id)
        .bind(m.author_role.as_str())
        .bind(m.kind.as_str())
        .bind(m.body)
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        if m.notify_enterprise {
            let enterprise_id: i64 =
                sqlx::query_scalar("SELECT enterprise_id FROM questions WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            let event = Event::QuestionAnswered {
                question_id: id,
                message_id,
                title: title_of(&mut tx, id).await?,
                needs_details: m.kind == MessageKind::Request,
            };
            notifications::enqueue(&mut tx, enterprise_id, &event, now).await?;
        }
        // the enterprise wrote again in a thread a lawyer holds: that lawyer must know
        let notify_lawyer = match (m.author_role, guard.expect_lawyer) {
            (Role::Enterprise, Some(lawyer)) => Some(lawyer),
            _ => None,
        };
        if let Some(lawyer) = notify_lawyer {
            let event = Event::QuestionFollowedUp {
                question_id: id,
                message_id,
                title: title_of(&mut tx, id).await?,
            };
            notifications::enqueue(&mut tx, lawyer, &event, now).await?;
        }
        tx.commit().await?;
        if m.notify_enterprise || notify_lawyer.is_some() {
            self.wake_outbox();
        }
        Ok(Some(message_id))
    }

    /// Close thread `id` if it is still as `guard` says.
    pub async fn close_question(
        &self,
        id: i64,
        guard: Guard,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE questions SET status = 'closed', closed_at = $1, updated_at = $2
             WHERE id = $3 AND status = $4 AND assigned_lawyer_id IS NOT DISTINCT FROM $5",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(guard.expect_status.as_str())
        .bind(guard.expect_lawyer)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give thread `id` to `lawyer_id` (an organizer's choice) and tell the lawyer, if the
    /// thread is still as `guard` says. A pending thread becomes assigned; an answered or
    /// follow-up thread keeps its state with the new lawyer.
    pub async fn assign_question(
        &self,
        id: i64,
        guard: Guard,
        lawyer_id: i64,
        new_status: QuestionStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE questions SET assigned_lawyer_id = $1, assigned_by = 'organizer',
                    assigned_at = $2, status = $3, updated_at = $4
             WHERE id = $5 AND status = $6 AND assigned_lawyer_id IS NOT DISTINCT FROM $7",
        )
        .bind(lawyer_id)
        .bind(crate::db::ts(now))
        .bind(new_status.as_str())
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(guard.expect_status.as_str())
        .bind(guard.expect_lawyer)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let event = Event::QuestionAssigned {
            question_id: id,
            title: title_of(&mut tx, id).await?,
        };
        notifications::enqueue(&mut tx, lawyer_id, &event, now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    /// True when `id` is a lawyer account that is not disabled.
    pub async fn is_active_lawyer(&self, id: i64) -> Result<bool, sqlx::Error> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE id = $1 AND role = 'lawyer' AND disabled_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Questions waiting for a lawyer and not flagged yet, with the time they started waiting
    /// (the enterprise's last question or follow-up).
    pub async fn questions_awaiting_unflagged(
        &self,
    ) -> Result<Vec<(i64, DateTime<Utc>)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT q.id, COALESCE((SELECT MAX(m.created_at) FROM question_messages m
                                     WHERE m.question_id = q.id AND m.kind = 'question'),
                                   q.created_at) AS waiting_since
             FROM questions q
             WHERE q.overdue_at IS NULL AND q.status IN ('pending', 'assigned', 'followup')
             ORDER BY q.id",
        )
        .fetch_all(&self.pool)
        .await
        .map(|rows: Vec<(i64, super::Ts)>| rows.into_iter().map(|(id, t)| (id, t.0)).collect())
    }

    /// Flag `ids` overdue and tell every active organizer, once per question (the flag is
    /// set only where it was not; the notification key is per question). Returns how many
    /// were flagged.
    pub async fn flag_questions_overdue(
        &self,
        ids: &[i64],
        working_days: u32,
        now: DateTime<Utc>,
    ) -> Result<usize, sqlx::Error> {
        if ids.is_empty() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.begin_write().await?;
        let organizers: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE role = 'organizer' AND disabled_at IS NULL ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut flagged = 0;
        for id in ids {
            let title: Option<String> = sqlx::query_scalar(
                "UPDATE questions SET overdue_at = $1
                 WHERE id = $2 AND overdue_at IS NULL
                   AND status IN ('pending', 'assigned', 'followup')
                 RETURNING title",
            )
            .bind(crate::db::ts(now))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(title) = title else { continue };
            flagged += 1;
            let event = Event::QuestionOverdue {
                question_id: *id,
                title,
                working_days,
            };
            for organizer in &organizers {
                notifications::enqueue(&mut tx, *organizer, &event, now).await?;
            }
        }
        tx.commit().await?;
        if flagged > 0 {
            self.wake_outbox();
        }
        Ok(flagged)
    }

    /// The user account of the lecturer of session `session_id`, if it has one.
    pub async fn session_lecturer_user(&self, session_id: i64) -> Result<Option<i64>, sqlx::Error> {
        let id: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT l.user_id FROM lecture_sessions s JOIN lecturers l ON l.id = s.lecturer_id
             WHERE s.id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.flatten())
    }

    /// True when session `session_id` exists and is not cancelled.
    pub async fn session_open_for_questions(&self, session_id: i64) -> Result<bool, sqlx::Error> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT status FROM lecture_sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some_and(|s| s != "cancelled"))
    }
}
