//! The legal-education month: programs, sessions, lecturers; validation of what organizers
//! submit, the auto-scheduler ([`planner`]), conflict checks ([`conflicts`]) and calendar
//! feeds ([`ical`]). Plain types and functions, no HTTP or SQL.

pub mod conflicts;
pub mod ical;
pub mod planner;
pub mod zones;

use crate::accounts::industry;
use crate::validation::{excerpt, forbidden_char, FieldErrors, Lines};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use planner::{Availability, ProgramCalendar, SlotRule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::str::FromStr;

/// Topic categories of sessions: the risk dimensions of the legal health check, so a report's
/// weak dimensions map directly to lectures.
pub const CATEGORIES: [&str; 12] = [
    "公司治理",
    "合同管理",
    "劳动用工",
    "知识产权",
    "财税",
    "数据与个人信息保护",
    "安全生产与环保",
    "融资担保",
    "诉讼与执行",
    "廉洁合规",
    "建设工程",
    "信用修复",
];

/// Whether a session still takes place (the `lecture_sessions.status` CHECK constraint).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    Scheduled,
    /// Cancelled by an organizer; it stays in calendar feeds as cancelled.
    Cancelled,
}

impl SessionStatus {
    /// The value stored in the database and sent in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Scheduled => "scheduled",
            SessionStatus::Cancelled => "cancelled",
        }
    }

    /// How pages name the state.
    pub fn label_zh(self) -> &'static str {
        match self {
            SessionStatus::Scheduled => "已排期",
            SessionStatus::Cancelled => "已取消",
        }
    }
}

/// The zone used where no program's own zone applies (an enterprise's feed across programs)
/// and the default for new programs.
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Shanghai;

/// Minutes before the start from which a session counts as live ("直播中" and the live link).
pub const LIVE_LEAD_MINUTES: i64 = 15;

/// True from [`LIVE_LEAD_MINUTES`] before the start until the scheduled end of a placed,
/// not-cancelled session.
pub fn is_live_now(
    starts_at: Option<DateTime<Utc>>,
    minutes: i64,
    status: SessionStatus,
    now: DateTime<Utc>,
) -> bool {
    status == SessionStatus::Scheduled
        && starts_at.is_some_and(|s| {
            let end = s + chrono::Duration::minutes(minutes);
            now >= s - chrono::Duration::minutes(LIVE_LEAD_MINUTES) && now <= end
        })
}

pub fn is_category(s: &str) -> bool {
    CATEGORIES.contains(&s)
}

/// "2026年12月1日": a day as certificates and notices write it.
pub fn date_zh(d: NaiveDate) -> String {
    d.format("%Y年%-m月%-d日").to_string()
}

/// "2026年12月1日 周二 14:30" in `tz`.
pub fn datetime_zh(t: &DateTime<Utc>, tz: Tz) -> String {
    zoned_zh(&t.with_timezone(&tz))
}

/// "2026年12月1日 周二 14:30" for a time already in its zone (or at its offset).
pub fn zoned_zh<Z: TimeZone>(t: &DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    format!(
        "{}年{}月{}日 {} {}",
        t.year(),
        t.month(),
        t.day(),
        weekday_zh(t.weekday().number_from_monday() as u8),
        t.format("%H:%M")
    )
}

/// Chinese weekday names, index 1 = Monday.
pub fn weekday_zh(weekday: u8) -> &'static str {
    match weekday {
        1 => "周一",
        2 => "周二",
        3 => "周三",
        4 => "周四",
        5 => "周五",
        6 => "周六",
        7 => "周日",
        _ => "",
    }
}

/// A weekly time slot as sent and stored: weekday 1 = Monday … 7 = Sunday, start "HH:MM".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    /// 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: u8,
    /// Local start time, HH:MM.
    pub start: String,
    #[schema(minimum = 15, maximum = 480)]
    pub minutes: u32,
}

