//! Extractors whose rejections are [`AppError`]s, so bad input always gets problem+json (or the
//! HTML error page) with a Chinese message instead of axum's plain-text rejections.

use crate::error::AppError;
use crate::validation::{excerpt, FieldErrors};
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;

/// JSON body; the content type must be `application/json` (or `application/*+json`). A body
/// that does not fit `T` is refused with a Chinese message per problem, naming the field
/// path and the expected type ([`json_error_zh`]) instead of serde's English.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

impl<S, T> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        if !is_json_content_type(req.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("unreadable_body", "无法读取提交的内容")
            }
        })?;
        decode_json(&bytes).map(Json)
    }
}

/// `application/json`, or a `+json` type such as `application/merge-patch+json`.
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserialize a JSON body into `T`; syntax errors are `malformed_json`, data errors
/// `invalid_json_fields` with a Chinese message naming the field.
///
/// Two passes: the body is parsed into a JSON value (a syntax error or a repeated key ends it
/// there), then `T` is read from that value by [`strict::Value`], which — unlike serde_json —
/// takes a struct only from a JSON object, never from an array of its fields in order.
pub fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value = strict::parse(bytes).map_err(|e| match e {
        strict::ParseError::Syntax => malformed_json(),
        strict::ParseError::Duplicate { field } => {
            let message = format!("字段 {field} 重复出现");
            AppError::InvalidJson(FieldErrors::single(&field, message))
        }
    })?;
    serde_path_to_error::deserialize(strict::Value(&value)).map_err(|e| {
        let path = field_path(e.path());
        let (field, message) = json_error_zh(&path, &serde_message(e.inner()));
        AppError::InvalidJson(FieldErrors::single(&field, message))
    })
}

fn malformed_json() -> AppError {
    AppError::bad_request("malformed_json", "请求内容不是有效的 JSON")
}

/// serde's message without serde_json's " at line L column C".
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Joins a field path and a key: `lecturer` + `name` = `lecturer.name`.
fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The path of the field at fault as clients write it (`lecturer.name`, `slots[1].start`);
/// empty for the body itself. Map keys come from the client and are capped.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&excerpt(key));
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&excerpt(variant));
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// The names between backticks in serde's "expected one of `a`, `b`" (or the one name of
/// "missing field `x`"), capped.
fn quoted_names(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(excerpt).collect()
}

/// An expected type as serde names it (`i64`, `a string`, `struct SignupRequest`, …) in
/// Chinese.
fn expected_zh(expected: &str) -> String {
    let e = expected.trim();
    let e = e
        .strip_prefix("an ")
        .or_else(|| e.strip_prefix("a "))
        .unwrap_or(e);
    let zh = match e {
        "u8" => "0 到 255 之间的整数",
        "u16" => "0 到 65535 之间的整数",
        "u32" | "u64" | "u128" | "usize" => "非负整数",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "integer" => "整数",
        "f32" | "f64" | "number" => "数字",
        "string" | "borrowed string" | "str" => "字符串",
        "character" | "char" => "单个字符",
        "boolean" | "bool" => "布尔值（true 或 false）",
        "sequence" | "array" => "数组",
        "map" | "JSON object" => "JSON 对象",
        "unit" | "null" => "null",
        _ if e.starts_with("struct ") => "JSON 对象",
        _ if e.starts_with("tuple") => "数组",
        _ => "正确的类型",
    };
    // a space between Chinese and Latin text: "应为 JSON 对象", "应为整数"
    if zh.starts_with(|c: char| c.is_ascii()) {
        format!(" {zh}")
    } else {
        zh.to_string()
    }
}

