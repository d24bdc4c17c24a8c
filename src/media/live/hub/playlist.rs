//! The hub's media playlists (pure text rendering, no I/O or locks) and the file names a
//! rendition serves: `init_{period}.mp4`, `seg_{msn}.m4s`, `part_{msn}_{index}.m4s`.

use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Complete segments whose parts are listed (`EXT-X-PART`) before their URI, besides the open
/// segment. RFC 8216bis asks for the parts of the last few target durations only; two segments
/// cover PART-HOLD-BACK (3 part targets) with room to spare.
pub(super) const SEGMENTS_WITH_LISTED_PARTS: usize = 2;

/// A complete segment of a rendition.
#[derive(Clone, Debug)]
pub(super) struct SegmentEntry {
    pub msn: u64,
    pub period: u32,
    pub duration_s: f64,
    pub program_date_time: DateTime<Utc>,
    /// The packager's file (its own per-period name), as its event reported it.
    pub path: PathBuf,
}

/// An LL-HLS part held in memory.
#[derive(Clone, Debug)]
pub(super) struct PartEntry {
    pub duration_s: f64,
    pub independent: bool,
    pub data: Arc<[u8]>,
}

/// The parts of one segment (the open one, or a recently completed one), index = position.
#[derive(Clone, Debug)]
pub(super) struct PartRun {
    pub msn: u64,
    pub period: u32,
    pub parts: Vec<PartEntry>,
}

/// Everything a media playlist is rendered from.
pub(super) struct Listing<'a> {
    /// LL-HLS part target; `None`: plain HLS.
    pub part_target: Option<Duration>,
    pub target_duration: u64,
    /// The listed complete segments (the window), in order.
    pub segments: &'a [SegmentEntry],
    /// Parts of recently completed segments, oldest first.
    pub held: &'a VecDeque<PartRun>,
    /// Parts of the segment being made.
    pub open: Option<&'a PartRun>,
    /// `EXT-X-ENDLIST`: the live ended, or this rendition was dropped or left out of the
    /// current period. No open parts and no preload hint then.
    pub closed: bool,
}

/// TARGETDURATION for segments up to `longest_s` with a configured `segment_target`: every
/// EXTINF rounded to the nearest integer must not exceed it (RFC 8216 §4.3.3.1).
pub(super) fn target_duration(segment_target: Duration, longest_s: f64) -> u64 {
    let floor = segment_target.as_secs_f64().ceil();
    longest_s.round().max(floor).max(1.0) as u64
}

/// PART-TARGET for parts up to `longest_s` with a configured `part_target`: no part may be
/// longer (RFC 8216bis §4.4.4.9), and the packager cuts a part at the first packet at or after
/// the target, so an AAC part is 0.512 s for a 0.5 s target. In milliseconds, never shrinking.
pub(super) fn part_target(part_target: Duration, longest_s: f64) -> Duration {
    let longest_ms = ((longest_s.max(0.0) * 1e6).round() / 1e3).ceil();
    part_target.max(Duration::from_millis(longest_ms as u64))
}

pub(super) fn init_uri(period: u32) -> String {
    format!("init_{period}.mp4")
}

pub(super) fn segment_uri(msn: u64) -> String {
    format!("seg_{msn}.m4s")
}

pub(super) fn part_uri(msn: u64, index: u32) -> String {
    format!("part_{msn}_{index}.m4s")
}

/// The RFC's Advance Part Limit: how far past the last part `_HLS_part` may ask.
pub(super) fn advance_part_limit(part_target: Duration) -> u32 {
    let us = part_target.as_micros().max(1);
    if us < 1_000_000 {
        u32::try_from(3_000_000_u128.div_ceil(us)).unwrap_or(u32::MAX)
    } else {
        3
    }
}

/// A file name a player asks a rendition for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileName {
    Init { period: u32 },
    Segment { msn: u64 },
    Part { msn: u64, index: u32 },
}

impl FileName {
    /// Only the exact names the playlists hand out (no leading zeros, no signs, nothing else):
    /// a request is looked up, never turned into a path.
    pub(super) fn parse(name: &str) -> Option<Self> {
        if let Some(p) = name
            .strip_prefix("init_")
            .and_then(|n| n.strip_suffix(".mp4"))
        {
            return Some(Self::Init {
                period: u32::try_from(number(p)?).ok()?,
            });
        }
        if let Some(m) = name
            .strip_prefix("seg_")
            .and_then(|n| n.strip_suffix(".m4s"))
        {
            return Some(Self::Segment { msn: number(m)? });
        }
        let rest = name.strip_prefix("part_")?.strip_suffix(".m4s")?;
        let (msn, index) = rest.split_once('_')?;
        Some(Self::Part {
            msn: number(msn)?,
            index: u32::try_from(number(index)?).ok()?,
        })
    }
}

