//! pufa's own playlists (pure text rendering, no I/O): live media playlists with a sliding
//! window, the ended/VOD forms, and the master playlist.

use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt::Write as _;

/// A complete segment of one rendition.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentMeta {
    pub seq: u64,
    /// File name inside the rendition folder.
    pub uri: String,
    pub duration_s: f64,
    /// Wall-clock arrival of the segment's first frame.
    pub program_date_time: DateTime<Utc>,
    pub bytes: u64,
}

/// How a media playlist is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaylistKind {
    /// Live: the last `window` segments (all when `None`), no end tag.
    Live { window: Option<usize> },
    /// The live playlist after the stream ended: same window, plus `EXT-X-ENDLIST`.
    Ended { window: Option<usize> },
    /// Every segment, `EXT-X-PLAYLIST-TYPE:VOD` and `EXT-X-ENDLIST` (the replay).
    Vod,
}

/// A media playlist over `segments` (in order). `target_s` is the configured segment target;
/// TARGETDURATION is the larger of it and the longest segment, rounded up.
pub fn media_playlist(
    segments: &[SegmentMeta],
    kind: PlaylistKind,
    target_s: f64,
    init_uri: &str,
) -> String {
    let listed = match kind {
        PlaylistKind::Live { window: Some(w) } | PlaylistKind::Ended { window: Some(w) } => {
            &segments[segments.len().saturating_sub(w.max(1))..]
        }
        _ => segments,
    };
    // RFC 8216: every EXTINF rounded to the nearest integer is <= TARGETDURATION. Over all
    // segments so far, so it does not shrink as the window slides.
    let longest = segments.iter().map(|s| s.duration_s).fold(0.0, f64::max);
    let target = longest.round().max(target_s.ceil()).max(1.0) as u64;
    let first = listed.first().map_or(0, |s| s.seq);
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n");
    let _ = writeln!(m, "#EXT-X-TARGETDURATION:{target}");
    let _ = writeln!(m, "#EXT-X-MEDIA-SEQUENCE:{first}");
    m.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    if kind == PlaylistKind::Vod {
        m.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    let _ = writeln!(m, "#EXT-X-MAP:URI=\"{init_uri}\"");
    for s in listed {
        let _ = writeln!(
            m,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            s.program_date_time
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let _ = writeln!(m, "#EXTINF:{:.3},\n{}", s.duration_s, s.uri);
    }
    if !matches!(kind, PlaylistKind::Live { .. }) {
        m.push_str("#EXT-X-ENDLIST\n");
    }
    m
}

/// A variant of the master playlist.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Media playlist relative to the master, e.g. `"720p/index.m3u8"`.
    pub uri: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    /// RFC 6381 codec string of the video alone (`avc1.64001f`).
    pub codecs: String,
    /// Peak bits/s of the video (measured, or the plan's cap before there are segments).
    pub bandwidth: u64,
}

/// The master playlist: video variants (highest first) sharing the AAC group `"aac"` when
/// `audio` is `Some((uri, bandwidth))`; BANDWIDTH includes the audio's.
pub fn master_playlist(variants: &[Variant], audio: Option<(&str, u64)>) -> String {
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some((uri, _)) = audio {
        let _ = writeln!(
            m,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"stereo\",DEFAULT=YES,\
AUTOSELECT=YES,CHANNELS=\"2\",URI=\"{uri}\""
        );
    }
    for v in variants {
        let (extra, codecs, group) = match audio {
            Some((_, bw)) => (bw, format!("{},mp4a.40.2", v.codecs), ",AUDIO=\"aac\""),
            None => (0, v.codecs.clone(), ""),
        };
        let _ = write!(
            m,
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE={:.3},CODECS=\"{}\"{}\n{}\n",
            v.bandwidth + extra,
            v.width,
            v.height,
            v.frame_rate,
            codecs,
            group,
            v.uri
        );
    }
    m
}

/// `avc1.PPCCLL` from the `avcC` box of an init segment.
pub fn avc_codec_string(init_segment: &[u8]) -> Option<String> {
    let at = init_segment.windows(4).position(|w| w == b"avcC")?;
    let b = init_segment.get(at + 4..at + 8)?;
    (b[0] == 1).then(|| format!("avc1.{:02x}{:02x}{:02x}", b[1], b[2], b[3]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn segs(n: u64) -> Vec<SegmentMeta> {
        (0..n)
            .map(|i| SegmentMeta {
                seq: i,
                uri: format!("seg_{i:05}.m4s"),
                duration_s: [2.0, 2.048, 2.5][(i as usize).min(2)],
                program_date_time: Utc.timestamp_opt(1_700_000_000 + 2 * i as i64, 0).unwrap(),
                bytes: 1000,
            })
            .collect()
    }

    #[test]
    fn live_window_slides_and_ends() {
        let s = segs(5);
        let live = media_playlist(&s, PlaylistKind::Live { window: Some(3) }, 2.0, "init.mp4");
        assert!(live.contains("#EXT-X-MEDIA-SEQUENCE:2\n"));
        assert!(live.contains("#EXT-X-TARGETDURATION:3\n"));
        assert!(live.contains("#EXT-X-INDEPENDENT-SEGMENTS\n"));
        assert!(live.contains("#EXT-X-MAP:URI=\"init.mp4\"\n"));
        assert!(live.contains(
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z\n#EXTINF:2.500,\nseg_00002.m4s\n"
        ));
        assert!(!live.contains("seg_00001"));
        assert!(!live.contains("ENDLIST"));
        let ended = media_playlist(&s, PlaylistKind::Ended { window: Some(3) }, 2.0, "init.mp4");
        assert!(ended.ends_with("seg_00004.m4s\n#EXT-X-ENDLIST\n"));
        assert!(ended.contains("#EXT-X-MEDIA-SEQUENCE:2\n"));
        let vod = media_playlist(&s, PlaylistKind::Vod, 2.0, "init.mp4");
        assert!(vod.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(vod.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        assert_eq!(vod.matches("#EXTINF").count(), 5);
        let empty = media_playlist(&[], PlaylistKind::Live { window: None }, 2.0, "init.mp4");
        assert!(empty.contains("#EXT-X-TARGETDURATION:2\n"));
    }

    #[test]
    fn master_lists_variants_with_audio() {
        let v = Variant {
            uri: "360p/index.m3u8".into(),
            width: 640,
            height: 360,
            frame_rate: 30.0,
            codecs: "avc1.64001e".into(),
            bandwidth: 800_000,
        };
        let m = master_playlist(
            std::slice::from_ref(&v),
            Some(("audio/index.m3u8", 130_000)),
        );
        assert!(m.contains("TYPE=AUDIO,GROUP-ID=\"aac\""));
        assert!(m.contains("BANDWIDTH=930000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aac\"\n360p/index.m3u8\n"));
        let m = master_playlist(&[v], None);
        assert!(m.contains("CODECS=\"avc1.64001e\"\n360p/index.m3u8"));
        let init = [b"....avcC".as_slice(), &[1, 0x64, 0x00, 0x1f, 0xff]].concat();
        assert_eq!(avc_codec_string(&init).as_deref(), Some("avc1.64001f"));
    }
}
