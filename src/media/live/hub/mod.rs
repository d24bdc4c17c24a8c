//! The live hub: what viewers are served while a lecture is live, kept in memory and fed by the
//! packager's events. One hub per live (a live may span several periods: a publisher that
//! reconnects within the grace period continues the same live after an
//! `EXT-X-DISCONTINUITY`).
//!
//! * Media sequence numbers are global over the live: period 1 continues where period 0
//!   stopped (each rendition counts its own segments, so its sequence has no gaps). URIs
//!   inside a rendition: `init_{period}.mp4`, `seg_{msn}.m4s`, `part_{msn}_{index}.m4s`.
//! * The discontinuity sequence number of a segment is its period, in every rendition, so
//!   players switching renditions across a reconnect see the same numbers.
//! * LL-HLS parts are held in memory for the open segment and the last
//!   [`HELD_COMPLETE_SEGMENTS`] complete ones of each rendition; segments are served from
//!   the packager's files.
//! * Each rendition's playlist is rendered once per change (by the event's writer) and
//!   published through a `tokio::sync::watch`: a request copies the current text, and a
//!   blocking reload (`_HLS_msn`/`_HLS_part`) waits on the channel until the playlist holds
//!   what it asks for. Viewers never take the hub's lock for longer than a map lookup.
//!
//! The caller feeds the events of one period's packager at a time: a reconnect's
//! [`LiveHub::begin_period`] should follow the previous packager's `Finished` (or its end);
//! late events of an older period are ignored rather than listed out of order.

mod playlist;

use crate::media::live::packager::PackagerEvent;
use chrono::{DateTime, Utc};
use playlist::{FileName, Listing, PartEntry, PartRun, SegmentEntry};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Complete segments whose parts stay in memory after the segment is written (one more than
/// the playlist lists, for a player that reloads a little late).
pub const HELD_COMPLETE_SEGMENTS: usize = playlist::SEGMENTS_WITH_LISTED_PARTS + 1;

/// The packager's folder of the audio rendition (never the "top" video rendition).
const AUDIO_RENDITION: &str = "audio";
const MASTER: &str = "master.m3u8";
const INIT_SEGMENT: &str = "init.mp4";

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
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    options: HubOptions,
    state: Mutex<State>,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    periods: Vec<Period>,
    renditions: BTreeMap<String, Rendition>,
    ended: bool,
    master: Option<MasterCache>,
}

struct Period {
    dir: PathBuf,
    /// From `Started`; empty until then.
    renditions: Vec<String>,
    started: bool,
    /// The highest video rendition: its segments make the replay timeline.
    top: Option<String>,
    timeline: Vec<TimedSegment>,
    media_s: f64,
}

/// A live's replay timeline, as [`LiveHub::timeline`] hands it to the mirror.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    pub periods: Vec<TimelinePeriod>,
}

/// A period of a [`Timeline`]: its media seconds, and its top rung's segments as
/// (PROGRAM-DATE-TIME, duration s, start s from the period's start).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimelinePeriod {
    pub media_s: f64,
    pub segments: Vec<(DateTime<Utc>, f64, f64)>,
}

impl Timeline {
    /// [`LiveHub::position_at`] on this timeline.
    pub fn position_at(&self, t: DateTime<Utc>) -> Option<f64> {
        let periods: Vec<(Vec<TimedSegment>, f64)> = self
            .periods
            .iter()
            .map(|p| {
                let segments = p
                    .segments
                    .iter()
                    .map(|&(program_date_time, duration_s, start_s)| TimedSegment {
                        program_date_time,
                        duration_s,
                        start_s,
                    })
                    .collect();
                (segments, p.media_s)
            })
            .collect();
        position_at(periods.iter().map(|(s, m)| (s.as_slice(), *m)), t)
    }

    /// Seconds of media over all periods ([`LiveHub::duration_s`]).
    pub fn duration_s(&self) -> f64 {
        self.periods.iter().map(|p| p.media_s).sum()
    }
}

