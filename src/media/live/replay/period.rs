//! One period's packaged output, read back for the replay: the packager's own when it
//! finished, else the period's journal packaged again into `recovered/`.

use super::ReplayError;
use crate::media::live::journal;
use crate::media::live::packager::{ArrivalLog, LivePackager, PackagerError, PackagerOptions};
use crate::media::live::replay::PeriodSource;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Written last by the packager at end of input: its presence means the folder is complete.
pub(super) const PERIOD_MASTER: &str = "master_vod.m3u8";
/// A rendition's VOD playlist in the packager's output.
pub(super) const PERIOD_PLAYLIST: &str = "vod.m3u8";
pub(super) const PERIOD_INIT: &str = "init.mp4";
pub(super) const AUDIO_DIR: &str = "audio";
/// Where a period's journal is packaged again, inside the period's folder.
pub const RECOVERED_DIR: &str = "recovered";

/// A complete segment listed in a VOD playlist.
#[derive(Clone, Debug)]
pub(super) struct Segment {
    pub path: PathBuf,
    pub duration_s: f64,
    /// The playlist's PROGRAM-DATE-TIME value, as written.
    pub pdt: Option<String>,
    pub bytes: u64,
}

/// One rendition of one period.
#[derive(Clone, Debug)]
pub(super) struct Track {
    pub name: String,
    pub init: PathBuf,
    /// 0 for audio.
    pub width: u32,
    pub height: u32,
    pub segments: Vec<Segment>,
}

impl Track {
    pub fn duration_s(&self) -> f64 {
        self.segments.iter().map(|s| s.duration_s).sum()
    }

    pub fn longest_s(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.duration_s)
            .fold(0.0, f64::max)
    }
}

/// What one period contributes.
#[derive(Debug)]
pub(super) struct PeriodOutput {
    /// Position in the caller's list (names the files in the replay).
    pub index: usize,
    /// Video renditions, largest first (the top rung first).
    pub video: Vec<Track>,
    pub audio: Option<Track>,
    /// FRAME-RATE of the period's master playlist.
    pub frame_rate: f64,
}

impl PeriodOutput {
    pub fn track(&self, name: &str) -> Option<&Track> {
        self.video.iter().find(|t| t.name == name)
    }
}

/// The finished output of `period` (packaging its journal again when the packager did not
/// finish); `None`, with a warning, when there is neither.
pub(super) fn load(
    period: &PeriodSource,
    index: usize,
    options: &PackagerOptions,
    cancel: &AtomicBool,
    warnings: &mut Vec<String>,
) -> Result<Option<PeriodOutput>, ReplayError> {
    let root = if period.dir.join(PERIOD_MASTER).is_file() {
        period.dir.clone()
    } else {
        match recover(period, index, options, cancel, warnings)? {
            Some(root) => root,
            None => return Ok(None),
        }
    };
    read_output(&root, index, warnings).map(Some)
}

/// Package the journal of a period the server did not finish (it died during the period)
/// into a clean `recovered/` folder, with the original arrival times.
fn recover(
    period: &PeriodSource,
    index: usize,
    options: &PackagerOptions,
    cancel: &AtomicBool,
    warnings: &mut Vec<String>,
) -> Result<Option<PathBuf>, ReplayError> {
    let out = period.dir.join(RECOVERED_DIR);
    if out.join(PERIOD_MASTER).is_file() {
        // An earlier attempt finished it (the master is the packager's last file).
        return Ok(Some(out));
    }
    let journal = match journal::open(&period.dir) {
        Ok(Some(journal)) => journal,
        Ok(None) => {
            warnings.push(format!(
                "period {index}: no finished output and no journal; left out"
            ));
            return Ok(None);
        }
        Err(e) => {
            warnings.push(format!(
                "period {index}: the journal could not be read ({e}); left out"
            ));
            return Ok(None);
        }
    };
    if journal.format != period.format {
        warnings.push(format!(
            "period {index}: the journal is {:?}, not {:?} as recorded; read as {:?}",
            journal.format, period.format, journal.format
        ));
    }
    match fs::remove_dir_all(&out) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let opts = PackagerOptions {
        // From a file the packager runs faster than real time; nothing may be dropped.
        lag_guard: None,
        window: None,
        part_target: None,
        ..options.clone()
    };
    let packager = LivePackager::new(&out, opts).map_err(|e| ReplayError::Failed(e.to_string()))?;
    let stop = packager.cancel_flag();
    let log = ArrivalLog::new();
    let format = journal.format;
    let bytes = journal.len;
    let reader = journal.timed_reader(log.clone());
    if cancel.load(Ordering::Relaxed) {
        return Err(ReplayError::Cancelled);
    }
    tracing::info!(
        period = index,
        bytes,
        "packaging a live period again from its journal"
    );
    // The packager reports a segment every ~2 s of media, well under a second from a file:
    // often enough to pass a cancellation on.
    let result = packager.run(reader, format, log, &mut |_| {
        if cancel.load(Ordering::Relaxed) {
            stop.store(true, Ordering::Relaxed);
        }
    });
    match result {
        Ok(summary) => {
            warnings.push(format!(
                "period {index}: the server stopped during the live; recovered {:.1} s from the journal",
                summary.duration_s
            ));
            warnings.extend(
                summary
                    .warnings
                    .into_iter()
                    .map(|w| format!("period {index}: {w}")),
            );
            Ok(Some(out))
        }
        Err(PackagerError::Cancelled) if cancel.load(Ordering::Relaxed) => {
            Err(ReplayError::Cancelled)
        }
        Err(e) => {
            warnings.push(format!(
                "period {index}: the journal could not be packaged again ({e}); left out"
            ));
            Ok(None)
        }
    }
}

