//! Auto-scheduler for a program's lectures.
//!
//! The program is single-track: at most one lecture runs at any moment. Sessions are
//! placed into the program's weekly slot occurrences by a maximum bipartite matching
//! (so nothing that could be placed is left out), after which a bounded local search
//! spreads categories so the same category rarely sits in consecutive occurrences.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};

/// A weekly time slot of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRule {
    /// ISO weekday, 1 = Monday .. 7 = Sunday. Other values never occur.
    pub weekday: u8,
    /// Local start time in the program timezone.
    pub start: NaiveTime,
    /// Length of the slot in minutes.
    pub minutes: u32,
}

/// The calendar of a program: its date range, timezone, weekly slots and blackout dates.
#[derive(Debug, Clone)]
pub struct ProgramCalendar {
    /// First day of the program (inclusive, local date).
    pub starts_on: NaiveDate,
    /// Last day of the program (inclusive, local date).
    pub ends_on: NaiveDate,
    /// Timezone in which dates, weekdays and slot times are interpreted.
    pub timezone: Tz,
    /// Weekly slots.
    pub slots: Vec<SlotRule>,
    /// Local dates on which no lecture takes place.
    pub blackout_dates: BTreeSet<NaiveDate>,
}

/// One concrete occurrence of a slot rule on a date of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Position in the chronological list returned by [`occurrences`].
    pub index: usize,
    /// Local date in the program timezone.
    pub date: NaiveDate,
    /// Start instant, carrying the program timezone's offset on that date.
    pub starts_at: DateTime<FixedOffset>,
    /// Length of the slot in minutes.
    pub minutes: u32,
}

/// When a lecturer can teach.
#[derive(Debug, Clone, Default)]
pub struct Availability {
    /// ISO weekdays (1 = Monday .. 7 = Sunday) the lecturer teaches on; `None` means every day.
    pub weekdays: Option<BTreeSet<u8>>,
    /// Local dates on which the lecturer cannot teach.
    pub unavailable_dates: BTreeSet<NaiveDate>,
}

impl Availability {
    /// Whether the lecturer can teach on this local date (weekday and unavailable dates).
    pub fn allows(&self, date: NaiveDate) -> bool {
        let weekday_ok = self
            .weekdays
            .as_ref()
            .is_none_or(|days| days.contains(&iso_weekday(date)));
        weekday_ok && !self.unavailable_dates.contains(&date)
    }
}

/// A session that still needs a time.
#[derive(Debug, Clone)]
pub struct SessionToPlace {
    /// Session id; inputs are processed in id order, a repeated id is considered once.
    pub id: i64,
    /// Category (e.g. 合同管理); used to avoid the same category in consecutive occurrences.
    pub category: String,
    /// Length in minutes; only slots at least this long can hold the session.
    pub minutes: u32,
    /// The lecturer giving the session.
    pub lecturer_id: i64,
    /// The lecturer's availability.
    pub availability: Availability,
}

/// A session that already has a time (placed by hand or earlier).
#[derive(Debug, Clone)]
pub struct Booked {
    /// Session id.
    pub session_id: i64,
    /// The lecturer giving the session.
    pub lecturer_id: i64,
    /// Category of the session.
    pub category: String,
    /// The session's title, to name it in a conflict.
    pub title: String,
    /// Start instant.
    pub starts_at: DateTime<Utc>,
    /// Length in minutes.
    pub minutes: u32,
}

/// Where the scheduler put a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Session id.
    pub session_id: i64,
    /// Start of the chosen occurrence.
    pub starts_at: DateTime<FixedOffset>,
}

/// Why a session could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnplacedReason {
    /// The session is longer than every occurrence of the program.
    LongerThanEverySlot {
        /// Length of the session.
        minutes: u32,
        /// Length of the longest occurrence of the program.
        longest_slot: u32,
    },
    /// No occurrence fits the lecturer's weekdays and dates (blackout dates already excluded).
    NoEligibleOccurrence,
    /// Suitable occurrences exist but all are taken by other sessions or already-placed ones.
    AllEligibleTaken {
        /// Number of occurrences that would suit the session if they were free.
        eligible: usize,
    },
}

impl UnplacedReason {
    /// Human-readable reason in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Self::LongerThanEverySlot {
                minutes,
                longest_slot,
            } => format!("课程时长 {minutes} 分钟，超过本项目最长的时段（{longest_slot} 分钟）"),
            Self::NoEligibleOccurrence => {
                "讲师在本项目内没有可授课的时段（受可授课星期、不可授课日期或停课日期限制）"
                    .to_string()
            }
            Self::AllEligibleTaken { eligible } => {
                format!("符合条件的 {eligible} 个时段均已被其他课程占用")
            }
        }
    }
}

/// A session the scheduler could not place, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    /// Session id.
    pub session_id: i64,
    /// Why it was not placed.
    pub reason: UnplacedReason,
}

/// Result of [`plan`].
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Placed sessions in chronological order.
    pub placed: Vec<Placement>,
    /// Sessions that could not be placed, in id order.
    pub unplaced: Vec<Unplaced>,
    /// Pairs of consecutive occurrences holding the same category, counting
    /// already-booked sessions as well as newly placed ones.
    pub adjacent_same_category: usize,
}

/// Upper bound on local-search passes; each pass is linear in the number of
/// (session, eligible occurrence) pairs, so this bounds the running time.
const MAX_SEARCH_PASSES: usize = 64;

const MS_PER_MINUTE: i64 = 60_000;

/// A half-open time interval in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: i64,
    end: i64,
}

impl Span {
    pub(crate) fn new(start_ms: i64, minutes: u32) -> Self {
        Span {
            start: start_ms,
            end: start_ms.saturating_add(i64::from(minutes) * MS_PER_MINUTE),
        }
    }

    pub(crate) fn of<Z: TimeZone>(starts_at: &DateTime<Z>, minutes: u32) -> Self {
        Span::new(starts_at.timestamp_millis(), minutes)
    }

