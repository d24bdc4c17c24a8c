//! The hub fed with synthetic packager events (segment files in a tempdir), and one real run
//! of the live packager on a short lavfi clip.

use super::*;
use chrono::TimeZone;
use std::fs;
use std::path::Path;

const T0: i64 = 1_700_000_000;

fn plain(window: usize) -> HubOptions {
    HubOptions {
        window,
        segment_target: Duration::from_secs(2),
        part_target: None,
    }
}

fn ll(window: usize, part_ms: u64) -> HubOptions {
    HubOptions {
        window,
        segment_target: Duration::from_secs(2),
        part_target: Some(Duration::from_millis(part_ms)),
    }
}

fn at(s: f64) -> DateTime<Utc> {
    Utc.timestamp_opt(T0, 0).unwrap() + chrono::Duration::microseconds((s * 1e6).round() as i64)
}

fn started(renditions: &[&str]) -> PackagerEvent {
    PackagerEvent::Started {
        format: crate::media::live::packager::InputFormat::Flv,
        video_codec: "h264".into(),
        width: 640,
        height: 360,
        renditions: renditions.iter().map(|r| r.to_string()).collect(),
        passthrough: true,
    }
}

fn part(rendition: &str, segment: u64, index: u32, data: &[u8]) -> PackagerEvent {
    PackagerEvent::Part {
        rendition: rendition.into(),
        segment,
        index,
        duration_s: 0.5,
        independent: index == 0,
        data: Arc::from(data),
    }
}

/// A segment file as the packager names it, and its event.
fn segment(dir: &Path, rendition: &str, seq: u64, pdt_s: f64, duration_s: f64) -> PackagerEvent {
    let folder = dir.join(rendition);
    fs::create_dir_all(&folder).unwrap();
    let path = folder.join(format!("seg_{seq:05}.m4s"));
    fs::write(&path, format!("{rendition} {seq}")).unwrap();
    PackagerEvent::Segment {
        rendition: rendition.into(),
        seq,
        duration_s,
        program_date_time: at(pdt_s),
        bytes: 8,
        path,
    }
}

/// A hub with one started period of `renditions` in a tempdir.
fn hub_with(options: HubOptions, renditions: &[&str]) -> (LiveHub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let hub = LiveHub::new(options);
    let p = hub.begin_period(dir.path().join("p0"));
    assert_eq!(p, 0);
    hub.apply(p, &started(renditions));
    (hub, dir)
}

async fn playlist(hub: &LiveHub, rendition: &str) -> String {
    hub.media_playlist(rendition, None, None).await.unwrap()
}

/// Paused tokio time jumps to a timer's deadline, rounded up to the timer wheel's millisecond.
fn assert_near(elapsed: Duration, want: Duration) {
    assert!(
        elapsed >= want && elapsed < want + Duration::from_millis(3),
        "{elapsed:?} != {want:?}"
    );
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[tokio::test]
async fn plain_playlist_slides_its_window_and_never_shrinks_target_duration() {
    let (hub, dir) = hub_with(plain(3), &["360p", "audio"]);
    let p0 = dir.path().join("p0");
    let text = playlist(&hub, "360p").await;
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    let durations = [2.0, 3.4, 2.0, 2.0, 2.0];
    let mut t = 0.0;
    for (seq, d) in durations.iter().enumerate() {
        hub.apply(0, &segment(&p0, "360p", seq as u64, t, *d));
        t += d;
    }
    let text = playlist(&hub, "360p").await;
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:2\n\
#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init_0.mp4\"\n\
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:25.400Z\n#EXTINF:2.000,\nseg_2.m4s\n\
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:27.400Z\n#EXTINF:2.000,\nseg_3.m4s\n\
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:29.400Z\n#EXTINF:2.000,\nseg_4.m4s\n"
    );
    // The 3.4 s segment slid out, TARGETDURATION stays 3; other renditions are independent.
    assert!(!text.contains("PART") && !text.contains("ENDLIST"));
    assert!(!playlist(&hub, "audio").await.contains("#EXTINF"));
    assert_eq!(
        hub.media_playlist("1080p", None, None).await,
        Err(PlaylistError::NotFound)
    );
    assert!((hub.duration_s() - 11.4).abs() < 1e-9);
}

