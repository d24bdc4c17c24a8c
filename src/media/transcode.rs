//! The transcoding engine: one input file in, an adaptive HLS folder out, in-process through
//! `ffmpeg-next` (FFmpeg 5.1 on Debian 12). Synchronous: the server runs it on a blocking thread.
//!
//! # Pipeline
//!
//! ```text
//! demux ──► video decoder (frame threads) ──► avfilter graph: [transpose] → fps (CFR)
//!   │                                            │
//!   │                          ┌─────────────────┼──────────────────┐
//!   │                      swscale 1080p     swscale 720p   …   swscale → poster.jpg
//!   │                      libx264 ──► hls    libx264 ──► hls
//!   └──► audio decoder ──► swresample (48 kHz, stereo, fltp; 5.1 is downmixed)
//!                          ──► 1024-sample FIFO ──► AAC-LC ──► hls (audio/)
//! ```
//!
//! * Decode once; every rung is scaled from the same constant-frame-rate frames and encoded
//!   with identical GOP settings (`keyint = keyint_min = GOP`, scene-cut off, closed GOP), so
//!   keyframes — and therefore segment boundaries — line up on every rung.
//! * Rotation: the display matrix (or the legacy `rotate` tag) is honoured by transposing the
//!   decoded frames in the filter graph, so a phone clip shot upright plays upright.
//! * Constant frame rate: the `fps` filter duplicates/drops frames by timestamp, which turns a
//!   VFR phone recording into a CFR stream (see [`ladder::output_fps`] for the chosen rate).
//! * Audio is packaged as a **separate audio rendition group** (`EXT-X-MEDIA TYPE=AUDIO`,
//!   `audio/index.m3u8`), encoded once and shared by every video variant; an audio-only input
//!   gets a master playlist whose only variant is that audio playlist (`CODECS="mp4a.40.2"`).
//! * Output is fMP4 (CMAF) HLS written by FFmpeg's `hls` muxer, one per rendition, plus a
//!   `master.m3u8` written here with BANDWIDTH / AVERAGE-BANDWIDTH measured from the segments.
//! * Everything is written into `OUTDIR.partial-XXXXXX` (a sibling of OUTDIR) and renamed to
//!   OUTDIR only when complete; on error or cancellation the partial folder is removed.
//!
//! Damaged input: demux and decode errors are counted and skipped; what decodes is
//! transcoded and the report carries a warning. Nothing here panics on input-derived data.
//!
//! Untrusted input: only plain media demuxers and the `file` protocol are allowed, so an
//! uploaded playlist (HLS, concat, …) cannot make FFmpeg read other files.

// FFmpeg FFI for the HLS muxer context; every block has a SAFETY note.
#![allow(unsafe_code)]

use crate::media::ladder::{self, FrameRate, Plan, Rendition, SourceVideo};
use ff::format::{Pixel, Sample};
use ff::software::{resampling, scaling};
use ff::{codec, decoder, encoder, filter, format, frame, media, ChannelLayout, Dictionary};
use ff::{Packet, Rational, Rescale};
use ffmpeg_next as ff;
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

/// Demuxers accepted for uploads (matched against FFmpeg's demuxer names).
const INPUT_FORMAT_WHITELIST: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,\
mpeg,mpegvideo,mp3,wav,w64,aac,ac3,eac3,flac,ogg,asf,amr,caf,aiff,wv,mxf,dv,h264,hevc,m4v,\
nut,ivf,obu,rm,loas,yuv4mpegpipe,wtv";
/// x264 speed/quality trade-off (PeerTube and most VOD pipelines use `veryfast`).
const X264_PRESET: &str = "veryfast";
/// Constant rate factor; VBV (`maxrate`/`bufsize` from the ladder) caps the peaks.
const X264_CRF: &str = "23";
const AUDIO_DIR: &str = "audio";
const PLAYLIST: &str = "index.m3u8";
const INIT_SEGMENT: &str = "init.mp4";
const POSTER: &str = "poster.jpg";
const MASTER: &str = "master.m3u8";
/// A gap in the audio timestamps larger than this is filled with silence.
const AUDIO_GAP_S: f64 = 0.1;
/// Every output starts this many video frames into the shared timeline. libx264's B-frame
/// pyramid makes the first DTS two frames earlier than the first PTS; the hls muxer would
/// shift each rendition's negative timestamps separately (video by 2 frames, audio by the
/// 1024-sample AAC priming), putting audio and video out of sync. Starting all renditions
/// at the same small positive offset keeps every timestamp non-negative, so nothing is
/// shifted and audio, video and all rungs share one timeline.
const LEAD_FRAMES: i64 = 3;
/// Frames stamped later than the declared duration plus this margin are damaged timestamps;
/// they are dropped instead of being "filled" with hours of duplicated frames or silence.
const TIMESTAMP_MARGIN_S: f64 = 60.0;
/// Limit when the container does not declare a duration.
const MAX_TIMESTAMP_S: f64 = 12.0 * 3600.0;
/// Give up on an input that yields this many unreadable packets in a row.
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 10_000;

/// Options for [`transcode`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscodeOptions {
    /// Rung heights (short side), e.g. `[1080, 720, 480, 360]`.
    pub ladder: Vec<u32>,
    /// Target HLS segment duration (segments are cut on keyframes, so a multiple of the GOP).
    pub segment_seconds: u32,
    /// Keyframe interval in seconds, identical on every rung.
    pub gop_seconds: u32,
    /// Encoder/decoder threads; 0 = auto (`threads=auto`).
    pub threads: usize,
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        Self {
            ladder: ladder::DEFAULT_LADDER.to_vec(),
            segment_seconds: 6,
            gop_seconds: 2,
            threads: 0,
        }
    }
}

/// Progress, reported at least once per second of output time (and once per wall-clock second).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    /// 0..=1; 0 while the duration is unknown.
    pub fraction: f64,
    /// Seconds of output produced so far.
    pub out_time_s: f64,
    /// Duration of the input when known.
    pub duration_s: Option<f64>,
}

/// What the progress callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Cancel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenditionKind {
    Video,
    Audio,
}

/// One produced rendition (media playlist).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenditionInfo {
    /// `"720p"`, or `"audio"`.
    pub name: String,
    pub kind: RenditionKind,
    /// Media playlist relative to OUTDIR, e.g. `"720p/index.m3u8"`.
    pub playlist: String,
    /// 0 for audio.
    pub width: u32,
    pub height: u32,
    /// Output frame rate (video only).
    pub frame_rate: Option<f64>,
    /// RFC 6381 codec string of this rendition alone (`avc1.64001f`, `mp4a.40.2`).
    pub codecs: String,
    /// Peak segment bitrate in bits/s, measured.
    pub bandwidth: u64,
    /// Average bitrate over all segments in bits/s, measured.
    pub average_bandwidth: u64,
    pub segments: usize,
    /// The planned average bitrate (bits/s).
    pub target_bitrate: u64,
}

/// The outcome of a successful [`transcode`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscodeReport {
    /// Video renditions highest first, then the audio rendition (if any).
    pub renditions: Vec<RenditionInfo>,
    /// Duration of the produced output in seconds.
    pub duration_s: f64,
    /// Non-fatal problems (damaged input, dropped streams, …), in English.
    pub warnings: Vec<String>,
    /// The output has no video (audio-only input, or undecodable video).
    pub audio_only: bool,
    /// The output has audio.
    pub has_audio: bool,
    /// `poster.jpg` was written.
    pub poster: bool,
}

/// Facts about the input, from [`probe`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// FFmpeg demuxer name, e.g. `"mov,mp4,m4a,3gp,3g2,mj2"`.
    pub format_name: String,
    pub duration_s: Option<f64>,
    /// Container bitrate in bits/s when known.
    pub bitrate_bps: Option<u64>,
    pub video: Option<VideoStreamInfo>,
    pub audio: Option<AudioStreamInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoStreamInfo {
    pub index: usize,
    pub codec: String,
    /// Coded size.
    pub width: u32,
    pub height: u32,
    /// Coded width corrected for a non-square sample aspect ratio.
    pub square_pixel_width: u32,
    /// Clockwise rotation to apply for display (0/90/180/270 after normalisation).
    pub rotation: i32,
    /// Nominal rate (CFR) or average rate (VFR).
    pub fps: FrameRate,
    pub vfr: bool,
    pub bitrate_bps: Option<u64>,
    pub pixel_format: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioStreamInfo {
    pub index: usize,
    pub codec: String,
    pub channels: u32,
    pub sample_rate: u32,
    pub bitrate_bps: Option<u64>,
}

#[derive(thiserror::Error, Debug)]
pub enum TranscodeError {
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("cannot open input: {0}")]
    Open(String),
    #[error("no decodable audio or video stream")]
    NoStreams,
    #[error("decoding failed: {0}")]
    Decode(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error("writing the output failed: {0}")]
    Output(String),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("cancelled")]
    Cancelled,
}

