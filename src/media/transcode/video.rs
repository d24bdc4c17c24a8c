//! The video pipe: decode, normalise, run the filter graph (rotation, constant frame rate),
//! then hand every frame to each rung of the ladder and to the poster.

use super::decode::{self, DecodingPipe};
use super::probe::{frame_rate, open_video_decoder};
use super::progress::Reporter;
use super::rung::RungEncoder;
use super::types::{
    enc_err, is_again_or_eof, TranscodeError, TranscodeOptions, LEAD_FRAMES, POSTER,
};
use crate::media::ladder::{FrameRate, Plan};
use ff::format::Pixel;
use ff::software::scaling;
use ff::{codec, decoder, encoder, filter, frame, Packet, Rational, Rescale};
use ffmpeg_next as ff;
use std::fs;
use std::path::{Path, PathBuf};

/// Writes `poster.jpg`: the first frame as soon as it exists, replaced by the frame ~10% in.
pub(super) struct Poster {
    path: PathBuf,
    width: u32,
    height: u32,
    target_s: f64,
    written: bool,
    pub(super) done: bool,
}

impl Poster {
    /// A poster of `width`×`height` at `dir/poster.jpg`, taken ~10% into `duration_s`.
    pub(super) fn new(dir: &Path, width: u32, height: u32, duration_s: Option<f64>) -> Self {
        Poster {
            path: dir.join(POSTER),
            width,
            height,
            target_s: duration_s.map(|d| d * 0.1).unwrap_or(0.0),
            written: false,
            done: false,
        }
    }

    pub(super) fn offer(&mut self, src: &frame::Video, t: f64) -> Result<(), TranscodeError> {
        if self.done {
            return Ok(());
        }
        let at_target = t >= self.target_s;
        if at_target || !self.written {
            let jpeg = encode_jpeg(src, self.width, self.height)?;
            fs::write(&self.path, jpeg)?;
            self.written = true;
            self.done = at_target;
        }
        Ok(())
    }
}

fn encode_jpeg(src: &frame::Video, width: u32, height: u32) -> Result<Vec<u8>, TranscodeError> {
    let mut scaler = scaling::Context::get(
        src.format(),
        src.width(),
        src.height(),
        Pixel::YUVJ420P,
        width,
        height,
        scaling::Flags::BICUBIC,
    )
    .map_err(enc_err)?;
    let mut scaled = frame::Video::new(Pixel::YUVJ420P, width, height);
    scaler.run(src, &mut scaled).map_err(enc_err)?;
    scaled.set_pts(Some(0));
    scaled.set_color_range(ff::color::Range::JPEG);

    let codec = encoder::find(codec::Id::MJPEG)
        .ok_or_else(|| TranscodeError::Encode("mjpeg encoder is not available".into()))?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(enc_err)?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base(Rational::new(1, 25));
    enc.set_color_range(ff::color::Range::JPEG);
    enc.set_flags(codec::Flags::QSCALE);
    // qscale 3 (FF_QP2LAMBDA = 118): good quality, small file.
    enc.set_global_quality(3 * 118);
    let mut enc = enc.open_as(codec).map_err(enc_err)?;
    enc.send_frame(&scaled).map_err(enc_err)?;
    enc.send_eof().map_err(enc_err)?;
    let mut packet = Packet::empty();
    enc.receive_packet(&mut packet).map_err(enc_err)?;
    packet
        .data()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| TranscodeError::Encode("empty poster".into()))
}

pub(super) struct VideoPipe {
    pub(super) stream_index: usize,
    decoder: decoder::Video,
    t0_ts: i64,
    /// Frames after this timestamp (stream time base) are dropped as damaged.
    max_ts: i64,
    bogus_timestamps: u64,
    /// Duration of one source frame in `in_tb`, to extrapolate missing timestamps.
    frame_step: i64,
    last_pts: Option<i64>,
    graph: filter::Graph,
    /// Format and size the filter graph was configured for.
    graph_input: (Pixel, u32, u32),
    /// Converts frames whose size/format changed mid-stream back to `graph_input`.
    normalizer: Option<scaling::Context>,
    sink_tb: Rational,
    out_tb: Rational,
    out_step_s: f64,
    pub(super) rungs: Vec<RungEncoder>,
    poster: Poster,
    pub(super) frames_out: u64,
    next_out_pts: i64,
    /// End of the last decoded frame (in the stream time base), to close the graph there.
    last_end: Option<i64>,
    pub(super) decode_errors: u64,
    pub(super) warnings: Vec<String>,
}

