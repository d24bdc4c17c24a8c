//! The remux fast path's pipes: the top rung copies the source's video packets into its HLS
//! folder; the source is also decoded once for the lower rungs, which keep the source's
//! timestamps and get an IDR frame at exactly the source's keyframe instants. The `hls` muxer
//! cuts a segment at the first keyframe at or after each multiple of the segment target; as
//! every rung has its keyframes at the same instants (the copy: the source's; the encoded
//! rungs: forced there and nowhere else) and every packet carries the same frame duration,
//! every rung gets the same segment boundaries and the same EXTINF sequence.
//!
//! Audio that is already AAC-LC stereo 48 kHz is copied the same way ([`AudioCopy`]).

use super::choice::KeyframeStats;
use super::decode::{self, DecodingPipe};
use super::hls::{add_copy_stream, hls_output, write_hls_header};
use super::probe::{open_input, open_video_decoder};
use super::progress::Reporter;
use super::rung::{RungEncoder, Timing};
use super::types::{out_err, TranscodeError, TranscodeOptions, AUDIO_DIR};
use super::video::Poster;
use crate::media::ladder::{Plan, Rendition};
use ff::{decoder, frame, Packet, Rational};
use ffmpeg_next as ff;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The source's video frames as the demuxer sees them, for the fast path.
#[derive(Clone, Debug, Default)]
pub(super) struct KeyframeScan {
    pub(super) stats: Option<KeyframeStats>,
    /// Presentation times (stream time base) of the keyframes: the encoded rungs get an IDR
    /// frame at exactly these instants.
    pub(super) keyframes: HashSet<i64>,
    /// Duration of every frame by presentation time: the gap to the next frame in
    /// presentation order (the last keeps its packet duration).
    pub(super) durations: HashMap<i64, i64>,
    /// The earliest decoding time minus the earliest presentation time (≤ 0).
    pub(super) min_dts_offset: i64,
}

/// Read every packet of video stream `index` of `input` (demux only, no decoding), within
/// `budget`. The scan has no stats when the budget ran out, a packet had no timestamp or was
/// damaged, or a presentation time repeats: the standard path is taken then.
pub(super) fn scan(
    input: &Path,
    index: usize,
    budget: Duration,
) -> Result<KeyframeScan, TranscodeError> {
    let started = Instant::now();
    let mut ictx = open_input(input)?;
    let tb: Rational = ictx
        .stream(index)
        .map(|s| s.time_base())
        .ok_or_else(|| TranscodeError::Decode("video stream vanished".into()))?;
    let mut frames: Vec<(i64, i64, bool)> = Vec::new();
    let mut min_dts: Option<i64> = None;
    let mut complete = true;
    loop {
        let mut packet = Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(_) => {
                complete = false;
                break;
            }
        }
        if packet.stream() != index {
            continue;
        }
        if frames.len().is_multiple_of(1024) && started.elapsed() > budget {
            complete = false;
            break;
        }
        let (Some(pts), Some(dts)) = (packet.pts(), packet.dts()) else {
            complete = false;
            break;
        };
        if packet.is_corrupt() {
            complete = false;
            break;
        }
        min_dts = Some(min_dts.map_or(dts, |m: i64| m.min(dts)));
        frames.push((pts, packet.duration(), packet.is_key()));
    }
    let mut out = KeyframeScan::default();
    if !complete || frames.is_empty() {
        return Ok(out);
    }
    out.stats = super::choice::keyframe_stats(&frames, f64::from(tb));
    frames.sort_unstable_by_key(|f| f.0);
    let first_pts = frames[0].0;
    out.min_dts_offset = min_dts.map_or(0, |d| (d - first_pts).min(0));
    for (i, f) in frames.iter().enumerate() {
        let duration = match frames.get(i + 1) {
            Some(next) => next.0 - f.0,
            None if f.1 > 0 => f.1,
            None => i
                .checked_sub(1)
                .and_then(|p| frames.get(p))
                .map_or(1, |p| (f.0 - p.0).max(1)),
        };
        out.durations.insert(f.0, duration);
        if f.2 {
            out.keyframes.insert(f.0);
        }
    }
    Ok(out)
}

/// The copied top rung: the source's video packets, re-timed onto the shared timeline.
pub(super) struct CopyRung {
    pub(super) rendition: Rendition,
    pub(super) dir: PathBuf,
    octx: ff::format::context::Output,
    ost_tb: Rational,
    packets: u64,
}

/// Write `packet` (a copy of a source packet) to `octx`, moved by `shift` (stream time base
/// `in_tb`) and with `duration` when given.
fn write_copied(
    octx: &mut ff::format::context::Output,
    packet: &Packet,
    shift: i64,
    duration: Option<i64>,
    in_tb: Rational,
    ost_tb: Rational,
) -> Result<(), TranscodeError> {
    let mut p = packet.clone();
    p.set_pts(packet.pts().map(|t| t.saturating_add(shift)));
    p.set_dts(packet.dts().map(|t| t.saturating_add(shift)));
    if let Some(d) = duration {
        p.set_duration(d);
    }
    p.set_stream(0);
    p.rescale_ts(in_tb, ost_tb);
    p.set_position(-1);
    p.write_interleaved(octx).map_err(out_err)
}