/// A serde data error about the field at `path` ("" = the whole body) in Chinese: the field
/// to report it on and the message, e.g. ("seats", "字段 seats 应为整数"),
/// ("foo", "不允许的字段 foo，可用的字段：login、password"), ("login", "缺少字段 login"),
/// ("", "请求体应为 JSON 对象"). No value the client sent is echoed beyond a short excerpt.
pub fn json_error_zh(path: &str, message: &str) -> (String, String) {
    let within = |name: &str| join_path(path, name);
    let shown = if path.is_empty() {
        "（请求体）"
    } else {
        path
    };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = quoted_names(rest);
        let name = names.first().cloned().unwrap_or_default();
        // serde_path_to_error already put the unknown key at the end of the path
        let field = if path.is_empty() || !path.ends_with(&name) {
            within(&name)
        } else {
            path.to_string()
        };
        let allowed = names.get(1..).unwrap_or_default();
        let message = if allowed.is_empty() {
            format!("不允许的字段 {field}")
        } else {
            format!("不允许的字段 {field}，可用的字段：{}", allowed.join("、"))
        };
        return (field, message);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = quoted_names(rest).first().cloned().unwrap_or_default();
        let field = within(&name);
        return (field.clone(), format!("缺少字段 {field}"));
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        let name = quoted_names(rest).first().cloned().unwrap_or_default();
        let field = within(&name);
        return (field.clone(), format!("字段 {field} 重复出现"));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.rsplit_once(", expected ").map_or("", |(_, e)| e);
        let zh = expected_zh(expected);
        if path.is_empty() && zh == " JSON 对象" {
            return (String::new(), "请求体应为 JSON 对象".to_string());
        }
        return (path.to_string(), format!("字段 {shown} 应为{zh}"));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let expected = rest.rsplit_once(", expected ").map_or("", |(_, e)| e);
        return (
            path.to_string(),
            format!("字段 {shown} 的取值超出范围，应为{}", expected_zh(expected)),
        );
    }
    if message.starts_with("invalid length ") {
        return (path.to_string(), format!("字段 {shown} 的元素个数不正确"));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = quoted_names(rest);
        let value = names.first().cloned().unwrap_or_default();
        let allowed = names.get(1..).unwrap_or_default();
        return (
            path.to_string(),
            format!(
                "字段 {shown} 的取值“{value}”无效，应为以下之一：{}",
                allowed.join("、")
            ),
        );
    }
    (path.to_string(), format!("字段 {shown} 的类型或取值不正确"))
}

/// URL path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// Query string.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<FormRejection> for AppError {
    fn from(r: FormRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::PayloadTooLarge;
        }
        AppError::bad_request("invalid_form", "表单内容无法识别，请刷新页面后重试")
    }
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        AppError::NotFound
    }
}

impl From<QueryRejection> for AppError {
    fn from(_: QueryRejection) -> Self {
        AppError::bad_request("invalid_query", "网址中的查询参数不正确")
    }
}

/// A JSON body that may be left out entirely: an empty body, or JSON `null` (how the API
/// document writes an optional body), means `T::default()`.
#[derive(Debug, Clone, Default)]
pub struct OptionalJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v != "0")
            .unwrap_or(false)
            || req
                .headers()
                .contains_key(axum::http::header::TRANSFER_ENCODING);
        if !has_body {
            return Ok(OptionalJson(T::default()));
        }
        let Json(value) = Json::<Option<T>>::from_request(req, state).await?;
        Ok(OptionalJson(value.unwrap_or_default()))
    }
}

/// A `multipart/form-data` body. A request of another content type or without a boundary is
/// a Chinese problem instead of axum's English `400 text/plain`.
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Multipart)
            .map_err(AppError::from)
    }
}

impl From<MultipartRejection> for AppError {
    fn from(_: MultipartRejection) -> Self {
        AppError::bad_request(
            "invalid_multipart",
            "上传请求应为 multipart/form-data（带 boundary 参数），录像放在 file 字段",
        )
    }
}

/// A JSON reader stricter than serde_json's own: a repeated key is an error, and a struct is
/// read only from a JSON object.
mod strict {
    use super::{excerpt, join_path};
    use serde::de::{
        self, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Unexpected, Visitor,
    };
    use serde_json::{Map, Number};
    use std::fmt;

    /// Why a body is not a JSON value.
    pub enum ParseError {
        /// Not JSON at all (or trailing characters).
        Syntax,
        /// An object names a key twice (`field` is its path).
        Duplicate { field: String },
    }

    /// The marker a duplicate key error carries through serde_json's error type.
    const DUPLICATE: &str = "duplicate key: ";

