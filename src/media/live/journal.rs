//! The ingest journal: the raw bytes of a period as they arrived, with their arrival times, so
//! that a live interrupted by a crash can be packaged again after restart.
//!
//! # Files (in the period's folder)
//!
//! ```text
//! ingest.flv | ingest.ts   every byte handed to the packager, in order
//! ingest.arrivals          "PUFAARR1", then 24-byte records: byte offset (u64 LE),
//!                          arrival time (i64 LE seconds since 1970 + u32 LE nanoseconds),
//!                          FNV-1a of those 20 bytes (u32 LE); a record only when the time
//!                          changes, offsets strictly increasing
//! ```
//!
//! # Durability
//!
//! Bytes are written to the journal *before* the packager sees them, with plain `write`
//! calls (no user-space buffer), and `sync_data` runs about once a second and at end of input.
//! A SIGKILL therefore loses nothing that was passed on: the page cache belongs to the kernel
//! and survives the process. A power cut loses at most the last ~1 s. Neither RTMP (over TCP)
//! nor srt-tokio lets pufa hold back the acknowledgement until the bytes are on disk, so this
//! is the strongest guarantee available: the publisher's encoder may have seen the last second
//! acknowledged before the power went.
//!
//! A crash can tear the last write of either file. A torn data tail is a truncated FLV tag or
//! TS packet, which the demuxer stops at; a torn arrival record fails its check and is ignored
//! (and so is everything after it).
//!
//! # Reading back
//!
//! [`open`] finds a period's journal; [`JournalSource::timed_reader`] hands its bytes to the
//! packager in the original chunks, stamped with the original arrival times, so the
//! re-packaged segments get the PROGRAM-DATE-TIMEs they would have had live.

use crate::media::live::packager::{ArrivalLog, InputFormat, TimedReader};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Name of the arrival sidecar.
pub const ARRIVALS_FILE: &str = "ingest.arrivals";
/// First bytes of the arrival sidecar (format version 1).
const MAGIC: &[u8; 8] = b"PUFAARR1";
const RECORD_LEN: usize = 24;
/// How often the journal is flushed to the disk.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The journal's data file name for `format`: `ingest.flv` or `ingest.ts`.
pub fn data_file_name(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Flv => "ingest.flv",
        InputFormat::MpegTs => "ingest.ts",
    }
}

/// A reader that appends every byte it passes on to `{dir}/ingest.{flv|ts}` (and the arrival
/// time of each chunk to `{dir}/ingest.arrivals`) before handing it to the packager; synced
/// about once a second.
///
/// A failed journal write is returned as the read's error: bytes that are not in the journal
/// are never passed on, so what was packaged can always be packaged again.
pub struct JournalTee<R> {
    inner: R,
    data: File,
    arrivals: File,
    arrival_of: Box<dyn Fn(u64) -> SystemTime + Send>,
    /// Stream offset of the next byte read.
    offset: u64,
    /// Time of the last arrival record written (a record is written when it changes).
    last_time: Option<SystemTime>,
    last_sync: Instant,
    unsynced: bool,
}

impl<R: Read> JournalTee<R> {
    /// Start the journal of one period in `dir` (created if missing; a journal already there
    /// is replaced). `arrival_of(offset)` is the arrival time of the byte at `offset` of the
    /// stream `inner` yields (e.g. the ingest's `Arrivals::arrival_of`).
    pub fn create(
        dir: &Path,
        format: InputFormat,
        inner: R,
        arrival_of: impl Fn(u64) -> SystemTime + Send + 'static,
    ) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let create = |name: &str| {
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(dir.join(name))
        };
        let data = create(data_file_name(format))?;
        let mut arrivals = create(ARRIVALS_FILE)?;
        arrivals.write_all(MAGIC)?;
        arrivals.sync_data()?;
        data.sync_data()?;
        // The new names must survive a power cut too, not only their contents.
        File::open(dir)?.sync_all()?;
        Ok(Self {
            inner,
            data,
            arrivals,
            arrival_of: Box::new(arrival_of),
            offset: 0,
            last_time: None,
            last_sync: Instant::now(),
            unsynced: false,
        })
    }

    /// Bytes journaled (and passed on) so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.data.sync_data()?;
            self.arrivals.sync_data()?;
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }
}