fn default_timezone() -> String {
    DEFAULT_TZ.name().into()
}

/// A program as an organizer submits it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "2027年3月普法月（示例）", "summary": "面向民营企业的系列普法讲座",
    "starts_on": "2027-03-01", "ends_on": "2027-03-31", "timezone": "Asia/Shanghai",
    "slots": [{"weekday": 2, "start": "14:30", "minutes": 90}],
    "blackout_dates": ["2027-03-04"]
}))]
pub struct ProgramInput {
    /// 2 to 100 characters.
    #[serde(default)]
    #[schema(required = true)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    /// First day, YYYY-MM-DD.
    #[serde(default)]
    #[schema(required = true)]
    pub starts_on: String,
    /// Last day (inclusive), YYYY-MM-DD.
    #[serde(default)]
    #[schema(required = true)]
    pub ends_on: String,
    /// IANA timezone, default Asia/Shanghai.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Weekly slots, 1 to 21, not overlapping on the same weekday.
    #[serde(default)]
    #[schema(required = true)]
    pub slots: Vec<SlotSpec>,
    /// Days without sessions (public holidays), YYYY-MM-DD.
    #[serde(default)]
    pub blackout_dates: Vec<String>,
}

/// A program that passed validation.
#[derive(Debug, Clone)]
pub struct ValidProgram {
    pub title: String,
    pub summary: String,
    pub calendar: ProgramCalendar,
}

