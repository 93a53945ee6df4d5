//! One connection type for both backends, a pool of it, and migrations.
//!
//! SQLite is the embedded default; a `postgres://` URL selects PostgreSQL. Store code is
//! written once against diesel's DSL and expanded for each backend by [`with_conn!`], so
//! every query (upserts included) runs on the concrete connection type.

use std::path::Path;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Picks the backend from the URL scheme: `postgres://` / `postgresql://` or `sqlite://`
    /// (a bare file path is taken as SQLite too). A URL [`DatabaseUrl::parse`] refuses is
    /// taken as SQLite here: check it first.
    pub fn of_url(url: &str) -> Backend {
        DatabaseUrl::parse(url).map_or(Backend::Sqlite, |u| u.backend())
    }
}

/// A database URL checked at start: `postgres://…` / `postgresql://…`, `sqlite://FILE`,
/// `sqlite:FILE`, or a plain file path (SQLite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    url: String,
}

/// Why a database URL is refused. Every message shows the URL with its password masked.
#[derive(Debug, thiserror::Error)]
pub enum DbUrlError {
    #[error("is empty: give sqlite://FILE, a file path, or postgres://USER@HOST/DB")]
    Empty,
    #[error(
        "scheme `{scheme}` must be written in lower case (`{}://`) in {url}",
        scheme.to_lowercase()
    )]
    UpperCaseScheme { scheme: String, url: String },
    #[error(
        "unsupported scheme `{scheme}` in {url}: use postgres://, postgresql://, sqlite://FILE \
         or a file path"
    )]
    UnsupportedScheme { scheme: String, url: String },
    #[error("`{scheme}:` must be followed by `//` (`{scheme}://USER@HOST/DB`)")]
    NoSlashes { scheme: String },
    #[error("{url} is not a PostgreSQL URL: {source}")]
    InvalidPostgres {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "{url} is an in-memory SQLite database: each pooled connection would get its own \
         empty database; name a file"
    )]
    InMemory { url: String },
    #[error("{url} names no SQLite file")]
    NoSqliteFile { url: String },
}

impl DatabaseUrl {
    /// Checks a database URL and picks its backend.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, DbUrlError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DbUrlError::Empty);
        }
        let sqlite = |path: &str| {
            if path.is_empty() {
                Err(DbUrlError::NoSqliteFile { url: masked(raw) })
            } else if path == ":memory:" || path.starts_with("file::memory:") {
                Err(DbUrlError::InMemory { url: masked(raw) })
            } else {
                Ok(DatabaseUrl {
                    backend: Backend::Sqlite,
                    url: raw.to_owned(),
                })
            }
        };
        let parsed = match url::Url::parse(text) {
            // No scheme: a file path (`data/auth.db`, `/var/lib/auth.db`, `:memory:`).
            Err(url::ParseError::RelativeUrlWithoutBase) => return sqlite(text),
            other => other,
        };
        // `Url` lower-cases the scheme; the services' drivers do not, so read it as written.
        let scheme = text.split(':').next().unwrap_or_default();
        let lower = scheme.to_ascii_lowercase();
        if !matches!(lower.as_str(), "postgres" | "postgresql" | "sqlite") {
            return Err(DbUrlError::UnsupportedScheme {
                scheme: scheme.to_owned(),
                url: masked(raw),
            });
        }
        if scheme != lower {
            return Err(DbUrlError::UpperCaseScheme {
                scheme: scheme.to_owned(),
                url: masked(raw),
            });
        }
        if lower == "sqlite" {
            return sqlite(sqlite_path(text));
        }
        match parsed {
            Ok(_) if text.starts_with(&format!("{scheme}://")) => Ok(DatabaseUrl {
                backend: Backend::Postgres,
                url: raw.to_owned(),
            }),
            Ok(_) => Err(DbUrlError::NoSlashes {
                scheme: scheme.to_owned(),
            }),
            Err(source) => Err(DbUrlError::InvalidPostgres {
                url: masked(raw),
                source,
            }),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Display for DatabaseUrl {
    /// The URL with its password masked, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&masked(&self.url))
    }
}

/// `url` with any password (`user:password@`, `?password=`) replaced by `***`.
pub fn masked(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("***"));
        }
        if parsed.query_pairs().any(|(k, _)| k == "password") {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        "***".into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string();
    }
    // Not a URL `Url` reads (a bad port, say): mask between the user and the `@` anyway.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{scheme}://{}:***{}{tail}",
            &authority[..colon],
            &authority[at..]
        ),
        _ => url.to_owned(),
    }
}

