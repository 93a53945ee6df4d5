//! Reading a request body: whole, up to the service's [`BodyLimit`], after the handler's
//! other extractors; then as a JSON object, or (see [`super::form`]) as a form.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{Fields, FromFields};
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
        // An object, its keys checked for repeats as it is read (serde_json alone keeps the
        // last of them); anything else is read again as a value, for its exact refusal.
        if let Ok(UniqueKeys { map, duplicates }) = serde_json::from_slice(&self.bytes) {
            return Ok(Fields::with_duplicates(map, duplicates));
        }
        match serde_json::from_slice::<Value>(&self.bytes) {
            Ok(Value::Object(map)) => Ok(Fields::new(map)),
            Ok(_) => Err(not_a_dict()),
            Err(e) => Err(ApiError::validation(json_decode_error(&self.bytes, &e))),
        }
    }
}

/// A JSON object's members, and the names given more than once (each once, in order).
struct UniqueKeys {
    map: serde_json::Map<String, Value>,
    duplicates: Vec<String>,
}

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut map = serde_json::Map::new();
                let mut duplicates = Vec::new();
                while let Some(name) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if map.contains_key(&name) {
                        if !duplicates.contains(&name) {
                            duplicates.push(name);
                        }
                    } else {
                        map.insert(name, value);
                    }
                }
                Ok(UniqueKeys { map, duplicates })
            }
        }
        deserializer.deserialize_map(Members)
    }
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

#[cfg(test)]
pub(super) fn body(content_type: Option<&str>, bytes: &'static [u8]) -> RawBody {
    RawBody {
        bytes: Bytes::from_static(bytes),
        content_type: content_type.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(result: Result<Fields, ApiError>) -> Vec<FieldError> {
        match result {
            Err(ApiError::Validation(errors)) => errors,
            Err(other) => panic!("expected a 422, got {other:?}"),
            Ok(f) => panic!("expected a 422, got fields {:?}", f.map),
        }
    }

    /// The 422 of reading `names` (strings) from the fields.
    fn read_errors(fields: Result<Fields, ApiError>, names: &[&str]) -> Vec<FieldError> {
        let mut fields = fields.unwrap_or_else(|e| panic!("fields expected, got {e:?}"));
        for name in names {
            let _ = fields.optional_strict_string(name);
        }
        match fields.finish() {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[actix_web::test]
    async fn a_field_given_twice_is_refused_naming_it_in_json_and_forms() {
        let json_body = body(
            Some("application/json"),
            br#"{"title": "a", "content": "b", "title": "c", "title": "d", "content": "e"}"#,
        );
        // A repeated name the type never reads is ignored, as unknown fields are.
        let refused = read_errors(json_body.json_object(), &["title", "content", "extra"]);
        let locs: Vec<_> = refused.iter().map(|e| e.loc.clone()).collect();
        assert_eq!(
            locs,
            vec![
                vec![json!("body"), json!("title")],
                vec![json!("body"), json!("content")]
            ]
        );
        assert!(refused
            .iter()
            .all(|e| e.kind == "value_error.duplicate" && e.msg == "field given more than once"));
        for form in [
            &b"username=a&password=x&username=b"[..],
            b"username=&username=b&password=x",
        ] {
            let form_body = RawBody {
                bytes: Bytes::copy_from_slice(form),
                content_type: Some("application/x-www-form-urlencoded".into()),
            };
            let refused = read_errors(form_body.form().await, &["username", "password"]);
            assert_eq!(refused.len(), 1);
            assert_eq!(refused[0].loc, vec![json!("body"), json!("username")]);
        }
        // A repeated field no one reads changes nothing.
        let mut extra = body(None, br#"{"title": "a", "x": 1, "x": 2}"#)
            .json_object()
            .unwrap();
        assert_eq!(extra.strict_string("title").as_deref(), Some("a"));
        assert!(extra.finish().is_ok());
        // Nested objects are values, not fields: their keys are not the body's.
        let nested = body(None, br#"{"a": {"x": 1}, "b": {"x": 2}}"#);
        assert_eq!(nested.json_object().unwrap().map.len(), 2);
        // The refusals of what is no object are unchanged.
        assert_eq!(
            errors(body(None, b"[1, 2]").json_object())[0].kind,
            "type_error.dict"
        );
        assert_eq!(
            errors(body(None, b"{\"a\": ").json_object())[0].kind,
            "value_error.jsondecode"
        );
    }

    #[test]
    fn a_body_without_content_type_is_read_as_json() {
        assert!(body(None, b"{}").json_object().is_ok());
        assert!(body(Some("text/plain"), b"{}").json_object().is_err());
    }
}