impl ValidProgram {
    /// Slots in their stored form.
    pub fn slot_specs(&self) -> Vec<SlotSpec> {
        self.calendar
            .slots
            .iter()
            .map(|s| SlotSpec {
                weekday: s.weekday,
                start: s.start.format("%H:%M").to_string(),
                minutes: s.minutes,
            })
            .collect()
    }
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// The years a date or time of the schedule may fall in. Anything else is a typo (year 0000,
/// negative years, +262142 all parse) and would put invalid `DTSTART`s into calendar feeds.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The message for a date or time outside [`YEARS`].
fn out_of_range_zh(label: &str) -> String {
    format!("{label}应在{}年到{}年之间", YEARS.start(), YEARS.end())
}

/// A date field: parsed and within [`YEARS`], else a message about `field` and `None`.
fn checked_date(s: &str, field: &str, label: &str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    match parse_date(s) {
        None => {
            errors.add(field, format!("{label}格式应为 YYYY-MM-DD"));
            None
        }
        Some(d) if !YEARS.contains(&d.year()) => {
            errors.add(field, out_of_range_zh(label));
            None
        }
        Some(d) => Some(d),
    }
}

/// The dates of a list field (blackout dates, a lecturer's days off); blanks are skipped, each
/// bad entry gets a message quoting (a capped excerpt of) it.
fn checked_dates(
    list: &[String],
    field: &str,
    label: &str,
    errors: &mut FieldErrors,
) -> BTreeSet<NaiveDate> {
    let mut dates = BTreeSet::new();
    for d in list {
        if d.trim().is_empty() {
            continue;
        }
        match parse_date(d) {
            Some(date) if YEARS.contains(&date.year()) => {
                dates.insert(date);
            }
            Some(_) => errors.add(
                field,
                out_of_range_zh(&format!("{label}“{}”", excerpt(d.trim()))),
            ),
            None => errors.add(
                field,
                format!("{label}“{}”格式应为 YYYY-MM-DD", excerpt(d.trim())),
            ),
        }
    }
    dates
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

fn text_len(s: &str) -> usize {
    s.trim().chars().count()
}

/// Validate a program; every problem gets a field and a Chinese message.
pub fn validate_program(input: &ProgramInput) -> Result<ValidProgram, FieldErrors> {
    let mut errors = FieldErrors::default();
    let title = input.title.trim().to_string();
    if !(2..=100).contains(&text_len(&title)) {
        errors.add("title", "项目名称应为2到100个字符");
    } else {
        errors.check_text("title", "项目名称", &title, Lines::Single);
    }
    if text_len(&input.summary) > 2000 {
        errors.add("summary", "项目简介不能超过2000个字符");
    } else {
        errors.check_text("summary", "项目简介", &input.summary, Lines::Multi);
    }
    let starts_on = checked_date(&input.starts_on, "starts_on", "开始日期", &mut errors);
    let ends_on = checked_date(&input.ends_on, "ends_on", "结束日期", &mut errors);
    if let (Some(a), Some(b)) = (starts_on, ends_on) {
        if b < a {
            errors.add("ends_on", "结束日期不能早于开始日期");
        } else if (b - a).num_days() > 366 {
            errors.add("ends_on", "一个项目最长一年");
        }
    }
    let timezone = Tz::from_str(input.timezone.trim()).ok();
    if timezone.is_none() {
        errors.add("timezone", "时区无法识别，请使用如 Asia/Shanghai 的时区名");
    }
    let mut slots = Vec::new();
    if input.slots.is_empty() {
        errors.add("slots", "请至少设置一个每周上课时段");
    } else if input.slots.len() > 21 {
        errors.add("slots", "每周时段不能超过21个");
    }
    for (i, s) in input.slots.iter().enumerate() {
        let n = i + 1;
        let start = parse_hhmm(&s.start);
        if !(1..=7).contains(&s.weekday) {
            errors.add(
                "slots",
                format!("第{n}个时段的星期应为1（周一）到7（周日）"),
            );
        } else if start.is_none() {
            errors.add("slots", format!("第{n}个时段的开始时间格式应为 HH:MM"));
        } else if !(15..=480).contains(&s.minutes) {
            errors.add("slots", format!("第{n}个时段的时长应为15到480分钟"));
        } else if let Some(start) = start {
            slots.push(SlotRule {
                weekday: s.weekday,
                start,
                minutes: s.minutes,
            });
        }
    }
    // two slots on the same weekday must not overlap
    for (i, a) in slots.iter().enumerate() {
        for b in &slots[i + 1..] {
            if a.weekday == b.weekday {
                let a_end = a.start + chrono::Duration::minutes(i64::from(a.minutes));
                let b_end = b.start + chrono::Duration::minutes(i64::from(b.minutes));
                if a.start < b_end && b.start < a_end {
                    errors.add(
                        "slots",
                        format!(
                            "{}的时段 {} 与 {} 时间重叠",
                            weekday_zh(a.weekday),
                            a.start.format("%H:%M"),
                            b.start.format("%H:%M")
                        ),
                    );
                }
            }
        }
    }
    let blackout_dates = checked_dates(
        &input.blackout_dates,
        "blackout_dates",
        "停课日期",
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    match (starts_on, ends_on, timezone) {
        (Some(starts_on), Some(ends_on), Some(timezone)) => Ok(ValidProgram {
            title,
            summary: input.summary.trim().to_string(),
            calendar: ProgramCalendar {
                starts_on,
                ends_on,
                timezone,
                slots,
                blackout_dates,
            },
        }),
        _ => Err(errors),
    }
}

/// The API document's schema of [`LecturerInput::available_weekdays`]: null, or at least one
/// weekday 1–7 (what [`validate_lecturer`] accepts).
fn weekday_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(7)),
        )
        .min_items(Some(1))
        .description(Some(
            "Weekdays the lecturer can teach (1 = Monday … 7 = Sunday); absent = every day.",
        ))
        .build()
}

