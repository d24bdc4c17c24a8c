//! End-to-end tests of the media engine on clips generated with `pufa::media::testsrc`.
//!
//! Every successful output is checked the way a player would see it: the master playlist's
//! attributes, every media playlist re-opened with FFmpeg (init segment + segments
//! concatenated) and decoded to the end, sizes and frame rates, and segment alignment across
//! the video rungs. Clips are short and small so the suite stays fast on 2 cores.
//!
//! Audio durations are compared with a 0.1 s tolerance: decoded AAC includes the encoder's
//! priming (1024 samples) and the padding of the last frame, in the source and in the output.

use ffmpeg_next as ff;
use pufa::media::testsrc::{generate_clip, truncate_file, ClipSpec};
use pufa::media::transcode::{
    self, probe, Control, PathReason, Progress, RenditionKind, TranscodeError, TranscodeOptions,
    TranscodePath, TranscodeReport,
};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn clip(dir: &Path, name: &str, spec: &ClipSpec) -> PathBuf {
    let path = dir.join(name);
    generate_clip(spec, &path).expect("generate clip");
    path
}

/// Transcode with default options, recording progress.
fn run(input: &Path, out: &Path) -> (Result<TranscodeReport, TranscodeError>, Vec<Progress>) {
    let mut seen = Vec::new();
    let result = transcode::transcode(input, out, &TranscodeOptions::default(), &mut |p| {
        seen.push(p.clone());
        Control::Continue
    });
    (result, seen)
}

/// No `NAME.partial-*` / `.NAME.old-*` folders next to `out`.
fn assert_no_leftovers(out: &Path) {
    let name = out.file_name().unwrap().to_str().unwrap();
    let parent = out.parent().unwrap();
    for entry in fs::read_dir(parent).unwrap() {
        let n = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !n.starts_with(&format!("{name}.partial-")) && !n.starts_with(&format!(".{name}.old-")),
            "leftover {n}"
        );
    }
}

/// Attributes of an `#EXT-X-...:A=1,B="x,y"` line.
fn attributes(line: &str) -> HashMap<String, String> {
    let body = line.split_once(':').map(|(_, b)| b).unwrap_or("");
    let mut out = HashMap::new();
    let mut key = String::new();
    let mut value = String::new();
    let (mut in_value, mut quoted) = (false, false);
    for c in body.chars() {
        match c {
            '"' => quoted = !quoted,
            '=' if !in_value => in_value = true,
            ',' if !quoted => {
                out.insert(std::mem::take(&mut key), std::mem::take(&mut value));
                in_value = false;
            }
            _ if in_value => value.push(c),
            _ => key.push(c),
        }
    }
    if !key.is_empty() {
        out.insert(key, value);
    }
    out
}

#[derive(Debug)]
struct Variant {
    attrs: HashMap<String, String>,
    uri: String,
}

#[derive(Debug)]
struct Master {
    variants: Vec<Variant>,
    audio: Option<HashMap<String, String>>,
}

fn parse_master(out: &Path) -> Master {
    let text = fs::read_to_string(out.join("master.m3u8")).expect("master.m3u8");
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let mut variants = Vec::new();
    let mut audio = None;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("#EXT-X-STREAM-INF:") {
            variants.push(Variant {
                attrs: attributes(line),
                uri: lines[i + 1].to_string(),
            });
        } else if line.starts_with("#EXT-X-MEDIA:") {
            assert!(audio.is_none(), "one audio rendition expected");
            audio = Some(attributes(line));
        }
    }
    assert!(!variants.is_empty(), "no variants in\n{text}");
    Master { variants, audio }
}

fn segments(playlist: &Path) -> Vec<(f64, String)> {
    let text = fs::read_to_string(playlist).expect("media playlist");
    assert!(text.contains("#EXT-X-ENDLIST"), "unfinished playlist");
    assert!(text.contains("#EXT-X-MAP:URI=\"init.mp4\""));
    let segs = transcode::parse_media_playlist(&text);
    assert!(!segs.is_empty());
    segs
}

#[derive(Debug, Default)]
struct Decoded {
    width: u32,
    height: u32,
    frames: u64,
    /// Presentation timestamps of the video frames in seconds.
    pts: Vec<f64>,
    channels: u16,
    rate: u32,
    samples: u64,
    /// Timestamp of the first decoded audio frame in seconds.
    audio_start: Option<f64>,
}

/// Concatenate init + segments into one fMP4 and decode every frame with ffmpeg-next.
fn decode_playlist(playlist: &Path, scratch: &Path) -> Decoded {
    let dir = playlist.parent().unwrap();
    let mut bytes = fs::read(dir.join("init.mp4")).expect("init.mp4");
    for (_, uri) in segments(playlist) {
        bytes.extend(fs::read(dir.join(uri)).expect("segment"));
    }
    let joined = scratch.join(format!(
        "{}.mp4",
        dir.file_name().unwrap().to_string_lossy()
    ));
    fs::write(&joined, bytes).unwrap();
    decode_file(&joined)
}