pub(super) struct FastVideoPipe {
    pub(super) stream_index: usize,
    decoder: decoder::Video,
    in_tb: Rational,
    /// Added to every source timestamp: moves the common origin to `lead`.
    shift: i64,
    lead: i64,
    /// Source keyframe presentation times (unshifted).
    keyframes: HashSet<i64>,
    /// Frame durations by shifted presentation time.
    durations: Arc<HashMap<i64, i64>>,
    pub(super) copy: CopyRung,
    pub(super) rungs: Vec<RungEncoder>,
    poster: Poster,
    pub(super) frames_out: u64,
    last_pts: Option<i64>,
    /// End (shifted) of the latest frame seen.
    end: i64,
    out_of_order: u64,
    pub(super) decode_errors: u64,
    pub(super) warnings: Vec<String>,
}

impl FastVideoPipe {
    /// `lead`: where the common origin `t0_ts` lands, in the stream's time base.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        stream: &ff::Stream,
        plan: &Plan,
        dir: &Path,
        opts: &TranscodeOptions,
        t0_ts: i64,
        lead: i64,
        scan: KeyframeScan,
        duration_s: Option<f64>,
    ) -> Result<Self, TranscodeError> {
        let in_tb = stream.time_base();
        let shift = lead.saturating_sub(t0_ts);
        let durations: Arc<HashMap<i64, i64>> = Arc::new(
            scan.durations
                .iter()
                .map(|(pts, d)| (pts.saturating_add(shift), *d))
                .collect(),
        );
        let mut renditions = plan.renditions.iter();
        let top = renditions
            .next()
            .ok_or_else(|| TranscodeError::InvalidOptions("empty ladder".into()))?;
        let copy_rendition = Rendition {
            video_bitrate: 0,
            ..top.clone()
        };
        let copy_dir = dir.join(&copy_rendition.name);
        let mut octx = hls_output(&copy_dir)?;
        add_copy_stream(&mut octx, stream.parameters(), in_tb)?;
        write_hls_header(&mut octx, &copy_dir, opts.segment_seconds)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| TranscodeError::Output("hls stream missing".into()))?;
        let copy = CopyRung {
            rendition: copy_rendition,
            dir: copy_dir,
            octx,
            ost_tb,
            packets: 0,
        };
        let mut rungs = Vec::new();
        for rendition in renditions {
            rungs.push(RungEncoder::new(
                rendition,
                dir.join(&rendition.name),
                opts,
                Timing::Source {
                    tb: in_tb,
                    durations: durations.clone(),
                },
            )?);
        }
        let decoder = open_video_decoder(stream, opts.threads)
            .map_err(|e| TranscodeError::Decode(format!("video decoder: {e}")))?;
        Ok(Self {
            stream_index: stream.index(),
            decoder,
            in_tb,
            shift,
            lead,
            keyframes: scan.keyframes,
            durations,
            copy,
            rungs,
            poster: Poster::new(dir, top.width, top.height, duration_s),
            frames_out: 0,
            last_pts: None,
            end: lead,
            out_of_order: 0,
            decode_errors: 0,
            warnings: Vec::new(),
        })
    }

    pub(super) fn out_time_s(&self) -> f64 {
        (self.end - self.lead).max(0) as f64 * f64::from(self.in_tb)
    }

    /// Copy the packet into the top rung and decode it for the others (and the poster; once
    /// the poster is taken and there is no lower rung, nothing is decoded).
    pub(super) fn send_packet(
        &mut self,
        packet: &Packet,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let Some(pts) = packet.pts() else {
            return Ok(()); // the scan saw none of these, or the path would not be taken
        };
        let shifted = pts.saturating_add(self.shift);
        let duration = self.durations.get(&shifted).copied();
        write_copied(
            &mut self.copy.octx,
            packet,
            self.shift,
            duration,
            self.in_tb,
            self.copy.ost_tb,
        )?;
        self.copy.packets += 1;
        self.end = self.end.max(shifted.saturating_add(duration.unwrap_or(0)));
        if !self.rungs.is_empty() || !self.poster.done {
            decode::send_packet(self, packet, rep)?;
        } else {
            self.frames_out += 1;
        }
        rep.tick(self.out_time_s())
    }

    fn push_decoded(&mut self, decoded: frame::Video) -> Result<(), TranscodeError> {
        let Some(pts) = decoded.pts().or(decoded.timestamp()) else {
            self.decode_errors += 1;
            return Ok(());
        };
        if self.last_pts.is_some_and(|last| pts <= last) {
            self.out_of_order += 1;
            return Ok(());
        }
        self.last_pts = Some(pts);
        let shifted = pts.saturating_add(self.shift);
        let t = (shifted - self.lead) as f64 * f64::from(self.in_tb);
        if let Err(e) = self.poster.offer(&decoded, t) {
            if !self.warnings.iter().any(|m| m.starts_with("poster")) {
                self.warnings.push(format!("poster: {e}"));
            }
            self.poster.done = true;
        }
        let force_key = self.keyframes.contains(&pts);
        for rung in &mut self.rungs {
            rung.encode(&decoded, shifted, force_key)?;
        }
        self.frames_out += 1;
        Ok(())
    }

    pub(super) fn finish(&mut self, reporter: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        if !self.rungs.is_empty() || !self.poster.done {
            decode::finish(self, reporter)?;
        }
        if self.out_of_order > 0 {
            self.warnings.push(format!(
                "video: {} frame(s) out of order were not encoded",
                self.out_of_order
            ));
        }
        let produced = self.frames_out > 0;
        for rung in &mut self.rungs {
            rung.finish(produced)?;
        }
        match self.copy.octx.write_trailer() {
            Ok(()) => Ok(()),
            Err(_) if self.copy.packets == 0 => Ok(()),
            Err(e) => Err(out_err(e)),
        }
    }
}