impl<R: Read> Read for JournalTee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !buf.is_empty() {
                self.sync()?;
            }
            return Ok(0);
        }
        let at = (self.arrival_of)(self.offset);
        if self.last_time != Some(at) {
            // The record first: should the data write not happen, the record names bytes that
            // do not exist, which nothing looks up.
            self.arrivals.write_all(&encode_record(self.offset, at))?;
            self.last_time = Some(at);
        }
        self.data.write_all(&buf[..n])?;
        self.offset += n as u64;
        self.unsynced = true;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(n)
    }
}

impl<R> Drop for JournalTee<R> {
    fn drop(&mut self) {
        // A cancelled packager drops the tee without reading to EOF: flush what it took.
        if self.unsynced {
            let synced = self
                .data
                .sync_data()
                .and_then(|()| self.arrivals.sync_data());
            if let Err(e) = synced {
                tracing::warn!(error = %e, "syncing the ingest journal");
            }
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// `t` as whole seconds since 1970 (negative before) and nanoseconds (always forward).
fn split_time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

fn join_time(secs: i64, nanos: u32) -> Option<SystemTime> {
    if nanos >= 1_000_000_000 {
        return None;
    }
    let base = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))?
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn encode_record(offset: u64, at: SystemTime) -> [u8; RECORD_LEN] {
    let (secs, nanos) = split_time(at);
    let mut r = [0u8; RECORD_LEN];
    r[0..8].copy_from_slice(&offset.to_le_bytes());
    r[8..16].copy_from_slice(&secs.to_le_bytes());
    r[16..20].copy_from_slice(&nanos.to_le_bytes());
    let check = fnv1a(&r[..20]);
    r[20..24].copy_from_slice(&check.to_le_bytes());
    r
}

fn decode_record(r: &[u8]) -> Option<(u64, SystemTime)> {
    let word = |range: std::ops::Range<usize>| r.get(range);
    let check = u32::from_le_bytes(word(20..24)?.try_into().ok()?);
    if fnv1a(word(0..20)?) != check {
        return None;
    }
    let offset = u64::from_le_bytes(word(0..8)?.try_into().ok()?);
    let secs = i64::from_le_bytes(word(8..16)?.try_into().ok()?);
    let nanos = u32::from_le_bytes(word(16..20)?.try_into().ok()?);
    Some((offset, join_time(secs, nanos)?))
}

/// Parse a sidecar: the valid records up to the first torn or inconsistent one.
fn parse_arrivals(bytes: &[u8]) -> io::Result<Vec<(u64, SystemTime)>> {
    if bytes.len() < MAGIC.len() {
        // Torn before the header was complete: no record can have been written.
        return Ok(Vec::new());
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an ingest arrival log",
        ));
    }
    let mut entries: Vec<(u64, SystemTime)> = Vec::new();
    for chunk in bytes[MAGIC.len()..].chunks(RECORD_LEN) {
        let Some((offset, at)) = decode_record(chunk) else {
            break; // torn (short or failing its check): this and anything after is ignored
        };
        if entries.last().is_some_and(|(last, _)| offset <= *last) {
            break;
        }
        entries.push((offset, at));
    }
    Ok(entries)
}

/// The arrival times of a journal, read from its sidecar.
#[derive(Clone, Debug)]
pub struct JournalArrivals {
    entries: Arc<Vec<(u64, SystemTime)>>,
    /// Used when the sidecar holds no record (lost in a power cut): the data file's mtime.
    fallback: SystemTime,
}

impl JournalArrivals {
    /// The `(offset, arrival time)` records, offsets strictly increasing.
    pub fn entries(&self) -> &[(u64, SystemTime)] {
        &self.entries
    }

    /// Arrival time of the byte at `offset`: the time of the record at or before it (the
    /// first record's for bytes before any record; the journal's modification time when the
    /// sidecar has no record at all).
    pub fn arrival_of(&self, offset: u64) -> SystemTime {
        let i = self.entries.partition_point(|(o, _)| *o <= offset);
        self.entries
            .get(i.saturating_sub(1))
            .map_or(self.fallback, |(_, t)| *t)
    }

