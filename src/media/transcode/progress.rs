//! Progress reporting: turns the pipeline's output time into [`Progress`] calls at a bounded
//! rate, and the callback's answer into cancellation.

use super::types::{Control, Progress, TranscodeError};
use std::time::Instant;

/// Calls the progress callback when output time advanced by half a second or a wall-clock
/// second passed; a [`Control::Cancel`] answer becomes [`TranscodeError::Cancelled`].
pub(super) struct Reporter<'a> {
    callback: &'a mut dyn FnMut(&Progress) -> Control,
    duration_s: Option<f64>,
    last_out_time: f64,
    last_call: Instant,
}

impl<'a> Reporter<'a> {
    pub(super) fn new(
        callback: &'a mut dyn FnMut(&Progress) -> Control,
        duration_s: Option<f64>,
    ) -> Self {
        Self {
            callback,
            duration_s: duration_s.filter(|d| d.is_finite() && *d > 0.0),
            last_out_time: 0.0,
            last_call: Instant::now(),
        }
    }

    /// Report when output time advanced by half a second or a wall-clock second passed.
    pub(super) fn tick(&mut self, out_time_s: f64) -> Result<(), TranscodeError> {
        let t = out_time_s.max(self.last_out_time); // audio and video both report; stay monotone
        if t - self.last_out_time >= 0.5 || self.last_call.elapsed().as_secs_f64() >= 1.0 {
            self.report(t, false)?;
        }
        Ok(())
    }

    pub(super) fn report(&mut self, out_time_s: f64, done: bool) -> Result<(), TranscodeError> {
        let out_time_s = out_time_s.max(self.last_out_time);
        self.last_out_time = out_time_s;
        self.last_call = Instant::now();
        let fraction = if done {
            1.0
        } else {
            self.duration_s
                .map(|d| (out_time_s / d).clamp(0.0, 0.999))
                .unwrap_or(0.0)
        };
        let progress = Progress {
            fraction,
            out_time_s,
            duration_s: self.duration_s,
        };
        match (self.callback)(&progress) {
            Control::Continue => Ok(()),
            Control::Cancel => Err(TranscodeError::Cancelled),
        }
    }
}
