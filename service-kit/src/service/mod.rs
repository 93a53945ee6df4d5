//! The skeleton every service is built on. A service says what is its own (name, migrations,
//! body limit, the state its handlers share, routes, OpenAPI document, what it must have
//! before it serves) by implementing [`Service`]; [`build`], [`migrate`] and [`main`] do the
//! rest the same way for all: check the database URL, bind, build the state, migrate, wait
//! until it can serve, listen, serve, and the binary's subcommands ([`command`]).

pub mod command;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use actix_web::web;
use diesel_migrations::EmbeddedMigrations;
use futures_util::future::BoxFuture;

pub use command::{main, run_command, Command};

use crate::config::CommonArgs;
use crate::db::{DbUrlError, MigrationError};
use crate::error::Cause;
use crate::http::BoundServer;
use crate::{Db, DbConn};

/// A service's embedded migrations, and the PostgreSQL advisory lock key under which its
/// replicas apply them one at a time.
pub struct Migrations {
    pub postgres: EmbeddedMigrations,
    pub sqlite: EmbeddedMigrations,
    pub lock_key: i64,
}

/// [`Migrations`] from one folder of SQL that means the same to SQLite and PostgreSQL (a
/// small service's tables often do): `portable_migrations!("migrations", LOCK_KEY)`. The
/// calling crate depends on `diesel_migrations`, as for `embed_migrations!`.
#[macro_export]
macro_rules! portable_migrations {
    ($folder:literal, $lock_key:expr) => {
        $crate::service::Migrations {
            postgres: diesel_migrations::embed_migrations!($folder),
            sqlite: diesel_migrations::embed_migrations!($folder),
            lock_key: $lock_key,
        }
    };
}

/// What a service built for its handlers, the tasks that keep it current, and what it waits
/// for before it listens.
pub struct Started<S> {
    pub state: S,
    /// Spawned after the migrations, before the service listens (they may fetch what
    /// [`Started::ready`] waits for), and kept running while the service serves.
    pub background: Vec<BoxFuture<'static, ()>>,
    pub ready: Option<Ready>,
}

/// What a service needs before it can serve (for posts: the token keys and the list of
/// ended sessions, fetched from the auth service by its background tasks). The service
/// listens (its port is bound from the start) once `until` resolves, or once `within` has
/// passed (then it serves what it can and answers 503 where it cannot): until it listens, a
/// gateway or load balancer that routes to it anyway is refused the connection and tries
/// another replica, instead of getting answers from a replica that cannot give them.
pub struct Ready {
    /// What it waits for, for the log.
    pub what: &'static str,
    pub until: BoxFuture<'static, ()>,
    pub within: std::time::Duration,
}

impl<S> Started<S> {
    /// State with no background task, ready at once.
    pub fn new(state: S) -> Started<S> {
        Started {
            state,
            background: Vec::new(),
            ready: None,
        }
    }
}

/// One service: what differs from the others.
pub trait Service: 'static {
    /// The binary's name, prefixed to its one-line failure messages.
    const NAME: &'static str;
    const MIGRATIONS: Migrations;
    /// Bodies larger than this get 413 before anything else runs.
    const BODY_LIMIT: usize;

    /// The binary's command line (subcommand and settings).
    type Cli: clap::Parser;
    type Config: Clone + Send + 'static;
    /// What handlers share, registered as app data (one `web::Data`, or a tuple of them).
    type State: AppData;

    /// Splits the parsed command line into the subcommand and the settings.
    fn command_line(cli: Self::Cli) -> (Option<Command>, Self::Config);

    /// The settings every service has (its flattened [`CommonArgs`]).
    fn common(config: &Self::Config) -> &CommonArgs;

    /// Checks what clap cannot and builds the handlers' state over `db` (not migrated yet,
    /// and not connected: the pool connects on first use).
    fn state(config: &Self::Config, db: Db) -> Result<Started<Self::State>, StartError>;

    /// Adds the service's routes (the state is registered already).
    const ROUTES: fn(&mut web::ServiceConfig);

    /// The OpenAPI document served at `/openapi.json`.
    fn openapi() -> utoipa::openapi::OpenApi;

    /// Data upkeep that follows the schema migrations, on every start and in the `migrate`
    /// subcommand (for example keys recomputed under a changed rule). Must be idempotent:
    /// replicas may run it at the same time.
    fn after_migrations(conn: &mut DbConn) -> Result<(), MigrationError> {
        let _ = conn;
        Ok(())
    }
}

/// Handler state registered as app data on every worker.
pub trait AppData: Clone + Send + 'static {
    fn register(&self, cfg: &mut web::ServiceConfig);
}

impl<T: ?Sized + 'static + Send + Sync> AppData for web::Data<T> {
    fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.clone());
    }
}

