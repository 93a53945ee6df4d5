//! Pieces every service's `App` shares: JSON bodies for framework errors, CORS, health.

use actix_cors::Cors;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::HttpResponse;
use serde_json::json;

/// Gives framework-made error responses (unknown path, wrong method, extractor failures) the
/// course's `{"detail": "<reason>"}` body. Responses that already carry JSON are left alone.
pub fn json_errors<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let status = res.status();
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json || !(status.is_client_error() || status.is_server_error()) {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let detail = match status {
            StatusCode::NOT_FOUND => "Not Found",
            StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "Request body too large",
            s if s.is_server_error() => "Internal Server Error",
            s => s.canonical_reason().unwrap_or("Error"),
        };
        let (req, old) = res.into_parts();
        let mut new = HttpResponse::build(status).json(json!({ "detail": detail }));
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        let res: ServiceResponse<EitherBody<B, BoxBody>> =
            ServiceResponse::new(req, new).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(res))
    })
}

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

/// Splits a comma-separated option (e.g. `CORS_ALLOW_ORIGINS`) into trimmed, non-empty items.
pub fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where a client on this machine reaches a service bound to `addr`: an unspecified address
/// (`0.0.0.0`, `[::]`) is reached through loopback of the same family.
pub fn reachable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The base URL (`http://host:port`, IPv6 hosts in brackets) of a service bound to `addr`,
/// as [`reachable`] from this machine.
pub fn base_url(addr: std::net::SocketAddr) -> String {
    format!("http://{}", reachable(addr))
}

/// The `healthcheck` subcommand: asks the service at `bind_addr` for `path` over loopback and
/// succeeds on 200 (slim container images have no curl). An unspecified bind address
/// (`0.0.0.0`) is reached through loopback; proxies configured in the environment are not
/// used.
pub async fn healthcheck(bind_addr: std::net::SocketAddr, path: &str) -> Result<(), String> {
    let timeout = std::time::Duration::from_secs(3);
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let url = format!("{}{path}", base_url(bind_addr));
    let response = client.get(&url).send().await.map_err(|e| {
        // reqwest's own message names only the request: the cause is in its sources.
        let mut message = format!("{}", reachable(bind_addr));
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        if cause.is_none() {
            message.push_str(&format!(": {e}"));
        }
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        message
    })?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => Err(format!("{path} answered {status}")),
    }
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM, then stops the servers gracefully: they stop
/// accepting, finish in-flight requests within their shutdown timeout, and their `run`
/// futures resolve. Services build their servers with `disable_signals()` and spawn this, so
/// Ctrl-C is as graceful as SIGTERM.
pub async fn stop_on_signal(servers: Vec<actix_web::dev::ServerHandle>) {
    #[cfg(unix)]
    let name = {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    };
    #[cfg(not(unix))]
    let name = {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    };
    log::info!("{name} received: graceful shutdown, finishing in-flight requests");
    futures_util::future::join_all(servers.iter().map(|s| s.stop(true))).await;
}

/// A service's HTTP server, bound (so its port is known) and ready to run.
pub struct BoundServer {
    pub port: u16,
    pub server: actix_web::dev::Server,
}

impl BoundServer {
    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (Ctrl-C / SIGTERM through [`stop_on_signal`], or
    /// through [`Self::handle`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The HTTP server every service runs: `configure` adds the service's state and routes; around
/// them come access lines with request ids and request metrics (a
/// [`crate::metrics::Metrics`] in the app data, for the service's `/metrics`), CORS, JSON
/// bodies for framework errors, the body limit and the body-read deadline, the OpenAPI
/// document at `/openapi.json` with Swagger UI at `/docs/` (served from the binary), and a
/// JSON 404 for unknown paths. Signals are left to [`stop_on_signal`], so Ctrl-C is as
/// graceful as SIGTERM, within `shutdown_grace_seconds`.
pub fn serve<F>(
    listener: std::net::TcpListener,
    args: &crate::config::ServerArgs,
    body_limit: usize,
    openapi: utoipa::openapi::OpenApi,
    configure: F,
) -> std::io::Result<BoundServer>
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
{
    use actix_web::middleware::from_fn;
    use actix_web::{web, App, HttpServer};
    let port = listener.local_addr()?.port();
    let origins = comma_list(&args.cors_allow_origins);
    let body_read_timeout = crate::deadline::BodyReadTimeout(std::time::Duration::from_secs(
        args.body_read_timeout_seconds,
    ));
    // One set of request metrics for all workers.
    let metrics = web::Data::new(crate::metrics::Metrics::new());
    // Protocol errors found while parsing a request head (431 for a head over actix-http's
    // buffer, 400 for a malformed head such as a NUL in a header, 408 for a head not received
    // within `client_request_timeout`) are answered by actix-http's h1 dispatcher itself, with
    // an empty body, before any App, middleware or error handler exists for the request: they
    // cannot be given the `{"detail": ...}` shape here. Everything from the head on (unknown
    // paths, methods, extractor failures, 413, the body deadline's 408) is JSON.
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::deadline::body_read_deadline))
            .wrap(json_errors())
            .wrap(cors(&origins))
            .wrap(from_fn(crate::logging::access_log))
            .app_data(metrics.clone())
            .app_data(body_read_timeout)
            .app_data(crate::input::BodyLimit(body_limit))
            .configure(configure.clone())
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                    .url("/openapi.json", openapi.clone()),
            )
            .route("/docs", web::get().to(docs_redirect))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .shutdown_timeout(args.shutdown_grace_seconds)
    .disable_signals()
    .listen(listener)?;
    if let Some(workers) = args.workers {
        server = server.workers(workers as usize);
    }
    Ok(BoundServer {
        port,
        server: server.run(),
    })
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// OpenAPI modifier declaring the `bearer` security scheme (a JWT in `Authorization`) that
/// the services' operations refer to.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
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
