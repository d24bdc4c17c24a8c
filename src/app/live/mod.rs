//! Live lectures: who may publish (the database-backed admission the RTMP and SRT ingest ask
//! before any media) and the stream keys organizers hand to lecturers.
//!
//! [`service`] runs the lives of this process.

pub mod service;
pub mod view;

use crate::clock::Clock;
use crate::db::Db;
use crate::media::live::ingest::admission::{decide, new_stream_key, Refusal, SessionFacts};
use crate::media::live::ingest::{
    key_label, Admission, AdmissionFuture, LiveRegistry, PublishRequest, Refused, Ticket,
};
use crate::media::live::ingest::{IncomingStream, StreamFormat};
use crate::media::live::packager::{
    ArrivalLog, InputFormat, LivePackager, LiveSummary, PackagerError, PackagerEvent,
    PackagerOptions, TimedReader,
};
use crate::schedule::DEFAULT_TZ;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

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

/// At startup: the lives a previous run of this server was running when it stopped (killed,
/// crashed, or shut down during a live or its grace period) are archived from what reached the
/// disk; their replay jobs are queued here.
pub async fn recover_interrupted(
    db: &Db,
    now: DateTime<Utc>,
    wake: &tokio::sync::Notify,
) -> Result<Vec<i64>, sqlx::Error> {
    let lives = db.recover_lives(now).await?;
    if !lives.is_empty() {
        tracing::warn!(
            ?lives,
            "lives interrupted by the last stop are archived from their journals"
        );
        wake.notify_waiters();
    }
    Ok(lives)
}

/// Where one live's files go: `{live_root}/{session_id}/{admitted at, ms since 1970}/`, so a
/// reconnect is a folder of its own.
pub fn live_dir(live_root: &Path, session_id: i64, admitted_at: SystemTime) -> PathBuf {
    let millis = admitted_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    live_root
        .join(session_id.to_string())
        .join(millis.to_string())
}

/// How one admitted stream ended.
#[derive(Debug)]
pub struct PackagedLive {
    pub session_id: i64,
    pub dir: PathBuf,
    pub outcome: Result<LiveSummary, PackagerError>,
}

/// Package every stream the ingest admits into live HLS under `live_root`, each on a blocking
/// thread, until the ingest closes `sink`; then wait for the lives still running and return
/// how each ended.
pub async fn package_streams(
    mut sink: mpsc::Receiver<IncomingStream>,
    live_root: PathBuf,
    options: PackagerOptions,
) -> Vec<PackagedLive> {
    let mut running = Vec::new();
    while let Some(stream) = sink.recv().await {
        let dir = live_dir(&live_root, stream.session_id, stream.admitted_at);
        let options = options.clone();
        running.push(tokio::task::spawn_blocking(move || {
            package_one(stream, dir, options)
        }));
    }
    let mut ended = Vec::with_capacity(running.len());
    for live in running {
        match live.await {
            Ok(live) => ended.push(live),
            Err(e) => tracing::error!(error = ?e, "a live packager thread failed"),
        }
    }
    ended
}

/// Package one stream until its publisher stops; the arrival times the ingest recorded become
/// the segments' PROGRAM-DATE-TIME.
fn package_one(stream: IncomingStream, dir: PathBuf, options: PackagerOptions) -> PackagedLive {
    let session_id = stream.session_id;
    let outcome = (|| {
        std::fs::create_dir_all(&dir).map_err(PackagerError::Io)?;
        let packager = LivePackager::new(&dir, options)?;
        let log = ArrivalLog::new();
        let arrivals = stream.arrivals.clone();
        let input = TimedReader::with_clock(stream.reader, log.clone(), move |offset| {
            arrivals.arrival_of(offset).unwrap_or_else(SystemTime::now)
        });
        let format = match stream.format {
            StreamFormat::Flv => InputFormat::Flv,
            StreamFormat::MpegTs => InputFormat::MpegTs,
        };
        packager.run(input, format, log, &mut |event| match event {
            PackagerEvent::Started { renditions, .. } => {
                tracing::info!(session = session_id, ?renditions, "live started");
            }
            PackagerEvent::RungDropped { rendition, lag_ms } => {
                tracing::warn!(session = session_id, %rendition, lag_ms, "live: the encoder fell behind, rung dropped");
            }
            PackagerEvent::Warning(w) => tracing::warn!(session = session_id, warning = %w, "live"),
            PackagerEvent::Finished { duration_s, segments } => {
                tracing::info!(session = session_id, duration_s, segments, "live ended");
            }
            _ => {}
        })
    })();
    if let Err(e) = &outcome {
        tracing::warn!(session = session_id, error = %e, "live packaging stopped");
    }
    PackagedLive {
        session_id,
        dir,
        outcome,
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

    /// A publisher streams over RTMP with the session's key; the database admission lets it
    /// in, the packager turns it into a ladder, and when the publisher stops the live has VOD
    /// playlists to publish the replay from. A second publisher with a wrong key gets nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publisher_with_the_key_is_packaged_into_a_ladder() {
        use crate::media::live::ingest::rtmp::RtmpIngest;
        use crate::media::live::ingest::IngestLimits;
        use std::sync::Arc;

        let start = Utc::now() + Duration::minutes(10);
        let (dir, db, session) = one_session(start).await;
        let clock = Clock::system();
        let key = stream_key(&db, clock.now(), session).await.expect("key");
        let admission: Arc<dyn Admission> = Arc::new(DbAdmission::new(db.clone(), clock));
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
        let live_root = dir.path().join("live");
        let packaging = tokio::spawn(package_streams(
            sink_rx,
            live_root.clone(),
            PackagerOptions::default(),
        ));
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
        let (good, bad) = tokio::join!(publish(key), publish("wrong-key".into()));
        assert!(good.expect("ffmpeg").success());
        assert!(!bad.expect("ffmpeg").success(), "a wrong key is refused");
        let _ = stop_tx.send(());
        ingest_task.await.expect("ingest");
        let ended = packaging.await.expect("packaging");
        assert_eq!(ended.len(), 1, "only the admitted publisher was packaged");
        let live = &ended[0];
        assert_eq!(live.session_id, session);
        let summary = live.outcome.as_ref().expect("packaged");
        assert!(summary.duration_s > 3.0, "{summary:?}");
        let master = std::fs::read_to_string(live.dir.join("master_vod.m3u8")).expect("master");
        assert!(master.contains("#EXT-X-STREAM-INF"), "{master}");
        let top = std::fs::read_to_string(live.dir.join("360p/vod.m3u8")).expect("top rung");
        assert!(
            top.contains("#EXT-X-ENDLIST") && top.contains("#EXT-X-PROGRAM-DATE-TIME"),
            "{top}"
        );
        let refused = db.live_refusals(session, 10).await.expect("log");
        assert!(
            refused.is_empty(),
            "the wrong key named no session: {refused:?}"
        );
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
