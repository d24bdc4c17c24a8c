//! One rung of the video ladder: scale the shared constant-frame-rate frames to the rung's
//! size, encode them with libx264 (the same GOP on every rung) and mux them into HLS.

use super::hls::{global_header, hls_output, write_hls_header};
use super::types::{
    enc_err, is_again_or_eof, out_err, RateControl, TranscodeError, TranscodeOptions, X264_CRF,
    X264_PRESET,
};
use crate::media::ladder::Rendition;
use ff::format::Pixel;
use ff::software::scaling;
use ff::{codec, encoder, format, frame, picture, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// How a rung's frames are timed and where its keyframes go.
pub(super) enum Timing {
    /// The standard path: constant frame rate (`rendition.fps`), a keyframe every
    /// `gop_seconds`, identical on every rung.
    Cfr,
    /// The fast path: the source's own timestamps in time base `tb`; keyframes only where the
    /// caller forces them (the source's keyframe instants). `durations` (by the pts given to
    /// [`RungEncoder::encode`]) gives each packet the source frame's duration, so the `hls`
    /// muxer computes the same EXTINF as for the copied rung.
    Source {
        tb: Rational,
        durations: Arc<HashMap<i64, i64>>,
    },
}

/// The encoder, scaler and muxer of one video rendition.
pub(super) struct RungEncoder {
    pub(super) rendition: Rendition,
    /// The rendition's folder: its playlist, init segment and segments.
    pub(super) dir: PathBuf,
    scaler: Option<scaling::Context>,
    encoder: encoder::Video,
    octx: format::context::Output,
    enc_tb: Rational,
    ost_tb: Rational,
    durations: Option<Arc<HashMap<i64, i64>>>,
}

impl RungEncoder {
    pub(super) fn new(
        rendition: &Rendition,
        dir: PathBuf,
        opts: &TranscodeOptions,
        timing: Timing,
    ) -> Result<Self, TranscodeError> {
        let mut octx = hls_output(&dir)?;
        let codec = encoder::find_by_name("libx264")
            .ok_or_else(|| TranscodeError::Encode("libx264 is not available".into()))?;
        let fps = rendition.fps;
        let (num, den) = (
            i32::try_from(fps.num).map_err(enc_err)?,
            i32::try_from(fps.den).map_err(enc_err)?,
        );
        let (enc_tb, durations) = match timing {
            Timing::Cfr => (Rational::new(den, num), None),
            Timing::Source { tb, durations } => (tb, Some(durations)),
        };
        let gop = ((f64::from(opts.gop_seconds) * fps.as_f64()).round() as u32).max(1);

        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(enc_err)?;
        enc.set_width(rendition.width);
        enc.set_height(rendition.height);
        enc.set_format(Pixel::YUV420P);
        enc.set_time_base(enc_tb);
        enc.set_frame_rate(Some(Rational::new(num, den)));
        enc.set_aspect_ratio(Rational::new(1, 1));
        if durations.is_none() {
            enc.set_gop(gop);
        }
        if opts.rate_control == RateControl::Bitrate {
            enc.set_bit_rate(usize::try_from(rendition.video_bitrate).unwrap_or(usize::MAX));
        }
        enc.set_max_bit_rate(usize::try_from(rendition.max_video_bitrate).unwrap_or(usize::MAX));
        if global_header(&octx) {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut x264 = Dictionary::new();
        x264.set("preset", X264_PRESET);
        x264.set("profile", "high");
        if opts.rate_control == RateControl::Crf {
            x264.set("crf", X264_CRF);
        }
        x264.set("maxrate", &rendition.max_video_bitrate.to_string());
        x264.set(
            "bufsize",
            &rendition.max_video_bitrate.saturating_mul(2).to_string(),
        );
        if durations.is_none() {
            x264.set("g", &gop.to_string());
            x264.set("keyint_min", &gop.to_string());
        }
        x264.set("sc_threshold", "0");
        let threads = if opts.threads == 0 {
            "auto".to_string()
        } else {
            opts.threads.to_string()
        };
        x264.set("threads", &threads);
        // Fixed GOP on every rung: keyframes every `gop` frames, never on scene cuts, closed
        // GOPs. (x264 clamps min-keyint to keyint/2+1; with scenecut=0 it never matters.)
        if durations.is_some() {
            // Keyframes only where forced (IDR at the source's keyframe instants); x264's own
            // interval is set far beyond the longest GOP the fast path accepts.
            let keyint = ((super::choice::MAX_GOP_S * 4.0 * fps.as_f64()).ceil() as u32).max(1);
            x264.set("forced-idr", "1");
            x264.set(
                "x264-params",
                &format!("keyint={keyint}:min-keyint=1:scenecut=0:open-gop=0"),
            );
        } else {
            x264.set(
                "x264-params",
                &format!("keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0"),
            );
        }
        let encoder = enc.open_with(x264).map_err(enc_err)?;

        {
            let mut ost = octx.add_stream(codec).map_err(out_err)?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
            ost.set_avg_frame_rate(Rational::new(num, den));
        }
        write_hls_header(&mut octx, &dir, opts.segment_seconds)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| TranscodeError::Output("hls stream missing".into()))?;
        Ok(Self {
            rendition: rendition.clone(),
            dir,
            scaler: None,
            encoder,
            octx,
            enc_tb,
            ost_tb,
            durations,
        })
    }

    /// Scale and encode `src` at `pts` (encoder time base); `force_key` makes it an IDR frame.
    pub(super) fn encode(
        &mut self,
        src: &frame::Video,
        pts: i64,
        force_key: bool,
    ) -> Result<(), TranscodeError> {
        let (w, h) = (self.rendition.width, self.rendition.height);
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
            .ok_or_else(|| TranscodeError::Encode("no scaler".into()))?;
        // A fresh frame each time: the encoder may still hold a reference to the last one.
        let mut scaled = frame::Video::new(Pixel::YUV420P, w, h);
        scaler.run(src, &mut scaled).map_err(enc_err)?;
        scaled.set_pts(Some(pts));
        if force_key {
            scaled.set_kind(picture::Type::I);
        }
        self.encoder.send_frame(&scaled).map_err(enc_err)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), TranscodeError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(0);
                    // libx264 packets carry duration 0 on FFmpeg 5.1; the hls muxer needs it
                    // for EXTINF, and it must be set before rescaling, which converts the
                    // duration to the stream time base along with the timestamps.
                    if packet.duration() <= 0 {
                        let duration = match (&self.durations, packet.pts()) {
                            (Some(d), Some(pts)) => d.get(&pts).copied().unwrap_or(1),
                            _ => 1,
                        };
                        packet.set_duration(duration);
                    }
                    packet.rescale_ts(self.enc_tb, self.ost_tb);
                    packet.set_position(-1);
                    packet.write_interleaved(&mut self.octx).map_err(out_err)?;
                }
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(enc_err(e)),
            }
        }
    }

    pub(super) fn finish(&mut self, produced_frames: bool) -> Result<(), TranscodeError> {
        self.encoder.send_eof().map_err(enc_err)?;
        self.drain()?;
        match self.octx.write_trailer() {
            Ok(()) => Ok(()),
            // Nothing was decoded: the folder is discarded anyway.
            Err(_) if !produced_frames => Ok(()),
            Err(e) => Err(out_err(e)),
        }
    }
}
