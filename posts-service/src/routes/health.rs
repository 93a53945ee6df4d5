//! `/` (the course's greeting), `/healthz`, `/readyz` and `/metrics`.

use actix_web::{web, HttpResponse};
use service_kit::http::readiness;
use service_kit::metrics::Metrics;
use shared_claims::resource::{self, Sample};
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
    let [keys, ended_sessions] = resource::readiness(&verifier);
    readiness(&[
        ("database", state.db.is_ready().await),
        keys,
        ended_sessions,
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
    let scrape = metrics.scrape().db_pool(state.db.stats());
    resource::metrics(&verifier)
        .into_iter()
        .fold(scrape, |scrape, (name, help, sample)| match sample {
            Sample::Counter(total) => scrape.counter(name, help, total),
            Sample::Gauge(value) => scrape.gauge(name, help, value),
        })
        .response()
}
