//! The admission rule for a publish attempt, as a pure function over plain facts: may this
//! stream key go live now? Plus the stream-key generator and a small in-memory [`Admission`]
//! built on the rule (tests; the database-backed one lives with the use case).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::{Admission, AdmissionFuture, LiveRegistry, PublishRequest, Refused, Ticket};

/// A publisher may start this many minutes before the scheduled start.
pub const OPENS_BEFORE_START_MINUTES: i64 = 60;
/// … and until this many minutes after the scheduled end.
pub const CLOSES_AFTER_END_MINUTES: i64 = 60;

/// What the rule needs to know about the session a presented key was looked up for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    pub session_id: i64,
    /// The session's current secret stream key.
    pub current_key: String,
    /// Keys the session had before a rotation; presenting one gives [`Refusal::RotatedKey`].
    pub previous_keys: Vec<String>,
    pub cancelled: bool,
    /// `None`: not placed on the calendar yet.
    pub starts_at: Option<DateTime<Utc>>,
    pub minutes: i64,
    /// The program's time zone, for the times in the Chinese message.
    pub tz: Tz,
}

/// Why a publish attempt is refused. The first seven come from [`decide`]; the last two from
/// the ingest itself (a wrong RTMP application or SRT mode; the admission could not be asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownKey,
    RotatedKey,
    Cancelled,
    Unplaced,
    TooEarly {
        opens_at: DateTime<Utc>,
    },
    TooLate {
        closed_at: DateTime<Utc>,
    },
    AlreadyLive,
    /// RTMP application other than `live`, or an SRT caller that wants to play, not publish.
    WrongPath,
    /// The admission could not decide (database unavailable, server shutting down).
    Unavailable,
}

impl Refusal {
    /// A stable code for logs, metrics and the organizer's refusal log.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownKey => "unknown_key",
            Refusal::RotatedKey => "rotated_key",
            Refusal::Cancelled => "cancelled",
            Refusal::Unplaced => "unplaced",
            Refusal::TooEarly { .. } => "too_early",
            Refusal::TooLate { .. } => "too_late",
            Refusal::AlreadyLive => "already_live",
            Refusal::WrongPath => "wrong_path",
            Refusal::Unavailable => "unavailable",
        }
    }

    /// The Chinese message a lecturer or organizer sees; times in `tz`.
    pub fn message_zh(&self, tz: Tz) -> String {
        let at = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        match self {
            Refusal::UnknownKey => "推流码无效，请核对推流地址中的推流码".into(),
            Refusal::RotatedKey => "推流码已更换，请使用组织者提供的新推流码".into(),
            Refusal::Cancelled => "该场讲座已取消，不能直播".into(),
            Refusal::Unplaced => "该场讲座尚未排定时间，不能直播".into(),
            Refusal::TooEarly { opens_at } => {
                format!("尚未到直播时间，推流将于 {} 开放", at(opens_at))
            }
            Refusal::TooLate { closed_at } => {
                format!("直播时段已结束（推流截止于 {}）", at(closed_at))
            }
            Refusal::AlreadyLive => "该推流码已有推流正在直播，请先停止另一路推流".into(),
            Refusal::WrongPath => "推流地址有误：RTMP 应为 rtmp://主机/live/推流码，SRT 应为 srt://主机:端口?streamid=推流码".into(),
            Refusal::Unavailable => "服务器暂时无法接受推流，请稍后重试".into(),
        }
    }

    /// English text for the server log (never contains the key).
    pub fn log_text(&self) -> String {
        match self {
            Refusal::UnknownKey => "unknown stream key".into(),
            Refusal::RotatedKey => "stream key was rotated (a previous key)".into(),
            Refusal::Cancelled => "session is cancelled".into(),
            Refusal::Unplaced => "session is not placed on the calendar".into(),
            Refusal::TooEarly { opens_at } => {
                format!("too early: publishing opens at {}", opens_at.to_rfc3339())
            }
            Refusal::TooLate { closed_at } => {
                format!("too late: publishing closed at {}", closed_at.to_rfc3339())
            }
            Refusal::AlreadyLive => "a publisher is already live on this key".into(),
            Refusal::WrongPath => "wrong application or mode (expected live/{key}, publish)".into(),
            Refusal::Unavailable => "admission unavailable".into(),
        }
    }
}

