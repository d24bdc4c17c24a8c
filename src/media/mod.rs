//! Media: ladder planning, the in-process ffmpeg-next transcoder (decode once, encode a ladder
//! of renditions into fMP4 HLS), the test-clip generator, the offline CLI, storage and the
//! durable job worker.

pub mod cli;
pub mod ladder;
pub mod storage;
pub mod testsrc;
pub mod transcode;
pub mod worker;
