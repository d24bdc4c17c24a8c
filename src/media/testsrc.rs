//! Synthetic media for tests, the demo and benchmarks.
//!
//! Clips are rendered by FFmpeg's `lavfi` input device — `testsrc2` for video (a moving test
//! pattern with a frame counter, so every frame differs) and `sine` / `aevalsrc` for audio
//! (a distinct tone per channel) — and encoded in-process with `ffmpeg-next` (libx264
//! `ultrafast` + AAC) into the container chosen by the file extension (`.mp4`, `.mov`,
//! `.m4a`, `.mkv`). Options reproduce what real uploads look like:
//!
//! * `rotation`: a display matrix on the video stream, as a phone writes for an upright clip
//!   (`Some(90)` = the player must turn the coded picture 90° clockwise, the legacy
//!   `rotate=90` tag; ffprobe prints it as "rotation of -90.00 degrees"). Only the MP4/MOV
//!   muxers store it; Matroska in FFmpeg 5.1 drops it.
//! * `vfr`: drops ~23% of the frames and jitters the remaining timestamps by up to ±15% of
//!   the frame interval (variable frame rate, like screen or phone recordings).
//! * odd sizes are encoded as 4:4:4 (x264 cannot do 4:2:0 with odd dimensions).
//! * MP4/MOV are written with `+faststart` (index first), so [`truncate_file`] produces the
//!   "upload cut short" case that is still partly decodable.
//!
//! ```no_run
//! use pufa::media::testsrc::{generate_clip, AudioSpec, ClipSpec};
//! let spec = ClipSpec {
//!     audio: Some(AudioSpec { channels: 2, sample_rate: 48_000 }),
//!     ..ClipSpec::new(640, 360, 30, 13.0)
//! };
//! generate_clip(&spec, std::path::Path::new("/tmp/lecture.mp4")).unwrap();
//! ```

// FFmpeg FFI for the lavfi input device and the display matrix; every block has a SAFETY note.
#![allow(unsafe_code)]

use anyhow::{anyhow, bail, Context as _, Result};
use ff::format::{Pixel, Sample};
use ff::software::{resampling, scaling};
use ff::{codec, decoder, encoder, format, frame, ChannelLayout, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// Audio of a generated clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioSpec {
    /// 1 (mono), 2 (stereo), 6 (5.1), … up to 8; FFmpeg's default layout for the count.
    pub channels: u32,
    /// Must be a rate the AAC encoder supports (8000 … 96000, e.g. 44100 or 48000).
    pub sample_rate: u32,
}

/// What to generate. `ClipSpec::new(w, h, fps, seconds)` is a silent video clip.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipSpec {
    pub width: u32,
    pub height: u32,
    /// Nominal frame rate (1..=240).
    pub fps: u32,
    /// Duration in seconds (0 < seconds <= 3600).
    pub seconds: f64,
    pub audio: Option<AudioSpec>,
    /// `false` for an audio-only file (then `audio` must be set).
    pub video: bool,
    /// Clockwise display rotation written as display-matrix side data (0, 90, 180, 270).
    pub rotation: Option<i32>,
    /// Variable frame rate: dropped frames and jittered timestamps.
    pub vfr: bool,
}

impl ClipSpec {
    pub fn new(width: u32, height: u32, fps: u32, seconds: f64) -> Self {
        Self {
            width,
            height,
            fps,
            seconds,
            audio: None,
            video: true,
            rotation: None,
            vfr: false,
        }
    }

    /// An audio-only clip.
    pub fn audio_only(channels: u32, sample_rate: u32, seconds: f64) -> Self {
        Self {
            audio: Some(AudioSpec {
                channels,
                sample_rate,
            }),
            video: false,
            ..Self::new(0, 0, 1, seconds)
        }
    }

    /// The same clip with audio.
    pub fn with_audio(mut self, channels: u32, sample_rate: u32) -> Self {
        self.audio = Some(AudioSpec {
            channels,
            sample_rate,
        });
        self
    }