/// A lecturer as submitted with a session.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LecturerInput {
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    /// Law firm.
    #[serde(default)]
    #[schema(required = true)]
    pub firm: String,
    #[serde(default)]
    pub bio: String,
    /// Weekdays the lecturer can teach (1 = Monday … 7 = Sunday); absent = every day.
    #[serde(default)]
    #[schema(schema_with = weekday_list_schema)]
    pub available_weekdays: Option<Vec<u8>>,
    /// Dates the lecturer cannot teach, YYYY-MM-DD.
    #[serde(default)]
    pub unavailable_dates: Vec<String>,
    /// Username of the lawyer account to link (the lawyer then sees own sessions and
    /// rosters); empty string unlinks, absent leaves the link as it is.
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ValidLecturer {
    pub name: String,
    pub firm: String,
    pub bio: String,
    pub availability: Availability,
}

/// A session as an organizer submits it. Times are RFC 3339 with an offset, or local
/// "YYYY-MM-DDTHH:MM" in the program's timezone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "劳动合同签订与解除实务（示例）", "summary": "", "category": "劳动用工",
    "target_industries": ["C", "I"],
    "lecturer": {"name": "示例律师", "firm": "示例律师事务所", "bio": ""},
    "minutes": 90, "capacity": 60, "max_seats_per_enterprise": 3
}))]
pub struct SessionInput {
    /// 2 to 100 characters.
    #[serde(default)]
    #[schema(required = true)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    /// One of the topic categories (合同管理, 劳动用工, …).
    #[serde(default)]
    #[schema(required = true)]
    pub category: String,
    /// GB/T 4754 sections the session is aimed at; empty = all industries.
    #[serde(default)]
    pub target_industries: Vec<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub lecturer: LecturerInput,
    #[serde(default)]
    #[schema(required = true, minimum = 15, maximum = 480)]
    pub minutes: i64,
    /// Enterprise seats.
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 100_000)]
    pub capacity: i64,
    /// Seats one enterprise may take (default 5).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub max_seats_per_enterprise: Option<i64>,
    #[serde(default)]
    pub signup_opens_at: Option<String>,
    #[serde(default)]
    pub signup_closes_at: Option<String>,
    /// Where the live stream is watched (https://, rtmp:// or srt://).
    #[serde(default)]
    pub stream_url: Option<String>,
    /// Place by hand; absent = leave for the auto-scheduler.
    #[serde(default)]
    pub starts_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ValidSession {
    pub title: String,
    pub summary: String,
    pub category: String,
    pub target_industries: Vec<char>,
    pub lecturer: ValidLecturer,
    pub minutes: u32,
    pub capacity: i64,
    pub max_seats_per_enterprise: i64,
    pub signup_opens_at: Option<DateTime<Utc>>,
    pub signup_closes_at: Option<DateTime<Utc>>,
    pub stream_url: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
}

/// Parse a time as RFC 3339 or as local "YYYY-MM-DDTHH:MM[:SS]" / "YYYY-MM-DD HH:MM" in `tz`.
pub fn parse_time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 3339 without seconds, as people write it: 2026-12-01T14:30+08:00
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(s, "%Y-%m-%dT%H:%M%:z") {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    None
}

fn optional_time(
    value: &Option<String>,
    tz: Tz,
    field: &str,
    label: &str,
    errors: &mut FieldErrors,
) -> Option<DateTime<Utc>> {
    let s = value.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    match parse_time(s, tz) {
        None => {
            errors.add(
                field,
                format!("{label}格式应为 2026-12-01T14:30+08:00 或 2026-12-01T14:30"),
            );
            None
        }
        Some(t) if !YEARS.contains(&t.with_timezone(&tz).year()) => {
            errors.add(field, out_of_range_zh(label));
            None
        }
        Some(t) => Some(t),
    }
}

