//! Timing of the auto-scheduler `plan()` against a naive greedy first-fit baseline.
//!
//! Run with `cargo bench --bench schedule`. Prints the median wall time of each, their
//! ratio, and how many sessions each placed.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use pufa::schedule::planner::{
    maximum_placeable, occurrences, plan, Availability, Booked, ProgramCalendar, SessionToPlace,
    SlotRule,
};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

struct Input {
    name: &'static str,
    cal: ProgramCalendar,
    booked: Vec<Booked>,
    sessions: Vec<SessionToPlace>,
    runs: usize,
}

const CATEGORIES: [&str; 6] = [
    "合同管理",
    "劳动用工",
    "知识产权",
    "税务合规",
    "数据合规",
    "股权治理",
];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid benchmark date")
}

fn slot(weekday: u8, h: u32, m: u32, minutes: u32) -> SlotRule {
    SlotRule {
        weekday,
        start: NaiveTime::from_hms_opt(h, m, 0).expect("valid benchmark time"),
        minutes,
    }
}

/// Tiny deterministic generator so every run benchmarks the same input.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// The product's case: 16 lectures in May 2025, Tue and Thu mornings and afternoons.
fn month() -> Input {
    let cal = ProgramCalendar {
        starts_on: date(2025, 5, 1),
        ends_on: date(2025, 5, 31),
        timezone: chrono_tz::Asia::Shanghai,
        slots: vec![
            slot(2, 9, 30, 90),
            slot(2, 14, 30, 90),
            slot(4, 9, 30, 90),
            slot(4, 14, 30, 90),
        ],
        blackout_dates: BTreeSet::from([date(2025, 5, 1)]),
    };
    let sessions = (0..16)
        .map(|i| SessionToPlace {
            id: i + 1,
            category: CATEGORIES[(i % 4) as usize].to_string(),
            minutes: 90,
            lecturer_id: i % 8,
            availability: Availability {
                // The later half only teach on Thursdays; first-fit lets the flexible
                // early sessions take those Thursdays first.
                weekdays: (i >= 8).then(|| BTreeSet::from([4])),
                unavailable_dates: BTreeSet::new(),
            },
        })
        .collect();
    Input {
        name: "month (16 sessions)",
        cal,
        booked: Vec::new(),
        sessions,
        runs: 201,
    }
}

/// A year-long program with four weekly slots (fewer occurrences than sessions),
/// 40 lecturers of whom most teach on one or two weekdays only, and 200 sessions.
fn year() -> Input {
    let mut rng = Lcg(2025);
    let holidays = [
        (1, 1, 1),
        (1, 28, 8),
        (4, 4, 3),
        (5, 1, 5),
        (5, 31, 3),
        (10, 1, 8),
    ];
    let blackout_dates = holidays
        .iter()
        .flat_map(|&(m, d, days)| (0..days).map(move |k| date(2025, m, d) + chrono::Days::new(k)))
        .collect();
    let cal = ProgramCalendar {
        starts_on: date(2025, 1, 1),
        ends_on: date(2025, 12, 31),
        timezone: chrono_tz::Asia::Shanghai,
        slots: vec![
            slot(1, 9, 0, 90),
            slot(2, 14, 30, 120),
            slot(4, 14, 30, 90),
            slot(5, 9, 0, 120),
        ],
        blackout_dates,
    };
    let lecturers: Vec<Availability> = (0..40)
        .map(|k| {
            let teaching_days = [1u8, 2, 4, 5];
            let weekdays = (k % 4 != 0).then(|| {
                (0..1 + rng.next(2))
                    .map(|_| teaching_days[rng.next(4) as usize])
                    .collect::<BTreeSet<u8>>()
            });
            let unavailable_dates = (0..8)
                .map(|_| date(2025, 1, 1) + chrono::Days::new(rng.next(365)))
                .collect();
            Availability {
                weekdays,
                unavailable_dates,
            }
        })
        .collect();
    let sessions = (0..200)
        .map(|i| {
            let lecturer = rng.next(40) as usize;
            SessionToPlace {
                id: i + 1,
                category: CATEGORIES[rng.next(6) as usize].to_string(),
                minutes: [60, 90, 120, 120][rng.next(4) as usize],
                lecturer_id: lecturer as i64,
                availability: lecturers[lecturer].clone(),
            }
        })
        .collect();
    let shanghai = chrono_tz::Asia::Shanghai;
    let booked = (0..12)
        .filter_map(|i| {
            let day = date(2025, 1, 6) + chrono::Days::new(rng.next(350));
            let local = day.and_hms_opt(8 + rng.next(12) as u32, 0, 0)?;
            Some(Booked {
                session_id: 10_000 + i,
                lecturer_id: rng.next(40) as i64,
                category: CATEGORIES[rng.next(6) as usize].to_string(),
                title: format!("示例课程{i}"),
                starts_at: shanghai
                    .from_local_datetime(&local)
                    .earliest()?
                    .with_timezone(&Utc),
                minutes: 90,
            })
        })
        .collect();
    Input {
        name: "year (200 sessions, 40 lecturers)",
        cal,
        booked,
        sessions,
        runs: 21,
    }
}

