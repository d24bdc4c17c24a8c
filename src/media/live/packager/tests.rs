//! End-to-end tests: clips made with the ffmpeg CLI, read through a plain `File`.

use super::*;
use std::collections::HashMap;
use std::fs;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

struct Clips {
    _dir: tempfile::TempDir,
    flv: PathBuf,
    ts: PathBuf,
    mpeg2: PathBuf,
}

fn ffmpeg(args: &[&str]) {
    let status = Command::new("nice")
        .args(["-n", "10", "ffmpeg", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// 10 s of 960x540 30 fps H.264 (keyframe every 2 s, B-frames) + 44.1 kHz AAC as FLV and TS,
/// and 6 s of MPEG-2 video + MP2 audio as TS. Made once per test process.
fn clips() -> &'static Clips {
    static CLIPS: OnceLock<Clips> = OnceLock::new();
    CLIPS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let flv = dir.path().join("h264.flv");
        let ts = dir.path().join("h264.ts");
        let mpeg2 = dir.path().join("mpeg2.ts");
        let src = [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=960x540:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
        ];
        let h264 = [
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-sc_threshold",
            "0",
            "-b:v",
            "1500k",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
        ];
        let mut a: Vec<&str> = src.to_vec();
        a.extend(h264);
        a.extend(["-f", "flv", flv.to_str().unwrap()]);
        ffmpeg(&a);
        let mut a: Vec<&str> = src.to_vec();
        a.extend(h264);
        a.extend(["-f", "mpegts", ts.to_str().unwrap()]);
        ffmpeg(&a);
        let mut a: Vec<&str> = src.to_vec();
        a.extend([
            "-t",
            "6",
            "-c:v",
            "mpeg2video",
            "-q:v",
            "5",
            "-g",
            "60",
            "-c:a",
            "mp2",
            "-f",
            "mpegts",
            mpeg2.to_str().unwrap(),
        ]);
        ffmpeg(&a);
        Clips {
            _dir: dir,
            flv,
            ts,
            mpeg2,
        }
    })
}

struct Run {
    dir: tempfile::TempDir,
    result: Result<LiveSummary, PackagerError>,
    events: Vec<PackagerEvent>,
    status: LiveStatus,
    took: Duration,
}

fn package<R: Read + Send + 'static>(
    input: R,
    format: InputFormat,
    arrivals: ArrivalLog,
    opts: PackagerOptions,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let packager = LivePackager::new(dir.path(), opts).unwrap();
    let status = packager.status();
    let mut events = Vec::new();
    let start = Instant::now();
    let result = packager.run(input, format, arrivals, &mut |e| events.push(e));
    let took = start.elapsed();
    let status = status.borrow().clone();
    Run {
        dir,
        result,
        events,
        status,
        took,
    }
}

fn file_run(path: &Path, format: InputFormat, opts: PackagerOptions) -> Run {
    let log = ArrivalLog::new();
    let reader = TimedReader::new(fs::File::open(path).unwrap(), log.clone());
    package(reader, format, log, opts)
}

/// Arrival times one microsecond per byte from `t0` (distinct and increasing).
fn synthetic_run(path: &Path, format: InputFormat, opts: PackagerOptions, t0: SystemTime) -> Run {
    let log = ArrivalLog::new();
    let reader = TimedReader::with_clock(fs::File::open(path).unwrap(), log.clone(), move |o| {
        t0 + Duration::from_micros(o)
    });
    package(reader, format, log, opts)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn extinfs(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| l.starts_with("#EXTINF:"))
        .map(str::to_string)
        .collect()
}

fn pdts(playlist: &str) -> Vec<chrono::DateTime<chrono::FixedOffset>> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect()
}

fn segment_uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// ffprobe's view of the first stream of `file`: codec, size, decoded frame count, and the
/// sizes of its packets.
fn probe(file: &Path) -> (String, u32, u32, u64, Vec<u64>) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "0",
            "-show_streams",
            "-show_packets",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames:packet=size",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    let num = |x: &serde_json::Value| -> u64 {
        x.as_u64()
            .or_else(|| x.as_str().and_then(|t| t.parse().ok()))
            .unwrap_or(0)
    };
    let sizes = v["packets"]
        .as_array()
        .map(|p| p.iter().map(|p| num(&p["size"])).collect())
        .unwrap_or_default();
    (
        s["codec_name"].as_str().unwrap_or("").to_string(),
        num(&s["width"]) as u32,
        num(&s["height"]) as u32,
        num(&s["nb_read_frames"]),
        sizes,
    )
}

