//! HTTP routes, one module per resource; each exposes its own `routes`.

pub mod health;
pub mod jwks;
pub mod login;
pub mod sessions;
pub mod users;

use actix_web::web;

/// Every route of the auth service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::routes(cfg);
    users::routes(cfg);
    login::routes(cfg);
    sessions::routes(cfg);
    jwks::routes(cfg);
}
