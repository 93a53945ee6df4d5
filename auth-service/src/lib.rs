//! The auth service: users, bcrypt passwords, `POST /login` issuing JWTs and starting
//! sessions (refresh, logout, the feed of ended sessions), and the JWKS document the posts
//! service verifies them with (the signing key and any keys published beside it).

pub mod config;
pub mod credentials;
pub mod device;
pub mod domain;
pub mod error;
pub mod hashing;
pub mod limits;
pub mod lookups;
pub mod openapi;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod store;

use std::path::Path;

use actix_web::web;
use diesel_migrations::embed_migrations;
use service_kit::config::CommonArgs;
use service_kit::db::MigrationError;
use service_kit::http::BoundServer;
use service_kit::service::{Command, Migrations, Service, Started};
use service_kit::{Db, DbConn};
use shared_claims::JwkSet;
use shared_claims::{Alg, Issuer, KeySet, SigningKey, Verifier, VerifyConfig};
use utoipa::OpenApi;

pub use config::Config;
use hashing::PasswordHasher;
pub use service_kit::StartError;

/// A failure counter's policy (see [`credentials`]).
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// Failures before checks wait.
    pub max_failures: i32,
    /// Failures are forgotten this long after the last one; also the longest wait.
    pub window_minutes: i64,
    /// The first wait, doubling with every further failure.
    pub lock_seconds: i64,
}

/// What handlers share.
pub struct AppState {
    pub db: Db,
    pub hasher: PasswordHasher,
    pub issuer: Issuer,
    pub jwks: JwkSet,
    /// `max-age` of the JWKS response.
    pub jwks_max_age: u32,
    /// Accounts' counters (unknown clients) and sessions' (password changes).
    pub throttle: Throttle,
    /// Known devices' counters.
    pub device_throttle: Throttle,
    pub device_cookies: device::DeviceCookies,
    pub rate_limits: limits::RateLimits,
    pub sessions: sessions::SessionSettings,
    /// Whether the course app's own tokens are accepted (`COURSE_TOKEN_SECRET`): then a
    /// `logout?scope=all` or a password change refuses that user's course tokens from then on.
    pub course_tokens: bool,
    /// What `GET /sessions/ended` requires as a bearer token (`SESSIONS_FEED_SECRET`); open
    /// when `None`.
    pub feed_secret: Option<shared_claims::Secret>,
    /// `PASSWORD_POLICY`.
    pub password_policy: config::PasswordPolicy,
    /// `USER_LOOKUPS_PER_MINUTE`.
    pub lookups: lookups::LookupLimit,
}

/// The auth service, as the service skeleton sees it.
pub struct AuthService;

impl Service for AuthService {
    const NAME: &'static str = "auth-service";
    const MIGRATIONS: Migrations = Migrations {
        postgres: embed_migrations!("migrations/postgres"),
        sqlite: embed_migrations!("migrations/sqlite"),
        // Advisory lock key under which auth-service replicas migrate one at a time.
        lock_key: 0x0061_7574_686d_6967, // "authmig"
    };
    /// Bodies larger than this (a megabyte password, say) get 413 before anything else runs.
    const BODY_LIMIT: usize = 64 * 1024;

    type Cli = config::Cli;
    type Config = Config;
    type State = (web::Data<AppState>, web::Data<Verifier>);
    const ROUTES: fn(&mut web::ServiceConfig) = routes::configure;

    fn command_line(cli: config::Cli) -> (Option<Command>, Config) {
        (cli.command, cli.config)
    }

    fn common(config: &Config) -> &CommonArgs {
        &config.common
    }