pub fn validate_lecturer(input: &LecturerInput, errors: &mut FieldErrors) -> ValidLecturer {
    let name = input.name.trim().to_string();
    let firm = input.firm.trim().to_string();
    if !(1..=50).contains(&text_len(&name)) {
        errors.add("lecturer.name", "请填写主讲律师姓名（不超过50个字符）");
    } else {
        errors.check_text("lecturer.name", "主讲律师姓名", &name, Lines::Single);
    }
    if !(1..=100).contains(&text_len(&firm)) {
        errors.add("lecturer.firm", "请填写律师事务所（不超过100个字符）");
    } else {
        errors.check_text("lecturer.firm", "律师事务所", &firm, Lines::Single);
    }
    if text_len(&input.bio) > 2000 {
        errors.add("lecturer.bio", "讲师简介不能超过2000个字符");
    } else {
        errors.check_text("lecturer.bio", "讲师简介", &input.bio, Lines::Multi);
    }
    // a name that cannot be an account is refused here, before it is looked up (and quoted)
    if let Some(account) = input.account.as_deref().map(str::trim) {
        if !account.is_empty() {
            if let Err(message) = lawyer_account_check(account) {
                errors.add("lecturer.account", message);
            }
        }
    }
    let weekdays = match &input.available_weekdays {
        None => None,
        Some(days) => {
            if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
                errors.add(
                    "lecturer.available_weekdays",
                    "可授课的星期应为1（周一）到7（周日），至少选一天",
                );
            }
            Some(
                days.iter()
                    .copied()
                    .filter(|d| (1..=7).contains(d))
                    .collect(),
            )
        }
    };
    let unavailable_dates = checked_dates(
        &input.unavailable_dates,
        "lecturer.unavailable_dates",
        "不可授课日期",
        errors,
    );
    ValidLecturer {
        name,
        firm,
        bio: input.bio.trim().to_string(),
        availability: Availability {
            weekdays,
            unavailable_dates,
        },
    }
}

/// A lawyer account name as staff login names are written (3–32 of letters, digits, `.`,
/// `_`, `-`).
fn lawyer_account_check(account: &str) -> Result<(), String> {
    crate::accounts::check_username(account)
        .map_err(|_| "律师账号应为3到32位字母、数字或 . _ - 符号".to_string())
}

