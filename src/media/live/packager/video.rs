//! Lower rungs (and the top rung when the source is not H.264): decode the source once, scale
//! per rung and encode with libx264, forcing an IDR frame at every source keyframe instant so
//! the rungs cut their segments where the copied top rung does.

use super::fmp4::StreamSource;
use super::output::{Boundary, RenditionOut, RenditionSpec};
use super::types::{
    enc_err, is_again_or_eof, PackagerError, PackagerEvent, PackagerOptions, TL, X264_CRF,
    X264_PRESET,
};
use crate::media::ladder::Rendition;
use ff::format::Pixel;
use ff::software::scaling;
use ff::{codec, decoder, encoder, frame, picture, Dictionary, Packet, Rational, Rescale};
use ffmpeg_next as ff;
use std::collections::BTreeSet;
use std::path::Path;

/// The source video decoder, shared by every encoded rung.
pub(super) struct VideoDecoder {
    decoder: decoder::Video,
    in_tb: Rational,
    /// Timeline instants of source keyframes not yet decoded.
    key_tl: BTreeSet<i64>,
    pub decode_errors: u64,
}

impl VideoDecoder {
    pub(super) fn new(stream: &ff::Stream, threads: usize) -> Result<Self, PackagerError> {
        let mut ctx =
            codec::context::Context::from_parameters(stream.parameters()).map_err(enc_err)?;
        ctx.set_threading(ff::threading::Config {
            kind: ff::threading::Type::Frame,
            count: threads,
            ..Default::default()
        });
        let mut dec = ctx.decoder();
        dec.set_packet_time_base(stream.time_base());
        let decoder = dec
            .video()
            .map_err(|e| PackagerError::Unsupported(format!("video decoder: {e}")))?;
        Ok(Self {
            decoder,
            in_tb: stream.time_base(),
            key_tl: BTreeSet::new(),
            decode_errors: 0,
        })
    }

    /// Picture size as the demuxer's probe reported it.
    pub(super) fn size(&self) -> (u32, u32) {
        (self.decoder.width(), self.decoder.height())
    }

    /// Bit rate the demuxer reported (0 when unknown).
    pub(super) fn bit_rate(&self) -> usize {
        self.decoder.bit_rate()
    }

    /// Decode `packet` (source time base) and hand each frame to every active rung.
    pub(super) fn send(
        &mut self,
        packet: &Packet,
        key_tl: Option<i64>,
        shift: i64,
        rungs: &mut [EncodedRung],
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        if let Some(k) = key_tl {
            self.key_tl.insert(k);
        }
        if self.decoder.send_packet(packet).is_err() {
            self.decode_errors += 1;
        }
        self.receive(shift, rungs, boundaries, emit)
    }

    /// End of input: decode what the decoder still holds, then flush every encoder.
    pub(super) fn finish(
        &mut self,
        shift: i64,
        rungs: &mut [EncodedRung],
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        if self.decoder.send_eof().is_ok() {
            self.receive(shift, rungs, boundaries, emit)?;
        }
        for rung in rungs.iter_mut().filter(|r| r.out.active) {
            rung.encoder.send_eof().map_err(enc_err)?;
            rung.drain(boundaries, emit)?;
        }
        Ok(())
    }

    fn receive(
        &mut self,
        shift: i64,
        rungs: &mut [EncodedRung],
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        for _ in 0..1000 {
            let mut decoded = frame::Video::empty();
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {}
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(_) => {
                    self.decode_errors += 1;
                    continue;
                }
            }
            let Some(ts) = decoded.timestamp().or(decoded.pts()) else {
                continue;
            };
            let tl = ts.rescale(self.in_tb, TL).saturating_add(shift);
            // Forget keyframe instants already passed; force an IDR on this one if it is one.
            let force = self.key_tl.remove(&tl);
            self.key_tl = self.key_tl.split_off(&tl);
            for rung in rungs.iter_mut().filter(|r| r.out.active) {
                rung.encode(&decoded, tl, force, boundaries, emit)?;
            }
        }
        Ok(())
    }
}

