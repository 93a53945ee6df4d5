//! `/` (the course's greeting), `/healthz`, `/readyz` and `/metrics`.

use actix_web::{web, HttpResponse};
use service_kit::http::readiness;
use service_kit::metrics::Metrics;
use shared_claims::Verifier;

use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    service_kit::http::common_routes(cfg);
    cfg.route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// Ready when the database answers, the token keys are loaded and, when there is a feed of
/// ended sessions, their list has loaded once: until then a token gets 503.
async fn readyz(state: web::Data<AppState>, verifier: web::Data<Verifier>) -> HttpResponse {
    readiness(&[
        ("database", state.db.is_ready().await),
        ("keys", verifier.has_keys()),
        ("ended_sessions", verifier.ended_sessions_loaded()),
    ])
}

/// Prometheus metrics: requests, the database pool, fetches of the JWKS, and the list of
/// ended sessions when there is a feed of them. For the operators' scraper only: not in the
/// OpenAPI document, and the gateway does not route it.
async fn metrics(
    metrics: web::Data<Metrics>,
    state: web::Data<AppState>,
    verifier: web::Data<Verifier>,
) -> HttpResponse {
    let (refreshes, failures) = verifier.key_refreshes();
    let mut scrape = metrics
        .scrape()
        .db_pool(state.db.stats())
        .counter(
            "jwks_refreshes_total",
            "Fetches of the auth service's JWKS (at start, when its max-age ran out, on an unknown kid)",
            refreshes,
        )
        .counter(
            "jwks_refresh_failures_total",
            "JWKS fetches that failed or listed no usable key (the keys held were kept)",
            failures,
        )
        .gauge(
            "verification_keys",
            "Verification keys held",
            verifier.keys().len() as f64,
        );
    if let Some(revocations) = verifier.revocations() {
        scrape = scrape
            .gauge(
                "revocation_list_loaded",
                "1 once the list of ended sessions was loaded from the auth service",
                if revocations.is_loaded() { 1.0 } else { 0.0 },
            )
            .gauge(
                "revocation_list_size",
                "Ended sessions whose tokens are refused",
                revocations.len() as f64,
            );
        if let Some(age) = revocations.age() {
            scrape = scrape.gauge(
                "revocation_list_age_seconds",
                "Time since the list of ended sessions was last updated from the feed",
                age.as_secs_f64(),
            );
        }
    }
    scrape.response()
}
