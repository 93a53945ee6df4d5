//! `/` (the course's greeting), `/healthz`, `/readyz` and `/metrics`.

use actix_web::{web, HttpResponse};
use service_kit::http::readiness;
use service_kit::metrics::Metrics;

use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    service_kit::http::common_routes(cfg);
    cfg.route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// Ready when the database answers.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    readiness(&[("database", state.db.is_ready().await)])
}

/// Prometheus metrics: requests, the database pool, the password hashing queue. For the
/// operators' scraper only: not in the OpenAPI document, and the gateway does not route it.
async fn metrics(
    metrics: web::Data<Metrics>,
    state: web::Data<AppState>,
    verifier: web::Data<shared_claims::Verifier>,
) -> HttpResponse {
    let hashing = state.hasher.stats();
    let scrape = metrics
        .scrape()
        .db_pool(state.db.stats())
        .gauge(
            "bcrypt_queue_depth",
            "Password hashing jobs waiting for a hashing thread",
            hashing.queued as f64,
        )
        .gauge(
            "bcrypt_jobs_running",
            "Password hashing jobs a hashing thread is working on now",
            hashing.running as f64,
        )
        .counter(
            "bcrypt_rejections_total",
            "Password hashing jobs refused (503) because the queue was full",
            hashing.rejected,
        );
    match verifier.course_tokens() {
        Some(course) => scrape.counter(
            "course_tokens_accepted_total",
            "The course app's own tokens accepted (COURSE_TOKEN_SECRET, until COURSE_TOKEN_UNTIL)",
            course.accepted(),
        ),
        None => scrape,
    }
    .response()
}
