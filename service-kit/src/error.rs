//! One error type for the HTTP layer, mapped in one place to the course's JSON shapes:
//! `{"detail": "<text>"}`, or a list of field errors for 422.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Value};

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
    /// The database or a worker pool cannot take the request now; the cause is logged.
    #[error("service unavailable: {cause}")]
    Unavailable { cause: String, retry_after: u64 },
    #[error("request body too large")]
    PayloadTooLarge,
    /// A bug or an unexpected failure; the cause is logged, the client sees a generic text.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn unavailable(cause: impl Into<String>) -> ApiError {
        ApiError::Unavailable {
            cause: cause.into(),
            retry_after: UNAVAILABLE_RETRY_AFTER_SECONDS,
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
            ApiError::Unavailable { cause, retry_after } => {
                log::warn!("answering 503: {cause}");
                let mut resp = detail_response(status, "Service temporarily unavailable");
                set_retry_after(&mut resp, *retry_after);
                resp
            }
            ApiError::PayloadTooLarge => detail_response(status, "Request body too large"),
            ApiError::Internal(cause) => {
                log::error!("internal error: {cause}");
                detail_response(status, "Internal Server Error")
            }
        }
    }
}

fn set_retry_after(resp: &mut HttpResponse, seconds: u64) {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
}