fn decode_file(path: &Path) -> Decoded {
    let mut ictx = ff::format::input(&path).expect("open output");
    let mut out = Decoded::default();
    let mut video = None;
    let mut audio = None;
    for stream in ictx.streams() {
        let ctx = ff::codec::context::Context::from_parameters(stream.parameters()).unwrap();
        match stream.parameters().medium() {
            ff::media::Type::Video => {
                video = Some((
                    stream.index(),
                    stream.time_base(),
                    ctx.decoder().video().unwrap(),
                ))
            }
            ff::media::Type::Audio => {
                audio = Some((
                    stream.index(),
                    stream.time_base(),
                    ctx.decoder().audio().unwrap(),
                ))
            }
            _ => {}
        }
    }
    let mut vframe = ff::frame::Video::empty();
    let mut aframe = ff::frame::Audio::empty();
    let mut drain_video = |dec: &mut ff::decoder::Video, tb: ff::Rational, out: &mut Decoded| {
        while dec.receive_frame(&mut vframe).is_ok() {
            out.width = vframe.width();
            out.height = vframe.height();
            out.frames += 1;
            out.pts
                .push(vframe.timestamp().unwrap_or(0) as f64 * f64::from(tb));
        }
    };
    let mut drain_audio = |dec: &mut ff::decoder::Audio, tb: ff::Rational, out: &mut Decoded| {
        while dec.receive_frame(&mut aframe).is_ok() {
            if out.audio_start.is_none() {
                out.audio_start = aframe.timestamp().map(|t| t as f64 * f64::from(tb));
            }
            out.channels = aframe.channels();
            out.rate = aframe.rate();
            out.samples += aframe.samples() as u64;
        }
    };
    for (stream, packet) in ictx.packets() {
        if let Some((i, tb, dec)) = video.as_mut() {
            if stream.index() == *i {
                dec.send_packet(&packet).expect("video decodes");
                drain_video(dec, *tb, &mut out);
            }
        }
        if let Some((i, tb, dec)) = audio.as_mut() {
            if stream.index() == *i {
                dec.send_packet(&packet).expect("audio decodes");
                drain_audio(dec, *tb, &mut out);
            }
        }
    }
    if let Some((_, tb, dec)) = video.as_mut() {
        dec.send_eof().unwrap();
        drain_video(dec, *tb, &mut out);
    }
    if let Some((_, tb, dec)) = audio.as_mut() {
        dec.send_eof().unwrap();
        drain_audio(dec, *tb, &mut out);
    }
    out.pts.sort_by(f64::total_cmp);
    out
}

struct Checked {
    master: Master,
    /// Decoded video renditions, in master order.
    video: Vec<Decoded>,
    audio: Option<Decoded>,
}

