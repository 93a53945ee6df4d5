//! Typed settings, read once at start from flags, the environment, or a `.env` file.
//! A bad value stops start-up with a message naming the option.

use std::net::SocketAddr;

use clap::Parser;
use shared_claims::resource::ResourceServerArgs;

/// The posts service: posts and votes, for bearers of the auth service's tokens.
#[derive(Debug, Clone, Parser)]
#[command(name = "posts-service", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<service_kit::config::Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,

    /// `sqlite://FILE` or a file path (SQLite, created on first start), or
    /// `postgres://USER@HOST/DB`; anything else (other schemes, `:memory:`) stops start-up.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://data/posts.db"
    )]
    pub database_url: String,

    #[command(flatten)]
    pub pool: service_kit::config::PoolArgs,

    // Where tokens' keys and the list of ended sessions come from, and what tokens must say.
    #[command(flatten)]
    pub tokens: ResourceServerArgs,

    #[command(flatten)]
    pub server: service_kit::config::ServerArgs,
}

impl Config {
    /// The defaults, as if started with no flags and an empty environment (for embedding
    /// and tests).
    pub fn defaults() -> Config {
        service_kit::config::parse_flags_only::<Cli, _, _>(["posts-service"]).config
    }

    pub fn db_options(&self) -> service_kit::DbOptions {
        self.pool.options(&self.database_url)
    }
}
