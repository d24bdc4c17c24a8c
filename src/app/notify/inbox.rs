//! The in-app inbox and notification preferences (issue 12).
