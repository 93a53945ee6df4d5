//! Options both services take, as flattened clap groups (each a flag and an environment
//! variable), and parsing that ignores the environment for embedding and tests.

use std::time::Duration;

use crate::db::DbOptions;

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
    pub fn options(&self, url: &str) -> DbOptions {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        DbOptions {
            url: url.to_owned(),
            max_connections: self.database_pool_size.unwrap_or((2 * cores).max(4)),
            acquire_timeout: Duration::from_secs(self.database_timeout_seconds),
        }
    }
}

/// HTTP server options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Origins allowed by CORS: a comma-separated list, or `*`. None by default.
    #[arg(long, env = "CORS_ALLOW_ORIGINS", default_value = "")]
    pub cors_allow_origins: String,

    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,

    /// Seconds a request body may take to arrive once the handler reads it; a slower body is
    /// answered 408 and its connection closed (the head has its own 5 s limit).
    #[arg(long, env = "BODY_READ_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout_seconds: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,
}

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

/// What a service binary can be asked to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 when the service at BIND_ADDR answers `/readyz` (for container health checks).
    Healthcheck,
}

/// The body of a service's `main`: runs `command` (serving by default) and turns the outcome
/// into an exit status, printing any failure once, on one line prefixed with the service's
/// name. Serving stops gracefully on SIGINT or SIGTERM.
pub async fn run_command<S: crate::service::Service>(
    command: Option<Command>,
    config: S::Config,
) -> std::process::ExitCode {
    let name = S::NAME;
    let result = match command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // Installed first: a SIGTERM during start-up is not lost (a container's PID 1
            // ignores one it has no handler for). It ends the wait for what the service needs;
            // arriving during migrations, it stops the service once they are done; later, it
            // stops the service gracefully.
            let mut signal = Box::pin(crate::http::termination_signal());
            match crate::service::build_unless::<S>(config, signal.as_mut()).await {
                Ok(bound) => {
                    let handles = vec![bound.server.handle()];
                    actix_web::rt::spawn(crate::http::stop_when(signal, handles));
                    log::info!("{name} listening on port {}", bound.port);
                    bound.server.await.map_err(|e| e.to_string())
                }
                // Asked to stop: a clean exit, as it would be once serving.
                Err(e @ crate::StartError::Stopped(_)) => {
                    log::info!("{e}");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Migrate => {
            let common = S::common(&config);
            match crate::service::database("DATABASE_URL", common.database_url, common.pool) {
                Ok(db) => crate::service::migrate::<S>(&db)
                    .await
                    .map(|applied| log::info!("{} migration(s) applied", applied.len()))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Healthcheck => crate::http::healthcheck(S::common(&config).bind_addr, "/readyz")
            .await
            .map_err(|e| format!("not healthy: {e}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
