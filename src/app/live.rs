//! Live lectures: who may publish (the database-backed admission the RTMP and SRT ingest ask
//! before any media) and the stream keys organizers hand to lecturers.
//!
//! Not yet wired into `pufa serve` (see docs/design/live.md for the plan).

use crate::clock::Clock;
use crate::db::Db;
use crate::media::live::ingest::admission::{decide, new_stream_key, Refusal, SessionFacts};
use crate::media::live::ingest::{
    key_label, Admission, AdmissionFuture, LiveRegistry, PublishRequest, Refused, Ticket,
};
use crate::schedule::DEFAULT_TZ;
use chrono::{DateTime, Utc};

/// The session's stream key, created on first use.
pub async fn stream_key(
    db: &Db,
    now: DateTime<Utc>,
    session_id: i64,
) -> Result<String, sqlx::Error> {
    db.ensure_stream_key(session_id, &new_stream_key(), now)
        .await
}

/// Replace the session's stream key (when it leaked); the old key is refused from now on with
/// "the key was replaced".
pub async fn rotate_stream_key(
    db: &Db,
    now: DateTime<Utc>,
    session_id: i64,
) -> Result<String, sqlx::Error> {
    db.rotate_stream_key(session_id, &new_stream_key(), now)
        .await
}

/// The facts [`decide`] needs about the session a presented key belongs to.
async fn facts_for_key(db: &Db, key: &str) -> Result<Option<SessionFacts>, sqlx::Error> {
    let Some(keys) = db.keys_by_stream_key(key).await? else {
        return Ok(None);
    };
    let Some(session) = db.session(keys.session_id).await? else {
        return Ok(None);
    };
    Ok(Some(SessionFacts {
        session_id: session.id,
        current_key: keys.current,
        previous_keys: keys.retired,
        cancelled: session.is_cancelled(),
        starts_at: session.starts_at,
        minutes: session.minutes,
        tz: session.tz(),
    }))
}

/// Admits publishers against the database: the key must be a session's current key, the
/// session placed, not cancelled and within its publishing window, and nobody else live on
/// it in this process. Every refusal is logged (with a hash of the key, never the key) and
/// recorded for the organizer.
pub struct DbAdmission {
    db: Db,
    clock: Clock,
    live: LiveRegistry,
}

impl DbAdmission {
    pub fn new(db: Db, clock: Clock) -> DbAdmission {
        DbAdmission {
            db,
            clock,
            live: LiveRegistry::default(),
        }
    }

    /// The sessions live in this process.
    pub fn live(&self) -> &LiveRegistry {
        &self.live
    }

    async fn decide(&self, request: &PublishRequest) -> Result<Ticket, Refused> {
        let facts = match facts_for_key(&self.db, &request.key).await {
            Ok(facts) => facts,
            Err(e) => {
                tracing::error!(error = ?e, key = %key_label(&request.key), "live admission: database unavailable");
                return Err(Refused::bare(Refusal::Unavailable));
            }
        };
        let tz = facts.as_ref().map_or(DEFAULT_TZ, |f| f.tz);
        let session_id = facts.as_ref().map(|f| f.session_id);
        let refused = |reason| Refused {
            reason,
            session_id,
            tz,
        };
        // claim first, so that two publishers racing on one key cannot both pass
        let claim = session_id.and_then(|id| self.live.try_claim(id));
        let id = decide(
            &request.key,
            facts.as_ref(),
            claim.is_none(),
            self.clock.now(),
        )
        .map_err(refused)?;
        match claim {
            Some(claim) => Ok(Ticket {
                session_id: id,
                claim,
            }),
            None => Err(refused(Refusal::AlreadyLive)),
        }
    }
}