/// The replay position of wall-clock instant `t` over periods given as (their top rung's
/// segments, their media seconds). Within a period, `t` between one segment's end and the next
/// one's PROGRAM-DATE-TIME (arrival jitter) counts as the end of the earlier segment.
fn position_at<'a>(
    periods: impl Iterator<Item = (&'a [TimedSegment], f64)>,
    t: DateTime<Utc>,
) -> Option<f64> {
    let mut offset = 0.0;
    for (timeline, media_s) in periods {
        let i = timeline.partition_point(|s| s.program_date_time <= t);
        if let Some(s) = i.checked_sub(1).and_then(|i| timeline.get(i)) {
            let elapsed = (t - s.program_date_time)
                .num_microseconds()
                .map_or(f64::INFINITY, |us| us as f64 / 1e6);
            let last = i == timeline.len();
            if !last || elapsed <= s.duration_s {
                return Some(offset + s.start_s + elapsed.min(s.duration_s));
            }
        }
        offset += media_s;
    }
    None
}

/// A segment of a period's top rendition on the replay timeline.
#[derive(Clone, Copy)]
struct TimedSegment {
    program_date_time: DateTime<Utc>,
    duration_s: f64,
    /// Seconds from the start of its period.
    start_s: f64,
}

/// The master playlist last read from a period's folder. The packager writes it once every
/// rendition has a segment and rewrites it when a rung is dropped and at the end (each before
/// the event that says so), so it is re-read after those events only.
struct MasterCache {
    period: u32,
    text: Arc<str>,
    fresh: bool,
}

struct Rendition {
    name: String,
    segments: Vec<SegmentEntry>,
    /// Parts of the last few complete segments, oldest first.
    held: VecDeque<PartRun>,
    open: Option<PartRun>,
    /// The msn of seq 0, per period this rendition was part of.
    bases: BTreeMap<u32, u64>,
    /// The latest period this rendition was part of; events of other periods are ignored.
    period: u32,
    /// Dropped by the real-time guard, or left out of the latest period: ENDLIST.
    stopped: bool,
    longest_s: f64,
    longest_part_s: f64,
    view: watch::Sender<Arc<View>>,
}

/// What a blocked reload checks, published with the playlist text it belongs to.
#[derive(Debug)]
struct View {
    text: Arc<str>,
    last_complete: Option<u64>,
    /// Parts of the last complete segment (0 when it had none).
    last_parts: u32,
    /// msn and part count of the open segment.
    open: Option<(u64, u32)>,
    /// The playlist has `EXT-X-ENDLIST`: nothing more will come.
    closed: bool,
}

impl View {
    /// Whether the playlist holds segment `msn` (complete), or with `part`, that part of it;
    /// a part index past a complete segment's last part means part 0 of the next segment
    /// (RFC 8216bis §6.2.5.2).
    fn has(&self, msn: u64, part: Option<u32>) -> bool {
        let complete = self.last_complete.is_some_and(|l| msn <= l);
        let Some(p) = part else {
            return complete;
        };
        if complete {
            let last = self.last_complete.unwrap_or(0);
            return msn < last || p < self.last_parts || self.open.is_some_and(|(_, n)| n > 0);
        }
        self.open.is_some_and(|(o, n)| o == msn && p < n)
    }

    /// Whether part `index` of the open segment `msn` exists now.
    fn has_open_part(&self, msn: u64, index: u32) -> bool {
        self.open.is_some_and(|(o, n)| o == msn && index < n)
    }