impl TranscodeError {
    /// A plain Chinese reason for organizers (no technical detail; log the `Display` form).
    pub fn message_zh(&self) -> String {
        match self {
            Self::InvalidOptions(_) => "转码参数无效".into(),
            Self::Open(_) => "无法打开文件：文件已损坏，或不是受支持的音视频格式".into(),
            Self::NoStreams => "文件中没有可解码的音频或视频流".into(),
            Self::Decode(_) => "音视频解码失败，文件可能已损坏".into(),
            Self::Encode(_) => "视频转码（编码）失败".into(),
            Self::Output(_) => "写入转码结果失败".into(),
            Self::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                "读写文件失败：没有权限".into()
            }
            Self::Io(_) => "读写文件失败（磁盘空间不足或没有权限）".into(),
            Self::Cancelled => "转码已取消".into(),
        }
    }
}

fn enc_err(e: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Encode(e.to_string())
}

fn out_err(e: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Output(e.to_string())
}

fn is_again_or_eof(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Eof)
        || *e
            == (ff::Error::Other {
                errno: ff::error::EAGAIN,
            })
}

/// Initialise FFmpeg once per process and lower its log level to errors.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ff::init() {
            tracing::error!(error = %e, "FFmpeg initialisation failed");
        }
        ff::log::set_level(ff::log::Level::Error);
    });
}

// ---------------------------------------------------------------------------------------------
// Probing
// ---------------------------------------------------------------------------------------------

/// Inspect `input`: container, duration, the video and audio streams that will be used.
///
/// Fails with [`TranscodeError::Open`] when FFmpeg cannot read the file and with
/// [`TranscodeError::NoStreams`] when it has no decodable audio or video stream.
pub fn probe(input: &Path) -> Result<SourceInfo, TranscodeError> {
    init();
    let ictx = open_input(input)?;
    probe_context(&ictx)
}

/// FFmpeg needs a UTF-8 path without NUL (ffmpeg-next would panic otherwise). The path is made
/// absolute so a name like `http:x.mp4` is never mistaken for a URL.
fn ffmpeg_path(path: &Path) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("path is not valid UTF-8: {}", path.display()))?;
    if text.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if !path.is_absolute() {
        return Err(format!("path is not absolute: {text}"));
    }
    Ok(text.to_string())
}

fn open_input(input: &Path) -> Result<format::context::Input, TranscodeError> {
    let abs = fs::canonicalize(input)
        .map_err(|e| TranscodeError::Open(format!("{}: {e}", input.display())))?;
    if !abs.is_file() {
        return Err(TranscodeError::Open(format!(
            "{} is not a file",
            abs.display()
        )));
    }
    let path = ffmpeg_path(&abs).map_err(TranscodeError::Open)?;
    let mut options = Dictionary::new();
    options.set("format_whitelist", INPUT_FORMAT_WHITELIST);
    options.set("protocol_whitelist", "file");
    format::input_with_dictionary(&path, options)
        .map_err(|e| TranscodeError::Open(format!("{}: {e}", abs.display())))
}

fn positive(v: i64) -> Option<u64> {
    u64::try_from(v).ok().filter(|&v| v > 0)
}

fn frame_rate(r: Rational) -> Option<FrameRate> {
    let (num, den) = (r.numerator(), r.denominator());
    match (u32::try_from(num), u32::try_from(den)) {
        (Ok(n), Ok(d)) if n > 0 && d > 0 => Some(FrameRate::new(n, d)),
        _ => None,
    }
}

/// Clockwise display rotation from a display matrix (9 × i32, 16.16 fixed point), the same
/// convention as the `ffmpeg` CLI's autorotate: `theta = -av_display_rotation_get(matrix)`.
pub(crate) fn rotation_from_display_matrix(bytes: &[u8]) -> Option<i32> {
    if bytes.len() < 36 {
        return None;
    }
    let m: Vec<f64> = bytes[..36]
        .chunks_exact(4)
        .map(|c| f64::from(i32::from_ne_bytes([c[0], c[1], c[2], c[3]])) / 65536.0)
        .collect();
    let scale0 = m[0].hypot(m[3]);
    let scale1 = m[1].hypot(m[4]);
    if scale0 == 0.0 || scale1 == 0.0 {
        return None;
    }
    // av_display_rotation_get() = -atan2(m1/scale1, m0/scale0) (counter-clockwise), and the
    // CLI rotates by theta = -that clockwise.
    let theta = (m[1] / scale1).atan2(m[0] / scale0).to_degrees();
    if !theta.is_finite() {
        return None;
    }
    Some((theta.round() as i32).rem_euclid(360))
}

fn stream_rotation(stream: &ff::Stream) -> i32 {
    for side in stream.side_data() {
        if side.kind() == codec::packet::side_data::Type::DisplayMatrix {
            if let Some(r) = rotation_from_display_matrix(side.data()) {
                return r;
            }
        }
    }
    stream
        .metadata()
        .get("rotate")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map(|v| (v.round() as i64).rem_euclid(360) as i32)
        .unwrap_or(0)
}

fn open_video_decoder(stream: &ff::Stream, threads: usize) -> Result<decoder::Video, ff::Error> {
    let mut ctx = codec::context::Context::from_parameters(stream.parameters())?;
    ctx.set_threading(ff::threading::Config {
        kind: ff::threading::Type::Frame,
        count: threads,
        ..Default::default()
    });
    let mut dec = ctx.decoder();
    dec.set_packet_time_base(stream.time_base());
    dec.video()
}

fn open_audio_decoder(stream: &ff::Stream) -> Result<decoder::Audio, ff::Error> {
    let ctx = codec::context::Context::from_parameters(stream.parameters())?;
    let mut dec = ctx.decoder();
    dec.set_packet_time_base(stream.time_base());
    dec.audio()
}