impl Admission for DbAdmission {
    fn admit<'a>(&'a self, request: &'a PublishRequest) -> AdmissionFuture<'a> {
        Box::pin(async move {
            let outcome = self.decide(request).await;
            if let Err(refused) = &outcome {
                let recorded = self
                    .db
                    .record_live_refusal(
                        refused.session_id,
                        request.protocol.as_str(),
                        refused.reason.code(),
                        &request.remote.ip().to_string(),
                        self.clock.now(),
                    )
                    .await;
                if let Err(e) = recorded {
                    tracing::warn!(error = ?e, "live admission: could not record a refusal");
                }
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::live::ingest::Protocol;
    use crate::schedule::{validate_program, validate_session, ProgramInput, SessionInput};
    use chrono::Duration;

    /// A database with one placed session starting at `start`; returns it and the session id.
    async fn one_session(start: DateTime<Utc>) -> (tempfile::TempDir, Db, i64) {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(dir.path()).await.expect("db");
        let program = validate_program(&ProgramInput {
            title: "直播测试项目（示例）".into(),
            starts_on: "2026-12-01".into(),
            ends_on: "2026-12-31".into(),
            timezone: DEFAULT_TZ.name().into(),
            slots: vec![crate::schedule::SlotSpec {
                weekday: 2,
                start: "14:30".into(),
                minutes: 90,
            }],
            ..Default::default()
        })
        .expect("program");
        let program_id = db.insert_program(&program, start).await.expect("insert");
        let mut input = SessionInput {
            title: "直播测试课程".into(),
            category: "合同管理".into(),
            minutes: 90,
            capacity: 10,
            ..Default::default()
        };
        input.lecturer.name = "示例律师".into();
        input.lecturer.firm = "示例律师事务所".into();
        let valid = validate_session(&input, program.calendar.timezone).expect("session");
        let id = db
            .insert_session(program_id, &valid, start)
            .await
            .expect("insert");
        db.apply_placements(&[(id, start)], start)
            .await
            .expect("place");
        (dir, db, id)
    }

    fn request(key: &str) -> PublishRequest {
        PublishRequest {
            key: key.into(),
            protocol: Protocol::Rtmp,
            remote: "127.0.0.1:50000".parse().expect("addr"),
        }
    }

    #[tokio::test]
    async fn the_current_key_is_admitted_once_and_other_keys_are_refused_and_recorded() {
        let start = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 8, 6, 30, 0)
            .single()
            .expect("time");
        let (_dir, db, session) = one_session(start).await;
        let clock = Clock::manual(start - Duration::minutes(30));
        let admission = DbAdmission::new(db.clone(), clock.clone());
        let key = stream_key(&db, clock.now(), session).await.expect("key");
        assert_eq!(
            stream_key(&db, clock.now(), session).await.expect("key"),
            key,
            "the key is stable until rotated"
        );
        assert!(key.len() >= 22, "at least 128 random bits");

        let ticket = admission.admit(&request(&key)).await.expect("admitted");
        assert_eq!(ticket.session_id, session);
        let second = admission.admit(&request(&key)).await.expect_err("refused");
        assert_eq!(second.reason, Refusal::AlreadyLive);
        drop(ticket);

        let unknown = admission
            .admit(&request("nope"))
            .await
            .expect_err("refused");
        assert_eq!(
            (unknown.reason, unknown.session_id),
            (Refusal::UnknownKey, None)
        );

        let fresh = rotate_stream_key(&db, clock.now(), session)
            .await
            .expect("rotate");
        assert_ne!(fresh, key);
        let old = admission.admit(&request(&key)).await.expect_err("refused");
        assert_eq!(old.reason, Refusal::RotatedKey);

        clock.set(start - Duration::minutes(61));
        let early = admission
            .admit(&request(&fresh))
            .await
            .expect_err("refused");
        assert!(matches!(early.reason, Refusal::TooEarly { .. }));
        clock.set(start + Duration::minutes(90 + 60));
        assert!(
            admission.admit(&request(&fresh)).await.is_ok(),
            "last minute of the window"
        );

        let log = db.live_refusals(session, 10).await.expect("log");
        let reasons: Vec<&str> = log.iter().map(|r| r.reason.as_str()).collect();
        // newest first by the clock's time: the too-early attempt was made at the earliest time
        assert_eq!(reasons, ["rotated_key", "already_live", "too_early"]);
        assert!(log
            .iter()
            .all(|r| r.protocol == "rtmp" && r.remote == "127.0.0.1"));
    }

    #[tokio::test]
    async fn a_cancelled_session_is_refused() {
        let start = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 8, 6, 30, 0)
            .single()
            .expect("time");
        let (_dir, db, session) = one_session(start).await;
        let clock = Clock::manual(start);
        let admission = DbAdmission::new(db.clone(), clock.clone());
        let key = stream_key(&db, clock.now(), session).await.expect("key");
        db.cancel_session(session, clock.now())
            .await
            .expect("cancel");
        let refused = admission.admit(&request(&key)).await.expect_err("refused");
        assert_eq!(refused.reason, Refusal::Cancelled);
    }
}