/// A connection to either backend.
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel code on whichever concrete connection `$conn` (a `&mut DbConn`) holds.
/// The body is compiled once per backend, so it may use anything diesel's DSL offers.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// The file path a SQLite URL names (`sqlite://data/auth.db` → `data/auth.db`).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

impl DbConn {
    /// Opens a connection, reporting the backend's own error (not a generic "invalid URL").
    pub fn establish(url: &str) -> Result<DbConn, diesel::ConnectionError> {
        match Backend::of_url(url) {
            Backend::Postgres => {
                openssl_without_exit_cleanup();
                PgConnection::establish(url).map(DbConn::Pg)
            }
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = Path::new(path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            diesel::ConnectionError::BadConnection(format!(
                                "cannot create directory {}: {e}",
                                dir.display()
                            ))
                        })?;
                    }
                }
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the single writer; busy_timeout makes writers
                // queue instead of failing with SQLITE_BUSY.
                // busy_timeout first, so the other pragmas wait for a busy database too.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies the embedded migrations of the connection's backend. On PostgreSQL an advisory
    /// lock (keyed by `lock_key`) serialises replicas that start together.
    pub fn run_migrations(
        &mut self,
        postgres: EmbeddedMigrations,
        sqlite: EmbeddedMigrations,
        lock_key: i64,
    ) -> Result<Vec<String>, MigrationError> {
        fn names(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
            v.into_iter().map(|m| m.to_string()).collect()
        }
        match self {
            DbConn::Pg(c) => {
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<BigInt, _>(lock_key)
                    .execute(c)
                    .map_err(MigrationError::Lock)?;
                let result = c.run_pending_migrations(postgres).map(names);
                let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<BigInt, _>(lock_key)
                    .execute(c);
                let applied = result.map_err(MigrationError::Apply)?;
                unlock.map_err(MigrationError::Unlock)?;
                Ok(applied)
            }
            DbConn::Sqlite(c) => c
                .run_pending_migrations(sqlite)
                .map(names)
                .map_err(MigrationError::Apply),
        }
    }
}

