//! Integration tests of pufa against the real server, compiled as one test binary: every test
//! binary links FFmpeg and SQLite, so one binary links them once.
//!
//! Run one area with `cargo test --test api signups::`.

// A test states its expectations by unwrapping; clippy.toml allows that inside `#[test]`
// functions, and this extends it to the helpers and scenario functions they call.
#![allow(clippy::unwrap_used)]

mod credit_code;
mod deploy;
mod helpers;
mod outside;
mod webdriver;

mod accel;
mod accounts;
mod attendance_report;
mod audit;
mod auth_security;
mod axe;
mod backup;
mod captions;
mod certificates;
mod charts;
mod checkup;
mod checkup_pdf;
mod checkup_privacy;
mod checkup_report;
mod claims;
mod directory;
mod durability;
mod e2e_live;
mod e2e_player;
mod edges;
mod exports;
mod form_errors;
mod job_recovery;
mod live;
mod live_api;
mod media;
mod notify_delivery;
mod notify_inbox;
mod notify_organizer;
mod notify_reminders;
mod object_storage;
mod observe;
mod organizer_lists;
mod postgres;
mod privacy;
mod program_editing;
mod proxy;
mod qa_advisors;
mod qa_browser;
mod qa_followups;
mod qa_planning;
mod qa_privacy;
mod qa_public;
mod qa_questions;
mod replicas;
mod safe_actions;
mod schedule;
mod self_service;
mod sharing;
mod signups;
mod signups_onecall;
mod staff_accounts;
mod topology;
mod transcode;
mod workers;