    fn validate(&self) -> Result<()> {
        if !(self.seconds.is_finite() && self.seconds > 0.0 && self.seconds <= 3600.0) {
            bail!("seconds must be in (0, 3600]");
        }
        if !self.video && self.audio.is_none() {
            bail!("a clip needs video or audio");
        }
        if self.video {
            if !(2..=8192).contains(&self.width) || !(2..=8192).contains(&self.height) {
                bail!("video size must be 2..=8192 on both sides");
            }
            if !(1..=240).contains(&self.fps) {
                bail!("fps must be 1..=240");
            }
        }
        if let Some(a) = &self.audio {
            if !(1..=8).contains(&a.channels) {
                bail!("audio channels must be 1..=8");
            }
            if !(8_000..=96_000).contains(&a.sample_rate) {
                bail!("audio sample rate must be 8000..=96000");
            }
        }
        Ok(())
    }
}

/// Cut `path` to `keep_fraction` (0..=1) of its size, like an interrupted upload.
pub fn truncate_file(path: &Path, keep_fraction: f64) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    let len = file.metadata()?.len();
    let keep = (len as f64 * keep_fraction.clamp(0.0, 1.0)).floor() as u64;
    file.set_len(keep)
}

/// Render `spec` into `path` (container from the extension). Overwrites `path`.
pub fn generate_clip(spec: &ClipSpec, path: &Path) -> Result<()> {
    spec.validate()?;
    crate::media::transcode::init();
    ff::device::register_all();

    let path = absolute_utf8(path)?;
    let mut octx = format::output(&path).with_context(|| format!("create {path}"))?;
    let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);

    let mut video = if spec.video {
        Some(VideoGen::new(spec, &mut octx, global)?)
    } else {
        None
    };
    let mut audio = match &spec.audio {
        Some(a) => Some(AudioGen::new(spec, a, &mut octx, global)?),
        None => None,
    };

    let mut options = Dictionary::new();
    let format_name = octx.format().name().to_string();
    if ["mp4", "mov", "ipod"]
        .iter()
        .any(|f| format_name.contains(f))
    {
        options.set("movflags", "+faststart");
    }
    octx.write_header_with(options).context("write header")?;
    if let Some(v) = video.as_mut() {
        v.ost_tb = stream_tb(&octx, v.ost_index)?;
    }
    if let Some(a) = audio.as_mut() {
        a.ost_tb = stream_tb(&octx, a.ost_index)?;
    }

    // Interleave: always advance the source that is furthest behind.
    loop {
        let v_time = video.as_ref().filter(|v| !v.done).map(|v| v.time_s());
        let a_time = audio.as_ref().filter(|a| !a.done).map(|a| a.time_s());
        match (v_time, a_time) {
            (None, None) => break,
            (Some(vt), Some(at)) if at < vt => {
                if let Some(a) = audio.as_mut() {
                    a.step(&mut octx)?;
                }
            }
            (Some(_), _) => {
                if let Some(v) = video.as_mut() {
                    v.step(&mut octx)?;
                }
            }
            (None, Some(_)) => {
                if let Some(a) = audio.as_mut() {
                    a.step(&mut octx)?;
                }
            }
        }
    }
    octx.write_trailer().context("write trailer")?;
    Ok(())
}

fn absolute_utf8(path: &Path) -> Result<String> {
    let abs: PathBuf = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let text = abs
        .to_str()
        .ok_or_else(|| anyhow!("path is not UTF-8: {}", abs.display()))?;
    if text.contains('\0') {
        bail!("path contains NUL");
    }
    Ok(text.to_string())
}

fn stream_tb(octx: &format::context::Output, index: usize) -> Result<Rational> {
    octx.stream(index)
        .map(|s| s.time_base())
        .ok_or_else(|| anyhow!("output stream {index} missing"))
}