/// One encoded rung: scaler, libx264 and the rendition output.
pub(super) struct EncodedRung {
    pub out: RenditionOut,
    encoder: encoder::Video,
    scaler: Option<scaling::Context>,
}

impl EncodedRung {
    pub(super) fn new(
        root: &Path,
        rendition: &Rendition,
        frame_rate: Rational,
        opts: &PackagerOptions,
    ) -> Result<Self, PackagerError> {
        let codec = encoder::find_by_name("libx264")
            .ok_or_else(|| PackagerError::Encode("libx264 is not available".into()))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(enc_err)?;
        enc.set_width(rendition.width);
        enc.set_height(rendition.height);
        enc.set_format(Pixel::YUV420P);
        enc.set_time_base(TL);
        enc.set_frame_rate(Some(frame_rate));
        enc.set_aspect_ratio(Rational::new(1, 1));
        enc.set_max_bit_rate(usize::try_from(rendition.max_video_bitrate).unwrap_or(usize::MAX));
        // The mp4 muxer wants the SPS/PPS in the init segment.
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
        // Keyframes come from the source (forced IDR); x264's own only if the source's GOP
        // is very long.
        let keyint = ((f64::from(frame_rate.numerator())
            / f64::from(frame_rate.denominator().max(1)))
            * opts.segment_target.as_secs_f64()
            * 5.0)
            .round()
            .clamp(10.0, 1000.0) as u32;
        let mut x264 = Dictionary::new();
        x264.set("preset", X264_PRESET);
        x264.set("profile", "high");
        x264.set("crf", X264_CRF);
        x264.set("maxrate", &rendition.max_video_bitrate.to_string());
        x264.set(
            "bufsize",
            &rendition.max_video_bitrate.saturating_mul(2).to_string(),
        );
        x264.set("forced-idr", "1");
        let threads = if opts.threads == 0 {
            "auto".to_string()
        } else {
            opts.threads.to_string()
        };
        x264.set("threads", &threads);
        x264.set(
            "x264-params",
            &format!("keyint={keyint}:scenecut=0:open-gop=0:rc-lookahead=10"),
        );
        let encoder = enc.open_with(x264).map_err(enc_err)?;
        let spec = RenditionSpec {
            name: rendition.name.clone(),
            width: rendition.width,
            height: rendition.height,
            frame_rate: f64::from(frame_rate.numerator())
                / f64::from(frame_rate.denominator().max(1)),
            passthrough: false,
            audio: false,
            planned_bandwidth: rendition.max_video_bitrate,
        };
        let out = RenditionOut::create(
            root,
            spec,
            StreamSource::Encoded(codec::Parameters::from(&encoder), TL),
            opts.window,
            opts.segment_target,
            opts.part_target,
        )?;
        Ok(Self {
            out,
            encoder,
            scaler: None,
        })
    }

    fn encode(
        &mut self,
        src: &frame::Video,
        tl: i64,
        force_key: bool,
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        let (w, h) = (self.out.spec.width, self.out.spec.height);
        let stale = self.scaler.as_ref().is_none_or(|s| {
            let i = s.input();
            i.format != src.format() || i.width != src.width() || i.height != src.height()
        });
        if stale {
            self.scaler = Some(
                scaling::Context::get(
                    src.format(),
                    src.width(),
                    src.height(),
                    Pixel::YUV420P,
                    w,
                    h,
                    scaling::Flags::BICUBIC,
                )
                .map_err(enc_err)?,
            );
        }
        let scaler = self
            .scaler
            .as_mut()
            .ok_or_else(|| PackagerError::Encode("no scaler".into()))?;
        let mut scaled = frame::Video::new(Pixel::YUV420P, w, h);
        scaler.run(src, &mut scaled).map_err(enc_err)?;
        scaled.set_pts(Some(tl));
        scaled.set_kind(if force_key {
            picture::Type::I
        } else {
            picture::Type::None
        });
        self.encoder.send_frame(&scaled).map_err(enc_err)?;
        self.drain(boundaries, emit)
    }

    fn drain(
        &mut self,
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => self.out.push(packet, boundaries, emit)?,
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(enc_err(e)),
            }
        }
    }
}