#[tokio::test]
async fn ll_playlist_lists_recent_parts_the_open_segment_and_a_preload_hint() {
    let (hub, dir) = hub_with(ll(6, 500), &["360p", "audio"]);
    let p0 = dir.path().join("p0");
    for seq in 0..4u64 {
        for i in 0..4 {
            hub.apply(0, &part("360p", seq, i, &[seq as u8, i as u8]));
        }
        hub.apply(0, &segment(&p0, "360p", seq, 2.0 * seq as f64, 2.0));
    }
    hub.apply(0, &part("360p", 4, 0, b"open0"));
    hub.apply(0, &part("360p", 4, 1, b"open1"));
    let text = playlist(&hub, "360p").await;
    let head = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n\
#EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n\
#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init_0.mp4\"\n";
    assert!(text.starts_with(head), "{text}");
    // Parts of the last two complete segments and of the open one, none of older segments.
    assert!(!text.contains("part_1_"));
    assert!(text.contains(
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.000Z\n\
#EXT-X-PART:DURATION=0.500,URI=\"part_3_0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PART:DURATION=0.500,URI=\"part_3_1.m4s\"\n\
#EXT-X-PART:DURATION=0.500,URI=\"part_3_2.m4s\"\n\
#EXT-X-PART:DURATION=0.500,URI=\"part_3_3.m4s\"\n#EXTINF:2.000,\nseg_3.m4s\n"
    ));
    assert_eq!(count(&text, "URI=\"part_2_"), 4);
    assert!(text.ends_with(
        "seg_3.m4s\n\
#EXT-X-PART:DURATION=0.500,URI=\"part_4_0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PART:DURATION=0.500,URI=\"part_4_1.m4s\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_4_2.m4s\"\n"
    ));
    assert_eq!(count(&text, "#EXTINF"), 4);
}

#[tokio::test]
async fn a_reconnect_continues_the_sequence_after_a_discontinuity() {
    let (hub, dir) = hub_with(plain(3), &["360p", "audio"]);
    let p0 = dir.path().join("p0");
    for seq in 0..3 {
        hub.apply(0, &segment(&p0, "360p", seq, 2.0 * seq as f64, 2.0));
    }
    let p1_dir = dir.path().join("p1");
    let p1 = hub.begin_period(p1_dir.clone());
    assert_eq!(p1, 1);
    hub.apply(p1, &started(&["360p", "audio"]));
    // A late event of the old period is not listed out of order.
    hub.apply(0, &segment(&p0, "360p", 3, 6.0, 2.0));
    hub.apply(p1, &segment(&p1_dir, "360p", 0, 100.0, 2.0));
    let text = playlist(&hub, "360p").await;
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
    assert!(text.contains(
        "seg_2.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_1.mp4\"\n\
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:15:00.000Z\n#EXTINF:2.000,\nseg_3.m4s\n"
    ));
    assert!(matches!(hub.file("360p", "seg_3.m4s"),
        Some(HubFile::Disk(p)) if p == p1_dir.join("360p/seg_00000.m4s")));
    for seq in 1..3 {
        hub.apply(
            p1,
            &segment(&p1_dir, "360p", seq, 100.0 + 2.0 * seq as f64, 2.0),
        );
    }
    // Period 0 slid out: its discontinuity is counted, no tag or old MAP is left.
    let text = playlist(&hub, "360p").await;
    assert!(text.contains(
        "#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n\
#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init_1.mp4\"\n"
    ));
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n") && !text.contains("init_0"));
    assert!(text.ends_with("seg_5.m4s\n"));
}

