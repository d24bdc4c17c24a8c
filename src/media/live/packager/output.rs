//! One rendition on disk: its fMP4 muxer, the segment cutting rule, atomic segment files and
//! its live / ended / VOD playlists.

use super::fmp4::{FragMuxer, StreamSource};
use super::playlist::{media_playlist, PlaylistKind, SegmentMeta};
use super::types::{
    PackagerError, PackagerEvent, RenditionStatus, INIT_SEGMENT, PLAYLIST, TL_HZ, VOD_PLAYLIST,
};
use chrono::{DateTime, Utc};
use ff::Packet;
use ffmpeg_next as ff;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A segment boundary: a source keyframe chosen by the cut rule, on the shared timeline, with
/// the wall-clock arrival of its first byte. Every rendition cuts at the same boundaries.
#[derive(Clone, Copy, Debug)]
pub(super) struct Boundary {
    pub tl: i64,
    pub pdt: SystemTime,
}

/// The wall-clock time of timeline instant `tl`, from the boundary at or before it.
pub(super) fn pdt_at(boundaries: &[Boundary], tl: i64) -> SystemTime {
    let i = boundaries.partition_point(|b| b.tl <= tl).saturating_sub(1);
    let Some(b) = boundaries.get(i) else {
        return SystemTime::now();
    };
    let delta = tl - b.tl;
    let d = Duration::from_micros(delta.unsigned_abs().saturating_mul(1_000_000) / TL_HZ as u64);
    if delta >= 0 {
        b.pdt + d
    } else {
        b.pdt.checked_sub(d).unwrap_or(b.pdt)
    }
}

/// Write `bytes` to `path` through a temporary name in the same folder and a rename, so a
/// reader sees either nothing or the whole file.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PackagerError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| PackagerError::Output(format!("bad file name {}", path.display())))?;
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    fs::rename(&tmp, path)?;
    Ok(())
}

struct OpenSegment {
    seq: u64,
    start_tl: i64,
    pdt: SystemTime,
    bytes: Vec<u8>,
    part_start_dts: i64,
    part_index: u32,
    part_independent: bool,
}

/// Static facts about a rendition.
#[derive(Clone, Debug)]
pub(super) struct RenditionSpec {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    pub passthrough: bool,
    pub audio: bool,
    /// Bits/s assumed for the master playlist until segments are measured.
    pub planned_bandwidth: u64,
}

pub(super) struct RenditionOut {
    pub spec: RenditionSpec,
    pub dir: PathBuf,
    pub codecs: String,
    mux: FragMuxer,
    pub segments: Vec<SegmentMeta>,
    open: Option<OpenSegment>,
    next_boundary: usize,
    /// End (pts + duration) of the latest packet.
    pub last_end_tl: Option<i64>,
    pub active: bool,
    last_dts: Option<i64>,
    /// End (dts + duration) of the latest packet in decode order: where the last part ends
    /// (with B-frames the presentation end runs ahead of it by the reorder delay).
    last_dts_end: Option<i64>,
    /// Packets dropped because their DTS did not increase.
    pub dropped_packets: u64,
    window: Option<usize>,
    target_s: f64,
    part_tl: Option<i64>,
}

impl RenditionOut {
    /// Create `root/<name>/`, open the muxer and write `init.mp4`.
    pub(super) fn create(
        root: &Path,
        spec: RenditionSpec,
        source: StreamSource,
        window: Option<usize>,
        target: Duration,
        part: Option<Duration>,
    ) -> Result<Self, PackagerError> {
        let dir = root.join(&spec.name);
        fs::create_dir_all(&dir)?;
        let (mux, init) = FragMuxer::open(source)?;
        write_atomic(&dir.join(INIT_SEGMENT), &init)?;
        let codecs = if spec.audio {
            "mp4a.40.2".to_string()
        } else {
            super::playlist::avc_codec_string(&init).unwrap_or_else(|| "avc1.640028".into())
        };
        Ok(Self {
            spec,
            dir,
            codecs,
            mux,
            segments: Vec::new(),
            open: None,
            next_boundary: 0,
            last_end_tl: None,
            active: true,
            last_dts: None,
            last_dts_end: None,
            dropped_packets: 0,
            window,
            target_s: target.as_secs_f64(),
            part_tl: part.map(|p| (p.as_secs_f64() * TL_HZ as f64).round().max(1.0) as i64),
        })
    }

    pub(super) fn status(&self) -> RenditionStatus {
        RenditionStatus {
            name: self.spec.name.clone(),
            width: self.spec.width,
            height: self.spec.height,
            passthrough: self.spec.passthrough,
            active: self.active,
            segments: self.segments.len() as u64,
        }
    }

    /// Peak bits/s over the complete segments, or the planned rate before there are any.
    pub(super) fn bandwidth(&self) -> u64 {
        let peak = self
            .segments
            .iter()
            .filter(|s| s.duration_s > 0.1)
            .map(|s| (s.bytes as f64 * 8.0 / s.duration_s).ceil() as u64)
            .max();
        peak.unwrap_or(self.spec.planned_bandwidth)
    }

