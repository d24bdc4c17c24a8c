//! The audio rendition: decode, resample to 48 kHz stereo, encode AAC-LC, and release the
//! packets to the muxer only up to the video watermark, so every segment boundary (decided
//! by video packets in demux order) is known before the audio crosses it.

use super::fmp4::StreamSource;
use super::output::{Boundary, RenditionOut, RenditionSpec};
use super::types::{
    enc_err, is_again_or_eof, PackagerError, PackagerEvent, PackagerOptions, AUDIO_DIR, TL,
};
use crate::media::ladder;
use ff::format::Sample;
use ff::software::resampling;
use ff::{codec, decoder, encoder, format, frame, ChannelLayout, Packet, Rational, Rescale};
use ffmpeg_next as ff;
use std::collections::VecDeque;
use std::path::Path;

const OUT_RATE: i32 = ladder::AUDIO_SAMPLE_RATE as i32;
const FLTP: Sample = Sample::F32(format::sample::Type::Planar);

pub(super) struct AudioPipe {
    pub stream_index: usize,
    decoder: decoder::Audio,
    in_tb: Rational,
    resampler: Option<resampling::Context>,
    fifo: [Vec<f32>; 2],
    frame_size: usize,
    /// Output-rate sample position of the first sample (set by the first frame).
    base: Option<i64>,
    samples_encoded: i64,
    encoder: encoder::Audio,
    enc_tb: Rational,
    /// Encoded packets (timeline timestamps) waiting for the video watermark.
    queue: VecDeque<Packet>,
    pub out: RenditionOut,
    pub decode_errors: u64,
}

impl AudioPipe {
    pub(super) fn new(
        root: &Path,
        stream: &ff::Stream,
        opts: &PackagerOptions,
    ) -> Result<Self, PackagerError> {
        let ctx = codec::context::Context::from_parameters(stream.parameters()).map_err(enc_err)?;
        let mut dec = ctx.decoder();
        dec.set_packet_time_base(stream.time_base());
        let decoder = dec
            .audio()
            .map_err(|e| PackagerError::Unsupported(format!("audio decoder: {e}")))?;
        let codec = encoder::find_by_name("aac")
            .ok_or_else(|| PackagerError::Encode("the aac encoder is not available".into()))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(enc_err)?;
        let enc_tb = Rational::new(1, OUT_RATE);
        enc.set_rate(OUT_RATE);
        enc.set_channel_layout(ChannelLayout::STEREO);
        enc.set_channels(2);
        enc.set_format(FLTP);
        enc.set_bit_rate(ladder::AUDIO_BITRATE as usize);
        enc.set_time_base(enc_tb);
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
        let encoder = enc.open_as(codec).map_err(enc_err)?;
        let frame_size = match encoder.frame_size() {
            0 => 1024,
            n => n as usize,
        };
        let spec = RenditionSpec {
            name: AUDIO_DIR.into(),
            width: 0,
            height: 0,
            frame_rate: 0.0,
            passthrough: false,
            audio: true,
            planned_bandwidth: ladder::AUDIO_BITRATE + ladder::AUDIO_BITRATE / 20,
        };
        let out = RenditionOut::create(
            root,
            spec,
            StreamSource::Encoded(codec::Parameters::from(&encoder), enc_tb),
            opts.window,
            opts.segment_target,
            opts.part_target,
        )?;
        Ok(Self {
            stream_index: stream.index(),
            decoder,
            in_tb: stream.time_base(),
            resampler: None,
            fifo: [Vec::new(), Vec::new()],
            frame_size,
            base: None,
            samples_encoded: 0,
            encoder,
            enc_tb,
            queue: VecDeque::new(),
            out,
            decode_errors: 0,
        })
    }

    /// Decode and encode `packet` (source time base); `shift` maps it onto the timeline.
    pub(super) fn send(&mut self, packet: &Packet, shift: i64) -> Result<(), PackagerError> {
        if self.decoder.send_packet(packet).is_err() {
            self.decode_errors += 1;
        }
        self.receive(shift)
    }

