//! One connection type for both backends, a pool of it, and migrations.
//!
//! SQLite is the embedded default; a `postgres://` URL selects PostgreSQL. Store code is
//! written once against diesel's DSL and expanded for each backend by [`with_conn!`], so
//! every query (upserts included) runs on the concrete connection type.

use std::path::Path;
use std::time::Duration;

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
            Backend::Postgres => PgConnection::establish(url).map(DbConn::Pg),
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
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
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

/// r2d2 manager that picks the backend from the URL scheme.
pub struct DbManager {
    url: String,
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        DbConn::establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        with_conn!(conn, |c| c.ping()).map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        with_conn!(conn, |c| c.is_broken())
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

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            DbError::Unavailable(cause) => ApiError::unavailable(cause),
            DbError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            )) => ApiError::unavailable(info.message().to_string()),
            DbError::Query(other) => ApiError::Internal(format!("database error: {other}")),
        }
    }
}

/// A pool of connections to one database, used from async handlers through [`Db::run`].
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<DbManager>,
    backend: Backend,
}

impl Db {
    /// Builds the pool without connecting, so a service can start (and report not ready)
    /// while its database is down.
    pub fn new(options: &DbOptions) -> Db {
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(DbManager {
                url: options.url.clone(),
            });
        Db {
            pool,
            backend: Backend::of_url(&options.url),
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
        let db = self.clone();
        match actix_web::rt::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
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