/// Why migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot take the migration lock: {0}")]
    Lock(#[source] diesel::result::Error),
    #[error("cannot release the migration lock: {0}")]
    Unlock(#[source] diesel::result::Error),
    #[error("{0}")]
    Apply(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Initialises OpenSSL (which libpq uses for TLS and SCRAM) so that it registers no `atexit`
/// clean-up; called before the first PostgreSQL connection, as the first initialisation decides.
///
/// By default OpenSSL 3 frees its global state (locks, algorithm tables, random generators) in
/// an `atexit` handler, `OPENSSL_cleanup`, which runs on the main thread once `main` returns. Other
/// threads may still be inside libpq then, and nothing in the process can wait for all of them:
/// r2d2's own threads opening a connection for the pool (TLS handshake, SCRAM's HMACs), and
/// blocking tasks whose query outlived a forced shutdown. Core dumps of services that crashed on
/// SIGTERM under load (`bench/shutdown_stress.py`) show exactly that: the main thread in
/// `exit` → `OPENSSL_cleanup`, and an `r2d2-worker` thread in `PQconnectdb` → SCRAM →
/// `HMAC_Init_ex` / `RAND_status` faulting on a lock `OPENSSL_cleanup` had just freed (or the
/// main thread faulting in it, whichever touched the freed state first). Without the handler the
/// memory is returned by the kernel at exit and threads still in libpq just stop. This is what the
/// `openssl` crate does for every Rust program that uses it (`OPENSSL_INIT_NO_ATEXIT`).
pub fn openssl_without_exit_cleanup() {
    openssl_sys::init();
}

/// r2d2 manager that picks the backend from the URL scheme.
pub struct DbManager {
    url: String,
}

/// A pooled connection, with when it last proved alive.
pub struct PoolConn {
    pub conn: DbConn,
    verified_at: Instant,
}

/// A connection that answered this recently is handed out without a `SELECT 1` first: under
/// load every request then costs one round trip (its query), not two. A connection that
/// failed is not marked, so the next checkout checks it and the pool replaces it if dead.
const TRUSTED_FOR: Duration = Duration::from_secs(2);

impl r2d2::ManageConnection for DbManager {
    type Connection = PoolConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PoolConn, Self::Error> {
        let conn = DbConn::establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        Ok(PoolConn {
            conn,
            verified_at: Instant::now(),
        })
    }

    fn is_valid(&self, pooled: &mut PoolConn) -> Result<(), Self::Error> {
        if pooled.verified_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        with_conn!(&mut pooled.conn, |c| c.ping()).map_err(diesel::r2d2::Error::QueryError)?;
        pooled.verified_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut PoolConn) -> bool {
        with_conn!(&mut pooled.conn, |c| c.is_broken())
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
}

/// Failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Every connection stayed busy for the acquire timeout (`DATABASE_TIMEOUT_SECONDS`).
    #[error("database unavailable: timed out waiting for a database connection")]
    Saturated,
    /// The pool could not open a connection in time (the database is down or unreachable);
    /// r2d2's error carries the last connection error.
    #[error("database unavailable: {0}")]
    Pool(#[source] r2d2::Error),
    /// The blocking task that ran the work failed (it panicked, or the runtime is stopping).
    #[error("database unavailable: database task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl DbError {
    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// Whether the error is a foreign-key violation.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        )
    }
}

impl DbError {
    /// Whether the failure is the database's state (down, lost connection, locked), not the
    /// request's: the client may retry later.
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Saturated | DbError::Pool(_) | DbError::Task(_) => true,
            DbError::Query(Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
                ) || {
                    let m = info.message();
                    // SQLite under write contention past busy_timeout; PostgreSQL shutting down.
                    m.contains("database is locked")
                        || m.contains("database is busy")
                        || m.contains("terminating connection")
                        || m.contains("server closed the connection")
                }
            }
            // A connection lost mid-transaction can surface as a failed rollback.
            DbError::Query(
                Error::BrokenTransactionManager
                | Error::RollbackErrorOnCommit { .. }
                | Error::AlreadyInTransaction,
            ) => true,
            DbError::Query(_) => false,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        if e.is_transient() {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

/// A pool of connections to one database, used from async handlers through [`Db::run`].
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<DbManager>,
    backend: Backend,
    /// One permit per pooled connection: requests wait here, asynchronously, rather than
    /// each holding a blocking thread while it waits for a connection.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    acquire_timeout: Duration,
    /// Requests waiting for a permit (for [`Db::stats`]).
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// What the pool holds now (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Connections open (in use or idle).
    pub open: u32,
    /// Connections checked out by a request.
    pub in_use: u32,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// Counts a request as waiting for a connection while it lives (a request cancelled while
/// it waits is uncounted too).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a std::sync::atomic::AtomicUsize) -> Self {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Client settings added to a PostgreSQL URL unless it sets them: connecting gives up after
/// the acquire timeout, and a peer that vanishes without closing is noticed in seconds
/// rather than minutes. The URL is otherwise passed on exactly as written.
fn with_postgres_timeouts(url: &str, acquire_timeout: Duration) -> String {
    let set: Vec<String> = url::Url::parse(url)
        .map(|u| u.query_pairs().map(|(k, _)| k.into_owned()).collect())
        .unwrap_or_default();
    let defaults = [
        (
            "connect_timeout",
            acquire_timeout.as_secs().max(1).to_string(),
        ),
        ("keepalives", "1".to_string()),
        ("keepalives_idle", "10".to_string()),
        ("keepalives_interval", "5".to_string()),
        ("keepalives_count", "3".to_string()),
        ("tcp_user_timeout", "15000".to_string()),
    ];
    let mut url = url.to_string();
    for (key, value) in defaults {
        if !set.iter().any(|k| k == key) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{key}={value}"));
        }
    }
    url
}

impl Db {
    /// Builds the pool without connecting, so a service can start (and report not ready)
    /// while its database is down.
    pub fn new(options: &DbOptions) -> Db {
        let backend = Backend::of_url(&options.url);
        let url = match backend {
            Backend::Postgres => with_postgres_timeouts(&options.url, options.acquire_timeout),
            Backend::Sqlite => options.url.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(DbManager { url });
        Db {
            pool,
            backend,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(
                options.max_connections as usize,
            )),
            acquire_timeout: options.acquire_timeout,
            waiting: Default::default(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections open, in use, and requests waiting for one.
    pub fn stats(&self) -> PoolStats {
        let state = self.pool.state();
        PoolStats {
            max_connections: self.pool.max_size(),
            open: state.connections,
            in_use: state.connections.saturating_sub(state.idle_connections),
            waiting: self.waiting.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Takes a connection from the pool, waiting at most the acquire timeout.
    pub fn get(&self) -> Result<r2d2::PooledConnection<DbManager>, DbError> {
        self.pool.get().map_err(DbError::Pool)
    }

    /// [`Db::run`] for a handler: the work's own error (a [`DbError`] from the store, say)
    /// becomes the HTTP answer's [`ApiError`].
    pub async fn query<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
    {
        self.run(move |conn| f(conn).map_err(ApiError::from)).await
    }

    /// Runs blocking database work on the blocking thread pool, never on an actix worker.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let waiting = Waiting::new(&self.waiting);
        let acquired = tokio::time::timeout(
            self.acquire_timeout,
            std::sync::Arc::clone(&self.permits).acquire_owned(),
        )
        .await;
        drop(waiting);
        let permit = match acquired {
            Ok(Ok(permit)) => permit,
            _ => return Err(E::from(DbError::Saturated)),
        };
        let db = self.clone();
        match actix_web::rt::task::spawn_blocking(move || {
            let _permit = permit;
            let mut pooled = db.get()?;
            let result = f(&mut pooled.conn);
            if result.is_ok() {
                pooled.verified_at = Instant::now();
            }
            result
        })
        .await
        {
            Ok(result) => result,
            Err(join) => Err(E::from(DbError::Task(join))),
        }
    }

    /// Whether a connection can be had and answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        self.run(|conn| {
            with_conn!(conn, |c| c.ping())
                .map_err(DbError::from)
                .map(|_| ())
        })
        .await
        .is_ok()
    }
}

#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<diesel::r2d2::Error> for LogErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        log::warn!("database connection failed: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_timeouts_unless_they_set_them() {
        let url = with_postgres_timeouts("postgres://u@h/db", Duration::from_secs(3));
        assert!(url.starts_with("postgres://u@h/db?connect_timeout=3&keepalives=1"));
        let url = with_postgres_timeouts(
            "postgres://u@h/db?connect_timeout=9",
            Duration::from_secs(3),
        );
        assert!(url.contains("connect_timeout=9&keepalives=1"));
        assert_eq!(url.matches("connect_timeout").count(), 1);
        // A key that only ends like one of ours is not taken for it.
        let url =
            with_postgres_timeouts("postgres://u@h/db?x_keepalives=0", Duration::from_secs(3));
        assert!(url.contains("&keepalives=1"), "{url}");
    }

    #[test]
    fn accepted_database_urls_pick_their_backend() {
        for (url, backend) in [
            ("postgres://u:p@h:5432/db", Backend::Postgres),
            ("postgresql://u@h/db?sslmode=require", Backend::Postgres),
            ("postgres:///db?host=/run/postgresql", Backend::Postgres),
            ("sqlite://data/auth.db", Backend::Sqlite),
            ("sqlite:///var/lib/auth.db", Backend::Sqlite),
            ("sqlite:data/auth.db", Backend::Sqlite),
            ("data/auth.db", Backend::Sqlite),
            ("/var/lib/auth.db", Backend::Sqlite),
        ] {
            let parsed = DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.backend(), backend, "{url}");
            assert_eq!(parsed.as_str(), url);
        }
    }

    #[test]
    fn refused_database_urls_say_why_with_the_password_masked() {
        for (url, expected) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("POSTGRES://u:secret@h/db", "lower case"),
            ("Sqlite://x.db", "lower case"),
            (
                "postgress://u:secret@h/db",
                "unsupported scheme `postgress`",
            ),
            ("mysql://u:secret@h/db", "unsupported scheme `mysql`"),
            ("http://u:secret@h/db", "unsupported scheme `http`"),
            ("postgres:u:secret@h/db", "must be followed by `//`"),
            ("postgres://u:secret@h:port/db", "not a PostgreSQL URL"),
            ("sqlite://:memory:", "in-memory"),
            (":memory:", "in-memory"),
            ("sqlite://", "names no SQLite file"),
        ] {
            let err = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: password shown: {err}");
            assert!(!err.contains('\n'), "{url}: one line: {err}");
        }
    }

    #[test]
    fn masking_hides_passwords_in_the_user_part_and_the_query() {
        assert_eq!(masked("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            masked("postgres://u@h/db?password=pw&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            masked("postgres://u:pw@h:bad/db"),
            "postgres://u:***@h:bad/db"
        );
        assert_eq!(masked("sqlite://data/auth.db"), "sqlite://data/auth.db");
    }
}
