//! Media: storage, the transcode worker (the ffmpeg-next engine arrives with its own modules).

pub mod storage;