/// Everything a player relies on: attributes, decodability, sizes, rates, alignment.
fn check_output(out: &Path, report: &TranscodeReport, scratch: &Path) -> Checked {
    assert!(out.join("master.m3u8").is_file());
    assert_no_leftovers(out);
    let master = parse_master(out);
    let mut video = Vec::new();
    let mut extinfs: Vec<Vec<f64>> = Vec::new();
    let remux = report.path.path == TranscodePath::Remux;

    for (index, v) in master.variants.iter().enumerate() {
        for key in ["BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS"] {
            assert!(v.attrs.contains_key(key), "{key} missing in {:?}", v.attrs);
        }
        let bandwidth: u64 = v.attrs["BANDWIDTH"].parse().unwrap();
        let average: u64 = v.attrs["AVERAGE-BANDWIDTH"].parse().unwrap();
        assert!(bandwidth >= average && average > 0, "{bandwidth} {average}");
        let playlist = out.join(&v.uri);
        if report.audio_only {
            assert_eq!(v.attrs["CODECS"], "mp4a.40.2");
            assert!(!v.attrs.contains_key("RESOLUTION"));
            continue;
        }
        for key in ["RESOLUTION", "FRAME-RATE"] {
            assert!(v.attrs.contains_key(key), "{key} missing in {:?}", v.attrs);
        }
        let codecs = &v.attrs["CODECS"];
        if remux && index == 0 {
            // the copied rung keeps the source's profile
            assert!(codecs.starts_with("avc1."), "{codecs}");
        } else {
            assert!(codecs.starts_with("avc1.6400"), "{codecs}");
        }
        assert_eq!(codecs.contains("mp4a.40.2"), report.has_audio, "{codecs}");
        assert_eq!(v.attrs.contains_key("AUDIO"), report.has_audio);

        let (w, h) = v.attrs["RESOLUTION"].split_once('x').unwrap();
        let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
        assert!(w % 2 == 0 && h % 2 == 0, "odd size {w}x{h}");
        let fps: f64 = v.attrs["FRAME-RATE"].parse().unwrap();
        let decoded = decode_playlist(&playlist, scratch);
        assert_eq!((decoded.width, decoded.height), (w, h), "{}", v.uri);
        assert!(decoded.frames > 0);
        // Standard path: constant frame rate, every frame exactly 1/fps after the previous
        // one. Fast path: the source's frames and timestamps on every rung (checked below).
        for pair in decoded.pts.windows(2).filter(|_| !remux) {
            let step = pair[1] - pair[0];
            assert!(
                (step - 1.0 / fps).abs() < 0.002,
                "{}: frame step {step} at {} (fps {fps})",
                v.uri,
                pair[0]
            );
        }
        extinfs.push(segments(&playlist).iter().map(|s| s.0).collect());
        video.push(decoded);
    }

    // Alignment: every video rung has the same segment count and EXTINF sequence (±1 ms).
    for other in extinfs.iter().skip(1) {
        assert_eq!(other.len(), extinfs[0].len(), "segment counts differ");
        for (a, b) in other.iter().zip(&extinfs[0]) {
            assert!((a - b).abs() < 0.001, "EXTINF {a} vs {b}");
        }
    }
    // Same number of frames everywhere; on the fast path the same instants too.
    for v in &video {
        assert_eq!(v.frames, video[0].frames);
        if remux {
            for (a, b) in v.pts.iter().zip(&video[0].pts) {
                assert!((a - b).abs() < 0.001, "frame at {a} vs {b}");
            }
        }
    }

    let audio = if report.has_audio {
        let uri = if report.audio_only {
            master.variants[0].uri.clone()
        } else {
            let media = master.audio.as_ref().expect("EXT-X-MEDIA for audio");
            assert_eq!(media["TYPE"], "AUDIO");
            assert_eq!(media["CHANNELS"], "2");
            media["URI"].clone()
        };
        let decoded = decode_playlist(&out.join(uri), scratch);
        assert_eq!(decoded.channels, 2, "stereo output");
        assert_eq!(decoded.rate, 48_000);
        assert!(decoded.samples > 0);
        // A/V sync: audio and video share one timeline. The first audio frame is the AAC
        // encoder's priming (1024 samples) just before the first video frame, or exactly at
        // it when the demuxer already trimmed the priming.
        if let (Some(v), Some(a)) = (video.first(), decoded.audio_start) {
            let lead = v.pts[0] - a;
            assert!(
                lead.abs() < 0.002 || (lead - 1024.0 / 48_000.0).abs() < 0.002,
                "audio starts {lead} s before video"
            );
        }
        Some(decoded)
    } else {
        assert!(master.audio.is_none());
        None
    };

    // The report agrees with the files.
    let video_reported = report
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Video)
        .count();
    assert_eq!(video_reported, video.len());
    assert_eq!(out.join("poster.jpg").is_file(), report.poster);
    Checked {
        master,
        video,
        audio,
    }
}

fn heights(report: &TranscodeReport) -> Vec<(u32, u32)> {
    report
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Video)
        .map(|r| (r.width, r.height))
        .collect()
}

// ------------------------------------------------------------------------------------------
// tests
// ------------------------------------------------------------------------------------------

#[test]
fn normal_clip_with_stereo_audio_gets_one_rung_and_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "lecture.mp4",
        &ClipSpec::new(640, 360, 30, 13.0).with_audio(2, 48_000),
    );
    let out = tmp.path().join("hls");
    let (result, progress) = run(&input, &out);
    let report = result.expect("transcode");
    assert_eq!(heights(&report), vec![(640, 360)]);
    assert!(report.has_audio && !report.audio_only && report.poster);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(
        (report.duration_s - 13.0).abs() < 0.1,
        "{}",
        report.duration_s
    );

    let checked = check_output(&out, &report, tmp.path());
    assert_eq!(checked.video[0].frames, 390);
    let audio = checked.audio.unwrap();
    assert!((audio.samples as f64 / 48_000.0 - 13.0).abs() < 0.1);
    // 13 s in ~6 s segments.
    let segs = segments(&out.join("360p/index.m3u8"));
    assert_eq!(segs.len(), 3);
    assert!((segs[0].0 - 6.0).abs() < 0.01);

    // Progress: at least once per second of output, monotone, ends at 1.0.
    assert!(progress.len() >= 13, "{} progress calls", progress.len());
    for pair in progress.windows(2) {
        assert!(pair[1].out_time_s >= pair[0].out_time_s);
        assert!(pair[1].out_time_s - pair[0].out_time_s <= 1.0 + 1e-9);
        assert!(pair[1].fraction >= pair[0].fraction);
    }
    assert_eq!(progress.last().unwrap().fraction, 1.0);
    assert_eq!(progress[0].duration_s, Some(13.0));
}

