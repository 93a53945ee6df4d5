//! Test support shared by the services' black-box tests: a fresh database per test on
//! either backend, and a macro that runs one test body on both.

use crate::db::{sqlite_path, Backend, DbConn};
use diesel::RunQueryDsl;

/// Server used for PostgreSQL tests; `TEST_POSTGRES_URL` overrides it. Each test creates its
/// own uniquely named database there and drops it afterwards.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, empty database, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Creates an empty database on `backend`. Panics (failing the test) when PostgreSQL is
    /// not reachable: a PostgreSQL test that cannot reach its server must not pass.
    pub fn create(backend: Backend, label: &str) -> TestDatabase {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("{label}-test-{unique}"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                TestDatabase {
                    url: format!("sqlite://{}/{label}.db", dir.display()),
                    cleanup: Cleanup::Dir(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string());
                let name = format!("{label}_test_{unique}").replace('-', "_");
                let mut admin = DbConn::establish(&admin_url).unwrap_or_else(|e| {
                    panic!("PostgreSQL tests need a server at {admin_url} (set TEST_POSTGRES_URL): {e}")
                });
                crate::with_conn!(&mut admin, |c| diesel::sql_query(format!(
                    "CREATE DATABASE \"{name}\""
                ))
                .execute(c))
                .expect("create test database");
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin_url);
                TestDatabase {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
        }
    }

    /// The SQLite file path, or `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<&str> {
        matches!(self.cleanup, Cleanup::Dir(_)).then(|| sqlite_path(&self.url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = DbConn::establish(admin_url) {
                    let _ = crate::with_conn!(&mut admin, |c| diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(c));
                }
            }
        }
    }
}

/// Runs each test body once on SQLite and once on PostgreSQL, as `sqlite::name` and
/// `postgres::name`. The body sees the backend under the given name:
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
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
        format!(
            "{scheme}://{}127.0.0.1:{}/{path}",
            userinfo.unwrap_or_default(),
            self.port
        )
    }
}
