//! One error type for the HTTP layer, mapped in one place to the course's JSON shapes:
//! `{"detail": "<text>"}`, or a list of field errors for 422.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::db::DbError;

/// The cause of an internal failure or of an unavailability: any error, kept typed (with its
/// own sources) until it is logged. A plain message converts too
/// (`ApiError::Internal("invariant broken".into())`).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Seconds a client is asked to wait when the database or a worker pool is unavailable.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

/// One entry of a 422 `detail` list, in pydantic v1's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub loc: Vec<Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl FieldError {
    pub fn new(loc: Vec<Value>, msg: impl Into<String>, kind: impl Into<String>) -> Self {
        FieldError {
            loc,
            msg: msg.into(),
            kind: kind.into(),
            ctx: None,
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// `field required` at `loc`.
    pub fn missing(loc: Vec<Value>) -> Self {
        FieldError::new(loc, "field required", "value_error.missing")
    }
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// The database or a worker pool cannot take the request now; the cause is logged (once,
    /// with the request id, by [`crate::logging::access_log`]).
    #[error("service unavailable")]
    Unavailable {
        #[source]
        cause: Cause,
        retry_after: u64,
    },
    #[error("request body too large")]
    PayloadTooLarge,
    /// A bug or an unexpected failure; the cause is logged (once, with the request id, by
    /// [`crate::logging::access_log`]), the client sees a generic text.
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl ApiError {
    /// 503 with the default `Retry-After`, keeping `cause` for the log.
    pub fn unavailable(cause: impl Into<Cause>) -> ApiError {
        ApiError::Unavailable {
            cause: cause.into(),
            retry_after: UNAVAILABLE_RETRY_AFTER_SECONDS,
        }
    }

    /// 500, keeping `cause` (an error, or a message for a broken invariant) for the log.
    pub fn internal(cause: impl Into<Cause>) -> ApiError {
        ApiError::Internal(cause.into())
    }

    /// What the log must say about this error: the level and the whole cause chain, for the
    /// errors whose cause the client does not see (500 and 503); `None` for the others.
    pub fn logged_cause(&self) -> Option<(log::Level, String)> {
        match self {
            ApiError::Internal(_) => Some((log::Level::Error, chain(self))),
            ApiError::Unavailable { .. } => Some((log::Level::Warn, chain(self))),
            _ => None,
        }
    }

    pub fn validation(error: FieldError) -> ApiError {
        ApiError::Validation(vec![error])
    }
}

/// `{"detail": text}` with the given status.
pub fn detail_response(status: StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "detail": detail }))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::NotFound(d) | ApiError::Forbidden(d) | ApiError::Conflict(d) => {
                detail_response(status, d)
            }
            ApiError::Validation(errors) => {
                HttpResponse::build(status).json(json!({ "detail": errors }))
            }
            ApiError::TooManyRequests {
                detail,
                retry_after,
            } => {
                let mut resp = detail_response(status, detail);
                set_retry_after(&mut resp, *retry_after);
                resp
            }
            // The causes of these two are logged by the access middleware, once, with the
            // request id; the client sees a generic text.
            ApiError::Unavailable { retry_after, .. } => {
                let mut resp = detail_response(status, "Service temporarily unavailable");
                set_retry_after(&mut resp, *retry_after);
                resp
            }
            ApiError::PayloadTooLarge => detail_response(status, "Request body too large"),
            ApiError::Internal(_) => detail_response(status, "Internal Server Error"),
        }
    }
}

/// An error and its sources on one line: `outer: inner: innermost`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        // An error that repeats its source's text (`#[error(transparent)]`-like) adds nothing.
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

fn set_retry_after(resp: &mut HttpResponse, seconds: u64) {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        if e.is_transient() {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::db::DbError;

    #[test]
    fn causes_stay_typed_and_messages_still_convert() {
        let e: ApiError = DbError::Query(diesel::result::Error::NotFound).into();
        assert!(matches!(e, ApiError::Internal(_)));
        let source = e.source().expect("a source");
        assert!(
            matches!(
                source.downcast_ref::<DbError>(),
                Some(DbError::Query(diesel::result::Error::NotFound))
            ),
            "{source:?}"
        );
        let e: ApiError = DbError::Saturated.into();
        assert!(e.source().unwrap().downcast_ref::<DbError>().is_some());
        assert_eq!(
            e.logged_cause(),
            Some((
                log::Level::Warn,
                "service unavailable: database unavailable: timed out waiting for a database connection".into()
            ))
        );
        // A message for a broken invariant, as handlers write it.
        let e = ApiError::Internal("validated fields missing".into());
        assert_eq!(
            e.logged_cause(),
            Some((
                log::Level::Error,
                "internal error: validated fields missing".into()
            ))
        );
        assert_eq!(ApiError::NotFound("x".into()).logged_cause(), None);
    }

    #[test]
    fn chain_skips_a_source_its_error_already_shows() {
        #[derive(Debug, thiserror::Error)]
        #[error("GET /x: {0}")]
        struct Shows(#[source] std::io::Error);
        let e = ApiError::internal(Shows(std::io::Error::other("refused")));
        assert_eq!(chain(&e), "internal error: GET /x: refused");
    }

    #[test]
    fn bodies_are_the_generic_course_texts() {
        let body = |e: ApiError| {
            let resp = e.error_response();
            let status = resp.status().as_u16();
            let retry = resp
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes =
                futures_util::FutureExt::now_or_never(actix_web::body::to_bytes(resp.into_body()))
                    .unwrap()
                    .unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap(), retry)
        };
        assert_eq!(
            body(ApiError::internal(std::io::Error::other("secret detail"))),
            (500, r#"{"detail":"Internal Server Error"}"#.into(), None)
        );
        assert_eq!(
            body(ApiError::unavailable("secret detail")),
            (
                503,
                r#"{"detail":"Service temporarily unavailable"}"#.into(),
                Some("5".into())
            )
        );
    }
}
