//! Test support shared by the services' black-box tests: a fresh database per test on
//! either backend, a macro that runs one test body on both, the decision whether this run's
//! PostgreSQL variants run at all, and a proxy that cuts a service off from its database.
//!
//! Compiled only with the `testing` feature, which the crates' `[dev-dependencies]` switch
//! on: a release build of a service does not contain it.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::db::{sqlite_path, Backend, DbConn};
use diesel::RunQueryDsl;

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

/// A database of its own for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
    /// The template this database was cloned from, kept while any clone lives (dropped after
    /// `cleanup` has run: fields drop in order).
    _template: Option<Arc<Template>>,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Creates an empty database on `backend`. Panics (failing the test) when PostgreSQL is
    /// not reachable: a test that creates one outside [`backend_tests!`](crate::backend_tests)
    /// checks [`postgres_tests_run`] first.
    pub fn create(backend: Backend, label: &str) -> TestDatabase {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("{label}-test-{unique}"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                TestDatabase {
                    url: format!("sqlite://{}/{label}.db", dir.display()),
                    cleanup: Cleanup::Dir(dir),
                    _template: None,
                }
            }
            Backend::Postgres => {
                let name = format!("{label}_test_{unique}").replace('-', "_");
                let admin_url = postgres_admin_url();
                admin_execute(&admin_url, &format!("CREATE DATABASE \"{name}\""));
                TestDatabase {
                    url: database_url(&admin_url, &name),
                    cleanup: Cleanup::Postgres { admin_url, name },
                    _template: None,
                }
            }
        }
    }

    /// An empty PostgreSQL database for a test that runs on PostgreSQL only, or `None` when
    /// this run's PostgreSQL variants are skipped (see [`postgres_tests_run`]): the test
    /// returns then.
    pub fn postgres(label: &str) -> Option<TestDatabase> {
        postgres_tests_run().then(|| TestDatabase::create(Backend::Postgres, label))
    }

    /// A database on `backend` with the service's migrations already applied. On PostgreSQL
    /// it is a copy (`CREATE DATABASE ... TEMPLATE`) of a template that `migrate` migrated
    /// once for this `label` and test binary: copying is cheaper than migrating each test's
    /// database. The template is dropped with the last database copied from it, so a run
    /// leaves no database behind. On SQLite it is an empty file the service migrates when it
    /// starts, as before.
    ///
    /// `migrate` receives the template's URL and must close its connections when done
    /// (any left open are ended before the template is copied).
    pub async fn create_migrated<F, Fut>(backend: Backend, label: &str, migrate: F) -> TestDatabase
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if backend == Backend::Sqlite {
            return TestDatabase::create(backend, label);
        }
        let template = Template::for_label(label, migrate).await;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{label}_test_{unique}").replace('-', "_");
        admin_execute(
            &template.admin_url,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{}\"", template.name),
        );
        TestDatabase {
            url: database_url(&template.admin_url, &name),
            cleanup: Cleanup::Postgres {
                admin_url: template.admin_url.clone(),
                name,
            },
            _template: Some(template),
        }
    }

    /// The SQLite file path, or `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<&str> {
        matches!(self.cleanup, Cleanup::Dir(_)).then(|| sqlite_path(&self.url))
    }

    /// This database's URL with `sslmode=require` (libpq then connects over TLS or not at
    /// all), whatever parameters the server's URL already has.
    pub fn url_requiring_tls(&self) -> String {
        let mut url = url::Url::parse(&self.url).expect("a PostgreSQL URL");
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "sslmode")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("sslmode", "require");
        url.into()
    }

    /// Asserts that this PostgreSQL database has connections now and that every one uses
    /// TLS (from `pg_stat_ssl`).
    pub fn assert_every_connection_uses_tls(&self) {
        let (total, tls) = self.tls_connections().expect("a PostgreSQL database");
        assert!(
            total > 0 && tls == total,
            "{tls} of {total} connections use TLS"
        );
    }

    /// On PostgreSQL, the connections to this database now and how many of them use TLS
    /// (from `pg_stat_ssl`); `None` on SQLite.
    pub fn tls_connections(&self) -> Option<(i64, i64)> {
        #[derive(diesel::QueryableByName)]
        struct TlsCount {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            total: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            tls: i64,
        }
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return None;
        };
        let mut admin = admin_connection(admin_url).expect("the PostgreSQL test server");
        let count: TlsCount = crate::with_conn!(&mut admin, |c| diesel::sql_query(
            "SELECT count(*) AS total, count(*) FILTER (WHERE s.ssl) AS tls \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1"
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(c))
        .expect("pg_stat_ssl is readable");
        Some((count.total, count.tls))
    }
}

/// A migrated PostgreSQL database that test databases are copied from; dropped (on the
/// server too) when the last [`TestDatabase`] copied from it is.
struct Template {
    admin_url: String,
    name: String,
}

