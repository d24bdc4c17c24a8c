//! Media: ladder planning, the in-process ffmpeg-next transcoder (decode once, encode a ladder
//! of renditions into fMP4 HLS), the offline CLI, storage and the durable job worker; with the
//! `demo` feature also the test-clip generator.

pub mod cli;
pub mod ladder;
pub mod live;
pub mod storage;
#[cfg(feature = "demo")]
pub mod testsrc;
pub mod transcode;
pub mod worker;
