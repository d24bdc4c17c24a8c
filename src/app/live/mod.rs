//! Live lectures: who may publish (the database-backed admission the RTMP and SRT ingest ask
//! before any media) and the stream keys organizers hand to lecturers.
//!
//! [`service`] runs the lives of this process.

pub mod mirror;
pub mod service;
pub mod view;

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

/// How often a process writes the heartbeat of the lives it runs.
pub const LIVE_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);
/// A live whose heartbeat is older than this has lost its process.
pub const LIVE_STALE: std::time::Duration = std::time::Duration::from_secs(20);

/// At startup and then every [`LIVE_HEARTBEAT`]: the lives whose process stopped while
/// running them (killed, crashed, or shut down during a live or its grace period; their
/// heartbeat is older than [`LIVE_STALE`]) are archived from what reached the disk; their
/// replay jobs are queued here. Lives another replica is running are left alone, so a
/// replica starting never ends them; a server killed and restarted at once archives its own
/// lives once their heartbeat goes stale.
pub async fn recover_interrupted(
    db: &Db,
    now: DateTime<Utc>,
    wake: &tokio::sync::Notify,
) -> Result<Vec<i64>, sqlx::Error> {
    let stale_before = now
        - chrono::Duration::from_std(LIVE_STALE).unwrap_or_else(|_| chrono::Duration::seconds(20));
    let lives = db.recover_lives(now, stale_before).await?;
    if !lives.is_empty() {
        tracing::warn!(
            ?lives,
            "lives interrupted by the last stop are archived from their journals"
        );
        wake.notify_waiters();
    }
    Ok(lives)
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

    /// Before issue 18's heartbeat, any server starting marked every running live
    /// interrupted, also the lives another replica on the database was streaming.
    #[tokio::test]
    async fn only_lives_whose_heartbeat_went_stale_are_recovered() {
        let start = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 8, 6, 30, 0)
            .single()
            .expect("time");
        let (_dir, db, session) = one_session(start).await;
        let wake = tokio::sync::Notify::new();
        let t0 = start - Duration::minutes(5);
        let live = db
            .start_live(session, "rtmp", "flv", t0)
            .await
            .expect("start");
        // another replica keeps it alive
        db.beat_lives(&[live.id], t0 + Duration::seconds(30))
            .await
            .expect("beat");
        let now = t0 + Duration::seconds(40);
        assert_eq!(
            recover_interrupted(&db, now, &wake).await.expect("sweep"),
            Vec::<i64>::new(),
            "a live beating 10 s ago is running elsewhere"
        );
        assert_eq!(
            db.live(live.id).await.expect("row").expect("live").state,
            crate::db::live::LiveRowState::Live
        );
        // its process died: 25 s without a beat
        let later = t0 + Duration::seconds(55);
        assert_eq!(
            recover_interrupted(&db, later, &wake).await.expect("sweep"),
            vec![live.id]
        );
        assert_eq!(
            db.live(live.id).await.expect("row").expect("live").state,
            crate::db::live::LiveRowState::Interrupted
        );
        assert_eq!(
            recover_interrupted(&db, later, &wake).await.expect("sweep"),
            Vec::<i64>::new(),
            "recovered once"
        );
    }

    /// Several machines (issue 18): a worker without the live's working folder hands its
    /// replay job back, uncounted, and passes it over, so that a worker on the machine that
    /// ingested the live makes the replay instead of failing it.
    #[tokio::test]
    async fn a_replay_job_waits_for_the_machine_that_has_the_live() {
        use crate::media::storage::{LocalFs, SharedStorage};
        use crate::media::worker::Worker;
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;

        let start = Utc::now() + Duration::minutes(10);
        let (_dir, db, session) = one_session(start).await;
        let live = db
            .start_live(session, "rtmp", "flv", Utc::now())
            .await
            .expect("start");
        // its process is gone: the replay job is queued
        let recovered = db
            .recover_lives(Utc::now(), Utc::now() + Duration::minutes(1))
            .await
            .expect("recover");
        assert_eq!(recovered, vec![live.id]);
        // another machine: its media folder has no `live/…` of this live
        let elsewhere = tempfile::tempdir().expect("dir");
        let storage: SharedStorage = Arc::new(LocalFs::new(elsewhere.path()));
        let worker = Worker::new(
            db.clone(),
            storage,
            std::time::Duration::from_secs(60),
            Arc::new(tokio::sync::Notify::new()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let job = worker
            .run_one(&stop)
            .await
            .expect("run")
            .expect("the replay job");
        let row = db.job(job).await.expect("db").expect("job");
        assert_eq!(row.kind, "live_archive");
        assert_eq!(row.state, crate::db::jobs::JobState::Queued, "handed back");
        assert_eq!(row.attempts, 0, "the attempt is not counted");
        assert_eq!(
            worker.run_one(&stop).await.expect("run"),
            None,
            "passed over by this worker"
        );
        assert_eq!(
            db.claim_job("ingesting-machine")
                .await
                .expect("claim")
                .map(|j| j.id),
            Some(job),
            "another worker still gets it"
        );
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

    /// A publisher streams over RTMP with the session's key; the database admission lets it
    /// in, the packager turns it into a ladder, and when the publisher stops the live has VOD
    /// playlists to publish the replay from. A second publisher with a wrong key gets nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publisher_with_the_key_goes_live_and_its_replay_is_queued_after_grace() {
        use crate::app::live::service::{LivePhase, LiveService, LiveSettings};
        use crate::db::live::LiveRowState;
        use crate::media::live::ingest::rtmp::RtmpIngest;
        use crate::media::live::ingest::IngestLimits;
        use crate::media::storage::{LocalFs, SharedStorage};
        use std::sync::Arc;
        use tokio::sync::mpsc;

        let start = Utc::now() + Duration::minutes(10);
        let (dir, db, session) = one_session(start).await;
        let clock = Clock::system();
        let key = stream_key(&db, clock.now(), session).await.expect("key");
        let admission: Arc<dyn Admission> = Arc::new(DbAdmission::new(db.clone(), clock.clone()));
        let ingest = RtmpIngest::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let port = ingest.local_addr().expect("addr").port();
        let (sink_tx, sink_rx) = mpsc::channel(4);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let ingest_task =
            tokio::spawn(
                ingest.run(admission, sink_tx, IngestLimits::default(), async {
                    let _ = stop_rx.await;
                }),
            );
        let media = dir.path().join("media");
        let storage: SharedStorage = Arc::new(LocalFs::new(media.clone()));
        let settings = LiveSettings {
            grace: std::time::Duration::from_secs(1),
            ..LiveSettings::default()
        };
        let wake = Arc::new(tokio::sync::Notify::new());
        let service = LiveService::new(db.clone(), clock, storage, settings, wake);
        let running = tokio::spawn(service.clone().run(sink_rx));
        let publish = |key: String| {
            tokio::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-re"])
                .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
                .args(["-f", "lavfi", "-i", "sine=frequency=440"])
                .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "50"])
                .args(["-c:a", "aac", "-t", "5", "-f", "flv"])
                .arg(format!("rtmp://127.0.0.1:{port}/live/{key}"))
                .kill_on_drop(true)
                .status()
        };
        let watch_live = async {
            for _ in 0..200 {
                if service
                    .current(session)
                    .is_some_and(|l| l.phase == LivePhase::Live)
                {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            false
        };
        let (good, bad, seen_live) =
            tokio::join!(publish(key), publish("wrong-key".into()), watch_live);
        assert!(good.expect("ffmpeg").success());
        assert!(!bad.expect("ffmpeg").success(), "a wrong key is refused");
        assert!(seen_live, "the session was live while publishing");
        // grace runs out: the live ends and its replay job is queued
        let mut ended = None;
        for _ in 0..100 {
            match service.current(session) {
                Some(l) if l.phase == LivePhase::Ended => {
                    ended = Some(l);
                    break;
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let ended = ended.expect("the live ended after grace");
        assert!(ended.hub.is_ended());
        assert!(ended.hub.duration_s() > 3.0, "{}", ended.hub.duration_s());
        // the hub ends first, then the transaction that archives the live commits
        let mut row = None;
        for _ in 0..50 {
            let r = db
                .latest_live(session)
                .await
                .expect("db")
                .expect("live row");
            if r.state == LiveRowState::Archiving {
                row = Some(r);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let row = row.expect("the live is archiving");
        assert_eq!(db.live_periods(row.id).await.expect("periods").len(), 1);
        let job = db.claim_job("test").await.expect("db").expect("replay job");
        assert_eq!(
            (job.kind.as_str(), job.live_id),
            ("live_archive", Some(row.id))
        );
        let period = media.join(&row.dir).join("0");
        assert!(
            period.join("ingest.flv").is_file(),
            "the journal was written"
        );
        let top = std::fs::read_to_string(period.join("360p/vod.m3u8")).expect("top rung");
        assert!(
            top.contains("#EXT-X-ENDLIST") && top.contains("#EXT-X-PROGRAM-DATE-TIME"),
            "{top}"
        );
        let refused = db.live_refusals(session, 10).await.expect("log");
        assert!(
            refused.is_empty(),
            "the wrong key named no session: {refused:?}"
        );
        let _ = stop_tx.send(());
        ingest_task.await.expect("ingest");
        running.await.expect("service");
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
