//! The live packager: a publisher's FLV (RTMP ingest) or MPEG-TS (SRT ingest) byte stream in,
//! a ladder of fragmented-MP4 HLS renditions with pufa's own live playlists out.
//!
//! ```text
//! Read ──► StreamIo ──► flv|mpegts demux ──► video packet ─┬─► top rung: copied (H.264 source)
//!   │                      │ pos → ArrivalLog → PDT        └─► decode once ─► scale ─► libx264
//!   └ ArrivalLog           │                                    (IDR forced at source keyframes)
//!     (offset, time)       └─► audio ─► decode ─► 48 kHz stereo ─► AAC-LC ─► audio rendition
//! ```
//!
//! # Output (in the folder given to [`LivePackager::new`])
//!
//! ```text
//! master.m3u8                 variants (BANDWIDTH, RESOLUTION, CODECS) + audio group "aac"
//! <rung>/init.mp4             e.g. 1080p/, 720p/, 360p/ (the top rung is named after the
//! <rung>/seg_00000.m4s …      source's short side), and audio/
//! <rung>/index.m3u8           live playlist: sliding window (`window`), ENDLIST once ended
//! <rung>/vod.m3u8             written at the end: every segment, PLAYLIST-TYPE:VOD, ENDLIST
//! master_vod.m3u8             written at the end: the same variants over vod.m3u8
//! ```
//!
//! * **Segments** end at the first source keyframe at least 90 % of `segment_target` after
//!   their start (the lecturer's GOP decides: a 2 s keyframe interval gives 2 s segments).
//!   Every rendition cuts at the same instants, so the video playlists have identical EXTINF
//!   sequences; audio cuts at its first packet at or after each instant.
//! * **PROGRAM-DATE-TIME** of a segment is the arrival time of the first byte of its first
//!   video packet, looked up in the [`ArrivalLog`] by the demuxer's byte position.
//! * **Nothing half-written is served**: every file is written under a temporary name and
//!   renamed; a segment is listed only after its file is complete. Old segments are never
//!   deleted (the replay is made from them); the window only limits what the live lists.
//! * **Parts**: with `part_target`, each segment is cut into fragments of about that length,
//!   reported as [`PackagerEvent::Part`] (an LL-HLS server can hold them in memory).
//! * **Real-time guard**: lag = now − arrival of the video packet just processed. Above the
//!   [`LagGuard`] threshold for `sustain`, the lowest encoded rung is stopped (its playlist
//!   ended, the master rewritten without it) and [`PackagerEvent::RungDropped`] is sent. The
//!   top rung is never dropped.
//! * **End of input** (the reader returns EOF) finishes: the last segment of every rendition,
//!   the live playlists with `EXT-X-ENDLIST`, `vod.m3u8` and `master_vod.m3u8`.
//! * **Cancellation**: set the flag from [`LivePackager::cancel_flag`]; the run stops with
//!   [`PackagerError::Cancelled`] at the next packet (or the next read: a reader blocked in
//!   `read` must be woken by its source, e.g. the ingest dropping its channel sender). The
//!   files written so far stay; playlists are not ended.
//!
//! Synchronous: run it on a blocking thread. Sources that are not H.264 get a re-encoded top
//! rung (same size as the source). No frame-rate decimation: encoded rungs keep the source's
//! frames and timestamps.

mod arrival;
mod audio;
mod fmp4;
mod output;
mod playlist;
mod types;
mod video;

pub use arrival::{ArrivalLog, Chunk, ChunkReader, TimedReader};
pub use playlist::{
    avc_codec_string, master_playlist, media_playlist, PlaylistKind, SegmentMeta, Variant,
};
pub use types::{
    InputFormat, LagGuard, LiveState, LiveStatus, LiveSummary, PackagerError, PackagerEvent,
    PackagerOptions, RenditionStatus, LIVE_LADDER,
};

use crate::media::ladder::{self, FrameRate, SourceVideo};
use audio::AudioPipe;
use ff::{codec, format, media, Dictionary, Packet, Rational, Rescale};
use ffmpeg_next as ff;
use fmp4::StreamSource;
use output::{write_atomic, Boundary, RenditionOut, RenditionSpec};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::watch;
use types::{LEAD_TL, MASTER, PLAYLIST, TL, TL_HZ, VOD_PLAYLIST};
use video::{EncodedRung, VideoDecoder};