#[tokio::test]
async fn a_rendition_left_out_of_a_new_period_or_dropped_ends_and_end_ends_all() {
    let (hub, dir) = hub_with(ll(6, 500), &["720p", "360p", "audio"]);
    let p0 = dir.path().join("p0");
    for r in ["720p", "360p", "audio"] {
        hub.apply(0, &part(r, 0, 0, b"x"));
        hub.apply(0, &segment(&p0, r, 0, 0.0, 2.0));
        hub.apply(0, &part(r, 1, 0, b"y"));
    }
    hub.apply(
        0,
        &PackagerEvent::RungDropped {
            rendition: "360p".into(),
            lag_ms: 2000,
        },
    );
    let dropped = playlist(&hub, "360p").await;
    assert!(
        dropped.ends_with("seg_0.m4s\n#EXT-X-ENDLIST\n"),
        "{dropped}"
    );
    assert!(!dropped.contains("PRELOAD-HINT") && !dropped.contains("part_1_0"));
    // Blocked reloads of an ended playlist return at once.
    assert_eq!(hub.media_playlist("360p", Some(5), None).await, Ok(dropped));
    assert!(!playlist(&hub, "720p").await.contains("ENDLIST"));

    // The reconnected source is smaller: 720p is not in the new period.
    let p1 = hub.begin_period(dir.path().join("p1"));
    hub.apply(p1, &started(&["360p", "audio"]));
    assert!(playlist(&hub, "720p").await.ends_with("#EXT-X-ENDLIST\n"));
    let back = playlist(&hub, "360p").await;
    assert!(
        !back.contains("ENDLIST"),
        "a rung dropped in period 0 is back in period 1"
    );
    assert!(back.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_1_0.m4s\""));

    assert!(!hub.is_ended());
    hub.end();
    assert!(hub.is_ended());
    for r in ["720p", "360p", "audio"] {
        let text = playlist(&hub, r).await;
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{r}: {text}");
        assert!(!text.contains("PRELOAD-HINT"));
    }
    assert!(hub.media_playlist("audio", Some(1), Some(3)).await.is_ok());
}

#[tokio::test]
async fn files_map_to_disk_or_memory_and_nothing_else() {
    let (hub, dir) = hub_with(ll(6, 500), &["360p", "audio"]);
    let p0 = dir.path().join("p0");
    hub.apply(0, &part("360p", 0, 0, b"first"));
    hub.apply(0, &part("360p", 0, 1, b"second"));
    hub.apply(0, &segment(&p0, "360p", 0, 0.0, 2.0));
    hub.apply(0, &part("360p", 1, 0, b"open"));
    let memory = |r: &str, n: &str| match hub.file(r, n) {
        Some(HubFile::Memory(b)) => Some(b.to_vec()),
        _ => None,
    };
    let disk = |r: &str, n: &str| match hub.file(r, n) {
        Some(HubFile::Disk(p)) => Some(p),
        _ => None,
    };
    assert_eq!(disk("360p", "init_0.mp4"), Some(p0.join("360p/init.mp4")));
    assert_eq!(disk("audio", "init_0.mp4"), Some(p0.join("audio/init.mp4")));
    assert_eq!(
        disk("360p", "seg_0.m4s"),
        Some(p0.join("360p/seg_00000.m4s"))
    );
    assert_eq!(memory("360p", "part_0_1.m4s"), Some(b"second".to_vec()));
    assert_eq!(memory("360p", "part_1_0.m4s"), Some(b"open".to_vec()));
    for name in [
        "seg_1.m4s",
        "seg_00000.m4s",
        "seg_00.m4s",
        "seg_+0.m4s",
        "seg_-0.m4s",
        "seg_0.m4s/../../etc/passwd",
        "../seg_0.m4s",
        "seg_0.mp4",
        "init_1.mp4",
        "init_00.mp4",
        "init_4294967296.mp4",
        "part_0_2.m4s",
        "part_0.m4s",
        "part_0_1_2.m4s",
        "part_0_x.m4s",
        "index.m3u8",
        "master.m3u8",
        "init.mp4",
        "",
        "seg_99999999999999999999999.m4s",
    ] {
        assert!(hub.file("360p", name).is_none(), "{name}");
    }
    assert!(hub.file("../360p", "seg_0.m4s").is_none());
    assert!(hub.file("1080p", "init_0.mp4").is_none());
}