fn probe_context(ictx: &format::context::Input) -> Result<SourceInfo, TranscodeError> {
    let mut video: Option<(i64, VideoStreamInfo)> = None;
    let mut audio: Option<(i64, AudioStreamInfo)> = None;
    for stream in ictx.streams() {
        let params = stream.parameters();
        let default = stream
            .disposition()
            .contains(format::stream::Disposition::DEFAULT);
        match params.medium() {
            media::Type::Video => {
                if stream
                    .disposition()
                    .contains(format::stream::Disposition::ATTACHED_PIC)
                {
                    continue; // cover art, not a video
                }
                let Ok(dec) = open_video_decoder(&stream, 1) else {
                    continue;
                };
                let (w, h) = (dec.width(), dec.height());
                if w < 2 || h < 2 {
                    continue;
                }
                let sar = dec.aspect_ratio();
                let square_pixel_width = match (sar.numerator(), sar.denominator()) {
                    (n, d) if n > 0 && d > 0 && n != d => {
                        let scaled = (f64::from(w) * f64::from(n) / f64::from(d)).round();
                        if (2.0..=16384.0).contains(&scaled) {
                            scaled as u32
                        } else {
                            w
                        }
                    }
                    _ => w,
                };
                let nominal = frame_rate(stream.rate());
                let average = frame_rate(stream.avg_frame_rate());
                let vfr = match (nominal, average) {
                    (Some(n), Some(a)) => (n.as_f64() - a.as_f64()).abs() / a.as_f64() > 0.02,
                    _ => false,
                };
                let fps =
                    if vfr { average } else { nominal.or(average) }.unwrap_or(FrameRate::new(0, 0));
                let bitrate = positive(params.bit_rate()).or(positive(dec.bit_rate() as i64));
                let info = VideoStreamInfo {
                    index: stream.index(),
                    codec: dec.id().name().to_string(),
                    width: w,
                    height: h,
                    square_pixel_width,
                    rotation: stream_rotation(&stream),
                    fps,
                    vfr,
                    bitrate_bps: bitrate,
                    pixel_format: dec
                        .format()
                        .descriptor()
                        .map(|d| d.name().to_string())
                        .unwrap_or_default(),
                };
                let score = i64::from(w) * i64::from(h) + if default { 1 << 40 } else { 0 };
                if video.as_ref().is_none_or(|(s, _)| score > *s) {
                    video = Some((score, info));
                }
            }
            media::Type::Audio => {
                let Ok(dec) = open_audio_decoder(&stream) else {
                    continue;
                };
                if dec.channels() == 0 || dec.rate() == 0 {
                    continue;
                }
                let info = AudioStreamInfo {
                    index: stream.index(),
                    codec: dec.id().name().to_string(),
                    channels: u32::from(dec.channels()),
                    sample_rate: dec.rate(),
                    bitrate_bps: positive(params.bit_rate()),
                };
                let score = i64::from(dec.channels()) + if default { 1 << 20 } else { 0 };
                if audio.as_ref().is_none_or(|(s, _)| score > *s) {
                    audio = Some((score, info));
                }
            }
            _ => {}
        }
    }
    if video.is_none() && audio.is_none() {
        return Err(TranscodeError::NoStreams);
    }
    let mut duration_s = positive(ictx.duration()).map(|us| us as f64 / 1e6);
    if duration_s.is_none() {
        duration_s = ictx
            .streams()
            .filter_map(|s| positive(s.duration()).map(|d| d as f64 * f64::from(s.time_base())))
            .filter(|d| d.is_finite() && *d > 0.0)
            .reduce(f64::max);
    }
    Ok(SourceInfo {
        format_name: ictx.format().name().to_string(),
        duration_s,
        bitrate_bps: positive(ictx.bit_rate()),
        video: video.map(|(_, v)| v),
        audio: audio.map(|(_, a)| a),
    })
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Transcode `input` into adaptive HLS at `out_dir` (`out_dir/master.m3u8`).
///
/// The work happens in `OUTDIR.partial-XXXXXX` next to `out_dir`, which is renamed to
/// `out_dir` only on success (an existing `out_dir` is replaced: moved away, the new folder
/// renamed in, the old one deleted). On error or cancellation the partial folder is removed
/// and `out_dir` is left untouched.
///
/// `on_progress` is called at least once per second of output time; returning
/// [`Control::Cancel`] stops promptly with [`TranscodeError::Cancelled`].
pub fn transcode(
    input: &Path,
    out_dir: &Path,
    opts: &TranscodeOptions,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TranscodeReport, TranscodeError> {
    init();
    validate_options(opts)?;
    let (parent, name) = split_out_dir(out_dir, true)?;
    let target = parent.join(&name);

    let mut ictx = open_input(input)?;
    let info = probe_context(&ictx)?;

    let staging = tempfile::Builder::new()
        .prefix(&format!("{name}.partial-"))
        .tempdir_in(&parent)?;
    // On any error below `staging` is dropped, which removes the partial folder.
    let report = {
        let mut reporter = Reporter::new(on_progress, info.duration_s);
        run_pipeline(&mut ictx, &info, staging.path(), opts, &mut reporter)?
    };
    drop(ictx);
    let staged = staging.keep();
    if let Err(e) = install(&staged, &target) {
        let _ = fs::remove_dir_all(&staged);
        return Err(e.into());
    }
    Ok(report)
}

fn validate_options(opts: &TranscodeOptions) -> Result<(), TranscodeError> {
    if opts.ladder.is_empty() {
        return Err(TranscodeError::InvalidOptions("the ladder is empty".into()));
    }
    if let Some(bad) = opts
        .ladder
        .iter()
        .find(|r| !(2..=ladder::MAX_RUNG).contains(*r))
    {
        return Err(TranscodeError::InvalidOptions(format!(
            "rung {bad} is outside 2..={}",
            ladder::MAX_RUNG
        )));
    }
    if !(1..=60).contains(&opts.segment_seconds) {
        return Err(TranscodeError::InvalidOptions(
            "segment_seconds must be 1..=60".into(),
        ));
    }
    if !(1..=20).contains(&opts.gop_seconds) {
        return Err(TranscodeError::InvalidOptions(
            "gop_seconds must be 1..=20".into(),
        ));
    }
    if opts.threads > 64 {
        return Err(TranscodeError::InvalidOptions(
            "threads must be 0..=64".into(),
        ));
    }
    Ok(())
}

/// Absolute parent directory (must exist) and final path component of OUTDIR.
fn split_out_dir(out_dir: &Path, create_parent: bool) -> Result<(PathBuf, String), TranscodeError> {
    let name = out_dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| {
            TranscodeError::InvalidOptions(format!(
                "output folder needs a UTF-8 name: {}",
                out_dir.display()
            ))
        })?
        .to_string();
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if create_parent {
        fs::create_dir_all(&parent)?;
    }
    let parent = fs::canonicalize(&parent).map_err(|e| {
        TranscodeError::InvalidOptions(format!("output parent folder {}: {e}", parent.display()))
    })?;
    Ok((parent, name))
}

/// Move the finished folder into place, replacing an existing `target`.
fn install(staged: &Path, target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::rename(staged, target),
        Err(e) => Err(e),
        Ok(_) => {
            let parent = target.parent().unwrap_or(Path::new("."));
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The old output is moved into a fresh hidden folder that is deleted afterwards.
            let graveyard = tempfile::Builder::new()
                .prefix(&format!(".{name}.old-"))
                .tempdir_in(parent)?;
            let old = graveyard.path().join("previous");
            fs::rename(target, &old)?;
            if let Err(e) = fs::rename(staged, target) {
                let _ = fs::rename(&old, target);
                return Err(e);
            }
            drop(graveyard);
            Ok(())
        }
    }
}

/// Remove `OUTDIR.partial-*` and `.OUTDIR.old-*` leftovers of a process that died mid-run.
/// Call only when no transcode into `out_dir` is running.
pub fn remove_stale_partials(out_dir: &Path) -> io::Result<usize> {
    let Ok((parent, name)) = split_out_dir(out_dir, false) else {
        return Ok(0);
    };
    let partial = format!("{name}.partial-");
    let old = format!(".{name}.old-");
    let mut removed = 0;
    for entry in fs::read_dir(&parent)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        if (n.starts_with(&partial) || n.starts_with(&old)) && entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

// ---------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------

struct Reporter<'a> {
    callback: &'a mut dyn FnMut(&Progress) -> Control,
    duration_s: Option<f64>,
    last_out_time: f64,
    last_call: Instant,
}

impl<'a> Reporter<'a> {
    fn new(callback: &'a mut dyn FnMut(&Progress) -> Control, duration_s: Option<f64>) -> Self {
        Self {
            callback,
            duration_s: duration_s.filter(|d| d.is_finite() && *d > 0.0),
            last_out_time: 0.0,
            last_call: Instant::now(),
        }
    }

    /// Report when output time advanced by half a second or a wall-clock second passed.
    fn tick(&mut self, out_time_s: f64) -> Result<(), TranscodeError> {
        let t = out_time_s.max(self.last_out_time); // audio and video both report; stay monotone
        if t - self.last_out_time >= 0.5 || self.last_call.elapsed().as_secs_f64() >= 1.0 {
            self.report(t, false)?;
        }
        Ok(())
    }