/// `init.mp4` + the given segments of a rendition, as one file to probe.
fn joined(rendition: &Path, segments: &[String], name: &str) -> PathBuf {
    let mut bytes = fs::read(rendition.join("init.mp4")).unwrap();
    for s in segments {
        bytes.extend(fs::read(rendition.join(s)).unwrap());
    }
    let path = rendition.parent().unwrap().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// The checks every successful run must pass; returns the video EXTINF sequence.
fn check_outputs(run: &Run, video: &[&str], with_audio: bool) -> Vec<String> {
    let root = run.dir.path();
    let mut sequence: Option<Vec<String>> = None;
    for name in video.iter().copied().chain(with_audio.then_some("audio")) {
        let dir = root.join(name);
        let index = read(&dir.join("index.m3u8"));
        let vod = read(&dir.join("vod.m3u8"));
        assert!(index.ends_with("#EXT-X-ENDLIST\n"), "{name}: {index}");
        assert!(vod.contains("#EXT-X-PLAYLIST-TYPE:VOD\n") && vod.ends_with("#EXT-X-ENDLIST\n"));
        for tag in [
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:",
            "#EXT-X-MEDIA-SEQUENCE:",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-MAP:URI=\"init.mp4\"",
        ] {
            assert!(index.contains(tag), "{name}: {tag} missing");
        }
        let times = pdts(&vod);
        let uris = segment_uris(&vod);
        assert!(uris.len() >= 3, "{name}: {vod}");
        assert_eq!(times.len(), uris.len(), "{name}: one PDT per segment");
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "{name}: PDT increasing: {times:?}"
        );
        // Nothing temporary is left behind; every listed segment decodes.
        for entry in fs::read_dir(&dir).unwrap() {
            let n = entry.unwrap().file_name();
            assert!(!n.to_string_lossy().ends_with(".tmp"), "{name}: {n:?} left");
        }
        for (i, uri) in uris.iter().enumerate() {
            let file = joined(&dir, std::slice::from_ref(uri), &format!("{name}-{i}.mp4"));
            let (_, _, _, frames, _) = probe(&file);
            assert!(frames > 0, "{name}/{uri} decodes no frame");
        }
        if name != "audio" {
            let seq = extinfs(&vod);
            match &sequence {
                None => sequence = Some(seq),
                Some(first) => assert_eq!(first, &seq, "{name}: EXTINF differs from the top rung"),
            }
        } else {
            let video_count = sequence.as_ref().map_or(0, Vec::len);
            assert_eq!(
                uris.len(),
                video_count,
                "audio has as many segments as video"
            );
        }
    }
    let master = read(&root.join("master.m3u8"));
    for name in video {
        assert!(master.contains(&format!("{name}/index.m3u8")), "{master}");
    }
    assert!(master.contains("CODECS=\"avc1."));
    if with_audio {
        assert!(master.contains("mp4a.40.2") && master.contains("URI=\"audio/index.m3u8\""));
    }
    assert!(read(&root.join("master_vod.m3u8")).contains("/vod.m3u8"));
    sequence.unwrap_or_default()
}