/// Give up on an input that yields this many unreadable packets in a row.
const MAX_BAD_PACKETS_IN_A_ROW: u32 = 1000;

/// One live's packager. Create it, hand out [`status`](Self::status) and
/// [`cancel_flag`](Self::cancel_flag), then [`run`](Self::run) it on a blocking thread.
pub struct LivePackager {
    out_dir: PathBuf,
    opts: PackagerOptions,
    status: watch::Sender<LiveStatus>,
    cancel: Arc<AtomicBool>,
}

impl LivePackager {
    /// Package into `out_dir` (created if missing; its files are overwritten).
    pub fn new(out_dir: &Path, opts: PackagerOptions) -> Result<Self, PackagerError> {
        validate(&opts)?;
        Ok(Self {
            out_dir: out_dir.to_path_buf(),
            opts,
            status: watch::Sender::new(LiveStatus::default()),
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The status, republished about once per second of media and on every event.
    pub fn status(&self) -> watch::Receiver<LiveStatus> {
        self.status.subscribe()
    }

    /// Set to `true` to stop the run.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Package `input` until end of input (then finish: see the module docs) or cancellation.
    ///
    /// `arrivals` must be filled by the reader (a [`TimedReader`] or [`ChunkReader`] does it);
    /// `on_event` is called on this thread for every [`PackagerEvent`].
    pub fn run<R: Read + Send + 'static>(
        self,
        input: R,
        format: InputFormat,
        arrivals: ArrivalLog,
        on_event: &mut dyn FnMut(PackagerEvent),
    ) -> Result<LiveSummary, PackagerError> {
        crate::media::transcode::init();
        let result = self.run_inner(input, format, arrivals, on_event);
        let state = match &result {
            Ok(_) => LiveState::Finished,
            Err(PackagerError::Cancelled) => LiveState::Cancelled,
            Err(_) => LiveState::Failed,
        };
        self.status.send_modify(|s| s.state = state);
        result
    }

    fn run_inner<R: Read + Send + 'static>(
        &self,
        input: R,
        format: InputFormat,
        arrivals: ArrivalLog,
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<LiveSummary, PackagerError> {
        std::fs::create_dir_all(&self.out_dir)?;
        let mut ictx = open_input(input, format, self.cancel.clone())?;
        if self.cancel.load(Ordering::Relaxed) {
            return Err(PackagerError::Cancelled);
        }
        let mut session = Session::new(&mut ictx, &self.out_dir, &self.opts, arrivals)?;
        emit(session.started_event(format));
        session.publish(&self.status);
        let mut bad_in_a_row = 0u32;
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(PackagerError::Cancelled);
            }
            let mut packet = Packet::empty();
            match packet.read(&mut ictx) {
                Ok(()) => bad_in_a_row = 0,
                Err(ff::Error::Eof) => break,
                Err(ff::Error::Exit) => return Err(PackagerError::Cancelled),
                Err(ff::Error::InvalidData) => {
                    bad_in_a_row += 1;
                    if bad_in_a_row >= MAX_BAD_PACKETS_IN_A_ROW {
                        session.warn("gave up reading after too many damaged packets", emit);
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    session.warn(&format!("reading the input stopped: {e}"), emit);
                    break;
                }
            }
            session.packet(&packet, emit, &self.status)?;
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(PackagerError::Cancelled);
        }
        session.finish(emit, &self.status)
    }
}

fn validate(opts: &PackagerOptions) -> Result<(), PackagerError> {
    let bad = |m: &str| Err(PackagerError::InvalidOptions(m.into()));
    if opts
        .ladder
        .iter()
        .any(|r| !(2..=ladder::MAX_RUNG).contains(r))
    {
        return bad("ladder rungs must be 2..=4320");
    }
    let seg = opts.segment_target.as_secs_f64();
    if !(0.5..=20.0).contains(&seg) {
        return bad("segment_target must be 0.5..=20 s");
    }
    if opts
        .part_target
        .is_some_and(|p| p.as_secs_f64() < 0.1 || p >= opts.segment_target)
    {
        return bad("part_target must be 0.1 s or more and below segment_target");
    }
    if opts.window == Some(0) {
        return bad("window must be at least 1");
    }
    if opts.threads > 64 {
        return bad("threads must be 0..=64");
    }
    Ok(())
}

fn open_input<R: Read + Send + 'static>(
    input: R,
    format: InputFormat,
    cancel: Arc<AtomicBool>,
) -> Result<format::context::Input, PackagerError> {
    let expected = format.demuxer();
    let open_err = |detail: String| PackagerError::Open { expected, detail };
    let io = format::context::StreamIo::from_read(input).map_err(|e| open_err(e.to_string()))?;
    let mut opts = Dictionary::new();
    opts.set("format_whitelist", expected);
    // Live: do not sit on 5 s of media before the first packet comes out.
    opts.set("analyzeduration", "1000000");
    opts.set("probesize", "500000");
    let flag = cancel.clone();
    let ictx = format::input_from_stream_with_interrupt(io, None, Some(opts), move || {
        flag.load(Ordering::Relaxed)
    })
    .map_err(|e| {
        if cancel.load(Ordering::Relaxed) {
            PackagerError::Cancelled
        } else {
            open_err(e.to_string())
        }
    })?;
    if ictx.format().name() != expected {
        return Err(open_err(format!("detected {}", ictx.format().name())));
    }
    Ok(ictx)
}