/// Validate a session of a program in timezone `tz`.
pub fn validate_session(input: &SessionInput, tz: Tz) -> Result<ValidSession, FieldErrors> {
    let mut errors = FieldErrors::default();
    let title = input.title.trim().to_string();
    if !(2..=100).contains(&text_len(&title)) {
        errors.add("title", "课程标题应为2到100个字符");
    } else {
        errors.check_text("title", "课程标题", &title, Lines::Single);
    }
    if text_len(&input.summary) > 4000 {
        errors.add("summary", "课程简介不能超过4000个字符");
    } else {
        errors.check_text("summary", "课程简介", &input.summary, Lines::Multi);
    }
    let category = input.category.trim().to_string();
    if !is_category(&category) {
        errors.add(
            "category",
            format!("主题类别应为以下之一：{}", CATEGORIES.join("、")),
        );
    }
    let mut target_industries = Vec::new();
    for code in &input.target_industries {
        match industry::parse_section(code) {
            Some(c) if !target_industries.contains(&c) => target_industries.push(c),
            Some(_) => {}
            None => errors.add(
                "target_industries",
                format!("行业门类“{}”无效，应为 A–T", excerpt(code.trim())),
            ),
        }
    }
    target_industries.sort_unstable();
    let lecturer = validate_lecturer(&input.lecturer, &mut errors);
    if !(15..=480).contains(&input.minutes) {
        errors.add("minutes", "课程时长应为15到480分钟");
    }
    if !(1..=100_000).contains(&input.capacity) {
        errors.add("capacity", "名额应为1到100000之间的整数");
    }
    let max_seats = input.max_seats_per_enterprise.unwrap_or(5);
    if !(1..=100).contains(&max_seats) {
        errors.add("max_seats_per_enterprise", "每家企业可报名额应为1到100");
    }
    let signup_opens_at = optional_time(
        &input.signup_opens_at,
        tz,
        "signup_opens_at",
        "报名开始时间",
        &mut errors,
    );
    let signup_closes_at = optional_time(
        &input.signup_closes_at,
        tz,
        "signup_closes_at",
        "报名截止时间",
        &mut errors,
    );
    if let (Some(a), Some(b)) = (signup_opens_at, signup_closes_at) {
        if b <= a {
            errors.add("signup_closes_at", "报名截止时间应晚于报名开始时间");
        }
    }
    let starts_at = optional_time(&input.starts_at, tz, "starts_at", "上课时间", &mut errors);
    let stream_url = input
        .stream_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(url) = &stream_url {
        let ok_scheme = ["https://", "http://", "rtmp://", "rtmps://", "srt://"]
            .iter()
            .any(|p| url.to_ascii_lowercase().starts_with(p));
        if !ok_scheme
            || url.len() > 500
            || url.chars().any(char::is_whitespace)
            || forbidden_char(url, Lines::Single).is_some()
        {
            errors.add(
                "stream_url",
                "直播地址应以 https:// 、http:// 、rtmp:// 或 srt:// 开头，且不含空格",
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidSession {
        title,
        summary: input.summary.trim().to_string(),
        category,
        target_industries,
        lecturer,
        minutes: input.minutes as u32,
        capacity: input.capacity,
        max_seats_per_enterprise: max_seats,
        signup_opens_at,
        signup_closes_at,
        stream_url,
        starts_at,
    })
}

/// Changes to a session (`PUT /api/v1/sessions/{id}`): absent fields stay as they are;
/// `"starts_at": null` takes the session off the timetable.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"capacity": 80, "summary": "名额已增加"}))]
pub struct SessionPatch {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub category: Option<String>,
    pub target_industries: Option<Vec<String>>,
    pub lecturer: Option<LecturerInput>,
    #[schema(minimum = 15, maximum = 480)]
    pub minutes: Option<i64>,
    #[schema(minimum = 1, maximum = 100_000)]
    pub capacity: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_seats_per_enterprise: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub signup_opens_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub signup_closes_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub stream_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub starts_at: Option<Option<String>>,
}

fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

impl SessionPatch {
    /// The full input after applying this patch to `current`.
    pub fn apply(self, mut current: SessionInput) -> SessionInput {
        if let Some(v) = self.title {
            current.title = v;
        }
        if let Some(v) = self.summary {
            current.summary = v;
        }
        if let Some(v) = self.category {
            current.category = v;
        }
        if let Some(v) = self.target_industries {
            current.target_industries = v;
        }
        if let Some(v) = self.lecturer {
            current.lecturer = v;
        }
        if let Some(v) = self.minutes {
            current.minutes = v;
        }
        if let Some(v) = self.capacity {
            current.capacity = v;
        }
        if let Some(v) = self.max_seats_per_enterprise {
            current.max_seats_per_enterprise = Some(v);
        }
        if let Some(v) = self.signup_opens_at {
            current.signup_opens_at = v;
        }
        if let Some(v) = self.signup_closes_at {
            current.signup_closes_at = v;
        }
        if let Some(v) = self.stream_url {
            current.stream_url = v;
        }
        if let Some(v) = self.starts_at {
            current.starts_at = v;
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_window_opens_before_the_start_and_closes_at_the_end() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 1, 6, 30, 0)
            .single()
            .expect("time");
        let at = |m: i64| start + chrono::Duration::minutes(m);
        let live = |m, status| is_live_now(Some(start), 90, status, at(m));
        assert!(!live(-16, SessionStatus::Scheduled));
        assert!(live(-15, SessionStatus::Scheduled));
        assert!(live(90, SessionStatus::Scheduled));
        assert!(!live(91, SessionStatus::Scheduled));
        assert!(!live(10, SessionStatus::Cancelled));
        assert!(!is_live_now(None, 90, SessionStatus::Scheduled, start));
    }

    fn program() -> ProgramInput {
        ProgramInput {
            title: "线上直播普法月".into(),
            summary: String::new(),
            starts_on: "2026-12-01".into(),
            ends_on: "2026-12-31".into(),
            timezone: "Asia/Shanghai".into(),
            slots: vec![
                SlotSpec {
                    weekday: 2,
                    start: "14:30".into(),
                    minutes: 90,
                },
                SlotSpec {
                    weekday: 4,
                    start: "14:30".into(),
                    minutes: 90,
                },
            ],
            blackout_dates: vec!["2026-12-24".into()],
        }
    }

    #[test]
    fn valid_program() {
        let p = validate_program(&program()).expect("valid");
        assert_eq!(p.calendar.slots.len(), 2);
        assert_eq!(p.slot_specs()[0].start, "14:30");
        assert!(p
            .calendar
            .blackout_dates
            .contains(&NaiveDate::from_ymd_opt(2026, 12, 24).expect("date")));
    }

    #[test]
    fn program_errors_are_specific() {
        let mut p = program();
        p.ends_on = "2026-11-01".into();
        p.timezone = "Mars/Olympus".into();
        p.slots.push(SlotSpec {
            weekday: 2,
            start: "15:00".into(),
            minutes: 60,
        });
        p.slots.push(SlotSpec {
            weekday: 9,
            start: "15:00".into(),
            minutes: 60,
        });
        p.blackout_dates.push("12/25".into());
        let e = validate_program(&p).expect_err("invalid");
        assert!(e.get("ends_on").is_some());
        assert!(e.get("timezone").is_some());
        assert!(e.0.iter().any(|x| x.message.contains("重叠")));
        assert!(e.0.iter().any(|x| x.message.contains("第4个时段")));
        assert!(e.get("blackout_dates").is_some());
    }

    fn session() -> SessionInput {
        SessionInput {
            title: "合同纠纷的预防与应对".into(),
            category: "合同管理".into(),
            lecturer: LecturerInput {
                name: "示例律师甲".into(),
                firm: "示例律师事务所".into(),
                available_weekdays: Some(vec![2, 4]),
                ..Default::default()
            },
            minutes: 90,
            capacity: 50,
            starts_at: Some("2026-12-01T14:30".into()),
            ..Default::default()
        }
    }

    #[test]
    fn local_times_use_the_program_timezone() {
        let s = validate_session(&session(), chrono_tz::Asia::Shanghai).expect("valid");
        assert_eq!(
            s.starts_at.map(|t| t.to_rfc3339()),
            Some("2026-12-01T06:30:00+00:00".into())
        );
        assert_eq!(s.max_seats_per_enterprise, 5);
    }

    #[test]
    fn session_errors_are_specific() {
        let mut s = session();
        s.category = "烹饪".into();
        s.capacity = 0;
        s.minutes = 5;
        s.target_industries = vec!["Z".into()];
        s.stream_url = Some("javascript:alert(1)".into());
        s.starts_at = Some("tomorrow".into());
        s.lecturer.available_weekdays = Some(vec![]);
        let e = validate_session(&s, chrono_tz::Asia::Shanghai).expect_err("invalid");
        for f in [
            "category",
            "capacity",
            "minutes",
            "target_industries",
            "stream_url",
            "starts_at",
            "lecturer.available_weekdays",
        ] {
            assert!(e.get(f).is_some(), "{f}");
        }
    }

    #[test]
    fn patch_keeps_absent_fields_and_null_unplaces() {
        let patch: SessionPatch =
            serde_json::from_str(r#"{"capacity": 80, "starts_at": null}"#).expect("json");
        let out = patch.apply(session());
        assert_eq!(out.capacity, 80);
        assert_eq!(out.starts_at, None);
        assert_eq!(out.title, "合同纠纷的预防与应对");
        let patch: SessionPatch = serde_json::from_str(r#"{"title": "新标题"}"#).expect("json");
        let out = patch.apply(session());
        assert!(out.starts_at.is_some());
    }

    /// Before the fix year 0000, negative years and +262142 were accepted as program dates and
    /// session times, and the public calendar carried invalid DTSTARTs.
    #[test]
    fn dates_are_limited_to_2000_through_2100() {
        for bad in [
            "0000-01-01",
            "-0001-03-01",
            "+262142-01-01",
            "1999-12-31",
            "2101-01-01",
        ] {
            let mut p = program();
            p.starts_on = bad.into();
            let e = validate_program(&p).expect_err(bad);
            assert!(
                e.get("starts_on")
                    .is_some_and(|m| m.contains("2000年到2100年")),
                "{bad}: {e:?}"
            );
            let mut p = program();
            p.blackout_dates = vec![bad.into()];
            assert!(validate_program(&p).is_err(), "blackout {bad}");
            let mut s = session();
            s.lecturer.unavailable_dates = vec![bad.into()];
            let e = validate_session(&s, chrono_tz::Asia::Shanghai).expect_err(bad);
            assert!(e.get("lecturer.unavailable_dates").is_some(), "{bad}");
        }
        for bad in [
            "0000-01-01T10:00:00Z",
            "0000-12-01T14:30",
            "-0001-12-01T14:30",
            "+262142-12-01T14:30",
            "2101-01-01T08:00+08:00",
        ] {
            let mut s = session();
            s.starts_at = Some(bad.into());
            let e = validate_session(&s, chrono_tz::Asia::Shanghai).expect_err(bad);
            assert!(
                e.get("starts_at")
                    .is_some_and(|m| m.contains("2000年到2100年")),
                "{bad}: {e:?}"
            );
            let mut s = session();
            s.signup_closes_at = Some(bad.into());
            assert!(
                validate_session(&s, chrono_tz::Asia::Shanghai).is_err(),
                "{bad}"
            );
        }
        let mut p = program();
        p.starts_on = "2000-01-01".into();
        p.ends_on = "2000-12-31".into();
        assert!(validate_program(&p).is_ok());
        let mut s = session();
        s.starts_at = Some("2100-12-31T20:00".into());
        assert!(validate_session(&s, chrono_tz::Asia::Shanghai).is_ok());
    }

    /// Before the fix NUL and direction overrides were stored in titles and names as given.
    #[test]
    fn names_refuse_control_and_direction_characters() {
        let mut p = program();
        p.title = "普法\0月".into();
        let e = validate_program(&p).expect_err("NUL");
        assert!(e.get("title").is_some_and(|m| m.contains("控制字符")));
        let mut s = session();
        s.title = "合同\u{202E}管理课".into();
        s.lecturer.name = "律师\u{1b}甲".into();
        s.lecturer.firm = "事务所\u{2066}".into();
        s.summary = "第一行\n第二行".into();
        let e = validate_session(&s, chrono_tz::Asia::Shanghai).expect_err("bidi");
        assert!(e.get("title").is_some_and(|m| m.contains("文字方向")));
        assert!(e.get("lecturer.name").is_some());
        assert!(e.get("lecturer.firm").is_some());
        assert!(
            e.get("summary").is_none(),
            "line breaks stay allowed in a summary"
        );
        let mut s = session();
        s.stream_url = Some("https://live.example/\0x".into());
        let e = validate_session(&s, chrono_tz::Asia::Shanghai).expect_err("url");
        assert!(e.get("stream_url").is_some());
    }

    #[test]
    fn echoed_dates_are_capped() {
        let mut p = program();
        p.blackout_dates = vec!["9".repeat(100_000)];
        let e = validate_program(&p).expect_err("bad date");
        let m = e.get("blackout_dates").expect("message");
        assert!(m.chars().count() < 200, "{} chars", m.chars().count());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<SessionPatch>(r#"{"capacit": 80}"#).expect_err("typo");
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = serde_json::from_str::<SessionInput>(r#"{"lecturer": {"nmae": "x"}}"#)
            .expect_err("typo");
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
