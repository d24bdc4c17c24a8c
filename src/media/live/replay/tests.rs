//! The replay from real packager output: clips made with the ffmpeg CLI, packaged through a
//! [`JournalTee`] as a live would be, then made into a replay.

use super::period::{parse_master, parse_media_playlist, tkhd_size};
use super::*;
use crate::media::live::journal::JournalTee;
use crate::media::live::packager::{ArrivalLog, LivePackager, TimedReader};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

fn ffmpeg(args: &[&str]) -> std::process::Output {
    Command::new("nice")
        .args(["-n", "10", "ffmpeg", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs")
}

fn options() -> PackagerOptions {
    PackagerOptions {
        // 640x360 source: the copied 360p top rung and one encoded rung.
        ladder: vec![240],
        lag_guard: None,
        threads: 1,
        ..PackagerOptions::default()
    }
}

/// The arrival clock of period `p`: one microsecond per byte from a start of its own.
fn clock(p: u64) -> impl Fn(u64) -> SystemTime + Send + Sync + Copy + 'static {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 100 * p);
    move |offset| t0 + Duration::from_micros(offset)
}

/// Two lives packaged once per test process: `period0` (6 s) and `period1` (4 s), each with
/// its finished packager output and its journal.
struct Periods {
    dir: tempfile::TempDir,
}

impl Periods {
    fn path(&self, p: usize) -> PathBuf {
        self.dir.path().join(format!("period{p}"))
    }
}

fn periods() -> &'static Periods {
    static PERIODS: OnceLock<Periods> = OnceLock::new();
    PERIODS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for (p, seconds) in [(0u64, "6"), (1, "4")] {
            let clip = dir.path().join(format!("clip{p}.flv"));
            let out = ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=30",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                seconds,
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
                "600k",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-f",
                "flv",
                clip.to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let period = dir.path().join(format!("period{p}"));
            package_live(&clip, &period, p);
        }
        Periods { dir }
    })
}

/// Package `clip` into `period` the way the live does: reader → journal → timed reader.
fn package_live(clip: &Path, period: &Path, p: u64) {
    let tee = JournalTee::create(
        period,
        InputFormat::Flv,
        fs::File::open(clip).unwrap(),
        clock(p),
    )
    .unwrap();
    let log = ArrivalLog::new();
    let reader = TimedReader::with_clock(tee, log.clone(), clock(p));
    LivePackager::new(period, options())
        .unwrap()
        .run(reader, InputFormat::Flv, log, &mut |_| {})
        .unwrap();
}

