//! What the ingest hands to the packager: [`IncomingStream`], a blocking `Read` of one
//! publisher's container bytes plus the arrival time of every chunk.
//!
//! Use: on a std thread (never on a tokio worker: [`ChannelReader::read`] blocks), wrap the
//! reader in `ffmpeg::format::context::StreamIo::from_read` and open it with
//! `format::input_from_stream(io, None, Some(opts))`, `opts` = `format_whitelist` =
//! [`StreamFormat::demuxer`], `analyzeduration=1000000`, `probesize=500000` (live.md §3). For
//! PROGRAM-DATE-TIME, look a packet's `position()` up in [`Arrivals::arrival_of`].

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Protocol;

/// The container the reader yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// RTMP: a 13-byte FLV header, then one FLV tag per RTMP audio/video message (H.264/AAC).
    Flv,
    /// SRT: MPEG-TS exactly as received (188-byte packets, 7 per SRT message).
    MpegTs,
}

impl StreamFormat {
    /// The libavformat demuxer name, for `format_whitelist`.
    pub fn demuxer(self) -> &'static str {
        match self {
            StreamFormat::Flv => "flv",
            StreamFormat::MpegTs => "mpegts",
        }
    }
}

/// One admitted publisher's stream. The reader returns EOF when the publisher disconnects (or
/// the listener shuts down), after the session's live claim is released; dropping the reader
/// disconnects the publisher.
#[derive(Debug)]
pub struct IncomingStream {
    pub format: StreamFormat,
    pub reader: ChannelReader,
    /// Shared with `reader`: (byte offset, arrival time) of the chunks read so far.
    pub arrivals: Arrivals,
    pub session_id: i64,
    pub protocol: Protocol,
    pub remote: SocketAddr,
    /// When the publisher was admitted.
    pub admitted_at: SystemTime,
}

/// Bytes as received from the socket, with the wall-clock time they arrived.
pub type Chunk = (SystemTime, Bytes);

/// Chunks closer together than this share one entry of the arrival log (bounds its size; an
/// arrival time is at most this much early).
pub const ARRIVAL_RESOLUTION: Duration = Duration::from_millis(10);

/// The arrival log of one stream: (byte offset where a chunk starts, time it arrived),
/// increasing in both. Entries are added as the reader takes chunks.
#[derive(Debug, Clone, Default)]
pub struct Arrivals(Arc<Mutex<VecDeque<(u64, SystemTime)>>>);

impl Arrivals {
    /// When the byte at `offset` arrived (the time of the chunk holding it); `None` before the
    /// first entry kept (never read, or pruned).
    pub fn arrival_of(&self, offset: u64) -> Option<SystemTime> {
        let log = self.lock();
        let i = log.partition_point(|(off, _)| *off <= offset);
        i.checked_sub(1).and_then(|i| log.get(i)).map(|(_, t)| *t)
    }

    /// Forget entries no longer needed: everything before the entry covering `offset`.
    pub fn prune_below(&self, offset: u64) {
        let mut log = self.lock();
        let i = log.partition_point(|(off, _)| *off <= offset);
        log.drain(..i.saturating_sub(1));
    }

    /// Entries kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn record(&self, offset: u64, at: SystemTime) {
        let mut log = self.lock();
        let coalesce = log.back().is_some_and(|(_, last)| {
            at.duration_since(*last)
                .is_ok_and(|d| d < ARRIVAL_RESOLUTION)
                || at < *last
        });
        if !coalesce {
            log.push_back((offset, at));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, SystemTime)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A blocking `Read` over a bounded channel of [`Chunk`]s; EOF when the sender is dropped.
/// Must not be read on a tokio worker thread (use a std thread or `spawn_blocking`).
#[derive(Debug)]
pub struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    arrivals: Arrivals,
    /// Stream offset of `cur[0]`.
    offset: u64,
    cur: Bytes,
}

impl ChannelReader {
    /// A reader and the sending half the ingest feeds (`capacity` chunks of backpressure).
    pub fn channel(capacity: usize) -> (mpsc::Sender<Chunk>, ChannelReader) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let reader = ChannelReader {
            rx,
            arrivals: Arrivals::default(),
            offset: 0,
            cur: Bytes::new(),
        };
        (tx, reader)
    }

    /// The arrival log this reader fills.
    pub fn arrivals(&self) -> Arrivals {
        self.arrivals.clone()
    }

    /// Bytes handed out so far (the stream offset of the next byte read).
    pub fn position(&self) -> u64 {
        self.offset
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some((at, chunk)) => {
                    if !chunk.is_empty() {
                        self.arrivals.record(self.offset, at);
                    }
                    self.cur = chunk;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        let head = self.cur.split_to(n);
        buf[..n].copy_from_slice(&head);
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_in_order_and_logs_arrivals() {
        let (tx, mut reader) = ChannelReader::channel(4);
        let arrivals = reader.arrivals();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let t1 = t0 + Duration::from_millis(5); // coalesced into t0's entry
        let t2 = t0 + Duration::from_millis(40);
        std::thread::spawn(move || {
            tx.blocking_send((t0, Bytes::from_static(b"abc"))).unwrap();
            tx.blocking_send((t1, Bytes::from_static(b"de"))).unwrap();
            tx.blocking_send((t2, Bytes::from_static(b"fghij")))
                .unwrap();
        });
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abcdefghij");
        assert_eq!(reader.position(), 10);
        assert_eq!(arrivals.len(), 2);
        assert_eq!(arrivals.arrival_of(0), Some(t0));
        assert_eq!(arrivals.arrival_of(4), Some(t0));
        assert_eq!(arrivals.arrival_of(5), Some(t2));
        assert_eq!(arrivals.arrival_of(9999), Some(t2));
        arrivals.prune_below(6);
        assert_eq!(arrivals.len(), 1);
        assert_eq!(arrivals.arrival_of(0), None);
        assert_eq!(arrivals.arrival_of(6), Some(t2));
    }

    #[test]
    fn small_reads_split_a_chunk() {
        let (tx, mut reader) = ChannelReader::channel(1);
        std::thread::spawn(move || {
            tx.blocking_send((SystemTime::now(), Bytes::from_static(b"12345")))
                .unwrap();
        });
        let mut b = [0u8; 2];
        assert_eq!(reader.read(&mut b).unwrap(), 2);
        assert_eq!(&b, b"12");
        assert_eq!(reader.read(&mut b).unwrap(), 2);
        assert_eq!(reader.read(&mut b).unwrap(), 1);
        assert_eq!(b[0], b'5');
        assert_eq!(reader.read(&mut b).unwrap(), 0);
    }
}