    /// Loads the keys and starts the password hashing threads.
    fn state(config: &Config, db: Db) -> Result<Started<Self::State>, StartError> {
        config.validate().map_err(StartError::Config)?;
        if config.bcrypt_cost < 10 {
            log::warn!(
                "BCRYPT_COST={} is below 10: only for tests",
                config.bcrypt_cost
            );
        }
        let (issuer, keys) = token_keys(config)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hasher = PasswordHasher::start(
            config.bcrypt_threads.map_or(cores, |n| n as usize),
            config.bcrypt_queue as usize,
            config.bcrypt_cost,
        )?;
        let verifier = Verifier::new(
            keys,
            VerifyConfig {
                issuer: config.jwt_issuer.clone(),
                audience: shared_claims::audience_setting(&config.jwt_audience),
                leeway_seconds: 0,
            },
        );
        let feed_secret = config.feed_secret.load().map_err(StartError::Config)?;
        if feed_secret.is_none() {
            log::warn!(
                "no SESSIONS_FEED_SECRET: GET /sessions/ended answers anyone (it lists every ended session); set it here and on every resource server"
            );
        }
        let course = config.course.course_tokens().map_err(StartError::Config)?;
        let course_tokens = course.is_some();
        let verifier = web::Data::new(match course {
            Some(course) => verifier.with_course_tokens(course),
            None => verifier,
        });
        let state = web::Data::new(AppState {
            db,
            hasher,
            jwks: issuer.jwks(),
            jwks_max_age: config.jwks_max_age_seconds,
            password_policy: config.password_policy,
            lookups: lookups::LookupLimit::new(config.user_lookups_per_minute),
            issuer,
            throttle: Throttle {
                max_failures: config.login_max_failures as i32,
                window_minutes: config.login_failure_window_minutes as i64,
                lock_seconds: i64::from(config.login_lock_seconds),
            },
            device_throttle: Throttle {
                max_failures: config.device_max_failures as i32,
                window_minutes: config.login_failure_window_minutes as i64,
                lock_seconds: i64::from(config.login_lock_seconds),
            },
            device_cookies: device::DeviceCookies::new(
                &device_secret(config)?,
                chrono::TimeDelta::days(i64::from(config.device_cookie_days)),
                config.device_cookie_secure,
            ),
            rate_limits: limits::RateLimits::from_config(config),
            sessions: sessions::SessionSettings {
                refresh_ttl: chrono::TimeDelta::seconds(config.refresh_token_ttl().as_secs() as i64),
                reuse_grace: chrono::TimeDelta::seconds(i64::from(
                    config.refresh_reuse_grace_seconds,
                )),
                max_per_user: config.max_sessions_per_user,
            },
            course_tokens,
            feed_secret,
        });
        Ok(Started::new((state, verifier)))
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        openapi::ApiDoc::openapi()
    }

    /// Moves the email keys stored under an older folding rule to the current one, then fills
    /// the email skeletons not computed yet.
    fn after_migrations(conn: &mut DbConn) -> Result<(), MigrationError> {
        let refolded = store::refold_email_keys(conn, domain::email_key)?;
        if refolded.updated > 0 {
            log::info!("{} email key(s) refolded", refolded.updated);
        }
        for id in refolded.collisions {
            log::warn!(
                "user {id} keeps its old email key: another account holds its folded address"
            );
        }
        let filled = store::fill_email_skeletons(conn, domain::email_skeleton)?;
        if filled > 0 {
            log::info!("{filled} email skeleton(s) filled");
        }
        Ok(())
    }
}

/// Applies pending migrations (the `migrate` subcommand, and every start), then moves the
/// email keys stored under an older folding rule to the current one ([`AuthService`]'s
/// `after_migrations`).
pub async fn migrate(db: &Db) -> Result<Vec<String>, StartError> {
    service_kit::service::migrate::<AuthService>(db).await
}

