//! Watch time from the player's progress reports.
//!
//! The player reports its position about every 15 s. The server keeps, per account and lecture,
//! the union of watched ranges; a report extends the range from the previous position only when
//! the step is plausible for real playback (forward, and no faster than [`MAX_RATE`] × the wall
//! time since the last report plus a little slack). Anything else — a seek, a pause, a long gap —
//! just moves the position without credit. So seeking back never counts twice, and a forged
//! report cannot claim time it did not spend; a position beyond the duration is refused.
//! What the watched time amounts to is [`super::attendance`]'s business.

/// Fastest playback speed the player offers.
pub const MAX_RATE: f64 = 2.0;
/// Slack for timer jitter between reports, in seconds.
pub const SLACK_S: f64 = 5.0;
/// Reports further apart than this start a new stretch (no credit for the gap).
pub const MAX_GAP_S: f64 = 120.0;

/// Sorted, non-overlapping [from, to) ranges in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranges(pub Vec<(f64, f64)>);

impl Ranges {
    /// Add [from, to) and merge overlaps.
    pub fn add(&mut self, from: f64, to: f64) {
        if from.is_nan() || to.is_nan() || to <= from {
            return;
        }
        self.0.push((from, to));
        self.0.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(self.0.len());
        for (a, b) in self.0.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.0 = merged;
    }

    /// Seconds covered.
    pub fn total(&self) -> f64 {
        self.0.iter().map(|(a, b)| b - a).sum()
    }
}

/// What is known of an account's watching of one lecture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchState {
    pub ranges: Ranges,
    pub last_position: f64,
    /// Seconds since some epoch of the last report; `None` before the first.
    pub last_report_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// Negative, not a number, or beyond the lecture's end.
    OutOfRange,
}

impl ReportError {
    pub fn message_zh(&self) -> &'static str {
        "播放位置无效：应在0到课程时长之间"
    }
}

/// Apply a progress report at wall time `now_s`.
pub fn apply_report(
    state: &WatchState,
    position_s: f64,
    now_s: f64,
    duration_s: f64,
) -> Result<WatchState, ReportError> {
    // a little tolerance: players may report the end a fraction past the last frame
    if !position_s.is_finite() || position_s < 0.0 || position_s > duration_s + 1.0 {
        return Err(ReportError::OutOfRange);
    }
    let position = position_s.min(duration_s);
    let mut next = state.clone();
    if let Some(last) = state.last_report_s {
        let wall = now_s - last;
        let step = position - state.last_position;
        if (0.0..=MAX_GAP_S).contains(&wall) && step > 0.0 && step <= wall * MAX_RATE + SLACK_S {
            next.ranges.add(state.last_position, position);
        }
    }
    next.last_position = position;
    next.last_report_s = Some(now_s);
    Ok(next)
}

/// When a report may mark a lecture completed (its date of attendance, on certificates and in
/// the month report).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Completion {
    /// A replay: its duration is final, and the lecture is completed once the share watched
    /// reaches this share (the configured attendance share).
    AtShare(f64),
    /// A live: its duration grows while it is watched, so no share of what has been streamed
    /// so far completes the lecture (watching the replay later does).
    NotYet,
}

/// Whether `watched_s` seconds of a lecture of `duration_s` complete it under `rule`.
pub fn completes(watched_s: f64, duration_s: f64, rule: Completion) -> bool {
    match rule {
        Completion::AtShare(share) => {
            super::attendance::Attendance::of(watched_s, duration_s, share).attended
        }
        Completion::NotYet => false,
    }
}

/// A viewer who left off within this many seconds of the end starts again from the beginning.
pub const RESUME_END_MARGIN_S: f64 = 10.0;

