//! The legal health check (法治体检): the questionnaire, scoring into a risk report, lecture
//! recommendations and the radar chart. Plain types and functions, no HTTP or SQL.

pub mod dashboard;
pub mod questionnaire;
pub mod radar;
pub mod scoring;
