//! The engine's vocabulary: options, progress, the report, the error type and the constants
//! every stage shares. Everything else in `transcode/` builds on this module, never the other
//! way round, so the stages form no import circle.

use crate::media::ladder::{self, FrameRate};
use ffmpeg_next as ff;
use serde::{Deserialize, Serialize};
use std::io;

/// Demuxers accepted for uploads (matched against FFmpeg's demuxer names).
pub(super) const INPUT_FORMAT_WHITELIST: &str =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,\
mpeg,mpegvideo,mp3,wav,w64,aac,ac3,eac3,flac,ogg,asf,amr,caf,aiff,wv,mxf,dv,h264,hevc,m4v,\
nut,ivf,obu,rm,loas,yuv4mpegpipe,wtv";
/// x264 speed/quality trade-off (PeerTube and most VOD pipelines use `veryfast`).
pub(super) const X264_PRESET: &str = "veryfast";
/// Constant rate factor; VBV (`maxrate`/`bufsize` from the ladder) caps the peaks.
pub(super) const X264_CRF: &str = "23";
pub(super) const AUDIO_DIR: &str = "audio";
pub(super) const PLAYLIST: &str = "index.m3u8";
pub(super) const INIT_SEGMENT: &str = "init.mp4";
pub(super) const POSTER: &str = "poster.jpg";
pub(super) const MASTER: &str = "master.m3u8";
/// The audio output sample rate.
pub(super) const OUT_RATE: i32 = ladder::AUDIO_SAMPLE_RATE as i32;
/// A gap in the audio timestamps larger than this is filled with silence.
pub(super) const AUDIO_GAP_S: f64 = 0.1;
/// Every output starts this many video frames into the shared timeline. libx264's B-frame
/// pyramid makes the first DTS two frames earlier than the first PTS; the hls muxer would
/// shift each rendition's negative timestamps separately (video by 2 frames, audio by the
/// 1024-sample AAC priming), putting audio and video out of sync. Starting all renditions
/// at the same small positive offset keeps every timestamp non-negative, so nothing is
/// shifted and audio, video and all rungs share one timeline.
pub(super) const LEAD_FRAMES: i64 = 3;
/// Frames stamped later than the declared duration plus this margin are damaged timestamps;
/// they are dropped instead of being "filled" with hours of duplicated frames or silence.
pub(super) const TIMESTAMP_MARGIN_S: f64 = 60.0;
/// Limit when the container does not declare a duration.
pub(super) const MAX_TIMESTAMP_S: f64 = 12.0 * 3600.0;
/// Give up on an input that yields this many unreadable packets in a row.
pub(super) const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 10_000;

/// Options for [`transcode`](super::transcode).
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
    /// Try the remux fast path (copy the source video as the top rung) when the source
    /// qualifies; `false` always takes the standard path.
    #[serde(default = "yes")]
    pub fast_path: bool,
    /// How the encoded rungs spend their bits.
    #[serde(default)]
    pub rate_control: RateControl,
}

fn yes() -> bool {
    true
}

impl TranscodeOptions {
    /// Apply the operator's switches from the environment (read once per transcode run, not
    /// documented for organizers): `PUFA_TRANSCODE_STANDARD=1` turns the remux fast path off
    /// (benchmarks compare both paths on one input); `PUFA_RATE_CONTROL=crf|bitrate` picks
    /// the encoded rungs' rate control.
    pub fn with_env(mut self) -> Self {
        if std::env::var("PUFA_TRANSCODE_STANDARD").is_ok_and(|v| v == "1") {
            self.fast_path = false;
        }
        if let Some(rc) = std::env::var("PUFA_RATE_CONTROL")
            .ok()
            .and_then(|v| RateControl::parse(&v))
        {
            self.rate_control = rc;
        }
        self
    }
}

/// Rate control of the encoded rungs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateControl {
    /// CRF [`X264_CRF`] with the ladder's maximum as a VBV cap: easy content gets fewer bits.
    #[default]
    Crf,
    /// The ladder's average bitrate as the target (ABR) with the same VBV cap: every rung
    /// spends its planned bits whatever the content (what CLI ladders usually do).
    Bitrate,
}

impl RateControl {
    /// `crf` or `bitrate` (the `PUFA_RATE_CONTROL` values); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "crf" => Some(Self::Crf),
            "bitrate" => Some(Self::Bitrate),
            _ => None,
        }
    }
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        Self {
            ladder: ladder::DEFAULT_LADDER.to_vec(),
            segment_seconds: 6,
            gop_seconds: 2,
            threads: 0,
            fast_path: true,
            rate_control: RateControl::Crf,
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

/// The outcome of a successful [`transcode`](super::transcode).
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
    /// Which path produced the video and why.
    pub path: super::choice::PathChoice,
}

/// Facts about the input, from [`probe`](super::probe).
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

pub(super) fn enc_err(e: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Encode(e.to_string())
}

pub(super) fn out_err(e: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Output(e.to_string())
}

pub(super) fn is_again_or_eof(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Eof)
        || *e
            == (ff::Error::Other {
                errno: ff::error::EAGAIN,
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_control_names() {
        assert_eq!(RateControl::parse("crf"), Some(RateControl::Crf));
        assert_eq!(RateControl::parse(" bitrate "), Some(RateControl::Bitrate));
        assert_eq!(RateControl::parse("cbr"), None);
        assert_eq!(RateControl::default(), RateControl::Crf);
        assert!(TranscodeOptions::default().fast_path);
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(
            TranscodeError::NoStreams.message_zh(),
            "文件中没有可解码的音频或视频流"
        );
        assert!(TranscodeError::Cancelled.message_zh().contains("取消"));
    }
}
