//! Logging: env_logger with uvicorn's line shape, and one access line per request (with its
//! request id), which is also where error causes are logged and requests are counted.

use std::io::Write;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::ApiError;
use crate::metrics::Metrics;

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

/// Longest query string written to an access line (bytes); the rest is cut, with a marker.
pub const MAX_LOGGED_QUERY: usize = 256;
/// Longest path written to an access line (bytes); the rest is cut, with a marker.
pub const MAX_LOGGED_PATH: usize = 1024;

/// What a redacted parameter value is written as.
const REDACTED: &str = "[redacted]";

/// Whether a query parameter may carry a credential (`access_token`, `token`,
/// `refresh_token`, `password`, `client_secret`, `api_key` and their kin): its value is never
/// logged. Matched on the decoded, lower-cased name.
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "authorization",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// A query parameter's name, percent- and `+`-decoded (so `access%5Ftoken` is recognised).
fn decoded_name(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Cuts `text` to at most `max` bytes (on a character boundary), marking what was cut.
fn truncated(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...[{} more bytes]", &text[..end], text.len() - end).into()
}

/// The request target as an access line shows it: the path, and the query string with the
/// values of credential-like parameters replaced by `[redacted]`, each cut to a bounded
/// length (a 60 kB search makes no 60 kB line).
pub fn loggable_target(uri: &actix_web::http::Uri) -> String {
    let path = truncated(uri.path(), MAX_LOGGED_PATH);
    let Some(query) = uri.query() else {
        return path.into_owned();
    };
    let redacted: Vec<std::borrow::Cow<'_, str>> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(&decoded_name(name)) => {
                format!("{name}={REDACTED}").into()
            }
            None if is_secret_param(&decoded_name(pair)) => REDACTED.into(),
            _ => pair.into(),
        })
        .collect();
    format!(
        "{path}?{}",
        truncated(&redacted.join("&"), MAX_LOGGED_QUERY)
    )
}

