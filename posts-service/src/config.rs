//! Typed settings, read once at start from flags, the environment, or a `.env` file.
//! A bad value stops start-up with a message naming the option.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shared_claims::Alg;

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

    /// Algorithm tokens must use: `EdDSA` (public keys) or `HS256` (shared secret).
    #[arg(long, env = "JWT_ALGORITHM", default_value = "EdDSA")]
    pub jwt_algorithm: Alg,

    /// Shared secret for `HS256`, at least 32 bytes.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Where the auth service publishes its public keys (fetched at start, retried until it
    /// answers, and again on an unknown `kid`). Unused when `JWT_PUBLIC_KEY_FILE` is set.
    #[arg(
        long,
        env = "JWT_JWKS_URL",
        default_value = "http://127.0.0.1:8001/.well-known/jwks.json"
    )]
    pub jwt_jwks_url: String,

    /// An Ed25519 public key (SPKI PEM) to verify tokens with, fully offline (no JWKS fetch).
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Required `iss` of tokens.
    #[arg(long, env = "JWT_ISSUER", default_value = shared_claims::DEFAULT_ISSUER)]
    pub jwt_issuer: String,

    /// Required `aud` of tokens.
    #[arg(long, env = "JWT_AUDIENCE", default_value = shared_claims::DEFAULT_AUDIENCE)]
    pub jwt_audience: String,

    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub jwt_leeway_seconds: u64,

    /// The auth service's feed of ended sessions, polled every second so tokens of a session
    /// that ended (logout, password change, reused refresh token) are refused within seconds.
    /// Default: `/sessions/ended` beside `JWT_JWKS_URL`; with `JWT_PUBLIC_KEY_FILE` or `HS256`
    /// there is none unless set. `off` disables it.
    #[arg(long, env = "SESSIONS_FEED_URL")]
    pub sessions_feed_url: Option<String>,

    /// Seconds to wait at start, before listening, for the keys from `JWT_JWKS_URL` and the
    /// list of ended sessions (what tokens are checked with). Until the service listens, a
    /// gateway routing to it is refused the connection and tries another replica. After
    /// this the service listens anyway and answers 503 with `Retry-After` to a token it
    /// cannot judge yet (any before the keys load, one carrying a session before the list
    /// loads); what is not a valid token still gets 401. 0 listens at once.
    #[arg(long, env = "KEYS_WAIT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub keys_wait_seconds: u64,

    /// Least seconds between two JWKS refetches caused by unknown `kid`s.
    #[arg(long, env = "JWKS_REFRESH_MIN_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub jwks_refresh_min_seconds: u64,
}

impl Config {
    /// The defaults, as if started with no flags and an empty environment (for embedding
    /// and tests).
    pub fn defaults() -> Config {
        service_kit::config::parse_flags_only::<Cli, _, _>(["posts-service"]).config
    }

    /// Checks what clap cannot: the pairing of algorithm and key source, and the URLs.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(feed) = self.sessions_feed() {
            match reqwest::Url::parse(&feed) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
                _ => {
                    return Err(format!(
                        "SESSIONS_FEED_URL must be an http(s) URL or `off`, got {feed:?}"
                    ))
                }
            }
        }
        match self.jwt_algorithm {
            Alg::HS256 => shared_claims::check_hs256_secret(self.jwt_secret.as_deref()),
            Alg::EdDSA if self.jwt_public_key_file.is_some() => Ok(()),
            Alg::EdDSA => match reqwest::Url::parse(&self.jwt_jwks_url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
                _ => Err(format!(
                    "JWT_JWKS_URL must be an http(s) URL, got {:?}",
                    self.jwt_jwks_url
                )),
            },
        }
    }

    /// Where to poll for ended sessions, if anywhere (see `SESSIONS_FEED_URL`).
    pub fn sessions_feed(&self) -> Option<String> {
        match self.sessions_feed_url.as_deref().map(str::trim) {
            Some("") | Some("off") => None,
            Some(url) => Some(url.to_owned()),
            None if self.jwt_algorithm == Alg::EdDSA && self.jwt_public_key_file.is_none() => {
                reqwest::Url::parse(&self.jwt_jwks_url)
                    .and_then(|jwks| jwks.join("/sessions/ended"))
                    .ok()
                    .map(String::from)
            }
            None => None,
        }
    }

    pub fn jwks_refresh_min_interval(&self) -> Duration {
        Duration::from_secs(self.jwks_refresh_min_seconds)
    }
}
