//! Live lectures: the engine that turns a publisher's stream into live HLS.
//!
//! * [`packager`]: FLV or MPEG-TS bytes in (as the RTMP and SRT ingest deliver them), a
//!   ladder of fragmented-MP4 renditions with pufa's own live playlists out.
//!
//! The ingest (RTMP/SRT accept loops) lives in `ingest`, declared by the lead.

pub mod packager;
