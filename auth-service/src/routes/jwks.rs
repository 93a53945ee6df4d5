//! `GET /.well-known/jwks.json`: the public keys that verify this service's tokens.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpResponse};

use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // A resource, so other methods get 405 rather than 404.
    cfg.service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks)));
}

/// Public keys only (empty with HS256: a shared secret is never published): the signing key
/// and those of `JWT_PUBLISHED_KEY_FILES`. Verifiers may keep it for `max-age` seconds.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "Keys",
    responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(state.jwks_max_age),
        ]))
        .json(&state.jwks)
}