/// A decimal number in canonical form (what `format!("{n}")` writes).
fn number(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn write_parts(m: &mut String, run: &PartRun) {
    for (i, p) in run.parts.iter().enumerate() {
        let _ = write!(
            m,
            "#EXT-X-PART:DURATION={:.3},URI=\"{}\"",
            p.duration_s,
            part_uri(run.msn, i as u32)
        );
        m.push_str(if p.independent {
            ",INDEPENDENT=YES\n"
        } else {
            "\n"
        });
    }
}

/// Tags that start a segment of `period` after one of `previous` (the period is the
/// discontinuity sequence number, so one tag per period passed over keeps it equal across
/// renditions), or at the top of the playlist (`previous` = `None`).
fn write_period_change(m: &mut String, previous: Option<u32>, period: u32) {
    match previous {
        None => {
            let _ = writeln!(m, "#EXT-X-MAP:URI=\"{}\"", init_uri(period));
        }
        Some(prev) if prev != period => {
            for _ in 0..period.saturating_sub(prev).max(1) {
                m.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let _ = writeln!(m, "#EXT-X-MAP:URI=\"{}\"", init_uri(period));
        }
        Some(_) => {}
    }
}

/// A rendition's media playlist (RFC 8216bis; LL-HLS when `part_target` is set).
pub(super) fn render(l: &Listing) -> String {
    let open = l.open.filter(|_| !l.closed);
    let first_period = l
        .segments
        .first()
        .map(|s| s.period)
        .or(open.map(|o| o.period));
    let first_msn = l.segments.first().map(|s| s.msn).or(open.map(|o| o.msn));
    let mut m = String::with_capacity(256 + 160 * l.segments.len());
    m.push_str("#EXTM3U\n");
    match l.part_target {
        Some(pt) => {
            m.push_str("#EXT-X-VERSION:9\n");
            let _ = writeln!(m, "#EXT-X-TARGETDURATION:{}", l.target_duration);
            let _ = writeln!(
                m,
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={}",
                seconds(pt * 3)
            );
            let _ = writeln!(m, "#EXT-X-PART-INF:PART-TARGET={}", seconds(pt));
        }
        None => {
            m.push_str("#EXT-X-VERSION:7\n");
            let _ = writeln!(m, "#EXT-X-TARGETDURATION:{}", l.target_duration);
        }
    }
    let _ = writeln!(m, "#EXT-X-MEDIA-SEQUENCE:{}", first_msn.unwrap_or(0));
    let _ = writeln!(
        m,
        "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
        first_period.unwrap_or(0)
    );
    m.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    let listed_parts_from = l.segments.len().saturating_sub(SEGMENTS_WITH_LISTED_PARTS);
    let mut previous = None;
    for (i, s) in l.segments.iter().enumerate() {
        write_period_change(&mut m, previous, s.period);
        previous = Some(s.period);
        let _ = writeln!(
            m,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            s.program_date_time
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        if l.part_target.is_some() && i >= listed_parts_from {
            // A segment's parts are listed all or not at all: players index them by position.
            if let Some(run) = l.held.iter().find(|r| r.msn == s.msn) {
                write_parts(&mut m, run);
            }
        }
        let _ = writeln!(m, "#EXTINF:{:.3},\n{}", s.duration_s, segment_uri(s.msn));
    }
    if l.part_target.is_some() && !l.closed {
        if let Some(run) = open {
            write_period_change(&mut m, previous, run.period);
            write_parts(&mut m, run);
        }
        // The next part: of the open segment, or the first of the next segment.
        let (msn, index) = match (open, l.segments.last()) {
            (Some(run), _) => (run.msn, run.parts.len() as u32),
            (None, Some(last)) => (last.msn + 1, 0),
            (None, None) => (0, 0),
        };
        if open.is_some() || !l.segments.is_empty() {
            let _ = writeln!(
                m,
                "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
                part_uri(msn, index)
            );
        }
    }
    if l.closed {
        m.push_str("#EXT-X-ENDLIST\n");
    }
    m
}
