//! Request input: bodies read with a size limit, and field-by-field validation that reports
//! every failing field at once in pydantic v1's 422 shape, as the course app does.

use std::convert::Infallible;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

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

    /// The `boundary` of a `multipart/form-data` body; `None` for any other media type.
    fn multipart_boundary(&self) -> Option<Result<String, ApiError>> {
        let ct = self.content_type.as_deref()?;
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("multipart/form-data") {
            return None;
        }
        Some(multer::parse_boundary(ct).map_err(|e| malformed_form(&e)))
    }

    /// The fields of a form body: `multipart/form-data` (each part read as text), otherwise
    /// `application/x-www-form-urlencoded`. Names and values must be UTF-8: anything else is
    /// a 422, never replaced by look-alike characters. An empty value counts as absent (as
    /// FastAPI's form fields do).
    pub async fn form(&self) -> Result<Fields, ApiError> {
        let pairs = match self.multipart_boundary() {
            Some(boundary) => multipart_pairs(self.bytes.clone(), boundary?).await?,
            None => urlencoded_pairs(&self.bytes, "body").map_err(ApiError::validation)?,
        };
        Ok(Fields::from_pairs(pairs))
    }

    /// A JSON object when the content type says JSON, a form otherwise (no content type
    /// included): the rule of the OAuth 2 endpoints, which take forms but accept JSON.
    pub async fn json_or_form(&self) -> Result<Fields, ApiError> {
        if self.content_type.is_some() && self.is_json() {
            self.json_object()
        } else {
            self.form().await
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

/// The parts of a `multipart/form-data` body as name/value pairs (file parts too, as text).
async fn multipart_pairs(body: Bytes, boundary: String) -> Result<Vec<(String, String)>, ApiError> {
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(body)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    while let Some(part) = multipart
        .next_field()
        .await
        .map_err(|e| malformed_form(&e))?
    {
        let name = part.name().map(str::to_owned);
        let value = part.bytes().await.map_err(|e| malformed_form(&e))?;
        // A part without a name is no field of the form.
        let Some(name) = name else { continue };
        let value = utf8(value.to_vec(), || vec![json!("body"), json!(name)])
            .map_err(ApiError::validation)?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn malformed_form(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::validation(FieldError::new(
        vec![json!("body")],
        format!("invalid multipart form: {e}"),
        "value_error.form",
    ))
}

/// Name/value pairs of `application/x-www-form-urlencoded` text (a body, or a query string);
/// `location` is `body` or `query`, for the 422 of a name or value that is not UTF-8.
fn urlencoded_pairs(raw: &[u8], location: &str) -> Result<Vec<(String, String)>, FieldError> {
    raw.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let name = utf8(form_decode(name), || vec![json!(location)])?;
            let value = utf8(form_decode(value), || vec![json!(location), json!(name)])?;
            Ok((name, value))
        })
        .collect()
}

/// Percent-decodes form text, `+` standing for a space.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced).collect()
}

/// The bytes as text, or the 422 Python's UTF-8 decoder would give for them (pydantic v1
/// reports a failed decode as `value_error.unicodedecode`).
fn utf8(bytes: Vec<u8>, loc: impl FnOnce() -> Vec<Value>) -> Result<String, FieldError> {
    String::from_utf8(bytes).map_err(|e| {
        let pos = e.utf8_error().valid_up_to();
        let byte = e.as_bytes()[pos];
        let reason = match e.utf8_error().error_len() {
            None => "unexpected end of data",
            Some(_) if matches!(byte, 0x80..=0xC1 | 0xF5..=0xFF) => "invalid start byte",
            Some(_) => "invalid continuation byte",
        };
        FieldError::new(
            loc(),
            format!("'utf-8' codec can't decode byte 0x{byte:02x} in position {pos}: {reason}"),
            "value_error.unicodedecode",
        )
    })
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

    /// Reads a JSON body into the input type `T` (every failing field reported at once).
    pub async fn json<T: FromFields>(self) -> Result<T, ApiError> {
        self.read().await?.json_object()?.into_input()
    }

    /// Reads a form (or, when the content type says so, JSON) body into the input type `T`.
    pub async fn json_or_form<T: FromFields>(self) -> Result<T, ApiError> {
        self.read().await?.json_or_form().await?.into_input()
    }
}

/// A request input type (a body's fields, each its own validated type), built in one place
/// from the fields of a JSON object or form: it reads every field, so that all failures are
/// reported together, and returns `None` when any failed (each failure is recorded in
/// `fields`).
pub trait FromFields: Sized {
    fn from_fields(fields: &mut Fields) -> Option<Self>;
}

/// A [`Fields::parse`] rule: the text must not be empty (a form's empty value already reads
/// as absent; this refuses `""` in JSON the same way the OpenAPI `minLength: 1` says).
pub fn non_empty(text: String) -> Result<String, Invalid> {
    if text.is_empty() {
        Err(Invalid::too_short(1))
    } else {
        Ok(text)
    }
}

/// Why a field's value is refused: pydantic v1's `msg`, `type` and optional `ctx`; the
/// location is added by [`Fields`].
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub msg: String,
    pub kind: &'static str,
    pub ctx: Option<Value>,
}

