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
//! # The remux fast path (issue 19)
//!
//! When the source qualifies ([`choice`]: H.264 8-bit 4:2:0 at the top rung's size, ≤ 30 fps,
//! keyframe first, no GOP over 4 s, found by a packet-only scan), the top rung *copies* the
//! source's video packets and the lower rungs are encoded from the source's own timestamps
//! with IDRs forced at exactly the source's keyframe instants (`fast`); AAC-LC stereo 48 kHz
//! audio is copied too. Every rung then has the same segment boundaries and EXTINF sequence.
//! [`TranscodeReport::path`] says which path was taken and why.
//!
//! Damaged input: demux and decode errors are counted and skipped; what decodes is
//! transcoded and the report carries a warning. Nothing here panics on input-derived data.
//!
//! Untrusted input: only plain media demuxers and the `file` protocol are allowed, so an
//! uploaded playlist (HLS, concat, …) cannot make FFmpeg read other files.
//!
//! # Modules
//!
//! `choice` (the pure fast-path decision) and `types` (options, report, error, constants) are
//! at the bottom; `probe`, `progress`, [`install`], `hls` (the muxer FFI, the only `unsafe`
//! code here), `decode`, `rung`, `video`, `fast`, `audio` and `master` build on them, and this
//! module ties them together. No module imports one above it.

mod audio;
pub mod choice;
mod decode;
mod fast;
mod hls;
pub mod install;
mod master;
mod probe;
mod progress;
mod rung;
mod types;
mod video;

pub use choice::{PathChoice, PathReason, TranscodePath};
pub use install::remove_stale_partials;
pub use master::parse_media_playlist;
pub use probe::{init, probe};
pub use types::{
    AudioStreamInfo, Control, Progress, RateControl, RenditionInfo, RenditionKind, SourceInfo,
    TranscodeError, TranscodeOptions, TranscodeReport, VideoStreamInfo,
};

use crate::media::ladder::{self, Plan, Rendition, SourceVideo};
use audio::AudioPipe;
use choice::{RemuxFacts, SCAN_BUDGET};
use fast::{AudioCopy, FastVideoPipe};
use ff::{format, Packet, Rational, Rescale};
use ffmpeg_next as ff;
use install::split_out_dir;
use master::{master_playlist, measure_audio, measure_video};
use probe::{open_input, probe_context};
use progress::Reporter;
use std::fs;
use std::path::{Path, PathBuf};
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
    let report = run(input, &mut ictx, &info, staging.path(), opts, on_progress)?;
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
    run(input, &mut ictx, &info, dir, opts, on_progress)
}

fn open_and_probe(input: &Path) -> Result<(format::context::Input, SourceInfo), TranscodeError> {
    let ictx = open_input(input)?;
    let info = probe_context(&ictx)?;
    Ok((ictx, info))
}

