//! Typed settings, read once at start from flags, the environment, or a `.env` file.
//! A bad value stops start-up with a message naming the option.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shared_claims::Alg;

/// Longest access-token lifetime `ACCESS_TOKEN_EXPIRE_SECONDS` accepts: a year.
pub const MAX_TOKEN_TTL_SECONDS: u64 = 31_536_000;

/// Where the signing key is kept unless `JWT_PRIVATE_KEY_FILE` says otherwise: the one path
/// where a missing key is generated without being asked (development).
pub const DEFAULT_PRIVATE_KEY_FILE: &str = "data/auth-signing-key.pem";

/// An access-token lifetime from the two options: the seconds win when set.
pub fn token_ttl(minutes: u64, seconds: Option<u64>) -> Duration {
    Duration::from_secs(seconds.unwrap_or(minutes * 60))
}

/// The auth service: users, passwords, login, and the public keys of its tokens.
#[derive(Debug, Clone, Parser)]
#[command(name = "auth-service", version, about)]
#[command(mut_arg("bind_addr", |a| a.default_value("127.0.0.1:8001").required(false)))]
#[command(mut_arg("database_url", |a| a.default_value("sqlite://data/auth.db").required(false)))]
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

    /// Lifetime of an access token, in minutes.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=525_600))]
    pub access_token_expire_minutes: u64,

    /// Lifetime of an access token, in seconds; when set it takes precedence over the
    /// minutes (sub-minute lifetimes are for tests of expiry).
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=MAX_TOKEN_TTL_SECONDS))]
    pub access_token_expire_seconds: Option<u64>,

    /// Token signing algorithm: `EdDSA` (Ed25519 key pair) or `HS256` (shared secret).
    #[arg(long, env = "JWT_ALGORITHM", default_value = "EdDSA")]
    pub jwt_algorithm: Alg,

    /// Ed25519 private key (PKCS#8 PEM). A missing file stops start-up, except at this
    /// default path or with JWT_GENERATE_KEY: then a key is generated there, mode 0600.
    #[arg(
        long,
        env = "JWT_PRIVATE_KEY_FILE",
        default_value = DEFAULT_PRIVATE_KEY_FILE
    )]
    pub jwt_private_key_file: PathBuf,

    /// Generate a signing key at JWT_PRIVATE_KEY_FILE when that file is missing, wherever it
    /// is (development and test set-ups; production mounts a managed key).
    #[arg(long, env = "JWT_GENERATE_KEY", default_value_t = false,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub jwt_generate_key: bool,

    /// Extra keys published in the JWKS beside the signing key (comma-separated PEM files,
    /// Ed25519 private or public): the next key before it signs, the previous one until its
    /// last token has expired.
    #[arg(long, env = "JWT_PUBLISHED_KEY_FILES", value_delimiter = ',')]
    pub jwt_published_key_files: Vec<PathBuf>,

    /// `max-age` of the JWKS response, in seconds: how long verifiers may keep the key set
    /// before fetching it again.
    #[arg(long, env = "JWKS_MAX_AGE_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=300))]
    pub jwks_max_age_seconds: u32,

    /// Lifetime of a refresh token, in days, counted from the login or refresh that issued it.
    #[arg(long, env = "REFRESH_TOKEN_EXPIRE_DAYS", default_value_t = 14,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub refresh_token_expire_days: u32,

    /// Seconds after a refresh during which its old refresh token, presented again, is only
    /// refused (two tabs racing) rather than taken for a stolen token that ends the session.
    #[arg(long, env = "REFRESH_REUSE_GRACE_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=3600))]
    pub refresh_reuse_grace_seconds: u32,

    /// Shared secret for `HS256`, at least 32 bytes.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<shared_claims::Secret>,

    /// `iss` of issued tokens.
    #[arg(long, env = "JWT_ISSUER", default_value = shared_claims::DEFAULT_ISSUER)]
    pub jwt_issuer: String,

    /// `aud` of issued tokens (the service that accepts them); `none`: tokens carry no `aud`,
    /// so the course app's code (python-jose told no audience) can decode them (with HS256).
    #[arg(long, env = "JWT_AUDIENCE", default_value = shared_claims::DEFAULT_AUDIENCE)]
    pub jwt_audience: String,

    /// bcrypt cost factor (4..=31); below 10 is for tests only.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// Threads hashing passwords (default: one per core).
    #[arg(long, env = "BCRYPT_THREADS", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub bcrypt_threads: Option<u32>,

    /// Password checks allowed to wait for a hashing thread; past it signup and login get 503.
    #[arg(long, env = "BCRYPT_QUEUE", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub bcrypt_queue: u32,

    /// Failed logins for one account within the window before it is locked (429).
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub login_max_failures: u32,

    /// Length of the failed-login window, in minutes.
    #[arg(long, env = "LOGIN_FAILURE_WINDOW_MINUTES", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=10_080))]
    pub login_failure_window_minutes: u64,

    /// `basic`: the length rules only (the course's `password123` is fine); `strict`: also
    /// refuse a password zxcvbn scores below 3 of 4 (guessable within 10^8 tries: common
    /// passwords, words, dates, keyboard runs, or the user's own email).
    #[arg(long, env = "PASSWORD_POLICY", default_value = "basic", value_enum)]
    pub password_policy: PasswordPolicy,

    /// Other users' accounts one caller may look up (`GET /users/{id}`) per minute, in each
    /// replica; past it 429 + `Retry-After`. 0: no limit. The caller's own account is not
    /// counted.
    #[arg(long, env = "USER_LOOKUPS_PER_MINUTE", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub user_lookups_per_minute: u32,

    /// First wait once a counter's failures reach their limit, in seconds; it doubles with
    /// every further failure, up to the failure window (Keycloak's incremental waits).
    #[arg(long, env = "LOGIN_LOCK_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=604_800))]
    pub login_lock_seconds: u32,

    /// Failed logins from one known device (a client holding that account's device cookie)
    /// before that device waits too; it is not subject to the account's lock.
    #[arg(long, env = "DEVICE_MAX_FAILURES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub device_max_failures: u32,

    /// Lifetime of a device cookie (set by each successful login), in days.
    #[arg(long, env = "DEVICE_COOKIE_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub device_cookie_days: u32,

    /// Mark the device cookie `Secure` (sent over HTTPS only); `false` for plain-HTTP set-ups
    /// whose clients should still be recognised.
    #[arg(long, env = "DEVICE_COOKIE_SECURE", default_value_t = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub device_cookie_secure: bool,

    /// Request limits per client address and per route (sign-up, login, refresh, password
    /// change), counted in the database; `false` turns them off.
    #[arg(long, env = "RATE_LIMITS", default_value_t = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub rate_limits: bool,

    /// Length of a rate-limit window, in seconds.
    #[arg(long, env = "RATE_LIMIT_WINDOW_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub rate_limit_window_seconds: u32,

    /// `POST /users/` per window: `PER_CLIENT/GLOBAL` (every client together).
    #[arg(long, env = "RATE_LIMIT_SIGNUP", default_value = "20/600")]
    pub rate_limit_signup: crate::limits::Limit,

    /// `POST /login` per window: `PER_CLIENT/GLOBAL`.
    #[arg(long, env = "RATE_LIMIT_LOGIN", default_value = "30/1200")]
    pub rate_limit_login: crate::limits::Limit,

    /// `POST /token/refresh` per window: `PER_CLIENT/GLOBAL`.
    #[arg(long, env = "RATE_LIMIT_REFRESH", default_value = "120/6000")]
    pub rate_limit_refresh: crate::limits::Limit,

    /// `PUT /users/me/password` per window: `PER_CLIENT/GLOBAL`.
    #[arg(long, env = "RATE_LIMIT_PASSWORD", default_value = "10/300")]
    pub rate_limit_password: crate::limits::Limit,

    /// Proxies whose `X-Forwarded-For` / `Forwarded` is believed (comma-separated CIDRs or
    /// addresses): the client is the rightmost hop not among them. Default none: the peer
    /// address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::limits::Cidr>,

    /// The course app's own tokens, accepted on auth's routes during a move from it.
    #[command(flatten)]
    pub course: shared_claims::CourseTokenArgs,

    /// The credential `GET /sessions/ended` requires (the resource servers hold it too).
    #[command(flatten)]
    pub feed_secret: shared_claims::FeedSecretArgs,

    /// Live sessions one user may hold: a login beyond it ends the user's oldest session
    /// (its refresh token stops working; its last access token lives until it expires).
    #[arg(long, env = "MAX_SESSIONS_PER_USER", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_sessions_per_user: u32,
}