#[test]
fn flv_h264_gets_a_copied_top_rung_and_aligned_lower_rungs() {
    let clips = clips();
    let opts = PackagerOptions {
        part_target: Some(Duration::from_millis(500)),
        window: Some(3),
        ..PackagerOptions::default()
    };
    let run = file_run(&clips.flv, InputFormat::Flv, opts);
    let summary = run.result.as_ref().unwrap();
    eprintln!("flv: packaged in {:?}: {summary:?}", run.took);
    let Some(PackagerEvent::Started {
        renditions,
        passthrough,
        width,
        height,
        ..
    }) = run.events.first()
    else {
        panic!("no Started event");
    };
    assert_eq!(renditions, &["540p", "360p", "audio"]);
    assert!(*passthrough);
    assert_eq!((*width, *height), (960, 540));
    let seq = check_outputs(&run, &["540p", "360p"], true);
    assert_eq!(seq, vec!["#EXTINF:2.000,".to_string(); 5]);
    let root = run.dir.path();
    // The live playlist keeps its window; ENDLIST was added at the end.
    let index = read(&root.join("540p/index.m3u8"));
    assert_eq!(extinfs(&index).len(), 3);
    assert!(index.contains("#EXT-X-MEDIA-SEQUENCE:2\n"));

    // Never larger than the source; the lower rung is scaled.
    let all = |n: &str| segment_uris(&read(&root.join(n).join("vod.m3u8")));
    let (codec, w, h, frames, top_sizes) =
        probe(&joined(&root.join("540p"), &all("540p"), "top.mp4"));
    assert_eq!((codec.as_str(), w, h, frames), ("h264", 960, 540, 300));
    let (codec, w, h, frames, _) = probe(&joined(&root.join("360p"), &all("360p"), "low.mp4"));
    assert_eq!((codec.as_str(), w, h, frames), ("h264", 640, 360, 300));
    // Passthrough: the top rung's packets are the source's, byte for byte in size.
    let (_, _, _, _, source_sizes) = probe(&clips.flv);
    assert_eq!(top_sizes, source_sizes);

    // Parts: a segment is its parts concatenated.
    let parts: Vec<&PackagerEvent> = run
        .events
        .iter()
        .filter(|e| matches!(e, PackagerEvent::Part { rendition, segment: 1, .. } if rendition == "540p"))
        .collect();
    assert!((3..=5).contains(&parts.len()), "{} parts", parts.len());
    let mut concat = Vec::new();
    for p in &parts {
        if let PackagerEvent::Part { data, .. } = p {
            concat.extend_from_slice(data);
        }
    }
    assert_eq!(concat, fs::read(root.join("540p/seg_00001.m4s")).unwrap());
    assert!(matches!(
        parts[0],
        PackagerEvent::Part {
            index: 0,
            independent: true,
            ..
        }
    ));

    let master = read(&root.join("master.m3u8"));
    assert!(master.contains("RESOLUTION=960x540") && master.contains("RESOLUTION=640x360"));
    assert_eq!(run.status.state, LiveState::Finished);
    assert_eq!(run.status.segments_written, 5);
    assert!(
        (20.0..40.0).contains(&run.status.incoming_fps),
        "{:?}",
        run.status
    );
    assert!(
        run.status.incoming_bitrate_bps > 500_000,
        "{:?}",
        run.status
    );
    assert_eq!(run.status.keyframe_interval_s, Some(2.0));
    assert!(run
        .events
        .iter()
        .any(|e| matches!(e, PackagerEvent::Finished { segments: 5, .. })));
}

#[test]
fn mpegts_h264_is_packaged_with_arrival_times_as_pdt() {
    let clips = clips();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let opts = PackagerOptions {
        window: None,
        lag_guard: None,
        ..PackagerOptions::default()
    };
    let run = synthetic_run(&clips.ts, InputFormat::MpegTs, opts, t0);
    run.result.as_ref().unwrap();
    eprintln!("ts: packaged in {:?}", run.took);
    let seq = check_outputs(&run, &["540p", "360p"], true);
    assert_eq!(seq.len(), 5);
    let root = run.dir.path();
    // PDT = synthetic arrival (t0 + 1 µs per byte): within the file's byte span of t0.
    let size = fs::metadata(&clips.ts).unwrap().len();
    let first = pdts(&read(&root.join("540p/index.m3u8")))[0];
    let t0 = chrono::DateTime::<chrono::Utc>::from(t0);
    assert!(first >= t0 && first <= t0 + chrono::Duration::microseconds(size as i64));
    // The Annex B source still gives the init segment an avcC (CODECS in the master).
    let init = fs::read(root.join("540p/init.mp4")).unwrap();
    assert!(playlist::avc_codec_string(&init).is_some());
    // Top rung is the copied source: same codec, size and frame count.
    let uris = segment_uris(&read(&root.join("540p/vod.m3u8")));
    let (codec, w, h, frames, _) = probe(&joined(&root.join("540p"), &uris, "top.mp4"));
    let (scodec, sw, sh, sframes, _) = probe(&clips.ts);
    assert_eq!((codec, w, h, frames), (scodec, sw, sh, sframes));
}

