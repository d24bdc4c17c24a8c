//! The replay of a live: the live's segments (every period, every rung) made into the same
//! kind of version a transcoded recording is, ready to publish.
//!
//! # Output (in `staging`, the layout `media::transcode` writes)
//!
//! ```text
//! master.m3u8                  variants (measured peak BANDWIDTH, RESOLUTION, FRAME-RATE,
//!                              CODECS) + audio group "aac"
//! <rung>/index.m3u8            VOD: PLAYLIST-TYPE:VOD, ENDLIST, DISCONTINUITY + MAP per period
//! <rung>/init_{p}.mp4          period p's init segment
//! <rung>/seg_{p}_{n}.m4s       period p's segment n (hard links to the live's files)
//! audio/…                      the same for the audio rendition
//! poster.jpg                   a frame of the top rung about 10 % in
//! ```
//!
//! # Sources
//!
//! Each period is one publisher connection, packaged into its own folder. When the packager
//! finished it (`master_vod.m3u8`, its last file, exists) its VOD playlists are used; else the
//! server died during the period and the period's [journal](crate::media::live::journal) is
//! packaged again into `{dir}/recovered/` with the original arrival times. Only segments a
//! `vod.m3u8` lists are used, so nothing half-written reaches the replay.
//!
//! # Renditions
//!
//! Those present in every period (audio included). A video rendition more than one segment
//! shorter than the top rung was stopped by the real-time guard; it is left out (never the
//! top rung). Every decision that loses something is in [`Replay::warnings`] (English, for
//! organizers, as a transcode's).
//!
//! Synchronous; run it on a blocking thread.

mod period;
mod poster;

pub use period::RECOVERED_DIR;

use crate::media::live::packager::{
    avc_codec_string, master_playlist, InputFormat, PackagerOptions, Variant,
};
use period::{PeriodOutput, Track, AUDIO_DIR};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The replay's master playlist (the name transcoded versions use).
pub const MASTER: &str = "master.m3u8";
/// Each rendition's media playlist.
pub const PLAYLIST: &str = "index.m3u8";
pub const POSTER: &str = "poster.jpg";
/// Where in the live the poster is taken.
const POSTER_AT: f64 = 0.1;

/// One period of the live (one publisher connection): the packager's folder and the format of
/// its journal.
#[derive(Clone, Debug)]
pub struct PeriodSource {
    pub dir: PathBuf,
    pub format: InputFormat,
}

/// A video rendition of the replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayRendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bandwidth: u64,
}

/// What [`build_replay`] made.
#[derive(Clone, Debug)]
pub struct Replay {
    pub duration_s: f64,
    pub renditions: Vec<ReplayRendition>,
    /// Always false: the packager refuses a stream without video, so every replay has some.
    pub audio_only: bool,
    pub warnings: Vec<String>,
    /// The audio rendition (`"audio"`, 0×0, its peak bits/s), when every period had sound:
    /// what a transcode lists after its video renditions.
    pub audio: Option<ReplayRendition>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("直播没有可回放的内容")]
    Empty,
    #[error("回放生成已取消")]
    Cancelled,
    #[error("回放生成失败：{0}")]
    Failed(String),
    #[error("写入回放文件失败：{0}")]
    Io(#[from] std::io::Error),
}

/// A rendition of the replay: its name and its track in every used period, in order.
struct Selected<'a> {
    name: String,
    tracks: Vec<(usize, &'a Track)>,
}

impl Selected<'_> {
    fn duration_s(&self) -> f64 {
        self.tracks.iter().map(|(_, t)| t.duration_s()).sum()
    }
}

/// A rendition written into the staging folder.
struct Staged {
    name: String,
    width: u32,
    height: u32,
    codecs: Option<String>,
    bandwidth: u64,
    duration_s: f64,
    /// `(init, segment, start in the replay)` of every segment, in order.
    segments: Vec<(PathBuf, PathBuf, f64)>,
}

