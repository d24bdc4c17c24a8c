//! The notification outbox and inbox.
//!
//! [`enqueue`] runs inside the transaction of the change that causes a notification (a
//! sign-up, a promotion, a move …), on the same connection: the change and its notification
//! commit together or not at all. It stores the rendered [`Message`] once per account and
//! idempotency key (`INSERT … ON CONFLICT DO NOTHING`), and one `deliveries` row per external
//! channel the account wants and has a verified address for. Delivery workers claim those
//! rows (see the delivery functions below and `crate::app::notify`).

use super::ts;
use super::writer::WriterConn;
use super::Json;
use super::RowExt;
use crate::notify::{Channel, Event, Kind, Message, SessionRef};
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use std::str::FromStr;

const SESSION_REF_SQL: &str = "SELECT s.id, s.title, s.starts_at, s.minutes, p.timezone
     FROM lecture_sessions s JOIN programs p ON p.id = s.program_id WHERE s.id = $1";

const INSERT_NOTIFICATION_SQL: &str = "INSERT INTO notifications
       (user_id, kind, key, title, body, link, sms_template, sms_params, session_id,
        expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (user_id, key) DO NOTHING
     RETURNING id,
       (SELECT COUNT(*) FROM contacts c
         WHERE c.user_id = notifications.user_id AND c.verified_at IS NOT NULL) AS verified";

const INSERT_DELIVERY_SQL: &str = "INSERT INTO deliveries
       (notification_id, channel, state, next_attempt_at, created_at, updated_at)
     VALUES ($1, $2, 'queued', $3, $4, $5)";

const WANTS_SQL: &str = "SELECT
       (SELECT enabled FROM notification_prefs
         WHERE user_id = $1 AND kind = $2 AND channel = $3) AS chosen,
       (SELECT verified_at IS NOT NULL AND ($3 <> 'email' OR email_unsubscribed_at IS NULL)
          FROM contacts WHERE user_id = $1 AND kind = $4) AS reachable";

/// The session as the texts need it, read on the transaction's connection.
pub async fn session_ref(
    conn: &mut AnyConnection,
    session_id: i64,
) -> Result<Option<SessionRef>, sqlx::Error> {
    let row = sqlx::query(SESSION_REF_SQL)
        .bind(session_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        let tz: String = r.try_get("timezone")?;
        Ok(SessionRef {
            id: r.try_get("id")?,
            title: r.try_get("title")?,
            starts_at: r.time("starts_at")?,
            minutes: r.try_get("minutes")?,
            tz: chrono_tz::Tz::from_str(&tz).unwrap_or(crate::schedule::DEFAULT_TZ),
        })
    })
    .transpose()
}

/// Store `event` for `user_id` and queue its deliveries. Returns the notification's id, or
/// `None` when the same event (same idempotency key) was stored before. Call it inside the
/// transaction of the change that causes the event.
pub async fn enqueue(
    conn: &mut AnyConnection,
    user_id: i64,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    enqueue_message(conn, user_id, &event.render(), now).await
}