#[tokio::test]
async fn part_memory_stays_bounded() {
    let (hub, dir) = hub_with(ll(6, 500), &["360p"]);
    let p0 = dir.path().join("p0");
    let chunk = vec![7u8; 1000];
    for seq in 0..200u64 {
        for i in 0..4 {
            hub.apply(0, &part("360p", seq, i, &chunk));
        }
        hub.apply(0, &segment(&p0, "360p", seq, 2.0 * seq as f64, 2.0));
        assert!(hub.held_part_bytes() <= (HELD_COMPLETE_SEGMENTS as u64 + 1) * 4 * 1000);
    }
    assert_eq!(
        hub.held_part_bytes(),
        HELD_COMPLETE_SEGMENTS as u64 * 4 * 1000
    );
    assert!(hub.file("360p", "part_0_0.m4s").is_none());
    assert!(hub.file("360p", "part_199_3.m4s").is_some());
    let oldest = 200 - HELD_COMPLETE_SEGMENTS as u64;
    assert!(hub.file("360p", &format!("part_{oldest}_0.m4s")).is_some());
    assert!(hub
        .file("360p", &format!("part_{}_0.m4s", oldest - 1))
        .is_none());
    // Segments stay served from disk.
    assert!(hub.file("360p", "seg_0.m4s").is_some());
}

#[tokio::test]
async fn plain_hub_ignores_parts() {
    let (hub, dir) = hub_with(plain(6), &["360p"]);
    hub.apply(0, &part("360p", 0, 0, b"x"));
    hub.apply(0, &segment(&dir.path().join("p0"), "360p", 0, 0.0, 2.0));
    assert_eq!(hub.held_part_bytes(), 0);
    assert!(hub.file("360p", "part_0_0.m4s").is_none());
    assert!(!playlist(&hub, "360p").await.contains("PART"));
}

