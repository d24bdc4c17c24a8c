//! The live hub: what viewers are served while a lecture is live, kept in memory and fed by the
//! packager's events. One hub per live (a live may span several periods: a publisher that
//! reconnects within the grace period continues the same live after an
//! `EXT-X-DISCONTINUITY`).
//!
//! * Media sequence numbers are global over the live: period 1 continues where period 0
//!   stopped. URIs inside a rendition: `init_{period}.mp4`, `seg_{msn}.m4s`,
//!   `part_{msn}_{index}.m4s` (LL-HLS parts, held in memory for the last segments).
//! * Playlists are rendered from memory on every request; with `_HLS_msn`/`_HLS_part` the
//!   request blocks until that segment or part exists (LL-HLS blocking playlist reload).
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use crate::media::live::packager::PackagerEvent;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the live playlists are made.
#[derive(Clone, Debug, PartialEq)]
pub struct HubOptions {
    /// Complete segments listed in a live media playlist.
    pub window: usize,
    /// The packager's segment target (TARGETDURATION's floor).
    pub segment_target: Duration,
    /// LL-HLS part target; `None`: plain HLS (no parts, no blocking reload).
    pub part_target: Option<Duration>,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            window: 6,
            segment_target: Duration::from_secs(2),
            part_target: Some(Duration::from_millis(500)),
        }
    }
}

/// A file of the live, where it is.
#[derive(Clone, Debug)]
pub enum HubFile {
    /// A complete segment or init segment on disk.
    Disk(PathBuf),
    /// An LL-HLS part, in memory.
    Memory(Arc<[u8]>),
}

/// Why a playlist cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    /// No such rendition (or nothing started yet).
    #[error("no such rendition")]
    NotFound,
    /// `_HLS_msn`/`_HLS_part` asks for something too far in the future (HTTP 400).
    #[error("the requested segment is too far ahead")]
    TooFarAhead,
    /// Waited three part targets and it did not arrive (HTTP 503).
    #[error("timed out waiting for the requested segment")]
    Timeout,
}

/// One live's segments, parts and playlists. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct LiveHub {
    _inner: Arc<()>,
}

impl LiveHub {
    pub fn new(_options: HubOptions) -> Self {
        todo!()
    }

    /// A new period (the first connection, or a reconnect within grace) whose packager writes
    /// into `dir`; returns its index (0, 1, …).
    pub fn begin_period(&self, _dir: PathBuf) -> u32 {
        todo!()
    }

    /// Take one event of the packager of `period`.
    pub fn apply(&self, _period: u32, _event: &PackagerEvent) {
        todo!()
    }

    /// The live is over (grace expired): playlists end with `EXT-X-ENDLIST`, blocked reloads
    /// return.
    pub fn end(&self) {
        todo!()
    }

    pub fn is_ended(&self) -> bool {
        todo!()
    }

    /// The master playlist over the current period's renditions (`{rendition}/index.m3u8`),
    /// `None` before the first period started.
    pub fn master_playlist(&self) -> Option<String> {
        todo!()
    }

    /// A rendition's live playlist; with `msn` (and `part`), wait until it exists.
    pub async fn media_playlist(
        &self,
        _rendition: &str,
        _msn: Option<u64>,
        _part: Option<u32>,
    ) -> Result<String, PlaylistError> {
        todo!()
    }

    /// `name` (`init_{p}.mp4`, `seg_{msn}.m4s`, `part_{msn}_{i}.m4s`) of `rendition`.
    pub fn file(&self, _rendition: &str, _name: &str) -> Option<HubFile> {
        todo!()
    }

    /// The replay position (seconds of media from the start of the live, periods
    /// back to back) of wall-clock instant `t` as a player reports it (`playingDate`);
    /// `None` when `t` is in no segment.
    pub fn position_at(&self, _t: DateTime<Utc>) -> Option<f64> {
        todo!()
    }

    /// Seconds of media in complete segments of the top rung, over all periods.
    pub fn duration_s(&self) -> f64 {
        todo!()
    }
}