/// Build the replay of `periods` (in order) into `staging`.
///
/// `options` are the live's packager options; a journal is packaged again with them, without
/// the real-time guard and the window. `staging` is created if missing; files already there
/// under the replay's names are replaced. `cancel` is checked between steps.
pub fn build_replay(
    periods: &[PeriodSource],
    staging: &Path,
    options: &PackagerOptions,
    cancel: &AtomicBool,
) -> Result<Replay, ReplayError> {
    crate::media::transcode::init();
    let check = || {
        if cancel.load(Ordering::Relaxed) {
            Err(ReplayError::Cancelled)
        } else {
            Ok(())
        }
    };
    let mut warnings = Vec::new();
    let mut used = Vec::new();
    for (index, source) in periods.iter().enumerate() {
        check()?;
        let Some(output) = period::load(source, index, options, cancel, &mut warnings)? else {
            continue;
        };
        if output.video.first().is_some_and(|t| !t.segments.is_empty()) {
            used.push(output);
        } else {
            warnings.push(format!("period {index}: no complete segment; left out"));
        }
    }
    if used.is_empty() {
        return Err(ReplayError::Empty);
    }
    let (video, audio) = select(&used, &mut warnings);
    check()?;

    fs::create_dir_all(staging)?;
    let target_s = options.segment_target.as_secs_f64();
    let mut staged = Vec::new();
    for selected in &video {
        check()?;
        staged.push(stage(staging, selected, target_s)?);
    }
    let audio = match &audio {
        Some(selected) => {
            check()?;
            Some(stage(staging, selected, target_s)?)
        }
        None => None,
    };
    let frame_rate = used.iter().map(|p| p.frame_rate).fold(0.0, f64::max);
    let variants: Vec<Variant> = staged
        .iter()
        .map(|s| Variant {
            uri: format!("{}/{PLAYLIST}", s.name),
            width: s.width,
            height: s.height,
            frame_rate,
            codecs: s.codecs.clone().unwrap_or_else(|| "avc1.640028".into()),
            bandwidth: s.bandwidth,
        })
        .collect();
    let audio_uri = format!("{AUDIO_DIR}/{PLAYLIST}");
    let master = master_playlist(
        &variants,
        audio.as_ref().map(|a| (audio_uri.as_str(), a.bandwidth)),
    );
    fs::write(staging.join(MASTER), master)?;

    check()?;
    let top = staged
        .first()
        .ok_or_else(|| ReplayError::Failed("no video rendition".into()))?;
    if let Err(e) = write_poster(top, &staging.join(POSTER)) {
        warnings.push(format!("poster: {e}"));
    }
    for w in &warnings {
        tracing::warn!(warning = %w, "live replay");
    }
    let rendition = |s: &Staged| ReplayRendition {
        name: s.name.clone(),
        width: s.width,
        height: s.height,
        bandwidth: s.bandwidth,
    };
    Ok(Replay {
        duration_s: top.duration_s,
        renditions: staged.iter().map(rendition).collect(),
        audio_only: false,
        warnings,
        audio: audio.as_ref().map(rendition),
    })
}

/// Which renditions the replay has: video (top first) and audio.
fn select<'a>(
    used: &'a [PeriodOutput],
    warnings: &mut Vec<String>,
) -> (Vec<Selected<'a>>, Option<Selected<'a>>) {
    let Some(first) = used.first() else {
        return (Vec::new(), None);
    };
    let in_every = |name: &str| used.iter().all(|p| p.track(name).is_some());
    let mut video: Vec<Selected<'a>> = first
        .video
        .iter()
        .filter(|t| in_every(&t.name))
        .map(|t| Selected {
            name: t.name.clone(),
            tracks: used
                .iter()
                .filter_map(|p| p.track(&t.name).map(|track| (p.index, track)))
                .collect(),
        })
        .collect();
    let mut missing: Vec<&str> = used
        .iter()
        .flat_map(|p| p.video.iter().map(|t| t.name.as_str()))
        .filter(|name| !in_every(name))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    for name in missing {
        warnings.push(format!(
            "rendition {name} is missing from some periods (the stream changed size); left out"
        ));
    }
    if video.is_empty() {
        // No size in common: each period's own top rung, one after the other.
        let name = first
            .video
            .first()
            .map_or_else(String::new, |t| t.name.clone());
        warnings.push(format!(
            "no rendition is in every period; {name} holds each period's top rung"
        ));
        video.push(Selected {
            name,
            tracks: used
                .iter()
                .filter_map(|p| p.video.first().map(|t| (p.index, t)))
                .collect(),
        });
    }

    // The real-time guard stops a rung for good: it ends short of the top rung.
    let top_s = video[0].duration_s();
    let slack = video[0]
        .tracks
        .iter()
        .map(|(_, t)| t.longest_s())
        .fold(0.0, f64::max)
        + 1e-3;
    let top_name = video[0].name.clone();
    let mut i = 1;
    while i < video.len() {
        let short = top_s - video[i].duration_s();
        if short > slack {
            warnings.push(format!(
                "rendition {} is {short:.1} s shorter than {top_name} (stopped during the live to keep up with real time); left out",
                video[i].name
            ));
            video.remove(i);
        } else {
            i += 1;
        }
    }

    let audio_tracks: Vec<(usize, &Track)> = used
        .iter()
        .filter_map(|p| {
            p.audio
                .as_ref()
                .filter(|a| !a.segments.is_empty())
                .map(|a| (p.index, a))
        })
        .collect();
    let audio = if audio_tracks.len() == used.len() {
        Some(Selected {
            name: AUDIO_DIR.into(),
            tracks: audio_tracks,
        })
    } else {
        if !audio_tracks.is_empty() {
            warnings.push("some periods have no sound; the replay has no audio".into());
        }
        None
    };
    (video, audio)
}

