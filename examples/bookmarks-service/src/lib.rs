//! The bookmarks service, the third service of `docs/ADDING-A-SERVICE.md`: a user's
//! bookmarks of posts (by id), for bearers of the auth service's tokens, which it verifies
//! locally. Everything but its table and its routes comes from the skeleton
//! ([`service_kit::service::Service`]) and the resource server ([`service_kit::tokens`]):
//! settings, migrations, health, metrics, keys, the feed of ended sessions, the graceful stop.

pub mod routes;

use actix_web::web;
use service_kit::config::CommonArgs;
use service_kit::http::BoundServer;
use service_kit::service::{Command, Migrations, Service, Started};
use service_kit::{Db, StartError};
use shared_claims::resource::ResourceServerArgs;
use shared_claims::Verifier;

diesel::table! {
    bookmarks (user_id, post_id) {
        user_id -> BigInt,
        post_id -> BigInt,
        created_at -> Timestamp,
    }
}

/// The command line: a subcommand (`serve`, `migrate`, `healthcheck`) and the settings.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "bookmarks-service", version, about = "Bookmarks of posts.")]
#[command(mut_arg("bind_addr", |a| a.default_value("127.0.0.1:8002").required(false)))]
#[command(mut_arg("database_url", |a| a.default_value("sqlite://data/bookmarks.db").required(false)))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// `BIND_ADDR`, `DATABASE_URL`, the pool and the HTTP server.
    #[command(flatten)]
    pub common: CommonArgs,
    // Where tokens' keys and the list of ended sessions come from, and what tokens must say.
    #[command(flatten)]
    pub tokens: ResourceServerArgs,
}

impl Config {
    /// The defaults, as if started with no flags and an empty environment.
    pub fn defaults() -> Config {
        service_kit::config::parse_flags_only::<Cli, _, _>(["bookmarks-service"]).config
    }
}

/// What handlers share.
pub struct AppState {
    pub db: Db,
}

pub struct BookmarksService;

impl Service for BookmarksService {
    const NAME: &'static str = "bookmarks-service";
    // Advisory lock key "bookmigr": replicas migrate one at a time.
    const MIGRATIONS: Migrations =
        service_kit::portable_migrations!("migrations", 0x626f_6f6b_6d69_6772);
    const BODY_LIMIT: usize = 64 * 1024;

    type Cli = Cli;
    type Config = Config;
    type State = (web::Data<AppState>, web::Data<Verifier>);
    const ROUTES: fn(&mut web::ServiceConfig) = routes::configure;

    fn command_line(cli: Cli) -> (Option<Command>, Config) {
        (cli.command, cli.config)
    }

    fn common(config: &Config) -> &CommonArgs {
        &config.common
    }

    fn state(config: &Config, db: Db) -> Result<Started<Self::State>, StartError> {
        service_kit::tokens::started(&config.tokens, web::Data::new(AppState { db }))
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        <routes::ApiDoc as utoipa::OpenApi>::openapi()
    }
}

/// Binds, migrates, waits (at most `KEYS_WAIT_SECONDS`) for the auth service's keys and
/// list of ended sessions, then listens.
pub async fn build(config: Config) -> Result<BoundServer, StartError> {
    service_kit::service::build::<BookmarksService>(config).await
}
