//! View helpers shared by every room: time formatting in the program's own zone, the
//! timetable items and month grids, how states are labelled, and the SVG charts.

pub mod charts;
pub mod choice;
pub mod format;
pub mod paging;
pub mod qr;
pub mod share;
pub mod status;
pub mod timetable;
