//! The audio pipe: decode, keep the samples on the shared timeline (gaps filled with silence,
//! rewinding frames dropped), resample to 48 kHz stereo, and encode AAC-LC into its own HLS
//! rendition that every video variant shares.

use super::decode::{self, DecodingPipe};
use super::hls::{global_header, hls_output, write_hls_header};
use super::probe::open_audio_decoder;
use super::progress::Reporter;
use super::types::{
    enc_err, is_again_or_eof, out_err, TranscodeError, TranscodeOptions, AUDIO_DIR, AUDIO_GAP_S,
    OUT_RATE,
};
use crate::media::ladder;
use ff::format::Sample;
use ff::software::resampling;
use ff::{codec, decoder, encoder, format, frame, ChannelLayout, Packet, Rational};
use ffmpeg_next as ff;
use std::path::Path;

pub(super) struct AudioPipe {
    pub(super) stream_index: usize,
    decoder: decoder::Audio,
    in_tb: Rational,
    t0_ts: i64,
    max_ts_s: f64,
    bogus_timestamps: u64,
    resampler: Option<resampling::Context>,
    fifo: [Vec<f32>; 2],
    /// Output-rate samples pushed into the FIFO so far (the timeline position of its end).
    samples_queued: i64,
    pub(super) samples_encoded: i64,
    /// Timeline offset of the first sample (see [`LEAD_FRAMES`](super::types::LEAD_FRAMES)).
    lead_samples: i64,
    frame_size: usize,
    encoder: encoder::Audio,
    octx: format::context::Output,
    enc_tb: Rational,
    ost_tb: Rational,
    pub(super) decode_errors: u64,
    dropped_frames: u64,
    silence_s: f64,
    pub(super) warnings: Vec<String>,
}

impl AudioPipe {
    pub(super) fn new(
        stream: &ff::Stream,
        dir: &Path,
        opts: &TranscodeOptions,
        t0_ts: i64,
        max_ts_s: f64,
        lead_s: Option<f64>,
    ) -> Result<Self, TranscodeError> {
        let decoder = open_audio_decoder(stream)
            .map_err(|e| TranscodeError::Decode(format!("audio decoder: {e}")))?;
        let audio_dir = dir.join(AUDIO_DIR);
        let mut octx = hls_output(&audio_dir)?;
        let codec = encoder::find_by_name("aac")
            .ok_or_else(|| TranscodeError::Encode("the aac encoder is not available".into()))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(enc_err)?;
        let enc_tb = Rational::new(1, OUT_RATE);
        enc.set_rate(OUT_RATE);
        enc.set_channel_layout(ChannelLayout::STEREO);
        // FFmpeg 5.1 still reads the legacy channel count as well as the layout.
        enc.set_channels(2);
        enc.set_format(Sample::F32(format::sample::Type::Planar));
        enc.set_bit_rate(ladder::AUDIO_BITRATE as usize);
        enc.set_time_base(enc_tb);
        if global_header(&octx) {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = enc.open_as(codec).map_err(enc_err)?;
        let frame_size = match encoder.frame_size() {
            0 => 1024,
            n => n as usize,
        };
        // With video: the same lead as the video; audio-only: just the AAC priming delay.
        let lead_samples = match lead_s {
            Some(s) => (s * f64::from(OUT_RATE)).round() as i64,
            None => frame_size as i64,
        }
        .max(frame_size as i64);
        {
            let mut ost = octx.add_stream(codec).map_err(out_err)?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
        }
        write_hls_header(&mut octx, &audio_dir, opts.segment_seconds)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| TranscodeError::Output("hls stream missing".into()))?;
        Ok(Self {
            stream_index: stream.index(),
            decoder,
            in_tb: stream.time_base(),
            t0_ts,
            max_ts_s,
            bogus_timestamps: 0,
            resampler: None,
            fifo: [Vec::new(), Vec::new()],
            samples_queued: 0,
            samples_encoded: 0,
            lead_samples,
            frame_size,
            encoder,
            octx,
            enc_tb,
            ost_tb,
            decode_errors: 0,
            dropped_frames: 0,
            silence_s: 0.0,
            warnings: Vec::new(),
        })
    }