struct LagState {
    guard: Option<LagGuard>,
    over_since: Option<Instant>,
}

/// Counters for the incoming bitrate / frame rate over about a second of media.
#[derive(Default)]
struct Meter {
    since_tl: Option<i64>,
    bytes: u64,
    frames: u64,
}

struct Session {
    root: PathBuf,
    arrivals: ArrivalLog,
    video_index: usize,
    video_tb: Rational,
    video_codec: String,
    source_size: (u32, u32),
    /// The copied top rung (H.264 sources).
    top: Option<RenditionOut>,
    /// Encoded rungs, highest first (the top rung first when the source is not H.264).
    rungs: Vec<EncodedRung>,
    decoder: Option<VideoDecoder>,
    audio: Option<AudioPipe>,
    boundaries: Vec<Boundary>,
    /// Source timestamp (in [`TL`]) → timeline: `LEAD_TL − first keyframe's DTS`.
    shift: Option<i64>,
    min_segment_tl: i64,
    /// Highest video DTS demuxed (timeline): audio before it can be cut safely.
    watermark: i64,
    source_end: Option<i64>,
    last_key_tl: Option<i64>,
    master_written: bool,
    lag: LagState,
    meter: Meter,
    status: LiveStatus,
    warnings: Vec<String>,
}

impl Session {
    fn new(
        ictx: &mut format::context::Input,
        root: &Path,
        opts: &PackagerOptions,
        arrivals: ArrivalLog,
    ) -> Result<Self, PackagerError> {
        let vstream = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or(PackagerError::NoVideo)?;
        let video_index = vstream.index();
        let video_tb = vstream.time_base();
        let codec_id = vstream.parameters().id();
        let probe = VideoDecoder::new(&vstream, opts.threads)?;
        let (width, height) = probe.size();
        if width < 2 || height < 2 {
            return Err(PackagerError::Unsupported(format!(
                "unknown picture size {width}x{height}"
            )));
        }
        let rate = [vstream.avg_frame_rate(), vstream.rate()]
            .into_iter()
            .find(|r| r.numerator() > 0 && r.denominator() > 0 && f64::from(*r) <= 240.0)
            .unwrap_or(Rational::new(30, 1));
        let bitrate = u64::try_from(probe.bit_rate())
            .ok()
            .filter(|b| *b > 0)
            .or_else(|| u64::try_from(ictx.bit_rate()).ok().filter(|b| *b > 0));
        let astream = ictx.streams().best(media::Type::Audio);
        let short = width.min(height);
        let mut heights = vec![short];
        heights.extend(opts.ladder.iter().copied().filter(|r| *r < short));
        let source = SourceVideo {
            width,
            height,
            rotation: 0,
            fps: FrameRate::new(
                u32::try_from(rate.numerator()).unwrap_or(30),
                u32::try_from(rate.denominator()).unwrap_or(1),
            ),
            vfr: false,
            bitrate_bps: bitrate,
            has_audio: astream.is_some(),
        };
        let plan = ladder::plan(&source, &heights)
            .map_err(|e| PackagerError::Unsupported(e.to_string()))?;
        let passthrough = codec_id == codec::Id::H264;
        let fps = f64::from(rate);

        let mut top = None;
        let mut rungs = Vec::new();
        for (i, rendition) in plan.renditions.iter().enumerate() {
            if i == 0 && passthrough {
                let spec = RenditionSpec {
                    name: rendition.name.clone(),
                    width,
                    height,
                    frame_rate: fps,
                    passthrough: true,
                    audio: false,
                    planned_bandwidth: bitrate.unwrap_or(rendition.max_video_bitrate),
                };
                top = Some(RenditionOut::create(
                    root,
                    spec,
                    StreamSource::Copy(vstream.parameters()),
                    opts.window,
                    opts.segment_target,
                    opts.part_target,
                )?);
            } else {
                rungs.push(EncodedRung::new(root, rendition, rate, opts)?);
            }
        }
        let decoder = (!rungs.is_empty()).then_some(probe);
        let audio = match astream {
            Some(a) => Some(AudioPipe::new(root, &a, opts)?),
            None => None,
        };
        let min_segment_tl = (opts.segment_target.as_secs_f64() * 0.9 * TL_HZ as f64) as i64;
        let mut s = Self {
            root: root.to_path_buf(),
            arrivals,
            video_index,
            video_tb,
            video_codec: codec_id_name(codec_id),
            source_size: (width, height),
            top,
            rungs,
            decoder,
            audio,
            boundaries: Vec::new(),
            shift: None,
            min_segment_tl,
            watermark: i64::MIN,
            source_end: None,
            last_key_tl: None,
            master_written: false,
            lag: LagState {
                guard: opts.lag_guard,
                over_since: None,
            },
            meter: Meter::default(),
            status: LiveStatus::default(),
            warnings: Vec::new(),
        };
        s.status = LiveStatus {
            state: LiveState::Live,
            video_codec: Some(s.video_codec.clone()),
            source_width: width,
            source_height: height,
            renditions: s.rendition_statuses(),
            ..LiveStatus::default()
        };
        Ok(s)
    }

