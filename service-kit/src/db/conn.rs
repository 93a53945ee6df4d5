//! One connection type over both backends, and the macro that runs diesel code on it.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::{Backend, DatabaseUrl};

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

impl DbConn {
    /// Opens a connection, reporting the backend's own error (not a generic "invalid URL").
    pub fn establish(url: &DatabaseUrl) -> Result<DbConn, diesel::ConnectionError> {
        match url.backend() {
            Backend::Postgres => {
                openssl_without_exit_cleanup();
                let mut conn = PgConnection::establish(url.as_str())?;
                // No JIT compilation: every statement of these services is an index lookup
                // of well under a millisecond, and PostgreSQL decides to compile from the
                // estimated cost alone, which a table without statistics yet (just after a
                // bulk load, before autovacuum analyzes it) inflates: the page statement was
                // then compiled on every call, 30-40 ms each (measured at 1 000 000 posts).
                conn.batch_execute("SET jit = off")
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Pg(conn))
            }
            Backend::Sqlite => {
                let path = url.sqlite_path();
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