    /// Parse `bytes` as one JSON value; a repeated key in any object is refused.
    pub fn parse(bytes: &[u8]) -> Result<serde_json::Value, ParseError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = ValueSeed {
            path: String::new(),
        }
        .deserialize(&mut de)
        .map_err(|e| {
            let text = e.to_string();
            match text.strip_prefix(DUPLICATE) {
                Some(rest) => ParseError::Duplicate {
                    field: rest
                        .rsplit_once(" at line ")
                        .map_or(rest, |(field, _)| field)
                        .to_string(),
                },
                None => ParseError::Syntax,
            }
        })?;
        de.end().map_err(|_| ParseError::Syntax)?;
        Ok(value)
    }

    /// Reads one JSON value at `path` (for the duplicate key message).
    struct ValueSeed {
        path: String,
    }

    impl<'de> DeserializeSeed<'de> for ValueSeed {
        type Value = serde_json::Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ValueSeed {
        type Value = serde_json::Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.into())
        }

        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(v.into())
        }

        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(v.into())
        }

        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            // JSON has one number type: 404.0 is the integer 404 (JSON Schema agrees), so a
            // whole number written with a fraction is read as an integer; integer fields
            // accept it and float fields take integers anyway.
            const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it f64 skips integers
            if v.fract() == 0.0 && v.abs() <= EXACT {
                return Ok(serde_json::Value::Number(Number::from(v as i64)));
            }
            Ok(Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.into())
        }

        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(v.into())
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.deserialize(d)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            loop {
                let seed = ValueSeed {
                    path: format!("{}[{}]", self.path, items.len()),
                };
                match seq.next_element_seed(seed)? {
                    Some(item) => items.push(item),
                    None => return Ok(serde_json::Value::Array(items)),
                }
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut object = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = join_path(&self.path, &excerpt(&key));
                if object.contains_key(&key) {
                    return Err(A::Error::custom(format!("{DUPLICATE}{path}")));
                }
                let value = map.next_value_seed(ValueSeed { path })?;
                object.insert(key, value);
            }
            Ok(serde_json::Value::Object(object))
        }
    }

    /// A parsed JSON value as a serde deserializer whose structs come only from objects.
    pub struct Value<'a>(pub &'a serde_json::Value);

    fn unexpected(value: &serde_json::Value) -> Unexpected<'_> {
        match value {
            serde_json::Value::Null => Unexpected::Unit,
            serde_json::Value::Bool(b) => Unexpected::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Unexpected::Unsigned(u)
                } else if let Some(i) = n.as_i64() {
                    Unexpected::Signed(i)
                } else {
                    Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Unexpected::Str(s),
            serde_json::Value::Array(_) => Unexpected::Seq,
            serde_json::Value::Object(_) => Unexpected::Map,
        }
    }

    type Error = serde_json::Error;

    impl<'de> Value<'de> {
        fn visit_array<V: Visitor<'de>>(
            items: &'de [serde_json::Value],
            visitor: V,
        ) -> Result<V::Value, Error> {
            let mut access = Seq(items.iter());
            let value = visitor.visit_seq(&mut access)?;
            match access.0.len() {
                0 => Ok(value),
                _ => Err(Error::invalid_length(
                    items.len(),
                    &"fewer elements in array",
                )),
            }
        }

        fn visit_object<V: Visitor<'de>>(
            object: &'de Map<String, serde_json::Value>,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_map(Entries {
                iter: object.iter(),
                value: None,
            })
        }
    }

    impl<'de> Deserializer<'de> for Value<'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                serde_json::Value::Null => visitor.visit_unit(),
                serde_json::Value::Bool(b) => visitor.visit_bool(*b),
                serde_json::Value::Number(n) => {
                    if let Some(u) = n.as_u64() {
                        visitor.visit_u64(u)
                    } else if let Some(i) = n.as_i64() {
                        visitor.visit_i64(i)
                    } else {
                        visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                    }
                }
                serde_json::Value::String(s) => visitor.visit_borrowed_str(s),
                serde_json::Value::Array(items) => Self::visit_array(items, visitor),
                serde_json::Value::Object(object) => Self::visit_object(object, visitor),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                serde_json::Value::Null => visitor.visit_none(),
                _ => visitor.visit_some(self),
            }
        }

        fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                serde_json::Value::Null => visitor.visit_unit(),
                other => Err(Error::invalid_type(unexpected(other), &visitor)),
            }
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_unit(visitor)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                serde_json::Value::Array(items) => Self::visit_array(items, visitor),
                other => Err(Error::invalid_type(unexpected(other), &visitor)),
            }
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            _len: usize,
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_seq(visitor)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _len: usize,
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_seq(visitor)
        }

        fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                serde_json::Value::Object(object) => Self::visit_object(object, visitor),
                other => Err(Error::invalid_type(unexpected(other), &visitor)),
            }
        }

        /// The point of this deserializer: a struct only from an object.
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_map(visitor)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            match self.0 {
                // unit variants, the only ones request bodies use
                serde_json::Value::String(s) => {
                    visitor.visit_enum(de::value::BorrowedStrDeserializer::<Error>::new(s))
                }
                other => Err(Error::invalid_type(unexpected(other), &visitor)),
            }
        }

        fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_unit()
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf identifier
        }
    }

    struct Seq<'de>(std::slice::Iter<'de, serde_json::Value>);

    impl<'de> SeqAccess<'de> for Seq<'de> {
        type Error = Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Error> {
            self.0
                .next()
                .map(|item| seed.deserialize(Value(item)))
                .transpose()
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.0.len())
        }
    }

    struct Entries<'de> {
        iter: serde_json::map::Iter<'de>,
        value: Option<&'de serde_json::Value>,
    }

    impl<'de> MapAccess<'de> for Entries<'de> {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            match self.iter.next() {
                Some((key, value)) => {
                    self.value = Some(value);
                    seed.deserialize(de::value::BorrowedStrDeserializer::<Error>::new(key))
                        .map(Some)
                }
                None => Ok(None),
            }
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
            match self.value.take() {
                Some(value) => seed.deserialize(Value(value)),
                None => Err(Error::custom("value requested before its key")),
            }
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.iter.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Lecturer {
        name: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        login: String,
        #[serde(default)]
        seats: i64,
        #[serde(default)]
        weekday: Option<u8>,
        #[serde(default)]
        lecturer: Option<Lecturer>,
        #[serde(default)]
        slots: Vec<Lecturer>,
        #[serde(default)]
        draft: bool,
    }

    /// JSON Schema (and so schemathesis) counts 2.0 as an integer; serde alone refused it for
    /// an integer field with 400.
    #[test]
    fn whole_numbers_with_a_fraction_are_integers() {
        let input: Input = decode_json(br#"{"login": "a", "seats": 2.0, "weekday": 3.0}"#)
            .expect("whole floats are integers");
        assert_eq!((input.seats, input.weekday), (2, Some(3)));
        assert!(decode_json::<Input>(br#"{"login": "a", "seats": 2.5}"#).is_err());
        #[derive(serde::Deserialize)]
        struct Position {
            position_s: f64,
        }
        let p: Position = decode_json(br#"{"position_s": 12.0}"#).expect("float field");
        assert_eq!(p.position_s, 12.0);
    }

    /// The field and message a body is refused with.
    fn refusal(body: &str) -> (String, String, &'static str) {
        match decode_json::<Input>(body.as_bytes()) {
            Ok(v) => panic!("accepted {body}: {v:?}"),
            Err(AppError::InvalidJson(errors)) => {
                let e = &errors.0[0];
                (e.field.clone(), e.message.clone(), "invalid_json_fields")
            }
            Err(other) => (String::new(), other.detail(), other.code()),
        }
    }

    #[test]
    fn serde_errors_are_chinese_with_the_field_and_the_type() {
        let cases = [
            (
                r#"{"login": "a", "seats": "two"}"#,
                "seats",
                "字段 seats 应为整数",
            ),
            (
                r#"{"login": "a", "seats": 1.5}"#,
                "seats",
                "字段 seats 应为整数",
            ),
            (r#"{"login": 5}"#, "login", "字段 login 应为字符串"),
            (
                r#"{"login": "a", "draft": "yes"}"#,
                "draft",
                "字段 draft 应为布尔值（true 或 false）",
            ),
            (
                r#"{"login": "a", "weekday": 300}"#,
                "weekday",
                "字段 weekday 的取值超出范围，应为 0 到 255 之间的整数",
            ),
            (
                r#"{"login": "a", "lecturer": []}"#,
                "lecturer",
                "字段 lecturer 应为 JSON 对象",
            ),
            (
                r#"{"login": "a", "lecturer": {"name": 1}}"#,
                "lecturer.name",
                "字段 lecturer.name 应为字符串",
            ),
            (
                r#"{"login": "a", "slots": [{"name": "x"}, {"name": false}]}"#,
                "slots[1].name",
                "字段 slots[1].name 应为字符串",
            ),
            (r#"{"seats": 1}"#, "login", "缺少字段 login"),
            (
                r#"{"login": "a", "lecturer": {}}"#,
                "lecturer.name",
                "缺少字段 lecturer.name",
            ),
            (r#"[]"#, "", "请求体应为 JSON 对象"),
            (r#""login""#, "", "请求体应为 JSON 对象"),
            (r#"null"#, "", "请求体应为 JSON 对象"),
            (r#"42"#, "", "请求体应为 JSON 对象"),
            (
                r#"{"login": "a", "login": "b"}"#,
                "login",
                "字段 login 重复出现",
            ),
            (
                r#"{"login": "a", "lecturer": {"name": "x", "name": "y"}}"#,
                "lecturer.name",
                "字段 lecturer.name 重复出现",
            ),
            // serde_json alone takes a struct from an array of its fields in order
            (r#"["a", 1]"#, "", "请求体应为 JSON 对象"),
            (
                r#"{"login": "a", "lecturer": ["x"]}"#,
                "lecturer",
                "字段 lecturer 应为 JSON 对象",
            ),
            (
                r#"{"login": "a", "slots": [["x"]]}"#,
                "slots[0]",
                "字段 slots[0] 应为 JSON 对象",
            ),
            (
                r#"{"login": "a", "slots": {"name": "x"}}"#,
                "slots",
                "字段 slots 应为数组",
            ),
        ];
        for (body, field, message) in cases {
            let (f, m, code) = refusal(body);
            assert_eq!(code, "invalid_json_fields", "{body}");
            assert_eq!((f.as_str(), m.as_str()), (field, message), "{body}");
        }
    }

    #[test]
    fn well_formed_bodies_are_read() {
        let v: Input = decode_json(
            br#"{"login": "a", "seats": 2, "weekday": null, "lecturer": {"name": "x"},
                 "slots": [{"name": "y"}], "draft": true}"#,
        )
        .expect("valid");
        assert_eq!(
            (v.login.as_str(), v.seats, v.weekday, v.draft),
            ("a", 2, None, true)
        );
        assert_eq!(v.slots.len(), 1);
        #[derive(Debug, serde::Deserialize)]
        struct Numbers {
            position_s: f64,
            answers: std::collections::BTreeMap<String, String>,
        }
        let n: Numbers =
            decode_json(br#"{"position_s": 3, "answers": {"q1": "a"}}"#).expect("valid");
        assert_eq!(n.position_s, 3.0);
        assert_eq!(n.answers["q1"], "a");
    }

    #[test]
    fn unknown_fields_are_named_with_the_allowed_ones() {
        let (f, m, _) = refusal(r#"{"login": "a", "foo": 1}"#);
        assert_eq!(f, "foo");
        assert!(
            m.starts_with("不允许的字段 foo，可用的字段：login、seats"),
            "{m}"
        );
        let (f, m, _) = refusal(r#"{"login": "a", "lecturer": {"nmae": "x"}}"#);
        assert_eq!(f, "lecturer.nmae");
        assert!(m.starts_with("不允许的字段 lecturer.nmae"), "{m}");
    }

    #[test]
    fn syntax_errors_stay_malformed_json() {
        for body in [
            "{not json",
            "",
            r#"{"login": "a"} trailing"#,
            r#"{"login": "a""#,
        ] {
            let (_, m, code) = refusal(body);
            assert_eq!(code, "malformed_json", "{body}");
            assert_eq!(m, "请求内容不是有效的 JSON");
        }
    }

    #[test]
    fn nothing_the_client_sent_is_echoed_at_length() {
        let key = "k".repeat(1_000_000);
        let (f, m, _) = refusal(&format!(r#"{{"login": "a", "{key}": 1}}"#));
        assert!(
            f.chars().count() <= 101 && m.chars().count() < 200,
            "{}",
            m.len()
        );
        let value = "v".repeat(1_000_000);
        let (_, m, _) = refusal(&format!(r#"{{"login": "a", "seats": "{value}"}}"#));
        assert_eq!(m, "字段 seats 应为整数");
    }
}
