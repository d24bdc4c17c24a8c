//! The packager's vocabulary: options, events, status, errors and shared constants.

use chrono::{DateTime, Utc};
use ff::Rational;
use ffmpeg_next as ff;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// The packager's timeline: 90 kHz, exact for FLV (1/1000) and MPEG-TS (1/90000) timestamps.
pub(super) const TL: Rational = Rational(1, 90_000);
/// Ticks of [`TL`] per second.
pub(super) const TL_HZ: i64 = 90_000;
/// Every output starts this far into the timeline, so that B-frame DTS and the AAC priming
/// stay non-negative and the mp4 muxer shifts nothing (all renditions share one timeline).
pub(super) const LEAD_TL: i64 = TL_HZ / 5;
/// Default rung heights (short side) below the source; the source size is always the top.
pub const LIVE_LADDER: [u32; 3] = [1080, 720, 360];
pub(super) const X264_PRESET: &str = "veryfast";
pub(super) const X264_CRF: &str = "23";
pub(super) const PLAYLIST: &str = "index.m3u8";
pub(super) const VOD_PLAYLIST: &str = "vod.m3u8";
pub(super) const INIT_SEGMENT: &str = "init.mp4";
pub(super) const MASTER: &str = "master.m3u8";
pub(super) const AUDIO_DIR: &str = "audio";

/// The container the bytes carry (the ingest knows: RTMP gives FLV, SRT gives MPEG-TS).
/// Only this demuxer is allowed to probe the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    Flv,
    MpegTs,
}

impl InputFormat {
    pub(super) fn demuxer(self) -> &'static str {
        match self {
            Self::Flv => "flv",
            Self::MpegTs => "mpegts",
        }
    }
}

/// Drop the lowest encoded rung when the packager lags the arrival of the frames it encodes
/// by more than `threshold` for at least `sustain` (then wait `sustain` again before the next).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LagGuard {
    pub threshold: Duration,
    pub sustain: Duration,
}

impl Default for LagGuard {
    fn default() -> Self {
        Self {
            threshold: Duration::from_millis(1500),
            sustain: Duration::from_secs(5),
        }
    }
}

/// How to package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackagerOptions {
    /// Rung heights (short side) below the source, e.g. [`LIVE_LADDER`]; rungs at or above the
    /// source's short side are left out (never upscale), the source size is the top rung.
    pub ladder: Vec<u32>,
    /// A segment ends at the first source keyframe at least 90 % of this after its start.
    pub segment_target: Duration,
    /// Cut fragments ("parts", reported as [`PackagerEvent::Part`]) this often; `None`: one
    /// fragment per segment.
    pub part_target: Option<Duration>,
    /// Segments listed in the live playlists (`None`: all). `vod.m3u8` always lists all.
    pub window: Option<usize>,
    /// `None` disables the real-time guard (replaying a journal from a file).
    pub lag_guard: Option<LagGuard>,
    /// Decoder/encoder threads per codec; 0 = FFmpeg's choice.
    pub threads: usize,
}

impl Default for PackagerOptions {
    fn default() -> Self {
        Self {
            ladder: LIVE_LADDER.to_vec(),
            segment_target: Duration::from_secs(2),
            part_target: None,
            window: Some(6),
            lag_guard: Some(LagGuard::default()),
            threads: 2,
        }
    }
}

/// Something the caller may log, show or serve.
#[derive(Clone, Debug)]
pub enum PackagerEvent {
    /// The stream was recognised and the renditions are set up (init segments written).
    Started {
        format: InputFormat,
        video_codec: String,
        width: u32,
        height: u32,
        /// Rendition folder names, highest video first, `"audio"` last when present.
        renditions: Vec<String>,
        /// Whether the top rung is the source video copied unchanged.
        passthrough: bool,
    },
    /// A fragment of the open segment (only with `part_target`); the segment file is the
    /// concatenation of its parts, written when the segment completes.
    Part {
        rendition: String,
        segment: u64,
        index: u32,
        duration_s: f64,
        independent: bool,
        data: Arc<[u8]>,
    },
    /// A segment is complete on disk and listed in the rendition's playlist.
    Segment {
        rendition: String,
        seq: u64,
        duration_s: f64,
        program_date_time: DateTime<Utc>,
        bytes: u64,
        path: std::path::PathBuf,
    },
    /// The real-time guard stopped encoding a rung; its playlist is ended.
    RungDropped { rendition: String, lag_ms: u64 },
    /// Something worth a log line that does not stop the live.
    Warning(String),
    /// End of input: final segments and the ended playlists are written.
    Finished { duration_s: f64, segments: u64 },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveState {
    /// Waiting for the stream to be recognised.
    #[default]
    Probing,
    Live,
    Finished,
    Cancelled,
    Failed,
}

/// One rendition as the organizer sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenditionStatus {
    pub name: String,
    /// 0 for audio.
    pub width: u32,
    pub height: u32,
    pub passthrough: bool,
    /// False once the real-time guard dropped it.
    pub active: bool,
    pub segments: u64,
}

/// The packager's state, republished as it runs (see `LivePackager::status`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LiveStatus {
    pub state: LiveState,
    pub video_codec: Option<String>,
    pub source_width: u32,
    pub source_height: u32,
    /// Incoming bits per second (all streams) over the last second of media.
    pub incoming_bitrate_bps: u64,
    /// Incoming video frames per second over the last second of media.
    pub incoming_fps: f64,
    /// The last measured source keyframe interval (organizers should send 2 s).
    pub keyframe_interval_s: Option<f64>,
    /// Wall-clock time between a frame's arrival and the end of its processing.
    pub lag_ms: u64,
    /// Seconds of media packaged.
    pub media_time_s: f64,
    pub renditions: Vec<RenditionStatus>,
    /// Complete segments of the top rung.
    pub segments_written: u64,
}

/// What a finished run produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveSummary {
    pub duration_s: f64,
    pub renditions: Vec<RenditionStatus>,
    pub warnings: Vec<String>,
}

/// Why packaging stopped. Messages are for the organizer (Chinese); details in English.
#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    #[error("推流数据无法识别（需要 {expected} 格式）：{detail}")]
    Open {
        expected: &'static str,
        detail: String,
    },
    #[error("推流中没有视频")]
    NoVideo,
    #[error("推流中没有可用的画面（未收到关键帧）")]
    NoKeyframe,
    #[error("推流的视频无法处理：{0}")]
    Unsupported(String),
    #[error("直播转码失败：{0}")]
    Encode(String),
    #[error("直播封装失败：{0}")]
    Output(String),
    #[error("写入直播文件失败：{0}")]
    Io(#[from] std::io::Error),
    #[error("直播处理已取消")]
    Cancelled,
    #[error("直播设置无效：{0}")]
    InvalidOptions(String),
}

pub(super) fn enc_err(e: impl std::fmt::Display) -> PackagerError {
    PackagerError::Encode(e.to_string())
}

pub(super) fn is_again_or_eof(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Eof)
        || *e
            == (ff::Error::Other {
                errno: ff::error::EAGAIN,
            })
}