fn build_video_graph(
    format: Pixel,
    width: u32,
    height: u32,
    tb: Rational,
    sar: Rational,
    rotation: u32,
    fps: FrameRate,
) -> Result<filter::Graph, ff::Error> {
    let mut graph = filter::Graph::new();
    let pix: ff::ffi::AVPixelFormat = format.into();
    let (sar_num, sar_den) = match (sar.numerator(), sar.denominator()) {
        (n, d) if n > 0 && d > 0 => (n, d),
        _ => (1, 1),
    };
    let args = format!(
        "video_size={width}x{height}:pix_fmt={}:time_base={}/{}:pixel_aspect={sar_num}/{sar_den}",
        pix as i32,
        tb.numerator(),
        tb.denominator().max(1),
    );
    let buffer = filter::find("buffer").ok_or(ff::Error::FilterNotFound)?;
    let sink = filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?;
    graph.add(&buffer, "in", &args)?;
    graph.add(&sink, "out", "")?;
    let mut chain: Vec<String> = Vec::new();
    match rotation {
        90 => chain.push("transpose=clock".into()),
        180 => chain.push("hflip,vflip".into()),
        270 => chain.push("transpose=cclock".into()),
        _ => {}
    }
    // Constant frame rate: duplicate/drop by timestamp; start_time=0 pads the start so the
    // video begins at the common time origin like the audio.
    chain.push(format!(
        "fps=fps={}/{}:start_time=0:round=near",
        fps.num, fps.den
    ));
    graph
        .output("in", 0)?
        .input("out", 0)?
        .parse(&chain.join(","))?;
    graph.validate()?;
    Ok(graph)
}

impl VideoPipe {
    pub(super) fn new(
        stream: &ff::Stream,
        plan: &Plan,
        dir: &Path,
        opts: &TranscodeOptions,
        t0_ts: i64,
        duration_s: Option<f64>,
        max_ts_s: f64,
    ) -> Result<Self, TranscodeError> {
        let decoder = open_video_decoder(stream, opts.threads)
            .map_err(|e| TranscodeError::Decode(format!("video decoder: {e}")))?;
        let in_tb = stream.time_base();
        let graph_input = (decoder.format(), decoder.width(), decoder.height());
        let mut graph = build_video_graph(
            graph_input.0,
            graph_input.1,
            graph_input.2,
            in_tb,
            decoder.aspect_ratio(),
            plan.rotation,
            plan.fps,
        )
        .map_err(|e| TranscodeError::Decode(format!("video filter graph: {e}")))?;
        let sink_tb = graph
            .get("out")
            .map(|mut s| s.sink().time_base())
            .ok_or_else(|| TranscodeError::Decode("filter graph has no sink".into()))?;
        let out_tb = Rational::new(
            i32::try_from(plan.fps.den).map_err(enc_err)?,
            i32::try_from(plan.fps.num).map_err(enc_err)?,
        );
        let src_fps = frame_rate(stream.avg_frame_rate())
            .or(frame_rate(stream.rate()))
            .map(|f| f.as_f64())
            .unwrap_or(25.0);
        let frame_step = ((1.0 / src_fps) / f64::from(in_tb)).round().max(1.0) as i64;
        let max_ts = (max_ts_s / f64::from(in_tb)).min(i64::MAX as f64 / 2.0) as i64;

        let mut rungs = Vec::with_capacity(plan.renditions.len());
        for rendition in &plan.renditions {
            rungs.push(RungEncoder::new(
                rendition,
                dir.join(&rendition.name),
                opts,
                super::rung::Timing::Cfr,
            )?);
        }
        let top = plan
            .renditions
            .first()
            .ok_or_else(|| TranscodeError::InvalidOptions("empty ladder".into()))?;
        let poster = Poster::new(dir, top.width, top.height, duration_s);
        Ok(Self {
            stream_index: stream.index(),
            decoder,
            t0_ts,
            max_ts,
            bogus_timestamps: 0,
            frame_step,
            last_pts: None,
            graph,
            graph_input,
            normalizer: None,
            sink_tb,
            out_tb,
            out_step_s: f64::from(out_tb),
            rungs,
            poster,
            frames_out: 0,
            next_out_pts: 0,
            last_end: None,
            decode_errors: 0,
            warnings: Vec::new(),
        })
    }

    pub(super) fn out_time_s(&self) -> f64 {
        self.next_out_pts as f64 * self.out_step_s
    }

