//! Request input: bodies read with a size limit, and field-by-field validation that reports
//! every failing field at once in pydantic v1's 422 shape, as the course app does.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, FieldError};

/// Largest request body a service reads; larger ones get 413. Set per app with `app_data`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A request body read in full (up to [`BodyLimit`]), not yet parsed.
pub struct RawBody {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

impl RawBody {
    /// The media type, lower-cased, without parameters.
    fn essence(&self) -> Option<String> {
        self.content_type.as_deref().map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Whether the body is to be read as JSON: `application/json`, `+json`, or no content
    /// type at all (as FastAPI does).
    pub fn is_json(&self) -> bool {
        match self.essence() {
            None => true,
            Some(e) => e == "application/json" || e.ends_with("+json"),
        }
    }

    /// Name/value pairs of a form body: `multipart/form-data` (text parts), otherwise
    /// `application/x-www-form-urlencoded`. An unreadable form reads as empty.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        let boundary = self.content_type.as_deref().and_then(|ct| {
            let mut params = ct.split(';');
            let essence = params.next()?.trim();
            if !essence.eq_ignore_ascii_case("multipart/form-data") {
                return None;
            }
            params
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
                .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        });
        match boundary {
            Some(boundary) => multipart_pairs(&self.bytes, &boundary),
            None => serde_urlencoded::from_bytes(&self.bytes).unwrap_or_default(),
        }
    }

    /// Parses the body as a JSON object for field validation.
    pub fn json_object(&self) -> Result<Fields, ApiError> {
        if self.bytes.is_empty() {
            return Err(ApiError::validation(FieldError::missing(vec![json!(
                "body"
            )])));
        }
        if !self.is_json() {
            return Err(not_a_dict());
        }
        match serde_json::from_slice::<Value>(&self.bytes) {
            Ok(Value::Object(map)) => Ok(Fields::new(map)),
            Ok(_) => Err(not_a_dict()),
            Err(e) => Err(ApiError::validation(json_decode_error(&self.bytes, &e))),
        }
    }
}

/// Text fields of a `multipart/form-data` body (file parts are read as text too).
fn multipart_pairs(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str())
        .skip(1)
        .take_while(|part| !part.starts_with("--"))
        .filter_map(|part| {
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            let (head, value) = part.split_once("\r\n\r\n")?;
            let name = head.lines().find_map(|line| {
                let (key, rest) = line.split_once(':')?;
                if !key.trim().eq_ignore_ascii_case("content-disposition") {
                    return None;
                }
                rest.split(';')
                    .filter_map(|p| p.trim().split_once('='))
                    .find(|(k, _)| *k == "name")
                    .map(|(_, v)| v.trim_matches('"').to_owned())
            })?;
            Some((name, value.strip_suffix("\r\n").unwrap_or(value).to_owned()))
        })
        .collect()
}

fn not_a_dict() -> ApiError {
    ApiError::validation(FieldError::new(
        vec![json!("body")],
        "value is not a valid dict",
        "type_error.dict",
    ))
}

fn json_decode_error(bytes: &[u8], e: &serde_json::Error) -> FieldError {
    // serde reports line and column; the course reports the character position too.
    let (line, column) = (e.line(), e.column());
    let text = String::from_utf8_lossy(bytes);
    let pos: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count())
        .sum::<usize>()
        + column.saturating_sub(1);
    FieldError::new(
        vec![json!("body"), json!(pos)],
        format!("Invalid JSON: line {line} column {column} (char {pos})"),
        "value_error.jsondecode",
    )
}

/// A request body, not yet read: handlers read it with [`Body::read`] after their other
/// extractors (the bearer token above all) have passed, so a request without a valid token
/// gets 401 whatever its body, even one too large.
pub struct Body {
    payload: Payload,
    limit: usize,
    declared: Option<usize>,
    content_type: Option<String>,
}

impl FromRequest for Body {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Body, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Body {
            payload: payload.take(),
            limit: req
                .app_data::<BodyLimit>()
                .map_or(DEFAULT_BODY_LIMIT, |l| l.0),
            declared: req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok()),
            content_type: req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }))
    }
}