    pub(crate) fn overlaps(self, other: Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// ISO weekday number, 1 = Monday .. 7 = Sunday.
pub(crate) fn iso_weekday(date: NaiveDate) -> u8 {
    // number_from_monday() is always 1..=7.
    date.weekday().number_from_monday() as u8
}

/// All slot occurrences of the program in chronological order, blackout dates excluded.
///
/// Local times that do not exist (DST gap) are skipped; ambiguous ones (DST fold) use the
/// earlier instant. Because the program is single-track, an occurrence overlapping an
/// earlier-starting one (overlapping or duplicate slot rules) is dropped; at equal start
/// the longer slot is kept.
pub fn occurrences(cal: &ProgramCalendar) -> Vec<Occurrence> {
    if cal.slots.is_empty() || cal.ends_on < cal.starts_on {
        return Vec::new();
    }
    let mut found: Vec<(DateTime<FixedOffset>, u32, usize, NaiveDate)> = Vec::new();
    let mut day = Some(cal.starts_on);
    while let Some(date) = day.filter(|d| *d <= cal.ends_on) {
        if !cal.blackout_dates.contains(&date) {
            let weekday = iso_weekday(date);
            for (rule_no, slot) in cal.slots.iter().enumerate() {
                if slot.weekday != weekday {
                    continue;
                }
                let local = cal
                    .timezone
                    .from_local_datetime(&date.and_time(slot.start))
                    .earliest();
                if let Some(at) = local {
                    found.push((at.fixed_offset(), slot.minutes, rule_no, date));
                }
            }
        }
        day = date.succ_opt();
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));

    let mut out: Vec<Occurrence> = Vec::with_capacity(found.len());
    let mut busy_until = i64::MIN;
    let mut last_start: Option<i64> = None;
    for (starts_at, minutes, _, date) in found {
        let span = Span::of(&starts_at, minutes);
        if span.start < busy_until || last_start == Some(span.start) {
            continue;
        }
        busy_until = span.end;
        last_start = Some(span.start);
        out.push(Occurrence {
            index: out.len(),
            date,
            starts_at,
            minutes,
        });
    }
    out
}

/// The bipartite graph between sessions and occurrences, plus what is needed to
/// explain unplaced sessions and to score categories.
struct Problem<'a> {
    occs: Vec<Occurrence>,
    /// Category id of the booked session occupying an occurrence; such an occurrence is not free.
    booked_cat: Vec<Option<usize>>,
    /// Sessions sorted by id, without repeated ids.
    sessions: Vec<&'a SessionToPlace>,
    cat: Vec<usize>,
    /// Free, suitable occurrences per session, ascending.
    adj: Vec<Vec<usize>>,
    /// Suitable occurrences per session, whether free or not.
    eligible: Vec<usize>,
}