/// [`enqueue`] for an already rendered message.
pub async fn enqueue_message(
    conn: &mut AnyConnection,
    user_id: i64,
    m: &Message,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    // the id, and whether the account verified any contact (most have not: then no delivery
    // is considered), in one statement — a round trip inside the change's write lock
    let stored: Option<(i64, i64)> = sqlx::query_as(INSERT_NOTIFICATION_SQL)
        .bind(user_id)
        .bind(m.kind)
        .bind(&m.key)
        .bind(&m.title)
        .bind(&m.body)
        .bind(&m.link)
        .bind(m.sms_template)
        .bind(Json(&m.sms_params))
        .bind(m.session_id)
        .bind((m.expires_at).map(crate::db::ts))
        .bind(crate::db::ts(now))
        .fetch_optional(&mut *conn)
        .await?;
    let Some((id, verified)) = stored else {
        return Ok(None);
    };
    if verified == 0 {
        return Ok(Some(id));
    }
    for channel in Channel::ALL {
        if wants(conn, user_id, m.kind, channel).await? {
            sqlx::query(INSERT_DELIVERY_SQL)
                .bind(id)
                .bind(channel)
                .bind(crate::db::ts(now))
                .bind(crate::db::ts(now))
                .bind(crate::db::ts(now))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(Some(id))
}

/// Whether `user_id` wants `kind` over `channel` now: its choice (or the kind's default),
/// a verified address, and for e-mail no unsubscription.
pub async fn wants(
    conn: &mut AnyConnection,
    user_id: i64,
    kind: Kind,
    channel: Channel,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(WANTS_SQL)
        .bind(user_id)
        .bind(kind)
        .bind(channel)
        .bind(channel.contact())
        .fetch_one(&mut *conn)
        .await?;
    let chosen: Option<bool> = row.time("chosen")?;
    let reachable: Option<bool> = row.time("reachable")?;
    Ok(reachable.unwrap_or(false) && chosen.unwrap_or_else(|| kind.default_on(channel)))
}

/// [`session_ref`] on the writer thread's connection.
pub(crate) fn session_ref_on(
    conn: &mut WriterConn<'_>,
    session_id: i64,
) -> Result<Option<SessionRef>, sqlx::Error> {
    conn.query_optional(SESSION_REF_SQL, &[session_id.into()])?
        .map(|r| {
            Ok(SessionRef {
                id: r.int(0)?,
                title: r.text(1)?.to_string(),
                starts_at: r.opt_time(2)?,
                minutes: r.int(3)?,
                tz: chrono_tz::Tz::from_str(r.text(4)?).unwrap_or(crate::schedule::DEFAULT_TZ),
            })
        })
        .transpose()
}

/// [`enqueue`] on the writer thread's connection (the same statements, the same rows).
pub(crate) fn enqueue_on(
    conn: &mut WriterConn<'_>,
    user_id: i64,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let m = event.render();
    let now_s = ts(now);
    let params =
        serde_json::to_string(&m.sms_params).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let expires = m.expires_at.map(ts);
    let stored = conn.query_optional(
        INSERT_NOTIFICATION_SQL,
        &[
            user_id.into(),
            m.kind.as_str().into(),
            (&m.key).into(),
            (&m.title).into(),
            (&m.body).into(),
            m.link.as_ref().into(),
            m.sms_template.into(),
            (&params).into(),
            m.session_id.into(),
            expires.as_ref().into(),
            (&now_s).into(),
        ],
    )?;
    let Some(row) = stored else {
        return Ok(None);
    };
    let id = row.int(0)?;
    if row.int(1)? == 0 {
        return Ok(Some(id));
    }
    for channel in Channel::ALL {
        let wants = conn.query_one(
            WANTS_SQL,
            &[
                user_id.into(),
                m.kind.as_str().into(),
                channel.as_str().into(),
                channel.contact().as_str().into(),
            ],
        )?;
        let chosen = wants.opt_int(0)?.map(|v| v != 0);
        let reachable = wants.opt_int(1)?.is_some_and(|v| v != 0);
        if reachable && chosen.unwrap_or_else(|| m.kind.default_on(channel)) {
            conn.execute(
                INSERT_DELIVERY_SQL,
                &[
                    id.into(),
                    channel.as_str().into(),
                    (&now_s).into(),
                    (&now_s).into(),
                    (&now_s).into(),
                ],
            )?;
        }
    }
    Ok(Some(id))
}

/// The enterprises with an active (confirmed or waitlisted) registration for a session, as
/// (enterprise user id, registration id, confirmed), in registration order: who hears about
/// a move, a cancellation or an organizer's message.
pub async fn active_registrants(
    conn: &mut AnyConnection,
    session_id: i64,
) -> Result<Vec<(i64, i64, bool)>, sqlx::Error> {
    let rows: Vec<(i64, i64, super::Flag)> = sqlx::query_as(
        "SELECT enterprise_id, id, status = 'confirmed' FROM registrations
         WHERE session_id = $1 AND status IN ('confirmed', 'waitlisted') ORDER BY id",
    )
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(e, r, c)| (e, r, c.0)).collect())
}

