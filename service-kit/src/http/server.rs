//! The HTTP server every service runs, and the server once bound.

use actix_web::http::header;
use actix_web::HttpResponse;

use super::connections::{connection_guard, ConnectionLimit};
use super::{comma_list, cors, json_errors};
use crate::shutdown::drain;

/// A service's HTTP server, bound (so its port is known) and ready to run.
pub struct BoundServer {
    pub port: u16,
    pub server: actix_web::dev::Server,
    /// For [`crate::shutdown::stop_on_signal`]'s drain: registered while this lives (held, not read).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) drain: Option<std::sync::Arc<drain::Listener>>,
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

    /// Serves until the server is stopped (Ctrl-C / SIGTERM through [`crate::shutdown::stop_on_signal`], or
    /// through [`Self::handle`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The HTTP server every service runs: `configure` adds the service's state and routes; around
/// them come access lines with request ids and request metrics (a
/// [`crate::metrics::Metrics`] in the app data, for the service's `/metrics`), the bounds on
/// connections ([`super::connections`]: `MAX_CONNECTIONS`, and a connection closed after an
/// answer sent before its body was read, chunked or not), CORS, JSON
/// bodies for framework errors, the body limit and the body-read deadline, the OpenAPI
/// document at `/openapi.json` with Swagger UI at `/docs/` (served from the binary), and a
/// JSON 404 for unknown paths. Signals are left to [`crate::shutdown::stop_on_signal`], so Ctrl-C is as
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
    let drain = drain::register(&listener);
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
    let connections = ConnectionLimit::new(args.max_connections as usize);
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::deadline::body_read_deadline))
            .wrap(json_errors())
            .wrap(cors(&origins))
            .wrap(from_fn(connection_guard))
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
    .on_connect(connections.on_connect())
    // No worker accepts beyond the limit either: past workers × limit, new connections wait
    // in the listen backlog.
    .max_connections(args.max_connections as usize)
    // An answer sent before its body was read closes the connection after this linger.
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    .shutdown_timeout(args.shutdown_grace_seconds)
    .disable_signals()
    .listen(listener)?;
    if let Some(workers) = args.workers {
        server = server.workers(workers as usize);
    }
    Ok(BoundServer {
        port,
        server: server.run(),
        drain,
    })
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