    /// [`arrival_of`](Self::arrival_of) as a clock for [`TimedReader::with_clock`].
    pub fn clock(&self) -> impl Fn(u64) -> SystemTime + Send + Sync + 'static {
        let me = self.clone();
        move |offset| me.arrival_of(offset)
    }

    /// The offset of the first record after `offset`, where the chunk holding `offset` ends.
    fn next_boundary(&self, offset: u64) -> Option<u64> {
        let i = self.entries.partition_point(|(o, _)| *o <= offset);
        self.entries.get(i).map(|(o, _)| *o)
    }
}

/// A period's journal, opened for packaging again.
#[derive(Debug)]
pub struct JournalSource {
    pub format: InputFormat,
    /// The journal's bytes, positioned at the start.
    pub file: File,
    /// The data file's length.
    pub len: u64,
    pub path: PathBuf,
    pub arrivals: JournalArrivals,
}

impl JournalSource {
    /// A reader for [`LivePackager::run`](crate::media::live::packager::LivePackager::run)
    /// that fills `log`: the bytes in their original chunks (a read never crosses the start
    /// of a recorded chunk), each stamped with its recorded arrival time.
    pub fn timed_reader(self, log: ArrivalLog) -> TimedReader<JournalReader> {
        let clock = self.arrivals.clock();
        let reader = JournalReader {
            file: self.file,
            arrivals: self.arrivals,
            offset: 0,
        };
        TimedReader::with_clock(reader, log, clock)
    }
}

/// The journal's bytes, read so that no read spans two recorded chunks (see
/// [`JournalSource::timed_reader`]).
pub struct JournalReader {
    file: File,
    arrivals: JournalArrivals,
    offset: u64,
}

impl Read for JournalReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = match self.arrivals.next_boundary(self.offset) {
            Some(next) => usize::try_from(next - self.offset)
                .unwrap_or(usize::MAX)
                .min(buf.len()),
            None => buf.len(),
        };
        let n = self.file.read(&mut buf[..limit])?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// The journal in `dir`, if there is one with at least one byte. When both an FLV and a TS