fn open_lavfi(graph: &str) -> Result<format::context::Input> {
    let name = std::ffi::CString::new("lavfi")?;
    // SAFETY: `name` is a valid C string; FFmpeg returns a pointer to a static demuxer
    // description, or null when the device is not registered.
    let ptr = unsafe { ff::ffi::av_find_input_format(name.as_ptr()) };
    if ptr.is_null() {
        bail!("FFmpeg's lavfi input device is not available");
    }
    // SAFETY: non-null pointer to an immutable AVInputFormat with static lifetime.
    let lavfi = ff::Format::Input(unsafe { format::Input::wrap(ptr.cast_mut()) });
    match format::open(&graph, &lavfi).with_context(|| format!("lavfi {graph}"))? {
        format::context::Context::Input(input) => Ok(input),
        format::context::Context::Output(_) => bail!("lavfi opened as output"),
    }
}

fn write_packets(
    enc: &mut encoder::Encoder,
    octx: &mut format::context::Output,
    index: usize,
    enc_tb: Rational,
    ost_tb: Rational,
    default_duration: i64,
) -> Result<()> {
    loop {
        let mut packet = Packet::empty();
        match enc.receive_packet(&mut packet) {
            Ok(()) => {
                packet.set_stream(index);
                if packet.duration() <= 0 {
                    packet.set_duration(default_duration);
                }
                packet.rescale_ts(enc_tb, ost_tb);
                packet.set_position(-1);
                packet.write_interleaved(octx).context("write packet")?;
            }
            Err(ff::Error::Eof) => return Ok(()),
            Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => return Ok(()),
            Err(e) => return Err(e).context("encode"),
        }
    }
}

struct VideoGen {
    input: format::context::Input,
    decoder: decoder::Video,
    in_tb: Rational,
    scaler: Option<scaling::Context>,
    encoder: encoder::Video,
    enc_tb: Rational,
    ost_index: usize,
    ost_tb: Rational,
    format: Pixel,
    width: u32,
    height: u32,
    fps: u32,
    vfr: bool,
    /// Index of the next CFR frame from lavfi (before VFR dropping).
    index: i64,
    last_pts: i64,
    done: bool,
}

/// Time base used for VFR clips (the MPEG 90 kHz clock).
const VFR_TB: i32 = 90_000;