/// Baseline: each session, in id order, takes the first free occurrence that suits it.
fn greedy_first_fit(
    cal: &ProgramCalendar,
    booked: &[Booked],
    sessions: &[SessionToPlace],
) -> Vec<(i64, DateTime<FixedOffset>)> {
    let span = |start: i64, minutes: u32| (start, start + i64::from(minutes) * 60_000);
    let overlaps = |a: (i64, i64), b: (i64, i64)| a.0 < b.1 && b.0 < a.1;
    let busy: Vec<(i64, (i64, i64))> = booked
        .iter()
        .map(|b| {
            (
                b.lecturer_id,
                span(b.starts_at.timestamp_millis(), b.minutes),
            )
        })
        .collect();
    let occs = occurrences(cal);
    let mut used = vec![false; occs.len()];
    let mut order: Vec<&SessionToPlace> = sessions.iter().collect();
    order.sort_by_key(|s| s.id);
    let mut placed = Vec::new();
    for s in order {
        let free = occs.iter().position(|o| {
            let start = o.starts_at.timestamp_millis();
            !used[o.index]
                && o.minutes >= s.minutes
                && s.availability.allows(o.date)
                && !busy.iter().any(|&(lecturer, b)| {
                    overlaps(b, span(start, o.minutes))
                        || (lecturer == s.lecturer_id && overlaps(b, span(start, s.minutes)))
                })
        });
        if let Some(k) = free {
            used[k] = true;
            placed.push((s.id, occs[k].starts_at));
        }
    }
    placed
}

/// Consecutive occurrences holding the same category, counted like `Plan::adjacent_same_category`.
fn adjacent_same_category(input: &Input, placed: &[(i64, DateTime<FixedOffset>)]) -> usize {
    let mut booked: Vec<&Booked> = input.booked.iter().collect();
    booked.sort_by_key(|b| (b.starts_at, b.session_id));
    let categories: Vec<Option<&str>> = occurrences(&input.cal)
        .iter()
        .map(|o| {
            let start = o.starts_at.timestamp_millis();
            let end = start + i64::from(o.minutes) * 60_000;
            let by_booking = booked.iter().find(|b| {
                let b_start = b.starts_at.timestamp_millis();
                b_start < end && start < b_start + i64::from(b.minutes) * 60_000
            });
            by_booking.map(|b| b.category.as_str()).or_else(|| {
                let (id, _) = placed.iter().find(|(_, at)| *at == o.starts_at)?;
                let session = input.sessions.iter().find(|s| s.id == *id)?;
                Some(session.category.as_str())
            })
        })
        .collect();
    categories
        .windows(2)
        .filter(|w| w[0].is_some() && w[0] == w[1])
        .count()
}

/// Median wall time of `runs` timed calls (after a short warm-up) and the last result.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = f();
    for _ in 0..3 {
        out = black_box(f());
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let result = black_box(f());
        times.push(start.elapsed());
        out = result;
    }
    times.sort_unstable();
    (times.get(times.len() / 2).copied().unwrap_or_default(), out)
}

fn main() {
    for input in [month(), year()] {
        let total = input.sessions.len();
        let occurrence_count = occurrences(&input.cal).len();
        let maximum = maximum_placeable(&input.cal, &input.booked, &input.sessions);
        let (plan_time, planned) = median(input.runs, || {
            plan(&input.cal, &input.booked, &input.sessions)
        });
        let (greedy_time, greedy) = median(input.runs, || {
            greedy_first_fit(&input.cal, &input.booked, &input.sessions)
        });
        let ratio = plan_time.as_secs_f64() / greedy_time.as_secs_f64().max(f64::EPSILON);
        println!(
            "{}: {} occurrences, {} booked, median of {} runs",
            input.name,
            occurrence_count,
            input.booked.len(),
            input.runs
        );
        println!(
            "  plan()            {:>12?}  placed {:>3}/{} (maximum {}), adjacent same-category pairs {}",
            plan_time,
            planned.placed.len(),
            total,
            maximum,
            planned.adjacent_same_category
        );
        println!(
            "  greedy first-fit  {:>12?}  placed {:>3}/{}, adjacent same-category pairs {}",
            greedy_time,
            greedy.len(),
            total,
            adjacent_same_category(&input, &greedy)
        );
        println!("  plan / greedy time ratio: {ratio:.1}x");
    }
}
