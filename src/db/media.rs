//! The pre-split path of the lecture, job and watch tables, kept so callers in other areas
//! compile while they move to [`super::jobs`], [`super::lectures`] and [`super::watch`].

pub use super::jobs::{JobRow, JobState, Publication};
pub use super::lectures::{LectureRow, PublishedRendition};
pub use super::watch::{ViewerRow, WatchRow};