    pub(super) fn out_time_s(&self) -> f64 {
        self.samples_encoded as f64 / f64::from(OUT_RATE)
    }

    fn push_decoded(
        &mut self,
        mut decoded: frame::Audio,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        let channels = decoded.channels();
        let rate = decoded.rate();
        if channels == 0 || rate == 0 || decoded.samples() == 0 {
            return Ok(());
        }
        // Unknown layouts (e.g. raw PCM) get FFmpeg's default layout for the channel count,
        // which is what the 5.1 -> stereo downmix matrix needs.
        let mut layout = decoded.channel_layout();
        if layout.bits() == 0 || layout.channels() != i32::from(channels) {
            layout = ChannelLayout::default(i32::from(channels));
            decoded.set_channel_layout(layout);
        }

        // Keep audio on the shared timeline: fill gaps with silence, drop frames that lie
        // entirely in the past (overlapping or rewinding timestamps of damaged files).
        if let Some(ts) = decoded.timestamp().or(decoded.pts()) {
            let start = (ts.saturating_sub(self.t0_ts)) as f64 * f64::from(self.in_tb);
            let length = decoded.samples() as f64 / f64::from(rate);
            let expected = self.samples_queued as f64 / f64::from(OUT_RATE);
            if !start.is_finite() || start > self.max_ts_s {
                self.bogus_timestamps += 1;
                return Ok(());
            }
            if start - expected > AUDIO_GAP_S {
                let gap = start - expected;
                self.silence_s += gap;
                self.push_silence((gap * f64::from(OUT_RATE)).round() as usize, rep)?;
            } else if start.is_finite() && start + length < expected - AUDIO_GAP_S {
                self.dropped_frames += 1;
                return Ok(());
            }
        }

        let input_changed = self.resampler.as_ref().is_none_or(|r| {
            let i = r.input();
            i.format != decoded.format() || i.channel_layout != layout || i.rate != rate
        });
        if input_changed {
            if self.resampler.is_some() {
                self.flush_resampler()?;
            }
            self.resampler = Some(
                resampling::Context::get(
                    decoded.format(),
                    layout,
                    rate,
                    Sample::F32(format::sample::Type::Planar),
                    ChannelLayout::STEREO,
                    OUT_RATE as u32,
                )
                .map_err(|e| TranscodeError::Decode(format!("resampler: {e}")))?,
            );
        }
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        let pending = resampler
            .delay()
            .map(|d| usize::try_from(d.output).unwrap_or(0))
            .unwrap_or(0);
        let capacity = decoded.samples() * OUT_RATE as usize / rate as usize + pending + 256;
        let mut out = frame::Audio::new(
            Sample::F32(format::sample::Type::Planar),
            capacity,
            ChannelLayout::STEREO,
        );
        resampler
            .run(&decoded, &mut out)
            .map_err(|e| TranscodeError::Decode(format!("resampler: {e}")))?;
        self.queue(&out)?;
        self.encode_full_frames(rep)
    }

    /// Queue `n` samples of silence, encoding as we go so the FIFO stays small.
    fn push_silence(&mut self, mut n: usize, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        while n > 0 {
            let k = n.min(OUT_RATE as usize);
            for plane in &mut self.fifo {
                plane.resize(plane.len() + k, 0.0);
            }
            self.samples_queued += k as i64;
            self.encode_full_frames(rep)?;
            n -= k;
        }
        Ok(())
    }

    /// Append resampled stereo fltp samples to the FIFO.
    fn queue(&mut self, out: &frame::Audio) -> Result<(), TranscodeError> {
        let n = out.samples();
        if n == 0 {
            return Ok(());
        }
        if out.format() != Sample::F32(format::sample::Type::Planar) || out.planes() < 2 {
            return Err(TranscodeError::Encode(
                "resampler produced an unexpected sample format".into(),
            ));
        }
        for (ch, plane) in self.fifo.iter_mut().enumerate() {
            let data = out.plane::<f32>(ch);
            plane.extend_from_slice(&data[..n.min(data.len())]);
        }
        self.samples_queued += n as i64;
        Ok(())
    }