    fn started_event(&self, format: InputFormat) -> PackagerEvent {
        PackagerEvent::Started {
            format,
            video_codec: self.video_codec.clone(),
            width: self.source_size.0,
            height: self.source_size.1,
            renditions: self.outputs().map(|o| o.spec.name.clone()).collect(),
            passthrough: self.top.is_some(),
        }
    }

    /// Every rendition output: video highest first, then audio.
    fn outputs(&self) -> impl Iterator<Item = &RenditionOut> {
        self.top
            .iter()
            .chain(self.rungs.iter().map(|r| &r.out))
            .chain(self.audio.iter().map(|a| &a.out))
    }

    fn rendition_statuses(&self) -> Vec<RenditionStatus> {
        self.outputs().map(RenditionOut::status).collect()
    }

    fn warn(&mut self, text: &str, emit: &mut dyn FnMut(PackagerEvent)) {
        tracing::warn!(warning = text, "live packager");
        self.warnings.push(text.to_string());
        emit(PackagerEvent::Warning(text.to_string()));
    }

    fn packet(
        &mut self,
        packet: &Packet,
        emit: &mut dyn FnMut(PackagerEvent),
        status: &watch::Sender<LiveStatus>,
    ) -> Result<(), PackagerError> {
        let index = packet.stream();
        if index == self.video_index {
            self.video_packet(packet, emit)?;
        } else if let (Some(audio), Some(shift)) = (self.audio.as_mut(), self.shift) {
            if audio.stream_index == index {
                audio.send(packet, shift)?;
                self.meter.bytes += packet.size() as u64;
            }
        }
        if let Some(audio) = self.audio.as_mut() {
            audio.release(self.watermark, &self.boundaries, emit)?;
        }
        // The master appears once every rendition's playlist exists (or the top rung has 3
        // segments, should one rendition never produce any).
        let listed = self
            .outputs()
            .filter(|o| o.active)
            .all(|o| !o.segments.is_empty());
        if !self.master_written && (listed || self.top_segments() >= 3) {
            self.write_master()?;
            self.master_written = true;
        }
        let segments = self.top_segments();
        let media_tl = self.watermark.max(0);
        let due = self
            .meter
            .since_tl
            .is_none_or(|since| media_tl - since >= TL_HZ);
        if due || segments != self.status.segments_written {
            self.update_status(media_tl);
            self.publish(status);
        }
        Ok(())
    }