fn run(
    input: &Path,
    ictx: &mut format::context::Input,
    info: &SourceInfo,
    dir: &Path,
    opts: &TranscodeOptions,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TranscodeReport, TranscodeError> {
    let mut reporter = Reporter::new(on_progress, info.duration_s);
    run_pipeline(input, ictx, info, dir, opts, &mut reporter)
}

/// The video side of the pipeline: the standard path or the remux fast path.
enum Video {
    Standard(VideoPipe),
    Fast(FastVideoPipe),
}

impl Video {
    fn stream_index(&self) -> usize {
        match self {
            Video::Standard(v) => v.stream_index,
            Video::Fast(v) => v.stream_index,
        }
    }

    fn out_time_s(&self) -> f64 {
        match self {
            Video::Standard(v) => v.out_time_s(),
            Video::Fast(v) => v.out_time_s(),
        }
    }

    fn frames_out(&self) -> u64 {
        match self {
            Video::Standard(v) => v.frames_out,
            Video::Fast(v) => v.frames_out,
        }
    }

    fn decode_errors(&self) -> u64 {
        match self {
            Video::Standard(v) => v.decode_errors,
            Video::Fast(v) => v.decode_errors,
        }
    }

    fn warnings(&self) -> &[String] {
        match self {
            Video::Standard(v) => &v.warnings,
            Video::Fast(v) => &v.warnings,
        }
    }

    /// Every rendition's folder and plan, highest first.
    fn renditions(&self) -> Vec<(PathBuf, Rendition)> {
        match self {
            Video::Standard(v) => v
                .rungs
                .iter()
                .map(|r| (r.dir.clone(), r.rendition.clone()))
                .collect(),
            Video::Fast(v) => std::iter::once((v.copy.dir.clone(), v.copy.rendition.clone()))
                .chain(v.rungs.iter().map(|r| (r.dir.clone(), r.rendition.clone())))
                .collect(),
        }
    }

    fn send(&mut self, packet: &Packet, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        match self {
            Video::Standard(v) => decode::send_packet(v, packet, rep),
            Video::Fast(v) => v.send_packet(packet, rep),
        }
    }

    fn finish(&mut self, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        match self {
            Video::Standard(v) => v.finish(rep),
            Video::Fast(v) => v.finish(rep),
        }
    }
}

/// The audio side: encoded (resampled to AAC-LC 48 kHz stereo) or copied as it is.
enum Audio {
    Encode(AudioPipe),
    Copy(AudioCopy),
}

impl Audio {
    fn stream_index(&self) -> usize {
        match self {
            Audio::Encode(a) => a.stream_index,
            Audio::Copy(a) => a.stream_index,
        }
    }

    fn out_time_s(&self) -> f64 {
        match self {
            Audio::Encode(a) => a.out_time_s(),
            Audio::Copy(a) => a.out_time_s(),
        }
    }

    fn produced(&self) -> bool {
        match self {
            Audio::Encode(a) => a.samples_encoded > 0,
            Audio::Copy(a) => a.packets > 0,
        }
    }

    fn decode_errors(&self) -> u64 {
        match self {
            Audio::Encode(a) => a.decode_errors,
            Audio::Copy(_) => 0,
        }
    }

    fn warnings(&self) -> &[String] {
        match self {
            Audio::Encode(a) => &a.warnings,
            Audio::Copy(a) => &a.warnings,
        }
    }

    fn send(&mut self, packet: &Packet, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        match self {
            Audio::Encode(a) => decode::send_packet(a, packet, rep),
            Audio::Copy(a) => a.send_packet(packet),
        }
    }

    fn finish(&mut self, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        match self {
            Audio::Encode(a) => a.finish(rep),
            Audio::Copy(a) => a.finish(),
        }
    }
}

/// Decide the path for `info`'s video under `plan`, scanning the keyframes (demux only) when
/// every other condition holds. Returns the choice and, for the fast path, the scan.
fn choose_path(
    input: &Path,
    ictx: &format::context::Input,
    info: &SourceInfo,
    plan: Option<&Plan>,
    opts: &TranscodeOptions,
) -> Result<(PathChoice, Option<fast::KeyframeScan>), TranscodeError> {
    let (Some(v), Some(plan)) = (&info.video, plan) else {
        return Ok((PathChoice::standard(PathReason::NoVideo), None));
    };
    if !opts.fast_path {
        return Ok((PathChoice::standard(PathReason::Disabled), None));
    }
    let has_extradata = ictx
        .stream(v.index)
        .is_some_and(|s| hls::has_extradata(&s.parameters()));
    let facts = RemuxFacts {
        codec: v.codec.clone(),
        pixel_format: v.pixel_format.clone(),
        width: v.width,
        height: v.height,
        square_pixel_width: v.square_pixel_width,
        rotation: v.rotation,
        fps: v.fps.as_f64(),
        top_rung: plan.renditions.first().map(|r| (r.width, r.height)),
        highest_requested: opts.ladder.iter().copied().max().unwrap_or(0),
        has_extradata,
    };
    if let Err(reason) = choice::check_facts(&facts) {
        return Ok((PathChoice::standard(reason), None));
    }
    let scan = fast::scan(input, v.index, SCAN_BUDGET)?;
    let choice = choice::decide(&facts, scan.stats.as_ref());
    let scan = (choice.path == TranscodePath::Remux).then_some(scan);
    Ok((choice, scan))
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
    input: &Path,
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
    let (choice, scan) = choose_path(input, ictx, info, plan.as_ref(), opts)?;
    // Where the common origin lands on every output's timeline (see LEAD_FRAMES); the fast
    // path also keeps the copied packets' decoding times non-negative.
    let mut lead_s = plan
        .as_ref()
        .map(|p| LEAD_FRAMES as f64 / p.fps.as_f64().max(1.0));
    let mut video = match (&info.video, &plan) {
        (Some(v), Some(plan)) => {
            let stream = ictx
                .stream(v.index)
                .ok_or_else(|| TranscodeError::Decode("video stream vanished".into()))?;
            let t0_ts = t0_us.rescale(micros, stream.time_base());
            Some(match scan {
                Some(scan) => {
                    let tb = f64::from(stream.time_base());
                    let frames = LEAD_FRAMES as f64 / v.fps.as_f64().max(1.0);
                    let lead = ((frames / tb).ceil() as i64).max(-scan.min_dts_offset);
                    lead_s = Some(lead as f64 * tb);
                    // every rung keeps the source's frames: its own (average) frame rate
                    let mut plan = plan.clone();
                    for r in &mut plan.renditions {
                        r.fps = v.fps;
                    }
                    Video::Fast(FastVideoPipe::new(
                        &stream,
                        &plan,
                        dir,
                        opts,
                        t0_ts,
                        lead,
                        scan,
                        info.duration_s,
                    )?)
                }
                None => Video::Standard(VideoPipe::new(
                    &stream,
                    plan,
                    dir,
                    opts,
                    t0_ts,
                    info.duration_s,
                    max_ts_s,
                )?),
            })
        }
        _ => None,
    };
    let remux = choice.path == TranscodePath::Remux;
    let mut audio = match &info.audio {
        Some(a) => {
            let stream = ictx
                .stream(a.index)
                .ok_or_else(|| TranscodeError::Decode("audio stream vanished".into()))?;
            let t0_ts = t0_us.rescale(micros, stream.time_base());
            Some(match lead_s {
                Some(lead_s) if remux && fast::audio_copyable(&stream) => {
                    Audio::Copy(AudioCopy::new(&stream, dir, opts, t0_ts, lead_s)?)
                }
                _ => Audio::Encode(AudioPipe::new(&stream, dir, opts, t0_ts, max_ts_s, lead_s)?),
            })
        }
        None => None,
    };

    let out_time = |video: &Option<Video>, audio: &Option<Audio>| -> f64 {
        let v = video.as_ref().map_or(0.0, Video::out_time_s);
        let a = audio.as_ref().map_or(0.0, Audio::out_time_s);
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
        if let Some(v) = video.as_mut().filter(|v| v.stream_index() == index) {
            v.send(&packet, reporter)?;
        } else if let Some(a) = audio.as_mut().filter(|a| a.stream_index() == index) {
            a.send(&packet, reporter)?;
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

    let video_ok = video.as_ref().is_some_and(|v| v.frames_out() > 0);
    let audio_ok = audio.as_ref().is_some_and(Audio::produced);
    if !video_ok && !audio_ok {
        return Err(TranscodeError::Decode(
            "no audio or video frame could be decoded".into(),
        ));
    }
    if let Some(v) = &video {
        if v.decode_errors() > 0 {
            warnings.push(format!(
                "video: {} packet(s) could not be decoded",
                v.decode_errors()
            ));
        }
        warnings.extend(v.warnings().iter().cloned());
        if !video_ok {
            warnings.push("the video stream could not be decoded; the output is audio-only".into());
            for (rung_dir, _) in v.renditions() {
                discard(&rung_dir, fs::remove_dir_all(&rung_dir));
            }
            let poster = dir.join(POSTER);
            discard(&poster, fs::remove_file(&poster));
        }
    }
    if let Some(a) = &audio {
        if a.decode_errors() > 0 {
            warnings.push(format!(
                "audio: {} packet(s) could not be decoded",
                a.decode_errors()
            ));
        }
        warnings.extend(a.warnings().iter().cloned());
        if !audio_ok {
            warnings.push("the audio stream could not be decoded; the output has no sound".into());
            let audio_dir = dir.join(AUDIO_DIR);
            discard(&audio_dir, fs::remove_dir_all(&audio_dir));
        }
    }

    let video_time = video
        .as_ref()
        .filter(|_| video_ok)
        .map(Video::out_time_s)
        .unwrap_or(0.0);
    let audio_time = audio
        .as_ref()
        .filter(|_| audio_ok)
        .map(Audio::out_time_s)
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
            for (rung_dir, rendition) in v.renditions() {
                renditions.push(measure_video(&rung_dir, &rendition)?);
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
        path: choice,
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
