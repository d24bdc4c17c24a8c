//! Column types both backends store the same way, read through sqlx's `Any` driver.
//!
//! `Any` moves only integers, floats, text, blobs and booleans between pufa and the database,
//! so pufa stores what it needs in those, identically on SQLite and PostgreSQL: timestamps as
//! RFC 3339 text (`2026-12-01T08:00:00+00:00`, as sqlx wrote them on SQLite before), days as
//! `YYYY-MM-DD`, JSON documents as text, flags as 0/1 integers. The wrappers here decode them
//! (fields of `FromRow` structs say `#[sqlx(try_from = "Ts")]`) and [`ts`]/[`day`] encode.
//! A truth value computed by a query (`EXISTS …`, `a < b`) is a boolean on PostgreSQL and an
//! integer on SQLite; [`Flag`] reads either.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::decode::Decode;
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::types::Type;

/// A timestamp as stored: RFC 3339 in UTC with `+00:00`, the text sqlx writes for a
/// `DateTime<Utc>` on SQLite, so old and new rows compare as text in time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A day as stored: `YYYY-MM-DD`.
pub fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, BoxDynError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    // SQLite's own `datetime('now')` form, in UTC
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    Err(format!("not a timestamp: {s:?}").into())
}

fn decode_text(value: AnyValueRef<'_>) -> Result<String, BoxDynError> {
    <String as Decode<Any>>::decode(value)
}

macro_rules! text_type {
    ($t:ty) => {
        impl Type<Any> for $t {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }
    };
}

/// A timestamp column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub DateTime<Utc>);
text_type!(Ts);
impl<'r> Decode<'r, Any> for Ts {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        parse_ts(&decode_text(value)?).map(Ts)
    }
}
impl From<Ts> for DateTime<Utc> {
    fn from(t: Ts) -> Self {
        t.0
    }
}

/// A timestamp column that may be NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptTs(pub Option<DateTime<Utc>>);
text_type!(OptTs);
impl<'r> Decode<'r, Any> for OptTs {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        <Option<String> as Decode<Any>>::decode(value)?
            .map(|s| parse_ts(&s))
            .transpose()
            .map(OptTs)
    }
}
impl From<OptTs> for Option<DateTime<Utc>> {
    fn from(t: OptTs) -> Self {
        t.0
    }
}

/// A day column (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDate);
text_type!(Day);
impl<'r> Decode<'r, Any> for Day {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = decode_text(value)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Day)
            .map_err(|_| format!("not a day: {s:?}").into())
    }
}
impl From<Day> for NaiveDate {
    fn from(d: Day) -> Self {
        d.0
    }
}

/// A day column that may be NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDay(pub Option<NaiveDate>);
text_type!(OptDay);
impl<'r> Decode<'r, Any> for OptDay {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        <Option<String> as Decode<Any>>::decode(value)?
            .map(|s| {
                NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map_err(|_| BoxDynError::from(format!("not a day: {s:?}")))
            })
            .transpose()
            .map(OptDay)
    }
}
impl From<OptDay> for Option<NaiveDate> {
    fn from(d: OptDay) -> Self {
        d.0
    }
}

/// A truth value: a 0/1 column, or a condition a query computed (a boolean on PostgreSQL, an
/// integer on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);
impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty) || <bool as Type<Any>>::compatible(ty)
    }
}
impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<Any>>::decode(value.clone()) {
            Ok(b) => Ok(Flag(b)),
            Err(_) => <i64 as Decode<Any>>::decode(value).map(|v| Flag(v != 0)),
        }
    }
}
impl From<Flag> for bool {
    fn from(f: Flag) -> Self {
        f.0
    }
}

/// A JSON document stored as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json<T>(pub T);
impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
impl<T> Type<Any> for Json<T> {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}
impl<'r, T: DeserializeOwned> Decode<'r, Any> for Json<T> {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Json(serde_json::from_str(&decode_text(value)?)?))
    }
}
impl<'q, T: Serialize> Encode<'q, Any> for Json<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Any>>::encode(serde_json::to_string(&self.0)?, buf)
    }
}