/// Where the player starts for a viewer who left off at `last` of a lecture of `duration`
/// seconds: there, unless that is in the first 5 s (nothing to skip) or within the last
/// [`RESUME_END_MARGIN_S`] (pressing play would end the video at once) — then at 0.
pub fn resume_position(last: f64, duration: Option<f64>) -> f64 {
    if !last.is_finite() || last <= SLACK_S {
        return 0.0;
    }
    match duration {
        Some(d) if last >= d - RESUME_END_MARGIN_S => 0.0,
        _ => last,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_final_duration_completes_a_lecture() {
        use super::{completes, Completion};
        assert!(completes(360.0, 600.0, Completion::AtShare(0.6)));
        assert!(!completes(359.0, 600.0, Completion::AtShare(0.6)));
        // a live watched from the start: all of it so far, yet not complete
        assert!(!completes(600.0, 600.0, Completion::NotYet));
    }

    #[test]
    fn no_resume_at_the_very_start_or_the_end() {
        use super::resume_position;
        assert_eq!(resume_position(30.0, Some(600.0)), 30.0);
        assert_eq!(resume_position(3.0, Some(600.0)), 0.0);
        assert_eq!(resume_position(589.9, Some(600.0)), 589.9);
        assert_eq!(resume_position(590.0, Some(600.0)), 0.0);
        assert_eq!(resume_position(30.016, Some(30.08)), 0.0);
        assert_eq!(resume_position(f64::NAN, Some(600.0)), 0.0);
        assert_eq!(resume_position(42.0, None), 42.0);
    }

    use super::*;
    use crate::archive::Attendance;
    use proptest::prelude::*;

    #[test]
    fn normal_playback_is_counted() {
        let mut s = WatchState::default();
        for i in 0..=40 {
            s = apply_report(&s, f64::from(i) * 15.0, f64::from(i) * 15.0, 600.0).expect("ok");
        }
        assert!((s.ranges.total() - 600.0).abs() < 1e-9);
        assert!((Attendance::of(s.ranges.total(), 600.0, 0.6).share - 1.0).abs() < 1e-9);
    }

    #[test]
    fn seeking_back_does_not_double_count() {
        let mut s = WatchState::default();
        let mut t = 0.0;
        for pos in [0.0, 15.0, 30.0, 45.0, 60.0, 10.0, 25.0, 40.0, 55.0, 70.0] {
            s = apply_report(&s, pos, t, 600.0).expect("ok");
            t += 15.0;
        }
        assert!((s.ranges.total() - 70.0).abs() < 1e-9, "{:?}", s.ranges);
    }

    #[test]
    fn forged_jumps_get_no_credit_and_beyond_end_is_refused() {
        let s = apply_report(&WatchState::default(), 0.0, 0.0, 3600.0).expect("ok");
        let s = apply_report(&s, 3500.0, 15.0, 3600.0).expect("ok");
        assert_eq!(s.ranges.total(), 0.0);
        assert_eq!(
            apply_report(&s, 3700.0, 30.0, 3600.0),
            Err(ReportError::OutOfRange)
        );
        assert_eq!(
            apply_report(&s, -1.0, 30.0, 3600.0),
            Err(ReportError::OutOfRange)
        );
        assert_eq!(
            apply_report(&s, f64::NAN, 30.0, 3600.0),
            Err(ReportError::OutOfRange)
        );
    }

    #[test]
    fn double_speed_counts() {
        let s = apply_report(&WatchState::default(), 0.0, 0.0, 600.0).expect("ok");
        let s = apply_report(&s, 30.0, 15.0, 600.0).expect("ok");
        assert_eq!(s.ranges.total(), 30.0);
    }

    proptest! {
        #[test]
        fn watched_never_exceeds_wall_time_times_rate(reports in proptest::collection::vec((0.0f64..700.0, 0.0f64..40.0), 1..60)) {
            let mut s = WatchState::default();
            let mut t = 0.0;
            for (pos, dt) in reports {
                t += dt;
                if let Ok(n) = apply_report(&s, pos, t, 600.0) { s = n; }
            }
            prop_assert!(s.ranges.total() <= 600.0 + 1e-9);
            prop_assert!(s.ranges.total() <= t * MAX_RATE + SLACK_S * 60.0);
            prop_assert!(s.ranges.0.windows(2).all(|w| w[0].1 < w[1].0));
        }
    }
}
