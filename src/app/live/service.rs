//! The lives running in this process: each admitted publisher becomes a period of a live,
//! packaged on a blocking thread into the live's hub; a publisher that goes away leaves the
//! live in grace; when grace runs out the replay job is queued. Viewers are counted here.
//!
//! ```text
//! ingest ──IncomingStream──► run() ─► start or continue the live (db: lives, live_periods)
//!                                      └► blocking thread: ChannelReader ─► JournalTee ─►
//!                                         TimedReader ─► LivePackager ─events─► LiveHub
//! packager returns ─► period ended ─► grace (db) ─► timer ─┬ reconnect: new period, same live
//!                                                          └ expired: hub.end(), archive job
//! ```
//!
//! The database is the record (a restart finds lives still `live`/`grace` and archives them,
//! see [`super::recover_interrupted`]); this module holds what only a running process has: the
//! hubs, the packagers' status and the viewers.

use crate::clock::Clock;
use crate::db::live::LiveRow;
use crate::db::Db;
use crate::media::live::hub::{HubOptions, LiveHub};
use crate::media::live::ingest::{IncomingStream, StreamFormat};
use crate::media::live::journal::JournalTee;
use crate::media::live::packager::{
    ArrivalLog, InputFormat, LivePackager, LiveStatus, PackagerError, PackagerEvent,
    PackagerOptions, TimedReader,
};
use crate::media::storage::SharedStorage;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, watch, Notify};

/// How lives are run and announced.
#[derive(Clone, Debug)]
pub struct LiveSettings {
    /// How long a live waits for its publisher to come back before it ends.
    pub grace: Duration,
    /// Publishing URL without the key, e.g. `rtmp://host:1935/live/`; `None` when RTMP is off.
    pub rtmp_base: Option<String>,
    /// SRT URL without the stream id, e.g. `srt://host:9710`; `None` when SRT is off.
    pub srt_base: Option<String>,
    pub packager: PackagerOptions,
    pub hub: HubOptions,
    /// Copy every live's playlists and segments into the media storage for the other
    /// replicas ([`super::mirror`]).
    pub mirror: bool,
}

impl Default for LiveSettings {
    fn default() -> Self {
        let hub = HubOptions::default();
        Self {
            grace: Duration::from_secs(30),
            rtmp_base: None,
            srt_base: None,
            packager: PackagerOptions {
                part_target: hub.part_target,
                segment_target: hub.segment_target,
                window: Some(hub.window),
                ..PackagerOptions::default()
            },
            hub,
            mirror: false,
        }
    }
}

/// Where a live of this process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LivePhase {
    /// A publisher is streaming.
    Live,
    /// The publisher went away; waiting for a reconnect.
    Grace,
    /// Over; the replay is being made (the hub still serves the ended playlists).
    Ended,
}

/// A live of this process as the pages and the API see it.
#[derive(Clone, Debug)]
pub struct LiveSnapshot {
    pub live_id: i64,
    pub session_id: i64,
    pub lecture_id: i64,
    pub phase: LivePhase,
    pub started_at: DateTime<Utc>,
    /// When the publisher went away (grace) or the live ended.
    pub ended_at: Option<DateTime<Utc>>,
    pub hub: LiveHub,
    /// The current period's packager status (bitrate, fps, rungs, lag).
    pub status: LiveStatus,
    /// Distinct viewers who fetched a playlist in the last 15 s.
    pub viewers: usize,
    pub peak_viewers: usize,
    /// Rungs the real-time guard dropped, with the lag that made it drop them (ms).
    pub dropped_rungs: Vec<(String, u64)>,
}

/// What serving a live's files needs, without the figures [`LiveSnapshot`] gathers (this is
/// asked on every playlist, segment and part request).
#[derive(Clone, Debug)]
pub struct ServingLive {
    pub live_id: i64,
    pub lecture_id: i64,
    pub phase: LivePhase,
    pub hub: LiveHub,
}

/// A viewer counts as watching this long after the last playlist it fetched.
const VIEWER_TTL: Duration = Duration::from_secs(15);
/// How often viewers are sampled into the database (the organizer's chart).
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// An ended live stays in memory this long (its ended playlists keep working while the
/// replay is made and players switch over).
const KEEP_ENDED: Duration = Duration::from_secs(600);

