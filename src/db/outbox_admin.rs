//! The organizer's view of the outbox: deliveries with their state, attempts and last error,
//! the reach of notifications that have no delivery (inbox only), and storing an organizer's
//! message to everyone signed up for a session.

use super::notifications::{active_registrants, enqueue_message, session_ref};
use super::types::Sql;
use super::Db;
use crate::notify::{Channel, Kind, Message, SessionRef};
use chrono::{DateTime, Utc};

/// A delivery's state (`deliveries.state`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    sqlx::Type,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Queued,
    Sending,
    Sent,
    Failed,
    Skipped,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Queued,
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::Failed,
        DeliveryState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        DeliveryState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeliveryState::Queued => "排队",
            DeliveryState::Sending => "发送中",
            DeliveryState::Sent => "已发送",
            DeliveryState::Failed => "失败",
            DeliveryState::Skipped => "已跳过",
        }
    }

    /// The `.tag` class the state is shown with.
    pub fn css(self) -> &'static str {
        match self {
            DeliveryState::Queued | DeliveryState::Sending => "warn",
            DeliveryState::Sent => "ok",
            DeliveryState::Failed => "bad",
            DeliveryState::Skipped => "",
        }
    }
}

/// Which deliveries the organizer looks at; `None` is "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub session_id: Option<i64>,
    pub kind: Option<Kind>,
    pub state: Option<DeliveryState>,
    pub channel: Option<Channel>,
}

/// One delivery as the organizer's list shows it. The recipient is named (enterprise or
/// staff display name), never by its address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub notification_id: i64,
    pub channel: Channel,
    pub state: DeliveryState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub next_attempt_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub sent_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub updated_at: DateTime<Utc>,
    pub kind: Kind,
    pub title: String,
    pub session_id: Option<i64>,
    pub session_title: Option<String>,
    pub recipient: String,
    /// The zone of the session's program, if the notification is about a session.
    pub timezone: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub attempt: i64,
    pub worker: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub started_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub finished_at: Option<DateTime<Utc>>,
    /// `sent` or `error`; `None` while running or when its worker died.
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// Counts at the top of the page, for the filter without its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliverySummary {
    /// Deliveries per state, in [`DeliveryState::ALL`] order.
    pub per_state: Vec<(DeliveryState, i64)>,
    /// Notifications stored (every one is in its recipient's inbox).
    pub notifications: i64,
    /// Notifications with no delivery at all: the inbox is their only way to the recipient.
    pub inbox_only: i64,
}

/// How many accounts an organizer's message to a session reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audience {
    pub confirmed: i64,
    pub waitlisted: i64,
}

impl Audience {
    pub fn count(&self, include_waitlist: bool) -> i64 {
        self.confirmed + if include_waitlist { self.waitlisted } else { 0 }
    }
}

/// `WHERE` conditions of a filter on `notifications n` (and `deliveries d` when `with_delivery`).
fn push_filter(q: &mut Sql<'_>, f: &DeliveryFilter, with_delivery: bool, with_state: bool) {
    q.push(" WHERE 1 = 1");
    if let Some(id) = f.session_id {
        q.push(" AND n.session_id = ").push_bind(id);
    }
    if let Some(kind) = f.kind {
        q.push(" AND n.kind = ").push_bind(kind);
    }
    if with_delivery {
        if let Some(channel) = f.channel {
            q.push(" AND d.channel = ").push_bind(channel);
        }
        if with_state {
            if let Some(state) = f.state {
                q.push(" AND d.state = ").push_bind(state);
            }
        }
    }
}