impl Body {
    /// Reads the whole body; more than the [`BodyLimit`] is 413.
    pub async fn read(mut self) -> Result<RawBody, ApiError> {
        if self.declared.is_some_and(|n| n > self.limit) {
            return Err(ApiError::PayloadTooLarge);
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = self.payload.next().await {
            let chunk = chunk.map_err(|e| match e {
                actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge,
                other => ApiError::validation(FieldError::new(
                    vec![json!("body")],
                    format!("could not read the request body: {other}"),
                    "value_error",
                )),
            })?;
            if body.len() + chunk.len() > self.limit {
                return Err(ApiError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawBody {
            bytes: body.freeze(),
            content_type: self.content_type,
        })
    }
}

/// The fields of a JSON object or form, read one by one. Each accessor records a
/// [`FieldError`] instead of failing, so [`Fields::finish`] reports all of them together.
pub struct Fields {
    map: Map<String, Value>,
    location: &'static str,
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new(map: Map<String, Value>) -> Fields {
        Fields {
            map,
            location: "body",
            errors: Vec::new(),
        }
    }

    /// Fields from a form: every value is a string; an empty value counts as absent (as
    /// FastAPI's form fields do).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Fields {
        let mut map = Map::new();
        for (k, v) in pairs {
            if !v.is_empty() {
                map.entry(k).or_insert(Value::String(v));
            }
        }
        Fields::new(map)
    }

    fn loc(&self, field: &str) -> Vec<Value> {
        vec![json!(self.location), json!(field)]
    }

    /// Records an error for `field`.
    pub fn reject(&mut self, field: &str, msg: impl Into<String>, kind: &str, ctx: Option<Value>) {
        let mut e = FieldError::new(self.loc(field), msg, kind);
        e.ctx = ctx;
        self.errors.push(e);
    }

    fn take(&mut self, field: &str, required: bool) -> Option<Value> {
        match self.map.remove(field) {
            None if required => {
                self.errors.push(FieldError::missing(self.loc(field)));
                None
            }
            None => None,
            Some(Value::Null) => {
                self.reject(
                    field,
                    "none is not an allowed value",
                    "type_error.none.not_allowed",
                    None,
                );
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A required string; numbers are accepted and turned into text, as pydantic v1 does.
    /// NUL characters are refused (PostgreSQL cannot store them in text).
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.take(field, true)? {
            Value::String(s) if s.contains('\0') => {
                self.reject(field, NUL_MESSAGE, NUL_TYPE, None);
                None
            }
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => {
                self.reject(field, "str type expected", "type_error.str", None);
                None
            }
        }
    }

    /// An optional string; absent gives `None` without an error.
    pub fn optional_string(&mut self, field: &str) -> Option<String> {
        if !self.map.contains_key(field) {
            return None;
        }
        self.string(field)
    }

    /// A required integer: integral numbers, booleans, and strings holding an integer.
    pub fn integer(&mut self, field: &str) -> Option<i64> {
        let value = self.take(field, true)?;
        let parsed = match &value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.reject(
                field,
                "value is not a valid integer",
                "type_error.integer",
                None,
            );
        }
        parsed
    }

    /// An optional boolean with a default, accepting pydantic v1's spellings.
    pub fn boolean_or(&mut self, field: &str, default: bool) -> Option<bool> {
        if !self.map.contains_key(field) {
            return Some(default);
        }
        let value = self.take(field, false)?;
        let parsed = match &value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
                "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.reject(
                field,
                "value could not be parsed to a boolean",
                "type_error.bool",
                None,
            );
        }
        parsed
    }

    /// Checks a string's length in characters; records the pydantic v1 error when outside.
    pub fn check_length(&mut self, field: &str, value: &str, min: usize, max: usize) -> bool {
        let n = value.chars().count();
        if n < min {
            self.reject(
                field,
                format!("ensure this value has at least {min} characters"),
                "value_error.any_str.min_length",
                Some(json!({ "limit_value": min })),
            );
            false
        } else if n > max {
            self.reject(
                field,
                format!("ensure this value has at most {max} characters"),
                "value_error.any_str.max_length",
                Some(json!({ "limit_value": max })),
            );
            false
        } else {
            true
        }
    }

    /// Checks an integer range; records pydantic v1's `not_ge` / `not_le` errors.
    pub fn check_range(&mut self, field: &str, value: i64, min: i64, max: i64) -> bool {
        if let Some(e) = range_error(self.loc(field), value, min, max) {
            self.errors.push(e);
            false
        } else {
            true
        }
    }

    /// Ends validation: all recorded errors become one 422.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

fn range_error(loc: Vec<Value>, value: i64, min: i64, max: i64) -> Option<FieldError> {
    if value < min {
        Some(
            FieldError::new(
                loc,
                format!("ensure this value is greater than or equal to {min}"),
                "value_error.number.not_ge",
            )
            .with_ctx(json!({ "limit_value": min })),
        )
    } else if value > max {
        Some(
            FieldError::new(
                loc,
                format!("ensure this value is less than or equal to {max}"),
                "value_error.number.not_le",
            )
            .with_ctx(json!({ "limit_value": max })),
        )
    } else {
        None
    }
}

const NUL_MESSAGE: &str = "string contains a NUL character";
const NUL_TYPE: &str = "value_error.str.nul";

/// A path segment that must be an integer id (`loc: ["path", name]` on failure).
pub fn path_id(raw: &str, name: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::validation(FieldError::new(
            vec![json!("path"), json!(name)],
            "value is not a valid integer",
            "type_error.integer",
        ))
    })
}