/// Read a finished packager folder: every rendition folder with a VOD playlist, including
/// renditions the real-time guard dropped (the master no longer lists them).
fn read_output(
    root: &Path,
    index: usize,
    warnings: &mut Vec<String>,
) -> Result<PeriodOutput, ReplayError> {
    let master = fs::read_to_string(root.join(PERIOD_MASTER))?;
    let listed = parse_master(&master);
    let frame_rate = listed.iter().map(|v| v.frame_rate).fold(0.0, f64::max);
    let mut names = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let dir = entry.path();
        if name != RECOVERED_DIR
            && dir.join(PERIOD_PLAYLIST).is_file()
            && dir.join(PERIOD_INIT).is_file()
        {
            names.push(name);
        }
    }
    names.sort();
    let mut video = Vec::new();
    let mut audio = None;
    for name in names {
        let dir = root.join(&name);
        let segments = read_segments(&dir)?;
        let init = dir.join(PERIOD_INIT);
        if name == AUDIO_DIR {
            audio = Some(Track {
                name,
                init,
                width: 0,
                height: 0,
                segments,
            });
            continue;
        }
        let size = match listed.iter().find(|v| v.name == name) {
            Some(v) => Some((v.width, v.height)),
            None => tkhd_size(&fs::read(&init)?),
        };
        let Some((width, height)) = size else {
            warnings.push(format!(
                "period {index}: the size of rendition {name} is unknown; left out"
            ));
            continue;
        };
        video.push(Track {
            name,
            init,
            width,
            height,
            segments,
        });
    }
    video.sort_by_key(|t| std::cmp::Reverse(u64::from(t.width) * u64::from(t.height)));
    Ok(PeriodOutput {
        index,
        video,
        audio,
        frame_rate,
    })
}

/// The segments a rendition's `vod.m3u8` lists, with their sizes. A listed file is complete
/// (the packager lists a segment only after renaming it into place).
fn read_segments(dir: &Path) -> Result<Vec<Segment>, ReplayError> {
    let text = fs::read_to_string(dir.join(PERIOD_PLAYLIST))?;
    let mut segments = Vec::new();
    for (duration_s, uri, pdt) in parse_media_playlist(&text) {
        // Our own output names plain files; anything else is not followed.
        if uri.contains(['/', '\\']) || uri.starts_with('.') {
            return Err(ReplayError::Failed(format!(
                "{}: unexpected segment name {uri:?}",
                dir.display()
            )));
        }
        let path = dir.join(&uri);
        let bytes = fs::metadata(&path)
            .map_err(|e| ReplayError::Failed(format!("{}: {e}", path.display())))?
            .len();
        segments.push(Segment {
            path,
            duration_s,
            pdt,
            bytes,
        });
    }
    Ok(segments)
}

/// `(EXTINF duration, uri, PROGRAM-DATE-TIME)` of every segment of a media playlist.
pub(super) fn parse_media_playlist(text: &str) -> Vec<(f64, String, Option<String>)> {
    let mut segments = Vec::new();
    let mut duration = None;
    let mut pdt = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pdt = Some(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = duration.take() {
                segments.push((d, line.to_string(), pdt.take()));
            }
        }
    }
    segments
}

/// A variant of the packager's master playlist.
#[derive(Debug, PartialEq)]
pub(super) struct ListedVariant {
    /// The rendition folder (the variant URI's first component).
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
}

pub(super) fn parse_master(text: &str) -> Vec<ListedVariant> {
    let mut variants = Vec::new();
    let mut pending: Option<&str> = None;
    for line in text.lines().map(str::trim) {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            pending = Some(attrs);
        } else if !line.is_empty() && !line.starts_with('#') {
            let Some(attrs) = pending.take() else {
                continue;
            };
            let Some((name, _)) = line.split_once('/') else {
                continue;
            };
            let size = attribute(attrs, "RESOLUTION")
                .and_then(|r| r.split_once('x'))
                .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
            let Some((width, height)) = size else {
                continue;
            };
            variants.push(ListedVariant {
                name: name.to_string(),
                width,
                height,
                frame_rate: attribute(attrs, "FRAME-RATE")
                    .and_then(|f| f.parse().ok())
                    .unwrap_or(0.0),
            });
        }
    }
    variants
}

/// The value of `key` in an HLS attribute list (commas inside quotes do not separate).
fn attribute<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let mut start = 0;
    let mut quoted = false;
    let mut fields = Vec::new();
    for (i, c) in attrs.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                fields.push(&attrs[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&attrs[start..]);
    fields.into_iter().find_map(|f| {
        let (k, v) = f.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

/// Width and height from the first `tkhd` box of an MP4 init segment (16.16 fixed point).
pub(super) fn tkhd_size(init: &[u8]) -> Option<(u32, u32)> {
    let at = init.windows(4).position(|w| w == b"tkhd")?;
    let body = at + 4;
    // version (1) + flags (3), then the times and ids: 20 bytes (v0) or 32 (v1), then
    // reserved (8), layer, group, volume, reserved (2 each) and the matrix (36).
    let times = match init.get(body)? {
        0 => 20,
        1 => 32,
        _ => return None,
    };
    let w_at = body + 4 + times + 16 + 36;
    let word = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(init.get(i..i + 4)?.try_into().ok()?))
    };
    let (w, h) = (word(w_at)? >> 16, word(w_at + 4)? >> 16);
    (w > 0 && h > 0).then_some((w, h))
}
