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
/// futures resolve. Services build their servers with `disable_signals()` and spawn this (or
/// [`stop_when`], with the signal future they started with), so Ctrl-C is as graceful as
/// SIGTERM. Before the servers stop, every listening socket made by [`serve`] in this process
/// is drained first (see the `drain` module), so no connection a client has already opened
/// is reset.
pub async fn stop_on_signal(servers: Vec<actix_web::dev::ServerHandle>) {
    stop_when(termination_signal(), servers).await;
}

/// [`stop_on_signal`] with the signal's future given: `signal` resolves with the name of
/// what asked to stop (see [`termination_signal`]).
pub async fn stop_when(
    signal: impl std::future::Future<Output = &'static str>,
    servers: Vec<actix_web::dev::ServerHandle>,
) {
    let name = signal.await;
    log::info!("{name} received: graceful shutdown, finishing in-flight requests");
    drain::drain_then_stop(&servers, &drain::registered(), drain::LIMIT).await;
}

/// Resolves with the signal's name at the first SIGTERM or SIGINT (Ctrl-C) from now on: the
/// handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives in between is not lost (nor, for a container's PID 1, ignored).
/// Tokio's handlers stay installed for the life of the process.
pub fn termination_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                (Ok(mut term), Err(_)) => {
                    term.recv().await;
                    "SIGTERM"
                }
                (Err(_), _) => {
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
    }
    #[cfg(windows)]
    {
        let ctrl_c = tokio::signal::windows::ctrl_c();
        async move {
            match ctrl_c {
                Ok(mut ctrl_c) => {
                    ctrl_c.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
            "Ctrl-C"
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Draining a listening socket before a graceful stop.
///
/// Closing a listening socket resets every connection still in its accept queue, including
/// ones whose client has already sent its request. A gateway in front cannot know whether
/// such a request was processed, so it answers 502 to a POST rather than send it again (it
/// does resend an idempotent one). With Docker's DNS, a stopping replica is still handed new
/// connections until its container exits, so during a rolling restart that queue is rarely
/// empty at the moment the listener closes.
///
/// So, before the servers are told to stop, each listener first stops taking new
/// connections: a socket filter drops incoming SYNs (connection requests), which leaves a
/// client's `connect` pending, not failed. The connections already queued are accepted and
/// served as usual; once the queue is empty the servers stop and the listener closes. The
/// client's SYN, resent a second later, then meets a closed port: "connection refused",
/// which a gateway passes to another replica even for a POST, since nothing was sent (or, if
/// the container is already gone, its connect timeout does the same). The drain takes about
/// 150 ms, at most [`LIMIT`] and 150 ms, well under the second after
/// which a dropped SYN is resent.
///
/// Linux only (socket filters), and only with CAP_NET_ADMIN, which current Linux kernels ask
/// of a process attaching a filter to a TCP socket (the images give it to the binary; see
/// the Dockerfile); elsewhere listeners close as they always have, with a warning.
mod drain {
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex, PoisonError, Weak};
    use std::time::{Duration, Instant};

    /// Longest wait for the accept queues to empty.
    pub(super) const LIMIT: Duration = Duration::from_millis(500);
    /// Handshakes answered just before the filter complete within a round trip: give them
    /// that long to reach the accept queue.
    const HANDSHAKES: Duration = Duration::from_millis(50);
    /// Connections the accept thread has taken from the queue reach their worker through a
    /// channel, which a stopping worker empties by closing what it finds there.
    const HANDOFF: Duration = Duration::from_millis(100);
    const POLL: Duration = Duration::from_millis(5);

    /// A server's listening socket, held through a second descriptor until it is drained
    /// (the server closes its own when it stops; the socket closes with the last of the
    /// two). A server stopped otherwise than by [`drain_then_stop`] keeps its port open, not
    /// accepting, until its `run` future ends and drops this.
    pub(super) struct Listener {
        port: u16,
        socket: Mutex<Option<TcpListener>>,
    }

    impl Listener {
        fn socket(&self) -> std::sync::MutexGuard<'_, Option<TcpListener>> {
            self.socket.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// The listeners of this process's live servers; an entry goes with its server.
    static LISTENERS: Mutex<Vec<Weak<Listener>>> = Mutex::new(Vec::new());

    /// Records `listener` for draining; the returned handle lives as long as its server.
    /// `None` where draining is not supported, or when the descriptor cannot be copied.
    pub(super) fn register(listener: &TcpListener) -> Option<Arc<Listener>> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let entry = Arc::new(Listener {
            port: listener.local_addr().ok()?.port(),
            socket: Mutex::new(Some(listener.try_clone().ok()?)),
        });
        let mut all = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|l| l.strong_count() > 0);
        all.push(Arc::downgrade(&entry));
        Some(entry)
    }

    /// Every registered listener whose server is still alive.
    pub(super) fn registered() -> Vec<Arc<Listener>> {
        let all = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter().filter_map(Weak::upgrade).collect()
    }

    /// [`drain`], then stops `servers` gracefully.
    pub(super) async fn drain_then_stop(
        servers: &[actix_web::dev::ServerHandle],
        listeners: &[Arc<Listener>],
        limit: Duration,
    ) {
        drain(listeners, limit).await;
        futures_util::future::join_all(servers.iter().map(|s| s.stop(true))).await;
    }

    /// Refuses new connections on `listeners` and waits (at most `limit`) until the
    /// connections already queued have been accepted, then lets go of the listeners, so
    /// that they close as soon as their servers are stopped.
    pub(super) async fn drain(listeners: &[Arc<Listener>], limit: Duration) {
        let started = Instant::now();
        let draining: Vec<&Arc<Listener>> = listeners
            .iter()
            .filter(|listener| {
                let socket = listener.socket();
                let Some(socket) = socket.as_ref() else {
                    return false;
                };
                refuse_new_connections(socket)
                    .inspect_err(|e| {
                        log::warn!(
                            "port {}: cannot refuse new connections ({e}; a socket filter needs CAP_NET_ADMIN): closing without a drain",
                            listener.port
                        )
                    })
                    .is_ok()
            })
            .collect();
        if draining.is_empty() {
            return;
        }
        actix_web::rt::time::sleep(HANDSHAKES).await;
        let deadline = Instant::now() + limit;
        let queued = loop {
            // An unreadable length counts as empty: the fixed waits still apply.
            let queued: u64 = draining
                .iter()
                .map(|l| {
                    l.socket()
                        .as_ref()
                        .map_or(0, |s| queue_length(s).unwrap_or(0))
                })
                .sum();
            if queued == 0 || Instant::now() >= deadline {
                break queued;
            }
            actix_web::rt::time::sleep(POLL).await;
        };
        actix_web::rt::time::sleep(HANDOFF).await;
        for listener in &draining {
            listener.socket().take();
        }
        let ports: Vec<String> = draining.iter().map(|l| l.port.to_string()).collect();
        let ms = started.elapsed().as_millis();
        if queued == 0 {
            log::info!(
                "port {}: new connections refused, queue drained in {ms} ms",
                ports.join(", ")
            );
        } else {
            log::warn!(
                "port {}: {queued} connection(s) still queued after {ms} ms: closing anyway",
                ports.join(", ")
            );
        }
    }

    /// Attaches a classic BPF filter that drops every segment with SYN set: new connection
    /// requests. Segments of connections already made (or being completed) pass.
    #[cfg(target_os = "linux")]
    fn refuse_new_connections(socket: &TcpListener) -> std::io::Result<()> {
        use socket2::SockFilter;
        // Socket filters see a TCP segment from its header on: byte 13 holds the flags.
        const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
        const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
        const RET_K: u16 = 0x06; // BPF_RET | BPF_K
        const SYN: u32 = 0x02;
        let program = [
            SockFilter::new(LD_B_ABS, 0, 0, 13),
            SockFilter::new(JSET_K, 0, 1, SYN), // SYN set: next; else skip one
            SockFilter::new(RET_K, 0, 0, 0),    // drop
            SockFilter::new(RET_K, 0, 0, u32::MAX), // keep the whole segment
        ];
        socket2::SockRef::from(socket).attach_filter(&program)
    }

    #[cfg(not(target_os = "linux"))]
    fn refuse_new_connections(_: &TcpListener) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    /// How many connections wait in `socket`'s accept queue: for a listening socket, the
    /// "rx_queue" column of /proc/net/tcp (or tcp6) on the line of its inode.
    #[cfg(target_os = "linux")]
    fn queue_length(socket: &TcpListener) -> std::io::Result<u64> {
        use std::io::{Error, ErrorKind};
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd()))?;
        let inode = link
            .to_str()
            .and_then(|l| l.strip_prefix("socket:["))
            .and_then(|l| l.strip_suffix(']'))
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "not a socket"))?
            .to_owned();
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.get(9) == Some(&inode.as_str()) {
                    let rx = fields[4].split(':').nth(1).unwrap_or("");
                    return u64::from_str_radix(rx, 16)
                        .map_err(|e| Error::new(ErrorKind::InvalidData, e));
                }
            }
        }
        Err(Error::new(
            ErrorKind::NotFound,
            "socket not in /proc/net/tcp",
        ))
    }

    #[cfg(not(target_os = "linux"))]
    fn queue_length(_: &TcpListener) -> std::io::Result<u64> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        use std::io::{ErrorKind, Read, Write};
        use std::net::{SocketAddr, TcpListener, TcpStream};
        use std::time::{Duration, Instant};

        fn wait_for_queue(socket: &TcpListener, length: u64) {
            let deadline = Instant::now() + Duration::from_secs(5);
            while super::queue_length(socket).unwrap() != length {
                assert!(Instant::now() < deadline, "the queue never held {length}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }

        /// Whether this process may attach a socket filter to a TCP socket (current Linux
        /// kernels ask for CAP_NET_ADMIN). Without it the drain is skipped at run time (with
        /// a warning), and these tests say so in one line; in CI it is a failure.
        fn filters_allowed() -> bool {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            match super::refuse_new_connections(&probe) {
                Ok(()) => true,
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "the listener drain needs CAP_NET_ADMIN in CI: {e}"
                    );
                    eprintln!("skipping: no CAP_NET_ADMIN for a socket filter ({e}); run as root to test the drain");
                    false
                }
                Err(e) => panic!("attaching a socket filter: {e}"),
            }
        }

        fn connect_briefly(addr: SocketAddr) -> std::io::Result<TcpStream> {
            TcpStream::connect_timeout(&addr, Duration::from_millis(300))
        }

        #[test]
        fn a_draining_socket_ignores_new_connections_and_keeps_the_queued_ones() {
            if !filters_allowed() {
                return;
            }
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut queued = TcpStream::connect(addr).unwrap();
            queued.write_all(b"request").unwrap();
            wait_for_queue(&listener, 1);

            super::refuse_new_connections(&listener).unwrap();
            // Neither accepted nor refused: the client keeps trying until its timeout.
            let new = connect_briefly(addr).unwrap_err();
            assert_eq!(new.kind(), ErrorKind::TimedOut, "{new}");
            assert_eq!(super::queue_length(&listener).unwrap(), 1);

            // The connection made before is whole: accepted, its request read, answered.
            let (mut accepted, _) = listener.accept().unwrap();
            let mut request = [0u8; 7];
            accepted.read_exact(&mut request).unwrap();
            assert_eq!(&request, b"request");
            accepted.write_all(b"answer").unwrap();
            let mut answer = [0u8; 6];
            queued.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"answer");

            drop(listener);
            let closed = connect_briefly(addr).unwrap_err();
            assert_eq!(closed.kind(), ErrorKind::ConnectionRefused, "{closed}");
        }

        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            server: crate::config::ServerArgs,
        }

        #[actix_web::test]
        async fn a_graceful_stop_serves_the_queued_connections_then_refuses() {
            if !filters_allowed() {
                return;
            }
            let flags: Flags = crate::config::parse_flags_only([
                "test",
                "--workers",
                "1",
                "--shutdown-grace-seconds",
                "5",
            ]);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let bound = crate::http::serve(
                listener,
                &flags.server,
                1024,
                utoipa::openapi::OpenApiBuilder::new().build(),
                crate::http::common_routes,
            )
            .unwrap();
            let registered = bound.drain.clone().expect("the listener is registered");
            let handle = bound.handle();
            actix_web::rt::spawn(bound.run_until_stopped());

            // The accept loop paused, as when it falls behind: requests wait in the queue.
            handle.pause().await;
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            let clients: Vec<_> = (0..20)
                .map(|_| {
                    std::thread::spawn(move || -> std::io::Result<String> {
                        let mut stream = TcpStream::connect(addr)?;
                        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                        stream.write_all(
                            b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                        )?;
                        let mut answer = String::new();
                        stream.read_to_string(&mut answer)?;
                        Ok(answer)
                    })
                })
                .collect();
            wait_for_queue(registered.socket().as_ref().unwrap(), 20);

            // The stop a signal starts: the drain, then the servers' graceful stop.
            let stopping = actix_web::rt::spawn({
                let handle = handle.clone();
                async move {
                    super::drain_then_stop(&[handle], &[registered], Duration::from_secs(5)).await
                }
            });
            actix_web::rt::time::sleep(Duration::from_millis(150)).await;
            let new = actix_web::rt::task::spawn_blocking(move || connect_briefly(addr))
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(
                new.kind(),
                ErrorKind::TimedOut,
                "a new connection during the drain: {new}"
            );
            handle.resume().await;
            stopping.await.unwrap();

            for client in clients {
                let answer = client
                    .join()
                    .unwrap()
                    .expect("a queued request is answered");
                assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            }
            let closed = connect_briefly(addr).unwrap_err();
            assert_eq!(closed.kind(), ErrorKind::ConnectionRefused, "{closed}");
        }
    }
}

/// A service's HTTP server, bound (so its port is known) and ready to run.
pub struct BoundServer {
    pub port: u16,
    pub server: actix_web::dev::Server,
    /// For [`stop_on_signal`]'s drain: registered while this lives (held, not read).
    #[cfg_attr(not(test), allow(dead_code))]
    drain: Option<std::sync::Arc<drain::Listener>>,
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
        drain,
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
