//! Live lectures: the ingest (RTMP and SRT listeners that admit a publisher and hand its bytes
//! on) and the packager (demux, ladder, LL-HLS) — see docs/design/live.md.

pub mod ingest;
