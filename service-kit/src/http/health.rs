//! The health routes: `/healthz` (alive), the `/readyz` answer, and the course's greeting.

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;
use serde_json::json;

/// `GET /healthz`: the process is alive; touches nothing else.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The `/readyz` answer: 200 when every check passed, 503 naming the failing ones otherwise.
pub fn readiness(checks: &[(&str, bool)]) -> HttpResponse {
    let failing: Vec<&str> = checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| *name)
        .collect();
    if failing.is_empty() {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        let mut resp = HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not ready", "failing": failing }));
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        resp
    }
}

/// `GET /` (the course app's greeting) and `GET /healthz`; each service adds its own
/// `/readyz`, which knows what it depends on.
pub fn common_routes(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::web;
    cfg.route("/", web::get().to(greeting))
        .route("/healthz", web::get().to(healthz));
}

async fn greeting() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "message": "Hello World pushing out to ubuntu" }))
}
