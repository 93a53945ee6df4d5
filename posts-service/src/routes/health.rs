//! `/` (the course's greeting), `/healthz` and `/readyz`.

use actix_web::{web, HttpResponse};
use serde_json::json;
use service_kit::http::{healthz, readiness};
use shared_claims::Verifier;

use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn root() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "message": "Hello World pushing out to ubuntu" }))
}

/// Ready when the database answers and the token keys are loaded.
async fn readyz(state: web::Data<AppState>, verifier: web::Data<Verifier>) -> HttpResponse {
    readiness(&[
        ("database", state.db.is_ready().await),
        ("keys", verifier.has_keys()),
    ])
}
