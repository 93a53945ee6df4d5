//! Typed settings, read once at start from flags, the environment, or a `.env` file.
//! A bad value stops start-up with a message naming the option.

use clap::Parser;
use shared_claims::resource::ResourceServerArgs;

/// The posts service: posts and votes, for bearers of the auth service's tokens.
#[derive(Debug, Clone, Parser)]
#[command(name = "posts-service", version, about)]
#[command(mut_arg("bind_addr", |a| a.default_value("127.0.0.1:8000").required(false)))]
#[command(mut_arg("database_url", |a| a.default_value("sqlite://data/posts.db").required(false)))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<service_kit::service::Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// `BIND_ADDR`, `DATABASE_URL`, the pool and the HTTP server.
    #[command(flatten)]
    pub common: service_kit::config::CommonArgs,

    // Where tokens' keys and the list of ended sessions come from, and what tokens must say.
    #[command(flatten)]
    pub tokens: ResourceServerArgs,
}

impl Config {
    /// The defaults, as if started with no flags and an empty environment (for embedding
    /// and tests).
    pub fn defaults() -> Config {
        service_kit::config::parse_flags_only::<Cli, _, _>(["posts-service"]).config
    }
}