/// Link one rendition's files into `staging/<name>/` and write its VOD playlist.
fn stage(staging: &Path, selected: &Selected<'_>, target_s: f64) -> Result<Staged, ReplayError> {
    let dir = staging.join(&selected.name);
    fs::create_dir_all(&dir)?;
    let mut body = String::new();
    let mut segments = Vec::new();
    let (mut start, mut longest, mut peak) = (0.0f64, 0.0f64, 0u64);
    let (mut bytes, mut width, mut height) = (0u64, 0u32, 0u32);
    let mut codecs = None;
    for (n, (p, track)) in selected.tracks.iter().enumerate() {
        if u64::from(track.width) * u64::from(track.height) > u64::from(width) * u64::from(height) {
            (width, height) = (track.width, track.height);
        }
        let init_name = format!("init_{p}.mp4");
        let init = dir.join(&init_name);
        link_or_copy(&track.init, &init)?;
        if codecs.is_none() && track.width > 0 {
            codecs = avc_codec_string(&fs::read(&init)?);
        }
        if n > 0 {
            body.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let _ = writeln!(body, "#EXT-X-MAP:URI=\"{init_name}\"");
        for (k, segment) in track.segments.iter().enumerate() {
            let name = format!("seg_{p}_{k:05}.m4s");
            let path = dir.join(&name);
            link_or_copy(&segment.path, &path)?;
            if let Some(pdt) = &segment.pdt {
                let _ = writeln!(body, "#EXT-X-PROGRAM-DATE-TIME:{pdt}");
            }
            let _ = writeln!(body, "#EXTINF:{:.3},\n{name}", segment.duration_s);
            if segment.duration_s > 0.1 {
                peak = peak.max((segment.bytes as f64 * 8.0 / segment.duration_s).ceil() as u64);
            }
            longest = longest.max(segment.duration_s);
            bytes += segment.bytes;
            segments.push((init.clone(), path, start));
            start += segment.duration_s;
        }
    }
    // RFC 8216: every EXTINF rounded to the nearest integer is at most TARGETDURATION.
    let target = longest.round().max(target_s.ceil()).max(1.0) as u64;
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n");
    let _ = writeln!(m, "#EXT-X-TARGETDURATION:{target}");
    m.push_str("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    m.push_str(&body);
    m.push_str("#EXT-X-ENDLIST\n");
    fs::write(dir.join(PLAYLIST), m)?;
    if peak == 0 && start > 0.0 {
        peak = (bytes as f64 * 8.0 / start).ceil() as u64; // only very short segments
    }
    Ok(Staged {
        name: selected.name.clone(),
        width,
        height,
        codecs,
        bandwidth: peak,
        duration_s: start,
        segments,
    })
}

/// Hard-link `src` to `dst` (same file system: no copy, no extra space), copying when the
/// link cannot be made. A `dst` left by an earlier attempt is removed first: copying onto a
/// hard link of `src` would truncate `src` itself.
fn link_or_copy(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::remove_file(dst) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if fs::hard_link(src, dst).is_err() {
        fs::copy(src, dst)?;
    }
    Ok(())
}

/// The poster from the top rung's segment about [`POSTER_AT`] into the replay (segments start
/// on a keyframe).
fn write_poster(top: &Staged, out: &Path) -> Result<(), String> {
    let at = top.duration_s * POSTER_AT;
    let i = top
        .segments
        .iter()
        .rposition(|(_, _, start)| *start <= at)
        .unwrap_or(0);
    let (init, segment, _) = top.segments.get(i).ok_or("no segment")?;
    poster::write_poster(init, segment, out)
}

#[cfg(test)]
mod tests;