impl VideoGen {
    fn new(spec: &ClipSpec, octx: &mut format::context::Output, global: bool) -> Result<Self> {
        let graph = format!(
            "testsrc2=size={}x{}:rate={}:duration={}",
            spec.width, spec.height, spec.fps, spec.seconds
        );
        let input = open_lavfi(&graph)?;
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .ok_or_else(|| anyhow!("lavfi produced no video"))?;
        let in_tb = stream.time_base();
        let decoder = codec::context::Context::from_parameters(stream.parameters())?
            .decoder()
            .video()?;

        let odd = spec.width % 2 == 1 || spec.height % 2 == 1;
        let format = if odd { Pixel::YUV444P } else { Pixel::YUV420P };
        let fps = i32::try_from(spec.fps)?;
        let enc_tb = if spec.vfr {
            Rational::new(1, VFR_TB)
        } else {
            Rational::new(1, fps)
        };
        let codec = encoder::find_by_name("libx264").ok_or_else(|| anyhow!("no libx264"))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()?;
        enc.set_width(spec.width);
        enc.set_height(spec.height);
        enc.set_format(format);
        enc.set_time_base(enc_tb);
        enc.set_frame_rate(Some(Rational::new(fps, 1)));
        enc.set_gop(spec.fps.saturating_mul(2));
        if global {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = Dictionary::new();
        opts.set("preset", "ultrafast");
        opts.set("crf", "28");
        opts.set("threads", "auto");
        let encoder = enc.open_with(opts).context("open libx264")?;

        let ost_index = {
            let mut ost = octx.add_stream(codec)?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
            if !spec.vfr {
                ost.set_avg_frame_rate(Rational::new(fps, 1));
            }
            if let Some(rotation) = spec.rotation {
                set_display_rotation(&mut ost, rotation)?;
            }
            ost.index()
        };
        Ok(Self {
            input,
            decoder,
            in_tb,
            scaler: None,
            encoder,
            enc_tb,
            ost_index,
            ost_tb: enc_tb,
            format,
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
            vfr: spec.vfr,
            index: 0,
            last_pts: -1,
            done: false,
        })
    }

    fn time_s(&self) -> f64 {
        self.index as f64 / f64::from(self.fps)
    }

    /// Timestamp (in `enc_tb`) of CFR frame `i`, or `None` when the VFR pattern drops it.
    fn timestamp(&self, i: i64) -> Option<i64> {
        if !self.vfr {
            return Some(i);
        }
        if i > 0 && (i % 7 == 3 || i % 11 == 5) {
            return None;
        }
        let interval = f64::from(VFR_TB) / f64::from(self.fps);
        // Deterministic jitter in [-0.15, +0.15] of a frame interval; frame 0 stays at 0.
        let jitter = if i == 0 {
            0.0
        } else {
            ((i * 37) % 17) as f64 / 16.0 * 0.3 - 0.15
        };
        Some(((i as f64 + jitter) * interval).round() as i64)
    }

    fn step(&mut self, octx: &mut format::context::Output) -> Result<()> {
        let mut packet = Packet::empty();
        match packet.read(&mut self.input) {
            Ok(()) => {
                self.decoder.send_packet(&packet)?;
                self.receive(octx)
            }
            Err(ff::Error::Eof) => {
                self.decoder.send_eof()?;
                self.receive(octx)?;
                self.encoder.send_eof()?;
                self.flush(octx)?;
                self.done = true;
                Ok(())
            }
            Err(e) => Err(e).context("read lavfi video"),
        }
    }

    fn receive(&mut self, octx: &mut format::context::Output) -> Result<()> {
        let mut decoded = frame::Video::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            let i = decoded
                .timestamp()
                .map(|ts| ff::Rescale::rescale(&ts, self.in_tb, Rational::new(1, self.fps as i32)))
                .unwrap_or(self.index);
            self.index = i.max(self.index) + 1;
            let Some(pts) = self.timestamp(i) else {
                continue;
            };
            if pts <= self.last_pts {
                continue;
            }
            self.last_pts = pts;
            if self.scaler.is_none() {
                self.scaler = Some(scaling::Context::get(
                    decoded.format(),
                    decoded.width(),
                    decoded.height(),
                    self.format,
                    self.width,
                    self.height,
                    scaling::Flags::BILINEAR,
                )?);
            }
            let mut out = frame::Video::new(self.format, self.width, self.height);
            if let Some(s) = self.scaler.as_mut() {
                s.run(&decoded, &mut out)?;
            }
            out.set_pts(Some(pts));
            self.encoder.send_frame(&out)?;
            self.flush(octx)?;
        }
        Ok(())
    }

    fn flush(&mut self, octx: &mut format::context::Output) -> Result<()> {
        let duration = if self.vfr {
            i64::from(VFR_TB) / i64::from(self.fps)
        } else {
            1
        };
        write_packets(
            &mut self.encoder,
            octx,
            self.ost_index,
            self.enc_tb,
            self.ost_tb,
            duration,
        )
    }
}

/// The display matrix a phone writes for a clip that must be turned `rotation_cw` degrees
/// clockwise (QuickTime `tkhd` layout `[a b u; c d v; x y w]`, 16.16 fixed point except the
/// 2.30 `w`): `a = d = cos θ`, `b = sin θ`, `c = -sin θ`. For 90° that is `b = 1, c = -1`,
/// which ffprobe reports as "rotation of -90.00 degrees" and the ffmpeg CLI autorotates with
/// `transpose=clock`.
pub fn display_matrix(rotation_cw: i32) -> [i32; 9] {
    let theta = f64::from(rotation_cw).to_radians();
    let fixed = |x: f64| (x * 65536.0).round() as i32;
    let (sin, cos) = theta.sin_cos();
    [
        fixed(cos),
        fixed(sin),
        0,
        fixed(-sin),
        fixed(cos),
        0,
        0,
        0,
        1 << 30,
    ]
}