/// The signing key of `JWT_PRIVATE_KEY_FILE`. A missing file is generated only at the
/// development default or with `JWT_GENERATE_KEY`: a typo in a mounted secret's path must not
/// give each replica a key of its own.
fn signing_key(config: &Config) -> Result<SigningKey, StartError> {
    const OPTION: &str = "JWT_PRIVATE_KEY_FILE";
    let path = &config.jwt_private_key_file;
    let file_error = |source: shared_claims::KeyError| StartError::KeyFile {
        option: OPTION,
        path: path.clone(),
        source: source.into(),
    };
    if !config.jwt_generate_key && path != Path::new(config::DEFAULT_PRIVATE_KEY_FILE) {
        return shared_claims::load_signing_key(path).map_err(|e| match e {
            shared_claims::KeyError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                StartError::MissingKeyFile {
                    option: OPTION,
                    path: path.clone(),
                    generate: "JWT_GENERATE_KEY",
                }
            }
            other => file_error(other),
        });
    }
    let (key, generated) = shared_claims::load_or_generate_signing_key(path).map_err(file_error)?;
    if generated {
        log::warn!(
            "generated a new Ed25519 signing key at {} (fine for development; mount a managed key in production)",
            path.display()
        );
    }
    Ok(key)
}

/// What device cookies are signed under: the signing key's file (read after the key loaded
/// from it), or the HS256 secret; every replica holds the same.
fn device_secret(config: &Config) -> Result<Vec<u8>, StartError> {
    match config.jwt_algorithm {
        Alg::HS256 => Ok(config
            .jwt_secret
            .as_ref()
            .map_or("", shared_claims::Secret::expose)
            .as_bytes()
            .to_vec()),
        Alg::EdDSA => std::fs::read(&config.jwt_private_key_file).map_err(|e| {
            StartError::Config(format!(
                "JWT_PRIVATE_KEY_FILE: {}: cannot read: {e}",
                config.jwt_private_key_file.display()
            ))
        }),
    }
}

/// Builds the token issuer and the key set that verifies its tokens.
fn token_keys(config: &Config) -> Result<(Issuer, KeySet), StartError> {
    let ttl = config.token_ttl();
    match config.jwt_algorithm {
        Alg::EdDSA => {
            let key = signing_key(config)?;
            let published = published_keys(config)?;
            let issuer = Issuer::ed25519_publishing(
                &key,
                &published,
                &config.jwt_issuer,
                &shared_claims::audience_setting(&config.jwt_audience),
                ttl,
            )
            .map_err(StartError::key)?;
            log::info!(
                "signing with key {}; publishing {} key(s)",
                key.kid(),
                issuer.jwks().keys.len()
            );
            // Tokens of every published key verify here too: after a swap, the previous
            // key's tokens keep working on this service's own routes until they expire.
            let keys = KeySet::from_jwks(&issuer.jwks()).map_err(StartError::key)?;
            Ok((issuer, keys))
        }
        Alg::HS256 => {
            let secret = config
                .jwt_secret
                .as_ref()
                .map_or("", shared_claims::Secret::expose)
                .as_bytes();
            let audience = shared_claims::audience_setting(&config.jwt_audience);
            let issuer = Issuer::hs256(secret, &config.jwt_issuer, &audience, ttl)
                .map_err(StartError::key)?;
            Ok((issuer, KeySet::hs256(secret).map_err(StartError::key)?))
        }
    }
}

/// The public keys of `JWT_PUBLISHED_KEY_FILES`; a file that cannot be read or parsed stops
/// start-up with a message naming it.
fn published_keys(config: &Config) -> Result<Vec<shared_claims::Jwk>, StartError> {
    config
        .jwt_published_key_files
        .iter()
        .filter(|path| !path.as_os_str().is_empty())
        .map(|path| {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                StartError::Config(format!(
                    "JWT_PUBLISHED_KEY_FILES: {}: cannot read: {e}",
                    path.display()
                ))
            })?;
            shared_claims::published_jwk_from_pem(&pem).map_err(|e| {
                StartError::Config(format!("JWT_PUBLISHED_KEY_FILES: {}: {e}", path.display()))
            })
        })
        .collect()
}

/// Builds the service: `Application::build(config)` binds the listener and returns the
/// server, ready to run, with its `port()`.
pub struct Application;

impl Application {
    /// Loads keys, migrates the database and binds the listener.
    pub async fn build(config: Config) -> Result<BoundServer, StartError> {
        service_kit::service::build::<AuthService>(config).await
    }
}
