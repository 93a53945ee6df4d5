//! `/` (the course's greeting), `/healthz` and `/readyz`.

use actix_web::{web, HttpResponse};
use service_kit::http::readiness;

use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    service_kit::http::common_routes(cfg);
    cfg.route("/readyz", web::get().to(readyz));
}

/// Ready when the database answers.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    readiness(&[("database", state.db.is_ready().await)])
}
