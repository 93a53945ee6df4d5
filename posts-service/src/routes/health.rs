//! `/` (the course's greeting), `/healthz` and `/readyz`.

use actix_web::{web, HttpResponse};
use service_kit::http::readiness;
use shared_claims::Verifier;

use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    service_kit::http::common_routes(cfg);
    cfg.route("/readyz", web::get().to(readyz));
}

/// Ready when the database answers and the token keys are loaded.
async fn readyz(state: web::Data<AppState>, verifier: web::Data<Verifier>) -> HttpResponse {
    readiness(&[
        ("database", state.db.is_ready().await),
        ("keys", verifier.has_keys()),
    ])
}
