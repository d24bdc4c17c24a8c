//! Time as the application sees it.
//!
//! Every rule that depends on "now" (sign-up windows, the live-now window, watch-time
//! plausibility, throttle windows, job staleness) reads it from a [`Clock`] handed down from
//! the application state, never from `Utc::now()` directly. Production uses the system clock;
//! tests use a manual clock they set and advance, so a rule is tested at an exact instant
//! instead of by sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// The system clock, or a manual one for tests. Cheap to clone; clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `at` until it is set or advanced.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(Mutex::new(at))),
        }
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(t) => *t.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// Move a manual clock forward by `by`. The system clock cannot be moved: returns false.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.manual {
            None => false,
            Some(t) => {
                let mut guard = t.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                *guard += by;
                true
            }
        }
    }

    /// Set a manual clock to `at`. The system clock cannot be set: returns false.
    pub fn set(&self, at: DateTime<Utc>) -> bool {
        match &self.manual {
            None => false,
            Some(t) => {
                *t.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
                true
            }
        }
    }

    /// True for the manual (test) clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        assert!(shared.advance(Duration::seconds(90)));
        assert_eq!(clock.now(), start + Duration::seconds(90));
        assert!(clock.set(start));
        assert_eq!(shared.now(), start);
    }

    #[test]
    fn system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.advance(Duration::seconds(1)));
        assert!(!clock.is_manual());
    }
}