    fn top_segments(&self) -> u64 {
        self.top
            .as_ref()
            .or(self.rungs.first().map(|r| &r.out))
            .map_or(0, |o| o.segments.len() as u64)
    }

    fn video_packet(
        &mut self,
        packet: &Packet,
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        let Some(raw_dts) = packet.dts().or(packet.pts()) else {
            return Ok(());
        };
        let shift = match self.shift {
            Some(s) => s,
            None => {
                if !packet.is_key() {
                    return Ok(()); // start on a keyframe
                }
                let s = LEAD_TL - raw_dts.rescale(self.video_tb, TL);
                self.shift = Some(s);
                s
            }
        };
        let dts = raw_dts.rescale(self.video_tb, TL).saturating_add(shift);
        let pts = packet
            .pts()
            .map_or(dts, |p| p.rescale(self.video_tb, TL).saturating_add(shift));
        let position = u64::try_from(packet.position()).ok();
        let arrival = position
            .and_then(|p| self.arrivals.arrival_of(p))
            .or_else(|| self.arrivals.latest())
            .unwrap_or_else(SystemTime::now);
        self.meter.bytes += packet.size() as u64;
        self.meter.frames += 1;
        self.watermark = self.watermark.max(dts);
        let end = pts.saturating_add(packet.duration().max(0).rescale(self.video_tb, TL));
        self.source_end = Some(self.source_end.map_or(end, |e| e.max(end)));
        let key = packet.is_key();
        if key {
            if let Some(last) = self.last_key_tl {
                if pts > last {
                    self.status.keyframe_interval_s = Some((pts - last) as f64 / TL_HZ as f64);
                }
            }
            self.last_key_tl = Some(pts);
            let cut = self
                .boundaries
                .last()
                .is_none_or(|b| pts - b.tl >= self.min_segment_tl);
            if cut {
                self.boundaries.push(Boundary {
                    tl: pts,
                    pdt: arrival,
                });
                if let Some(p) = position {
                    self.arrivals.prune_before(p);
                }
            }
        }
        if let Some(top) = self.top.as_mut() {
            let mut copy = packet.clone();
            copy.rescale_ts(self.video_tb, TL);
            copy.set_pts(copy.pts().map(|t| t.saturating_add(shift)));
            copy.set_dts(copy.dts().map(|t| t.saturating_add(shift)));
            top.push(copy, &self.boundaries, emit)?;
        }
        if let Some(decoder) = self.decoder.as_mut() {
            if self.rungs.iter().any(|r| r.out.active) {
                decoder.send(
                    packet,
                    key.then_some(pts),
                    shift,
                    &mut self.rungs,
                    &self.boundaries,
                    emit,
                )?;
            }
        }
        let lag = SystemTime::now()
            .duration_since(arrival)
            .unwrap_or_default();
        self.status.lag_ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        self.check_lag(lag, emit)
    }

    fn check_lag(
        &mut self,
        lag: std::time::Duration,
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        let Some(guard) = self.lag.guard else {
            return Ok(());
        };
        if lag <= guard.threshold {
            self.lag.over_since = None;
            return Ok(());
        }
        let since = *self.lag.over_since.get_or_insert_with(Instant::now);
        if since.elapsed() < guard.sustain {
            return Ok(());
        }
        self.lag.over_since = None;
        // The lowest active encoded rung, never the top rung.
        let first_droppable = usize::from(self.top.is_none());
        let Some(i) = (first_droppable..self.rungs.len())
            .rev()
            .find(|&i| self.rungs[i].out.active)
        else {
            return Ok(());
        };
        self.rungs[i].out.stop()?;
        let name = self.rungs[i].out.spec.name.clone();
        let lag_ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        tracing::warn!(rendition = %name, lag_ms, "live packager behind real time: rung dropped");
        self.warnings
            .push(format!("rung {name} dropped: {lag_ms} ms behind real time"));
        self.status.renditions = self.rendition_statuses();
        if self.master_written {
            self.write_master()?;
        }
        emit(PackagerEvent::RungDropped {
            rendition: name,
            lag_ms,
        });
        Ok(())
    }

