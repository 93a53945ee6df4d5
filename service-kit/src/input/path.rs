//! Path segments that are ids: an integer, else a 422 at `["path", name]`.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde_json::json;

use super::invalid::{check_range, Invalid};
use crate::error::ApiError;

/// A path segment that must be an integer id (`loc: ["path", name]` on failure). Prefer
/// [`PathId`], which also refuses ids below 1.
pub fn path_id(raw: &str, name: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| refused(name, Invalid::not_an_integer()))
}

fn refused(name: &str, invalid: Invalid) -> ApiError {
    ApiError::validation(invalid.at(vec![json!("path"), json!(name)]))
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
        check_range(id, 1, i64::MAX).map_err(|invalid| refused(name, invalid))?;
        Ok(PathId(id))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