    fn report(&mut self, out_time_s: f64, done: bool) -> Result<(), TranscodeError> {
        let out_time_s = out_time_s.max(self.last_out_time);
        self.last_out_time = out_time_s;
        self.last_call = Instant::now();
        let fraction = if done {
            1.0
        } else {
            self.duration_s
                .map(|d| (out_time_s / d).clamp(0.0, 0.999))
                .unwrap_or(0.0)
        };
        let progress = Progress {
            fraction,
            out_time_s,
            duration_s: self.duration_s,
        };
        match (self.callback)(&progress) {
            Control::Continue => Ok(()),
            Control::Cancel => Err(TranscodeError::Cancelled),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pipeline
// ---------------------------------------------------------------------------------------------

fn run_pipeline(
    ictx: &mut format::context::Input,
    info: &SourceInfo,
    dir: &Path,
    opts: &TranscodeOptions,
    reporter: &mut Reporter<'_>,
) -> Result<TranscodeReport, TranscodeError> {
    let mut warnings = Vec::new();

    // Common time origin: the earliest start of the streams we use.
    let micros = Rational::new(1, 1_000_000);
    let t0_us = [
        info.video.as_ref().map(|v| v.index),
        info.audio.as_ref().map(|a| a.index),
    ]
    .into_iter()
    .flatten()
    .filter_map(|i| ictx.stream(i))
    .filter(|s| s.start_time() != ff::ffi::AV_NOPTS_VALUE)
    .map(|s| s.start_time().rescale(s.time_base(), micros))
    .min()
    .unwrap_or(0);

    let plan: Option<Plan> = match &info.video {
        Some(v) => {
            if v.rotation % 90 != 0 {
                warnings.push(format!(
                    "rotation of {}° rounded to a multiple of 90°",
                    v.rotation
                ));
            }
            let audio_bps = info.audio.as_ref().and_then(|a| a.bitrate_bps).unwrap_or(0);
            let source_bitrate = v.bitrate_bps.or_else(|| {
                info.bitrate_bps
                    .map(|b| b.saturating_sub(audio_bps))
                    .filter(|b| *b > 0)
            });
            let source = SourceVideo {
                width: v.square_pixel_width,
                height: v.height,
                rotation: v.rotation,
                fps: v.fps,
                vfr: v.vfr,
                bitrate_bps: source_bitrate,
                has_audio: info.audio.is_some(),
            };
            Some(
                ladder::plan(&source, &opts.ladder)
                    .map_err(|e| TranscodeError::InvalidOptions(e.to_string()))?,
            )
        }
        None => None,
    };

    let max_ts_s = info
        .duration_s
        .map_or(MAX_TIMESTAMP_S, |d| d + TIMESTAMP_MARGIN_S);
    let mut video = match (&info.video, &plan) {
        (Some(v), Some(plan)) => {
            let stream = ictx
                .stream(v.index)
                .ok_or_else(|| TranscodeError::Decode("video stream vanished".into()))?;
            Some(VideoPipe::new(
                &stream,
                plan,
                dir,
                opts,
                t0_us.rescale(micros, stream.time_base()),
                info.duration_s,
                max_ts_s,
            )?)
        }
        _ => None,
    };
    let mut audio = match &info.audio {
        Some(a) => {
            let stream = ictx
                .stream(a.index)
                .ok_or_else(|| TranscodeError::Decode("audio stream vanished".into()))?;
            Some(AudioPipe::new(
                &stream,
                dir,
                opts,
                t0_us.rescale(micros, stream.time_base()),
                max_ts_s,
                plan.as_ref()
                    .map(|p| LEAD_FRAMES as f64 / p.fps.as_f64().max(1.0)),
            )?)
        }
        None => None,
    };

    let out_time = |video: &Option<VideoPipe>, audio: &Option<AudioPipe>| -> f64 {
        let v = video.as_ref().map_or(0.0, VideoPipe::out_time_s);
        let a = audio.as_ref().map_or(0.0, AudioPipe::out_time_s);
        v.max(a)
    };

    // Demux + decode + encode.
    let mut bad_in_a_row = 0u32;
    let mut unreadable = 0u64;
    let mut corrupt = 0u64;
    loop {
        let mut packet = Packet::empty();
        match packet.read(ictx) {
            Ok(()) => bad_in_a_row = 0,
            Err(ff::Error::Eof) => break,
            Err(ff::Error::InvalidData) => {
                unreadable += 1;
                bad_in_a_row += 1;
                if bad_in_a_row >= MAX_CONSECUTIVE_BAD_PACKETS {
                    warnings.push("gave up reading after too many damaged packets".into());
                    break;
                }
                continue;
            }
            Err(e) => {
                warnings.push(format!("reading the input stopped early: {e}"));
                break;
            }
        }
        if packet.is_corrupt() {
            corrupt += 1;
        }
        let index = packet.stream();
        if let Some(v) = video.as_mut().filter(|v| v.stream_index == index) {
            v.send_packet(&packet, reporter)?;
        } else if let Some(a) = audio.as_mut().filter(|a| a.stream_index == index) {
            a.send_packet(&packet, reporter)?;
        }
        reporter.tick(out_time(&video, &audio))?;
    }

    if let Some(v) = video.as_mut() {
        v.finish(reporter)?;
    }
    if let Some(a) = audio.as_mut() {
        a.finish(reporter)?;
    }

    if unreadable > 0 {
        warnings.push(format!("{unreadable} unreadable packet(s) were skipped"));
    }
    if corrupt > 0 {
        warnings.push(format!(
            "{corrupt} packet(s) were marked corrupt by the demuxer"
        ));
    }

    let video_ok = video.as_ref().is_some_and(|v| v.frames_out > 0);
    let audio_ok = audio.as_ref().is_some_and(|a| a.samples_encoded > 0);
    if !video_ok && !audio_ok {
        return Err(TranscodeError::Decode(
            "no audio or video frame could be decoded".into(),
        ));
    }
    if let Some(v) = &video {
        if v.decode_errors > 0 {
            warnings.push(format!(
                "video: {} packet(s) could not be decoded",
                v.decode_errors
            ));
        }
        warnings.extend(v.warnings.iter().cloned());
        if !video_ok {
            warnings.push("the video stream could not be decoded; the output is audio-only".into());
            for rung in &v.rungs {
                let _ = fs::remove_dir_all(&rung.dir);
            }
            let _ = fs::remove_file(dir.join(POSTER));
        }
    }
    if let Some(a) = &audio {
        if a.decode_errors > 0 {
            warnings.push(format!(
                "audio: {} packet(s) could not be decoded",
                a.decode_errors
            ));
        }
        warnings.extend(a.warnings.iter().cloned());
        if !audio_ok {
            warnings.push("the audio stream could not be decoded; the output has no sound".into());
            let _ = fs::remove_dir_all(dir.join(AUDIO_DIR));
        }
    }

    let video_time = video
        .as_ref()
        .filter(|_| video_ok)
        .map(|v| v.out_time_s())
        .unwrap_or(0.0);
    let audio_time = audio
        .as_ref()
        .filter(|_| audio_ok)
        .map(|a| a.out_time_s())
        .unwrap_or(0.0);
    let duration_s = video_time.max(audio_time);
    if let Some(declared) = info.duration_s {
        if declared > 1.0 && duration_s < declared * 0.9 {
            warnings.push(format!(
                "only {duration_s:.1} s of {declared:.1} s could be decoded (truncated or damaged file)"
            ));
        }
    }

    // Measure the renditions and write the master playlist.
    let mut renditions = Vec::new();
    if video_ok {
        if let Some(v) = &video {
            for rung in &v.rungs {
                renditions.push(measure_video(rung)?);
            }
        }
    }
    let audio_info = if audio_ok {
        Some(measure_audio(dir)?)
    } else {
        None
    };
    let master = master_playlist(&renditions, audio_info.as_ref());
    fs::write(dir.join(MASTER), master)?;
    let poster = video_ok && dir.join(POSTER).is_file();
    renditions.extend(audio_info);

    reporter.report(duration_s, true)?;
    Ok(TranscodeReport {
        renditions,
        duration_s,
        warnings,
        audio_only: !video_ok,
        has_audio: audio_ok,
        poster,
    })
}

// ---------------------------------------------------------------------------------------------
// HLS output
// ---------------------------------------------------------------------------------------------

/// An `hls` muxer writing `dir/index.m3u8`, `dir/init.mp4`, `dir/seg_NNNNN.m4s`.
fn hls_output(dir: &Path) -> Result<format::context::Output, TranscodeError> {
    fs::create_dir_all(dir)?;
    let playlist = ffmpeg_path(&dir.join(PLAYLIST)).map_err(TranscodeError::Output)?;
    let c_playlist = CString::new(playlist).map_err(out_err)?;
    let c_format = CString::new("hls").map_err(out_err)?;
    let mut ctx: *mut ff::ffi::AVFormatContext = std::ptr::null_mut();
    // SAFETY: both strings are valid NUL-terminated C strings that outlive the call; `ctx`
    // is an out-pointer that FFmpeg sets to a newly allocated context on success (and leaves
    // null on failure). No AVIOContext is opened: the hls muxer is AVFMT_NOFILE and opens
    // its playlist/segment files itself (DESIGN.md: `output_with` would open the URL).
    let ret = unsafe {
        ff::ffi::avformat_alloc_output_context2(
            &mut ctx,
            std::ptr::null_mut(),
            c_format.as_ptr(),
            c_playlist.as_ptr(),
        )
    };
    if ret < 0 || ctx.is_null() {
        return Err(TranscodeError::Output(format!(
            "cannot create the hls muxer: {}",
            ff::Error::from(ret)
        )));
    }
    // SAFETY: `ctx` is a valid, exclusively owned AVFormatContext from the call above; the
    // wrapper takes ownership and frees it once (avio_close(NULL) is a no-op for `pb`).
    Ok(unsafe { format::context::Output::wrap(ctx) })
}

fn hls_options(dir: &Path, segment_seconds: u32) -> Result<Dictionary<'static>, TranscodeError> {
    let dir_text = ffmpeg_path(dir).map_err(TranscodeError::Output)?;
    // The segment name is a printf-style pattern: escape any '%' in the folder name.
    let pattern = format!("{}/seg_%05d.m4s", dir_text.replace('%', "%%"));
    let mut d = Dictionary::new();
    d.set("hls_time", &segment_seconds.to_string());
    d.set("hls_playlist_type", "vod");
    d.set("hls_list_size", "0");
    d.set("hls_segment_type", "fmp4");
    d.set("hls_fmp4_init_filename", INIT_SEGMENT);
    d.set("hls_segment_filename", &pattern);
    d.set("hls_flags", "independent_segments");
    Ok(d)
}

fn write_hls_header(
    octx: &mut format::context::Output,
    dir: &Path,
    segment_seconds: u32,
) -> Result<(), TranscodeError> {
    let options = hls_options(dir, segment_seconds)?;
    let leftover = octx.write_header_with(options).map_err(out_err)?;
    for (key, value) in leftover.iter() {
        tracing::warn!(key, value, "hls muxer ignored an option");
    }
    Ok(())
}

fn global_header(octx: &format::context::Output) -> bool {
    octx.format().flags().contains(format::Flags::GLOBAL_HEADER)
}

// ---------------------------------------------------------------------------------------------
// Video
// ---------------------------------------------------------------------------------------------

struct RungEncoder {
    rendition: Rendition,
    dir: PathBuf,
    scaler: Option<scaling::Context>,
    encoder: encoder::Video,
    octx: format::context::Output,
    enc_tb: Rational,
    ost_tb: Rational,
}

impl RungEncoder {
    fn new(
        rendition: &Rendition,
        dir: PathBuf,
        opts: &TranscodeOptions,
    ) -> Result<Self, TranscodeError> {
        let mut octx = hls_output(&dir)?;
        let codec = encoder::find_by_name("libx264")
            .ok_or_else(|| TranscodeError::Encode("libx264 is not available".into()))?;
        let fps = rendition.fps;
        let (num, den) = (
            i32::try_from(fps.num).map_err(enc_err)?,
            i32::try_from(fps.den).map_err(enc_err)?,
        );
        let enc_tb = Rational::new(den, num);
        let gop = ((f64::from(opts.gop_seconds) * fps.as_f64()).round() as u32).max(1);

        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(enc_err)?;
        enc.set_width(rendition.width);
        enc.set_height(rendition.height);
        enc.set_format(Pixel::YUV420P);
        enc.set_time_base(enc_tb);
        enc.set_frame_rate(Some(Rational::new(num, den)));
        enc.set_aspect_ratio(Rational::new(1, 1));
        enc.set_gop(gop);
        enc.set_max_bit_rate(usize::try_from(rendition.max_video_bitrate).unwrap_or(usize::MAX));
        if global_header(&octx) {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut x264 = Dictionary::new();
        x264.set("preset", X264_PRESET);
        x264.set("profile", "high");
        x264.set("crf", X264_CRF);
        x264.set("maxrate", &rendition.max_video_bitrate.to_string());
        x264.set(
            "bufsize",
            &rendition.max_video_bitrate.saturating_mul(2).to_string(),
        );
        x264.set("g", &gop.to_string());
        x264.set("keyint_min", &gop.to_string());
        x264.set("sc_threshold", "0");
        let threads = if opts.threads == 0 {
            "auto".to_string()
        } else {
            opts.threads.to_string()
        };
        x264.set("threads", &threads);
        // Fixed GOP on every rung: keyframes every `gop` frames, never on scene cuts, closed
        // GOPs. (x264 clamps min-keyint to keyint/2+1; with scenecut=0 it never matters.)
        x264.set(
            "x264-params",
            &format!("keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0"),
        );
        let encoder = enc.open_with(x264).map_err(enc_err)?;

        {
            let mut ost = octx.add_stream(codec).map_err(out_err)?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
            ost.set_avg_frame_rate(Rational::new(num, den));
        }
        write_hls_header(&mut octx, &dir, opts.segment_seconds)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| TranscodeError::Output("hls stream missing".into()))?;
        Ok(Self {
            rendition: rendition.clone(),
            dir,
            scaler: None,
            encoder,
            octx,
            enc_tb,
            ost_tb,
        })
    }

    fn encode(&mut self, src: &frame::Video, pts: i64) -> Result<(), TranscodeError> {
        let (w, h) = (self.rendition.width, self.rendition.height);
        let stale = self.scaler.as_ref().is_none_or(|s| {
            let i = s.input();
            i.format != src.format() || i.width != src.width() || i.height != src.height()
        });
        if stale {
            self.scaler = Some(
                scaling::Context::get(
                    src.format(),
                    src.width(),
                    src.height(),
                    Pixel::YUV420P,
                    w,
                    h,
                    scaling::Flags::BICUBIC,
                )
                .map_err(enc_err)?,
            );
        }
        let scaler = self
            .scaler
            .as_mut()
            .ok_or_else(|| TranscodeError::Encode("no scaler".into()))?;
        // A fresh frame each time: the encoder may still hold a reference to the last one.
        let mut scaled = frame::Video::new(Pixel::YUV420P, w, h);
        scaler.run(src, &mut scaled).map_err(enc_err)?;
        scaled.set_pts(Some(pts));
        self.encoder.send_frame(&scaled).map_err(enc_err)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), TranscodeError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(0);
                    // libx264 packets carry duration 0 on FFmpeg 5.1; the hls muxer needs it
                    // for EXTINF, and it must be set before rescaling (DESIGN.md).
                    if packet.duration() <= 0 {
                        packet.set_duration(1);
                    }
                    packet.rescale_ts(self.enc_tb, self.ost_tb);
                    packet.set_position(-1);
                    packet.write_interleaved(&mut self.octx).map_err(out_err)?;
                }
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(enc_err(e)),
            }
        }
    }

    fn finish(&mut self, produced_frames: bool) -> Result<(), TranscodeError> {
        self.encoder.send_eof().map_err(enc_err)?;
        self.drain()?;
        match self.octx.write_trailer() {
            Ok(()) => Ok(()),
            // Nothing was decoded: the folder is discarded anyway.
            Err(_) if !produced_frames => Ok(()),
            Err(e) => Err(out_err(e)),
        }
    }
}

