//! Opening an input and inspecting it: the streams the pipeline will use, their rotation and
//! frame rate. Also FFmpeg's process-wide initialisation.

use super::types::{
    AudioStreamInfo, SourceInfo, TranscodeError, VideoStreamInfo, INPUT_FORMAT_WHITELIST,
};
use crate::media::ladder::FrameRate;
use ff::{codec, decoder, format, media, Dictionary, Rational};
use ffmpeg_next as ff;
use std::fs;
use std::path::Path;
use std::sync::Once;

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
pub(super) fn ffmpeg_path(path: &Path) -> Result<String, String> {
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

pub(super) fn open_input(input: &Path) -> Result<format::context::Input, TranscodeError> {
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

pub(super) fn frame_rate(r: Rational) -> Option<FrameRate> {
    let (num, den) = (r.numerator(), r.denominator());
    match (u32::try_from(num), u32::try_from(den)) {
        (Ok(n), Ok(d)) if n > 0 && d > 0 => Some(FrameRate::new(n, d)),
        _ => None,
    }
}

/// Clockwise display rotation from a display matrix (9 × i32, 16.16 fixed point), the same
/// convention as the `ffmpeg` CLI's autorotate: `theta = -av_display_rotation_get(matrix)`.
pub(super) fn rotation_from_display_matrix(bytes: &[u8]) -> Option<i32> {
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

pub(super) fn open_video_decoder(
    stream: &ff::Stream,
    threads: usize,
) -> Result<decoder::Video, ff::Error> {
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

pub(super) fn open_audio_decoder(stream: &ff::Stream) -> Result<decoder::Audio, ff::Error> {
    let ctx = codec::context::Context::from_parameters(stream.parameters())?;
    let mut dec = ctx.decoder();
    dec.set_packet_time_base(stream.time_base());
    dec.audio()
}

pub(super) fn probe_context(ictx: &format::context::Input) -> Result<SourceInfo, TranscodeError> {
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
        assert_eq!(rotation_from_display_matrix(&[0u8; 36]), None);
        assert_eq!(rotation_from_display_matrix(&[1u8; 10]), None);
    }

    /// The test-clip generator writes the matrices this module reads back.
    #[cfg(feature = "demo")]
    #[test]
    fn generated_display_matrices_round_trip() {
        let phone = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30];
        for r in [0, 90, 180, 270] {
            let m = crate::media::testsrc::display_matrix(r);
            assert_eq!(rotation_from_display_matrix(&bytes(m)), Some(r));
        }
        assert_eq!(crate::media::testsrc::display_matrix(90), phone);
    }
}