#[test]
fn hd_clip_gets_three_aligned_rungs() {
    let tmp = tempfile::tempdir().unwrap();
    // Mono 44.1 kHz input: resampled to 48 kHz stereo.
    let input = clip(
        tmp.path(),
        "hd.mp4",
        &ClipSpec::new(1280, 720, 25, 5.0).with_audio(1, 44_100),
    );
    let out = tmp.path().join("hls");
    // Short segments so the alignment check spans several segments of a short clip.
    let opts = TranscodeOptions {
        segment_seconds: 2,
        gop_seconds: 1,
        ..TranscodeOptions::default()
    };
    let report =
        transcode::transcode(&input, &out, &opts, &mut |_| Control::Continue).expect("transcode");
    assert_eq!(heights(&report), vec![(1280, 720), (854, 480), (640, 360)]);
    let checked = check_output(&out, &report, tmp.path());
    assert_eq!(checked.master.variants.len(), 3);
    assert_eq!(checked.video[0].frames, 125);
    let audio = checked.audio.unwrap();
    assert!((audio.samples as f64 / 48_000.0 - 5.0).abs() < 0.1);
    // Bandwidth decreases with the rung.
    let bw: Vec<u64> = checked
        .master
        .variants
        .iter()
        .map(|v| v.attrs["BANDWIDTH"].parse().unwrap())
        .collect();
    assert!(bw.windows(2).all(|w| w[0] > w[1]), "{bw:?}");
    assert_eq!(checked.master.variants[0].attrs["FRAME-RATE"], "25.000");
    let segs = segments(&out.join("720p/index.m3u8"));
    assert_eq!(
        segs.iter().map(|s| s.0.round() as u32).collect::<Vec<_>>(),
        [2, 2, 1]
    );
}

#[test]
fn video_without_audio_gives_video_only_renditions() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(tmp.path(), "silent.mp4", &ClipSpec::new(320, 240, 24, 4.0));
    let out = tmp.path().join("hls");
    let report = run(&input, &out).0.expect("transcode");
    assert!(!report.has_audio && !report.audio_only);
    assert!(!out.join("audio").exists());
    let checked = check_output(&out, &report, tmp.path());
    assert_eq!(checked.video[0].frames, 96);
    assert_eq!(
        checked.master.variants[0].attrs["CODECS"]
            .matches(',')
            .count(),
        0
    );
}

#[test]
fn audio_only_file_gives_an_audio_only_rendition() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "talk.m4a",
        &ClipSpec::audio_only(2, 44_100, 7.0),
    );
    let out = tmp.path().join("hls");
    let report = run(&input, &out).0.expect("transcode");
    assert!(report.audio_only && report.has_audio && !report.poster);
    assert_eq!(report.renditions.len(), 1);
    assert_eq!(report.renditions[0].kind, RenditionKind::Audio);
    let checked = check_output(&out, &report, tmp.path());
    assert_eq!(checked.master.variants.len(), 1);
    assert_eq!(checked.master.variants[0].uri, "audio/index.m3u8");
    let audio = checked.audio.unwrap();
    assert!((audio.samples as f64 / 48_000.0 - 7.0).abs() < 0.1);
}

#[test]
fn odd_size_source_gets_even_rungs_below_its_short_side() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(tmp.path(), "odd.mp4", &ClipSpec::new(1918, 1078, 10, 2.0));
    let out = tmp.path().join("hls");
    let report = run(&input, &out).0.expect("transcode");
    let sizes = heights(&report);
    assert_eq!(
        sizes.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![720, 480, 360]
    );
    assert!(sizes.iter().all(|(w, h)| w % 2 == 0 && h % 2 == 0));
    check_output(&out, &report, tmp.path());
}

#[test]
fn truly_odd_dimensions_are_rounded_down_to_even() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(tmp.path(), "tiny.mkv", &ClipSpec::new(321, 241, 15, 2.0));
    let out = tmp.path().join("hls");
    let report = run(&input, &out).0.expect("transcode");
    assert_eq!(heights(&report), vec![(320, 240)]);
    check_output(&out, &report, tmp.path());
}