fn source(dir: &Path) -> PeriodSource {
    PeriodSource {
        dir: dir.to_path_buf(),
        format: InputFormat::Flv,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lines_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn durations(playlist: &str) -> Vec<f64> {
    parse_media_playlist(playlist)
        .into_iter()
        .map(|(d, _, _)| d)
        .collect()
}

/// ffmpeg decodes all of it, audio and video, from the master playlist.
fn assert_plays(master: &Path) {
    let out = ffmpeg(&[
        "-i",
        master.to_str().unwrap(),
        "-map",
        "0",
        "-f",
        "null",
        "-",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build(periods: &[PeriodSource], staging: &Path) -> Result<Replay, ReplayError> {
    build_replay(periods, staging, &options(), &AtomicBool::new(false))
}

#[test]
fn two_periods_make_one_replay_with_every_rung() {
    let fixture = periods();
    let staging = tempfile::tempdir().unwrap();
    let sources = [source(&fixture.path(0)), source(&fixture.path(1))];
    let replay = build(&sources, staging.path()).unwrap();
    assert!(replay.warnings.is_empty(), "{:?}", replay.warnings);
    assert!(!replay.audio_only);
    let names: Vec<&str> = replay.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["360p", "240p"]);
    assert_eq!(
        (replay.renditions[0].width, replay.renditions[0].height),
        (640, 360)
    );
    assert!(replay.renditions.iter().all(|r| r.bandwidth > 50_000));
    let audio = replay.audio.as_ref().unwrap();
    assert_eq!((audio.name.as_str(), audio.width), ("audio", 0));
    assert!(
        (replay.duration_s - 10.0).abs() < 0.1,
        "{}",
        replay.duration_s
    );

    let root = staging.path();
    let mut video_extinfs = Vec::new();
    for name in ["360p", "240p", "audio"] {
        let text = read(&root.join(name).join(PLAYLIST));
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"), "{name}");
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{name}");
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{name}");
        assert_eq!(
            lines_with(&text, "#EXT-X-MAP:"),
            [
                "#EXT-X-MAP:URI=\"init_0.mp4\"",
                "#EXT-X-MAP:URI=\"init_1.mp4\""
            ]
        );
        // The discontinuity comes right before the second period's map.
        assert!(text.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_1.mp4\"\n"));
        let segments = parse_media_playlist(&text);
        assert!(segments.len() >= 5, "{name}: {text}");
        for (_, uri, pdt) in &segments {
            let file = root.join(name).join(uri);
            assert!(file.is_file(), "{}", file.display());
            assert!(pdt.is_some(), "{name}: PDT kept");
            // A hard link to the live's file, not a copy.
            assert!(fs::metadata(&file).unwrap().nlink() >= 2);
        }
        let expected_segments: usize = [0, 1]
            .iter()
            .map(|p| {
                parse_media_playlist(&read(&fixture.path(*p).join(name).join("vod.m3u8"))).len()
            })
            .sum();
        assert_eq!(segments.len(), expected_segments, "{name}");
        let total: f64 = durations(&text).iter().sum();
        assert!((total - 10.0).abs() < 0.2, "{name}: {total}");
        let target: f64 = lines_with(&text, "#EXT-X-TARGETDURATION:")[0]
            ["#EXT-X-TARGETDURATION:".len()..]
            .parse()
            .unwrap();
        assert!(durations(&text).iter().all(|d| d.round() <= target));
        if name != "audio" {
            video_extinfs.push(lines_with(&text, "#EXTINF:").join("\n"));
        }
    }
    assert_eq!(
        video_extinfs[0], video_extinfs[1],
        "identical video EXTINFs"
    );

    let master = read(&root.join(MASTER));
    assert!(master.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\""));
    assert!(master.contains("URI=\"audio/index.m3u8\""));
    let listed = parse_master(&master);
    assert_eq!(listed.len(), 2, "{master}");
    assert_eq!(
        (listed[0].name.as_str(), listed[0].width, listed[0].height),
        ("360p", 640, 360)
    );
    assert_eq!(listed[1].name, "240p");
    assert!(listed.iter().all(|v| (v.frame_rate - 30.0).abs() < 0.01));
    assert!(master.contains(",mp4a.40.2\",AUDIO=\"aac\"\n360p/index.m3u8\n"));
    assert!(master.contains("CODECS=\"avc1."));
    assert!(master.contains(&format!(
        "BANDWIDTH={}",
        replay.renditions[0].bandwidth + audio.bandwidth
    )));

    // The poster is a JPEG of the top rung's size that decodes.
    let poster = root.join(POSTER);
    let jpeg = fs::read(&poster).unwrap();
    assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&poster)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mjpeg,640,360");

    assert_plays(&root.join(MASTER));
}

#[test]
fn a_period_the_server_died_in_is_packaged_again_from_its_journal() {
    let fixture = periods();
    let work = tempfile::tempdir().unwrap();
    let crashed = work.path().join("period0");
    copy_dir(&fixture.path(0), &crashed);
    // What the packager left when the server was killed: no VOD playlists, no final master,
    // and the last segments not yet written.
    let original = read(&fixture.path(0).join("360p").join("vod.m3u8"));
    fs::remove_file(crashed.join("master_vod.m3u8")).unwrap();
    for name in ["360p", "240p", "audio"] {
        let dir = crashed.join(name);
        fs::remove_file(dir.join("vod.m3u8")).unwrap();
        for (_, uri, _) in parse_media_playlist(&read(&dir.join("index.m3u8")))
            .iter()
            .skip(1)
        {
            fs::remove_file(dir.join(uri)).unwrap();
        }
    }

    let staging = work.path().join("staging");
    let replay = build(&[source(&crashed)], &staging).unwrap();
    assert!(crashed
        .join(RECOVERED_DIR)
        .join("master_vod.m3u8")
        .is_file());
    assert!(
        replay.warnings.iter().any(|w| w.contains("recovered")),
        "{:?}",
        replay.warnings
    );
    let names: Vec<&str> = replay.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["360p", "240p"]);
    assert!(replay.audio.is_some());
    // The full duration, within a segment.
    let full: f64 = durations(&original).iter().sum();
    assert!(
        (replay.duration_s - full).abs() < 2.0,
        "{} vs {full}",
        replay.duration_s
    );
    assert!(
        (replay.duration_s - 6.0).abs() < 0.1,
        "{}",
        replay.duration_s
    );

    // PROGRAM-DATE-TIMEs from the journal's arrival times: the same as the live's.
    let top = read(&staging.join("360p").join(PLAYLIST));
    let recovered: Vec<_> = parse_media_playlist(&top)
        .into_iter()
        .map(|(_, _, t)| t)
        .collect();
    let live: Vec<_> = parse_media_playlist(&original)
        .into_iter()
        .map(|(_, _, t)| t)
        .collect();
    assert_eq!(recovered, live);
    assert!(recovered[0]
        .as_deref()
        .is_some_and(|t| t.starts_with("2023-11-14T22:13:20")));
    assert_plays(&staging.join(MASTER));

    // A second attempt (the archive job retried) reuses the recovered output.
    let again = build(&[source(&crashed)], &staging).unwrap();
    assert_eq!(again.renditions, replay.renditions);
}

