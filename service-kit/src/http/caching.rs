//! `Cache-Control: no-store` for answers that carry personal data.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;

/// Middleware for a resource whose answers carry personal data (an account, its email, a
/// post with its owner's email): `Cache-Control: no-store`, so neither a browser nor a proxy
/// keeps a copy (RFC 9111 §5.2.2.5). An answer that sets its own `Cache-Control` keeps it.
pub fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}
