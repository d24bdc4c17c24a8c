//! The fragmented-MP4 writer of one rendition: FFmpeg's `mp4` muxer on an in-memory sink with
//! `movflags=frag_custom+empty_moov+default_base_moof`, so the header is the init segment and
//! every explicit flush cuts exactly one `moof`+`mdat` fragment (a part; a segment is its parts
//! concatenated).
//!
//! The only `unsafe` code of the packager lives here: ffmpeg-next has no call for
//! `av_write_frame(ctx, NULL)` (the flush) and no setter for a stream's `codec_tag`.
#![allow(unsafe_code)]

use super::types::{PackagerError, TL};
use ff::{format, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// The muxer's output: bytes written since the last `take`.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn mux_err(e: ff::Error) -> PackagerError {
    PackagerError::Output(e.to_string())
}

/// Cut the current fragment: `av_write_frame(ctx, NULL)` with `frag_custom`.
fn flush_fragment(octx: &mut format::context::Output) -> Result<(), PackagerError> {
    // SAFETY: `octx` is a valid, open output context whose header has been written (only
    // `FragMuxer::open` creates one and it writes the header before returning); a NULL packet
    // is the documented flush request of `av_write_frame`, which reads nothing through it.
    let r = unsafe { ff::ffi::av_write_frame(octx.as_mut_ptr(), std::ptr::null_mut()) };
    if r < 0 {
        return Err(mux_err(ff::Error::from(r)));
    }
    Ok(())
}

/// The rendition's stream: a copy of the source stream or an opened encoder's parameters.
pub(super) enum StreamSource {
    /// Passthrough: the source stream's parameters (time base [`TL`]).
    Copy(ff::codec::Parameters),
    /// An encoder's parameters and its time base.
    Encoded(ff::codec::Parameters, Rational),
}

/// One rendition's mp4 muxer. Packets come in the packager's timeline ([`TL`]); one packet is
/// held back so its duration can be set from the next one (the flv demuxer and libx264 leave
/// it 0, and the last sample of a fragment needs it).
pub(super) struct FragMuxer {
    octx: format::context::Output,
    sink: Sink,
    ost_tb: Rational,
    pending: Option<Packet>,
    last_duration: i64,
}

impl FragMuxer {
    /// Open the muxer with one stream; returns it and the init segment (`ftyp`+`moov`).
    pub(super) fn open(source: StreamSource) -> Result<(Self, Vec<u8>), PackagerError> {
        let sink = Sink::default();
        let io = format::context::StreamIo::from_write(sink.clone()).map_err(mux_err)?;
        let mut octx = format::output_to_stream(io, None, Some("mp4")).map_err(mux_err)?;
        {
            let mut ost = octx
                .add_stream(ff::encoder::find(ff::codec::Id::None))
                .map_err(mux_err)?;
            match source {
                StreamSource::Copy(par) => {
                    ost.set_parameters(par);
                    // SAFETY: `parameters()` points at the codecpar owned by this output
                    // stream, which lives as long as `octx`; writing a plain integer field
                    // before the header is written is what `ffmpeg -c copy` does: the source
                    // container's tag (FLV 7, TS 0x1b) means nothing in MP4.
                    unsafe { (*ost.parameters().as_mut_ptr()).codec_tag = 0 };
                    ost.set_time_base(TL);
                }
                StreamSource::Encoded(par, tb) => {
                    ost.set_parameters(par);
                    ost.set_time_base(tb);
                }
            }
        }
        let mut opts = Dictionary::new();
        opts.set(
            "movflags",
            "frag_custom+empty_moov+default_base_moof+skip_trailer",
        );
        opts.set("flush_packets", "1");
        octx.write_header_with(opts).map_err(mux_err)?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| PackagerError::Output("mp4 stream missing".into()))?;
        let init = sink.take();
        Ok((
            Self {
                octx,
                sink,
                ost_tb,
                pending: None,
                last_duration: 0,
            },
            init,
        ))
    }

    fn write_pending(&mut self, next_dts: Option<i64>) -> Result<(), PackagerError> {
        let Some(mut p) = self.pending.take() else {
            return Ok(());
        };
        if p.duration() <= 0 {
            let from_next = match (next_dts, p.dts()) {
                (Some(n), Some(d)) if n > d => n - d,
                _ => self.last_duration,
            };
            p.set_duration(from_next.max(1));
        }
        self.last_duration = p.duration();
        p.rescale_ts(TL, self.ost_tb);
        p.set_stream(0);
        p.set_position(-1);
        p.write(&mut self.octx).map_err(mux_err)?;
        Ok(())
    }

    /// Take `packet` (timestamps in [`TL`]). With `cut_before`, everything before it is
    /// flushed as one fragment first, and its bytes are returned.
    pub(super) fn push(
        &mut self,
        packet: Packet,
        cut_before: bool,
    ) -> Result<Option<Vec<u8>>, PackagerError> {
        let next_dts = packet.dts().or(packet.pts());
        self.write_pending(next_dts)?;
        let cut = if cut_before {
            Some(self.flush()?)
        } else {
            None
        };
        self.pending = Some(packet);
        Ok(cut)
    }

    /// Write the held-back packet and flush: the last fragment's bytes (maybe empty).
    pub(super) fn finish(&mut self) -> Result<Vec<u8>, PackagerError> {
        self.write_pending(None)?;
        self.flush()
    }

    fn flush(&mut self) -> Result<Vec<u8>, PackagerError> {
        flush_fragment(&mut self.octx)?;
        Ok(self.sink.take())
    }
}