/// Luma plane of video frame `index` as rows of bytes.
fn luma_of_frame(path: &Path, index: usize) -> (u32, u32, Vec<u8>) {
    let mut ictx = ff::format::input(&path).unwrap();
    let stream = ictx.streams().best(ff::media::Type::Video).unwrap();
    let si = stream.index();
    let mut dec = ff::codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut frame = ff::frame::Video::empty();
    let mut seen = 0;
    let mut grab = |dec: &mut ff::decoder::Video| -> Option<(u32, u32, Vec<u8>)> {
        while dec.receive_frame(&mut frame).is_ok() {
            if seen == index {
                let (w, h) = (frame.width(), frame.height());
                let stride = frame.stride(0);
                let data = frame.data(0);
                let mut luma = Vec::with_capacity((w * h) as usize);
                for y in 0..h as usize {
                    luma.extend_from_slice(&data[y * stride..y * stride + w as usize]);
                }
                return Some((w, h, luma));
            }
            seen += 1;
        }
        None
    };
    for (s, packet) in ictx.packets() {
        if s.index() == si {
            dec.send_packet(&packet).unwrap();
            if let Some(found) = grab(&mut dec) {
                return found;
            }
        }
    }
    dec.send_eof().unwrap();
    grab(&mut dec).expect("frame index out of range")
}

#[test]
fn rotated_phone_clip_plays_upright() {
    let tmp = tempfile::tempdir().unwrap();
    // Landscape-coded 640x360 with a 90° rotate: the picture is portrait on screen.
    let spec = ClipSpec {
        rotation: Some(90),
        ..ClipSpec::new(640, 360, 25, 3.0)
    };
    let input = clip(tmp.path(), "phone.mp4", &spec);
    let info = probe(&input).unwrap();
    assert_eq!(info.video.as_ref().unwrap().rotation, 90);
    let out = tmp.path().join("hls");
    let report = run(&input, &out).0.expect("transcode");
    assert_eq!(heights(&report), vec![(360, 640)]);
    let checked = check_output(&out, &report, tmp.path());
    assert!(checked.video[0].width < checked.video[0].height);

    // Direction: output frame 10 must be the source frame turned clockwise (as the ffmpeg
    // CLI's autorotate does), not counter-clockwise. Same pixel count (360 rung = source).
    let (sw, sh, src) = luma_of_frame(&input, 10);
    let (ow, oh, dst) = luma_of_frame(&tmp.path().join("360p.mp4"), 10);
    assert_eq!((ow, oh), (sh, sw));
    let (mut clockwise, mut counter) = (0u64, 0u64);
    for oy in 0..oh {
        for ox in 0..ow {
            let o = dst[(oy * ow + ox) as usize] as i64;
            let cw = src[((sh - 1 - ox) * sw + oy) as usize] as i64;
            let ccw = src[(ox * sw + (sw - 1 - oy)) as usize] as i64;
            clockwise += o.abs_diff(cw);
            counter += o.abs_diff(ccw);
        }
    }
    let n = u64::from(ow * oh);
    assert!(
        clockwise / n < 8 && counter / n > 3 * (clockwise / n).max(1),
        "mean abs diff clockwise {} vs counter-clockwise {}",
        clockwise / n,
        counter / n
    );
    assert!(out.join("poster.jpg").is_file());
}

#[test]
fn surround_audio_is_downmixed_to_stereo() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "surround.mp4",
        &ClipSpec::new(320, 240, 25, 3.0).with_audio(6, 48_000),
    );
    assert_eq!(probe(&input).unwrap().audio.unwrap().channels, 6);
    let out = tmp.path().join("hls");
    let report = run(&input, &out).0.expect("transcode");
    let checked = check_output(&out, &report, tmp.path());
    let audio = checked.audio.unwrap();
    assert_eq!(audio.channels, 2);
    assert!((audio.samples as f64 / 48_000.0 - 3.0).abs() < 0.1);
}

#[test]
fn variable_frame_rate_becomes_constant() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = ClipSpec {
        vfr: true,
        ..ClipSpec::new(320, 240, 30, 6.0)
    };
    let input = clip(tmp.path(), "vfr.mp4", &spec);
    let info = probe(&input).unwrap();
    let v = info.video.as_ref().unwrap();
    assert!(v.vfr, "generated clip should probe as VFR: {v:?}");
    let source_duration = info.duration_s.unwrap();
    let out = tmp.path().join("hls");
    // the standard path (the fast path keeps the source's timestamps, tested below)
    let opts = TranscodeOptions {
        fast_path: false,
        ..TranscodeOptions::default()
    };
    let report =
        transcode::transcode(&input, &out, &opts, &mut |_| Control::Continue).expect("transcode");
    assert_eq!(report.path.reason, PathReason::Disabled);
    let fps = report.renditions[0].frame_rate.unwrap();
    assert_eq!(fps, fps.round(), "VFR gets a whole-number rate: {fps}");
    assert!((fps - v.fps.as_f64()).abs() <= 0.5 + 1e-9);
    // check_output verifies every frame is exactly 1/fps after the previous one.
    let checked = check_output(&out, &report, tmp.path());
    let expected = source_duration * fps;
    let frames = checked.video[0].frames as f64;
    assert!(
        (frames - expected).abs() <= 2.0,
        "{frames} frames, expected ≈ {expected} ({source_duration} s × {fps})"
    );
}