impl<A: AppData, B: AppData> AppData for (A, B) {
    fn register(&self, cfg: &mut web::ServiceConfig) {
        self.0.register(cfg);
        self.1.register(cfg);
    }
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid configuration: {option}: {source}")]
    DatabaseUrl {
        option: &'static str,
        #[source]
        source: DbUrlError,
    },
    #[error(
        "invalid configuration: {option} {}: no such file (a key is generated only at the \
         default path, or when {generate} is set)",
        path.display()
    )]
    MissingKeyFile {
        option: &'static str,
        path: PathBuf,
        generate: &'static str,
    },
    #[error("invalid configuration: {option} {}: {source}", path.display())]
    KeyFile {
        option: &'static str,
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// Keys that could not be loaded or built (see [`StartError::key`]).
    #[error("keys: {0}")]
    Key(#[source] Cause),
    #[error("database migrations failed: {0}")]
    Migrations(#[from] MigrationError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A SIGTERM or SIGINT arrived before the service listened.
    #[error("{0} received before listening: not started")]
    Stopped(&'static str),
}

impl StartError {
    /// [`StartError::Key`] of any error (the token crate's key errors, say).
    pub fn key(source: impl Into<Cause>) -> StartError {
        StartError::Key(source.into())
    }
}

/// The database pool of a service's settings, once `DATABASE_URL` has been checked (the one
/// time it is parsed: the pool opens every connection from the checked URL). Builds the pool
/// without connecting.
pub fn database(common: &CommonArgs) -> Result<Db, StartError> {
    let options = common
        .db_options()
        .map_err(|source| StartError::DatabaseUrl {
            option: "DATABASE_URL",
            source,
        })?;
    Ok(Db::new(&options))
}

/// Applies the service's pending migrations (the `migrate` subcommand, and every start).
pub async fn migrate<S: Service>(db: &Db) -> Result<Vec<String>, StartError> {
    let Migrations {
        postgres,
        sqlite,
        lock_key,
    } = S::MIGRATIONS;
    let applied = db
        .run(move |conn| {
            let applied = conn.run_migrations(postgres, sqlite, lock_key)?;
            S::after_migrations(conn)?;
            Ok::<_, MigrationError>(applied)
        })
        .await?;
    Ok(applied)
}

/// Builds the service: checks the database URL, binds its address (so a port another
/// process listens on stops start-up at once), builds the state, migrates, starts the
/// background tasks (on the current runtime), waits for what the service needs to serve
/// (see [`Ready`]), listens and returns the server, ready to run, with its `port()`.
pub async fn build<S: Service>(config: S::Config) -> Result<BoundServer, StartError> {
    build_unless::<S>(config, std::future::pending()).await
}

/// [`build`], given up if `stop` resolves (with the signal's name) before the service
/// listens (during migrations: once they are done; during the wait for what the service
/// needs: at once): then [`StartError::Stopped`], background tasks ended, nothing served.
/// The binaries pass their SIGTERM/SIGINT handler; libraries and tests embedding a service
/// call [`build`], which leaves the process's signals alone.
pub async fn build_unless<S: Service>(
    config: S::Config,
    stop: impl Future<Output = &'static str>,
) -> Result<BoundServer, StartError> {
    let common = S::common(&config);
    let db = database(common)?;
    let bind_error = |source| StartError::Bind {
        addr: common.bind_addr,
        source,
    };
    // Bound, not yet listening: a port another process listens on fails here, at once, and
    // connections to ours are refused (so a gateway tries another replica) until the
    // service can serve.
    let socket = bound_socket(common.bind_addr).map_err(bind_error)?;
    let Started {
        state,
        background,
        ready,
    } = S::state(&config, db.clone())?;
    let mut stop = std::pin::pin!(stop);
    // Migrations are not interrupted (a half-applied one is not left to the next start); a
    // stop asked for meanwhile is honoured once they are done, before listening.
    let applied = migrate::<S>(&db).await?;
    if !applied.is_empty() {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    if let Some(signal) = futures_util::FutureExt::now_or_never(stop.as_mut()) {
        return Err(StartError::Stopped(signal));
    }
    let mut tasks = Tasks(background.into_iter().map(actix_web::rt::spawn).collect());
    if let Some(Ready {
        what,
        until,
        within,
    }) = ready
    {
        log::info!(
            "waiting up to {}s for {what} before listening",
            within.as_secs()
        );
        tokio::select! {
            waited = actix_web::rt::time::timeout(within, until) => if waited.is_err() {
                log::warn!(
                    "{what} not loaded after {}s; listening anyway (503 where they are needed until they load)",
                    within.as_secs()
                );
            },
            signal = stop.as_mut() => return Err(StartError::Stopped(signal)),
        }
    }
    // Linux caps the backlog at net.core.somaxconn.
    socket.listen(4096).map_err(bind_error)?;
    let server = crate::http::serve(
        TcpListener::from(socket),
        &common.server,
        S::BODY_LIMIT,
        S::openapi(),
        move |cfg: &mut web::ServiceConfig| {
            state.register(cfg);
            (S::ROUTES)(cfg);
        },
    )?;
    tasks.keep_running();
    Ok(server)
}

/// A TCP socket bound to `addr` and not listening yet, set up as std's `TcpListener::bind`
/// sets up its own (address reuse on Unix, for restarts while old connections linger).
fn bound_socket(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// A service's background tasks while it starts: ended if start-up fails or is given up
/// (the future of [`build`] dropped included), kept once it serves.
struct Tasks(Vec<actix_web::rt::task::JoinHandle<()>>);

impl Tasks {
    fn keep_running(&mut self) {
        self.0.clear();
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.0.iter().for_each(|task| task.abort());
    }
}
