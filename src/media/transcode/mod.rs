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
//!   OUTDIR only when complete; on error or cancellation the partial folder is removed
//!   ([`install`]). [`transcode_into`] writes into a folder the caller publishes itself (the
//!   worker hands it to the media storage).
//!
//! Damaged input: demux and decode errors are counted and skipped; what decodes is
//! transcoded and the report carries a warning. Nothing here panics on input-derived data.
//!
//! Untrusted input: only plain media demuxers and the `file` protocol are allowed, so an
//! uploaded playlist (HLS, concat, …) cannot make FFmpeg read other files.
//!
//! # Modules
//!
//! `types` (options, report, error, constants) is at the bottom; `probe`, `progress`,
//! [`install`], `hls` (the muxer FFI, the only `unsafe` code here), `decode`, `rung`, `video`,
//! `audio` and `master` build on it, and this module ties them together. No module imports one
//! above it.

mod audio;
mod decode;
mod hls;
pub mod install;
mod master;
mod probe;
mod progress;
mod rung;
mod types;
mod video;

pub use install::remove_stale_partials;
pub use master::parse_media_playlist;
pub use probe::{init, probe};
pub use types::{
    AudioStreamInfo, Control, Progress, RenditionInfo, RenditionKind, SourceInfo, TranscodeError,
    TranscodeOptions, TranscodeReport, VideoStreamInfo,
};

use crate::media::ladder::{self, Plan, SourceVideo};
use audio::AudioPipe;
use ff::{format, Packet, Rational, Rescale};
use ffmpeg_next as ff;
use install::split_out_dir;
use master::{master_playlist, measure_audio, measure_video};
use probe::{open_input, probe_context};
use progress::Reporter;
use std::fs;
use std::path::Path;
use types::{
    AUDIO_DIR, LEAD_FRAMES, MASTER, MAX_CONSECUTIVE_BAD_PACKETS, MAX_TIMESTAMP_S, POSTER,
    TIMESTAMP_MARGIN_S,
};
use video::VideoPipe;

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

    let (mut ictx, info) = open_and_probe(input)?;
    let staging = install::staging_dir(&parent, &name)?;
    // On any error below `staging` is dropped, which removes the partial folder.
    let report = run(&mut ictx, &info, staging.path(), opts, on_progress)?;
    drop(ictx);
    install::publish(staging, &target)?;
    Ok(report)
}

/// Transcode `input` into the existing, empty folder `dir` without publishing it: the caller
/// moves the folder into place (or drops it) afterwards. On error `dir` holds half-made output.
///
/// `on_progress` behaves as for [`transcode`].
pub fn transcode_into(
    input: &Path,
    dir: &Path,
    opts: &TranscodeOptions,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TranscodeReport, TranscodeError> {
    init();
    validate_options(opts)?;
    let (mut ictx, info) = open_and_probe(input)?;
    run(&mut ictx, &info, dir, opts, on_progress)
}

fn open_and_probe(input: &Path) -> Result<(format::context::Input, SourceInfo), TranscodeError> {
    let ictx = open_input(input)?;
    let info = probe_context(&ictx)?;
    Ok((ictx, info))
}

fn run(
    ictx: &mut format::context::Input,
    info: &SourceInfo,
    dir: &Path,
    opts: &TranscodeOptions,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TranscodeReport, TranscodeError> {
    let mut reporter = Reporter::new(on_progress, info.duration_s);
    run_pipeline(ictx, info, dir, opts, &mut reporter)
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
            decode::send_packet(v, &packet, reporter)?;
        } else if let Some(a) = audio.as_mut().filter(|a| a.stream_index == index) {
            decode::send_packet(a, &packet, reporter)?;
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
                discard(&rung.dir, fs::remove_dir_all(&rung.dir));
            }
            let poster = dir.join(POSTER);
            discard(&poster, fs::remove_file(&poster));
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
            let audio_dir = dir.join(AUDIO_DIR);
            discard(&audio_dir, fs::remove_dir_all(&audio_dir));
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

/// The outcome of removing the output of a stream that produced nothing: a leftover is
/// harmless (nothing references it), so a failure is logged, not fatal.
fn discard(path: &Path, removed: std::io::Result<()>) {
    match removed {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, path = %path.display(), "removing unused output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
