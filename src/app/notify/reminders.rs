//! Reminders before sessions at the configured offsets (issue 12).
