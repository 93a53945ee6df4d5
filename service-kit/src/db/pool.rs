//! The pool: connections opened from a checked [`DatabaseUrl`], handed to blocking tasks
//! one permit at a time, never on an actix worker thread.

use std::time::{Duration, Instant};

use diesel::r2d2::R2D2Connection;

use super::{Backend, DatabaseUrl, DbConn, DbError};
use crate::with_conn;

/// r2d2 manager: opens connections to one checked URL, on its backend.
pub struct DbManager {
    url: DatabaseUrl,
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
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
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
    let (set, keyword_form) = super::url::postgres_settings(url);
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
            if keyword_form {
                url.push(' ');
            } else {
                url.push(if url.contains('?') { '&' } else { '?' });
            }
            url.push_str(&format!("{key}={value}"));
        }
    }
    url
}

impl Db {
    /// Builds the pool without connecting, so a service can start (and report not ready)
    /// while its database is down.
    pub fn new(options: &DbOptions) -> Db {
        let backend = options.url.backend();
        let url = match backend {
            Backend::Postgres => options.url.rewritten(with_postgres_timeouts(
                options.url.as_str(),
                options.acquire_timeout,
            )),
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
        // libpq's host lists and keyword strings: theirs kept, ours added in their form.
        let url = with_postgres_timeouts(
            "postgres://u@db1:5432,db2:5432/db?target_session_attrs=read-write&connect_timeout=2",
            Duration::from_secs(3),
        );
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
        assert!(
            url.contains("read-write&connect_timeout=2&keepalives=1"),
            "{url}"
        );
        let url = with_postgres_timeouts(
            "host=db1,db2 dbname=db connect_timeout=2",
            Duration::from_secs(3),
        );
        assert!(
            url.starts_with("host=db1,db2 dbname=db connect_timeout=2 keepalives=1 "),
            "{url}"
        );
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
    }
}
