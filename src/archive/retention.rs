//! How long viewers stay with a lecture (issue 17, lecture statistics): the retention curve —
//! for points along the lecture's timeline, how many viewers watched that point — and how far
//! viewers got overall, in bands of the watched share.
//!
//! The curve is exact for what pufa stores: every account's union of watched ranges
//! ([`super::watch`]), built from the player's progress reports (about every 15 s). A point
//! counts as watched by a viewer when it lies in one of the viewer's ranges; a part skipped by
//! seeking is not watched, and a part watched twice counts once. Live and replay watching are
//! one union per account.

use super::attendance::COMPLETED_PERCENT;

/// Tolerance at a range's ends, in seconds: a report may land a fraction before the last frame,
/// and the first report a fraction after the start.
const EDGE_S: f64 = 1.0;

/// How many viewers watched each of `steps + 1` evenly spaced points of a lecture of
/// `duration_s` seconds: point `i` is at `i / steps` of the timeline, so the first is the start
/// and the last the end. Empty when the duration is unknown or zero.
pub fn curve(viewers: &[&[(f64, f64)]], duration_s: f64, steps: usize) -> Vec<usize> {
    if !duration_s.is_finite() || duration_s <= 0.0 || steps == 0 {
        return Vec::new();
    }
    (0..=steps)
        .map(|i| {
            let t = duration_s * i as f64 / steps as f64;
            viewers
                .iter()
                .filter(|ranges| {
                    ranges
                        .iter()
                        .any(|(from, to)| from - EDGE_S <= t && t <= to + EDGE_S)
                })
                .count()
        })
        .collect()
}

/// The bands of the watched share, as `(label, lowest percent)`: the last is 看完.
pub const BANDS: [(&str, u32); 5] = [
    ("不足 25%", 0),
    ("25%–49%", 25),
    ("50%–74%", 50),
    ("75%–94%", 75),
    ("看完（≥95%）", COMPLETED_PERCENT),
];

/// How many viewers' watched share (whole percent) falls into each of [`BANDS`].
pub fn bands(percents: &[u32]) -> [usize; 5] {
    let mut counts = [0; 5];
    for p in percents {
        let band = BANDS.iter().rposition(|(_, low)| p >= low).unwrap_or(0);
        counts[band] += 1;
    }
    counts
}

/// A position in the lecture as a player shows it: "4:05", "1:02:03".
pub fn timecode(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0).round() as u64
    } else {
        0
    };
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_counts_who_watched_each_point() {
        // a lecture of 100 s: one viewer watched it all (reports a little short of the end),
        // one the first half, one skipped from 20 s to 80 s
        let all = [(0.0, 99.5)];
        let half = [(0.0, 50.0)];
        let skipped = [(0.0, 20.0), (80.0, 100.0)];
        let c = curve(&[&all, &half, &skipped], 100.0, 10);
        assert_eq!(c.len(), 11);
        assert_eq!(c, [3, 3, 3, 2, 2, 2, 1, 1, 2, 2, 2]);
        assert!(curve(&[&all], 0.0, 10).is_empty());
        assert!(curve(&[&all], f64::NAN, 10).is_empty());
        assert_eq!(curve(&[], 100.0, 4), [0, 0, 0, 0, 0]);
    }

    #[test]
    fn bands_and_timecodes() {
        assert_eq!(bands(&[0, 24, 25, 60, 94, 95, 100]), [2, 1, 1, 1, 2]);
        assert_eq!(COMPLETED_PERCENT, BANDS[4].1, "the last band is 看完");
        assert_eq!(timecode(0.0), "0:00");
        assert_eq!(timecode(245.4), "4:05");
        assert_eq!(timecode(3723.0), "1:02:03");
        assert_eq!(timecode(-3.0), "0:00");
    }
}