/// Attach a display matrix saying "rotate the coded picture `rotation_cw` degrees clockwise".
fn set_display_rotation(ost: &mut ff::StreamMut<'_>, rotation_cw: i32) -> Result<()> {
    let matrix = display_matrix(rotation_cw);
    let bytes: Vec<u8> = matrix.iter().flat_map(|v| v.to_ne_bytes()).collect();
    // SAFETY: `ost` is a live stream of an output context that has not written its header;
    // av_stream_new_side_data returns a buffer of exactly `bytes.len()` bytes owned by the
    // stream (or null on allocation failure), and we copy exactly that many bytes into it.
    unsafe {
        let data = ff::ffi::av_stream_new_side_data(
            ost.as_mut_ptr(),
            ff::ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            bytes.len(),
        );
        if data.is_null() {
            bail!("cannot allocate display matrix side data");
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
    }
    Ok(())
}

struct AudioGen {
    input: format::context::Input,
    decoder: decoder::Audio,
    resampler: Option<resampling::Context>,
    encoder: encoder::Audio,
    layout: ChannelLayout,
    channels: usize,
    rate: u32,
    frame_size: usize,
    fifo: Vec<Vec<f32>>,
    samples: i64,
    enc_tb: Rational,
    ost_index: usize,
    ost_tb: Rational,
    done: bool,
}

impl AudioGen {
    fn new(
        spec: &ClipSpec,
        a: &AudioSpec,
        octx: &mut format::context::Output,
        global: bool,
    ) -> Result<Self> {
        let channels = i32::try_from(a.channels)?;
        let layout = ChannelLayout::default(channels);
        let graph = if a.channels == 1 {
            format!(
                "sine=frequency=440:sample_rate={}:duration={}",
                a.sample_rate, spec.seconds
            )
        } else {
            // A distinct tone per channel (220 Hz steps), so a downmix is audible and testable.
            let exprs: Vec<String> = (0..a.channels)
                .map(|k| format!("0.3*sin({}*2*PI*t)", 220 * (k + 2)))
                .collect();
            format!(
                "aevalsrc=exprs={}:s={}:d={}:c=0x{:x}",
                exprs.join("|"),
                a.sample_rate,
                spec.seconds,
                layout.bits()
            )
        };
        let input = open_lavfi(&graph)?;
        let stream = input
            .streams()
            .best(ff::media::Type::Audio)
            .ok_or_else(|| anyhow!("lavfi produced no audio"))?;
        let decoder = codec::context::Context::from_parameters(stream.parameters())?
            .decoder()
            .audio()?;

        let codec = encoder::find_by_name("aac").ok_or_else(|| anyhow!("no aac encoder"))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()?;
        let rate = i32::try_from(a.sample_rate)?;
        let enc_tb = Rational::new(1, rate);
        enc.set_rate(rate);
        enc.set_channel_layout(layout);
        enc.set_channels(channels);
        enc.set_format(Sample::F32(format::sample::Type::Planar));
        enc.set_bit_rate(64_000 * a.channels as usize);
        enc.set_time_base(enc_tb);
        if global {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = enc.open_as(codec).context("open aac")?;
        let frame_size = match encoder.frame_size() {
            0 => 1024,
            n => n as usize,
        };
        let ost_index = {
            let mut ost = octx.add_stream(codec)?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
            ost.index()
        };
        Ok(Self {
            input,
            decoder,
            resampler: None,
            encoder,
            layout,
            channels: a.channels as usize,
            rate: a.sample_rate,
            frame_size,
            fifo: vec![Vec::new(); a.channels as usize],
            samples: 0,
            enc_tb,
            ost_index,
            ost_tb: enc_tb,
            done: false,
        })
    }

    fn time_s(&self) -> f64 {
        self.samples as f64 / f64::from(self.rate)
    }

    fn step(&mut self, octx: &mut format::context::Output) -> Result<()> {
        let mut packet = Packet::empty();
        match packet.read(&mut self.input) {
            Ok(()) => {
                self.decoder.send_packet(&packet)?;
                self.receive(octx)
            }
            Err(ff::Error::Eof) => {
                self.decoder.send_eof()?;
                self.receive(octx)?;
                let rest = self.fifo[0].len();
                if rest > 0 {
                    self.encode(rest, octx)?;
                }
                self.encoder.send_eof()?;
                self.flush(octx)?;
                self.done = true;
                Ok(())
            }
            Err(e) => Err(e).context("read lavfi audio"),
        }
    }

    fn receive(&mut self, octx: &mut format::context::Output) -> Result<()> {
        let mut decoded = frame::Audio::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            if decoded.channel_layout().bits() == 0 {
                decoded.set_channel_layout(self.layout);
            }
            if self.resampler.is_none() {
                self.resampler = Some(resampling::Context::get(
                    decoded.format(),
                    decoded.channel_layout(),
                    decoded.rate(),
                    Sample::F32(format::sample::Type::Planar),
                    self.layout,
                    self.rate,
                )?);
            }
            let mut out = frame::Audio::new(
                Sample::F32(format::sample::Type::Planar),
                decoded.samples() + 256,
                self.layout,
            );
            if let Some(r) = self.resampler.as_mut() {
                r.run(&decoded, &mut out)?;
            }
            let n = out.samples();
            if out.planes() < self.channels {
                bail!("resampler returned {} planes", out.planes());
            }
            for ch in 0..self.channels {
                let data = out.plane::<f32>(ch);
                self.fifo[ch].extend_from_slice(&data[..n.min(data.len())]);
            }
            while self.fifo[0].len() >= self.frame_size {
                self.encode(self.frame_size, octx)?;
            }
        }
        Ok(())
    }

    fn encode(&mut self, n: usize, octx: &mut format::context::Output) -> Result<()> {
        let mut chunk =
            frame::Audio::new(Sample::F32(format::sample::Type::Planar), n, self.layout);
        chunk.set_rate(self.rate);
        if chunk.planes() < self.channels {
            bail!("cannot allocate an audio frame");
        }
        for ch in 0..self.channels {
            let dst = chunk.plane_mut::<f32>(ch);
            let take = n.min(dst.len()).min(self.fifo[ch].len());
            dst[..take].copy_from_slice(&self.fifo[ch][..take]);
            self.fifo[ch].drain(..take);
        }
        chunk.set_pts(Some(self.samples));
        self.samples += n as i64;
        self.encoder.send_frame(&chunk)?;
        self.flush(octx)
    }

    fn flush(&mut self, octx: &mut format::context::Output) -> Result<()> {
        write_packets(
            &mut self.encoder,
            octx,
            self.ost_index,
            self.enc_tb,
            self.ost_tb,
            self.frame_size as i64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_validated() {
        assert!(ClipSpec::new(320, 240, 25, 1.0).validate().is_ok());
        assert!(ClipSpec::audio_only(2, 48_000, 1.0).validate().is_ok());
        assert!(ClipSpec::new(320, 240, 0, 1.0).validate().is_err());
        assert!(ClipSpec::new(1, 240, 25, 1.0).validate().is_err());
        assert!(ClipSpec::new(320, 240, 25, f64::NAN).validate().is_err());
        assert!(ClipSpec::new(320, 240, 25, 0.0).validate().is_err());
        let silent_nothing = ClipSpec {
            video: false,
            ..ClipSpec::new(320, 240, 25, 1.0)
        };
        assert!(silent_nothing.validate().is_err());
        assert!(ClipSpec::new(320, 240, 25, 1.0)
            .with_audio(9, 48_000)
            .validate()
            .is_err());
        assert!(generate_clip(&ClipSpec::new(320, 240, 0, 1.0), Path::new("/tmp/x.mp4")).is_err());
    }

    #[test]
    fn truncate_keeps_the_requested_fraction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        truncate_file(&path, 0.25).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 250);
        truncate_file(&path, 2.0).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 250);
    }

    #[test]
    fn display_matrix_for_a_portrait_phone_clip() {
        assert_eq!(
            display_matrix(90),
            [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]
        );
        assert_eq!(display_matrix(0), [65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]);
    }
}
