//! The posts service: posts and votes for bearers of the auth service's tokens, which it
//! verifies locally (never calling the auth service per request).

pub mod config;
pub mod cursor;
pub mod domain;
pub mod openapi;
pub mod routes;
pub mod schema;
pub mod store;

use actix_web::web;
use diesel_migrations::embed_migrations;
use service_kit::http::BoundServer;
use service_kit::service::{Migrations, Service, Started};
use service_kit::Db;
use shared_claims::Verifier;
use utoipa::OpenApi;

pub use config::Config;
pub use service_kit::StartError;

/// Bodies larger than this get 413 before anything else runs.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What handlers share (the token [`shared_claims::Verifier`] is registered separately, for
/// the `AuthUser` extractor).
pub struct AppState {
    pub db: Db,
}

/// The posts service, as the service skeleton sees it.
pub struct PostsService;

impl PostsService {
    /// PostgreSQL advisory lock key under which posts-service replicas migrate one at a time.
    pub const MIGRATIONS_LOCK_KEY: i64 = 0x706f_7374_736d_6967; // "postsmig"
}

impl Service for PostsService {
    const NAME: &'static str = "posts-service";
    const MIGRATIONS: Migrations = Migrations {
        postgres: embed_migrations!("migrations/postgres"),
        sqlite: embed_migrations!("migrations/sqlite"),
        lock_key: PostsService::MIGRATIONS_LOCK_KEY,
    };
    const BODY_LIMIT: usize = BODY_LIMIT;

    type Cli = config::Cli;
    type Config = Config;
    type State = (web::Data<AppState>, web::Data<Verifier>);
    const ROUTES: fn(&mut web::ServiceConfig) = routes::configure;

    fn common(config: &Config) -> &service_kit::config::CommonArgs {
        &config.common
    }

    fn command_line(cli: config::Cli) -> (Option<service_kit::service::Command>, Config) {
        (cli.command, cli.config)
    }

    /// Sets up the token verifier (see [`service_kit::tokens`]): with a JWKS URL (or a feed
    /// of ended sessions) its keys load in the background, and the listener waits for them at
    /// most `KEYS_WAIT_SECONDS`.
    fn state(config: &Config, db: Db) -> Result<Started<Self::State>, StartError> {
        service_kit::tokens::started(&config.tokens, web::Data::new(AppState { db }))
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        openapi::ApiDoc::openapi()
    }
}

/// Applies pending migrations (the `migrate` subcommand, and every start).
pub async fn migrate(db: &Db) -> Result<Vec<String>, StartError> {
    service_kit::service::migrate::<PostsService>(db).await
}

/// Builds the service: `Application::build(config)` binds the listener and returns the
/// server, ready to run, with its `port()`.
pub struct Application;

impl Application {
    /// Binds the port, sets up the keys, migrates the database, waits at most
    /// `KEYS_WAIT_SECONDS` for the keys and the list of ended sessions (see
    /// [`ResourceServerArgs::keys_wait_seconds`](shared_claims::resource::ResourceServerArgs)),
    /// then listens.
    pub async fn build(config: Config) -> Result<BoundServer, StartError> {
        service_kit::service::build::<PostsService>(config).await
    }
}
