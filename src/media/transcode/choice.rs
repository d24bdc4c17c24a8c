//! The remux fast path: deciding whether the top rung may copy the source's video packets.
//!
//! A copied top rung costs no decode/encode for that rung, which on a 1080p lecture is most of
//! the work. It is only safe when a browser can play the source's bitstream as it is and the
//! other rungs can be cut at the same instants:
//!
//! * H.264, 8-bit 4:2:0 (`yuv420p`/`yuvj420p`): what every HLS player decodes;
//! * exactly the size of the ladder's top rung (square pixels, no rotation to apply), so the
//!   copy *is* the top rung: larger sources must be scaled down, odd or anamorphic ones would
//!   need a different size;
//! * at most [`MAX_FPS`](crate::media::ladder::MAX_FPS): the lower rungs keep every source
//!   frame (they cannot be decimated and stay cut at the same frames);
//! * usable keyframes: the first frame is a keyframe and no keyframe interval is longer than
//!   [`MAX_GOP_S`]. Segments end at the first source keyframe at or after each multiple of the
//!   segment target (FFmpeg's `hls` muxer rule), so a GOP of `g` seconds makes segments of up
//!   to `target + g` seconds; with a 10 s GOP a 6 s target gives 10 s segments and seeking
//!   lands far from where the viewer asked, so such sources are transcoded as before.
//!
//! [`decide`] is a pure function of the probed facts and the keyframe statistics (the `fast`
//! module scans the video packets, no decoding, within [`SCAN_BUDGET`]). The choice and its reason travel with
//! the report ([`PathChoice`]) to the job, where the organizer sees it.

use crate::media::ladder;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest keyframe interval (seconds) the fast path accepts.
pub const MAX_GOP_S: f64 = 4.0;
/// The keyframe scan gives up (and the standard path is taken) after this long.
pub const SCAN_BUDGET: Duration = Duration::from_secs(30);

/// Which pipeline produced a job's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscodePath {
    /// The top rung copies the source's video packets; the others are encoded.
    Remux,
    /// Every rung is decoded, scaled and encoded (the standard path).
    Transcode,
}

impl TranscodePath {
    /// The stable code stored on the job and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remux => "remux",
            Self::Transcode => "transcode",
        }
    }
}

/// Why a path was chosen: a stable code for the API, a Chinese sentence for the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PathReason {
    /// Every condition of the fast path holds.
    Eligible,
    /// The fast path was switched off (`PUFA_TRANSCODE_STANDARD`, options).
    Disabled,
    /// No video stream.
    NoVideo,
    /// The video is not H.264.
    NotH264,
    /// Not 8-bit 4:2:0 (10-bit, 4:2:2, 4:4:4 …).
    PixelFormat,
    /// Larger than the ladder's top rung: it must be scaled down.
    LargerThanTopRung,
    /// Odd size, non-square pixels or a rotation to apply: the copy would not be the top rung.
    SizeNotOnLadder,
    /// Faster than the ladder's frame-rate cap.
    FrameRateTooHigh,
    /// A keyframe interval is longer than [`MAX_GOP_S`].
    GopTooLong,
    /// The first frame is not a keyframe.
    NoKeyframeAtStart,
    /// Missing or repeated timestamps, no codec header, or the scan ran out of time.
    Unscannable,
}