#[test]
fn truncated_upload_is_transcoded_as_far_as_it_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "cut.mp4",
        &ClipSpec::new(320, 240, 25, 8.0).with_audio(2, 48_000),
    );
    truncate_file(&input, 0.6).unwrap();
    let out = tmp.path().join("hls");
    match run(&input, &out).0 {
        Ok(report) => {
            assert!(
                !report.warnings.is_empty(),
                "a truncated file must produce a warning"
            );
            assert!(report.duration_s > 1.0 && report.duration_s < 8.0);
            check_output(&out, &report, tmp.path());
        }
        Err(e) => {
            assert!(!e.message_zh().is_empty());
            assert!(!out.exists());
            assert_no_leftovers(&out);
        }
    }
}

#[test]
fn partly_corrupt_file_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "damaged.mkv",
        &ClipSpec::new(320, 240, 25, 6.0).with_audio(2, 48_000),
    );
    // Overwrite 8 KiB in the middle with garbage.
    let mut bytes = fs::read(&input).unwrap();
    let mid = bytes.len() / 2;
    for (i, b) in bytes[mid..mid + 8192].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    fs::write(&input, bytes).unwrap();
    let out = tmp.path().join("hls");
    match run(&input, &out).0 {
        Ok(report) => {
            check_output(&out, &report, tmp.path());
            assert!(report.duration_s > 2.0);
        }
        Err(e) => {
            assert!(!e.message_zh().is_empty());
            assert!(!out.exists());
        }
    }
    assert_no_leftovers(&out);
}

#[test]
fn random_bytes_fail_with_a_reason_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("garbage.mp4");
    // Deterministic pseudo-random bytes (xorshift).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(&input, bytes).unwrap();
    let out = tmp.path().join("hls");
    let err = run(&input, &out).0.expect_err("garbage must fail");
    assert!(
        matches!(err, TranscodeError::Open(_) | TranscodeError::NoStreams),
        "{err:?}"
    );
    assert!(!err.message_zh().is_empty());
    assert!(!out.exists());
    assert_no_leftovers(&out);
    assert!(probe(&input).is_err());

    // An empty upload too.
    let empty = tmp.path().join("empty.mp4");
    fs::write(&empty, b"").unwrap();
    let err = run(&empty, &out).0.expect_err("empty must fail");
    assert!(matches!(err, TranscodeError::Open(_)), "{err:?}");
    assert!(!out.exists());
}

#[test]
fn missing_input_fails_to_open() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hls");
    let err = run(&tmp.path().join("nope.mp4"), &out).0.unwrap_err();
    assert!(matches!(err, TranscodeError::Open(_)), "{err:?}");
    assert!(!out.exists());
}

#[test]
fn cancellation_stops_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "long.mp4",
        &ClipSpec::new(320, 240, 25, 10.0).with_audio(2, 48_000),
    );
    let out = tmp.path().join("hls");
    let mut calls = 0;
    let result = transcode::transcode(&input, &out, &TranscodeOptions::default(), &mut |p| {
        calls += 1;
        if p.out_time_s >= 2.0 {
            Control::Cancel
        } else {
            Control::Continue
        }
    });
    assert!(
        matches!(result, Err(TranscodeError::Cancelled)),
        "{result:?}"
    );
    assert!(calls >= 2);
    assert!(!out.exists());
    assert_no_leftovers(&out);
}

#[test]
fn existing_output_is_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(tmp.path(), "a.mp4", &ClipSpec::new(320, 240, 25, 2.0));
    let out = tmp.path().join("hls");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("stale.txt"), "old").unwrap();
    let report = run(&input, &out).0.expect("transcode");
    assert!(!out.join("stale.txt").exists());
    check_output(&out, &report, tmp.path());

    // A failing run leaves the previous good output untouched.
    let garbage = tmp.path().join("garbage.bin");
    fs::write(&garbage, vec![0u8; 4096]).unwrap();
    assert!(run(&garbage, &out).0.is_err());
    assert!(out.join("master.m3u8").is_file());
    assert_no_leftovers(&out);

    // Leftovers of a killed process are swept by remove_stale_partials.
    fs::create_dir_all(tmp.path().join("hls.partial-Ab12Cd/720p")).unwrap();
    fs::create_dir_all(tmp.path().join(".hls.old-Xy34Zw")).unwrap();
    assert_eq!(transcode::remove_stale_partials(&out).unwrap(), 2);
    assert_no_leftovers(&out);
    assert!(out.join("master.m3u8").is_file());
}

