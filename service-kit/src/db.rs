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
    /// (a bare file path is taken as SQLite too).
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
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
    ) -> Result<Vec<String>, String> {
        fn names(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
            v.into_iter().map(|m| m.to_string()).collect()
        }
        match self {
            DbConn::Pg(c) => {
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<BigInt, _>(lock_key)
                    .execute(c)
                    .map_err(|e| format!("cannot take the migration lock: {e}"))?;
                let result = c.run_pending_migrations(postgres).map(names);
                let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<BigInt, _>(lock_key)
                    .execute(c);
                let applied = result.map_err(|e| e.to_string())?;
                unlock.map_err(|e| format!("cannot release the migration lock: {e}"))?;
                Ok(applied)
            }
            DbConn::Sqlite(c) => c
                .run_pending_migrations(sqlite)
                .map(names)
                .map_err(|e| e.to_string()),
        }
    }
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
    /// No connection could be had in time (database down, or pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
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
            DbError::Unavailable(_) => true,
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
            ApiError::unavailable(e.to_string())
        } else {
            ApiError::Internal(format!("database error: {e}"))
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
}

/// Client settings added to a PostgreSQL URL unless it sets them: connecting gives up after
/// the acquire timeout, and a peer that vanishes without closing is noticed in seconds
/// rather than minutes.
fn with_postgres_timeouts(url: &str, acquire_timeout: Duration) -> String {
    let mut url = url.to_string();
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
    for (key, value) in defaults {
        if !url.contains(&format!("{key}=")) {
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
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Takes a connection from the pool, waiting at most the acquire timeout.
    pub fn get(&self) -> Result<r2d2::PooledConnection<DbManager>, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Runs blocking database work on the blocking thread pool, never on an actix worker.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let permit = match tokio::time::timeout(
            self.acquire_timeout,
            std::sync::Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(E::from(DbError::Unavailable(
                    "timed out waiting for a database connection".into(),
                )))
            }
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
            Err(join) => Err(E::from(DbError::Unavailable(format!(
                "database task failed: {join}"
            )))),
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
    }
}
