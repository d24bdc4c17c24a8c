//! Use cases: the floor between HTTP and the database.
//!
//! One module per area. A use case is a plain `async fn` that takes the database handle
//! ([`crate::db::Db`]), the [`crate::clock::Clock`] (or the instant it needs) and the settings
//! it uses, and returns `Result<T, AreaError>` with the area's own error enum. It knows nothing
//! of axum, cookies, templates or status codes: the HTTP layer maps every area error to
//! `AppError` in one place (`src/http/error_map.rs`), and the JSON and HTML twins of a handler
//! call the same function, so they cannot drift apart.
//!
//! Rules live in the domain modules (`crate::signup`, `crate::schedule`, `crate::archive`, …)
//! as pure functions; a use case loads what a rule needs, applies it and stores the outcome.
//! Every area error has an `Internal(anyhow::Error)` variant for failures nobody can act on
//! (database down, disk full); everything a user can act on is a variant of its own.

pub mod accounts;
pub mod archive;
pub mod audit;
pub mod backup;
pub mod captions;
pub mod checkup;
pub mod claims;
pub mod lecturers;
pub mod live;
pub mod login;
pub mod media;
pub mod month;
pub mod notify;
pub mod qa;
pub mod schedule;
pub mod self_service;
pub mod signup;
