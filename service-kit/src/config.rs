//! Options every service takes, as flattened clap groups (each a flag and an environment
//! variable), and parsing that ignores the environment for embedding and tests.

use std::net::SocketAddr;
use std::time::Duration;

use crate::db::{DatabaseUrl, DbOptions, DbUrlError};

/// The settings every service has: where it listens, its database and pool, and its HTTP
/// server. Flattened first into a service's configuration (as its `common` field); the
/// service gives `BIND_ADDR` and `DATABASE_URL` their defaults on its command line:
///
/// ```text
/// #[command(mut_arg("bind_addr", |a| a.default_value("127.0.0.1:8001").required(false)))]
/// #[command(mut_arg("database_url", |a| a.default_value("sqlite://data/auth.db").required(false)))]
/// ```
#[derive(Clone, clap::Args)]
pub struct CommonArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BIND_ADDR")]
    pub bind_addr: SocketAddr,

    /// `sqlite://FILE` or a file path (SQLite, created on first start), or
    /// `postgres://USER@HOST/DB`; anything else (other schemes, `:memory:`) stops start-up.
    // Kept as written until start-up checks it once (`CommonArgs::database_url`), so that a
    // refused URL stops the service with its one-line message naming the option, its
    // password masked (clap's own message would show the value).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    #[command(flatten)]
    pub pool: PoolArgs,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// Printed with the database password masked (a service's whole settings are `Debug`).
impl std::fmt::Debug for CommonArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommonArgs")
            .field("bind_addr", &self.bind_addr)
            .field("database_url", &crate::db::masked(&self.database_url))
            .field("pool", &self.pool)
            .field("server", &self.server)
            .finish()
    }
}

impl CommonArgs {
    /// `DATABASE_URL`, checked: the typed URL the pool opens its connections from.
    pub fn database_url(&self) -> Result<DatabaseUrl, DbUrlError> {
        DatabaseUrl::parse(&self.database_url)
    }

    /// Pool settings for `DATABASE_URL`, once checked.
    pub fn db_options(&self) -> Result<DbOptions, DbUrlError> {
        Ok(self.pool.options(self.database_url()?))
    }
}

/// Database pool options.
#[derive(Debug, Clone, clap::Args)]
pub struct PoolArgs {
    /// Most database connections this process holds (default: twice the cores, at least 4:
    /// more only queue inside the database).
    #[arg(long, env = "DATABASE_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: Option<u32>,

    /// Seconds a request waits for a database connection before answering 503.
    #[arg(long, env = "DATABASE_TIMEOUT_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub database_timeout_seconds: u64,
}

impl PoolArgs {
    /// Pool settings for the database at `url`.
    pub fn options(&self, url: DatabaseUrl) -> DbOptions {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        DbOptions {
            url,
            max_connections: self.database_pool_size.unwrap_or((2 * cores).max(4)),
            acquire_timeout: Duration::from_secs(self.database_timeout_seconds),
        }
    }
}

/// Where `--help` lists the server options: after the service's own (which come after the
/// rest of [`CommonArgs`]), before `--help` and `--version`.
const SERVER_ARGS_ORDER: usize = 900;

/// HTTP server options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Origins allowed by CORS: a comma-separated list, or `*`. None by default.
    #[arg(long, env = "CORS_ALLOW_ORIGINS", default_value = "",
          display_order = SERVER_ARGS_ORDER)]
    pub cors_allow_origins: String,

    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600),
          display_order = SERVER_ARGS_ORDER + 1)]
    pub shutdown_grace_seconds: u64,

    /// Seconds a request body may take to arrive once the handler reads it; a slower body is
    /// answered 408 and its connection closed (the head has its own 5 s limit).
    #[arg(long, env = "BODY_READ_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600),
          display_order = SERVER_ARGS_ORDER + 2)]
    pub body_read_timeout_seconds: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", value_parser = clap::value_parser!(u32).range(1..=1024),
          display_order = SERVER_ARGS_ORDER + 3)]
    pub workers: Option<u32>,

    /// Most connections this process serves at once (all workers together); a request on a
    /// connection beyond it is answered 503 `Too many connections` and its connection closed.
    /// Keep it below the process's open-file limit, less the database pool and a margin.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000),
          display_order = SERVER_ARGS_ORDER + 4)]
    pub max_connections: u32,
}

/// Default of `MAX_CONNECTIONS`: four times the benchmark's 1 000 connections, well under the
/// usual container open-file limit (1 048 576) and the 20 000 of a typical systemd service.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;

/// Parses flags only, ignoring the process environment: the defaults of a service embedded
/// in another process (the stack) or started by a test.
pub fn parse_flags_only<C, I, T>(args: I) -> C
where
    C: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cmd = C::command().mut_args(|a| a.env(None::<&str>));
    let matches = cmd.get_matches_from(args);
    C::from_arg_matches(&matches).expect("flags were validated by clap")
}
