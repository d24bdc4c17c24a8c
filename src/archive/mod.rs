//! The lecture archive: watch-time accounting, attendance, who may watch, certificates and the
//! published versions of recordings, and how long viewers stay with a lecture. Plain functions, no HTTP or SQL.

pub mod access;
pub mod attendance;
pub mod captions;
pub mod certificate;
pub mod month;
pub mod retention;
pub mod version;
pub mod watch;

pub use access::{access, may_watch, Access, Enrolment, Visibility};
pub use attendance::Attendance;
pub use version::LectureVersion;
