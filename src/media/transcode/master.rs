//! Measuring the finished renditions (peak and average bitrate from the real segments, codec
//! strings from the init segments) and writing the master playlist.

use super::types::{
    RenditionInfo, RenditionKind, TranscodeError, AUDIO_DIR, INIT_SEGMENT, PLAYLIST,
};
use crate::media::ladder::{self, Rendition};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// `(duration, uri)` of every segment of a media playlist.
pub fn parse_media_playlist(text: &str) -> Vec<(f64, String)> {
    let mut segments = Vec::new();
    let mut pending: Option<f64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let value = rest.split(',').next().unwrap_or("").trim();
            pending = value.parse::<f64>().ok();
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = pending.take() {
                segments.push((d, line.to_string()));
            }
        }
    }
    segments
}

/// Peak and average bitrate of a media playlist's segments, and the segment count.
fn measure_playlist(dir: &Path) -> Result<(u64, u64, usize), TranscodeError> {
    let text = fs::read_to_string(dir.join(PLAYLIST))?;
    let segments = parse_media_playlist(&text);
    if segments.is_empty() {
        return Err(TranscodeError::Output(format!(
            "{} has no segments",
            dir.join(PLAYLIST).display()
        )));
    }
    let mut peak = 0.0f64;
    let (mut bits, mut seconds) = (0.0f64, 0.0f64);
    for (duration, uri) in &segments {
        let size = fs::metadata(dir.join(uri))?.len() as f64 * 8.0;
        bits += size;
        seconds += duration;
        if *duration > 0.0 {
            peak = peak.max(size / duration);
        }
    }
    let average = if seconds > 0.0 { bits / seconds } else { 0.0 };
    Ok((peak.ceil() as u64, average.ceil() as u64, segments.len()))
}

/// `avc1.PPCCLL` from the `avcC` box of the init segment (profile, constraints, level).
fn avc_codec_string(init_segment: &[u8]) -> Option<String> {
    let at = init_segment.windows(4).position(|w| w == b"avcC")?;
    let b = init_segment.get(at + 4..at + 8)?;
    (b[0] == 1).then(|| format!("avc1.{:02x}{:02x}{:02x}", b[1], b[2], b[3]))
}

/// Measure the video rendition `r` written in `dir`. A copied rung (`target_bitrate` 0) gets
/// its measured average as the target.
pub(super) fn measure_video(dir: &Path, r: &Rendition) -> Result<RenditionInfo, TranscodeError> {
    let (bandwidth, average_bandwidth, segments) = measure_playlist(dir)?;
    let init = fs::read(dir.join(INIT_SEGMENT))?;
    let codecs = avc_codec_string(&init).unwrap_or_else(|| "avc1.640028".into());
    Ok(RenditionInfo {
        name: r.name.clone(),
        kind: RenditionKind::Video,
        playlist: format!("{}/{PLAYLIST}", r.name),
        width: r.width,
        height: r.height,
        frame_rate: Some(r.fps.as_f64()),
        codecs,
        bandwidth,
        average_bandwidth,
        segments,
        target_bitrate: if r.video_bitrate == 0 {
            average_bandwidth
        } else {
            r.video_bitrate
        },
    })
}

pub(super) fn measure_audio(dir: &Path) -> Result<RenditionInfo, TranscodeError> {
    let (bandwidth, average_bandwidth, segments) = measure_playlist(&dir.join(AUDIO_DIR))?;
    Ok(RenditionInfo {
        name: AUDIO_DIR.into(),
        kind: RenditionKind::Audio,
        playlist: format!("{AUDIO_DIR}/{PLAYLIST}"),
        width: 0,
        height: 0,
        frame_rate: None,
        codecs: "mp4a.40.2".into(),
        bandwidth,
        average_bandwidth,
        segments,
        target_bitrate: ladder::AUDIO_BITRATE,
    })
}

/// The master playlist. Video variants reference the shared audio group `"aac"`; their
/// BANDWIDTH/AVERAGE-BANDWIDTH include the audio rendition's (RFC 8216 §4.3.4.2).
pub(super) fn master_playlist(video: &[RenditionInfo], audio: Option<&RenditionInfo>) -> String {
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    match (video.is_empty(), audio) {
        (true, Some(a)) => {
            let _ = write!(
                m,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"\n{}\n",
                a.bandwidth, a.average_bandwidth, a.codecs, a.playlist
            );
        }
        _ => {
            if let Some(a) = audio {
                let _ = writeln!(
                    m,
                    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"stereo\",DEFAULT=YES,\
AUTOSELECT=YES,CHANNELS=\"2\",URI=\"{}\"",
                    a.playlist
                );
            }
            for v in video {
                let (a_peak, a_avg, codecs, group) = match audio {
                    Some(a) => (
                        a.bandwidth,
                        a.average_bandwidth,
                        format!("{},{}", v.codecs, a.codecs),
                        ",AUDIO=\"aac\"",
                    ),
                    None => (0, 0, v.codecs.clone(), ""),
                };
                let _ = write!(
                    m,
                    "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},\
FRAME-RATE={:.3},CODECS=\"{}\"{}\n{}\n",
                    v.bandwidth + a_peak,
                    v.average_bandwidth + a_avg,
                    v.width,
                    v.height,
                    v.frame_rate.unwrap_or(0.0),
                    codecs,
                    group,
                    v.playlist
                );
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_parsing_and_codec_string() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.000000,\nseg_00000.m4s\n\
#EXTINF:1.5,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(
            parse_media_playlist(text),
            vec![
                (6.0, "seg_00000.m4s".to_string()),
                (1.5, "seg_00001.m4s".to_string())
            ]
        );
        let init = [b"....avcC".as_slice(), &[1, 0x64, 0x00, 0x1f, 0xff]].concat();
        assert_eq!(avc_codec_string(&init).as_deref(), Some("avc1.64001f"));
        assert_eq!(avc_codec_string(b"nothing"), None);
    }

    #[test]
    fn master_playlist_lists_audio_group_and_variants() {
        let v = RenditionInfo {
            name: "360p".into(),
            kind: RenditionKind::Video,
            playlist: "360p/index.m3u8".into(),
            width: 640,
            height: 360,
            frame_rate: Some(30.0),
            codecs: "avc1.64001e".into(),
            bandwidth: 800_000,
            average_bandwidth: 500_000,
            segments: 3,
            target_bitrate: 1_000_000,
        };
        let a = RenditionInfo {
            name: "audio".into(),
            kind: RenditionKind::Audio,
            playlist: "audio/index.m3u8".into(),
            width: 0,
            height: 0,
            frame_rate: None,
            codecs: "mp4a.40.2".into(),
            bandwidth: 130_000,
            average_bandwidth: 129_000,
            segments: 3,
            target_bitrate: 128_000,
        };
        let m = master_playlist(std::slice::from_ref(&v), Some(&a));
        assert!(m.contains("TYPE=AUDIO,GROUP-ID=\"aac\""));
        assert!(m.contains("BANDWIDTH=930000,AVERAGE-BANDWIDTH=629000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aac\"\n360p/index.m3u8\n"));
        let m = master_playlist(&[], Some(&a));
        assert!(m.contains("CODECS=\"mp4a.40.2\"\naudio/index.m3u8"));
        assert!(!m.contains("EXT-X-MEDIA"));
        let m = master_playlist(std::slice::from_ref(&v), None);
        assert!(m.contains("CODECS=\"avc1.64001e\"\n360p/index.m3u8"));
    }
}