impl Template {
    /// The live template of `label`, or a new one `migrate` has just migrated. One lock
    /// serialises the creation, so the tests of a binary that start together share one
    /// template; each test binary makes its own, under a unique name, so binaries running at
    /// the same time never wait for, or copy from, a template another is still migrating.
    async fn for_label<F, Fut>(label: &str, migrate: F) -> Arc<Template>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        static LIVE: tokio::sync::Mutex<Vec<(String, Weak<Template>)>> =
            tokio::sync::Mutex::const_new(Vec::new());
        let mut live = LIVE.lock().await;
        live.retain(|(_, template)| template.strong_count() > 0);
        if let Some(template) = live
            .iter()
            .find(|(l, _)| l == label)
            .and_then(|(_, template)| template.upgrade())
        {
            return template;
        }
        let admin_url = postgres_admin_url();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{label}_template_{unique}").replace('-', "_");
        admin_execute(&admin_url, &format!("CREATE DATABASE \"{name}\""));
        let template = Arc::new(Template { admin_url, name });
        migrate(database_url(&template.admin_url, &template.name)).await;
        // A copy fails while anyone is connected to its template: end any connection the
        // migration left open, and let none in from now on.
        admin_execute(
            &template.admin_url,
            &format!(
                "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false",
                name = template.name
            ),
        );
        admin_execute(
            &template.admin_url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                template.name
            ),
        );
        live.push((label.to_owned(), Arc::downgrade(&template)));
        template
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        drop_database(&self.admin_url, &self.name);
    }
}

/// Runs one statement on the test server's admin database, panicking (failing the test)
/// with the server's error.
fn admin_execute(admin_url: &str, statement: &str) {
    let mut admin = admin_connection(admin_url).unwrap_or_else(|e| {
        panic!("PostgreSQL tests need a server at {admin_url} (set TEST_POSTGRES_URL): {e}")
    });
    crate::with_conn!(&mut admin, |c| diesel::sql_query(statement).execute(c))
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// A connection to the test server's admin database.
fn admin_connection(admin_url: &str) -> Result<DbConn, String> {
    let url: crate::DatabaseUrl = admin_url.parse().map_err(|e| format!("{e}"))?;
    DbConn::establish(&url).map_err(|e| e.to_string())
}

fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = admin_connection(admin_url) {
        let _ = crate::with_conn!(&mut admin, |c| diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        ))
        .execute(c));
    }
}

/// The URL of database `name` on the server of `admin_url`.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(name);
    url.into()
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => drop_database(admin_url, name),
        }
    }
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

/// A TCP proxy a test controls, to cut a service off from its database and restore it.
pub struct CuttableProxy {
    pub port: u16,
    state: std::sync::Arc<ProxyState>,
}

struct ProxyState {
    /// Bumped by every cut: connections from an older generation close.
    generation: std::sync::atomic::AtomicU64,
    cut: std::sync::atomic::AtomicBool,
    changed: tokio::sync::Notify,
}

impl CuttableProxy {
    /// Starts forwarding to the server a `postgres://` URL names (the test server's, from
    /// `TEST_POSTGRES_URL`, wherever it runs).
    pub async fn in_front_of(url: &str) -> CuttableProxy {
        let target = postgres_addresses(url)
            .and_then(|addrs| addrs.into_iter().next())
            .unwrap_or_else(|| panic!("no TCP host and port in the database URL"));
        CuttableProxy::start(target).await
    }

    /// Starts forwarding `127.0.0.1:<port>` to `target` (on the current runtime).
    pub async fn start(target: std::net::SocketAddr) -> CuttableProxy {
        use std::sync::atomic::Ordering;
        use std::sync::Arc;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState {
            generation: 0.into(),
            cut: false.into(),
            changed: tokio::sync::Notify::new(),
        });
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if shared.cut.load(Ordering::SeqCst) {
                    drop(inbound); // refused while cut
                    continue;
                }
                let generation = shared.generation.load(Ordering::SeqCst);
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    loop {
                        let notified = state.changed.notified();
                        if state.generation.load(Ordering::SeqCst) != generation {
                            return; // cut: both sockets close
                        }
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                            _ = notified => continue,
                        }
                    }
                });
            }
        });
        CuttableProxy { port, state }
    }

    /// Closes every open connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        use std::sync::atomic::Ordering;
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        self.state.changed.notify_waiters();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.state
            .cut
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by this proxy's (for `postgres://` URLs).
    pub fn route(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).expect("a URL with a host");
        url.set_port(Some(self.port)).expect("a URL with a host");
        url.into()
    }
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

    #[test]
    fn a_tls_url_replaces_any_sslmode_and_keeps_the_other_parameters() {
        let db = TestDatabase {
            url: "postgres://u@127.0.0.1/t_1?sslmode=disable&application_name=x".into(),
            cleanup: Cleanup::Dir(std::env::temp_dir().join("never-created-tls-url-test")),
            _template: None,
        };
        assert_eq!(
            db.url_requiring_tls(),
            "postgres://u@127.0.0.1/t_1?application_name=x&sslmode=require"
        );
    }

    #[test]
    fn a_test_database_url_keeps_the_servers_parameters() {
        assert_eq!(
            database_url(
                "postgres://u:p@127.0.0.1:5433/postgres?sslmode=require",
                "t_1"
            ),
            "postgres://u:p@127.0.0.1:5433/t_1?sslmode=require"
        );
    }
}
