//! CORS from `CORS_ALLOW_ORIGINS`.

use actix_cors::Cors;

/// CORS from a configured origin list: empty allows no cross-origin requests, `*` allows any
/// origin (as the course app does), otherwise exactly the listed origins.
pub fn cors(origins: &[String]) -> Cors {
    let base = Cors::default()
        .allow_any_method()
        .allow_any_header()
        .max_age(600);
    if origins.iter().any(|o| o == "*") {
        base.allow_any_origin().send_wildcard()
    } else {
        origins
            .iter()
            .fold(base, |cors, origin| cors.allowed_origin(origin))
    }
}

/// Splits a comma-separated option (e.g. `CORS_ALLOW_ORIGINS`) into trimmed, non-empty items.
pub fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