/// Middleware (`actix_web::middleware::from_fn(access_log)`) around every request:
/// - sets `x-request-id` on the response (the client's, or a generated one);
/// - logs the cause of a 500 or 503 once, with that request id (handlers and the error type
///   do not log it themselves);
/// - records the request in the [`crate::metrics::Metrics`] registered as app data;
/// - logs one access line with that request id: uvicorn's shape, with the id after the peer
///   (`INFO: 127.0.0.1:58357 request_id=4f… - "POST /login HTTP/1.1" 200 OK`).
///
/// Never logs headers or bodies, and redacts credential-like query parameters, so tokens and
/// passwords stay out of the log.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let request_id = request_id_of(&req);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let access = log::log_enabled!(target: ACCESS_TARGET, log::Level::Info).then(|| {
        let peer = req
            .peer_addr()
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        let line = format!(
            "{} {} {:?}",
            req.method(),
            loggable_target(req.uri()),
            req.version()
        );
        (peer, line)
    });
    // (The request cannot be cloned to answer an `Err` here: routing needs it unshared. The
    // handlers' errors arrive as responses; `Err` comes only from failing middleware.)
    let mut res = next.call(req).await?;
    let status = res.status();
    let id = request_id.to_str().unwrap_or("-");
    if let Some(error) = res.response().error() {
        match error
            .as_error::<ApiError>()
            .and_then(ApiError::logged_cause)
        {
            Some((level, cause)) => log::log!(level, "request_id={id}: {cause}"),
            // Another error type's 503 (the token extractor's, before the keys or the list of
            // ended sessions load) is a passing state, like ApiError's; any other 5xx is a
            // fault.
            None if status == actix_web::http::StatusCode::SERVICE_UNAVAILABLE => {
                log::warn!("request_id={id}: {status}: {error}")
            }
            None if status.is_server_error() => {
                log::error!("request_id={id}: {status}: {error}")
            }
            None => {}
        }
    }
    if let Some(metrics) = metrics {
        let route = res.request().match_pattern();
        metrics.observe(&method, route.as_deref(), status, started.elapsed());
    }
    if let Some((peer, line)) = access {
        log::info!(
            target: ACCESS_TARGET,
            "{peer} request_id={id} - \"{line}\" {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
    }
    res.headers_mut().insert(REQUEST_ID, request_id);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, OnceLock};

    use actix_web::middleware::from_fn;
    use actix_web::{test as actix_test, web, App, HttpResponse};

    use super::*;
    use crate::db::DbError;

    /// Every log line written while the tests run (a logger of the test process).
    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            LINES.lock().unwrap().push(format!(
                "{} {}: {}",
                record.target(),
                record.level(),
                record.args()
            ));
        }
        fn flush(&self) {}
    }

    fn capture() {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            log::set_boxed_logger(Box::new(Capture)).expect("no other logger in these tests");
            log::set_max_level(log::LevelFilter::Info);
        });
    }

    /// The captured lines that mention `needle`.
    fn lines_with(needle: &str) -> Vec<String> {
        LINES
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    async fn failing(kind: web::Path<String>) -> Result<HttpResponse, ApiError> {
        match kind.as_str() {
            "internal" => Err(ApiError::internal(std::io::Error::other("disk on fire"))),
            "db" => Err(DbError::Query(diesel::result::Error::NotFound).into()),
            "unavailable" => Err(DbError::Saturated.into()),
            _ => Ok(HttpResponse::Ok().finish()),
        }
    }

    async fn call(
        uri: &str,
        request_id: Option<&str>,
    ) -> (actix_web::http::StatusCode, String, String) {
        capture();
        let app = actix_test::init_service(
            App::new()
                .wrap(from_fn(access_log))
                .route("/fail/{kind}", web::get().to(failing)),
        )
        .await;
        let mut req = actix_test::TestRequest::get().uri(uri);
        if let Some(id) = request_id {
            req = req.insert_header((REQUEST_ID, id));
        }
        let resp = actix_test::call_service(&app, req.to_request()).await;
        let status = resp.status();
        let id = resp
            .headers()
            .get(REQUEST_ID)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let body = String::from_utf8(actix_test::read_body(resp).await.to_vec()).unwrap();
        (status, id, body)
    }

    #[actix_web::test]
    async fn the_access_line_has_the_request_id_and_a_redacted_bounded_query() {
        let long = "x".repeat(60_000);
        let uri = format!(
            "/fail/none?access_token=SECRET1&search=abc&Refresh%5FToken=SECRET2&password=SECRET3&token&q={long}"
        );
        let (status, id, _) = call(&uri, Some("trace-7")).await;
        assert_eq!((status.as_u16(), id.as_str()), (200, "trace-7"));
        let lines = lines_with("request_id=trace-7");
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(line.starts_with("access INFO: "), "{line}");
        assert!(!line.contains("SECRET"), "{line}");
        assert!(line.contains(
            "\"GET /fail/none?access_token=[redacted]&search=abc&Refresh%5FToken=[redacted]&password=[redacted]&[redacted]&q=xxx"
        ), "{line}");
        assert!(line.contains("...[59"), "the cut is marked: {line}");
        assert!(line.len() < 600, "{} bytes", line.len());
        assert!(line.ends_with("\" 200 OK"), "{line}");
    }

    #[actix_web::test]
    async fn a_generated_request_id_is_the_one_logged() {
        let (_, id, _) = call("/fail/none?generated", None).await;
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let lines = lines_with(&format!("request_id={id}"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("GET /fail/none?generated HTTP/1.1"),
            "{lines:?}"
        );
        // An id that is not sane (spaces) is replaced, not echoed.
        let (_, id, _) = call("/fail/none", Some("a b")).await;
        assert_ne!(id, "a b");
    }

    #[actix_web::test]
    async fn error_causes_are_logged_once_with_the_request_id_and_bodies_stay_generic() {
        for (kind, status, body, cause) in [
            (
                "internal",
                500,
                r#"{"detail":"Internal Server Error"}"#,
                "internal error: disk on fire",
            ),
            (
                "db",
                500,
                r#"{"detail":"Internal Server Error"}"#,
                "internal error: Record not found",
            ),
            (
                "unavailable",
                503,
                r#"{"detail":"Service temporarily unavailable"}"#,
                "service unavailable: database unavailable: timed out waiting for a database connection",
            ),
        ] {
            let id = format!("cause-{kind}");
            let (got_status, _, got_body) = call(&format!("/fail/{kind}"), Some(&id)).await;
            assert_eq!((got_status.as_u16(), got_body.as_str()), (status, body));
            let lines = lines_with(&format!("request_id={id}"));
            let causes: Vec<_> = lines.iter().filter(|l| !l.starts_with("access ")).collect();
            assert_eq!(causes.len(), 1, "logged once: {lines:?}");
            assert!(
                causes[0].ends_with(&format!("request_id={id}: {cause}")),
                "{causes:?}"
            );
            let level = if status == 500 { "ERROR" } else { "WARN" };
            assert!(causes[0].contains(level), "{causes:?}");
        }
    }

    #[test]
    fn query_strings_are_cut_on_a_character_boundary_and_names_are_decoded() {
        let uri: actix_web::http::Uri = format!("/p?search={}", "%C3%A9".repeat(100))
            .parse()
            .unwrap();
        let target = loggable_target(&uri);
        assert!(
            target.len() <= "/p?".len() + MAX_LOGGED_QUERY + 40,
            "{target}"
        );
        assert!(target.ends_with(" more bytes]"), "{target}");
        for name in [
            "access_token",
            "ACCESS_TOKEN",
            "access%5ftoken",
            "id_token",
            "client_secret",
            "new+password",
            "api_key",
        ] {
            let uri: actix_web::http::Uri = format!("/p?{name}=v").parse().unwrap();
            assert_eq!(
                loggable_target(&uri),
                format!("/p?{name}=[redacted]"),
                "{name}"
            );
        }
        let uri: actix_web::http::Uri = "/p?limit=5&skip=0&cursor=abc".parse().unwrap();
        assert_eq!(loggable_target(&uri), "/p?limit=5&skip=0&cursor=abc");
        // A cut inside a multi-byte character backs off to its start.
        assert_eq!(truncated("ééé", 3), "é...[4 more bytes]");
        assert_eq!(truncated("ééé", 6), "ééé");
    }
}