#[test]
fn probe_reports_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(
        tmp.path(),
        "p.mkv",
        &ClipSpec::new(320, 240, 25, 2.0).with_audio(2, 44_100),
    );
    let info = probe(&input).unwrap();
    let v = info.video.unwrap();
    assert_eq!((v.width, v.height, v.rotation), (320, 240, 0));
    assert_eq!(v.fps.as_f64(), 25.0);
    assert!(!v.vfr);
    let a = info.audio.unwrap();
    assert_eq!((a.channels, a.sample_rate), (2, 44_100));
    assert!((info.duration_s.unwrap() - 2.0).abs() < 0.1);
}

#[test]
fn cli_rejects_a_bad_ladder_and_transcodes_a_good_one() {
    let tmp = tempfile::tempdir().unwrap();
    let input = clip(tmp.path(), "c.mp4", &ClipSpec::new(640, 360, 25, 2.0));
    let out = tmp.path().join("hls");
    let code = pufa::media::cli::run(&input, &out, Some("720,abc"));
    assert_ne!(code, ExitCode::SUCCESS);
    assert!(!out.exists());

    let code = pufa::media::cli::run(&input, &out, Some("360,240"));
    assert_eq!(code, ExitCode::SUCCESS);
    let master = parse_master(&out);
    let resolutions: Vec<&str> = master
        .variants
        .iter()
        .map(|v| v.attrs["RESOLUTION"].as_str())
        .collect();
    assert_eq!(resolutions, ["640x360", "426x240"]);

    let bad = tmp.path().join("bad.mp4");
    fs::write(&bad, b"not a video").unwrap();
    let out2 = tmp.path().join("hls2");
    assert_ne!(pufa::media::cli::run(&bad, &out2, None), ExitCode::SUCCESS);
    assert!(!out2.join("master.m3u8").exists());
}

// ------------------------------------------------------------------------------------------
// the remux fast path (issue 19)
// ------------------------------------------------------------------------------------------

/// A clip made by the ffmpeg CLI from lavfi sources (`args` go between the inputs and the
/// output): 48 kHz stereo AAC-LC, like a phone's.
fn cli_clip(dir: &Path, name: &str, size: &str, seconds: u32, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size={size}:rate=30"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string(), "-ac", "2", "-c:a", "aac"])
        .args(args)
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made {name}");
    path
}

/// `ffmpeg -v error` over a playlist: no error output, and the duration it reports.
fn ffmpeg_decodes_cleanly(playlist: &Path) -> f64 {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(playlist)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{}", playlist.display());
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(errors.trim().is_empty(), "{}: {errors}", playlist.display());
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(playlist)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .expect("a duration")
}

fn transcode_with(input: &Path, out: &Path, ladder: &[u32]) -> TranscodeReport {
    let opts = TranscodeOptions {
        ladder: ladder.to_vec(),
        ..TranscodeOptions::default()
    };
    transcode::transcode(input, out, &opts, &mut |_| Control::Continue).expect("transcode")
}

/// Every rung of a fast-path output: same EXTINF sequence (±1 ms), clean decode, the source's
/// duration; the copied rung is byte-for-byte the source's video.
fn assert_remuxed(out: &Path, report: &TranscodeReport, seconds: f64, scratch: &Path) {
    assert_eq!(report.path.path, TranscodePath::Remux, "{:?}", report.path);
    let checked = check_output(out, report, scratch);
    let video: Vec<_> = report
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Video)
        .collect();
    assert!(video.len() >= 2, "a copied and an encoded rung");
    let extinfs: Vec<Vec<f64>> = video
        .iter()
        .map(|r| {
            segments(&out.join(&r.playlist))
                .iter()
                .map(|s| s.0)
                .collect()
        })
        .collect();
    assert!(extinfs[0].len() >= 2, "several segments: {:?}", extinfs[0]);
    for (r, e) in video.iter().zip(&extinfs) {
        assert_eq!(e.len(), extinfs[0].len(), "{}: segment count", r.name);
        for (a, b) in e.iter().zip(&extinfs[0]) {
            assert!((a - b).abs() < 0.001, "{}: EXTINF {a} vs {b}", r.name);
        }
        let duration = ffmpeg_decodes_cleanly(&out.join(&r.playlist));
        assert!((duration - seconds).abs() < 0.1, "{}: {duration} s", r.name);
    }
    let total: f64 = extinfs[0].iter().sum();
    assert!((total - seconds).abs() < 0.05, "EXTINF sum {total}");
    if let Some(audio) = checked.audio {
        assert!((audio.samples as f64 / 48_000.0 - seconds).abs() < 0.1);
    }
}