impl DecodingPipe for FastVideoPipe {
    type Frame = frame::Video;

    fn empty_frame() -> frame::Video {
        frame::Video::empty()
    }

    fn decoder(&mut self) -> &mut decoder::Opened {
        &mut self.decoder
    }

    fn count_decode_error(&mut self) {
        self.decode_errors += 1;
    }

    fn push_decoded(
        &mut self,
        decoded: frame::Video,
        _rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        FastVideoPipe::push_decoded(self, decoded)
    }
}

/// Whether an audio stream can be copied as pufa's audio rendition: AAC-LC, stereo, 48 kHz,
/// with its AudioSpecificConfig in the stream header.
pub(super) fn audio_copyable(stream: &ff::Stream) -> bool {
    let params = stream.parameters();
    if params.id() != ff::codec::Id::AAC || !super::hls::has_extradata(&params) {
        return false;
    }
    let Ok(dec) = super::probe::open_audio_decoder(stream) else {
        return false;
    };
    dec.channels() == 2
        && dec.rate() == crate::media::ladder::AUDIO_SAMPLE_RATE
        && dec.profile() == ff::codec::Profile::AAC(ff::codec::profile::AAC::Low)
}

/// The source's AAC packets copied into the audio rendition.
pub(super) struct AudioCopy {
    pub(super) stream_index: usize,
    octx: ff::format::context::Output,
    in_tb: Rational,
    ost_tb: Rational,
    shift: i64,
    lead: i64,
    end: i64,
    last: Option<i64>,
    pub(super) packets: u64,
    skipped: u64,
    pub(super) warnings: Vec<String>,
}

impl AudioCopy {
    /// `lead_s`: where the common origin `t0_ts` lands on the shared timeline.
    pub(super) fn new(
        stream: &ff::Stream,
        dir: &Path,
        opts: &TranscodeOptions,
        t0_ts: i64,
        lead_s: f64,
    ) -> Result<Self, TranscodeError> {
        let in_tb = stream.time_base();
        let lead = (lead_s / f64::from(in_tb)).round() as i64;
        let audio_dir = dir.join(AUDIO_DIR);
        let mut octx = hls_output(&audio_dir)?;
        add_copy_stream(&mut octx, stream.parameters(), in_tb)?;
        write_hls_header(&mut octx, &audio_dir, opts.segment_seconds)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| TranscodeError::Output("hls stream missing".into()))?;
        Ok(Self {
            stream_index: stream.index(),
            octx,
            in_tb,
            ost_tb,
            shift: lead.saturating_sub(t0_ts),
            lead,
            end: lead,
            last: None,
            packets: 0,
            skipped: 0,
            warnings: Vec::new(),
        })
    }

    pub(super) fn out_time_s(&self) -> f64 {
        (self.end - self.lead).max(0) as f64 * f64::from(self.in_tb)
    }

    pub(super) fn send_packet(&mut self, packet: &Packet) -> Result<(), TranscodeError> {
        let Some(pts) = packet.pts() else {
            self.skipped += 1;
            return Ok(());
        };
        let shifted = pts.saturating_add(self.shift);
        if shifted < 0 || self.last.is_some_and(|last| shifted <= last) {
            // before the shared origin, or rewinding: the muxer would refuse it
            self.skipped += 1;
            return Ok(());
        }
        write_copied(
            &mut self.octx,
            packet,
            self.shift,
            None,
            self.in_tb,
            self.ost_tb,
        )?;
        self.packets += 1;
        self.last = Some(shifted);
        self.end = self
            .end
            .max(shifted.saturating_add(packet.duration().max(0)));
        Ok(())
    }

    pub(super) fn finish(&mut self) -> Result<(), TranscodeError> {
        if self.skipped > 0 {
            self.warnings.push(format!(
                "audio: {} packet(s) without usable timestamps were skipped",
                self.skipped
            ));
        }
        match self.octx.write_trailer() {
            Ok(()) => Ok(()),
            Err(_) if self.packets == 0 => Ok(()),
            Err(e) => Err(out_err(e)),
        }
    }
}