/// Writes `poster.jpg`: the first frame as soon as it exists, replaced by the frame ~10% in.
struct Poster {
    path: PathBuf,
    width: u32,
    height: u32,
    target_s: f64,
    written: bool,
    done: bool,
}

impl Poster {
    fn offer(&mut self, src: &frame::Video, t: f64) -> Result<(), TranscodeError> {
        if self.done {
            return Ok(());
        }
        let at_target = t >= self.target_s;
        if at_target || !self.written {
            let jpeg = encode_jpeg(src, self.width, self.height)?;
            fs::write(&self.path, jpeg)?;
            self.written = true;
            self.done = at_target;
        }
        Ok(())
    }
}

fn encode_jpeg(src: &frame::Video, width: u32, height: u32) -> Result<Vec<u8>, TranscodeError> {
    let mut scaler = scaling::Context::get(
        src.format(),
        src.width(),
        src.height(),
        Pixel::YUVJ420P,
        width,
        height,
        scaling::Flags::BICUBIC,
    )
    .map_err(enc_err)?;
    let mut scaled = frame::Video::new(Pixel::YUVJ420P, width, height);
    scaler.run(src, &mut scaled).map_err(enc_err)?;
    scaled.set_pts(Some(0));
    scaled.set_color_range(ff::color::Range::JPEG);

    let codec = encoder::find(codec::Id::MJPEG)
        .ok_or_else(|| TranscodeError::Encode("mjpeg encoder is not available".into()))?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(enc_err)?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base(Rational::new(1, 25));
    enc.set_color_range(ff::color::Range::JPEG);
    enc.set_flags(codec::Flags::QSCALE);
    // qscale 3 (FF_QP2LAMBDA = 118): good quality, small file.
    enc.set_global_quality(3 * 118);
    let mut enc = enc.open_as(codec).map_err(enc_err)?;
    enc.send_frame(&scaled).map_err(enc_err)?;
    enc.send_eof().map_err(enc_err)?;
    let mut packet = Packet::empty();
    enc.receive_packet(&mut packet).map_err(enc_err)?;
    packet
        .data()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| TranscodeError::Encode("empty poster".into()))
}

struct VideoPipe {
    stream_index: usize,
    decoder: decoder::Video,
    t0_ts: i64,
    /// Frames after this timestamp (stream time base) are dropped as damaged.
    max_ts: i64,
    bogus_timestamps: u64,
    /// Duration of one source frame in `in_tb`, to extrapolate missing timestamps.
    frame_step: i64,
    last_pts: Option<i64>,
    graph: filter::Graph,
    /// Format and size the filter graph was configured for.
    graph_input: (Pixel, u32, u32),
    /// Converts frames whose size/format changed mid-stream back to `graph_input`.
    normalizer: Option<scaling::Context>,
    sink_tb: Rational,
    out_tb: Rational,
    out_step_s: f64,
    rungs: Vec<RungEncoder>,
    poster: Poster,
    frames_out: u64,
    next_out_pts: i64,
    /// End of the last decoded frame (in the stream time base), to close the graph there.
    last_end: Option<i64>,
    decode_errors: u64,
    warnings: Vec<String>,
}

fn build_video_graph(
    format: Pixel,
    width: u32,
    height: u32,
    tb: Rational,
    sar: Rational,
    rotation: u32,
    fps: FrameRate,
) -> Result<filter::Graph, ff::Error> {
    let mut graph = filter::Graph::new();
    let pix: ff::ffi::AVPixelFormat = format.into();
    let (sar_num, sar_den) = match (sar.numerator(), sar.denominator()) {
        (n, d) if n > 0 && d > 0 => (n, d),
        _ => (1, 1),
    };
    let args = format!(
        "video_size={width}x{height}:pix_fmt={}:time_base={}/{}:pixel_aspect={sar_num}/{sar_den}",
        pix as i32,
        tb.numerator(),
        tb.denominator().max(1),
    );
    let buffer = filter::find("buffer").ok_or(ff::Error::FilterNotFound)?;
    let sink = filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?;
    graph.add(&buffer, "in", &args)?;
    graph.add(&sink, "out", "")?;
    let mut chain: Vec<String> = Vec::new();
    match rotation {
        90 => chain.push("transpose=clock".into()),
        180 => chain.push("hflip,vflip".into()),
        270 => chain.push("transpose=cclock".into()),
        _ => {}
    }
    // Constant frame rate: duplicate/drop by timestamp; start_time=0 pads the start so the
    // video begins at the common time origin like the audio.
    chain.push(format!(
        "fps=fps={}/{}:start_time=0:round=near",
        fps.num, fps.den
    ));
    graph
        .output("in", 0)?
        .input("out", 0)?
        .parse(&chain.join(","))?;
    graph.validate()?;
    Ok(graph)
}