impl Invalid {
    pub fn new(msg: impl Into<String>, kind: &'static str) -> Invalid {
        Invalid {
            msg: msg.into(),
            kind,
            ctx: None,
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Invalid {
        self.ctx = Some(ctx);
        self
    }

    /// `ensure this value has at least {min} characters`.
    pub fn too_short(min: usize) -> Invalid {
        Invalid::new(
            format!("ensure this value has at least {min} characters"),
            "value_error.any_str.min_length",
        )
        .with_ctx(json!({ "limit_value": min }))
    }

    /// `ensure this value has at most {max} characters`.
    pub fn too_long(max: usize) -> Invalid {
        Invalid::new(
            format!("ensure this value has at most {max} characters"),
            "value_error.any_str.max_length",
        )
        .with_ctx(json!({ "limit_value": max }))
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

    /// A required string, strictly: a number, boolean, list or object is refused with
    /// pydantic's `str type expected` (a number is not a string). NUL characters are refused.
    pub fn strict_string(&mut self, field: &str) -> Option<String> {
        match self.take(field, true)? {
            Value::String(s) if s.contains('\0') => {
                self.reject(field, NUL_MESSAGE, NUL_TYPE, None);
                None
            }
            Value::String(s) => Some(s),
            _ => {
                self.reject(field, "str type expected", "type_error.str", None);
                None
            }
        }
    }

    /// An optional [`strict_string`](Fields::strict_string): absent is `Some(None)`; `None`
    /// when the value is refused (`null` included: the field may be left out, not nulled).
    pub fn optional_strict_string(&mut self, field: &str) -> Option<Option<String>> {
        if !self.map.contains_key(field) {
            return Some(None);
        }
        self.strict_string(field).map(Some)
    }

    /// A required strict string turned into the field's own type by `parse`, whose refusal
    /// is recorded at this field.
    pub fn parse<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(String) -> Result<T, Invalid>,
    ) -> Option<T> {
        let raw = self.strict_string(field)?;
        match parse(raw) {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.reject(field, invalid.msg, invalid.kind, invalid.ctx);
                None
            }
        }
    }

    /// A required integer, strictly: a JSON number with no fractional part (`1.0` is one, as
    /// JSON Schema counts integers) within 64 bits; a boolean or a string is refused (`true`
    /// is not 1).
    pub fn strict_integer(&mut self, field: &str) -> Option<i64> {
        let parsed = match self.take(field, true)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral)),
            _ => None,
        };
        self.or_reject(
            parsed,
            field,
            "value is not a valid integer",
            "type_error.integer",
        )
    }

    /// An optional boolean with a default, strictly: only `true` and `false` (`"yes"` and `1`
    /// are refused); `null` is refused too (the field may be left out, not nulled).
    pub fn strict_boolean_or(&mut self, field: &str, default: bool) -> Option<bool> {
        if !self.map.contains_key(field) {
            return Some(default);
        }
        let parsed = self.take(field, false)?.as_bool();
        self.or_reject(
            parsed,
            field,
            "value could not be parsed to a boolean",
            "type_error.bool",
        )
    }

    /// `parsed`, or a refusal of `field` with this message and type when it is `None`.
    fn or_reject<T>(&mut self, parsed: Option<T>, field: &str, msg: &str, kind: &str) -> Option<T> {
        if parsed.is_none() {
            self.reject(field, msg, kind, None);
        }
        parsed
    }

    /// Builds the input type `T` from these fields: the value, or one 422 listing every
    /// failing field.
    pub fn into_input<T: FromFields>(mut self) -> Result<T, ApiError> {
        let value = T::from_fields(&mut self);
        self.finish_with(value)
    }

    /// Ends validation with the value built: the value when no field failed, otherwise all
    /// recorded errors as one 422.
    pub fn finish_with<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => {
                debug_assert!(!self.errors.is_empty(), "a field failed without an error");
                Err(ApiError::Validation(self.errors))
            }
        }
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