/// The publishing window of a placed session: from [`OPENS_BEFORE_START_MINUTES`] before the
/// start until [`CLOSES_AFTER_END_MINUTES`] after the scheduled end, both edges included.
pub fn window(starts_at: DateTime<Utc>, minutes: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let opens = starts_at - Duration::minutes(OPENS_BEFORE_START_MINUTES);
    let closes = starts_at + Duration::minutes(minutes.max(0) + CLOSES_AFTER_END_MINUTES);
    (opens, closes)
}

/// The rule. `session` is what the key lookup found: the session whose current *or previous*
/// key equals `presented` (`None`: no session knows it). `already_live`: a publisher is live on
/// that session now. Checks in order: key, cancelled, placed, window, already live. Keys are
/// compared in constant time.
pub fn decide(
    presented: &str,
    session: Option<&SessionFacts>,
    already_live: bool,
    now: DateTime<Utc>,
) -> Result<i64, Refusal> {
    let Some(s) = session else {
        return Err(Refusal::UnknownKey);
    };
    if !constant_time_eq(presented.as_bytes(), s.current_key.as_bytes()) {
        let rotated = s.previous_keys.iter().fold(false, |hit, k| {
            hit | constant_time_eq(presented.as_bytes(), k.as_bytes())
        });
        return Err(if rotated {
            Refusal::RotatedKey
        } else {
            Refusal::UnknownKey
        });
    }
    if s.cancelled {
        return Err(Refusal::Cancelled);
    }
    let Some(starts_at) = s.starts_at else {
        return Err(Refusal::Unplaced);
    };
    let (opens_at, closed_at) = window(starts_at, s.minutes);
    if now < opens_at {
        return Err(Refusal::TooEarly { opens_at });
    }
    if now > closed_at {
        return Err(Refusal::TooLate { closed_at });
    }
    if already_live {
        return Err(Refusal::AlreadyLive);
    }
    Ok(s.session_id)
}

/// Equal length and equal bytes, without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new secret stream key: 256 random bits, URL-safe base64 without padding (43 characters
/// from `[A-Za-z0-9_-]`), safe in `rtmp://…/live/{key}` and `srt://…?streamid={key}`.
pub fn new_stream_key() -> String {
    crate::accounts::random_token()
}

/// An [`Admission`] over sessions held in memory, deciding with [`decide`] and tracking live
/// publishers in a [`LiveRegistry`]. For tests and experiments.
pub struct MemoryAdmission {
    sessions: Mutex<HashMap<i64, SessionFacts>>,
    live: LiveRegistry,
    now: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl MemoryAdmission {
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        MemoryAdmission {
            sessions: Mutex::new(HashMap::new()),
            live: LiveRegistry::default(),
            now: Box::new(now),
        }
    }

    /// Add or replace a session.
    pub fn insert(&self, facts: SessionFacts) {
        self.lock().insert(facts.session_id, facts);
    }

    /// The live publishers' registry (to see who is live).
    pub fn live(&self) -> &LiveRegistry {
        &self.live
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, SessionFacts>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, key: &str) -> Option<SessionFacts> {
        self.lock()
            .values()
            .find(|s| s.current_key == key || s.previous_keys.iter().any(|k| k == key))
            .cloned()
    }
}

