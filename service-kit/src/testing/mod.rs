//! Test support shared by the services' black-box tests: a fresh database per test on
//! either backend, a macro that runs one test body on both, the decision whether this run's
//! PostgreSQL variants run at all, a proxy that cuts a service off from its database, and a
//! client that starts a request and goes silent ([`slow_client`]).
//!
//! Compiled only with the `testing` feature, which the crates' `[dev-dependencies]` switch
//! on: a release build of a service does not contain it.

mod database;
mod proxy;
pub mod slow_client;

pub use database::TestDatabase;
pub use proxy::CuttableProxy;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

/// Server used for PostgreSQL tests; `TEST_POSTGRES_URL` overrides it. Each test creates its
/// own uniquely named database there and drops it afterwards.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server the PostgreSQL variants use: `TEST_POSTGRES_URL`, else
/// [`DEFAULT_TEST_POSTGRES_URL`].
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// Whether the PostgreSQL variants of the tests run, decided once per test binary from
/// [`postgres_admin_url`] and the `CI` variable (see [`decide_postgres`]). When they are
/// skipped, one line on stderr says so and how to run them; in CI a missing server fails
/// every PostgreSQL test instead.
pub fn postgres_tests_run() -> bool {
    static DECISION: OnceLock<PostgresDecision> = OnceLock::new();
    let decision = DECISION.get_or_init(|| {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        let decision = decide_postgres(&postgres_admin_url(), ci);
        if let PostgresDecision::Skip(line) = &decision {
            // Straight to the file descriptor: the test harness captures `eprintln!`.
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        decision
    });
    match decision {
        PostgresDecision::Run => true,
        PostgresDecision::Skip(_) => false,
        PostgresDecision::Fail(message) => panic!("{message}"),
    }
}

/// What a test run does with its PostgreSQL variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresDecision {
    /// The server accepts connections: the variants run (and fail on any database error).
    Run,
    /// No server listens: the variants pass without running; the line says how to run them.
    Skip(String),
    /// No server listens, in CI: each variant fails with this message.
    Fail(String),
}

/// Decides from whether anything accepts TCP connections at `admin_url`'s host and port
/// (within two seconds). Only an absent server leads to a skip: a server that refuses the
/// credentials, or a URL this cannot read (a Unix socket, say), runs the variants so the
/// error shows. `ci`: a missing server is a failure, never a skip.
pub fn decide_postgres(admin_url: &str, ci: bool) -> PostgresDecision {
    let Some(addrs) = postgres_addresses(admin_url) else {
        return PostgresDecision::Run;
    };
    if addrs
        .iter()
        .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok())
    {
        return PostgresDecision::Run;
    }
    let at = addrs
        .first()
        .map_or_else(|| "its address".to_string(), |a| a.to_string());
    if ci {
        PostgresDecision::Fail(format!(
            "CI is set and no PostgreSQL server accepts connections at {at}: the PostgreSQL \
             test variants must run in CI (set TEST_POSTGRES_URL to the server's URL)"
        ))
    } else {
        PostgresDecision::Skip(format!(
            "note: PostgreSQL test variants skipped (no server at {at}); to run them: \
             TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/postgres cargo test"
        ))
    }
}

/// The socket addresses of a `postgres://` URL's host and port (5432 when absent), or
/// `None` when the URL names no TCP host.
pub fn postgres_addresses(url: &str) -> Option<Vec<SocketAddr>> {
    let url = url::Url::parse(url).ok()?;
    let addrs = url.socket_addrs(|| Some(5432)).ok()?;
    (!addrs.is_empty()).then_some(addrs)
}

/// Runs each test body once on SQLite and once on PostgreSQL, as `sqlite::name` and
/// `postgres::name`; the PostgreSQL variant returns at once when [`postgres_tests_run`] says
/// this run skips them. The body sees the backend under the given name:
///
/// ```text
/// service_kit::backend_tests! {
///     async fn signing_up_returns_201(backend) {
///         let app = spawn_app(backend).await;
///         // ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[actix_web::test]
                async fn $name() {
                    let $backend = $crate::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[actix_web::test]
                async fn $name() {
                    if !$crate::testing::postgres_tests_run() {
                        return;
                    }
                    let $backend = $crate::Backend::Postgres;
                    $body
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[test]
    fn without_a_server_the_postgres_variants_are_skipped_with_one_line_saying_how_to_run_them() {
        let url = format!(
            "postgres://postgres:secret@127.0.0.1:{}/postgres",
            closed_port()
        );
        let PostgresDecision::Skip(line) = decide_postgres(&url, false) else {
            panic!("expected a skip");
        };
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("TEST_POSTGRES_URL=postgres://"), "{line}");
        assert!(
            !line.contains("secret"),
            "the password is not printed: {line}"
        );
    }

    #[test]
    fn in_ci_a_missing_server_is_a_failure_never_a_skip() {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", closed_port());
        let decision = decide_postgres(&url, true);
        assert!(
            matches!(&decision, PostgresDecision::Fail(m) if m.contains("CI")),
            "{decision:?}"
        );
    }

    #[test]
    fn a_listening_server_runs_them() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        assert_eq!(decide_postgres(&url, false), PostgresDecision::Run);
        assert_eq!(decide_postgres(&url, true), PostgresDecision::Run);
    }

    #[test]
    fn a_url_without_a_tcp_host_runs_them_so_the_real_error_shows() {
        let url = "postgres:///postgres?host=/var/run/postgresql";
        assert_eq!(decide_postgres(url, true), PostgresDecision::Run);
    }

    #[test]
    fn postgres_addresses_read_host_port_userinfo_and_ipv6() {
        let one = |url: &str| postgres_addresses(url).map(|a| a[0].to_string());
        assert_eq!(
            one("postgres://u:p@ss@127.0.0.1:6543/db?sslmode=disable").as_deref(),
            Some("127.0.0.1:6543")
        );
        assert_eq!(
            one("postgresql://127.0.0.1/db").as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            one("postgres://u@[::1]:5433/db").as_deref(),
            Some("[::1]:5433")
        );
        assert_eq!(one("postgres://u@[::1]/db").as_deref(), Some("[::1]:5432"));
        assert_eq!(one("postgres://u@127.0.0.1:notaport/db"), None);
        assert_eq!(one("postgres:///db?host=/var/run/postgresql"), None);
    }
}
