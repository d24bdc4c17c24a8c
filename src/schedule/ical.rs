//! iCalendar feeds (RFC 5545) through the `icalendar` crate.
//!
//! Times are written in UTC (`DTSTART:…Z`), which every client converts to the viewer's zone
//! correctly; `X-WR-TIMEZONE` names the program's zone for clients that display it. UIDs are
//! stable per session and `SEQUENCE` rises on every change, so a subscribed calendar updates
//! an event in place instead of duplicating it; a cancelled session stays in the feed with
//! `STATUS:CANCELLED` so subscribers see it go away.
//!
//! Every event that still takes place carries a display alarm ([`ALARM_BEFORE`] before the
//! start) and the page where it is watched, as `URL` and — since many phone calendars show
//! only the notes — at the end of the description.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Alarm, Calendar, Component, Event, EventLike, EventStatus, Trigger};

/// How long before a session its calendar event rings.
pub const ALARM_BEFORE: Duration = Duration::minutes(30);

/// One session as a calendar event.
#[derive(Debug, Clone)]
pub struct CalEvent {
    pub session_id: i64,
    pub sequence: u32,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub minutes: u32,
    /// Page of the session (where to sign up / watch).
    pub url: Option<String>,
    pub cancelled: bool,
    pub last_modified: DateTime<Utc>,
}

/// The stable UID of a session's event.
pub fn uid(session_id: i64) -> String {
    format!("session-{session_id}@pufa")
}

/// Render a calendar named `name` (X-WR-CALNAME) in `timezone` (X-WR-TIMEZONE).
pub fn render(name: &str, timezone: &str, events: &[CalEvent]) -> String {
    let mut cal = Calendar::new();
    cal.name(name)
        .timezone(timezone)
        .ttl(&Duration::hours(1))
        .append_property(("METHOD", "PUBLISH"));
    for e in events {
        let mut ev = Event::new();
        let description = match &e.url {
            Some(url) => format!("{}\n\n观看与报名：{url}", e.description),
            None => e.description.clone(),
        };
        ev.uid(&uid(e.session_id))
            .sequence(e.sequence)
            .summary(&e.title)
            .description(&description)
            .starts(e.starts_at)
            .ends(e.starts_at + Duration::minutes(i64::from(e.minutes)))
            .timestamp(e.last_modified)
            .last_modified(e.last_modified);
        if let Some(url) = &e.url {
            ev.url(url);
        }
        ev.status(if e.cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
        if !e.cancelled {
            ev.alarm(Alarm::display(
                &format!("「{}」{} 分钟后开始", e.title, ALARM_BEFORE.num_minutes()),
                Trigger::before_start(ALARM_BEFORE),
            ));
        }
        cal.push(ev.done());
    }
    cal.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn feed_has_name_uids_sequence_and_utc_times() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 1, 6, 30, 0)
            .single()
            .expect("time");
        let text = render(
            "线上直播普法月",
            "Asia/Shanghai",
            &[CalEvent {
                session_id: 7,
                sequence: 3,
                title: "合同纠纷的预防与应对".into(),
                description: "主讲：示例律师".into(),
                starts_at: t,
                minutes: 90,
                url: Some("http://127.0.0.1:8080/sessions/7".into()),
                cancelled: false,
                last_modified: t,
            }],
        );
        assert!(text.contains("X-WR-CALNAME:线上直播普法月"));
        assert!(text.contains("X-WR-TIMEZONE:Asia/Shanghai"));
        assert!(text.contains("UID:session-7@pufa"));
        assert!(text.contains("SEQUENCE:3"));
        assert!(text.contains("DTSTART:20261201T063000Z"));
        assert!(text.contains("DTEND:20261201T080000Z"));
        assert!(text.contains("URL:http://127.0.0.1:8080/sessions/7"));
        // the watch link is in the notes too (lines are folded at 75 octets); the alarm rings
        // 30 minutes before
        let unfolded = text.replace("\r\n ", "");
        assert!(
            unfolded.contains("观看与报名：http://127.0.0.1:8080/sessions/7"),
            "{text}"
        );
        assert!(text.contains("BEGIN:VALARM") && text.contains("ACTION:DISPLAY"));
        assert!(text.contains("TRIGGER;RELATED=START:-PT1800S"), "{text}");
        let parsed: Calendar = text.parse().expect("parses back");
        assert_eq!(parsed.events().count(), 1);
    }
}