/// Query-string parameters, validated like the course's `limit: int = 10`.
pub struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    pub fn parse(query_string: &str) -> Query {
        Query {
            pairs: serde_urlencoded::from_str(query_string).unwrap_or_default(),
            errors: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub fn integer(&mut self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        let loc = vec![json!("query"), json!(name)];
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.trim().parse::<i64>() {
            Ok(v) => match range_error(loc, v, min, max) {
                None => v,
                Some(e) => {
                    self.errors.push(e);
                    default
                }
            },
            Err(_) => {
                self.errors.push(FieldError::new(
                    loc,
                    "value is not a valid integer",
                    "type_error.integer",
                ));
                default
            }
        }
    }

    /// A string parameter, `""` when absent; NUL characters are refused.
    pub fn string(&mut self, name: &str) -> String {
        let value = self.get(name).unwrap_or_default().to_owned();
        if value.contains('\0') {
            self.errors.push(FieldError::new(
                vec![json!("query"), json!(name)],
                NUL_MESSAGE,
                NUL_TYPE,
            ));
            return String::new();
        }
        value
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

impl Fields {
    /// The value of `field` as sent, without taking it: for a caller that checks its JSON
    /// type more strictly than the accessors above before reading it.
    pub fn peek(&self, field: &str) -> Option<&Value> {
        self.map.get(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(content_type: Option<&str>, bytes: &'static [u8]) -> RawBody {
        RawBody {
            bytes: Bytes::from_static(bytes),
            content_type: content_type.map(str::to_owned),
        }
    }

    #[test]
    fn multipart_forms_read_like_urlencoded_ones() {
        let b = body(
            Some("multipart/form-data; boundary=XyZ"),
            b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na@example.com\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\npass word\r\n--XyZ--\r\n",
        );
        assert_eq!(
            b.form_pairs(),
            vec![
                ("username".to_owned(), "a@example.com".to_owned()),
                ("password".to_owned(), "pass word".to_owned())
            ]
        );
        let u = body(
            Some("application/x-www-form-urlencoded"),
            b"username=a%40example.com&password=x+y",
        );
        assert_eq!(u.form_pairs()[1], ("password".to_owned(), "x y".to_owned()));
    }

    #[test]
    fn a_body_without_content_type_is_read_as_json() {
        assert!(body(None, b"{}").json_object().is_ok());
        assert!(body(Some("text/plain"), b"{}").json_object().is_err());
    }

    #[test]
    fn nul_characters_are_refused() {
        let mut f = Fields::new(serde_json::from_str(r#"{"t": "a\u0000b"}"#).unwrap());
        assert!(f.string("t").is_none());
        assert!(f.finish().is_err());
        let mut q = Query::parse("search=a%00b");
        assert_eq!(q.string("search"), "");
        assert!(q.finish().is_err());
    }

    #[test]
    fn empty_form_values_count_as_absent() {
        let mut f = Fields::from_pairs(vec![("username".into(), String::new())]);
        assert!(f.string("username").is_none());
        let Err(ApiError::Validation(errors)) = f.finish() else {
            panic!("expected a 422")
        };
        assert_eq!(errors[0].kind, "value_error.missing");
    }
}