#[test]
fn periods_with_nothing_usable_are_left_out() {
    let fixture = periods();
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let garbage = work.path().join("garbage");
    let mut tee = JournalTee::create(
        &garbage,
        InputFormat::Flv,
        &b"this is not an FLV stream at all"[..],
        clock(9),
    )
    .unwrap();
    std::io::copy(&mut tee, &mut std::io::sink()).unwrap();
    drop(tee);

    let foreign = work.path().join("foreign");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("ingest.flv"), b"FLV").unwrap();
    fs::write(foreign.join("ingest.arrivals"), b"not an arrival log").unwrap();

    let staging = work.path().join("staging");
    let replay = build(
        &[
            source(&empty),
            source(&fixture.path(1)),
            source(&garbage),
            source(&foreign),
        ],
        &staging,
    )
    .unwrap();
    assert!(
        replay.warnings[2].starts_with("period 3: the journal could not be read"),
        "{:?}",
        replay.warnings
    );
    assert!(
        replay.warnings[0].starts_with("period 0: no finished output and no journal"),
        "{:?}",
        replay.warnings
    );
    assert!(
        replay.warnings[1].starts_with("period 2: the journal could not be packaged again"),
        "{:?}",
        replay.warnings
    );
    assert!((replay.duration_s - 4.0).abs() < 0.1);
    let top = read(&staging.join("360p").join(PLAYLIST));
    assert!(!top.contains("DISCONTINUITY"));
    assert_eq!(
        lines_with(&top, "#EXT-X-MAP:"),
        ["#EXT-X-MAP:URI=\"init_1.mp4\""]
    );

    let nothing = build(&[source(&empty), source(&garbage)], &work.path().join("s2"));
    assert!(matches!(nothing, Err(ReplayError::Empty)), "{nothing:?}");
    assert!(matches!(
        build(&[], &work.path().join("s3")),
        Err(ReplayError::Empty)
    ));
}

#[test]
fn a_rung_the_real_time_guard_stopped_is_left_out() {
    let fixture = periods();
    let work = tempfile::tempdir().unwrap();
    let dropped = work.path().join("period0");
    copy_dir(&fixture.path(0), &dropped);
    // As the guard leaves it: the rung's playlists end after its first segment and the
    // master no longer lists it.
    let vod = dropped.join("240p").join("vod.m3u8");
    let text = read(&vod);
    let cut = text.find("seg_00000.m4s\n").unwrap() + "seg_00000.m4s\n".len();
    fs::write(&vod, format!("{}#EXT-X-ENDLIST\n", &text[..cut])).unwrap();
    let master = read(&dropped.join("master_vod.m3u8"));
    let kept: Vec<&str> = master.lines().collect();
    let at = kept.iter().position(|l| *l == "240p/vod.m3u8").unwrap();
    let without = [&kept[..at - 1], &kept[at + 1..]].concat().join("\n");
    fs::write(dropped.join("master_vod.m3u8"), without).unwrap();

    let staging = work.path().join("staging");
    let replay = build(&[source(&dropped)], &staging).unwrap();
    let names: Vec<&str> = replay.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["360p"]);
    assert!(
        replay
            .warnings
            .iter()
            .any(|w| w.starts_with("rendition 240p is")),
        "{:?}",
        replay.warnings
    );
    assert!(!read(&staging.join(MASTER)).contains("240p"));
}

#[test]
fn cancellation_stops_the_build() {
    let fixture = periods();
    let work = tempfile::tempdir().unwrap();
    let staging = work.path().join("staging");
    let result = build_replay(
        &[source(&fixture.path(0))],
        &staging,
        &options(),
        &AtomicBool::new(true),
    );
    assert!(matches!(result, Err(ReplayError::Cancelled)), "{result:?}");

    // Cancelled while a journal is being packaged again.
    let crashed = work.path().join("period0");
    copy_dir(&fixture.path(0), &crashed);
    fs::remove_file(crashed.join("master_vod.m3u8")).unwrap();
    let cancel = AtomicBool::new(false);
    let first = crashed
        .join(RECOVERED_DIR)
        .join("360p")
        .join("seg_00000.m4s");
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let start = std::time::Instant::now();
            while !first.exists() && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(2));
            }
            cancel.store(true, Ordering::Relaxed);
        });
        build_replay(&[source(&crashed)], &staging, &options(), &cancel)
    });
    assert!(matches!(result, Err(ReplayError::Cancelled)), "{result:?}");
    assert!(!staging.join(MASTER).exists());
}

#[test]
fn playlist_parsing_and_init_sizes() {
    let master = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"audio/vod.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720,FRAME-RATE=29.970,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aac\"\n\
720p/vod.m3u8\n";
    let v = parse_master(master);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].name.as_str(), v[0].width, v[0].height),
        ("720p", 1280, 720)
    );
    assert!((v[0].frame_rate - 29.97).abs() < 1e-9);
    let media =
        "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2023-01-01T00:00:00.000Z\n\
#EXTINF:2.000,\nseg_00000.m4s\n#EXTINF:1.5,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
    assert_eq!(
        parse_media_playlist(media),
        vec![
            (
                2.0,
                "seg_00000.m4s".into(),
                Some("2023-01-01T00:00:00.000Z".into())
            ),
            (1.5, "seg_00001.m4s".into(), None)
        ]
    );
    let init = fs::read(periods().path(0).join("240p").join("init.mp4")).unwrap();
    assert_eq!(tkhd_size(&init), Some((426, 240)));
    assert_eq!(tkhd_size(b"no boxes here"), None);
}
