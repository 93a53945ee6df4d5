//! Form decoding: `application/x-www-form-urlencoded` (a body, or a query string) and
//! `multipart/form-data`, into name/value pairs whose text must be UTF-8.

use std::convert::Infallible;

use actix_web::web::Bytes;
use serde_json::{json, Value};

use super::{Fields, RawBody};
use crate::error::{ApiError, FieldError};

impl RawBody {
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
    /// FastAPI's form fields do); a field given twice is a 422 naming it.
    pub async fn form(&self) -> Result<Fields, ApiError> {
        let pairs = match self.multipart_boundary() {
            Some(boundary) => multipart_pairs(self.bytes.clone(), boundary?).await?,
            None => urlencoded_pairs(&self.bytes, "body").map_err(ApiError::validation)?,
        };
        Fields::from_pairs(pairs)
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
pub(super) fn urlencoded_pairs(
    raw: &[u8],
    location: &str,
) -> Result<Vec<(String, String)>, FieldError> {
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

#[cfg(test)]
mod tests {
    use super::super::body::body;
    use super::super::Query;
    use super::*;

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
}