    fn update_status(&mut self, media_tl: i64) {
        if let Some(since) = self.meter.since_tl {
            let span = (media_tl - since) as f64 / TL_HZ as f64;
            if span > 0.0 {
                self.status.incoming_bitrate_bps = (self.meter.bytes as f64 * 8.0 / span) as u64;
                self.status.incoming_fps = self.meter.frames as f64 / span;
            }
        }
        self.meter = Meter {
            since_tl: Some(media_tl),
            ..Meter::default()
        };
        self.status.media_time_s = (media_tl - LEAD_TL).max(0) as f64 / TL_HZ as f64;
        self.status.renditions = self.rendition_statuses();
        self.status.segments_written = self.top_segments();
    }

    fn publish(&self, status: &watch::Sender<LiveStatus>) {
        status.send_replace(self.status.clone());
    }

    fn variants(&self, playlist: &str) -> Vec<Variant> {
        self.top
            .iter()
            .chain(self.rungs.iter().map(|r| &r.out))
            .filter(|o| o.active)
            .map(|o| Variant {
                uri: format!("{}/{playlist}", o.spec.name),
                width: o.spec.width,
                height: o.spec.height,
                frame_rate: o.spec.frame_rate,
                codecs: o.codecs.clone(),
                bandwidth: o.bandwidth(),
            })
            .collect()
    }

    fn write_master(&self) -> Result<(), PackagerError> {
        let audio = self.audio.as_ref().map(|a| a.out.bandwidth());
        let uri = format!("{}/{PLAYLIST}", types::AUDIO_DIR);
        let text = master_playlist(&self.variants(PLAYLIST), audio.map(|b| (uri.as_str(), b)));
        write_atomic(&self.root.join(MASTER), text.as_bytes())
    }

    fn finish(
        mut self,
        emit: &mut dyn FnMut(PackagerEvent),
        status: &watch::Sender<LiveStatus>,
    ) -> Result<LiveSummary, PackagerError> {
        let Some(shift) = self.shift else {
            return Err(PackagerError::NoKeyframe);
        };
        if let Some(decoder) = self.decoder.as_mut() {
            decoder.finish(shift, &mut self.rungs, &self.boundaries, emit)?;
            if decoder.decode_errors > 0 {
                let text = format!(
                    "video: {} packet(s) could not be decoded",
                    decoder.decode_errors
                );
                self.warn(&text, emit);
            }
        }
        let end = self.source_end;
        if let Some(top) = self.top.as_mut() {
            top.finish(end, emit)?;
        }
        for rung in &mut self.rungs {
            rung.out.finish(end, emit)?;
        }
        if let Some(audio) = self.audio.as_mut() {
            audio.finish(shift, &self.boundaries, emit)?;
        }
        let dropped: Vec<String> = self
            .outputs()
            .filter(|o| o.dropped_packets > 0)
            .map(|o| {
                format!(
                    "{}: {} packet(s) with a DTS that went backwards were dropped",
                    o.spec.name, o.dropped_packets
                )
            })
            .collect();
        for text in dropped {
            self.warn(&text, emit);
        }
        self.write_master()?;
        let audio = self.audio.as_ref().map(|a| a.out.bandwidth());
        let uri = format!("{}/{VOD_PLAYLIST}", types::AUDIO_DIR);
        let vod = master_playlist(
            &self.variants(VOD_PLAYLIST),
            audio.map(|b| (uri.as_str(), b)),
        );
        write_atomic(&self.root.join("master_vod.m3u8"), vod.as_bytes())?;
        let media_tl = end.unwrap_or(LEAD_TL);
        self.update_status(media_tl);
        self.status.state = LiveState::Finished;
        self.publish(status);
        let duration_s = self.status.media_time_s;
        emit(PackagerEvent::Finished {
            duration_s,
            segments: self.top_segments(),
        });
        Ok(LiveSummary {
            duration_s,
            renditions: self.rendition_statuses(),
            warnings: self.warnings,
        })
    }
}

fn codec_id_name(id: codec::Id) -> String {
    format!("{id:?}").to_lowercase()
}

#[cfg(test)]
mod tests;