impl VideoPipe {
    fn new(
        stream: &ff::Stream,
        plan: &Plan,
        dir: &Path,
        opts: &TranscodeOptions,
        t0_ts: i64,
        duration_s: Option<f64>,
        max_ts_s: f64,
    ) -> Result<Self, TranscodeError> {
        let decoder = open_video_decoder(stream, opts.threads)
            .map_err(|e| TranscodeError::Decode(format!("video decoder: {e}")))?;
        let in_tb = stream.time_base();
        let graph_input = (decoder.format(), decoder.width(), decoder.height());
        let mut graph = build_video_graph(
            graph_input.0,
            graph_input.1,
            graph_input.2,
            in_tb,
            decoder.aspect_ratio(),
            plan.rotation,
            plan.fps,
        )
        .map_err(|e| TranscodeError::Decode(format!("video filter graph: {e}")))?;
        let sink_tb = graph
            .get("out")
            .map(|mut s| s.sink().time_base())
            .ok_or_else(|| TranscodeError::Decode("filter graph has no sink".into()))?;
        let out_tb = Rational::new(
            i32::try_from(plan.fps.den).map_err(enc_err)?,
            i32::try_from(plan.fps.num).map_err(enc_err)?,
        );
        let src_fps = frame_rate(stream.avg_frame_rate())
            .or(frame_rate(stream.rate()))
            .map(|f| f.as_f64())
            .unwrap_or(25.0);
        let frame_step = ((1.0 / src_fps) / f64::from(in_tb)).round().max(1.0) as i64;
        let max_ts = (max_ts_s / f64::from(in_tb)).min(i64::MAX as f64 / 2.0) as i64;

        let mut rungs = Vec::with_capacity(plan.renditions.len());
        for rendition in &plan.renditions {
            rungs.push(RungEncoder::new(
                rendition,
                dir.join(&rendition.name),
                opts,
            )?);
        }
        let top = plan
            .renditions
            .first()
            .ok_or_else(|| TranscodeError::InvalidOptions("empty ladder".into()))?;
        let poster = Poster {
            path: dir.join(POSTER),
            width: top.width,
            height: top.height,
            target_s: duration_s.map(|d| d * 0.1).unwrap_or(0.0),
            written: false,
            done: false,
        };
        Ok(Self {
            stream_index: stream.index(),
            decoder,
            t0_ts,
            max_ts,
            bogus_timestamps: 0,
            frame_step,
            last_pts: None,
            graph,
            graph_input,
            normalizer: None,
            sink_tb,
            out_tb,
            out_step_s: f64::from(out_tb),
            rungs,
            poster,
            frames_out: 0,
            next_out_pts: 0,
            last_end: None,
            decode_errors: 0,
            warnings: Vec::new(),
        })
    }

    fn out_time_s(&self) -> f64 {
        self.next_out_pts as f64 * self.out_step_s
    }

    fn send_packet(
        &mut self,
        packet: &Packet,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        if self.decoder.send_packet(packet).is_err() {
            self.decode_errors += 1;
        }
        self.receive_frames(false, rep)
    }

