//! The posts service: posts and votes for bearers of the auth service's tokens, which it
//! verifies locally (never calling the auth service per request).

pub mod config;
pub mod cursor;
pub mod domain;
pub mod keys;
pub mod openapi;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod store;

use std::net::TcpListener;

use actix_web::web;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use service_kit::http::BoundServer;
use service_kit::Db;
use utoipa::OpenApi;

pub use config::Config;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Advisory lock key under which posts-service replicas migrate one at a time.
const MIGRATION_LOCK_KEY: i64 = 0x706f_7374_736d_6967; // "postsmig"

/// Bodies larger than this get 413 before anything else runs.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What handlers share (the token [`shared_claims::Verifier`] is registered separately, for
/// the `AuthUser` extractor).
pub struct AppState {
    pub db: Db,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("verification key: {0}")]
    Key(#[from] shared_claims::KeyError),
    #[error("database migrations failed: {0}")]
    Migrations(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<service_kit::DbError> for StartError {
    fn from(e: service_kit::DbError) -> Self {
        StartError::Migrations(e.to_string())
    }
}

/// Applies pending migrations (the `migrate` subcommand, and every start).
pub async fn migrate(db: &Db) -> Result<Vec<String>, StartError> {
    db.run(|conn| {
        conn.run_migrations(POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, MIGRATION_LOCK_KEY)
            .map_err(StartError::Migrations)
    })
    .await
}

/// Builds the service: `Application::build(config)` binds the listener and returns the
/// server, ready to run, with its `port()`.
pub struct Application;

impl Application {
    /// Sets up the keys, migrates the database and binds the listener. With a JWKS URL the
    /// keys load in the background: start-up never waits for the auth service.
    pub async fn build(config: Config) -> Result<BoundServer, StartError> {
        config.validate().map_err(StartError::Config)?;
        let (verifier, background) = keys::verifier(&config)?;
        let db = Db::new(&config.db_options());
        let applied = migrate(&db).await?;
        if !applied.is_empty() {
            log::info!("applied migrations: {}", applied.join(", "));
        }
        let state = web::Data::new(AppState { db });

        let listener = TcpListener::bind(config.bind_addr).map_err(|source| StartError::Bind {
            addr: config.bind_addr,
            source,
        })?;
        let server = service_kit::http::serve(
            listener,
            &config.server,
            BODY_LIMIT,
            openapi::ApiDoc::openapi(),
            move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(state.clone()).app_data(verifier.clone());
                routes::configure(cfg);
            },
        )?;
        for task in background {
            actix_web::rt::spawn(task);
        }
        Ok(server)
    }
}