#[test]
fn a_non_h264_source_gets_a_reencoded_top_rung() {
    let clips = clips();
    let opts = PackagerOptions {
        lag_guard: None,
        ..PackagerOptions::default()
    };
    let run = file_run(&clips.mpeg2, InputFormat::MpegTs, opts);
    let summary = run.result.as_ref().unwrap();
    eprintln!("mpeg2: packaged in {:?}", run.took);
    assert!(summary.renditions.iter().all(|r| !r.passthrough));
    assert!(
        matches!(run.events.first(), Some(PackagerEvent::Started { passthrough: false, video_codec, .. }) if video_codec == "mpeg2video")
    );
    let seq = check_outputs(&run, &["540p", "360p"], true);
    assert_eq!(seq.len(), 3);
    let root = run.dir.path();
    let uris = segment_uris(&read(&root.join("540p/vod.m3u8")));
    let (codec, w, h, frames, _) = probe(&joined(&root.join("540p"), &uris, "top.mp4"));
    assert_eq!((codec.as_str(), w, h), ("h264", 960, 540));
    assert!(frames >= 170, "{frames}");
}

#[test]
fn falling_behind_drops_the_lowest_rung_first() {
    let clips = clips();
    let opts = PackagerOptions {
        ladder: vec![360, 240],
        lag_guard: Some(LagGuard {
            threshold: Duration::from_secs(1),
            sustain: Duration::ZERO,
        }),
        ..PackagerOptions::default()
    };
    // Every byte "arrived" a minute ago: the packager is far behind.
    let ago = SystemTime::now() - Duration::from_secs(60);
    let run = synthetic_run(&clips.flv, InputFormat::Flv, opts, ago);
    let summary = run.result.as_ref().unwrap();
    let dropped: Vec<&str> = run
        .events
        .iter()
        .filter_map(|e| match e {
            PackagerEvent::RungDropped { rendition, lag_ms } => {
                assert!(*lag_ms >= 59_000);
                Some(rendition.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(dropped, ["240p", "360p"], "lowest first, never the top");
    let active: HashMap<&str, bool> = summary
        .renditions
        .iter()
        .map(|r| (r.name.as_str(), r.active))
        .collect();
    assert!(active["540p"]);
    assert!(!active["240p"]);
    let root = run.dir.path();
    assert!(read(&root.join("240p/index.m3u8")).ends_with("#EXT-X-ENDLIST\n"));
    assert_eq!(extinfs(&read(&root.join("540p/vod.m3u8"))).len(), 5);
    let master = read(&root.join("master.m3u8"));
    assert!(
        master.contains("540p/index.m3u8") && !master.contains("240p") && !master.contains("360p")
    );
    assert!(
        !run.status
            .renditions
            .iter()
            .find(|r| r.name == "360p")
            .unwrap()
            .active
    );
}

#[test]
fn garbage_and_empty_input_are_clear_errors() {
    let mut noise = vec![0u8; 256 * 1024];
    let mut x: u32 = 12345;
    for b in &mut noise {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    for format in [InputFormat::Flv, InputFormat::MpegTs] {
        for input in [
            noise.clone(),
            Vec::new(),
            b"FLV\x01\x05\0\0\0\x09garbage".to_vec(),
        ] {
            let log = ArrivalLog::new();
            let reader = TimedReader::new(std::io::Cursor::new(input), log.clone());
            let run = package(reader, format, log, PackagerOptions::default());
            let err = run.result.unwrap_err();
            assert!(
                matches!(
                    err,
                    PackagerError::Open { .. } | PackagerError::NoVideo | PackagerError::NoKeyframe
                ),
                "{format:?}: {err:?}"
            );
            assert!(!err.to_string().is_empty());
            assert_eq!(run.status.state, LiveState::Failed);
        }
    }
}

#[test]
fn cancellation_and_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let packager = LivePackager::new(dir.path(), PackagerOptions::default()).unwrap();
    packager.cancel_flag().store(true, Ordering::Relaxed);
    let log = ArrivalLog::new();
    let reader = TimedReader::new(fs::File::open(&clips().flv).unwrap(), log.clone());
    let err = packager
        .run(reader, InputFormat::Flv, log, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, PackagerError::Cancelled), "{err:?}");
    for bad in [
        PackagerOptions {
            window: Some(0),
            ..PackagerOptions::default()
        },
        PackagerOptions {
            ladder: vec![1],
            ..PackagerOptions::default()
        },
        PackagerOptions {
            part_target: Some(Duration::from_secs(3)),
            ..PackagerOptions::default()
        },
    ] {
        assert!(matches!(
            LivePackager::new(dir.path(), bad),
            Err(PackagerError::InvalidOptions(_))
        ));
    }
}