    /// Take a packet (timestamps on the shared timeline). Video cuts a segment before a
    /// keyframe at or after the next boundary; audio before the first packet at or after it.
    pub(super) fn push(
        &mut self,
        packet: Packet,
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        if !self.active {
            return Ok(());
        }
        let (Some(pts), Some(dts)) = (packet.pts().or(packet.dts()), packet.dts().or(packet.pts()))
        else {
            return Ok(());
        };
        if self.last_dts.is_some_and(|last| dts <= last) {
            // The mp4 muxer refuses a DTS that does not increase (a publisher that restarts
            // its clock); drop the packet rather than the live.
            self.dropped_packets += 1;
            return Ok(());
        }
        self.last_dts = Some(dts);
        self.last_dts_end = Some(dts.saturating_add(packet.duration().max(0)));
        let key = self.spec.audio || packet.is_key();
        let end = pts.saturating_add(packet.duration().max(0));
        self.last_end_tl = Some(self.last_end_tl.map_or(end, |e| e.max(end)));
        let Some(open) = self.open.as_mut() else {
            if !key {
                return Ok(()); // a video rendition starts on a keyframe
            }
            // A first packet just before the first boundary (audio) belongs to segment 0.
            self.next_boundary = boundaries.partition_point(|b| b.tl <= pts).max(1);
            self.open = Some(OpenSegment {
                seq: self.segments.len() as u64,
                start_tl: pts,
                pdt: pdt_at(boundaries, pts),
                bytes: Vec::new(),
                part_start_dts: dts,
                part_index: 0,
                part_independent: packet.is_key(),
            });
            self.mux.push(packet, false)?;
            return Ok(());
        };
        let segment_cut = key
            && boundaries
                .get(self.next_boundary)
                .is_some_and(|b| pts >= b.tl);
        let part_cut = self.part_tl.is_some_and(|p| dts - open.part_start_dts >= p);
        let is_key = packet.is_key();
        let Some(fragment) = self.mux.push(packet, segment_cut || part_cut)? else {
            return Ok(());
        };
        self.emit_part(fragment, dts, emit);
        if let Some(open) = self.open.as_mut() {
            open.part_start_dts = dts;
            open.part_independent = is_key;
        }
        if segment_cut {
            self.close_segment(pts, emit)?;
            self.next_boundary = boundaries.partition_point(|b| b.tl <= pts);
            self.open = Some(OpenSegment {
                seq: self.segments.len() as u64,
                start_tl: pts,
                pdt: pdt_at(boundaries, pts),
                bytes: Vec::new(),
                part_start_dts: dts,
                part_index: 0,
                part_independent: is_key,
            });
        }
        Ok(())
    }

    fn emit_part(&mut self, fragment: Vec<u8>, end_dts: i64, emit: &mut dyn FnMut(PackagerEvent)) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if fragment.is_empty() {
            return;
        }
        if self.part_tl.is_some() {
            emit(PackagerEvent::Part {
                rendition: self.spec.name.clone(),
                segment: open.seq,
                index: open.part_index,
                duration_s: (end_dts - open.part_start_dts).max(0) as f64 / TL_HZ as f64,
                independent: open.part_independent,
                data: Arc::from(fragment.as_slice()),
            });
        }
        open.part_index += 1;
        open.bytes.extend_from_slice(&fragment);
    }

    /// Write the open segment (ending at `end_tl`) and list it.
    fn close_segment(
        &mut self,
        end_tl: i64,
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if open.bytes.is_empty() {
            return Ok(());
        }
        let uri = format!("seg_{:05}.m4s", open.seq);
        let path = self.dir.join(&uri);
        write_atomic(&path, &open.bytes)?;
        let meta = SegmentMeta {
            seq: open.seq,
            uri,
            duration_s: (end_tl - open.start_tl).max(0) as f64 / TL_HZ as f64,
            program_date_time: DateTime::<Utc>::from(open.pdt),
            bytes: open.bytes.len() as u64,
        };
        self.segments.push(meta.clone());
        self.write_playlist(PlaylistKind::Live {
            window: self.window,
        })?;
        emit(PackagerEvent::Segment {
            rendition: self.spec.name.clone(),
            seq: meta.seq,
            duration_s: meta.duration_s,
            program_date_time: meta.program_date_time,
            bytes: meta.bytes,
            path,
        });
        Ok(())
    }

    fn write_playlist(&self, kind: PlaylistKind) -> Result<(), PackagerError> {
        let name = if kind == PlaylistKind::Vod {
            VOD_PLAYLIST
        } else {
            PLAYLIST
        };
        let text = media_playlist(&self.segments, kind, self.target_s, INIT_SEGMENT);
        write_atomic(&self.dir.join(name), text.as_bytes())
    }

    /// End of input: the last segment ends at `end_tl` (own last packet end when `None`);
    /// then the ended live playlist and the VOD playlist.
    pub(super) fn finish(
        &mut self,
        end_tl: Option<i64>,
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        if self.active && self.open.is_some() {
            let last = self.mux.finish()?;
            let dts = self.last_dts_end.or(self.last_end_tl).unwrap_or(0);
            self.emit_part(last, dts, emit);
            let end = end_tl.or(self.last_end_tl).unwrap_or(0);
            self.close_segment(end, emit)?;
        }
        self.end_playlists()
    }

    /// Stop this rendition (real-time guard): the open segment is discarded, nothing
    /// half-made is listed, and the playlist is ended.
    pub(super) fn stop(&mut self) -> Result<(), PackagerError> {
        self.active = false;
        self.open = None;
        self.end_playlists()
    }

    fn end_playlists(&self) -> Result<(), PackagerError> {
        self.write_playlist(PlaylistKind::Ended {
            window: self.window,
        })?;
        self.write_playlist(PlaylistKind::Vod)
    }
}