impl Admission for MemoryAdmission {
    fn admit<'a>(&'a self, request: &'a PublishRequest) -> AdmissionFuture<'a> {
        Box::pin(async move {
            let facts = self.lookup(&request.key);
            let tz = facts.as_ref().map_or(crate::schedule::DEFAULT_TZ, |f| f.tz);
            let session_id = facts.as_ref().map(|f| f.session_id);
            let refused = |reason| Refused {
                reason,
                session_id,
                tz,
            };
            // Claim first, so that two publishers racing on one key cannot both pass.
            let claim = session_id.and_then(|id| self.live.try_claim(id));
            let id = decide(&request.key, facts.as_ref(), claim.is_none(), (self.now)())
                .map_err(refused)?;
            match claim {
                Some(claim) => Ok(Ticket {
                    session_id: id,
                    claim,
                }),
                None => Err(refused(Refusal::AlreadyLive)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, h, m, s).unwrap()
    }

    fn facts() -> SessionFacts {
        SessionFacts {
            session_id: 7,
            current_key: "k-current".into(),
            previous_keys: vec!["k-old".into()],
            cancelled: false,
            // 10:00–11:30 UTC; window 09:00–12:30.
            starts_at: Some(t(10, 0, 0)),
            minutes: 90,
            tz: crate::schedule::DEFAULT_TZ,
        }
    }

    #[test]
    fn window_edges_are_inclusive() {
        let f = facts();
        assert_eq!(decide("k-current", Some(&f), false, t(9, 0, 0)), Ok(7));
        assert_eq!(
            decide("k-current", Some(&f), false, t(8, 59, 59)),
            Err(Refusal::TooEarly {
                opens_at: t(9, 0, 0)
            })
        );
        assert_eq!(decide("k-current", Some(&f), false, t(12, 30, 0)), Ok(7));
        assert_eq!(
            decide("k-current", Some(&f), false, t(12, 30, 1)),
            Err(Refusal::TooLate {
                closed_at: t(12, 30, 0)
            })
        );
        assert_eq!(decide("k-current", Some(&f), false, t(10, 45, 0)), Ok(7));
    }

    #[test]
    fn unknown_and_rotated_keys() {
        let f = facts();
        assert_eq!(
            decide("nope", None, false, t(10, 0, 0)),
            Err(Refusal::UnknownKey)
        );
        assert_eq!(
            decide("k-curren", Some(&f), false, t(10, 0, 0)),
            Err(Refusal::UnknownKey)
        );
        assert_eq!(
            decide("k-old", Some(&f), false, t(10, 0, 0)),
            Err(Refusal::RotatedKey)
        );
        // A rotated key is refused even while a publisher is live on the current one.
        assert_eq!(
            decide("k-old", Some(&f), true, t(10, 0, 0)),
            Err(Refusal::RotatedKey)
        );
    }

    #[test]
    fn cancelled_unplaced_and_already_live() {
        let mut f = facts();
        assert_eq!(
            decide("k-current", Some(&f), true, t(10, 0, 0)),
            Err(Refusal::AlreadyLive)
        );
        f.starts_at = None;
        assert_eq!(
            decide("k-current", Some(&f), false, t(10, 0, 0)),
            Err(Refusal::Unplaced)
        );
        f.cancelled = true;
        assert_eq!(
            decide("k-current", Some(&f), false, t(10, 0, 0)),
            Err(Refusal::Cancelled)
        );
    }

    #[test]
    fn outside_the_window_wins_over_already_live() {
        let f = facts();
        assert!(matches!(
            decide("k-current", Some(&f), true, t(13, 0, 0)),
            Err(Refusal::TooLate { .. })
        ));
    }

    #[test]
    fn messages_name_the_time_in_the_program_zone() {
        let r = Refusal::TooEarly {
            opens_at: t(9, 0, 0),
        };
        // 09:00 UTC is 17:00 in Shanghai.
        assert!(r
            .message_zh(crate::schedule::DEFAULT_TZ)
            .contains("2025-03-10 17:00"));
        assert!(r.log_text().contains("2025-03-10T09:00:00"));
        for r in [
            Refusal::UnknownKey,
            Refusal::RotatedKey,
            Refusal::Cancelled,
            Refusal::Unplaced,
            Refusal::TooLate {
                closed_at: t(1, 0, 0),
            },
            Refusal::AlreadyLive,
            Refusal::WrongPath,
            Refusal::Unavailable,
        ] {
            assert!(!r.message_zh(crate::schedule::DEFAULT_TZ).is_empty());
            assert!(!r.log_text().is_empty());
            assert!(!r.code().is_empty());
        }
    }

    #[test]
    fn stream_keys_are_long_random_and_url_safe() {
        let a = new_stream_key();
        let b = new_stream_key();
        assert_ne!(a, b);
        assert!(a.len() >= 22, "at least 128 bits in base64");
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[tokio::test]
    async fn memory_admission_claims_until_the_ticket_drops() {
        let adm = MemoryAdmission::new(|| t(10, 0, 0));
        adm.insert(facts());
        let req = PublishRequest {
            key: "k-current".into(),
            protocol: super::super::Protocol::Rtmp,
            remote: "127.0.0.1:1".parse().unwrap(),
        };
        let ticket = adm.admit(&req).await.unwrap();
        assert_eq!(ticket.session_id, 7);
        assert!(adm.live().is_live(7));
        let again = adm.admit(&req).await.unwrap_err();
        assert_eq!(again.reason, Refusal::AlreadyLive);
        assert_eq!(again.session_id, Some(7));
        drop(ticket);
        assert!(!adm.live().is_live(7));
        assert!(adm.admit(&req).await.is_ok());
    }
}