/// A path segment that must be an integer id (`loc: ["path", name]` on failure). Prefer
/// [`PathId`], which also refuses ids below 1.
pub fn path_id(raw: &str, name: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| not_an_integer(name))
}

fn not_an_integer(name: &str) -> ApiError {
    ApiError::validation(FieldError::new(
        vec![json!("path"), json!(name)],
        "value is not a valid integer",
        "type_error.integer",
    ))
}

/// The `{id}` of a resource path: an integer from 1 to 2^63 - 1, else a 422 at
/// `["path", "id"]` in the course's shape. As an extractor it runs in argument order: put it
/// after the caller's token, so that a request without a valid token gets 401 first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct PathId(
    /// The resource's id.
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    i64,
);

impl PathId {
    /// Reads the segment `name` of a path.
    pub fn parse(raw: &str, name: &str) -> Result<PathId, ApiError> {
        let id = path_id(raw, name)?;
        match range_error(vec![json!("path"), json!(name)], id, 1, i64::MAX) {
            None => Ok(PathId(id)),
            Some(e) => Err(ApiError::validation(e)),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl FromRequest for PathId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<PathId, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(PathId::parse(
            req.match_info().get("id").unwrap_or_default(),
            "id",
        ))
    }
}

/// Query-string parameters, validated like the course's `limit: int = 10`. Names and values
/// must be UTF-8 once percent-decoded; otherwise [`Query::finish`] answers 422.
pub struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    pub fn parse(query_string: &str) -> Query {
        match urlencoded_pairs(query_string.as_bytes(), "query") {
            Ok(pairs) => Query {
                pairs,
                errors: Vec::new(),
            },
            Err(e) => Query {
                pairs: Vec::new(),
                errors: vec![e],
            },
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

    /// An optional integer parameter within `min..=max`: `None` when absent (or refused, the
    /// error then recorded for [`Query::finish`]).
    pub fn optional_integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        self.get(name)?;
        let errors = self.errors.len();
        let value = self.integer(name, 0, min, max);
        (self.errors.len() == errors).then_some(value)
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

/// OpenAPI description of a 422 body: `{"detail": [{"loc", "msg", "type", "ctx"?}]}`
/// (pydantic v1's shape). Only documents responses (`body = ValidationErrors`).
pub struct ValidationErrors;

impl utoipa::PartialSchema for ValidationErrors {
    fn schema() -> RefOr<Schema> {
        let entry = ObjectBuilder::new()
            .property(
                "loc",
                ArrayBuilder::new().items(
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Integer])),
                ),
            )
            .property("msg", ObjectBuilder::new().schema_type(Type::String))
            .property("type", ObjectBuilder::new().schema_type(Type::String))
            .property("ctx", ObjectBuilder::new().schema_type(Type::Object))
            .required("loc")
            .required("msg")
            .required("type");
        ObjectBuilder::new()
            .property("detail", ArrayBuilder::new().items(entry))
            .required("detail")
            .description(Some("Invalid input: one entry per failing field"))
            .into()
    }
}

