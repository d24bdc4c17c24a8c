//! Precision planning (issue 16): next month's topics proposed from check-ups, questions and
//! lectures held; adopting them makes a draft program with unplaced sessions.
