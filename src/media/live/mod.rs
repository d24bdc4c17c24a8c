//! Live lectures (see docs/design/live.md): not yet wired into `pufa serve`.
//!
//! * [`ingest`]: RTMP and SRT listeners that read the stream key, ask an admission before any
//!   media, and hand an admitted publisher's bytes on as a blocking reader with arrival times.
//! * [`packager`]: FLV or MPEG-TS bytes in, a ladder of fragmented-MP4 renditions (the source
//!   H.264 copied as the top rung) with pufa's own live playlists out, and VOD playlists for the
//!   replay at the end.
//!
//! Both sides keep a log of byte offsets and arrival times (`ingest::stream::Arrivals`,
//! `packager::ArrivalLog`); wiring them together should keep one of the two.

pub mod hub;
pub mod ingest;
pub mod journal;
pub mod packager;
pub mod replay;