impl PathReason {
    /// The stable code stored on the job and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eligible => "eligible",
            Self::Disabled => "disabled",
            Self::NoVideo => "no_video",
            Self::NotH264 => "not_h264",
            Self::PixelFormat => "pixel_format",
            Self::LargerThanTopRung => "larger_than_top_rung",
            Self::SizeNotOnLadder => "size_not_on_ladder",
            Self::FrameRateTooHigh => "frame_rate_too_high",
            Self::GopTooLong => "gop_too_long",
            Self::NoKeyframeAtStart => "no_keyframe_at_start",
            Self::Unscannable => "unscannable",
        }
    }

    /// The reason in Chinese, for the organizer's page.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Eligible => "原视频可直接复制",
            Self::Disabled => "已关闭快速路径",
            Self::NoVideo => "没有视频画面",
            Self::NotH264 => "视频编码不是 H.264",
            Self::PixelFormat => "不是 8 位 4:2:0 色彩格式（例如 10 位或 4:2:2）",
            Self::LargerThanTopRung => "画面大于最高清晰度，需要缩小",
            Self::SizeNotOnLadder => "画面尺寸、像素比例或旋转与最高清晰度不一致",
            Self::FrameRateTooHigh => "帧率高于 30 帧/秒",
            Self::GopTooLong => "关键帧间隔过长（超过 4 秒）",
            Self::NoKeyframeAtStart => "视频开头不是关键帧",
            Self::Unscannable => "无法读取完整的关键帧信息",
        }
    }
}

/// The path taken for one transcode and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathChoice {
    pub path: TranscodePath,
    pub reason: PathReason,
    /// The longest keyframe interval of the source in seconds, when it was scanned.
    pub max_gop_s: Option<f64>,
}

impl PathChoice {
    pub fn standard(reason: PathReason) -> Self {
        Self {
            path: TranscodePath::Transcode,
            reason,
            max_gop_s: None,
        }
    }

    /// One line for the organizer: "快速路径：复制原视频（GOP 1.0 s）" or "标准转码：原因".
    pub fn note_zh(&self) -> String {
        match self.path {
            TranscodePath::Remux => match self.max_gop_s {
                Some(g) => format!("快速路径：复制原视频（GOP {g:.1} s）"),
                None => "快速路径：复制原视频".into(),
            },
            TranscodePath::Transcode => format!("标准转码：{}", self.reason.label_zh()),
        }
    }
}

/// What [`decide`] needs to know about the source video and the planned top rung.
#[derive(Clone, Debug, PartialEq)]
pub struct RemuxFacts {
    /// FFmpeg codec name (`h264`).
    pub codec: String,
    /// FFmpeg pixel format name (`yuv420p`).
    pub pixel_format: String,
    /// Coded size.
    pub width: u32,
    pub height: u32,
    /// Coded width corrected for the sample aspect ratio.
    pub square_pixel_width: u32,
    /// Clockwise display rotation.
    pub rotation: i32,
    /// Nominal (CFR) or average (VFR) frame rate.
    pub fps: f64,
    /// The ladder's top rung as planned for this source (`None`: nothing planned).
    pub top_rung: Option<(u32, u32)>,
    /// The short side asked for by the ladder's highest rung.
    pub highest_requested: u32,
    /// The codec header (SPS/PPS) is in the stream parameters.
    pub has_extradata: bool,
}

/// Keyframe facts from [`scan`], in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyframeStats {
    /// The packet with the earliest presentation time is a keyframe.
    pub starts_with_keyframe: bool,
    /// Longest interval between keyframes (and from the last keyframe to the end).
    pub max_gop_s: f64,
}

/// The conditions that need no scan, in the order of the module documentation.
pub fn check_facts(facts: &RemuxFacts) -> Result<(), PathReason> {
    if facts.codec != "h264" {
        return Err(PathReason::NotH264);
    }
    if !matches!(facts.pixel_format.as_str(), "yuv420p" | "yuvj420p") {
        return Err(PathReason::PixelFormat);
    }
    if facts.width.min(facts.height) > facts.highest_requested {
        return Err(PathReason::LargerThanTopRung);
    }
    let rotation = ladder::normalize_rotation(facts.rotation);
    if rotation != 0
        || facts.square_pixel_width != facts.width
        || facts.top_rung != Some((facts.width, facts.height))
    {
        return Err(PathReason::SizeNotOnLadder);
    }
    if !facts.fps.is_finite() || facts.fps <= 0.0 || facts.fps > ladder::MAX_FPS + 0.01 {
        return Err(PathReason::FrameRateTooHigh);
    }
    if !facts.has_extradata {
        return Err(PathReason::Unscannable);
    }
    Ok(())
}