struct Entry {
    row: LiveRow,
    phase: LivePhase,
    ended_at: Option<DateTime<Utc>>,
    ended_instant: Option<Instant>,
    hub: LiveHub,
    /// The period whose packager feeds the live now (the latest one).
    current_period: u32,
    status: Option<watch::Receiver<LiveStatus>>,
    viewers: HashMap<u64, Instant>,
    /// Viewers other replicas saw in the last [`VIEWER_TTL`] (from the mirror; refreshed with
    /// the heartbeat).
    remote_viewers: std::collections::HashSet<u64>,
    peak_viewers: usize,
    dropped_rungs: Vec<(String, u64)>,
    /// Bumped whenever the live leaves grace, so that a stale grace timer does nothing.
    grace_generation: u64,
    /// The live's mirror for other replicas ([`super::mirror`]); it ends after writing the
    /// ended playlists, which the replay job waits for (it deletes the mirror once published).
    mirror: Option<tokio::task::JoinHandle<()>>,
}

impl Entry {
    fn count_viewers(&mut self, now: Instant) -> usize {
        self.viewers
            .retain(|_, seen| now.duration_since(*seen) < VIEWER_TTL);
        // a viewer whose requests reach several replicas counts once
        let n = self.viewers.len()
            + self
                .remote_viewers
                .iter()
                .filter(|v| !self.viewers.contains_key(v))
                .count();
        self.peak_viewers = self.peak_viewers.max(n);
        n
    }
}

struct Inner {
    db: Db,
    clock: Clock,
    storage: SharedStorage,
    settings: LiveSettings,
    /// Wakes the workers when a replay job is queued.
    wake: Arc<Notify>,
    lives: Mutex<HashMap<i64, Entry>>,
    /// Viewers of lives other replicas ingest, seen here since the last heartbeat, by live.
    mirrored_viewers: Mutex<HashMap<i64, std::collections::HashSet<u64>>>,
}

