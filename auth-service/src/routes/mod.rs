//! HTTP routes, one module per resource; each exposes its own `routes`.

pub mod health;
pub mod jwks;
pub mod login;
pub mod sessions;
pub mod users;

use std::collections::BTreeMap;

use actix_web::web;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

/// Every route of the auth service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::routes(cfg);
    users::routes(cfg);
    login::routes(cfg);
    sessions::routes(cfg);
    jwks::routes(cfg);
}

/// 413 `Body larger than the limit`, which every route that reads a body answers past the
/// service's body limit (documented with `responses(BodyTooLarge, ...)`).
pub struct BodyTooLarge;

impl IntoResponses for BodyTooLarge {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        detail_response("413", "Body larger than the limit")
    }
}

/// 503 `Overloaded; see Retry-After`, which a route that hashes a password answers when the
/// hashing queue is full.
pub struct Overloaded;

impl IntoResponses for Overloaded {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        detail_response("503", "Overloaded; see Retry-After")
    }
}

/// A `{"detail": ...}` response, as `(status = .., description = .., body = Detail)` writes it.
fn detail_response(status: &str, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Detail")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
        .build();
    BTreeMap::from([(status.to_owned(), response.into())])
}