    fn flush_resampler(&mut self) -> Result<(), TranscodeError> {
        // swresample keeps a few samples of filter history; bounded loop, normally one round.
        for _ in 0..16 {
            let Some(resampler) = self.resampler.as_mut() else {
                return Ok(());
            };
            let pending = resampler
                .delay()
                .map(|d| usize::try_from(d.output).unwrap_or(0))
                .unwrap_or(0);
            if pending == 0 {
                return Ok(());
            }
            let mut out = frame::Audio::new(
                Sample::F32(format::sample::Type::Planar),
                pending + 256,
                ChannelLayout::STEREO,
            );
            resampler
                .flush(&mut out)
                .map_err(|e| TranscodeError::Decode(format!("resampler: {e}")))?;
            if out.samples() == 0 {
                return Ok(());
            }
            self.queue(&out)?;
        }
        Ok(())
    }

    fn encode_full_frames(&mut self, rep: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        while self.fifo[0].len() >= self.frame_size {
            self.encode_chunk(self.frame_size)?;
            rep.tick(self.out_time_s())?;
        }
        Ok(())
    }

    fn encode_chunk(&mut self, n: usize) -> Result<(), TranscodeError> {
        let mut chunk = frame::Audio::new(
            Sample::F32(format::sample::Type::Planar),
            n,
            ChannelLayout::STEREO,
        );
        chunk.set_rate(OUT_RATE as u32);
        if chunk.planes() < 2 {
            return Err(TranscodeError::Encode(
                "cannot allocate an audio frame".into(),
            ));
        }
        for ch in 0..2 {
            let dst = chunk.plane_mut::<f32>(ch);
            let take = n.min(dst.len()).min(self.fifo[ch].len());
            dst[..take].copy_from_slice(&self.fifo[ch][..take]);
            self.fifo[ch].drain(..take);
        }
        chunk.set_pts(Some(self.samples_encoded + self.lead_samples));
        self.samples_encoded += n as i64;
        self.encoder.send_frame(&chunk).map_err(enc_err)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), TranscodeError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(0);
                    if packet.duration() <= 0 {
                        packet.set_duration(self.frame_size as i64);
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

    pub(super) fn finish(&mut self, reporter: &mut Reporter<'_>) -> Result<(), TranscodeError> {
        decode::finish(self, reporter)?;
        self.flush_resampler()?;
        self.encode_full_frames(reporter)?;
        let rest = self.fifo[0].len();
        if rest > 0 {
            self.encode_chunk(rest)?; // the AAC encoder accepts a short last frame
        }
        self.encoder.send_eof().map_err(enc_err)?;
        self.drain()?;
        if self.dropped_frames > 0 {
            self.warnings.push(format!(
                "audio: {} frame(s) with rewinding timestamps were dropped",
                self.dropped_frames
            ));
        }
        if self.bogus_timestamps > 0 {
            self.warnings.push(format!(
                "audio: {} frame(s) with impossible timestamps were dropped",
                self.bogus_timestamps
            ));
        }
        if self.silence_s > 0.5 {
            self.warnings.push(format!(
                "audio: {:.1} s of gaps were filled with silence",
                self.silence_s
            ));
        }
        match self.octx.write_trailer() {
            Ok(()) => Ok(()),
            Err(_) if self.samples_encoded == 0 => Ok(()),
            Err(e) => Err(out_err(e)),
        }
    }
}

impl DecodingPipe for AudioPipe {
    type Frame = frame::Audio;

    fn empty_frame() -> frame::Audio {
        frame::Audio::empty()
    }

    fn decoder(&mut self) -> &mut decoder::Opened {
        &mut self.decoder
    }

    fn count_decode_error(&mut self) {
        self.decode_errors += 1;
    }

    fn push_decoded(
        &mut self,
        decoded: frame::Audio,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError> {
        AudioPipe::push_decoded(self, decoded, rep)
    }
}