impl utoipa::ToSchema for ValidationErrors {}

/// OpenAPI description of an error body `{"detail": "text"}`. Only documents responses
/// (`body = Detail`).
pub struct Detail;

impl utoipa::PartialSchema for Detail {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("detail", ObjectBuilder::new().schema_type(Type::String))
            .required("detail")
            .into()
    }
}

impl utoipa::ToSchema for Detail {}

/// The 64-bit integer a float with no fractional part stands for.
fn integral(f: f64) -> Option<i64> {
    // i64::MIN is -2^63, exactly representable; 2^63 itself is one beyond i64::MAX.
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-TWO_TO_63..TWO_TO_63).contains(&f)).then_some(f as i64)
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

    fn text(f: &Fields, name: &str) -> Option<String> {
        f.map.get(name).and_then(Value::as_str).map(str::to_owned)
    }

    fn only_error(result: Result<Fields, ApiError>) -> FieldError {
        match result {
            Err(ApiError::Validation(mut errors)) if errors.len() == 1 => errors.remove(0),
            Err(other) => panic!("expected one field error, got {other:?}"),
            Ok(f) => panic!("expected a 422, got fields {:?}", f.map),
        }
    }

    #[actix_web::test]
    async fn multipart_forms_read_like_urlencoded_ones() {
        let b = body(
            Some("multipart/form-data; boundary=XyZ"),
            b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na@example.com\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\npass word\r\n--XyZ--\r\n",
        );
        let f = b.form().await.unwrap();
        assert_eq!(text(&f, "username").as_deref(), Some("a@example.com"));
        assert_eq!(text(&f, "password").as_deref(), Some("pass word"));
        let u = body(
            Some("application/x-www-form-urlencoded"),
            b"username=a%40example.com&password=x+y%2B",
        );
        let f = u.form().await.unwrap();
        assert_eq!(text(&f, "username").as_deref(), Some("a@example.com"));
        assert_eq!(text(&f, "password").as_deref(), Some("x y+"));
    }

    #[actix_web::test]
    async fn form_text_that_is_not_utf8_is_refused_not_replaced() {
        let b = body(
            Some("multipart/form-data; boundary=XyZ"),
            b"--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nab\xffcd\r\n--XyZ--\r\n",
        );
        let e = only_error(b.form().await);
        assert_eq!(e.loc, vec![json!("body"), json!("password")]);
        assert_eq!(e.kind, "value_error.unicodedecode");
        assert_eq!(
            e.msg,
            "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"
        );
        let u = body(None, b"username=a%C3&password=x");
        let e = only_error(u.form().await);
        assert_eq!(e.loc, vec![json!("body"), json!("username")]);
        assert_eq!(
            e.msg,
            "'utf-8' codec can't decode byte 0xc3 in position 1: unexpected end of data"
        );
        let mut q = Query::parse("since=%FE");
        assert_eq!(q.optional_integer("since", 0, 10), None);
        let Err(ApiError::Validation(errors)) = q.finish() else {
            panic!("expected a 422")
        };
        assert_eq!(errors[0].loc, vec![json!("query"), json!("since")]);
    }

    #[actix_web::test]
    async fn a_malformed_multipart_body_is_a_422() {
        for (ct, bytes) in [
            ("multipart/form-data", &b"--x\r\n"[..]),
            (
                "multipart/form-data; boundary=XyZ",
                &b"--XyZ\r\nno headers end"[..],
            ),
        ] {
            let b = RawBody {
                bytes: Bytes::from_static(bytes),
                content_type: Some(ct.to_owned()),
            };
            assert_eq!(only_error(b.form().await).kind, "value_error.form", "{ct}");
        }
    }

    #[test]
    fn a_float_is_an_integer_when_integral_and_within_64_bits() {
        assert_eq!(integral(-258_257.0), Some(-258_257));
        assert_eq!(integral(0.0), Some(0));
        assert_eq!(integral(-0.0), Some(0));
        assert_eq!(integral(i64::MIN as f64), Some(i64::MIN));
        // The largest float below 2^63.
        assert_eq!(
            integral(9_223_372_036_854_774_784.0),
            Some(9_223_372_036_854_774_784)
        );
        for refused in [
            0.5,
            -1.25,
            9_223_372_036_854_775_808.0,
            -1e19,
            f64::INFINITY,
            f64::NAN,
        ] {
            assert_eq!(integral(refused), None, "{refused}");
        }
    }

    #[test]
    fn strict_fields_refuse_other_types() {
        let mut f = Fields::new(
            serde_json::from_str(
                r#"{"s": 5, "i": true, "j": "7", "o": null, "k": 7, "f": 7.0, "h": 7.5,
                    "b": 1, "n": null, "t": false}"#,
            )
            .unwrap(),
        );
        assert_eq!(f.strict_string("s"), None);
        assert_eq!(f.strict_integer("i"), None);
        assert_eq!(f.strict_integer("j"), None);
        assert_eq!(f.optional_strict_string("o"), None);
        assert_eq!(f.optional_strict_string("absent"), Some(None));
        assert_eq!(f.strict_integer("k"), Some(7));
        assert_eq!(
            f.strict_integer("f"),
            Some(7),
            "7.0 is an integer to JSON Schema"
        );
        assert_eq!(f.strict_integer("h"), None);
        assert_eq!(f.strict_boolean_or("b", true), None);
        assert_eq!(f.strict_boolean_or("n", true), None);
        assert_eq!(f.strict_boolean_or("t", true), Some(false));
        assert_eq!(f.strict_boolean_or("absent", true), Some(true));
        let Err(ApiError::Validation(errors)) = f.finish() else {
            panic!("expected a 422")
        };
        let kinds: Vec<&str> = errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "type_error.str",
                "type_error.integer",
                "type_error.integer",
                "type_error.none.not_allowed",
                "type_error.integer",
                "type_error.bool",
                "type_error.none.not_allowed"
            ]
        );
        assert_eq!(errors[0].msg, "str type expected");
    }

    #[test]
    fn path_ids_are_positive_integers() {
        assert_eq!(PathId::parse("42", "id").unwrap().get(), 42);
        for (raw, kind) in [
            ("0", "value_error.number.not_ge"),
            ("-3", "value_error.number.not_ge"),
            ("x", "type_error.integer"),
            ("9223372036854775808", "type_error.integer"),
        ] {
            let Err(ApiError::Validation(errors)) = PathId::parse(raw, "id") else {
                panic!("{raw} should be refused")
            };
            assert_eq!(errors[0].kind, kind, "{raw}");
            assert_eq!(errors[0].loc, vec![json!("path"), json!("id")]);
        }
    }

    #[test]
    fn a_body_without_content_type_is_read_as_json() {
        assert!(body(None, b"{}").json_object().is_ok());
        assert!(body(Some("text/plain"), b"{}").json_object().is_err());
    }

    #[test]
    fn nul_characters_are_refused() {
        let mut f = Fields::new(serde_json::from_str(r#"{"t": "a\u0000b"}"#).unwrap());
        assert!(f.strict_string("t").is_none());
        assert!(f.finish().is_err());
        let mut q = Query::parse("search=a%00b");
        assert_eq!(q.string("search"), "");
        assert!(q.finish().is_err());
    }

    #[test]
    fn empty_form_values_count_as_absent() {
        let mut f = Fields::from_pairs(vec![("username".into(), String::new())]);
        assert!(f.strict_string("username").is_none());
        let Err(ApiError::Validation(errors)) = f.finish() else {
            panic!("expected a 422")
        };
        assert_eq!(errors[0].kind, "value_error.missing");
    }
}