// pufa's enumerations are stored as their lowercase names; `derive(sqlx::Type)` gives them
// the text encoder, and these the `Any` driver's type and decoder (by their serde names, which
// are the same as their sqlx names).
macro_rules! text_enums {
    ($($t:ty),* $(,)?) => {$(
        impl Type<Any> for $t {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }
        impl<'r> Decode<'r, Any> for $t {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                use serde::de::IntoDeserializer;
                let s = decode_text(value)?;
                let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                    s.as_str().into_deserializer();
                <$t>::deserialize(d).map_err(|e| e.to_string().into())
            }
        }
    )*};
}
text_enums!(
    crate::notify::Channel,
    crate::notify::ContactKind,
    crate::notify::Kind,
    crate::checkup::CheckupStatus,
    crate::checkup::scoring::Level,
    crate::signup::RegistrationStatus,
    crate::schedule::SessionStatus,
    super::jobs::JobState,
    super::claims::ClaimState,
    super::outbox_admin::DeliveryState,
    super::qa_entries::EntryStatus,
    super::live::LiveRowState,
    crate::archive::Visibility,
);

/// What a stored timestamp or day reads into: `DateTime<Utc>`, `NaiveDate` or an `Option` of
/// either ([`RowExt::time`]).
pub(crate) trait FromStored: Sized {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error>;
}
impl FromStored for DateTime<Utc> {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get::<Ts, _>(row, column).map(|t| t.0)
    }
}
impl FromStored for Option<DateTime<Utc>> {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get::<OptTs, _>(row, column).map(|t| t.0)
    }
}
impl FromStored for NaiveDate {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get::<Day, _>(row, column).map(|t| t.0)
    }
}
impl FromStored for Option<NaiveDate> {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get::<OptDay, _>(row, column).map(|t| t.0)
    }
}
impl FromStored for bool {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get::<Flag, _>(row, column).map(|t| t.0)
    }
}

impl FromStored for Option<bool> {
    fn read(row: &sqlx::any::AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get::<Option<Flag>, _>(row, column).map(|t| t.map(|f| f.0))
    }
}

/// Reading stored times, days and flags from a row by column name.
pub(crate) trait RowExt {
    fn time<T: FromStored>(&self, column: &str) -> Result<T, sqlx::Error>;
}
impl RowExt for sqlx::any::AnyRow {
    fn time<T: FromStored>(&self, column: &str) -> Result<T, sqlx::Error> {
        T::read(self, column)
    }
}

/// A statement assembled piece by piece (filters that may or may not apply), with numbered
/// placeholders (`$1`, `$2` …) that both backends read; sqlx's `QueryBuilder` writes `?` for
/// the `Any` driver, which PostgreSQL does not accept.
pub(crate) struct Sql<'a> {
    text: String,
    args: sqlx::any::AnyArguments<'a>,
    count: usize,
    error: Option<BoxDynError>,
}

impl<'a> Sql<'a> {
    pub(crate) fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Default::default(),
            count: 0,
            error: None,
        }
    }

    /// Append SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Append the next placeholder and bind `value` to it.
    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'a, Any> + Type<Any> + 'a,
    {
        use sqlx::Arguments;
        self.count += 1;
        self.text.push('$');
        self.text.push_str(&self.count.to_string());
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// The statement and its arguments (or the first value that failed to encode).
    pub(crate) fn build(self) -> Result<(String, sqlx::any::AnyArguments<'a>), sqlx::Error> {
        match self.error {
            Some(e) => Err(sqlx::Error::Encode(e)),
            None => Ok((self.text, self.args)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_back_in_every_stored_form() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T08:00:00.5+00:00")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(parse_ts(&ts(t)).expect("own form"), t);
        assert_eq!(parse_ts("2026-12-01 08:00:00.5").expect("SQLite's form"), t);
        assert!(parse_ts("yesterday").is_err());
        assert_eq!(day(t.date_naive()), "2026-12-01");
    }
}
