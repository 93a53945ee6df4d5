//! Logging: env_logger with uvicorn's line shape, and one access line per request.

use std::io::Write;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// Target of the access lines (filter them with `RUST_LOG=access=off`).
pub const ACCESS_TARGET: &str = "access";

/// The request id header, echoed when the client sent a sane one, generated otherwise.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Starts env_logger at `info` unless `RUST_LOG` says otherwise. Safe to call twice.
/// Access lines read as uvicorn's (`INFO: 127.0.0.1:58357 - "POST /login HTTP/1.1" 200 OK`);
/// other lines name their module.
pub fn init() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            if record.target() == ACCESS_TARGET {
                writeln!(buf, "{}: {}", record.level(), record.args())
            } else {
                writeln!(
                    buf,
                    "{}: [{}] {}",
                    record.level(),
                    record.target(),
                    record.args()
                )
            }
        })
        .try_init();
}

fn request_id_of(req: &ServiceRequest) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"))
        })
}

/// Middleware (`actix_web::middleware::from_fn(access_log)`): sets `x-request-id` on the
/// response and logs one access line per request. Never logs headers or bodies, so tokens
/// and passwords stay out of the log.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = request_id_of(&req);
    if !log::log_enabled!(target: ACCESS_TARGET, log::Level::Info) {
        let mut res = next.call(req).await?;
        res.headers_mut().insert(REQUEST_ID, request_id);
        return Ok(res);
    }
    let peer = req
        .peer_addr()
        .map_or_else(|| "-".to_string(), |a| a.to_string());
    let line = format!(
        "{} {} {:?}",
        req.method(),
        req.uri()
            .path_and_query()
            .map_or_else(|| req.path().to_string(), |p| p.to_string()),
        req.version()
    );
    let mut res = next.call(req).await?;
    let status = res.status();
    res.headers_mut().insert(REQUEST_ID, request_id);
    log::info!(
        target: ACCESS_TARGET,
        "{peer} - \"{line}\" {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    Ok(res)
}