    fn push_decoded(
        &mut self,
        decoded: frame::Video,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let pts = match decoded.timestamp().or(decoded.pts()) {
            Some(ts) => ts.saturating_sub(self.t0_ts),
            None => self
                .last_pts
                .map(|p| p.saturating_add(self.frame_step))
                .unwrap_or(0),
        };
        if pts > self.max_ts {
            self.bogus_timestamps += 1;
            return Ok(());
        }
        self.last_pts = Some(pts);
        let duration = match decoded.packet().duration {
            d if d > 0 => d,
            _ => self.frame_step,
        };
        let end = pts.saturating_add(duration);
        self.last_end = Some(self.last_end.map_or(end, |e| e.max(end)));

        let (fmt, w, h) = self.graph_input;
        let mut frame_in =
            if decoded.format() != fmt || decoded.width() != w || decoded.height() != h {
                // Size or pixel format changed mid-stream (spliced or damaged file): convert back
                // to what the graph was configured with instead of rebuilding it.
                if decoded.width() == 0 || decoded.height() == 0 || decoded.format() == Pixel::None
                {
                    self.decode_errors += 1;
                    return Ok(());
                }
                let stale = self.normalizer.as_ref().is_none_or(|s| {
                    let i = s.input();
                    i.format != decoded.format()
                        || i.width != decoded.width()
                        || i.height != decoded.height()
                });
                if stale {
                    let Ok(normalizer) = scaling::Context::get(
                        decoded.format(),
                        decoded.width(),
                        decoded.height(),
                        fmt,
                        w,
                        h,
                        scaling::Flags::BICUBIC,
                    ) else {
                        self.decode_errors += 1; // unconvertible frame: skip it
                        return Ok(());
                    };
                    self.normalizer = Some(normalizer);
                    if !self
                        .warnings
                        .iter()
                        .any(|m| m.contains("changed size or format"))
                    {
                        self.warnings.push(
                            "video changed size or format mid-stream; frames were rescaled".into(),
                        );
                    }
                }
                let mut converted = frame::Video::new(fmt, w, h);
                let converted_ok = self
                    .normalizer
                    .as_mut()
                    .is_some_and(|n| n.run(&decoded, &mut converted).is_ok());
                if !converted_ok {
                    self.decode_errors += 1;
                    return Ok(());
                }
                converted
            } else {
                decoded
            };
        frame_in.set_pts(Some(pts));
        let mut source = self
            .graph
            .get("in")
            .ok_or_else(|| TranscodeError::Decode("filter graph has no source".into()))?;
        source
            .source()
            .add(&frame_in)
            .map_err(|e| TranscodeError::Decode(format!("filter graph: {e}")))?;
        self.drain_graph(rep)
    }

    fn drain_graph(&mut self, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        loop {
            let mut filtered = frame::Video::empty();
            let got = {
                let mut sink = self
                    .graph
                    .get("out")
                    .ok_or_else(|| TranscodeError::Decode("filter graph has no sink".into()))?;
                let mut sink = sink.sink();
                sink.frame(&mut filtered)
            };
            match got {
                Ok(()) => self.emit(&filtered, rep)?,
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(TranscodeError::Decode(format!("filter graph: {e}"))),
            }
        }
    }

    fn emit(
        &mut self,
        filtered: &frame::Video,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let pts = filtered
            .pts()
            .map(|p| p.rescale(self.sink_tb, self.out_tb))
            .unwrap_or(self.next_out_pts);
        if pts < self.next_out_pts {
            return Ok(()); // never go backwards (the fps filter does not, but be safe)
        }
        let t = pts as f64 * self.out_step_s;
        if let Err(e) = self.poster.offer(filtered, t) {
            if !self.warnings.iter().any(|m| m.starts_with("poster")) {
                self.warnings.push(format!("poster: {e}"));
            }
            self.poster.done = true;
        }
        for rung in &mut self.rungs {
            rung.encode(filtered, pts + LEAD_FRAMES, false)?;
        }
        self.frames_out += 1;
        self.next_out_pts = pts + 1;
        rep.tick(self.out_time_s())
    }

    pub(super) fn finish(&mut self, reporter: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        decode::finish(self, reporter)?;
        if self.bogus_timestamps > 0 {
            self.warnings.push(format!(
                "video: {} frame(s) with impossible timestamps were dropped",
                self.bogus_timestamps
            ));
        }
        {
            let mut source = self
                .graph
                .get("in")
                .ok_or_else(|| TranscodeError::Decode("filter graph has no source".into()))?;
            // Close at the end of the last frame (not its start), so the fps filter emits the
            // last frame's slot too.
            let mut source = source.source();
            let closed = match self.last_end {
                Some(end) => source.close(end),
                None => source.flush(),
            };
            closed.map_err(|e| TranscodeError::Decode(format!("filter graph: {e}")))?;
        }
        self.drain_graph(reporter)?;
        let produced = self.frames_out > 0;
        for rung in &mut self.rungs {
            rung.finish(produced)?;
        }
        Ok(())
    }
}

impl DecodingPipe for VideoPipe {
    type Frame = frame::Video;

    fn empty_frame() -> frame::Video {
        frame::Video::empty()
    }

    fn decoder(&mut self) -> &mut decoder::Opened {
        &mut self.decoder
    }

    fn count_decode_error(&mut self) {
        self.decode_errors += 1;
    }

    fn push_decoded(
        &mut self,
        decoded: frame::Video,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        VideoPipe::push_decoded(self, decoded, rep)
    }
}