impl<'a> Problem<'a> {
    fn build(cal: &ProgramCalendar, booked: &[Booked], to_place: &'a [SessionToPlace]) -> Self {
        let occs = occurrences(cal);

        let mut sessions: Vec<&SessionToPlace> = to_place.iter().collect();
        sessions.sort_by_key(|s| s.id);
        sessions.dedup_by_key(|s| s.id);

        // A session being (re)placed must not be blocked by its own old booking.
        let placing: BTreeSet<i64> = sessions.iter().map(|s| s.id).collect();
        let mut booked: Vec<&Booked> = booked
            .iter()
            .filter(|b| !placing.contains(&b.session_id))
            .collect();
        booked.sort_by_key(|b| (b.starts_at, b.session_id));

        let mut cat_ids: BTreeMap<&str, usize> = BTreeMap::new();
        for name in sessions
            .iter()
            .map(|s| s.category.as_str())
            .chain(booked.iter().map(|b| b.category.as_str()))
        {
            let next = cat_ids.len();
            cat_ids.entry(name).or_insert(next);
        }
        let cat_of = |name: &str| cat_ids.get(name).copied().unwrap_or(usize::MAX);

        let booked_spans: Vec<Span> = booked
            .iter()
            .map(|b| Span::of(&b.starts_at, b.minutes))
            .collect();
        let booked_cat: Vec<Option<usize>> = occs
            .iter()
            .map(|o| {
                let span = Span::of(&o.starts_at, o.minutes);
                booked
                    .iter()
                    .zip(&booked_spans)
                    .find(|(_, b)| b.overlaps(span))
                    .map(|(b, _)| cat_of(&b.category))
            })
            .collect();
        let mut lecturer_busy: BTreeMap<i64, Vec<Span>> = BTreeMap::new();
        for (b, span) in booked.iter().zip(&booked_spans) {
            lecturer_busy.entry(b.lecturer_id).or_default().push(*span);
        }

        let mut adj = Vec::with_capacity(sessions.len());
        let mut eligible = Vec::with_capacity(sessions.len());
        for s in &sessions {
            let busy = lecturer_busy
                .get(&s.lecturer_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut free = Vec::new();
            let mut suitable = 0;
            for o in &occs {
                if o.minutes < s.minutes || !s.availability.allows(o.date) {
                    continue;
                }
                suitable += 1;
                // The lecturer check is implied by the single-track rule today; it is kept
                // explicit so relaxing that rule can never double-book a lecturer.
                let session_span = Span::of(&o.starts_at, s.minutes);
                if booked_cat[o.index].is_none() && !busy.iter().any(|b| b.overlaps(session_span)) {
                    free.push(o.index);
                }
            }
            adj.push(free);
            eligible.push(suitable);
        }
        let cat = sessions.iter().map(|s| cat_of(&s.category)).collect();

        Problem {
            occs,
            booked_cat,
            sessions,
            cat,
            adj,
            eligible,
        }
    }

    fn is_eligible(&self, session: usize, occ: usize) -> bool {
        self.adj[session].binary_search(&occ).is_ok()
    }

    fn unplaced_reason(&self, session: usize) -> UnplacedReason {
        let minutes = self.sessions[session].minutes;
        let longest = self.occs.iter().map(|o| o.minutes).max();
        match longest {
            Some(longest_slot) if minutes > longest_slot => UnplacedReason::LongerThanEverySlot {
                minutes,
                longest_slot,
            },
            _ if self.eligible[session] == 0 => UnplacedReason::NoEligibleOccurrence,
            _ => UnplacedReason::AllEligibleTaken {
                eligible: self.eligible[session],
            },
        }
    }
}

/// Maximum matching grown occurrence by occurrence in chronological order.
///
/// Augmenting from an occurrence keeps every previously matched occurrence matched, so
/// this is the greedy algorithm on the transversal matroid of occurrences: it yields a
/// maximum matching whose set of used occurrences is the earliest possible.
/// Returns the occurrence of each session and the session of each occurrence.
fn earliest_maximum_matching(p: &Problem) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
    let n_occ = p.occs.len();
    let mut occ_adj: Vec<Vec<usize>> = vec![Vec::new(); n_occ];
    for (s, list) in p.adj.iter().enumerate() {
        for &o in list {
            occ_adj[o].push(s);
        }
    }
    let mut sess_occ: Vec<Option<usize>> = vec![None; p.sessions.len()];
    let mut occ_sess: Vec<Option<usize>> = vec![None; n_occ];
    let mut seen = vec![false; p.sessions.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut via: Vec<usize> = Vec::new();
    let mut unmatched = p.sessions.len();
    for root in 0..n_occ {
        // Every augmenting path ends at an unmatched session.
        if unmatched == 0 {
            break;
        }
        // A free neighbour is the shortest augmenting path; taking it first avoids
        // walking long alternating chains in the common, uncongested case.
        if let Some(&s) = occ_adj[root].iter().find(|&&s| sess_occ[s].is_none()) {
            sess_occ[s] = Some(root);
            occ_sess[root] = Some(s);
            unmatched -= 1;
            continue;
        }
        seen.iter_mut().for_each(|v| *v = false);
        stack.clear();
        via.clear();
        stack.push((root, 0));
        // Iterative DFS: stack[k] is an occurrence, via[k] the session tried from it.
        while let Some(&(occ, pos)) = stack.last() {
            let Some(&s) = occ_adj[occ].get(pos) else {
                stack.pop();
                via.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            if seen[s] {
                continue;
            }
            seen[s] = true;
            via.push(s);
            match sess_occ[s] {
                None => {
                    for (&(o, _), &sv) in stack.iter().zip(&via) {
                        sess_occ[sv] = Some(o);
                        occ_sess[o] = Some(sv);
                    }
                    unmatched -= 1;
                    break;
                }
                Some(next) => stack.push((next, 0)),
            }
        }
    }
    (sess_occ, occ_sess)
}

/// Current assignment during the category local search.
struct Arrangement<'p, 'a> {
    p: &'p Problem<'a>,
    sess_occ: Vec<Option<usize>>,
    occ_sess: Vec<Option<usize>>,
}

impl Arrangement<'_, '_> {
    fn cat_at(&self, occ: usize) -> Option<usize> {
        self.p.booked_cat[occ].or_else(|| self.occ_sess[occ].map(|s| self.p.cat[s]))
    }

    /// Whether occurrences `i` and `i + 1` hold the same category.
    fn same_pair(&self, i: usize) -> bool {
        i + 1 < self.p.occs.len()
            && matches!((self.cat_at(i), self.cat_at(i + 1)), (Some(a), Some(b)) if a == b)
    }

    fn total_cost(&self) -> usize {
        (0..self.p.occs.len())
            .filter(|&i| self.same_pair(i))
            .count()
    }

    /// Indices of the distinct pairs whose score can change when these occurrences
    /// change (a fixed-size buffer: this runs for every candidate change).
    fn pairs_around(touched: [usize; 2]) -> ([usize; 4], usize) {
        let mut pairs = [0; 4];
        let mut len = 0;
        for o in touched {
            for pair in [o.checked_sub(1), Some(o)].into_iter().flatten() {
                if !pairs[..len].contains(&pair) {
                    pairs[len] = pair;
                    len += 1;
                }
            }
        }
        (pairs, len)
    }

    fn cost_of(&self, pairs: &[usize]) -> usize {
        pairs.iter().filter(|&&i| self.same_pair(i)).count()
    }

    fn put(&mut self, session: usize, occ: usize) {
        self.sess_occ[session] = Some(occ);
        self.occ_sess[occ] = Some(session);
    }

    /// Applies `change`, keeps it if it lowers (adjacent pairs, sum of occurrence
    /// indices) lexicographically, otherwise undoes it. Returns whether it was kept.
    fn try_change(&mut self, change: Change) -> bool {
        let (buffer, len) = Self::pairs_around(change.touched());
        let pairs = &buffer[..len];
        let before = self.cost_of(pairs);
        if before == 0 && !change.moves_earlier() {
            return false;
        }
        self.apply(change);
        let after = self.cost_of(pairs);
        let keep = after < before || (after == before && change.moves_earlier());
        if !keep {
            self.apply(change.inverse());
        }
        keep
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Move { session, from, to } => {
                self.occ_sess[from] = None;
                self.put(session, to);
            }
            Change::Swap { s, a, t, b } => {
                self.put(s, b);
                self.put(t, a);
            }
            Change::Replace { out, into, at } => {
                self.sess_occ[out] = None;
                self.put(into, at);
            }
        }
    }

    /// First-improvement search over moves to free occurrences, swaps of two placed
    /// sessions, and exchanges of a placed session for an unplaced one. All keep the
    /// number of placed sessions; each kept change strictly improves the objective.
    fn improve(&mut self) {
        for _ in 0..MAX_SEARCH_PASSES {
            let mut improved = false;
            for s in 0..self.p.sessions.len() {
                for k in 0..self.p.adj[s].len() {
                    let b = self.p.adj[s][k];
                    if let Some(a) = self.sess_occ[s] {
                        let in_pair = self.same_pair(a)
                            || a.checked_sub(1).is_some_and(|i| self.same_pair(i));
                        // Out of any pair, only a move to an earlier free occurrence can
                        // help; swaps that fix the other session's pair are tried from
                        // that session's side.
                        if !in_pair && b > a {
                            break;
                        }
                        if !in_pair && self.occ_sess[b].is_some() {
                            continue;
                        }
                    }
                    let change = match (self.sess_occ[s], self.occ_sess[b]) {
                        (Some(a), _) if a == b => continue,
                        (Some(a), None) => Change::Move {
                            session: s,
                            from: a,
                            to: b,
                        },
                        (Some(a), Some(t)) if self.p.is_eligible(t, a) => {
                            Change::Swap { s, a, t, b }
                        }
                        (Some(_), Some(_)) => continue,
                        (None, Some(t)) => Change::Replace {
                            out: t,
                            into: s,
                            at: b,
                        },
                        // Cannot happen after a maximum matching; placing is always better.
                        (None, None) => {
                            self.put(s, b);
                            improved = true;
                            continue;
                        }
                    };
                    improved |= self.try_change(change);
                }
            }
            if !improved {
                break;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Move {
        session: usize,
        from: usize,
        to: usize,
    },
    Swap {
        s: usize,
        a: usize,
        t: usize,
        b: usize,
    },
    Replace {
        out: usize,
        into: usize,
        at: usize,
    },
}

impl Change {
    fn touched(self) -> [usize; 2] {
        match self {
            Change::Move { from, to, .. } => [from, to],
            Change::Swap { a, b, .. } => [a, b],
            Change::Replace { at, .. } => [at, at],
        }
    }

    fn moves_earlier(self) -> bool {
        matches!(self, Change::Move { from, to, .. } if to < from)
    }

    fn inverse(self) -> Change {
        match self {
            Change::Move { session, from, to } => Change::Move {
                session,
                from: to,
                to: from,
            },
            Change::Swap { s, a, t, b } => Change::Swap { s, a: b, t, b: a },
            Change::Replace { out, into, at } => Change::Replace {
                out: into,
                into: out,
                at,
            },
        }
    }
}

/// Places the sessions into free occurrences of the program.
///
/// Guarantees: every placement is an occurrence from [`occurrences`] that is long enough,
/// on a date the lecturer is available, free of any booked session, and not shared with
/// another placement; the number placed is maximum. Among maximum placements it lowers
/// the number of consecutive occurrences with the same category (bounded local search),
/// then prefers earlier occurrences. The result depends only on the input contents, not
/// on input order (of sessions sharing an id, the first given is used).
pub fn plan(cal: &ProgramCalendar, booked: &[Booked], to_place: &[SessionToPlace]) -> Plan {
    let problem = Problem::build(cal, booked, to_place);
    let (sess_occ, occ_sess) = earliest_maximum_matching(&problem);
    let mut layout = Arrangement {
        p: &problem,
        sess_occ,
        occ_sess,
    };
    layout.improve();

    let placed = layout
        .occ_sess
        .iter()
        .enumerate()
        .filter_map(|(o, s)| {
            s.map(|s| Placement {
                session_id: problem.sessions[s].id,
                starts_at: problem.occs[o].starts_at,
            })
        })
        .collect();
    let unplaced = layout
        .sess_occ
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_none())
        .map(|(s, _)| Unplaced {
            session_id: problem.sessions[s].id,
            reason: problem.unplaced_reason(s),
        })
        .collect();
    Plan {
        placed,
        unplaced,
        adjacent_same_category: layout.total_cost(),
    }
}

/// Size of a maximum matching computed independently (session-side Kuhn's algorithm,
/// unlike [`plan`]'s occurrence-side chronological one) — used by tests and the benchmark.
pub fn maximum_placeable(
    cal: &ProgramCalendar,
    booked: &[Booked],
    to_place: &[SessionToPlace],
) -> usize {
    let p = Problem::build(cal, booked, to_place);
    let mut owner: Vec<Option<usize>> = vec![None; p.occs.len()];
    let mut matched = 0;
    for root in 0..p.sessions.len() {
        let mut seen = vec![false; p.occs.len()];
        // Iterative DFS over sessions; path[k] is the occurrence taken from stack[k].
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        let mut path: Vec<usize> = Vec::new();
        while let Some((s, pos)) = stack.pop() {
            let Some(&o) = p.adj[s].get(pos) else {
                path.pop();
                continue;
            };
            stack.push((s, pos + 1));
            if seen[o] {
                continue;
            }
            seen[o] = true;
            path.push(o);
            match owner[o] {
                None => {
                    for (&(sv, _), &ov) in stack.iter().zip(&path) {
                        owner[ov] = Some(sv);
                    }
                    matched += 1;
                    break;
                }
                Some(next) => stack.push((next, 0)),
            }
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use chrono_tz::Asia::Shanghai;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn slot(weekday: u8, h: u32, m: u32, minutes: u32) -> SlotRule {
        SlotRule {
            weekday,
            start: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            minutes,
        }
    }

    fn calendar(from: NaiveDate, to: NaiveDate, slots: Vec<SlotRule>) -> ProgramCalendar {
        ProgramCalendar {
            starts_on: from,
            ends_on: to,
            timezone: Shanghai,
            slots,
            blackout_dates: BTreeSet::new(),
        }
    }

    /// May 2025, Tue and Thu at 09:30 and 14:30, Labour Day (Thu 1 May) blacked out:
    /// 16 occurrences.
    fn may_2025() -> ProgramCalendar {
        let mut cal = calendar(
            d(2025, 5, 1),
            d(2025, 5, 31),
            vec![
                slot(2, 9, 30, 90),
                slot(2, 14, 30, 90),
                slot(4, 9, 30, 90),
                slot(4, 14, 30, 90),
            ],
        );
        cal.blackout_dates.insert(d(2025, 5, 1));
        cal
    }

    /// One week (Mon 5 May .. Sun 11 May 2025) with Tue and Thu 09:30.
    fn one_week() -> ProgramCalendar {
        calendar(
            d(2025, 5, 5),
            d(2025, 5, 11),
            vec![slot(2, 9, 30, 90), slot(4, 9, 30, 90)],
        )
    }

    fn session(id: i64, category: &str, minutes: u32, lecturer_id: i64) -> SessionToPlace {
        SessionToPlace {
            id,
            category: category.to_string(),
            minutes,
            lecturer_id,
            availability: Availability::default(),
        }
    }

    fn on_weekdays(mut s: SessionToPlace, days: &[u8]) -> SessionToPlace {
        s.availability.weekdays = Some(days.iter().copied().collect());
        s
    }

    fn booked_at(
        session_id: i64,
        lecturer_id: i64,
        category: &str,
        local: NaiveDateTime,
        minutes: u32,
    ) -> Booked {
        Booked {
            session_id,
            lecturer_id,
            category: category.to_string(),
            title: format!("示例课程{session_id}"),
            starts_at: Shanghai
                .from_local_datetime(&local)
                .earliest()
                .unwrap()
                .with_timezone(&Utc),
            minutes,
        }
    }

    fn local(p: &Placement) -> NaiveDateTime {
        p.starts_at.with_timezone(&Shanghai).naive_local()
    }

    fn at(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
        date.and_hms_opt(h, m, 0).unwrap()
    }

    fn placement_of(plan: &Plan, id: i64) -> &Placement {
        plan.placed.iter().find(|p| p.session_id == id).unwrap()
    }

    #[test]
    fn occurrences_are_chronological_local_and_skip_blackouts() {
        let occs = occurrences(&may_2025());
        assert_eq!(occs.len(), 16);
        assert!(occs.iter().all(|o| o.date != d(2025, 5, 1)));
        assert!(occs.windows(2).all(|w| w[0].starts_at < w[1].starts_at));
        assert!(occs.iter().enumerate().all(|(i, o)| o.index == i));
        assert_eq!(occs[0].starts_at.to_rfc3339(), "2025-05-06T09:30:00+08:00");
        assert_eq!(occs[15].starts_at.to_rfc3339(), "2025-05-29T14:30:00+08:00");
    }

    #[test]
    fn basic_month_places_sixteen_sessions() {
        let categories = ["合同管理", "劳动用工", "知识产权", "税务合规"];
        let sessions: Vec<_> = (1..=16)
            .map(|i| session(i, categories[(i % 4) as usize], 90, i % 5))
            .collect();
        let plan = plan(&may_2025(), &[], &sessions);
        assert_eq!(plan.placed.len(), 16);
        assert!(plan.unplaced.is_empty());
        let starts: BTreeSet<_> = plan.placed.iter().map(|p| p.starts_at).collect();
        assert_eq!(starts.len(), 16);
        assert!(plan
            .placed
            .windows(2)
            .all(|w| w[0].starts_at < w[1].starts_at));
        assert_eq!(plan.adjacent_same_category, 0);
    }

    #[test]
    fn blackout_date_is_skipped() {
        let mut cal = calendar(d(2025, 5, 1), d(2025, 5, 31), vec![slot(4, 14, 30, 90)]);
        cal.blackout_dates.insert(d(2025, 5, 1));
        cal.blackout_dates.insert(d(2025, 5, 15));
        let plan = plan(&cal, &[], &[session(1, "A", 90, 1), session(2, "B", 90, 1)]);
        let dates: Vec<_> = plan.placed.iter().map(|p| local(p).date()).collect();
        assert_eq!(dates, vec![d(2025, 5, 8), d(2025, 5, 22)]);
    }

    #[test]
    fn lecturer_weekdays_are_honoured() {
        // Thursdays of May 2025 without 1 May: 8, 15, 22, 29, two slots each.
        let sessions: Vec<_> = (1..=9)
            .map(|i| on_weekdays(session(i, "A", 90, 7), &[4]))
            .collect();
        let plan = plan(&may_2025(), &[], &sessions);
        assert_eq!(plan.placed.len(), 8);
        assert!(plan
            .placed
            .iter()
            .all(|p| local(p).date().weekday().number_from_monday() == 4));
        assert_eq!(
            plan.unplaced,
            vec![Unplaced {
                session_id: 9,
                reason: UnplacedReason::AllEligibleTaken { eligible: 8 }
            }]
        );
    }

    #[test]
    fn lecturer_unavailable_date_is_honoured() {
        let mut s = session(1, "A", 90, 1);
        s.availability.unavailable_dates.insert(d(2025, 5, 6));
        let plan = plan(&may_2025(), &[], &[s]);
        assert_eq!(local(&plan.placed[0]), at(d(2025, 5, 8), 9, 30));
    }

    /// First-fit in id order: what a naive scheduler would do.
    fn greedy_first_fit(cal: &ProgramCalendar, sessions: &[SessionToPlace]) -> usize {
        let mut used = BTreeSet::new();
        sessions
            .iter()
            .filter(|s| {
                let free = occurrences(cal).into_iter().find(|o| {
                    !used.contains(&o.index)
                        && o.minutes >= s.minutes
                        && s.availability.allows(o.date)
                });
                free.map(|o| used.insert(o.index)).is_some()
            })
            .count()
    }

    #[test]
    fn matching_succeeds_where_greedy_first_fit_fails() {
        let sessions = [
            session(1, "A", 90, 1),
            on_weekdays(session(2, "B", 90, 2), &[2]),
        ];
        assert_eq!(greedy_first_fit(&one_week(), &sessions), 1);
        let plan = plan(&one_week(), &[], &sessions);
        assert!(plan.unplaced.is_empty());
        assert_eq!(local(placement_of(&plan, 2)), at(d(2025, 5, 6), 9, 30));
        assert_eq!(local(placement_of(&plan, 1)), at(d(2025, 5, 8), 9, 30));
        assert_eq!(maximum_placeable(&one_week(), &[], &sessions), 2);
    }

    #[test]
    fn reason_longer_than_every_slot() {
        let plan = plan(&one_week(), &[], &[session(1, "A", 150, 1)]);
        let reason = UnplacedReason::LongerThanEverySlot {
            minutes: 150,
            longest_slot: 90,
        };
        assert_eq!(plan.unplaced[0].reason, reason);
        assert!(reason.message_zh().contains("150"));
        assert!(reason.message_zh().contains("90"));
    }

    #[test]
    fn reason_no_eligible_occurrence() {
        let weekend_only = on_weekdays(session(1, "A", 90, 1), &[6, 7]);
        let mut never_free = session(2, "A", 90, 2);
        never_free.availability.unavailable_dates = [d(2025, 5, 6), d(2025, 5, 8)].into();
        let plan = plan(&one_week(), &[], &[weekend_only, never_free]);
        assert!(plan.placed.is_empty());
        assert!(plan
            .unplaced
            .iter()
            .all(|u| u.reason == UnplacedReason::NoEligibleOccurrence));
        assert!(!UnplacedReason::NoEligibleOccurrence.message_zh().is_empty());
    }

    #[test]
    fn reason_all_eligible_taken_by_sessions_and_bookings() {
        let tue_only = |id| on_weekdays(session(id, "A", 90, id), &[2]);
        let plan1 = plan(&one_week(), &[], &[tue_only(1), tue_only(2)]);
        assert_eq!(
            plan1.unplaced,
            vec![Unplaced {
                session_id: 2,
                reason: UnplacedReason::AllEligibleTaken { eligible: 1 }
            }]
        );
        let booking = booked_at(50, 9, "B", at(d(2025, 5, 6), 10, 0), 60);
        let plan2 = plan(&one_week(), &[booking], &[tue_only(1)]);
        assert_eq!(
            plan2.unplaced[0].reason,
            UnplacedReason::AllEligibleTaken { eligible: 1 }
        );
        assert!(UnplacedReason::AllEligibleTaken { eligible: 3 }
            .message_zh()
            .contains('3'));
    }

    #[test]
    fn categories_are_spread_where_possible() {
        let two_weeks = calendar(
            d(2025, 5, 5),
            d(2025, 5, 18),
            vec![slot(2, 9, 30, 90), slot(4, 9, 30, 90)],
        );
        let sessions = [
            session(1, "合同管理", 90, 1),
            session(2, "合同管理", 90, 2),
            session(3, "劳动用工", 90, 3),
            session(4, "劳动用工", 90, 4),
        ];
        let plan1 = plan(&two_weeks, &[], &sessions);
        assert_eq!(plan1.placed.len(), 4);
        assert_eq!(plan1.adjacent_same_category, 0);

        // Three of one category in four consecutive occurrences: one pair is unavoidable.
        let mut lopsided = sessions.clone();
        lopsided[3].category = "合同管理".to_string();
        let plan2 = plan(&two_weeks, &[], &lopsided);
        assert_eq!(plan2.placed.len(), 4);
        assert_eq!(plan2.adjacent_same_category, 1);
    }

    #[test]
    fn spreading_uses_free_later_occurrences_but_otherwise_prefers_early_ones() {
        let two_weeks = calendar(
            d(2025, 5, 5),
            d(2025, 5, 18),
            vec![slot(2, 9, 30, 90), slot(4, 9, 30, 90)],
        );
        let plan = plan(
            &two_weeks,
            &[],
            &[session(1, "A", 90, 1), session(2, "A", 90, 2)],
        );
        assert_eq!(plan.adjacent_same_category, 0);
        let dates: Vec<_> = plan.placed.iter().map(|p| local(p).date()).collect();
        assert_eq!(dates, vec![d(2025, 5, 6), d(2025, 5, 13)]);
    }

    #[test]
    fn booked_session_blocks_overlapping_occurrence_and_its_lecturer() {
        // Booked 10:00-11:00 on Tue overlaps the 09:30 occurrence but not Thu.
        let booking = booked_at(50, 1, "B", at(d(2025, 5, 6), 10, 0), 60);
        let plan = plan(
            &one_week(),
            std::slice::from_ref(&booking),
            &[session(1, "A", 90, 1), session(2, "A", 90, 2)],
        );
        assert_eq!(plan.placed.len(), 1);
        assert_eq!(local(&plan.placed[0]), at(d(2025, 5, 8), 9, 30));
        assert_eq!(
            maximum_placeable(&one_week(), &[booking], &[session(1, "A", 90, 1)]),
            1
        );
    }

    #[test]
    fn booked_session_elsewhere_does_not_block() {
        let booking = booked_at(50, 1, "B", at(d(2025, 5, 6), 11, 0), 60);
        let plan = plan(&one_week(), &[booking], &[session(1, "A", 90, 1)]);
        assert_eq!(local(&plan.placed[0]), at(d(2025, 5, 6), 9, 30));
    }

    #[test]
    fn booked_sessions_count_for_category_adjacency() {
        let three = calendar(
            d(2025, 5, 5),
            d(2025, 5, 11),
            vec![slot(2, 9, 30, 90), slot(4, 9, 30, 90), slot(5, 9, 30, 90)],
        );
        // Tue holds a booked 合同管理 lecture; the new 合同管理 should not follow it directly.
        let booking = booked_at(50, 9, "合同管理", at(d(2025, 5, 6), 9, 30), 90);
        let plan = plan(
            &three,
            &[booking],
            &[session(1, "合同管理", 90, 1), session(2, "劳动用工", 90, 2)],
        );
        assert_eq!(plan.adjacent_same_category, 0);
        assert_eq!(local(placement_of(&plan, 2)), at(d(2025, 5, 8), 9, 30));
        assert_eq!(local(placement_of(&plan, 1)), at(d(2025, 5, 9), 9, 30));
    }

    #[test]
    fn a_session_being_replaced_is_not_blocked_by_its_own_booking() {
        let own = booked_at(1, 1, "A", at(d(2025, 5, 6), 9, 30), 90);
        let plan = plan(&one_week(), &[own], &[session(1, "A", 90, 1)]);
        assert_eq!(local(&plan.placed[0]), at(d(2025, 5, 6), 9, 30));
    }

    #[test]
    fn dst_gap_is_skipped_and_fold_uses_earliest() {
        let cal = ProgramCalendar {
            starts_on: d(2025, 3, 1),
            ends_on: d(2025, 11, 30),
            timezone: chrono_tz::America::New_York,
            slots: vec![slot(7, 2, 30, 30), slot(7, 1, 30, 30)],
            blackout_dates: BTreeSet::new(),
        };
        let occs = occurrences(&cal);
        let spring: Vec<_> = occs.iter().filter(|o| o.date == d(2025, 3, 9)).collect();
        assert_eq!(spring.len(), 1, "02:30 does not exist on 9 March");
        let fall: Vec<_> = occs.iter().filter(|o| o.date == d(2025, 11, 2)).collect();
        assert_eq!(fall[0].starts_at.to_rfc3339(), "2025-11-02T01:30:00-04:00");
        assert_eq!(fall[1].starts_at.to_rfc3339(), "2025-11-02T02:30:00-05:00");
    }

    #[test]
    fn overlapping_or_duplicate_slot_rules_yield_one_occurrence() {
        let cal = calendar(
            d(2025, 5, 5),
            d(2025, 5, 11),
            vec![
                slot(2, 14, 0, 120),
                slot(2, 15, 0, 60),
                slot(2, 14, 0, 60),
                slot(2, 16, 0, 60),
            ],
        );
        let occs = occurrences(&cal);
        let summary: Vec<_> = occs
            .iter()
            .map(|o| (o.starts_at.with_timezone(&Shanghai).time(), o.minutes))
            .collect();
        assert_eq!(
            summary,
            vec![
                (NaiveTime::from_hms_opt(14, 0, 0).unwrap(), 120),
                (NaiveTime::from_hms_opt(16, 0, 0).unwrap(), 60)
            ]
        );
    }

    #[test]
    fn degenerate_inputs_yield_nothing_without_panicking() {
        let sessions = [session(1, "A", 90, 1), session(1, "B", 0, 1)];
        let mut no_slots = one_week();
        no_slots.slots.clear();
        let mut reversed = one_week();
        std::mem::swap(&mut reversed.starts_on, &mut reversed.ends_on);
        let mut bad_weekday = one_week();
        bad_weekday.slots = vec![slot(0, 9, 0, 90), slot(8, 9, 0, 90)];
        for cal in [no_slots, reversed, bad_weekday] {
            let plan = plan(&cal, &[], &sessions);
            assert!(plan.placed.is_empty());
            assert_eq!(
                plan.unplaced,
                vec![Unplaced {
                    session_id: 1,
                    reason: UnplacedReason::NoEligibleOccurrence
                }],
                "repeated ids are considered once"
            );
            assert_eq!(maximum_placeable(&cal, &[], &sessions), 0);
        }
        assert!(plan(&one_week(), &[], &[]).placed.is_empty());
    }

    #[test]
    fn extreme_dates_and_lengths_do_not_panic() {
        let mut cal = one_week();
        cal.slots = (1..=7).map(|w| slot(w, 23, 59, u32::MAX)).collect();
        let booked = [booked_at(9, 1, "A", at(d(2025, 5, 6), 0, 0), u32::MAX)];
        let sessions = [session(1, "A", u32::MAX, 1), session(2, "A", 0, 2)];
        let zones = [
            Shanghai,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Etc::GMTPlus12,
        ];
        for timezone in zones {
            for (from, to) in [
                (NaiveDate::MAX, NaiveDate::MAX),
                (NaiveDate::MIN, NaiveDate::MIN),
                (d(2025, 5, 5), d(2025, 5, 11)),
            ] {
                cal.timezone = timezone;
                cal.starts_on = from;
                cal.ends_on = to;
                let plan = plan(&cal, &booked, &sessions);
                assert_eq!(plan.placed.len() + plan.unplaced.len(), 2);
                let max = maximum_placeable(&cal, &booked, &sessions);
                assert_eq!(plan.placed.len(), max);
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_input_order() {
        let sessions: Vec<_> = (1..=12)
            .map(|i| session(i, ["A", "B", "C"][(i % 3) as usize], 90, i % 4))
            .collect();
        let mut reversed = sessions.clone();
        reversed.reverse();
        let a = plan(&may_2025(), &[], &sessions);
        let b = plan(&may_2025(), &[], &reversed);
        assert_eq!(a.placed, b.placed);
        assert_eq!(a.unplaced, b.unplaced);
    }
}

#[cfg(test)]
mod proptests {
    //! Properties checked against rules re-derived here, not against the planner's helpers.

    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    #[derive(Debug, Clone)]
    struct Case {
        cal: ProgramCalendar,
        booked: Vec<Booked>,
        sessions: Vec<SessionToPlace>,
    }

    const ZONES: [Tz; 5] = [
        chrono_tz::Asia::Shanghai,
        chrono_tz::America::New_York,
        chrono_tz::Europe::Berlin,
        chrono_tz::Australia::Lord_Howe,
        Tz::UTC,
    ];
    const CATEGORIES: [&str; 3] = ["合同管理", "劳动用工", "知识产权"];

    type SlotSpec = (u8, u32, u32, u32);
    type LecturerSpec = (Option<Vec<bool>>, Vec<usize>);
    type SessionSpec = (usize, u32, usize);
    type BookedSpec = ((bool, usize, u32, u32), i64, u32, usize, usize);
    type ProgramSpec = (usize, i64, i64, i64);
    type CaseSpec = (
        ProgramSpec,
        Vec<SlotSpec>,
        Vec<bool>,
        Vec<LecturerSpec>,
        Vec<SessionSpec>,
        Vec<BookedSpec>,
    );
    /// Half-open UTC interval.
    type Interval = (DateTime<Utc>, DateTime<Utc>);

    fn arb_case(
        weeks: std::ops::RangeInclusive<i64>,
        slots: std::ops::RangeInclusive<usize>,
        sessions: std::ops::RangeInclusive<usize>,
        booked: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = Case> {
        let slot = (
            1u8..=7,
            0u32..24,
            select(vec![0u32, 30]),
            select(vec![45u32, 60, 90, 90, 120, 150]),
        );
        let lecturer = (
            proptest::option::weighted(0.5, proptest::collection::vec(any::<bool>(), 7)),
            proptest::collection::vec(0usize..42, 0..4),
        );
        let session = (
            0usize..3,
            select(vec![30u32, 45, 60, 60, 90, 90, 120, 150]),
            0usize..5,
        );
        // Half of the bookings sit on or near a slot occurrence, so that they actually
        // compete with the planner; the rest are at arbitrary times.
        let booking = (
            (
                any::<bool>(),
                0usize..42,
                0u32..24,
                select(vec![0u32, 15, 30, 45]),
            ),
            select(vec![-60i64, -30, 0, 0, 30]),
            select(vec![30u32, 60, 90, 120]),
            0usize..5,
            0usize..3,
        );
        (
            (0usize..ZONES.len(), 0i64..730, weeks, 0i64..7),
            proptest::collection::vec(slot, slots),
            proptest::collection::vec(proptest::bool::weighted(0.15), 42),
            proptest::collection::vec(lecturer, 1..=5),
            proptest::collection::vec(session, sessions),
            proptest::collection::vec(booking, booked),
        )
            .prop_map(build_case)
    }

    fn build_case((program, slots, blackout, lecturers, sessions, booked): CaseSpec) -> Case {
        let (zone, offset, weeks, trim) = program;
        let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let starts_on = base + chrono::Duration::days(offset);
        let ends_on = starts_on + chrono::Duration::days((weeks * 7 - 1 - trim).max(0));
        let day = |n: usize| starts_on + chrono::Duration::days(n as i64);
        let timezone = ZONES[zone];
        let cal = ProgramCalendar {
            starts_on,
            ends_on,
            timezone,
            slots: slots
                .into_iter()
                .map(|(weekday, h, m, minutes)| SlotRule {
                    weekday,
                    start: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
                    minutes,
                })
                .collect(),
            blackout_dates: (0..blackout.len())
                .filter(|&i| blackout[i])
                .map(day)
                .collect(),
        };
        let availability: Vec<Availability> = lecturers
            .into_iter()
            .map(|(days, off)| Availability {
                weekdays: days.map(|mask| (1..=7u8).filter(|w| mask[*w as usize - 1]).collect()),
                unavailable_dates: off.into_iter().map(day).collect(),
            })
            .collect();
        let n_lecturers = availability.len();
        // Ids are distinct but not in input order, to exercise sorting.
        let sessions = sessions
            .into_iter()
            .enumerate()
            .map(|(i, (cat, minutes, lecturer))| SessionToPlace {
                id: 1000 - 7 * i as i64,
                category: CATEGORIES[cat].to_string(),
                minutes,
                lecturer_id: (lecturer % n_lecturers) as i64,
                availability: availability[lecturer % n_lecturers].clone(),
            })
            .collect();
        let booked = booked
            .into_iter()
            .enumerate()
            .filter_map(|(i, ((aligned, d, h, m), shift, minutes, lecturer, cat))| {
                let local = match cal.slots.get(h as usize % cal.slots.len().max(1)) {
                    Some(rule) if aligned => {
                        let first = starts_on.weekday().number_from_monday() as i64;
                        let ahead = (i64::from(rule.weekday) - first).rem_euclid(7);
                        let date = starts_on + chrono::Duration::days(ahead + 7 * (d as i64 / 7));
                        date.and_time(rule.start) + chrono::Duration::minutes(shift)
                    }
                    _ => day(d).and_hms_opt(h, m, 0)?,
                };
                let starts_at = timezone.from_local_datetime(&local).earliest()?;
                Some(Booked {
                    session_id: 5000 + i as i64,
                    lecturer_id: (lecturer % n_lecturers) as i64,
                    category: CATEGORIES[cat].to_string(),
                    title: String::new(),
                    starts_at: starts_at.with_timezone(&Utc),
                    minutes,
                })
            })
            .collect();
        Case {
            cal,
            booked,
            sessions,
        }
    }

    fn interval<Z: TimeZone>(start: &DateTime<Z>, minutes: u32) -> Interval {
        let start = start.with_timezone(&Utc);
        (start, start + chrono::Duration::minutes(i64::from(minutes)))
    }

    fn intersect(a: Interval, b: Interval) -> bool {
        a.0 < b.1 && b.0 < a.1
    }

    fn lecturer_free_on(s: &SessionToPlace, date: NaiveDate) -> bool {
        let weekday = date.weekday().number_from_monday() as u8;
        s.availability
            .weekdays
            .as_ref()
            .is_none_or(|w| w.contains(&weekday))
            && !s.availability.unavailable_dates.contains(&date)
    }

    /// The rules for putting `s` into occurrence `o`, ignoring other new placements.
    fn allowed(case: &Case, s: &SessionToPlace, o: &Occurrence) -> bool {
        let slot = interval(&o.starts_at, o.minutes);
        let lesson = interval(&o.starts_at, s.minutes);
        o.minutes >= s.minutes
            && lecturer_free_on(s, o.date)
            && !case.booked.iter().any(|b| {
                let busy = interval(&b.starts_at, b.minutes);
                let same_lecturer = b.lecturer_id == s.lecturer_id;
                intersect(busy, slot) || (same_lecturer && intersect(busy, lesson))
            })
    }

    fn check_plan(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
        let tz = case.cal.timezone;
        let occs = occurrences(&case.cal);
        let by_id: BTreeMap<i64, &SessionToPlace> =
            case.sessions.iter().map(|s| (s.id, s)).collect();

        let mut ids: Vec<i64> = plan
            .placed
            .iter()
            .map(|p| p.session_id)
            .chain(plan.unplaced.iter().map(|u| u.session_id))
            .collect();
        ids.sort_unstable();
        let mut expected: Vec<i64> = case.sessions.iter().map(|s| s.id).collect();
        expected.sort_unstable();
        prop_assert_eq!(ids, expected);

        let mut held: Vec<(&SessionToPlace, Interval)> = Vec::new();
        for p in &plan.placed {
            let s = by_id[&p.session_id];
            let local = p.starts_at.with_timezone(&tz);
            let date = local.date_naive();
            prop_assert!(date >= case.cal.starts_on && date <= case.cal.ends_on);
            prop_assert!(!case.cal.blackout_dates.contains(&date));
            let weekday = date.weekday().number_from_monday() as u8;
            let rule = case.cal.slots.iter().find(|r| {
                r.weekday == weekday
                    && r.start == local.time()
                    && r.minutes >= s.minutes
                    && tz.from_local_datetime(&date.and_time(r.start)).earliest() == Some(local)
            });
            prop_assert!(rule.is_some(), "not a slot occurrence: {:?}", p);
            let occ = occs.iter().find(|o| o.starts_at == p.starts_at);
            prop_assert!(occ.is_some(), "not in occurrences(): {:?}", p);
            prop_assert!(allowed(case, s, occ.unwrap()), "rule broken: {:?}", p);
            let lesson = interval(&p.starts_at, s.minutes);
            for (other, span) in &held {
                prop_assert!(!intersect(*span, lesson), "{} overlaps {}", s.id, other.id);
            }
            held.push((s, lesson));
        }
        let starts: BTreeSet<_> = plan.placed.iter().map(|p| p.starts_at).collect();
        prop_assert_eq!(starts.len(), plan.placed.len());

        let longest = occs.iter().map(|o| o.minutes).max();
        for u in &plan.unplaced {
            let s = by_id[&u.session_id];
            let suitable: Vec<&Occurrence> = occs
                .iter()
                .filter(|o| o.minutes >= s.minutes && lecturer_free_on(s, o.date))
                .collect();
            let want = match longest {
                Some(l) if s.minutes > l => UnplacedReason::LongerThanEverySlot {
                    minutes: s.minutes,
                    longest_slot: l,
                },
                _ if suitable.is_empty() => UnplacedReason::NoEligibleOccurrence,
                _ => UnplacedReason::AllEligibleTaken {
                    eligible: suitable.len(),
                },
            };
            prop_assert_eq!(&u.reason, &want);
            // Maximality witness: nothing suitable is left free for it.
            for o in suitable {
                let taken = starts.contains(&o.starts_at) || !allowed(case, s, o);
                prop_assert!(taken, "{} could go to {:?}", s.id, o);
            }
        }

        let mut booked = case.booked.clone();
        booked.sort_by_key(|b| (b.starts_at, b.session_id));
        let cat_at: Vec<Option<&str>> = occs
            .iter()
            .map(|o| {
                let slot = interval(&o.starts_at, o.minutes);
                booked
                    .iter()
                    .find(|b| intersect(interval(&b.starts_at, b.minutes), slot))
                    .map(|b| b.category.as_str())
                    .or_else(|| {
                        plan.placed
                            .iter()
                            .find(|p| p.starts_at == o.starts_at)
                            .map(|p| by_id[&p.session_id].category.as_str())
                    })
            })
            .collect();
        let adjacent = cat_at
            .windows(2)
            .filter(|w| w[0].is_some() && w[0] == w[1])
            .count();
        prop_assert_eq!(plan.adjacent_same_category, adjacent);
        Ok(())
    }

    /// The hand-placement checker agrees: no placed session conflicts with anything.
    fn no_hand_placement_conflicts(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
        use crate::schedule::conflicts::{conflicts, Candidate};
        let by_id: BTreeMap<i64, &SessionToPlace> =
            case.sessions.iter().map(|s| (s.id, s)).collect();
        let mut all = case.booked.clone();
        all.extend(plan.placed.iter().map(|p| {
            let s = by_id[&p.session_id];
            Booked {
                session_id: s.id,
                lecturer_id: s.lecturer_id,
                category: s.category.clone(),
                title: String::new(),
                starts_at: p.starts_at.with_timezone(&Utc),
                minutes: s.minutes,
            }
        }));
        for p in &plan.placed {
            let s = by_id[&p.session_id];
            let candidate = Candidate {
                session_id: Some(s.id),
                lecturer_id: Some(s.lecturer_id),
                starts_at: p.starts_at.with_timezone(&Utc),
                minutes: s.minutes,
                availability: s.availability.clone(),
            };
            let found = conflicts(&case.cal, &all, &candidate);
            prop_assert!(found.is_empty(), "{:?}: {:?}", p, found);
        }
        Ok(())
    }

    /// Largest number of sessions any assignment can place, by exhaustive search.
    fn brute_force_max(case: &Case) -> usize {
        fn go(case: &Case, occs: &[Occurrence], i: usize, used: &mut Vec<bool>) -> usize {
            let Some(s) = case.sessions.get(i) else {
                return 0;
            };
            let mut best = go(case, occs, i + 1, used);
            for (k, o) in occs.iter().enumerate() {
                if !used[k] && allowed(case, s, o) {
                    used[k] = true;
                    best = best.max(1 + go(case, occs, i + 1, used));
                    used[k] = false;
                }
            }
            best
        }
        let occs = occurrences(&case.cal);
        go(case, &occs, 0, &mut vec![false; occs.len()])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn placements_obey_every_rule_and_are_maximum(
            case in arb_case(1..=6, 1..=4, 0..=30, 0..=6)
        ) {
            let plan = plan(&case.cal, &case.booked, &case.sessions);
            check_plan(&case, &plan)?;
            prop_assert_eq!(
                plan.placed.len(),
                maximum_placeable(&case.cal, &case.booked, &case.sessions)
            );
            no_hand_placement_conflicts(&case, &plan)?;
        }

        #[test]
        fn small_instances_match_brute_force(
            case in arb_case(1..=2, 1..=4, 0..=6, 0..=2)
                .prop_filter("at most 8 occurrences", |c| occurrences(&c.cal).len() <= 8)
        ) {
            let plan = plan(&case.cal, &case.booked, &case.sessions);
            check_plan(&case, &plan)?;
            let best = brute_force_max(&case);
            prop_assert_eq!(plan.placed.len(), best);
            prop_assert_eq!(maximum_placeable(&case.cal, &case.booked, &case.sessions), best);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn output_is_independent_of_input_order(
            case in arb_case(1..=6, 1..=4, 0..=30, 0..=6)
        ) {
            let a = plan(&case.cal, &case.booked, &case.sessions);
            let mut sessions = case.sessions.clone();
            sessions.reverse();
            let mut booked = case.booked.clone();
            booked.reverse();
            let b = plan(&case.cal, &booked, &sessions);
            prop_assert_eq!(a.placed, b.placed);
            prop_assert_eq!(a.unplaced, b.unplaced);
            prop_assert_eq!(a.adjacent_same_category, b.adjacent_same_category);
        }
    }
}