/// The lives of this process. Cheap to clone.
#[derive(Clone)]
pub struct LiveService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LiveService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveService")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl LiveService {
    pub fn new(
        db: Db,
        clock: Clock,
        storage: SharedStorage,
        settings: LiveSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                storage,
                settings,
                wake,
                lives: Mutex::new(HashMap::new()),
                mirrored_viewers: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn settings(&self) -> &LiveSettings {
        &self.inner.settings
    }

    /// The media storage (where lives are mirrored).
    pub fn storage(&self) -> &SharedStorage {
        &self.inner.storage
    }

    fn lives(&self) -> MutexGuard<'_, HashMap<i64, Entry>> {
        // a panic while holding the lock leaves plain data behind; keep serving it
        self.inner
            .lives
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session's live in this process (live, in grace, or ended and not yet archived).
    pub fn current(&self, session_id: i64) -> Option<LiveSnapshot> {
        let now = Instant::now();
        let mut lives = self.lives();
        let e = lives.get_mut(&session_id)?;
        let viewers = e.count_viewers(now);
        Some(LiveSnapshot {
            live_id: e.row.id,
            session_id,
            lecture_id: e.row.lecture_id,
            phase: e.phase,
            started_at: e.row.started_at,
            ended_at: e.ended_at,
            hub: e.hub.clone(),
            status: e
                .status
                .as_ref()
                .map(|s| s.borrow().clone())
                .unwrap_or_default(),
            viewers,
            peak_viewers: e.peak_viewers,
            dropped_rungs: e.dropped_rungs.clone(),
        })
    }

    /// Lives not yet ended in this process, and their distinct viewers of the last 15 s
    /// (for `/metrics`).
    pub fn viewer_totals(&self) -> (usize, usize) {
        let now = Instant::now();
        let mut lives = self.lives();
        lives
            .values_mut()
            .filter(|e| e.phase != LivePhase::Ended)
            .fold((0, 0), |(n, v), e| (n + 1, v + e.count_viewers(now)))
    }

    /// The session's live in this process, for serving its files.
    pub fn serving(&self, session_id: i64) -> Option<ServingLive> {
        self.lives().get(&session_id).map(|e| ServingLive {
            live_id: e.row.id,
            lecture_id: e.row.lecture_id,
            phase: e.phase,
            hub: e.hub.clone(),
        })
    }

    /// `viewer` (a stable, non-personal key: a hash of the login session or the address)
    /// fetched a playlist of the session's live.
    pub fn touch_viewer(&self, session_id: i64, viewer: u64) {
        if let Some(e) = self.lives().get_mut(&session_id) {
            if e.phase != LivePhase::Ended {
                e.viewers.insert(viewer, Instant::now());
            }
        }
    }

    /// Every [`super::LIVE_HEARTBEAT`]: write the heartbeat of the lives this process runs
    /// (live or in grace), and archive lives whose process is gone
    /// ([`super::recover_interrupted`]: a replica that was killed, or this process's previous
    /// run); runs until dropped.
    pub async fn keep_heartbeat(self) {
        // the start already recovered; the first beat is due one period later
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + super::LIVE_HEARTBEAT,
            super::LIVE_HEARTBEAT,
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let running: Vec<i64> = self
                .lives()
                .values()
                .filter(|e| e.phase != LivePhase::Ended)
                .map(|e| e.row.id)
                .collect();
            let now = self.inner.clock.now();
            if let Err(e) = self.inner.db.beat_lives(&running, now).await {
                tracing::warn!(error = %e, "writing the lives' heartbeat");
            }
            self.exchange_viewers(&running, now).await;
            if let Err(e) = super::recover_interrupted(&self.inner.db, now, &self.inner.wake).await
            {
                tracing::warn!(error = %e, "archiving lives whose process stopped");
            }
        }
    }

    /// `viewer` fetched a playlist of live `live_id`, which another replica ingests and this
    /// one serves from its mirror: told to the ingesting replica with the next heartbeat.
    pub fn touch_mirrored_viewer(&self, live_id: i64, viewer: u64) {
        self.inner
            .mirrored_viewers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(live_id)
            .or_default()
            .insert(viewer);
    }

    /// With the heartbeat: write the viewers this replica saw of lives others ingest, and
    /// read the viewers others saw of the lives this one ingests.
    async fn exchange_viewers(&self, running: &[i64], now: DateTime<Utc>) {
        let seen = std::mem::take(
            &mut *self
                .inner
                .mirrored_viewers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let db = &self.inner.db;
        for (live_id, viewers) in seen {
            let viewers: Vec<u64> = viewers.into_iter().collect();
            if let Err(e) = db.record_remote_viewers(live_id, &viewers, now).await {
                tracing::warn!(live = live_id, error = %e, "recording viewers of a mirrored live");
            }
        }
        let ttl = chrono::Duration::from_std(VIEWER_TTL)
            .unwrap_or_else(|_| chrono::Duration::seconds(15));
        for &live_id in running {
            match db.remote_viewers(live_id, now - ttl).await {
                Ok(remote) => {
                    if let Some(e) = self.lives().values_mut().find(|e| e.row.id == live_id) {
                        e.remote_viewers = remote.into_iter().collect();
                    }
                }
                Err(e) => {
                    tracing::warn!(live = live_id, error = %e, "reading other replicas' viewers")
                }
            }
        }
        if let Err(e) = db.forget_remote_viewers(now - ttl * 4).await {
            tracing::warn!(error = %e, "forgetting old viewers");
        }
    }

    /// Take every stream the ingest admits until it closes `sink`; then wait for the
    /// packagers still running (their lives go into grace).
    pub async fn run(self, mut sink: mpsc::Receiver<IncomingStream>) {
        let mut running = tokio::task::JoinSet::new();
        while let Some(stream) = sink.recv().await {
            let session_id = stream.session_id;
            match self.begin_period(stream).await {
                Ok(task) => {
                    running.spawn(task);
                }
                Err(e) => {
                    // the stream is dropped, which disconnects the publisher
                    tracing::error!(session = session_id, error = %e, "live could not start");
                }
            }
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }

    /// Count viewers into the database every few seconds and forget ended lives; runs until
    /// dropped.
    pub async fn sample_viewers(self) {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let samples: Vec<(i64, usize)> = {
                let mut lives = self.lives();
                lives.retain(|_, e| {
                    e.ended_instant
                        .is_none_or(|at| now.duration_since(at) < KEEP_ENDED)
                });
                lives
                    .values_mut()
                    .filter(|e| e.phase != LivePhase::Ended)
                    .map(|e| (e.row.id, e.count_viewers(now)))
                    .collect()
            };
            let at = self.inner.clock.now();
            for (live_id, viewers) in samples {
                let viewers = i64::try_from(viewers).unwrap_or(i64::MAX);
                if let Err(e) = self
                    .inner
                    .db
                    .record_live_viewers(live_id, at, viewers)
                    .await
                {
                    tracing::warn!(live = live_id, error = %e, "recording live viewers");
                }
            }
        }
    }

    /// Start a live for the stream's session, or continue the one in grace (or still
    /// finishing its last period) as a new period; returns the task packaging it.
    async fn begin_period(
        &self,
        stream: IncomingStream,
    ) -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
        let session_id = stream.session_id;
        let now = self.inner.clock.now();
        let (protocol, format) = (stream.protocol.as_str(), format_name(stream.format));
        let continuing = self
            .lives()
            .get(&session_id)
            .filter(|e| e.phase != LivePhase::Ended)
            .map(|e| (e.row.clone(), e.current_period + 1));
        let (row, period, hub) = match continuing {
            Some((row, period)) => {
                self.inner
                    .db
                    .add_live_period(row.id, i64::from(period), protocol, format, now)
                    .await?;
                let mut lives = self.lives();
                let e = lives
                    .get_mut(&session_id)
                    .filter(|e| e.row.id == row.id)
                    .ok_or_else(|| anyhow::anyhow!("the live ended while a publisher came back"))?;
                e.phase = LivePhase::Live;
                e.ended_at = None;
                e.current_period = period;
                e.grace_generation += 1;
                e.dropped_rungs.clear();
                (row, period, e.hub.clone())
            }
            None => {
                let row = self
                    .inner
                    .db
                    .start_live(session_id, protocol, format, now)
                    .await?;
                let hub = LiveHub::new(self.inner.settings.hub.clone());
                self.lives().insert(
                    session_id,
                    Entry {
                        row: row.clone(),
                        phase: LivePhase::Live,
                        ended_at: None,
                        ended_instant: None,
                        hub: hub.clone(),
                        current_period: 0,
                        status: None,
                        viewers: HashMap::new(),
                        remote_viewers: Default::default(),
                        peak_viewers: 0,
                        dropped_rungs: Vec::new(),
                        grace_generation: 0,
                        mirror: self.inner.settings.mirror.then(|| {
                            tokio::spawn(super::mirror::run(
                                hub.clone(),
                                self.inner.storage.clone(),
                                session_id,
                                row.id,
                            ))
                        }),
                    },
                );
                (row, 0, hub)
            }
        };
        let dir = self
            .inner
            .storage
            .live_work_dir(&row.dir)
            .ok_or_else(|| anyhow::anyhow!("bad live folder {}", row.dir))?
            .join(period.to_string());
        std::fs::create_dir_all(&dir)?;
        let hub_period = hub.begin_period(dir.clone());
        let packager = LivePackager::new(&dir, self.inner.settings.packager.clone())?;
        if let Some(e) = self.lives().get_mut(&session_id) {
            e.status = Some(packager.status());
        }
        tracing::info!(
            session = session_id,
            live = row.id,
            period,
            protocol,
            "live period started"
        );
        let service = self.clone();
        Ok(async move {
            let packaging = {
                let service = service.clone();
                tokio::task::spawn_blocking(move || {
                    service.package(stream, packager, dir, hub, hub_period, session_id)
                })
            };
            match packaging.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(session = session_id, live = row.id, period, error = %e, "live packaging stopped")
                }
                Err(e) => {
                    tracing::error!(session = session_id, error = %e, "live packager thread failed")
                }
            }
            service.period_ended(session_id, row.id, period).await;
        })
    }

    /// Package one period until its publisher stops (on a blocking thread).
    fn package(
        &self,
        stream: IncomingStream,
        packager: LivePackager,
        dir: PathBuf,
        hub: LiveHub,
        hub_period: u32,
        session_id: i64,
    ) -> Result<(), PackagerError> {
        let format = match stream.format {
            StreamFormat::Flv => InputFormat::Flv,
            StreamFormat::MpegTs => InputFormat::MpegTs,
        };
        let arrivals = stream.arrivals.clone();
        let arrival_of = move |offset| arrivals.arrival_of(offset).unwrap_or_else(SystemTime::now);
        let journal = JournalTee::create(&dir, format, stream.reader, arrival_of.clone())?;
        let log = ArrivalLog::new();
        let input = TimedReader::with_clock(journal, log.clone(), arrival_of);
        packager
            .run(input, format, log, &mut |event| {
                hub.apply(hub_period, &event);
                match &event {
                    PackagerEvent::Started { renditions, passthrough, .. } => {
                        tracing::info!(session = session_id, ?renditions, passthrough, "live packaging started");
                    }
                    PackagerEvent::RungDropped { rendition, lag_ms } => {
                        tracing::warn!(session = session_id, %rendition, lag_ms, "live: the encoder fell behind, rung dropped");
                        if let Some(e) = self.lives().get_mut(&session_id) {
                            e.dropped_rungs.push((rendition.clone(), *lag_ms));
                        }
                    }
                    PackagerEvent::Warning(w) => {
                        tracing::warn!(session = session_id, warning = %w, "live");
                    }
                    PackagerEvent::Finished { duration_s, segments } => {
                        tracing::info!(session = session_id, duration_s, segments, "live period finished");
                    }
                    _ => {}
                }
            })
            .map(|_| ())
    }

    /// A period's packager returned: unless a newer period took over, the live waits for its
    /// publisher for the grace period.
    async fn period_ended(&self, session_id: i64, live_id: i64, period: u32) {
        let now = self.inner.clock.now();
        let generation = {
            let mut lives = self.lives();
            let Some(e) = lives
                .get_mut(&session_id)
                .filter(|e| e.row.id == live_id && e.current_period == period)
            else {
                return; // a reconnect already continues the live
            };
            e.phase = LivePhase::Grace;
            e.ended_at = Some(now);
            e.grace_generation += 1;
            e.grace_generation
        };
        if let Err(e) = self
            .inner
            .db
            .end_live_period(live_id, i64::from(period), now)
            .await
        {
            tracing::error!(live = live_id, error = %e, "recording the end of a live period");
        }
        tracing::info!(
            session = session_id,
            live = live_id,
            grace_s = self.inner.settings.grace.as_secs_f64(),
            "live publisher gone, waiting for a reconnect"
        );
        let service = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(service.inner.settings.grace).await;
            service.grace_expired(session_id, live_id, generation).await;
        });
    }

    /// Grace is over and nobody came back: the live ends and its replay job is queued.
    async fn grace_expired(&self, session_id: i64, live_id: i64, generation: u64) {
        let mirror = {
            let mut lives = self.lives();
            let Some(e) = lives.get_mut(&session_id).filter(|e| {
                e.row.id == live_id
                    && e.phase == LivePhase::Grace
                    && e.grace_generation == generation
            }) else {
                return;
            };
            e.phase = LivePhase::Ended;
            e.ended_instant = Some(Instant::now());
            e.hub.end();
            e.mirror.take()
        };
        // the mirror's last pass writes the ended playlists before the replay job, which
        // deletes the mirror, can run
        if let Some(mirror) = mirror {
            if let Err(e) = mirror.await {
                tracing::warn!(live = live_id, error = %e, "the live's mirror stopped");
            }
        }
        match self
            .inner
            .db
            .archive_live(live_id, self.inner.clock.now())
            .await
        {
            Ok(Some(job)) => {
                tracing::info!(
                    session = session_id,
                    live = live_id,
                    job,
                    "live ended, replay queued"
                );
                self.inner.wake.notify_waiters();
            }
            Ok(None) => {}
            // the live stays in grace in the database: the next start archives it
            Err(e) => {
                tracing::error!(live = live_id, error = %e, "queueing the replay of a live")
            }
        }
    }
}

fn format_name(format: StreamFormat) -> &'static str {
    match format {
        StreamFormat::Flv => "flv",
        StreamFormat::MpegTs => "mpegts",
    }
}
