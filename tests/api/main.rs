//! Integration tests of pufa against the real server, compiled as one test binary: every test
//! binary links FFmpeg and SQLite, so one binary links them once.
//!
//! Run one area with `cargo test --test api signups::`.

mod credit_code;
mod helpers;
mod webdriver;

mod accounts;
mod checkup;
mod durability;
mod e2e_player;
mod job_recovery;
mod media;
mod schedule;
mod signups;
mod transcode;
