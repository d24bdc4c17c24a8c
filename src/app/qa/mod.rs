//! 企问律答 and legal advisors (issue 16), the use cases:
//! - [`questions`]: asking, routing to a lawyer, answering, follow-ups, closing, the overdue
//!   flag and questions during a live lecture;
//! - [`lawyers`]: lawyer profiles (firm, topics, industries);
//! - [`publication`]: public Q&A entries made from answered threads, and `/qa`;
//! - [`advisors`]: 5+1 advisor groups and enterprise size;
//! - [`followups`]: 回访 follow-ups opened by high-risk check-ups, and the loop dashboard;
//! - [`planning`]: topics of the next month proposed from check-ups, questions and lectures.
//!
//! The vocabulary is `crate::qa`; SQL is in `crate::db::{questions, lawyers, qa_entries,
//! advisors, followups, planning}`; errors are [`QaError`], mapped once in
//! `src/http/error_map.rs`.

pub mod advisors;
pub mod followups;
pub mod lawyers;
pub mod planning;
pub mod publication;
pub mod questions;

use crate::validation::FieldErrors;

/// What can go wrong with questions, entries, advisor groups and follow-ups.
#[derive(Debug, thiserror::Error)]
pub enum QaError {
    /// The account may not see or do this (not its thread, not assigned, not an organizer).
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The state does not allow it (e.g. writing in a closed thread); the message says why.
    #[error("conflict: {code}")]
    Conflict { code: &'static str, message: String },
    /// Too many questions in a short time.
    #[error("throttled")]
    Throttled { retry_after_s: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for QaError {
    fn from(e: sqlx::Error) -> Self {
        QaError::Internal(e.into())
    }
}

impl QaError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        QaError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn throttled_message_zh(retry_after_s: u64) -> String {
        let minutes = retry_after_s.div_ceil(60).max(1);
        format!("提问过于频繁，请 {minutes} 分钟后再试。")
    }
}

pub type Result<T> = std::result::Result<T, QaError>;
