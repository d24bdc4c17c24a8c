//! The time zones a program can be planned in, named the way organizers say them.
//!
//! The API takes any IANA name; the program form offers this list (the program's own zone is
//! added when it is not on it), and pages show a zone by its Chinese name.

/// IANA name and Chinese name, the chamber's own zone first.
pub const ZONES: [(&str, &str); 14] = [
    ("Asia/Shanghai", "北京时间（UTC+8）"),
    ("Asia/Hong_Kong", "香港时间（UTC+8）"),
    ("Asia/Macau", "澳门时间（UTC+8）"),
    ("Asia/Taipei", "台北时间（UTC+8）"),
    ("Asia/Urumqi", "乌鲁木齐时间（UTC+6）"),
    ("Asia/Singapore", "新加坡时间（UTC+8）"),
    ("Asia/Tokyo", "东京时间（UTC+9）"),
    ("Asia/Seoul", "首尔时间（UTC+9）"),
    ("Asia/Bangkok", "曼谷时间（UTC+7）"),
    ("Asia/Dubai", "迪拜时间（UTC+4）"),
    ("Europe/Berlin", "柏林时间（欧洲中部，UTC+1，夏令时 UTC+2）"),
    ("Europe/London", "伦敦时间（UTC+0，夏令时 UTC+1）"),
    (
        "America/New_York",
        "纽约时间（美国东部，UTC−5，夏令时 UTC−4）",
    ),
    ("UTC", "协调世界时（UTC）"),
];

/// The Chinese name of `zone`, or the IANA name itself when it is not on the list.
pub fn zone_zh(zone: &str) -> String {
    ZONES
        .iter()
        .find(|(name, _)| *name == zone)
        .map_or_else(|| zone.to_string(), |(_, zh)| (*zh).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn every_listed_zone_is_a_real_zone() {
        for (name, zh) in ZONES {
            assert!(chrono_tz::Tz::from_str(name).is_ok(), "{name}");
            assert!(!zh.is_empty());
        }
    }

    #[test]
    fn zones_read_in_chinese_and_unknown_ones_by_name() {
        assert_eq!(zone_zh("Asia/Shanghai"), "北京时间（UTC+8）");
        assert_eq!(zone_zh("Africa/Nairobi"), "Africa/Nairobi");
    }
}