/// Drop the reminders of a session that are still waiting to be mailed or texted (the
/// session moved or was cancelled; the inbox keeps them, the move or cancellation notice
/// follows). `reason` is shown to organizers. Returns how many were dropped.
pub async fn skip_pending_reminders(
    conn: &mut AnyConnection,
    session_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'skipped', last_error = $1, updated_at = $2
         WHERE state = 'queued' AND notification_id IN
           (SELECT id FROM notifications WHERE session_id = $3 AND kind = 'reminder')",
    )
    .bind(reason)
    .bind(crate::db::ts(now))
    .bind(session_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// The server's signing secret (created by the migration).
pub async fn signing_secret(conn: &mut AnyConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'signing'")
        .fetch_one(&mut *conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[tokio::test]
    async fn the_same_event_is_stored_once_and_deliveries_follow_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, role, username, display_name, password_hash, created_at)
             VALUES (1, 'lawyer', 'l', 'L', 'x', $1)",
        )
        .bind(crate::db::ts(now))
        .execute(&mut *conn)
        .await
        .unwrap();
        let event = Event::CheckupReady {
            checkup_id: 3,
            level_zh: "中".into(),
        };
        // no verified contact: inbox only
        let first = enqueue(&mut conn, 1, &event, now).await.unwrap();
        assert!(first.is_some());
        assert_eq!(enqueue(&mut conn, 1, &event, now).await.unwrap(), None);
        let deliveries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(deliveries, 0);
        // a verified mobile: SMS only where the kind wants it by default
        sqlx::query(
            "INSERT INTO contacts (user_id, kind, value, verified_at, updated_at)
             VALUES (1, 'mobile', '13800000000', $1, $2), (1, 'email', 'a@example.cn', $3, $4)",
        )
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .bind(crate::db::ts(now))
        .execute(&mut *conn)
        .await
        .unwrap();
        let other = Event::CheckupReady {
            checkup_id: 4,
            level_zh: "中".into(),
        };
        enqueue(&mut conn, 1, &other, now).await.unwrap().unwrap();
        let channels: Vec<String> =
            sqlx::query_scalar("SELECT channel FROM deliveries ORDER BY channel")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        assert_eq!(channels, ["email"]);
        // the writer's copy of enqueue stores the same columns and the same deliveries
        let third = Event::CheckupReady {
            checkup_id: 5,
            level_zh: "中".into(),
        };
        let written = db
            .write(move |c| enqueue_on(c, 1, &third, now))
            .await
            .unwrap()
            .unwrap();
        let again = Event::CheckupReady {
            checkup_id: 5,
            level_zh: "中".into(),
        };
        let repeat = db.write(move |c| enqueue_on(c, 1, &again, now)).await;
        assert_eq!(repeat.unwrap(), None, "the same key is stored once");
        let pair: Vec<(String, String, String, String, crate::db::Ts, i64)> = sqlx::query_as(
            "SELECT n.kind, n.sms_template, n.sms_params, n.title, n.created_at,
                    (SELECT COUNT(*) FROM deliveries d WHERE d.notification_id = n.id)
             FROM notifications n WHERE n.id IN ($1, $2) ORDER BY n.id",
        )
        .bind(written - 1)
        .bind(written)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert_eq!(pair.len(), 2);
        assert_eq!(pair[0].0, pair[1].0);
        assert_eq!(pair[0].1, pair[1].1);
        assert_eq!(pair[0].2, pair[1].2);
        assert_eq!(pair[0].3, pair[1].3);
        assert_eq!((pair[0].4, pair[0].5), (pair[1].4, pair[1].5));
        let secret = signing_secret(&mut conn).await.unwrap();
        assert_eq!(secret.len(), 64);
    }
}
