//! The organizer's side: deliveries with state, attempts and last error; a message to everyone signed up for a session (issue 12).
