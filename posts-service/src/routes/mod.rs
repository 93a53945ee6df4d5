//! HTTP routes, one module per resource; each exposes its own `routes`.

pub mod posts;
pub mod votes;

use actix_web::web;

/// Every route of the posts service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `/`, `/healthz`, `/readyz` (database, keys, ended sessions), `/metrics`, `/revocations`.
    service_kit::tokens::routes::<crate::AppState>(cfg, |state| &state.db);
    posts::routes(cfg);
    votes::routes(cfg);
}

/// The caller as an author row, from their verified claims (`user_created_at`, RFC 3339,
/// when the token carries it).
pub fn author_of(user: &shared_claims::AuthUser) -> crate::store::NewAuthor {
    let created_at = user
        .claims
        .user_created_at
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.naive_utc());
    crate::store::NewAuthor {
        id: user.id,
        email: user.email.clone(),
        created_at,
    }
}