/// `PASSWORD_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PasswordPolicy {
    Basic,
    Strict,
}

impl Config {
    /// The defaults, as if started with no flags and an empty environment (for embedding
    /// and tests).
    pub fn defaults() -> Config {
        service_kit::config::parse_flags_only::<Cli, _, _>(["auth-service"]).config
    }

    /// Checks what clap cannot: the pairing of algorithm and secret.
    pub fn validate(&self) -> Result<(), String> {
        if self.jwt_audience.trim().is_empty() {
            return Err(
                "JWT_AUDIENCE is empty: name the audience, or `none` for tokens without one".into(),
            );
        }
        self.course.check()?;
        self.feed_secret.load()?;
        match self.jwt_algorithm {
            Alg::HS256 => shared_claims::check_hs256_secret(
                self.jwt_secret.as_ref().map(shared_claims::Secret::expose),
            ),
            Alg::EdDSA => Ok(()),
        }
    }

    /// The access-token lifetime: `ACCESS_TOKEN_EXPIRE_SECONDS` when set, otherwise
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub fn token_ttl(&self) -> Duration {
        token_ttl(
            self.access_token_expire_minutes,
            self.access_token_expire_seconds,
        )
    }

    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.refresh_token_expire_days) * 24 * 3600)
    }
}