/// The pure decision: [`check_facts`], then the keyframes (`None`: the scan failed).
pub fn decide(facts: &RemuxFacts, keyframes: Option<&KeyframeStats>) -> PathChoice {
    let refuse = PathChoice::standard;
    if let Err(reason) = check_facts(facts) {
        return refuse(reason);
    }
    let Some(k) = keyframes else {
        return refuse(PathReason::Unscannable);
    };
    if !k.starts_with_keyframe {
        return refuse(PathReason::NoKeyframeAtStart);
    }
    if k.max_gop_s.is_nan() || k.max_gop_s > MAX_GOP_S {
        return PathChoice {
            max_gop_s: Some(k.max_gop_s).filter(|g| g.is_finite()),
            ..refuse(PathReason::GopTooLong)
        };
    }
    PathChoice {
        path: TranscodePath::Remux,
        reason: PathReason::Eligible,
        max_gop_s: Some(k.max_gop_s),
    }
}

/// The keyframe statistics of a list of frames `(pts, duration, keyframe)` in any order, in
/// time base `tb`. `None` when a presentation time repeats (the copy and the encoded rungs
/// could not be matched frame by frame).
pub fn keyframe_stats(frames: &[(i64, i64, bool)], tb: f64) -> Option<KeyframeStats> {
    let mut sorted: Vec<(i64, i64, bool)> = frames.to_vec();
    sorted.sort_unstable_by_key(|f| f.0);
    if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let first = sorted.first()?;
    let last = sorted.last()?;
    let end = last.0.saturating_add(last.1.max(0));
    let mut keys = sorted.iter().filter(|f| f.2).map(|f| f.0).peekable();
    let mut previous = *keys.peek()?;
    let mut max_gap = 0i64;
    for k in keys {
        max_gap = max_gap.max(k - previous);
        previous = k;
    }
    max_gap = max_gap.max(end - previous);
    Some(KeyframeStats {
        starts_with_keyframe: first.2,
        max_gop_s: max_gap as f64 * tb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RemuxFacts {
        RemuxFacts {
            codec: "h264".into(),
            pixel_format: "yuv420p".into(),
            width: 1920,
            height: 1080,
            square_pixel_width: 1920,
            rotation: 0,
            fps: 30.0,
            top_rung: Some((1920, 1080)),
            highest_requested: 1080,
            has_extradata: true,
        }
    }

    fn gop(s: f64) -> KeyframeStats {
        KeyframeStats {
            starts_with_keyframe: true,
            max_gop_s: s,
        }
    }

    #[test]
    fn a_phone_gop_takes_the_fast_path() {
        let c = decide(&facts(), Some(&gop(1.0)));
        assert_eq!(c.path, TranscodePath::Remux);
        assert_eq!(c.reason, PathReason::Eligible);
        assert_eq!(c.note_zh(), "快速路径：复制原视频（GOP 1.0 s）");
        let c = decide(&facts(), Some(&gop(4.0)));
        assert_eq!(c.path, TranscodePath::Remux);
    }

    #[test]
    fn unusable_sources_take_the_standard_path_with_a_reason() {
        let c = decide(&facts(), Some(&gop(10.0)));
        assert_eq!(
            (c.path, c.reason),
            (TranscodePath::Transcode, PathReason::GopTooLong)
        );
        assert_eq!(c.note_zh(), "标准转码：关键帧间隔过长（超过 4 秒）");
        let cases: Vec<(RemuxFacts, PathReason)> = vec![
            (
                RemuxFacts {
                    codec: "hevc".into(),
                    ..facts()
                },
                PathReason::NotH264,
            ),
            (
                RemuxFacts {
                    pixel_format: "yuv420p10le".into(),
                    ..facts()
                },
                PathReason::PixelFormat,
            ),
            (
                RemuxFacts {
                    pixel_format: "yuv422p".into(),
                    ..facts()
                },
                PathReason::PixelFormat,
            ),
            (
                RemuxFacts {
                    width: 3840,
                    height: 2160,
                    square_pixel_width: 3840,
                    ..facts()
                },
                PathReason::LargerThanTopRung,
            ),
            (
                RemuxFacts {
                    rotation: 90,
                    ..facts()
                },
                PathReason::SizeNotOnLadder,
            ),
            (
                RemuxFacts {
                    square_pixel_width: 2560,
                    ..facts()
                },
                PathReason::SizeNotOnLadder,
            ),
            (
                RemuxFacts {
                    top_rung: Some((1918, 1080)),
                    ..facts()
                },
                PathReason::SizeNotOnLadder,
            ),
            (
                RemuxFacts {
                    fps: 60.0,
                    ..facts()
                },
                PathReason::FrameRateTooHigh,
            ),
            (
                RemuxFacts {
                    has_extradata: false,
                    ..facts()
                },
                PathReason::Unscannable,
            ),
        ];
        for (f, reason) in cases {
            let c = decide(&f, Some(&gop(1.0)));
            assert_eq!(
                (c.path, c.reason),
                (TranscodePath::Transcode, reason),
                "{f:?}"
            );
        }
        let c = decide(&facts(), None);
        assert_eq!(c.reason, PathReason::Unscannable);
        let late = KeyframeStats {
            starts_with_keyframe: false,
            max_gop_s: 1.0,
        };
        assert_eq!(
            decide(&facts(), Some(&late)).reason,
            PathReason::NoKeyframeAtStart
        );
        let nan = gop(f64::NAN);
        assert_eq!(decide(&facts(), Some(&nan)).reason, PathReason::GopTooLong);
    }

    #[test]
    fn keyframe_stats_measure_the_longest_interval_to_the_end() {
        // 30 fps in a 1/30 time base, keyframes at 0, 40, 80; 100 frames (ends at 100).
        let frames: Vec<(i64, i64, bool)> = (0..100).map(|i| (i, 1, i % 40 == 0)).collect();
        let s = keyframe_stats(&frames, 1.0 / 30.0).unwrap();
        assert!(s.starts_with_keyframe);
        assert!((s.max_gop_s - 40.0 / 30.0).abs() < 1e-9);
        // the stretch after the last keyframe counts too
        let tail: Vec<(i64, i64, bool)> = (0..100).map(|i| (i, 1, i == 0 || i == 30)).collect();
        let t = keyframe_stats(&tail, 1.0 / 30.0).unwrap();
        assert!((t.max_gop_s - 70.0 / 30.0).abs() < 1e-9);
        // decode order differs from presentation order: still fine
        let mut shuffled = frames.clone();
        shuffled.swap(1, 2);
        assert_eq!(keyframe_stats(&shuffled, 1.0 / 30.0), Some(s));
        // a B-frame shown before the first keyframe
        let mut early = frames.clone();
        early.push((-1, 1, false));
        assert!(
            !keyframe_stats(&early, 1.0 / 30.0)
                .unwrap()
                .starts_with_keyframe
        );
        // repeated presentation times and no keyframe at all
        let mut repeated = frames.clone();
        repeated.push((5, 1, false));
        assert_eq!(keyframe_stats(&repeated, 1.0 / 30.0), None);
        let none: Vec<(i64, i64, bool)> = (0..10).map(|i| (i, 1, false)).collect();
        assert_eq!(keyframe_stats(&none, 1.0 / 30.0), None);
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(TranscodePath::Remux.as_str(), "remux");
        assert_eq!(PathReason::GopTooLong.as_str(), "gop_too_long");
        assert_eq!(
            serde_json::to_string(&PathReason::LargerThanTopRung).unwrap(),
            "\"larger_than_top_rung\""
        );
    }
}