/// journal exist (which pufa does not write), the longer one is taken.
pub fn open(dir: &Path) -> io::Result<Option<JournalSource>> {
    let mut best: Option<(InputFormat, PathBuf, fs::Metadata)> = None;
    for format in [InputFormat::Flv, InputFormat::MpegTs] {
        let path = dir.join(data_file_name(format));
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_file()
            && meta.len() > 0
            && best.as_ref().is_none_or(|(_, _, m)| meta.len() > m.len())
        {
            best = Some((format, path, meta));
        }
    }
    let Some((format, path, meta)) = best else {
        return Ok(None);
    };
    let entries = match fs::read(dir.join(ARRIVALS_FILE)) {
        Ok(bytes) => parse_arrivals(&bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let file = File::open(&path)?;
    Ok(Some(JournalSource {
        format,
        file,
        len: meta.len(),
        path,
        arrivals: JournalArrivals {
            entries: Arc::new(entries),
            fallback: meta.modified().unwrap_or_else(|_| SystemTime::now()),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields the given chunks one per read (as the ingest's reader does).
    struct Chunks(std::collections::VecDeque<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut chunk) = self.0.pop_front() else {
                return Ok(0);
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.0.push_front(chunk.split_off(n));
            }
            Ok(n)
        }
    }

    fn t(secs: i64, nanos: u32) -> SystemTime {
        join_time(secs, nanos).unwrap()
    }

    #[test]
    fn bytes_and_arrival_times_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let chunks: Vec<Vec<u8>> = (0..50u8)
            .map(|i| vec![i; 100 + usize::from(i) * 37])
            .collect();
        let expected: Vec<u8> = chunks.concat();
        // One arrival time per chunk, at nanosecond precision; chunk starts are the offsets.
        let mut starts = Vec::new();
        let mut at = 0u64;
        for c in &chunks {
            starts.push(at);
            at += c.len() as u64;
        }
        let times: Vec<SystemTime> = (0..chunks.len())
            .map(|i| t(1_700_000_000 + i as i64, 123_456_789 + i as u32))
            .collect();
        let (s2, t2) = (starts.clone(), times.clone());
        let arrival_of = move |offset: u64| {
            let i = s2.partition_point(|s| *s <= offset) - 1;
            t2[i]
        };
        let mut tee = JournalTee::create(
            dir.path(),
            InputFormat::Flv,
            Chunks(chunks.into_iter().collect()),
            arrival_of,
        )
        .unwrap();
        // Reads smaller than a chunk: one record per chunk all the same.
        let mut passed = Vec::new();
        let mut buf = [0u8; 333];
        loop {
            let n = tee.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            passed.extend_from_slice(&buf[..n]);
        }
        assert_eq!(passed, expected);
        assert_eq!(tee.position(), expected.len() as u64);
        drop(tee);

        let source = open(dir.path()).unwrap().unwrap();
        assert_eq!(source.format, InputFormat::Flv);
        assert_eq!(source.len, expected.len() as u64);
        let recorded: Vec<(u64, SystemTime)> = starts.iter().copied().zip(times.clone()).collect();
        assert_eq!(source.arrivals.entries(), recorded.as_slice());
        assert_eq!(source.arrivals.arrival_of(starts[3] + 5), times[3]);

        // The timed reader gives the bytes back in the original chunks and times.
        let log = ArrivalLog::new();
        let mut reader = source.timed_reader(log.clone());
        let mut back = Vec::new();
        reader.read_to_end(&mut back).unwrap();
        assert_eq!(back, expected);
        for (s, time) in starts.iter().zip(&times) {
            assert_eq!(log.arrival_of(*s), Some(*time));
            assert_eq!(log.arrival_of(*s + 1), Some(*time));
        }
    }

    #[test]
    fn a_torn_trailing_record_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let times = [t(1_700_000_000, 1), t(1_700_000_001, 2), t(-5, 7)];
        let mut tee = JournalTee::create(
            dir.path(),
            InputFormat::MpegTs,
            Chunks(vec![vec![1u8; 188], vec![2; 188], vec![3; 188]].into()),
            move |o| times[(o / 188) as usize],
        )
        .unwrap();
        io::copy(&mut tee, &mut io::sink()).unwrap();
        drop(tee);
        let sidecar = dir.path().join(ARRIVALS_FILE);
        let full = fs::read(&sidecar).unwrap();
        assert_eq!(full.len(), MAGIC.len() + 3 * RECORD_LEN);
        let all = open(dir.path()).unwrap().unwrap();
        assert_eq!(all.format, InputFormat::MpegTs);
        assert_eq!(all.arrivals.entries().len(), 3);
        assert_eq!(all.arrivals.arrival_of(400), times[2]);

        // A crash in the middle of the last record: the first two stand.
        fs::write(&sidecar, &full[..full.len() - 7]).unwrap();
        let torn = open(dir.path()).unwrap().unwrap();
        assert_eq!(torn.arrivals.entries(), &[(0, times[0]), (188, times[1])]);
        assert_eq!(torn.arrivals.arrival_of(400), times[1]);
        // A whole-length record that was never written (zeros after a power cut) fails its
        // check the same way.
        let mut zeroed = full.clone();
        zeroed[MAGIC.len() + 2 * RECORD_LEN..].fill(0);
        fs::write(&sidecar, &zeroed).unwrap();
        assert_eq!(
            open(dir.path()).unwrap().unwrap().arrivals.entries().len(),
            2
        );
        // Only the header, or not even that: the data is still there, timed by its mtime.
        fs::write(&sidecar, &full[..5]).unwrap();
        let bare = open(dir.path()).unwrap().unwrap();
        assert!(bare.arrivals.entries().is_empty());
        assert_eq!(bare.len, 3 * 188);
        // A foreign file is refused rather than misread.
        fs::write(&sidecar, b"something else entirely").unwrap();
        assert!(open(dir.path()).is_err());
    }

    #[test]
    fn no_journal_or_an_empty_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(open(dir.path()).unwrap().is_none());
        let tee = JournalTee::create(dir.path(), InputFormat::Flv, io::empty(), |_| {
            SystemTime::now()
        })
        .unwrap();
        drop(tee);
        assert!(open(dir.path()).unwrap().is_none());
    }

    #[test]
    fn times_split_and_join_exactly() {
        for (secs, nanos) in [(0, 0), (1_700_000_000, 999_999_999), (-1, 1), (-86_400, 0)] {
            let time = t(secs, nanos);
            assert_eq!(split_time(time), (secs, nanos));
        }
        assert_eq!(join_time(0, 1_000_000_000), None);
    }
}