impl Db {
    /// Deliveries matching `f`, newest first, `limit` from `offset`.
    pub async fn deliveries(
        &self,
        f: &DeliveryFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DeliveryRow>, sqlx::Error> {
        let mut q = Sql::new(
            "SELECT d.id, d.notification_id, d.channel, d.state, d.attempts, d.max_attempts,
                    d.last_error, d.next_attempt_at, d.sent_at, d.created_at, d.updated_at,
                    n.kind, n.title, n.session_id, s.title AS session_title,
                    COALESCE(e.name, u.display_name) AS recipient, p.timezone
             FROM deliveries d
             JOIN notifications n ON n.id = d.notification_id
             JOIN users u ON u.id = n.user_id
             LEFT JOIN enterprises e ON e.user_id = n.user_id
             LEFT JOIN lecture_sessions s ON s.id = n.session_id
             LEFT JOIN programs p ON p.id = s.program_id",
        );
        push_filter(&mut q, f, true, true);
        q.push(" ORDER BY d.id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        {
            let (sql, args) = q.build()?;
            sqlx::query_as_with(&sql, args).fetch_all(&self.pool).await
        }
    }

    /// How many deliveries match `f`.
    pub async fn count_deliveries(&self, f: &DeliveryFilter) -> Result<i64, sqlx::Error> {
        let mut q = Sql::new(
            "SELECT COUNT(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id",
        );
        push_filter(&mut q, f, true, true);
        {
            let (sql, args) = q.build()?;
            sqlx::query_scalar_with(&sql, args)
                .fetch_one(&self.pool)
                .await
        }
    }

    /// Counts per state (ignoring the filter's state) and the inbox-only reach (ignoring its
    /// channel and state, which only deliveries have).
    pub async fn delivery_summary(
        &self,
        f: &DeliveryFilter,
    ) -> Result<DeliverySummary, sqlx::Error> {
        let mut q = Sql::new(
            "SELECT d.state, COUNT(*) FROM deliveries d
             JOIN notifications n ON n.id = d.notification_id",
        );
        push_filter(&mut q, f, true, false);
        q.push(" GROUP BY d.state");
        let counts: Vec<(DeliveryState, i64)> = {
            let (sql, args) = q.build()?;
            sqlx::query_as_with(&sql, args).fetch_all(&self.pool).await
        }?;
        let per_state = DeliveryState::ALL
            .into_iter()
            .map(|s| {
                let n = counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
                (s, n)
            })
            .collect();
        let mut q = Sql::new(
            "SELECT COUNT(*),
                    COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM deliveries d
                                                      WHERE d.notification_id = n.id)
                                      THEN 0 ELSE 1 END), 0)
             FROM notifications n",
        );
        push_filter(&mut q, f, false, false);
        let (notifications, inbox_only): (i64, i64) = {
            let (sql, args) = q.build()?;
            sqlx::query_as_with(&sql, args).fetch_one(&self.pool).await
        }?;
        Ok(DeliverySummary {
            per_state,
            notifications,
            inbox_only,
        })
    }

    /// The attempts of the deliveries `ids`, in order.
    pub async fn attempts_of_deliveries(
        &self,
        ids: &[i64],
    ) -> Result<Vec<AttemptRow>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT delivery_id, attempt, worker, started_at, finished_at, outcome, error
             FROM delivery_attempts WHERE delivery_id IN (",
        );
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(*id);
        }
        q.push(") ORDER BY delivery_id, id");
        {
            let (sql, args) = q.build()?;
            sqlx::query_as_with(&sql, args).fetch_all(&self.pool).await
        }
    }

    /// The sessions that have notifications, latest start first, for the session filter.
    pub async fn notified_sessions(&self) -> Result<Vec<(i64, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT s.id, s.title FROM lecture_sessions s
             WHERE s.id IN (SELECT DISTINCT session_id FROM notifications
                             WHERE session_id IS NOT NULL)
             ORDER BY s.starts_at DESC, s.id DESC",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Who an organizer's message to `session_id` would reach now.
    pub async fn session_audience(&self, session_id: i64) -> Result<Audience, sqlx::Error> {
        let (confirmed, waitlisted): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'confirmed'), COUNT(*) FILTER (WHERE status = 'waitlisted')
             FROM registrations WHERE session_id = $1 AND status IN ('confirmed', 'waitlisted')",
        )
        .bind(session_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Audience {
            confirmed,
            waitlisted,
        })
    }

    /// Store an organizer's message for every enterprise signed up for `session_id`
    /// (confirmed, and waitlisted when `include_waitlist`), in one write transaction.
    /// `message` renders it for the session as the transaction reads it; every recipient
    /// gets the same key, so posting the same message twice stores it once. Returns
    /// `(recipients, newly stored)`, or `None` for an unknown session.
    pub async fn store_session_message(
        &self,
        session_id: i64,
        include_waitlist: bool,
        now: DateTime<Utc>,
        message: impl FnOnce(&SessionRef) -> Message,
    ) -> Result<Option<(u64, u64)>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let Some(session) = session_ref(&mut tx, session_id).await? else {
            return Ok(None);
        };
        let message = message(&session);
        let mut recipients = 0;
        let mut stored = 0;
        for (user_id, _, confirmed) in active_registrants(&mut tx, session_id).await? {
            if !confirmed && !include_waitlist {
                continue;
            }
            recipients += 1;
            if enqueue_message(&mut tx, user_id, &message, now)
                .await?
                .is_some()
            {
                stored += 1;
            }
        }
        tx.commit().await?;
        Ok(Some((recipients, stored)))
    }
}
