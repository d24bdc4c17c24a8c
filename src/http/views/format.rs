//! Times and numbers as pages show them. Every time is shown in a zone the caller names — the
//! program's own zone wherever a session is concerned — never in a hard-coded one.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use crate::schedule::{datetime_zh, zoned_zh};

/// "2026年12月1日 周二 14:30", or "时间待定" for a session not placed yet.
pub fn when_zh(t: Option<&DateTime<Utc>>, tz: Tz) -> String {
    t.map(|t| datetime_zh(t, tz))
        .unwrap_or_else(|| "时间待定".into())
}

/// "2026-12-01 14:30:05" in `tz` (rosters, exports, logs shown to staff).
pub fn timestamp(t: &DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// "2026-12-01 14:30" in `tz` (lists shown to staff where seconds do not matter).
pub fn minute(t: &DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// "14:30" in `tz`.
pub fn clock_time(t: &DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

/// "2026-12-01T14:30" in `tz`, the value of a `datetime-local` input.
pub fn input_value(t: &DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// RFC 3339 with the offset of `tz` (the API's time format).
pub fn rfc3339(t: &DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_in_the_given_zone() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 1, 6, 30, 5)
            .single()
            .expect("time");
        assert_eq!(
            datetime_zh(&t, chrono_tz::Asia::Shanghai),
            "2026年12月1日 周二 14:30"
        );
        assert_eq!(
            datetime_zh(&t, chrono_tz::Asia::Urumqi),
            "2026年12月1日 周二 12:30"
        );
        assert_eq!(
            timestamp(&t, chrono_tz::Asia::Shanghai),
            "2026-12-01 14:30:05"
        );
        assert_eq!(minute(&t, chrono_tz::Asia::Shanghai), "2026-12-01 14:30");
        assert_eq!(
            input_value(&t, chrono_tz::Asia::Shanghai),
            "2026-12-01T14:30"
        );
        assert_eq!(when_zh(None, chrono_tz::Asia::Shanghai), "时间待定");
    }
}
