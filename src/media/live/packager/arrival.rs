//! When did the bytes arrive? A log of `(byte offset in the stream, wall-clock time)` chunks,
//! filled by the reader that hands the stream to the packager. The packager looks up the
//! demuxer's `packet.position()` in it: a segment's PROGRAM-DATE-TIME is the arrival time of
//! the first byte of its first video packet, not the time the packager got round to it.

use std::io::{self, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// Shared, append-only log of `(offset, arrival time)`; offsets strictly increase.
///
/// Cloning gives another handle on the same log: the reader records, the packager looks up.
#[derive(Clone, Debug, Default)]
pub struct ArrivalLog(Arc<Mutex<Vec<(u64, SystemTime)>>>);

impl ArrivalLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, Vec<(u64, SystemTime)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes from `offset` on arrived at `at`. An offset not beyond the last one is ignored.
    pub fn record(&self, offset: u64, at: SystemTime) {
        let mut log = self.entries();
        if log.last().is_none_or(|(last, _)| offset > *last) {
            log.push((offset, at));
        }
    }

    /// Arrival time of the byte at `offset`: the time of the chunk that contains it.
    pub fn arrival_of(&self, offset: u64) -> Option<SystemTime> {
        let log = self.entries();
        let i = log.partition_point(|(o, _)| *o <= offset);
        log.get(i.checked_sub(1)?).map(|(_, t)| *t)
    }

    /// Arrival time of the newest chunk.
    pub fn latest(&self) -> Option<SystemTime> {
        self.entries().last().map(|(_, t)| *t)
    }

    /// Forget chunks that end before `offset` (keeps the one containing it).
    pub fn prune_before(&self, offset: u64) {
        let mut log = self.entries();
        let i = log.partition_point(|(o, _)| *o <= offset);
        if i > 1 {
            log.drain(..i - 1);
        }
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }
}

type Clock = Box<dyn FnMut(u64) -> SystemTime + Send>;

/// Wraps any `Read` and records every successful read in an [`ArrivalLog`], stamped by a clock
/// (`SystemTime::now` by default; a clock gets the offset of the read, so a test or a journal
/// replay can supply recorded times).
pub struct TimedReader<R> {
    inner: R,
    log: ArrivalLog,
    offset: u64,
    clock: Clock,
}

impl<R: Read> TimedReader<R> {
    /// Stamp reads with the wall clock at the moment they happen.
    pub fn new(inner: R, log: ArrivalLog) -> Self {
        Self::with_clock(inner, log, |_| SystemTime::now())
    }

    /// Stamp the read starting at byte `offset` with `clock(offset)`.
    pub fn with_clock(
        inner: R,
        log: ArrivalLog,
        clock: impl FnMut(u64) -> SystemTime + Send + 'static,
    ) -> Self {
        Self {
            inner,
            log,
            offset: 0,
            clock: Box::new(clock),
        }
    }
}

impl<R: Read> Read for TimedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.log.record(self.offset, (self.clock)(self.offset));
            self.offset += n as u64;
        }
        Ok(n)
    }
}

/// A chunk of the stream and the time it came off the socket.
pub type Chunk = (SystemTime, Vec<u8>);

/// A `Read` over a channel of [`Chunk`]s, as the ingest delivers them: records each chunk's
/// own arrival time (not the time it is read) and returns end of stream once every sender is
/// dropped. Dropping the sender is also how the ingest wakes a packager that waits for data.
pub struct ChunkReader {
    rx: mpsc::Receiver<Chunk>,
    log: ArrivalLog,
    offset: u64,
    current: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    pub fn new(rx: mpsc::Receiver<Chunk>, log: ArrivalLog) -> Self {
        Self {
            rx,
            log,
            offset: 0,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.current.len() {
            match self.rx.recv() {
                Ok((at, chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    self.log.record(self.offset, at);
                    self.offset += chunk.len() as u64;
                    self.current = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lookup_finds_the_chunk_holding_the_offset() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let log = ArrivalLog::new();
        assert_eq!(log.arrival_of(0), None);
        log.record(0, t0);
        log.record(100, t0 + Duration::from_secs(1));
        log.record(100, t0 + Duration::from_secs(9)); // not beyond: ignored
        log.record(250, t0 + Duration::from_secs(2));
        assert_eq!(log.arrival_of(0), Some(t0));
        assert_eq!(log.arrival_of(99), Some(t0));
        assert_eq!(log.arrival_of(100), Some(t0 + Duration::from_secs(1)));
        assert_eq!(log.arrival_of(10_000), Some(t0 + Duration::from_secs(2)));
        log.prune_before(260);
        assert_eq!(log.len(), 1);
        assert_eq!(log.arrival_of(260), Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn readers_record_offsets() {
        let log = ArrivalLog::new();
        let t = SystemTime::UNIX_EPOCH;
        let mut r = TimedReader::with_clock(&b"abcdef"[..], log.clone(), move |o| {
            t + Duration::from_secs(o)
        });
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 4);
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(log.arrival_of(5), Some(t + Duration::from_secs(4)));

        let (tx, rx) = mpsc::channel();
        let log = ArrivalLog::new();
        tx.send((t, b"xy".to_vec())).unwrap();
        tx.send((t + Duration::from_secs(7), b"z".to_vec()))
            .unwrap();
        drop(tx);
        let mut out = Vec::new();
        ChunkReader::new(rx, log.clone())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"xyz");
        assert_eq!(log.arrival_of(2), Some(t + Duration::from_secs(7)));
    }
}