#[test]
fn remuxed_1080p_rungs_are_aligned_and_decode_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    // 2 s GOPs, B-frames (x264 default): a camera or screen recording.
    let input = cli_clip(
        tmp.path(),
        "hd.mp4",
        "1920x1080",
        14,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "60",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let out = tmp.path().join("hls");
    let report = transcode_with(&input, &out, &[1080, 360]);
    assert_eq!(heights(&report), vec![(1920, 1080), (640, 360)]);
    assert_eq!(report.path.reason, PathReason::Eligible);
    assert_eq!(report.path.note_zh(), "快速路径：复制原视频（GOP 2.0 s）");
    assert_remuxed(&out, &report, 14.0, tmp.path());
    // segments end at the first keyframe at or after each 6 s
    let segs = segments(&out.join("1080p/index.m3u8"));
    assert_eq!(
        segs.iter().map(|s| s.0.round() as u32).collect::<Vec<_>>(),
        [6, 6, 2]
    );
    // the copied rung's BANDWIDTH is measured from its segments: about the source's bitrate
    let source_bps = probe(&input).unwrap().video.unwrap().bitrate_bps.unwrap() as f64;
    let copied = &report.renditions[0];
    assert!(
        (copied.average_bandwidth as f64 / source_bps - 1.0).abs() < 0.1,
        "{} vs {source_bps}",
        copied.average_bandwidth
    );
    assert!(copied.bandwidth >= copied.average_bandwidth);
}

#[test]
fn a_phone_clip_with_vfr_and_1s_gops_is_remuxed_aligned() {
    let tmp = tempfile::tempdir().unwrap();
    // Jittered timestamps with every 7th frame dropped (VFR), 1 s GOPs, no B-frames.
    let input = cli_clip(
        tmp.path(),
        "phone.mp4",
        "640x360",
        13,
        &[
            "-vf",
            "setpts='PTS+0.01*random(1)/TB',select='not(eq(mod(n\\,7)\\,3))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-bf",
            "0",
            "-force_key_frames",
            "expr:gte(t,n_forced*1)",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let info = probe(&input).unwrap();
    assert!(info.video.as_ref().unwrap().vfr, "the clip is VFR");
    let out = tmp.path().join("hls");
    let report = transcode_with(&input, &out, &[360, 240]);
    assert!(
        (report.path.max_gop_s.unwrap() - 1.0).abs() < 0.1,
        "{:?}",
        report.path
    );
    assert_remuxed(&out, &report, 13.0, tmp.path());
    // AAC-LC stereo 48 kHz is copied, not encoded again: the audio rendition's packets are
    // the source's
    let audio_dir = out.join("audio");
    let copied: u64 = segments(&audio_dir.join("index.m3u8"))
        .iter()
        .map(|(_, uri)| fs::metadata(audio_dir.join(uri)).unwrap().len())
        .sum();
    assert!(copied > 0);
}

#[test]
fn the_fast_path_is_refused_for_long_gops_deep_colour_and_large_sources() {
    let tmp = tempfile::tempdir().unwrap();
    /// (file, size, encoder arguments, ladder, expected reason)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a [u32], PathReason);
    let cases: [Case; 4] = [
        (
            "gop10.mp4",
            "640x360",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "300",
                "-keyint_min",
                "300",
                "-sc_threshold",
                "0",
                "-pix_fmt",
                "yuv420p",
            ],
            &[360, 240],
            PathReason::GopTooLong,
        ),
        (
            "422.mp4",
            "640x360",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "30",
                "-pix_fmt",
                "yuv422p",
            ],
            &[360, 240],
            PathReason::PixelFormat,
        ),
        (
            "10bit.mp4",
            "640x360",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "30",
                "-pix_fmt",
                "yuv420p10le",
            ],
            &[360, 240],
            PathReason::PixelFormat,
        ),
        (
            "large.mp4",
            "640x360",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "30",
                "-pix_fmt",
                "yuv420p",
            ],
            &[240],
            PathReason::LargerThanTopRung,
        ),
    ];
    for (name, size, args, ladder, reason) in cases {
        let input = cli_clip(tmp.path(), name, size, 12, args);
        let out = tmp.path().join(format!("hls-{name}"));
        let report = transcode_with(&input, &out, ladder);
        assert_eq!(
            (report.path.path, report.path.reason),
            (TranscodePath::Transcode, reason),
            "{name}"
        );
        assert!(report.path.note_zh().starts_with("标准转码："));
        // today's path: every rung encoded, constant frame rate, aligned
        check_output(&out, &report, tmp.path());
    }
}