    /// Whether parts of segment `msn` can still appear (it is not complete, nor the live over).
    fn parts_may_come(&self, msn: u64) -> bool {
        !self.closed && self.last_complete.is_none_or(|l| msn > l)
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave a playlist half-published (each is replaced
    // whole), so keep serving rather than fail every viewer of the live.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rendition {
    fn new(name: &str, period: u32) -> Self {
        Self {
            name: name.to_string(),
            segments: Vec::new(),
            held: VecDeque::new(),
            open: None,
            bases: BTreeMap::new(),
            period,
            stopped: false,
            longest_s: 0.0,
            longest_part_s: 0.0,
            view: watch::Sender::new(Arc::new(View {
                text: Arc::from(""),
                last_complete: None,
                last_parts: 0,
                open: None,
                closed: false,
            })),
        }
    }

    fn next_msn(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.msn + 1)
    }

    fn segment(&self, msn: u64) -> Option<&SegmentEntry> {
        let i = self.segments.partition_point(|s| s.msn < msn);
        self.segments.get(i).filter(|s| s.msn == msn)
    }

    fn parts_of(&self, msn: u64) -> Option<&PartRun> {
        self.open
            .iter()
            .chain(self.held.iter())
            .find(|r| r.msn == msn)
    }

    /// The msn of packager segment `seq` of `period`, if events of that period are taken.
    fn msn_of(&self, period: u32, seq: u64) -> Option<u64> {
        if period != self.period || self.stopped {
            return None;
        }
        self.bases.get(&period)?.checked_add(seq)
    }

    fn part(&mut self, period: u32, seq: u64, index: u32, part: PartEntry) {
        let Some(msn) = self.msn_of(period, seq) else {
            return;
        };
        if msn < self.next_msn() {
            tracing::debug!(rendition = %self.name, msn, "live hub: part of a complete segment");
            return;
        }
        if self.open.as_ref().is_none_or(|o| o.msn != msn) {
            if index != 0 {
                tracing::warn!(rendition = %self.name, msn, index, "live hub: part out of order");
                return;
            }
            self.open = Some(PartRun {
                msn,
                period,
                parts: Vec::new(),
            });
        }
        if let Some(open) = self.open.as_mut() {
            if open.parts.len() == index as usize {
                self.longest_part_s = self.longest_part_s.max(part.duration_s);
                open.parts.push(part);
            } else {
                tracing::warn!(rendition = %self.name, msn, index, "live hub: part out of order");
            }
        }
    }

    /// A complete segment; returns its msn when it was taken.
    fn segment_done(&mut self, period: u32, seq: u64, entry: SegmentEntry) -> Option<u64> {
        let msn = self.msn_of(period, seq)?;
        let next = self.next_msn();
        if msn < next {
            tracing::debug!(rendition = %self.name, msn, "live hub: segment already listed");
            return None;
        }
        if msn > next {
            tracing::warn!(rendition = %self.name, msn, next, "live hub: segments missing");
        }
        if let Some(open) = self.open.take() {
            if open.msn == msn {
                self.held.push_back(open);
            }
        }
        while self.held.len() > HELD_COMPLETE_SEGMENTS {
            self.held.pop_front();
        }
        self.longest_s = self.longest_s.max(entry.duration_s);
        self.segments.push(SegmentEntry { msn, ..entry });
        Some(msn)
    }

    /// Render the playlist and publish it with its [`View`].
    fn publish(&self, options: &HubOptions, ended: bool) {
        let closed = ended || self.stopped;
        let from = self.segments.len().saturating_sub(options.window.max(1));
        let listing = Listing {
            part_target: options
                .part_target
                .map(|pt| playlist::part_target(pt, self.longest_part_s)),
            target_duration: playlist::target_duration(options.segment_target, self.longest_s),
            segments: &self.segments[from..],
            held: &self.held,
            open: self.open.as_ref(),
            closed,
        };
        let text: Arc<str> = Arc::from(playlist::render(&listing));
        let last = self.segments.last().map(|s| s.msn);
        let view = View {
            text,
            last_complete: last,
            last_parts: last
                .and_then(|m| self.held.iter().find(|r| r.msn == m))
                .map_or(0, |r| r.parts.len() as u32),
            open: self
                .open
                .as_ref()
                .filter(|_| !closed)
                .map(|o| (o.msn, o.parts.len() as u32)),
            closed,
        };
        self.view.send_replace(Arc::new(view));
    }

    fn held_bytes(&self) -> u64 {
        self.open
            .iter()
            .chain(self.held.iter())
            .flat_map(|r| r.parts.iter())
            .map(|p| p.data.len() as u64)
            .sum()
    }
}

impl LiveHub {
    pub fn new(options: HubOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                options,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The options the hub was made with.
    pub fn options(&self) -> &HubOptions {
        &self.inner.options
    }

    /// A new period (the first connection, or a reconnect within grace) whose packager writes
    /// into `dir`; returns its index (0, 1, …).
    pub fn begin_period(&self, dir: PathBuf) -> u32 {
        let mut st = lock(&self.inner.state);
        st.periods.push(Period {
            dir,
            renditions: Vec::new(),
            started: false,
            top: None,
            timeline: Vec::new(),
            media_s: 0.0,
        });
        u32::try_from(st.periods.len() - 1).unwrap_or(u32::MAX)
    }

    /// Take one event of the packager of `period`.
    pub fn apply(&self, period: u32, event: &PackagerEvent) {
        let options = &self.inner.options;
        let mut guard = lock(&self.inner.state);
        let st = &mut *guard;
        let Some(p) = st.periods.get_mut(period as usize) else {
            tracing::warn!(period, "live hub: event of an unknown period");
            return;
        };
        match event {
            PackagerEvent::Started { renditions, .. } => {
                p.started = true;
                p.renditions = renditions.clone();
                p.top = renditions
                    .first()
                    .filter(|r| r.as_str() != AUDIO_RENDITION)
                    .cloned();
                for name in renditions {
                    let r = st
                        .renditions
                        .entry(name.clone())
                        .or_insert_with(|| Rendition::new(name, period));
                    let base = r.next_msn();
                    r.bases.insert(period, base);
                    r.period = period;
                    r.stopped = false;
                    // An open segment of an earlier period will never be completed.
                    r.open = None;
                }
                for r in st.renditions.values_mut() {
                    if r.period < period && !r.stopped {
                        // Not in this period (the source changed size): its playlist ends.
                        r.stopped = true;
                        r.open = None;
                    }
                }
                for r in st.renditions.values() {
                    r.publish(options, st.ended);
                }
            }
            PackagerEvent::Part {
                rendition,
                segment,
                index,
                duration_s,
                independent,
                data,
            } => {
                if options.part_target.is_none() {
                    return;
                }
                let Some(r) = st.renditions.get_mut(rendition) else {
                    return;
                };
                let part = PartEntry {
                    duration_s: *duration_s,
                    independent: *independent,
                    data: data.clone(),
                };
                r.part(period, *segment, *index, part);
                r.publish(options, st.ended);
            }
            PackagerEvent::Segment {
                rendition,
                seq,
                duration_s,
                program_date_time,
                path,
                ..
            } => {
                let Some(r) = st.renditions.get_mut(rendition) else {
                    return;
                };
                let entry = SegmentEntry {
                    msn: 0,
                    period,
                    duration_s: *duration_s,
                    program_date_time: *program_date_time,
                    path: path.clone(),
                };
                if r.segment_done(period, *seq, entry).is_none() {
                    return;
                }
                r.publish(options, st.ended);
                if p.top.as_deref() == Some(rendition.as_str()) {
                    p.timeline.push(TimedSegment {
                        program_date_time: *program_date_time,
                        duration_s: *duration_s,
                        start_s: p.media_s,
                    });
                    p.media_s += duration_s;
                }
            }
            PackagerEvent::RungDropped { rendition, .. } => {
                if let Some(r) = st.renditions.get_mut(rendition) {
                    if r.period == period {
                        r.stopped = true;
                        r.open = None;
                        r.publish(options, st.ended);
                    }
                }
                st.invalidate_master(period);
            }
            PackagerEvent::Finished { .. } => st.invalidate_master(period),
            PackagerEvent::Warning(_) => {}
        }
    }

    /// The live is over (grace expired): playlists end with `EXT-X-ENDLIST`, blocked reloads
    /// return.
    pub fn end(&self) {
        let mut st = lock(&self.inner.state);
        st.ended = true;
        for r in st.renditions.values_mut() {
            r.open = None;
            r.publish(&self.inner.options, true);
        }
    }

    pub fn is_ended(&self) -> bool {
        lock(&self.inner.state).ended
    }

    /// The master playlist over the current period's renditions (`{rendition}/index.m3u8`),
    /// `None` before the first period started. The packager writes it once every rendition has
    /// a segment: until then `None` for the first period, and the previous period's master
    /// after a reconnect.
    pub fn master_playlist(&self) -> Option<String> {
        let (period, dir, cached) = {
            let st = lock(&self.inner.state);
            if !st.periods.iter().any(|p| p.started) {
                return None;
            }
            let current = st.periods.len().checked_sub(1)?;
            let period = u32::try_from(current).ok()?;
            match &st.master {
                Some(c) if c.fresh && c.period == period => return Some(c.text.to_string()),
                c => (
                    period,
                    st.periods[current].dir.join(MASTER),
                    c.as_ref().map(|c| c.text.clone()),
                ),
            }
        };
        // Read outside the lock: viewers never wait for the disk.
        match std::fs::read_to_string(&dir) {
            Ok(text) => {
                let text: Arc<str> = Arc::from(text);
                let mut st = lock(&self.inner.state);
                if st.periods.len() == period as usize + 1 {
                    st.master = Some(MasterCache {
                        period,
                        text: text.clone(),
                        fresh: true,
                    });
                }
                Some(text.to_string())
            }
            Err(_) => cached.map(|t| t.to_string()),
        }
    }

    /// A rendition's live playlist; with `msn` (and `part`), wait until it exists.
    ///
    /// Waits up to 3 part targets for a part, 3 segment targets for a whole segment. `part`
    /// without `msn` is ignored (the RFC calls it a client error; serving the playlist is
    /// harmless). An ended playlist is returned at once.
    pub async fn media_playlist(
        &self,
        rendition: &str,
        msn: Option<u64>,
        part: Option<u32>,
    ) -> Result<String, PlaylistError> {
        let mut rx = {
            let st = lock(&self.inner.state);
            st.renditions
                .get(rendition)
                .ok_or(PlaylistError::NotFound)?
                .view
                .subscribe()
        };
        let Some(msn) = msn else {
            return Ok(rx.borrow().text.to_string());
        };
        let options = &self.inner.options;
        let part = part.filter(|_| options.part_target.is_some());
        {
            let view = rx.borrow_and_update();
            if view.closed || view.has(msn, part) {
                return Ok(view.text.to_string());
            }
            let last = view.last_complete.map_or(-1, |l| l as i128);
            if i128::from(msn) > last + 2 {
                return Err(PlaylistError::TooFarAhead);
            }
            if let (Some(p), Some(pt)) = (part, options.part_target) {
                // The RFC's Advance Part Limit, counted from the open segment's last part.
                let open = view.open.filter(|(o, _)| *o == msn);
                let next_msn = view.last_complete.map_or(0, |l| l + 1);
                let existing = open.map_or(0, |(_, n)| n);
                if msn == next_msn && p > existing + playlist::advance_part_limit(pt) {
                    return Err(PlaylistError::TooFarAhead);
                }
            }
        }
        let limit = match (part, options.part_target) {
            (Some(_), Some(pt)) => pt * 3,
            _ => options.segment_target * 3,
        };
        let waited = tokio::time::timeout(limit, rx.wait_for(|v| v.closed || v.has(msn, part)));
        let text = match waited.await {
            Ok(Ok(view)) => view.text.clone(),
            Ok(Err(_)) | Err(_) => return Err(PlaylistError::Timeout),
        };
        Ok(text.to_string())
    }

    /// `name` (`init_{p}.mp4`, `seg_{msn}.m4s`, `part_{msn}_{i}.m4s`) of `rendition`.
    pub fn file(&self, rendition: &str, name: &str) -> Option<HubFile> {
        let name = FileName::parse(name)?;
        let st = lock(&self.inner.state);
        let r = st.renditions.get(rendition)?;
        match name {
            FileName::Init { period } => {
                let p = st.periods.get(period as usize)?;
                p.renditions
                    .contains(&r.name)
                    .then(|| HubFile::Disk(p.dir.join(&r.name).join(INIT_SEGMENT)))
            }
            FileName::Segment { msn } => r.segment(msn).map(|s| HubFile::Disk(s.path.clone())),
            FileName::Part { msn, index } => r
                .parts_of(msn)?
                .parts
                .get(index as usize)
                .map(|p| HubFile::Memory(p.data.clone())),
        }
    }

    /// [`file`](Self::file), but a part that the playlist hints (`EXT-X-PRELOAD-HINT`) and
    /// that is not made yet is waited for, up to 3 part targets. `None` when it does not
    /// come (the segment ended first, the live ended, or the wait timed out).
    pub async fn wait_file(&self, rendition: &str, name: &str) -> Option<HubFile> {
        if let Some(f) = self.file(rendition, name) {
            return Some(f);
        }
        let part_target = self.inner.options.part_target?;
        let FileName::Part { msn, index } = FileName::parse(name)? else {
            return None;
        };
        let mut rx = {
            let st = lock(&self.inner.state);
            st.renditions.get(rendition)?.view.subscribe()
        };
        {
            let view = rx.borrow_and_update();
            let next = view.last_complete.map_or(0, |l| l + 1);
            // Only the next segment's parts (or the one after, just before a cut) are hinted.
            if !view.parts_may_come(msn) || msn > next + 1 {
                return None;
            }
        }
        let arrived = rx.wait_for(|v| v.has_open_part(msn, index) || !v.parts_may_come(msn));
        tokio::time::timeout(part_target * 3, arrived)
            .await
            .ok()?
            .ok()?;
        self.file(rendition, name)
    }

    /// The replay position (seconds of media from the start of the live, periods
    /// back to back) of wall-clock instant `t` as a player reports it (`playingDate`);
    /// `None` when `t` is in no segment (see [`Timeline::position_at`]).
    pub fn position_at(&self, t: DateTime<Utc>) -> Option<f64> {
        let st = lock(&self.inner.state);
        position_at(
            st.periods
                .iter()
                .map(|p| (p.timeline.as_slice(), p.media_s)),
            t,
        )
    }

    /// The replay timeline (the top rung's segments of every period), for replicas that
    /// serve the live from its mirror and map their viewers' positions the same way.
    pub fn timeline(&self) -> Timeline {
        let st = lock(&self.inner.state);
        Timeline {
            periods: st
                .periods
                .iter()
                .map(|p| TimelinePeriod {
                    media_s: p.media_s,
                    segments: p
                        .timeline
                        .iter()
                        .map(|s| (s.program_date_time, s.duration_s, s.start_s))
                        .collect(),
                })
                .collect(),
        }
    }

    /// Seconds of media in complete segments of the top rung, over all periods.
    pub fn duration_s(&self) -> f64 {
        lock(&self.inner.state)
            .periods
            .iter()
            .map(|p| p.media_s)
            .sum()
    }

    /// Bytes of LL-HLS parts held in memory over all renditions.
    pub fn held_part_bytes(&self) -> u64 {
        lock(&self.inner.state)
            .renditions
            .values()
            .map(Rendition::held_bytes)
            .sum()
    }
}

impl State {
    fn invalidate_master(&mut self, period: u32) {
        if let Some(m) = self.master.as_mut().filter(|m| m.period == period) {
            m.fresh = false;
        }
    }
}

#[cfg(test)]
mod tests;