    fn receive_frames(
        &mut self,
        draining: bool,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let mut errors_in_a_row = 0;
        loop {
            let mut decoded = frame::Video::empty();
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    errors_in_a_row = 0;
                    self.push_decoded(decoded, rep)?;
                }
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(_) => {
                    self.decode_errors += 1;
                    errors_in_a_row += 1;
                    if !draining || errors_in_a_row > 100 {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn push_decoded(
        &mut self,
        decoded: frame::Video,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let pts = match decoded.timestamp().or(decoded.pts()) {
            Some(ts) => ts.saturating_sub(self.t0_ts),
            None => self
                .last_pts
                .map(|p| p.saturating_add(self.frame_step))
                .unwrap_or(0),
        };
        if pts > self.max_ts {
            self.bogus_timestamps += 1;
            return Ok(());
        }
        self.last_pts = Some(pts);
        let duration = match decoded.packet().duration {
            d if d > 0 => d,
            _ => self.frame_step,
        };
        let end = pts.saturating_add(duration);
        self.last_end = Some(self.last_end.map_or(end, |e| e.max(end)));

        let (fmt, w, h) = self.graph_input;
        let mut frame_in =
            if decoded.format() != fmt || decoded.width() != w || decoded.height() != h {
                // Size or pixel format changed mid-stream (spliced or damaged file): convert back
                // to what the graph was configured with instead of rebuilding it.
                if decoded.width() == 0 || decoded.height() == 0 || decoded.format() == Pixel::None
                {
                    self.decode_errors += 1;
                    return Ok(());
                }
                let stale = self.normalizer.as_ref().is_none_or(|s| {
                    let i = s.input();
                    i.format != decoded.format()
                        || i.width != decoded.width()
                        || i.height != decoded.height()
                });
                if stale {
                    let Ok(normalizer) = scaling::Context::get(
                        decoded.format(),
                        decoded.width(),
                        decoded.height(),
                        fmt,
                        w,
                        h,
                        scaling::Flags::BICUBIC,
                    ) else {
                        self.decode_errors += 1; // unconvertible frame: skip it
                        return Ok(());
                    };
                    self.normalizer = Some(normalizer);
                    if !self
                        .warnings
                        .iter()
                        .any(|m| m.contains("changed size or format"))
                    {
                        self.warnings.push(
                            "video changed size or format mid-stream; frames were rescaled".into(),
                        );
                    }
                }
                let mut converted = frame::Video::new(fmt, w, h);
                let converted_ok = self
                    .normalizer
                    .as_mut()
                    .is_some_and(|n| n.run(&decoded, &mut converted).is_ok());
                if !converted_ok {
                    self.decode_errors += 1;
                    return Ok(());
                }
                converted
            } else {
                decoded
            };
        frame_in.set_pts(Some(pts));
        let mut source = self
            .graph
            .get("in")
            .ok_or_else(|| TranscodeError::Decode("filter graph has no source".into()))?;
        source
            .source()
            .add(&frame_in)
            .map_err(|e| TranscodeError::Decode(format!("filter graph: {e}")))?;
        self.drain_graph(rep)
    }

    fn drain_graph(&mut self, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        loop {
            let mut filtered = frame::Video::empty();
            let got = {
                let mut sink = self
                    .graph
                    .get("out")
                    .ok_or_else(|| TranscodeError::Decode("filter graph has no sink".into()))?;
                let mut sink = sink.sink();
                sink.frame(&mut filtered)
            };
            match got {
                Ok(()) => self.emit(&filtered, rep)?,
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(TranscodeError::Decode(format!("filter graph: {e}"))),
            }
        }
    }

    fn emit(
        &mut self,
        filtered: &frame::Video,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let pts = filtered
            .pts()
            .map(|p| p.rescale(self.sink_tb, self.out_tb))
            .unwrap_or(self.next_out_pts);
        if pts < self.next_out_pts {
            return Ok(()); // never go backwards (the fps filter does not, but be safe)
        }
        let t = pts as f64 * self.out_step_s;
        if let Err(e) = self.poster.offer(filtered, t) {
            if !self.warnings.iter().any(|m| m.starts_with("poster")) {
                self.warnings.push(format!("poster: {e}"));
            }
            self.poster.done = true;
        }
        for rung in &mut self.rungs {
            rung.encode(filtered, pts + LEAD_FRAMES)?;
        }
        self.frames_out += 1;
        self.next_out_pts = pts + 1;
        rep.tick(self.out_time_s())
    }

    fn finish(&mut self, reporter: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        if self.decoder.send_eof().is_ok() {
            self.receive_frames(true, reporter)?;
        }
        if self.bogus_timestamps > 0 {
            self.warnings.push(format!(
                "video: {} frame(s) with impossible timestamps were dropped",
                self.bogus_timestamps
            ));
        }
        {
            let mut source = self
                .graph
                .get("in")
                .ok_or_else(|| TranscodeError::Decode("filter graph has no source".into()))?;
            // Close at the end of the last frame (not its start), so the fps filter emits the
            // last frame's slot too.
            let mut source = source.source();
            let closed = match self.last_end {
                Some(end) => source.close(end),
                None => source.flush(),
            };
            closed.map_err(|e| TranscodeError::Decode(format!("filter graph: {e}")))?;
        }
        self.drain_graph(reporter)?;
        let produced = self.frames_out > 0;
        for rung in &mut self.rungs {
            rung.finish(produced)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Audio
// ---------------------------------------------------------------------------------------------

struct AudioPipe {
    stream_index: usize,
    decoder: decoder::Audio,
    in_tb: Rational,
    t0_ts: i64,
    max_ts_s: f64,
    bogus_timestamps: u64,
    resampler: Option<resampling::Context>,
    fifo: [Vec<f32>; 2],
    /// Output-rate samples pushed into the FIFO so far (the timeline position of its end).
    samples_queued: i64,
    samples_encoded: i64,
    /// Timeline offset of the first sample (see [`LEAD_FRAMES`]).
    lead_samples: i64,
    frame_size: usize,
    encoder: encoder::Audio,
    octx: format::context::Output,
    enc_tb: Rational,
    ost_tb: Rational,
    decode_errors: u64,
    dropped_frames: u64,
    silence_s: f64,
    warnings: Vec<String>,
}

const OUT_RATE: i32 = ladder::AUDIO_SAMPLE_RATE as i32;

impl AudioPipe {
    fn new(
        stream: &ff::Stream,
        dir: &Path,
        opts: &TranscodeOptions,
        t0_ts: i64,
        max_ts_s: f64,
        lead_s: Option<f64>,
    ) -> Result<Self, TranscodeError> {
        let decoder = open_audio_decoder(stream)
            .map_err(|e| TranscodeError::Decode(format!("audio decoder: {e}")))?;
        let audio_dir = dir.join(AUDIO_DIR);
        let mut octx = hls_output(&audio_dir)?;
        let codec = encoder::find_by_name("aac")
            .ok_or_else(|| TranscodeError::Encode("the aac encoder is not available".into()))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(enc_err)?;
        let enc_tb = Rational::new(1, OUT_RATE);
        enc.set_rate(OUT_RATE);
        enc.set_channel_layout(ChannelLayout::STEREO);
        // FFmpeg 5.1 still reads the legacy channel count as well as the layout.
        enc.set_channels(2);
        enc.set_format(Sample::F32(format::sample::Type::Planar));
        enc.set_bit_rate(ladder::AUDIO_BITRATE as usize);
        enc.set_time_base(enc_tb);
        if global_header(&octx) {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = enc.open_as(codec).map_err(enc_err)?;
        let frame_size = match encoder.frame_size() {
            0 => 1024,
            n => n as usize,
        };
        // With video: the same lead as the video; audio-only: just the AAC priming delay.
        let lead_samples = match lead_s {
            Some(s) => (s * f64::from(OUT_RATE)).round() as i64,
            None => frame_size as i64,
        }
        .max(frame_size as i64);
        {
            let mut ost = octx.add_stream(codec).map_err(out_err)?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
        }
        write_hls_header(&mut octx, &audio_dir, opts.segment_seconds)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| TranscodeError::Output("hls stream missing".into()))?;
        Ok(Self {
            stream_index: stream.index(),
            decoder,
            in_tb: stream.time_base(),
            t0_ts,
            max_ts_s,
            bogus_timestamps: 0,
            resampler: None,
            fifo: [Vec::new(), Vec::new()],
            samples_queued: 0,
            samples_encoded: 0,
            lead_samples,
            frame_size,
            encoder,
            octx,
            enc_tb,
            ost_tb,
            decode_errors: 0,
            dropped_frames: 0,
            silence_s: 0.0,
            warnings: Vec::new(),
        })
    }

    fn out_time_s(&self) -> f64 {
        self.samples_encoded as f64 / f64::from(OUT_RATE)
    }

    fn send_packet(
        &mut self,
        packet: &Packet,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        if self.decoder.send_packet(packet).is_err() {
            self.decode_errors += 1;
        }
        self.receive_frames(false, rep)
    }

    fn receive_frames(
        &mut self,
        draining: bool,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let mut errors_in_a_row = 0;
        loop {
            let mut decoded = frame::Audio::empty();
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    errors_in_a_row = 0;
                    self.push_decoded(&mut decoded, rep)?;
                }
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(_) => {
                    self.decode_errors += 1;
                    errors_in_a_row += 1;
                    if !draining || errors_in_a_row > 100 {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn push_decoded(
        &mut self,
        decoded: &mut frame::Audio,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let channels = decoded.channels();
        let rate = decoded.rate();
        if channels == 0 || rate == 0 || decoded.samples() == 0 {
            return Ok(());
        }
        // Unknown layouts (e.g. raw PCM) get FFmpeg's default layout for the channel count,
        // which is what the 5.1 -> stereo downmix matrix needs.
        let mut layout = decoded.channel_layout();
        if layout.bits() == 0 || layout.channels() != i32::from(channels) {
            layout = ChannelLayout::default(i32::from(channels));
            decoded.set_channel_layout(layout);
        }

        // Keep audio on the shared timeline: fill gaps with silence, drop frames that lie
        // entirely in the past (overlapping or rewinding timestamps of damaged files).
        if let Some(ts) = decoded.timestamp().or(decoded.pts()) {
            let start = (ts.saturating_sub(self.t0_ts)) as f64 * f64::from(self.in_tb);
            let length = decoded.samples() as f64 / f64::from(rate);
            let expected = self.samples_queued as f64 / f64::from(OUT_RATE);
            if !start.is_finite() || start > self.max_ts_s {
                self.bogus_timestamps += 1;
                return Ok(());
            }
            if start - expected > AUDIO_GAP_S {
                let gap = start - expected;
                self.silence_s += gap;
                self.push_silence((gap * f64::from(OUT_RATE)).round() as usize, rep)?;
            } else if start.is_finite() && start + length < expected - AUDIO_GAP_S {
                self.dropped_frames += 1;
                return Ok(());
            }
        }

        let input_changed = self.resampler.as_ref().is_none_or(|r| {
            let i = r.input();
            i.format != decoded.format() || i.channel_layout != layout || i.rate != rate
        });
        if input_changed {
            if self.resampler.is_some() {
                self.flush_resampler()?;
            }
            self.resampler = Some(
                resampling::Context::get(
                    decoded.format(),
                    layout,
                    rate,
                    Sample::F32(format::sample::Type::Planar),
                    ChannelLayout::STEREO,
                    OUT_RATE as u32,
                )
                .map_err(|e| TranscodeError::Decode(format!("resampler: {e}")))?,
            );
        }
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        let pending = resampler
            .delay()
            .map(|d| usize::try_from(d.output).unwrap_or(0))
            .unwrap_or(0);
        let capacity = decoded.samples() * OUT_RATE as usize / rate as usize + pending + 256;
        let mut out = frame::Audio::new(
            Sample::F32(format::sample::Type::Planar),
            capacity,
            ChannelLayout::STEREO,
        );
        resampler
            .run(decoded, &mut out)
            .map_err(|e| TranscodeError::Decode(format!("resampler: {e}")))?;
        self.queue(&out)?;
        self.encode_full_frames(rep)
    }

    /// Queue `n` samples of silence, encoding as we go so the FIFO stays small.
    fn push_silence(&mut self, mut n: usize, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        while n > 0 {
            let k = n.min(OUT_RATE as usize);
            for plane in &mut self.fifo {
                plane.resize(plane.len() + k, 0.0);
            }
            self.samples_queued += k as i64;
            self.encode_full_frames(rep)?;
            n -= k;
        }
        Ok(())
    }

    /// Append resampled stereo fltp samples to the FIFO.
    fn queue(&mut self, out: &frame::Audio) -> Result<(), TranscodeError> {
        let n = out.samples();
        if n == 0 {
            return Ok(());
        }
        if out.format() != Sample::F32(format::sample::Type::Planar) || out.planes() < 2 {
            return Err(TranscodeError::Encode(
                "resampler produced an unexpected sample format".into(),
            ));
        }
        for (ch, plane) in self.fifo.iter_mut().enumerate() {
            let data = out.plane::<f32>(ch);
            plane.extend_from_slice(&data[..n.min(data.len())]);
        }
        self.samples_queued += n as i64;
        Ok(())
    }

    fn flush_resampler(&mut self) -> Result<(), TranscodeError> {
        // swresample keeps a few samples of filter history; bounded loop, normally one round.
        for _ in 0..16 {
            let Some(resampler) = self.resampler.as_mut() else {
                return Ok(());
            };
            let pending = resampler
                .delay()
                .map(|d| usize::try_from(d.output).unwrap_or(0))
                .unwrap_or(0);
            if pending == 0 {
                return Ok(());
            }
            let mut out = frame::Audio::new(
                Sample::F32(format::sample::Type::Planar),
                pending + 256,
                ChannelLayout::STEREO,
            );
            resampler
                .flush(&mut out)
                .map_err(|e| TranscodeError::Decode(format!("resampler: {e}")))?;
            if out.samples() == 0 {
                return Ok(());
            }
            self.queue(&out)?;
        }
        Ok(())
    }

    fn encode_full_frames(&mut self, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        while self.fifo[0].len() >= self.frame_size {
            self.encode_chunk(self.frame_size)?;
            rep.tick(self.out_time_s())?;
        }
        Ok(())
    }

    fn encode_chunk(&mut self, n: usize) -> Result<(), TranscodeError> {
        let mut chunk = frame::Audio::new(
            Sample::F32(format::sample::Type::Planar),
            n,
            ChannelLayout::STEREO,
        );
        chunk.set_rate(OUT_RATE as u32);
        if chunk.planes() < 2 {
            return Err(TranscodeError::Encode(
                "cannot allocate an audio frame".into(),
            ));
        }
        for ch in 0..2 {
            let dst = chunk.plane_mut::<f32>(ch);
            let take = n.min(dst.len()).min(self.fifo[ch].len());
            dst[..take].copy_from_slice(&self.fifo[ch][..take]);
            self.fifo[ch].drain(..take);
        }
        chunk.set_pts(Some(self.samples_encoded + self.lead_samples));
        self.samples_encoded += n as i64;
        self.encoder.send_frame(&chunk).map_err(enc_err)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), TranscodeError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(0);
                    if packet.duration() <= 0 {
                        packet.set_duration(self.frame_size as i64);
                    }
                    packet.rescale_ts(self.enc_tb, self.ost_tb);
                    packet.set_position(-1);
                    packet.write_interleaved(&mut self.octx).map_err(out_err)?;
                }
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(enc_err(e)),
            }
        }
    }

    fn finish(&mut self, reporter: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        if self.decoder.send_eof().is_ok() {
            self.receive_frames(true, reporter)?;
        }
        self.flush_resampler()?;
        self.encode_full_frames(reporter)?;
        let rest = self.fifo[0].len();
        if rest > 0 {
            self.encode_chunk(rest)?; // the AAC encoder accepts a short last frame
        }
        self.encoder.send_eof().map_err(enc_err)?;
        self.drain()?;
        if self.dropped_frames > 0 {
            self.warnings.push(format!(
                "audio: {} frame(s) with rewinding timestamps were dropped",
                self.dropped_frames
            ));
        }
        if self.bogus_timestamps > 0 {
            self.warnings.push(format!(
                "audio: {} frame(s) with impossible timestamps were dropped",
                self.bogus_timestamps
            ));
        }
        if self.silence_s > 0.5 {
            self.warnings.push(format!(
                "audio: {:.1} s of gaps were filled with silence",
                self.silence_s
            ));
        }
        match self.octx.write_trailer() {
            Ok(()) => Ok(()),
            Err(_) if self.samples_encoded == 0 => Ok(()),
            Err(e) => Err(out_err(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Playlists
// ---------------------------------------------------------------------------------------------

/// `(duration, uri)` of every segment of a media playlist.
pub fn parse_media_playlist(text: &str) -> Vec<(f64, String)> {
    let mut segments = Vec::new();
    let mut pending: Option<f64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let value = rest.split(',').next().unwrap_or("").trim();
            pending = value.parse::<f64>().ok();
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = pending.take() {
                segments.push((d, line.to_string()));
            }
        }
    }
    segments
}

/// Peak and average bitrate of a media playlist's segments, and the segment count.
fn measure_playlist(dir: &Path) -> Result<(u64, u64, usize), TranscodeError> {
    let text = fs::read_to_string(dir.join(PLAYLIST))?;
    let segments = parse_media_playlist(&text);
    if segments.is_empty() {
        return Err(TranscodeError::Output(format!(
            "{} has no segments",
            dir.join(PLAYLIST).display()
        )));
    }
    let mut peak = 0.0f64;
    let (mut bits, mut seconds) = (0.0f64, 0.0f64);
    for (duration, uri) in &segments {
        let size = fs::metadata(dir.join(uri))?.len() as f64 * 8.0;
        bits += size;
        seconds += duration;
        if *duration > 0.0 {
            peak = peak.max(size / duration);
        }
    }
    let average = if seconds > 0.0 { bits / seconds } else { 0.0 };
    Ok((peak.ceil() as u64, average.ceil() as u64, segments.len()))
}

/// `avc1.PPCCLL` from the `avcC` box of the init segment (profile, constraints, level).
fn avc_codec_string(init_segment: &[u8]) -> Option<String> {
    let at = init_segment.windows(4).position(|w| w == b"avcC")?;
    let b = init_segment.get(at + 4..at + 8)?;
    (b[0] == 1).then(|| format!("avc1.{:02x}{:02x}{:02x}", b[1], b[2], b[3]))
}

fn measure_video(rung: &RungEncoder) -> Result<RenditionInfo, TranscodeError> {
    let (bandwidth, average_bandwidth, segments) = measure_playlist(&rung.dir)?;
    let init = fs::read(rung.dir.join(INIT_SEGMENT))?;
    let codecs = avc_codec_string(&init).unwrap_or_else(|| "avc1.640028".into());
    let r = &rung.rendition;
    Ok(RenditionInfo {
        name: r.name.clone(),
        kind: RenditionKind::Video,
        playlist: format!("{}/{PLAYLIST}", r.name),
        width: r.width,
        height: r.height,
        frame_rate: Some(r.fps.as_f64()),
        codecs,
        bandwidth,
        average_bandwidth,
        segments,
        target_bitrate: r.video_bitrate,
    })
}

fn measure_audio(dir: &Path) -> Result<RenditionInfo, TranscodeError> {
    let (bandwidth, average_bandwidth, segments) = measure_playlist(&dir.join(AUDIO_DIR))?;
    Ok(RenditionInfo {
        name: AUDIO_DIR.into(),
        kind: RenditionKind::Audio,
        playlist: format!("{AUDIO_DIR}/{PLAYLIST}"),
        width: 0,
        height: 0,
        frame_rate: None,
        codecs: "mp4a.40.2".into(),
        bandwidth,
        average_bandwidth,
        segments,
        target_bitrate: ladder::AUDIO_BITRATE,
    })
}

/// The master playlist. Video variants reference the shared audio group `"aac"`; their
/// BANDWIDTH/AVERAGE-BANDWIDTH include the audio rendition's (RFC 8216 §4.3.4.2).
fn master_playlist(video: &[RenditionInfo], audio: Option<&RenditionInfo>) -> String {
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    match (video.is_empty(), audio) {
        (true, Some(a)) => {
            let _ = write!(
                m,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"\n{}\n",
                a.bandwidth, a.average_bandwidth, a.codecs, a.playlist
            );
        }
        _ => {
            if let Some(a) = audio {
                let _ = writeln!(
                    m,
                    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"stereo\",DEFAULT=YES,\
AUTOSELECT=YES,CHANNELS=\"2\",URI=\"{}\"",
                    a.playlist
                );
            }
            for v in video {
                let (a_peak, a_avg, codecs, group) = match audio {
                    Some(a) => (
                        a.bandwidth,
                        a.average_bandwidth,
                        format!("{},{}", v.codecs, a.codecs),
                        ",AUDIO=\"aac\"",
                    ),
                    None => (0, 0, v.codecs.clone(), ""),
                };
                let _ = write!(
                    m,
                    "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},\
FRAME-RATE={:.3},CODECS=\"{}\"{}\n{}\n",
                    v.bandwidth + a_peak,
                    v.average_bandwidth + a_avg,
                    v.width,
                    v.height,
                    v.frame_rate.unwrap_or(0.0),
                    codecs,
                    group,
                    v.playlist
                );
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(m: [i32; 9]) -> Vec<u8> {
        m.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn display_matrix_rotation_matches_ffmpeg_cli_convention() {
        // An upright iPhone clip: tkhd matrix a=0 b=1 c=-1 d=0 (ffprobe: "rotation of -90"),
        // which the ffmpeg CLI autorotates with transpose=clock.
        let phone = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30];
        assert_eq!(rotation_from_display_matrix(&bytes(phone)), Some(90));
        for r in [0, 90, 180, 270] {
            let m = crate::media::testsrc::display_matrix(r);
            assert_eq!(rotation_from_display_matrix(&bytes(m)), Some(r));
        }
        assert_eq!(crate::media::testsrc::display_matrix(90), phone);
        assert_eq!(rotation_from_display_matrix(&[0u8; 36]), None);
        assert_eq!(rotation_from_display_matrix(&[1u8; 10]), None);
    }

    #[test]
    fn playlist_parsing_and_codec_string() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.000000,\nseg_00000.m4s\n\
#EXTINF:1.5,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(
            parse_media_playlist(text),
            vec![
                (6.0, "seg_00000.m4s".to_string()),
                (1.5, "seg_00001.m4s".to_string())
            ]
        );
        let init = [b"....avcC".as_slice(), &[1, 0x64, 0x00, 0x1f, 0xff]].concat();
        assert_eq!(avc_codec_string(&init).as_deref(), Some("avc1.64001f"));
        assert_eq!(avc_codec_string(b"nothing"), None);
    }

    #[test]
    fn master_playlist_lists_audio_group_and_variants() {
        let v = RenditionInfo {
            name: "360p".into(),
            kind: RenditionKind::Video,
            playlist: "360p/index.m3u8".into(),
            width: 640,
            height: 360,
            frame_rate: Some(30.0),
            codecs: "avc1.64001e".into(),
            bandwidth: 800_000,
            average_bandwidth: 500_000,
            segments: 3,
            target_bitrate: 1_000_000,
        };
        let a = RenditionInfo {
            name: "audio".into(),
            kind: RenditionKind::Audio,
            playlist: "audio/index.m3u8".into(),
            width: 0,
            height: 0,
            frame_rate: None,
            codecs: "mp4a.40.2".into(),
            bandwidth: 130_000,
            average_bandwidth: 129_000,
            segments: 3,
            target_bitrate: 128_000,
        };
        let m = master_playlist(std::slice::from_ref(&v), Some(&a));
        assert!(m.contains("TYPE=AUDIO,GROUP-ID=\"aac\""));
        assert!(m.contains("BANDWIDTH=930000,AVERAGE-BANDWIDTH=629000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aac\"\n360p/index.m3u8\n"));
        let m = master_playlist(&[], Some(&a));
        assert!(m.contains("CODECS=\"mp4a.40.2\"\naudio/index.m3u8"));
        assert!(!m.contains("EXT-X-MEDIA"));
        let m = master_playlist(std::slice::from_ref(&v), None);
        assert!(m.contains("CODECS=\"avc1.64001e\"\n360p/index.m3u8"));
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(
            TranscodeError::NoStreams.message_zh(),
            "文件中没有可解码的音频或视频流"
        );
        assert!(TranscodeError::Cancelled.message_zh().contains("取消"));
    }

    #[test]
    fn options_are_validated() {
        let mut o = TranscodeOptions::default();
        assert!(validate_options(&o).is_ok());
        o.ladder.clear();
        assert!(validate_options(&o).is_err());
        let o = TranscodeOptions {
            segment_seconds: 0,
            ..Default::default()
        };
        assert!(validate_options(&o).is_err());
    }
}
