//! The month attendance report a chamber reports upwards (issue 17): which enterprise attended
//! which lecture of a program, live or by replay. Plain functions over the facts the database
//! gives (sign-ups and watched seconds); no SQL, no HTTP.

use super::attendance::Attendance;
use std::collections::BTreeMap;

/// What the report says about one enterprise and one lecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Reached the attendance share while the lecture was live.
    Live,
    /// Reached it watching the replay.
    Replay,
    /// Watched, but less than the share (percent watched).
    Partial(u32),
    /// Signed up and confirmed, watched nothing.
    Absent,
    /// Neither signed up nor watched.
    None,
}

impl Mark {
    /// The cell's text (pages and exports).
    pub fn label_zh(self) -> String {
        match self {
            Mark::Live => "直播".into(),
            Mark::Replay => "回放".into(),
            Mark::Partial(p) => format!("未达标 {p}%"),
            Mark::Absent => "未观看".into(),
            Mark::None => String::new(),
        }
    }

    pub fn attended(self) -> bool {
        matches!(self, Mark::Live | Mark::Replay)
    }

    /// A CSS class for the page.
    pub fn class(self) -> &'static str {
        match self {
            Mark::Live | Mark::Replay => "ok",
            Mark::Partial(_) => "warn",
            Mark::Absent => "bad",
            Mark::None => "",
        }
    }
}

/// One account's watching of one session's lecture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Watched {
    pub watched_s: f64,
    pub duration_s: f64,
    /// The replay's reports reached the share (`watch_progress.attended_at` is set); else it
    /// was reached, if at all, while live.
    pub reached_in_replay: bool,
}

/// The mark of an enterprise for a session: `confirmed` sign-up, what it watched.
pub fn mark(confirmed: bool, watched: Option<Watched>, threshold: f64) -> Mark {
    match watched {
        Some(w) if w.watched_s > 0.0 => {
            let a = Attendance::of(w.watched_s, w.duration_s, threshold);
            match (a.attended, w.reached_in_replay) {
                (true, true) => Mark::Replay,
                (true, false) => Mark::Live,
                (false, _) => Mark::Partial(a.percent),
            }
        }
        _ if confirmed => Mark::Absent,
        _ => Mark::None,
    }
}

/// An enterprise's line: its marks in the order of the report's sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub enterprise_id: i64,
    pub marks: Vec<Mark>,
}

impl Line {
    pub fn attended(&self) -> usize {
        self.marks.iter().filter(|m| m.attended()).count()
    }
}

/// A session's column totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub confirmed: usize,
    pub live: usize,
    pub replay: usize,
    pub partial: usize,
}

/// The report's body: a line per enterprise that signed up for or watched any session
/// (most lectures attended first, then by id), and the totals per session.
pub fn lines(
    sessions: &[i64],
    confirmed: &[(i64, i64)],
    watched: &[(i64, i64, Watched)],
    threshold: f64,
) -> (Vec<Line>, Vec<Totals>) {
    let column: BTreeMap<i64, usize> = sessions.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut facts: BTreeMap<i64, Vec<(bool, Option<Watched>)>> = BTreeMap::new();
    let blank = || vec![(false, None); sessions.len()];
    for (enterprise, session) in confirmed {
        if let Some(&c) = column.get(session) {
            facts.entry(*enterprise).or_insert_with(blank)[c].0 = true;
        }
    }
    for (enterprise, session, w) in watched {
        if let Some(&c) = column.get(session) {
            facts.entry(*enterprise).or_insert_with(blank)[c].1 = Some(*w);
        }
    }
    let mut totals = vec![Totals::default(); sessions.len()];
    let mut lines: Vec<Line> = facts
        .into_iter()
        .map(|(enterprise_id, cells)| {
            let marks: Vec<Mark> = cells
                .iter()
                .enumerate()
                .map(|(c, (confirmed, watched))| {
                    let m = mark(*confirmed, *watched, threshold);
                    let t = &mut totals[c];
                    t.confirmed += usize::from(*confirmed);
                    match m {
                        Mark::Live => t.live += 1,
                        Mark::Replay => t.replay += 1,
                        Mark::Partial(_) => t.partial += 1,
                        Mark::Absent | Mark::None => {}
                    }
                    m
                })
                .collect();
            Line {
                enterprise_id,
                marks,
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        b.attended()
            .cmp(&a.attended())
            .then(a.enterprise_id.cmp(&b.enterprise_id))
    });
    (lines, totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(watched_s: f64, reached_in_replay: bool) -> Watched {
        Watched {
            watched_s,
            duration_s: 100.0,
            reached_in_replay,
        }
    }

    #[test]
    fn marks() {
        assert_eq!(mark(true, Some(w(80.0, false)), 0.6), Mark::Live);
        assert_eq!(mark(false, Some(w(80.0, true)), 0.6), Mark::Replay);
        assert_eq!(mark(true, Some(w(30.0, false)), 0.6), Mark::Partial(30));
        assert_eq!(mark(true, None, 0.6), Mark::Absent);
        assert_eq!(mark(true, Some(w(0.0, false)), 0.6), Mark::Absent);
        assert_eq!(mark(false, None, 0.6), Mark::None);
        assert_eq!(Mark::Partial(30).label_zh(), "未达标 30%");
    }

    #[test]
    fn lines_and_totals() {
        let sessions = [10, 11, 12];
        let confirmed = [(1, 10), (1, 11), (2, 10), (3, 99)];
        let watched = [
            (1, 10, w(90.0, false)),
            (1, 11, w(70.0, true)),
            (2, 10, w(10.0, false)),
            (4, 12, w(100.0, true)),
        ];
        let (lines, totals) = lines(&sessions, &confirmed, &watched, 0.6);
        // enterprise 3 signed up for another program's session only: not in this report
        let ids: Vec<i64> = lines.iter().map(|l| l.enterprise_id).collect();
        assert_eq!(ids, [1, 4, 2]);
        assert_eq!(lines[0].marks, [Mark::Live, Mark::Replay, Mark::None]);
        assert_eq!(lines[0].attended(), 2);
        assert_eq!(lines[2].marks, [Mark::Partial(10), Mark::None, Mark::None]);
        assert_eq!(
            totals[0],
            Totals {
                confirmed: 2,
                live: 1,
                replay: 0,
                partial: 1
            }
        );
        assert_eq!(totals[2].replay, 1);
    }
}
