//! Live lectures, the engine (see docs/design/live.md and the walk of a live in
//! ARCHITECTURE.md; `app::live::service` runs it inside `pufa serve`).
//!
//! * [`ingest`]: RTMP and SRT listeners that read the stream key, ask an admission before any
//!   media, and hand an admitted publisher's bytes on as a blocking reader with arrival times.
//! * [`journal`]: those bytes and arrival times written to disk before the packager sees them,
//!   so that a live cut off by a crash can be packaged again.
//! * [`packager`]: FLV or MPEG-TS bytes in, a ladder of fragmented-MP4 renditions (the source
//!   H.264 copied as the top rung) with segments on disk and VOD playlists at the end.
//! * [`hub`]: the live playlists viewers are served, from memory, with LL-HLS parts and
//!   blocking playlist reload, over every period (reconnect) of a live.
//! * [`replay`]: a live's periods made into a published lecture version.
//!
//! The ingest keeps the arrival times (`ingest::stream::Arrivals`); the packager's
//! `ArrivalLog` is filled from them through the reader, so a segment's PROGRAM-DATE-TIME is when
//! its first byte reached the socket.

pub mod hub;
pub mod ingest;
pub mod journal;
pub mod packager;
pub mod replay;
