//! Attendance: how much of a lecture's recording an account watched, and whether that counts
//! as having attended. The one place this is computed, for the roster, the personal page, the
//! player, the organizer's figures and the certificate.

/// A viewer whose share reaches this percentage has completed the lecture (organizer figures).
pub const COMPLETED_PERCENT: u32 = 95;

/// Watched share of a lecture against the attendance threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attendance {
    /// Watched seconds / duration, 0..=1 (0 when the duration is unknown or zero).
    pub share: f64,
    /// The share reached the threshold.
    pub attended: bool,
    /// The share in whole percent, rounded.
    pub percent: u32,
}

impl Attendance {
    /// The attendance of `watched_s` seconds of a `duration_s`-second lecture, where a share
    /// of `threshold` (0..=1) or more counts as attended.
    pub fn of(watched_s: f64, duration_s: f64, threshold: f64) -> Attendance {
        let share = if duration_s > 0.0 {
            (watched_s / duration_s).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Attendance {
            share,
            attended: share >= threshold,
            percent: percent(share),
        }
    }

    /// Whether the share counts as having completed the lecture.
    pub fn completed(&self) -> bool {
        self.percent >= COMPLETED_PERCENT
    }
}

/// A share 0..=1 in whole percent, rounded.
pub fn percent(share: f64) -> u32 {
    (share * 100.0).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_is_clamped_and_compared_with_the_threshold() {
        let a = Attendance::of(360.0, 600.0, 0.6);
        assert_eq!((a.share, a.attended, a.percent), (0.6, true, 60));
        let a = Attendance::of(359.0, 600.0, 0.6);
        assert!(!a.attended);
        assert_eq!(a.percent, 60);
        let a = Attendance::of(700.0, 600.0, 0.6);
        assert_eq!((a.share, a.percent), (1.0, 100));
        assert!(a.completed());
        let a = Attendance::of(10.0, 0.0, 0.6);
        assert_eq!((a.share, a.attended, a.percent), (0.0, false, 0));
        assert!(!Attendance::of(56.0, 60.0, 0.6).completed());
        assert!(Attendance::of(57.0, 60.0, 0.6).completed());
    }
}
