//! The ingest journal: the raw bytes of a period as they arrived, with their arrival times, so
//! that a live interrupted by a crash can be packaged again after restart.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use crate::media::live::packager::InputFormat;
use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

/// A reader that appends every byte it passes on to `{dir}/ingest.{flv|ts}` (and the arrival
/// time of each chunk to `{dir}/ingest.arrivals`) before handing it to the packager; synced
/// about once a second.
pub struct JournalTee<R> {
    _inner: R,
}

impl<R: Read> JournalTee<R> {
    pub fn create(
        _dir: &Path,
        _format: InputFormat,
        _inner: R,
        _arrival_of: impl Fn(u64) -> SystemTime + Send + 'static,
    ) -> io::Result<Self> {
        todo!()
    }
}

impl<R: Read> Read for JournalTee<R> {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        todo!()
    }
}
