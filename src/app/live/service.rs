//! The lives running in this process: each admitted publisher becomes a period of a live,
//! packaged on a blocking thread into the live's hub; a publisher that goes away leaves the
//! live in grace; when grace runs out the replay job is queued. Viewers are counted here.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use crate::clock::Clock;
use crate::db::Db;
use crate::media::live::hub::{HubOptions, LiveHub};
use crate::media::live::packager::{LiveStatus, PackagerOptions};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(30),
            rtmp_base: None,
            srt_base: None,
            packager: PackagerOptions::default(),
            hub: HubOptions::default(),
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

/// The lives of this process. Cheap to clone.
#[derive(Clone)]
pub struct LiveService {
    _inner: Arc<()>,
}

impl LiveService {
    pub fn new(_db: Db, _clock: Clock, _media_root: PathBuf, _settings: LiveSettings) -> Self {
        todo!()
    }

    pub fn settings(&self) -> &LiveSettings {
        todo!()
    }

    /// The session's live in this process (live, in grace, or ended and not yet archived).
    pub fn current(&self, _session_id: i64) -> Option<LiveSnapshot> {
        todo!()
    }

    /// `viewer` (a stable, non-personal key: a hash of the login session or the address)
    /// fetched a playlist of the session's live.
    pub fn touch_viewer(&self, _session_id: i64, _viewer: u64) {
        todo!()
    }
}
