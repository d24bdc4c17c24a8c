//! The lecture archive: watch-time accounting and attendance. Plain functions, no HTTP or SQL.

pub mod watch;