    fn receive(&mut self, shift: i64) -> Result<(), PackagerError> {
        for _ in 0..1000 {
            let mut decoded = frame::Audio::empty();
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => self.push_decoded(decoded, shift)?,
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(_) => self.decode_errors += 1,
            }
        }
        Ok(())
    }

    fn push_decoded(&mut self, mut decoded: frame::Audio, shift: i64) -> Result<(), PackagerError> {
        let channels = decoded.channels();
        let rate = decoded.rate();
        if channels == 0 || rate == 0 || decoded.samples() == 0 {
            return Ok(());
        }
        if self.base.is_none() {
            let Some(ts) = decoded.timestamp().or(decoded.pts()) else {
                return Ok(());
            };
            let tl = ts.rescale(self.in_tb, TL).saturating_add(shift);
            if tl < 0 {
                return Ok(()); // before the video started
            }
            self.base = Some(tl.rescale(TL, self.enc_tb));
        }
        let mut layout = decoded.channel_layout();
        if layout.bits() == 0 || layout.channels() != i32::from(channels) {
            layout = ChannelLayout::default(i32::from(channels));
            decoded.set_channel_layout(layout);
        }
        let stale = self.resampler.as_ref().is_none_or(|r| {
            let i = r.input();
            i.format != decoded.format() || i.channel_layout != layout || i.rate != rate
        });
        if stale {
            self.resampler = Some(
                resampling::Context::get(
                    decoded.format(),
                    layout,
                    rate,
                    FLTP,
                    ChannelLayout::STEREO,
                    OUT_RATE as u32,
                )
                .map_err(|e| PackagerError::Encode(format!("resampler: {e}")))?,
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
        let mut out = frame::Audio::new(FLTP, capacity, ChannelLayout::STEREO);
        resampler
            .run(&decoded, &mut out)
            .map_err(|e| PackagerError::Encode(format!("resampler: {e}")))?;
        self.queue_samples(&out)?;
        while self.fifo[0].len() >= self.frame_size {
            self.encode_chunk(self.frame_size)?;
        }
        Ok(())
    }

    fn queue_samples(&mut self, out: &frame::Audio) -> Result<(), PackagerError> {
        let n = out.samples();
        if n == 0 {
            return Ok(());
        }
        if out.format() != FLTP || out.planes() < 2 {
            return Err(PackagerError::Encode(
                "resampler produced an unexpected sample format".into(),
            ));
        }
        for (ch, plane) in self.fifo.iter_mut().enumerate() {
            let data = out.plane::<f32>(ch);
            plane.extend_from_slice(&data[..n.min(data.len())]);
        }
        Ok(())
    }

    fn encode_chunk(&mut self, n: usize) -> Result<(), PackagerError> {
        let mut chunk = frame::Audio::new(FLTP, n, ChannelLayout::STEREO);
        chunk.set_rate(OUT_RATE as u32);
        if chunk.planes() < 2 {
            return Err(PackagerError::Encode(
                "cannot allocate an audio frame".into(),
            ));
        }
        for ch in 0..2 {
            let dst = chunk.plane_mut::<f32>(ch);
            let take = n.min(dst.len()).min(self.fifo[ch].len());
            dst[..take].copy_from_slice(&self.fifo[ch][..take]);
            self.fifo[ch].drain(..take);
        }
        chunk.set_pts(Some(self.base.unwrap_or(0) + self.samples_encoded));
        self.samples_encoded += n as i64;
        self.encoder.send_frame(&chunk).map_err(enc_err)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), PackagerError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    if packet.duration() <= 0 {
                        packet.set_duration(self.frame_size as i64);
                    }
                    packet.rescale_ts(self.enc_tb, TL);
                    self.queue.push_back(packet);
                }
                Err(e) if is_again_or_eof(&e) => return Ok(()),
                Err(e) => return Err(enc_err(e)),
            }
        }
    }

    /// Hand the muxer every queued packet that starts before `watermark` (timeline).
    pub(super) fn release(
        &mut self,
        watermark: i64,
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        while self
            .queue
            .front()
            .is_some_and(|p| p.pts().unwrap_or(i64::MIN) < watermark)
        {
            if let Some(p) = self.queue.pop_front() {
                self.out.push(p, boundaries, emit)?;
            }
        }
        Ok(())
    }

    /// End of input: flush decoder, resampler and encoder, release everything, end the
    /// playlists.
    pub(super) fn finish(
        &mut self,
        shift: i64,
        boundaries: &[Boundary],
        emit: &mut dyn FnMut(PackagerEvent),
    ) -> Result<(), PackagerError> {
        if self.decoder.send_eof().is_ok() {
            self.receive(shift)?;
        }
        for _ in 0..16 {
            let Some(resampler) = self.resampler.as_mut() else {
                break;
            };
            let pending = resampler
                .delay()
                .map(|d| usize::try_from(d.output).unwrap_or(0))
                .unwrap_or(0);
            if pending == 0 {
                break;
            }
            let mut out = frame::Audio::new(FLTP, pending + 256, ChannelLayout::STEREO);
            resampler
                .flush(&mut out)
                .map_err(|e| PackagerError::Encode(format!("resampler: {e}")))?;
            if out.samples() == 0 {
                break;
            }
            self.queue_samples(&out)?;
        }
        while self.fifo[0].len() >= self.frame_size {
            self.encode_chunk(self.frame_size)?;
        }
        let rest = self.fifo[0].len();
        if rest > 0 {
            self.encode_chunk(rest)?;
        }
        if self.base.is_some() {
            self.encoder.send_eof().map_err(enc_err)?;
            self.drain()?;
        }
        self.release(i64::MAX, boundaries, emit)?;
        self.out.finish(None, emit)
    }
}