#[test]
fn positions_follow_the_top_rendition_with_periods_back_to_back() {
    let (hub, dir) = hub_with(plain(6), &["720p", "360p", "audio"]);
    let p0 = dir.path().join("p0");
    assert_eq!(hub.position_at(at(0.0)), None);
    // Period 0: 0..4 s of wall clock, with 0.1 s of arrival jitter before segment 1.
    hub.apply(0, &segment(&p0, "720p", 0, 0.0, 2.0));
    hub.apply(0, &segment(&p0, "720p", 1, 2.1, 2.0));
    // Lower rungs and audio do not count twice.
    hub.apply(0, &segment(&p0, "360p", 0, 0.0, 2.0));
    hub.apply(0, &segment(&p0, "audio", 0, 0.0, 2.02));
    // Period 1 after a 60 s gap, its top rung is smaller.
    let p1_dir = dir.path().join("p1");
    let p1 = hub.begin_period(p1_dir.clone());
    hub.apply(p1, &started(&["360p", "audio"]));
    hub.apply(p1, &segment(&p1_dir, "360p", 0, 64.1, 2.0));
    hub.apply(p1, &segment(&p1_dir, "360p", 1, 66.1, 1.5));
    let close = |t: f64, want: Option<f64>| {
        let got = hub.position_at(at(t));
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{t}: {g} != {w}"),
            _ => assert_eq!(got, want, "at {t}"),
        }
    };
    close(-0.5, None);
    close(0.0, Some(0.0));
    close(1.5, Some(1.5));
    close(2.05, Some(2.0)); // the jitter gap counts as the end of segment 0
    close(3.1, Some(3.0));
    close(4.1, Some(4.0));
    close(4.2, None);
    close(30.0, None);
    close(64.1, Some(4.0));
    close(67.1, Some(7.0));
    close(67.6, Some(7.5));
    close(67.7, None);
    assert!((hub.duration_s() - 7.5).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn a_blocked_reload_resolves_when_the_part_or_segment_arrives() {
    let (hub, dir) = hub_with(ll(6, 500), &["360p"]);
    let p0 = dir.path().join("p0");
    hub.apply(0, &part("360p", 0, 0, b"a"));
    // Already there: returns at once.
    let text = hub.media_playlist("360p", Some(0), Some(0)).await.unwrap();
    assert!(text.contains("part_0_0.m4s"));

    let waiting = tokio::spawn({
        let hub = hub.clone();
        async move { hub.media_playlist("360p", Some(0), Some(1)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    hub.apply(0, &part("360p", 0, 1, b"b"));
    let text = waiting.await.unwrap().unwrap();
    assert!(text.contains("URI=\"part_0_1.m4s\""));

    // Part 2 of segment 0 never comes: the segment completes with 2 parts, and the request
    // means part 0 of segment 1 (RFC 8216bis), as hls.js asks after a segment's last part.
    let waiting = tokio::spawn({
        let hub = hub.clone();
        async move { hub.media_playlist("360p", Some(0), Some(2)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    hub.apply(0, &segment(&p0, "360p", 0, 0.0, 1.0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    hub.apply(0, &part("360p", 1, 0, b"c"));
    let text = waiting.await.unwrap().unwrap();
    assert!(text.contains("seg_0.m4s") && text.contains("URI=\"part_1_0.m4s\""));

    // A whole segment (no part asked).
    let waiting = tokio::spawn({
        let hub = hub.clone();
        async move { hub.media_playlist("360p", Some(1), None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    hub.apply(0, &part("360p", 1, 1, b"d"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    hub.apply(0, &segment(&p0, "360p", 1, 1.0, 1.0));
    assert!(waiting.await.unwrap().unwrap().contains("seg_1.m4s"));

    // The live ends while a request waits: it returns the ended playlist.
    let waiting = tokio::spawn({
        let hub = hub.clone();
        async move { hub.media_playlist("360p", Some(2), Some(0)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    hub.end();
    assert!(waiting
        .await
        .unwrap()
        .unwrap()
        .ends_with("#EXT-X-ENDLIST\n"));
}

#[tokio::test(start_paused = true)]
async fn too_far_ahead_and_timeouts() {
    let (hub, dir) = hub_with(ll(6, 200), &["360p"]);
    let p0 = dir.path().join("p0");
    // Nothing complete yet: segments 0 and 1 may be waited for, 2 is too far.
    assert_eq!(
        hub.media_playlist("360p", Some(2), None).await,
        Err(PlaylistError::TooFarAhead)
    );
    hub.apply(0, &segment(&p0, "360p", 0, 0.0, 2.0));
    hub.apply(0, &segment(&p0, "360p", 1, 2.0, 2.0));
    assert_eq!(
        hub.media_playlist("360p", Some(4), Some(0)).await,
        Err(PlaylistError::TooFarAhead)
    );
    // Advance Part Limit: 3 / 0.2 s = 15 parts past the last one of the open segment.
    assert_eq!(
        hub.media_playlist("360p", Some(2), Some(16)).await,
        Err(PlaylistError::TooFarAhead)
    );
    // 3 part targets for a part, 3 segment targets for a segment.
    let start = tokio::time::Instant::now();
    assert_eq!(
        hub.media_playlist("360p", Some(3), Some(0)).await,
        Err(PlaylistError::Timeout)
    );
    assert_near(start.elapsed(), Duration::from_millis(600));
    let start = tokio::time::Instant::now();
    assert_eq!(
        hub.media_playlist("360p", Some(2), None).await,
        Err(PlaylistError::Timeout)
    );
    assert_near(start.elapsed(), Duration::from_secs(6));
    assert_eq!(
        hub.media_playlist("720p", Some(0), None).await,
        Err(PlaylistError::NotFound)
    );
}

#[tokio::test(start_paused = true)]
async fn a_hinted_part_can_be_waited_for() {
    let (hub, _dir) = hub_with(ll(6, 500), &["360p"]);
    hub.apply(0, &part("360p", 0, 0, b"a"));
    let waiting = tokio::spawn({
        let hub = hub.clone();
        async move { hub.wait_file("360p", "part_0_1.m4s").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    hub.apply(0, &part("360p", 0, 1, b"b"));
    match waiting.await.unwrap() {
        Some(HubFile::Memory(b)) => assert_eq!(&*b, b"b"),
        other => panic!("{other:?}"),
    }
    // Times out after 3 part targets; never waits for garbage or far-away parts.
    let start = tokio::time::Instant::now();
    assert!(hub.wait_file("360p", "part_0_2.m4s").await.is_none());
    assert_near(start.elapsed(), Duration::from_millis(1500));
    let start = tokio::time::Instant::now();
    assert!(hub.wait_file("360p", "part_9_0.m4s").await.is_none());
    assert!(hub.wait_file("360p", "part_0_x.m4s").await.is_none());
    assert!(hub.wait_file("360p", "seg_5.m4s").await.is_none());
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[test]
fn master_playlist_is_read_from_the_current_period() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LiveHub::new(HubOptions::default());
    assert_eq!(hub.master_playlist(), None);
    let p0 = dir.path().join("p0");
    fs::create_dir_all(&p0).unwrap();
    hub.begin_period(p0.clone());
    assert_eq!(hub.master_playlist(), None, "before Started");
    hub.apply(0, &started(&["360p", "audio"]));
    assert_eq!(hub.master_playlist(), None, "not written yet");
    fs::write(p0.join("master.m3u8"), "#EXTM3U\nA\n").unwrap();
    assert_eq!(hub.master_playlist().as_deref(), Some("#EXTM3U\nA\n"));
    // Cached: a rewrite is picked up after the event that announces it.
    fs::write(p0.join("master.m3u8"), "#EXTM3U\nB\n").unwrap();
    assert_eq!(hub.master_playlist().as_deref(), Some("#EXTM3U\nA\n"));
    hub.apply(
        0,
        &PackagerEvent::RungDropped {
            rendition: "360p".into(),
            lag_ms: 1600,
        },
    );
    assert_eq!(hub.master_playlist().as_deref(), Some("#EXTM3U\nB\n"));
    // A new period serves the old master until its own exists.
    let p1 = dir.path().join("p1");
    fs::create_dir_all(&p1).unwrap();
    hub.begin_period(p1.clone());
    hub.apply(1, &started(&["360p", "audio"]));
    assert_eq!(hub.master_playlist().as_deref(), Some("#EXTM3U\nB\n"));
    fs::write(p1.join("master.m3u8"), "#EXTM3U\nC\n").unwrap();
    assert_eq!(hub.master_playlist().as_deref(), Some("#EXTM3U\nC\n"));
}

#[test]
fn the_hub_is_shared_across_threads() {
    fn shared<T: Clone + Send + Sync + 'static>() {}
    shared::<LiveHub>();
}

mod real_run {
    use super::*;
    use crate::media::live::packager::{
        ArrivalLog, InputFormat, LivePackager, PackagerOptions, TimedReader,
    };
    use std::process::Command;

    /// 5 s of 640x360 30 fps H.264 (keyframe every second) + AAC as FLV.
    fn flv(dir: &Path) -> PathBuf {
        let path = dir.join("clip.flv");
        let status = Command::new("nice")
            .args(["-n", "10", "ffmpeg", "-nostdin", "-v", "error", "-y"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-t", "5", "-c:v", "libx264", "-preset", "veryfast"])
            .args(["-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30"])
            .args([
                "-sc_threshold",
                "0",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-f",
                "flv",
            ])
            .arg(&path)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success());
        path
    }

    fn run_period(hub: &LiveHub, clip: &Path, dir: PathBuf) -> Vec<PackagerEvent> {
        let period = hub.begin_period(dir.clone());
        let options = PackagerOptions {
            part_target: Some(Duration::from_millis(500)),
            lag_guard: None,
            ..PackagerOptions::default()
        };
        let packager = LivePackager::new(&dir, options).unwrap();
        let log = ArrivalLog::new();
        let reader = TimedReader::new(fs::File::open(clip).unwrap(), log.clone());
        let mut events = Vec::new();
        packager
            .run(reader, InputFormat::Flv, log, &mut |e| {
                hub.apply(period, &e);
                events.push(e);
            })
            .unwrap();
        events
    }

    /// The number after `key` in `text`.
    fn attribute(text: &str, key: &str) -> f64 {
        let at = text.find(key).expect(key) + key.len();
        let value: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        value.parse().unwrap()
    }

    #[tokio::test]
    async fn the_packager_feeds_an_ll_hls_hub() {
        let tmp = tempfile::tempdir().unwrap();
        let clip = flv(tmp.path());
        let hub = LiveHub::new(HubOptions::default());
        let events = tokio::task::spawn_blocking({
            let hub = hub.clone();
            let dir = tmp.path().join("p0");
            move || run_period(&hub, &clip, dir)
        })
        .await
        .unwrap();
        let master = hub.master_playlist().expect("a master playlist");
        assert!(master.contains("360p/index.m3u8") && master.contains("audio/index.m3u8"));

        let mut checked = 0;
        for rendition in ["360p", "audio"] {
            let segments: Vec<(u64, PathBuf)> = events
                .iter()
                .filter_map(|e| match e {
                    PackagerEvent::Segment {
                        rendition: r,
                        seq,
                        path,
                        ..
                    } if r == rendition => Some((*seq, path.clone())),
                    _ => None,
                })
                .collect();
            assert!(segments.len() >= 2, "{rendition}: {}", segments.len());
            for (msn, path) in &segments {
                // The hub's parts of the segments it still holds, concatenated, are the file.
                let mut joined = Vec::new();
                let mut index = 0;
                while let Some(HubFile::Memory(b)) =
                    hub.file(rendition, &format!("part_{msn}_{index}.m4s"))
                {
                    joined.extend_from_slice(&b);
                    index += 1;
                }
                if index > 0 {
                    assert_eq!(joined, fs::read(path).unwrap(), "{rendition} {msn}");
                    checked += 1;
                }
                assert!(matches!(hub.file(rendition, &format!("seg_{msn}.m4s")),
                    Some(HubFile::Disk(p)) if p == *path));
            }
            let text = hub.media_playlist(rendition, None, None).await.unwrap();
            if rendition != "audio" {
                assert!(text.contains("INDEPENDENT=YES"));
            }
            // No part is longer than PART-TARGET (AAC parts are 0.512 s for a 0.5 s target).
            let target = attribute(&text, "#EXT-X-PART-INF:PART-TARGET=");
            assert!(target >= 0.5, "{text}");
            let hold_back = attribute(&text, "PART-HOLD-BACK=");
            assert!((hold_back - 3.0 * target).abs() < 1e-9);
            for line in text.lines().filter(|l| l.starts_with("#EXT-X-PART:")) {
                assert!(attribute(line, "DURATION=") <= target, "{line} in {text}");
            }
            let (last, _) = segments.last().unwrap();
            assert!(
                text.contains(&format!("URI=\"part_{last}_0.m4s\"")),
                "{text}"
            );
            assert!(text.contains(&format!("seg_{last}.m4s")));
            match hub.file(rendition, "init_0.mp4") {
                Some(HubFile::Disk(p)) => assert!(p.is_file()),
                other => panic!("{other:?}"),
            }
        }
        assert!(checked >= 4, "parts checked for {checked} segments");
        let d = hub.duration_s();
        assert!((4.5..=5.5).contains(&d), "duration {d}");

        // The publisher reconnects: the sequence continues after a discontinuity.
        let before = hub.media_playlist("360p", None, None).await.unwrap();
        let top0 = count(&before, "#EXTINF") as u64;
        let _ = tokio::task::spawn_blocking({
            let hub = hub.clone();
            let dir = tmp.path().join("p1");
            let clip = tmp.path().join("clip.flv");
            move || run_period(&hub, &clip, dir)
        })
        .await
        .unwrap();
        let after = hub.media_playlist("360p", None, None).await.unwrap();
        assert!(after.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_1.mp4\"\n"));
        assert!(after.contains(&format!("seg_{top0}.m4s")), "{after}");
        assert!((hub.duration_s() - 2.0 * d).abs() < 1e-6);
        hub.end();
        assert!(hub
            .media_playlist("360p", None, None)
            .await
            .unwrap()
            .ends_with("#EXT-X-ENDLIST\n"));
    }
}

#[test]
fn part_target_and_advance_limit_follow_the_rfc() {
    let ms = Duration::from_millis;
    assert_eq!(playlist::part_target(ms(500), 0.0), ms(500));
    assert_eq!(playlist::part_target(ms(500), 0.4999), ms(500));
    assert_eq!(playlist::part_target(ms(500), 0.512), ms(512));
    assert_eq!(playlist::part_target(ms(500), 0.5121), ms(513));
    assert_eq!(playlist::advance_part_limit(ms(500)), 6);
    assert_eq!(playlist::advance_part_limit(ms(200)), 15);
    assert_eq!(playlist::advance_part_limit(ms(333)), 10);
    assert_eq!(playlist::advance_part_limit(ms(1000)), 3);
    assert_eq!(playlist::target_duration(Duration::from_secs(2), 2.49), 2);
    assert_eq!(playlist::target_duration(Duration::from_secs(2), 2.5), 3);
    assert_eq!(
        playlist::target_duration(Duration::from_millis(1500), 0.0),
        2
    );
}

#[tokio::test]
async fn a_long_part_raises_part_target_for_good() {
    let (hub, dir) = hub_with(ll(6, 500), &["audio"]);
    let long = PackagerEvent::Part {
        rendition: "audio".into(),
        segment: 0,
        index: 0,
        duration_s: 0.512,
        independent: true,
        data: Arc::from(&b"a"[..]),
    };
    hub.apply(0, &long);
    hub.apply(0, &segment(&dir.path().join("p0"), "audio", 0, 0.0, 2.0));
    hub.apply(0, &part("audio", 1, 0, b"b"));
    let text = playlist(&hub, "audio").await;
    assert!(text.contains("PART-HOLD-BACK=1.536\n#EXT-X-PART-INF:PART-TARGET=0.512\n"));
}

#[tokio::test(start_paused = true)]
async fn five_hundred_blocked_viewers_are_woken_by_one_part() {
    let (hub, _dir) = hub_with(ll(6, 500), &["360p"]);
    hub.apply(0, &part("360p", 0, 0, b"a"));
    let viewers: Vec<_> = (0..500)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.media_playlist("360p", Some(0), Some(1)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(viewers.iter().all(|v| !v.is_finished()));
    hub.apply(0, &part("360p", 0, 1, b"b"));
    for v in viewers {
        assert!(v.await.unwrap().unwrap().contains("part_0_1.m4s"));
    }
}
