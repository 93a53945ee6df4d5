//! Both services in one process: the auth service, and the posts service verifying its
//! tokens through the JWKS document it serves, exactly as when deployed apart.
//!
//! * [`Stack`] starts both on the configured addresses (`cargo run -p stack`).
//! * [`EphemeralStack`] starts both on free loopback ports with their data in a temporary
//!   folder removed when it stops, and waits until both answer (`stack --ephemeral`).
//! * [`seed`] loads a fixture file (users, posts, votes) through the services' HTTP API.
//! * `TestStack` (feature `testing`) is the harness for other crates' integration tests: an
//!   ephemeral stack in-process, a client, helpers, and tokens minted with the stack's own key.

pub mod ephemeral;
pub mod seed;
#[cfg(feature = "testing")]
pub mod testing;

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use futures_util::future::BoxFuture;

pub use ephemeral::{EphemeralStack, StackUrls};
#[cfg(feature = "testing")]
pub use testing::TestStack;

/// bcrypt cost of the stack's accounts unless `BCRYPT_COST` says otherwise: the services'
/// own default.
pub const DEFAULT_BCRYPT_COST: u32 = 12;

/// bcrypt cost of an ephemeral stack unless `BCRYPT_COST` says otherwise. Its accounts are
/// test accounts thrown away with the folder, and a suite signs up and logs in many of them:
/// at cost 12 each hash takes about a fifth of a second of a core, at cost 4 about a
/// millisecond. Set `BCRYPT_COST` to test at the production cost.
pub const EPHEMERAL_BCRYPT_COST: u32 = 4;

/// Settings of the one-command stack.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "stack",
    version,
    about = "Runs the auth and posts services together on the embedded default."
)]
pub struct StackConfig {
    /// Address of the auth service.
    #[arg(long, env = "AUTH_BIND_ADDR", default_value = "127.0.0.1:8001")]
    pub auth_bind_addr: SocketAddr,

    /// Address of the posts service.
    #[arg(long, env = "POSTS_BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub posts_bind_addr: SocketAddr,

    /// Folder holding the SQLite files and the generated signing key.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database of the auth service (default: `sqlite://<data dir>/auth.db`).
    #[arg(long, env = "AUTH_DATABASE_URL")]
    pub auth_database_url: Option<String>,

    /// Database of the posts service (default: `sqlite://<data dir>/posts.db`).
    #[arg(long, env = "POSTS_DATABASE_URL")]
    pub posts_database_url: Option<String>,

    /// Lifetime of an access token, in minutes.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=525_600))]
    pub access_token_expire_minutes: u64,

    /// Lifetime of an access token, in seconds; takes precedence over the minutes when set.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=auth_service::config::MAX_TOKEN_TTL_SECONDS))]
    pub access_token_expire_seconds: Option<u64>,

    /// bcrypt cost factor (4..=31); default 12, or 4 with --ephemeral.
    #[arg(long, env = "BCRYPT_COST", value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: Option<u32>,

    /// Test-harness mode: both services on free loopback ports, data in a temporary folder
    /// removed on exit, a fresh signing key; prints one JSON line (`auth_url`, `posts_url`,
    /// `jwks_url`) once both answer, and serves until SIGTERM, SIGINT or the end of stdin.
    /// Ignores the bind addresses and the data folder.
    #[arg(long)]
    pub ephemeral: bool,

    /// With --ephemeral: a JSON fixture of users, posts and votes loaded through the API
    /// before the JSON line is printed; a bad entry stops start-up, naming it.
    #[arg(
        long,
        env = "STACK_SEED_FILE",
        value_name = "FILE",
        requires = "ephemeral"
    )]
    pub seed: Option<PathBuf>,

    /// Options both services get: CORS origins, shutdown grace period, worker threads.
    #[command(flatten)]
    pub server: service_kit::config::ServerArgs,
}

impl StackConfig {
    /// The defaults, as if started with no flags and an empty environment.
    pub fn defaults() -> StackConfig {
        service_kit::config::parse_flags_only::<StackConfig, _, _>(["stack"])
    }

    /// The bcrypt cost in effect: `BCRYPT_COST` when set, otherwise
    /// [`EPHEMERAL_BCRYPT_COST`] for an ephemeral stack and [`DEFAULT_BCRYPT_COST`] for
    /// any other.
    pub fn effective_bcrypt_cost(&self) -> u32 {
        self.bcrypt_cost.unwrap_or(if self.ephemeral {
            EPHEMERAL_BCRYPT_COST
        } else {
            DEFAULT_BCRYPT_COST
        })
    }

    /// The two services' own settings, derived from the stack's.
    pub fn service_configs(&self) -> (auth_service::Config, posts_service::Config) {
        let sqlite = |file: &str| format!("sqlite://{}", self.data_dir.join(file).display());
        let mut auth = auth_service::Config::defaults();
        auth.bind_addr = self.auth_bind_addr;
        auth.database_url = self
            .auth_database_url
            .clone()
            .unwrap_or_else(|| sqlite("auth.db"));
        auth.jwt_private_key_file = self.data_dir.join("auth-signing-key.pem");
        auth.access_token_expire_minutes = self.access_token_expire_minutes;
        auth.access_token_expire_seconds = self.access_token_expire_seconds;
        auth.bcrypt_cost = self.effective_bcrypt_cost();
        auth.server = self.server.clone();

        let mut posts = posts_service::Config::defaults();
        posts.bind_addr = self.posts_bind_addr;
        posts.database_url = self
            .posts_database_url
            .clone()
            .unwrap_or_else(|| sqlite("posts.db"));
        posts.server = self.server.clone();
        (auth, posts)
    }
}

/// The URL a client reaches a service bound to `addr` (on `port`) at: an unspecified
/// address (`0.0.0.0`, `[::]`) is reached through loopback; IPv6 hosts get brackets.
pub fn base_url(addr: SocketAddr, port: u16) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, port))
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("auth-service: {0}")]
    Auth(#[from] auth_service::StartError),
    #[error("posts-service: {0}")]
    Posts(#[from] posts_service::StartError),
}

/// Both services, bound and serving.
pub struct Stack {
    pub auth_port: u16,
    pub posts_port: u16,
    auth: ServerHandle,
    posts: ServerHandle,
    running: BoxFuture<'static, std::io::Result<()>>,
}

impl Stack {
    /// Starts the auth service, then the posts service pointed at its JWKS document.
    pub async fn start(config: &StackConfig) -> Result<Stack, StackError> {
        let (auth_config, mut posts_config) = config.service_configs();
        let auth_host = auth_config.bind_addr.ip();
        let auth = auth_service::Application::build(auth_config).await?;
        let auth_port = auth.port();
        let auth_host = if auth_host.is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            auth_host.to_string()
        };
        posts_config.jwt_jwks_url = format!("http://{auth_host}:{auth_port}/.well-known/jwks.json");
        let posts = posts_service::Application::build(posts_config).await?;
        let posts_port = posts.port();
        let (auth_handle, posts_handle) = (auth.handle(), posts.handle());
        let running = Box::pin(async move {
            let (a, p) =
                futures_util::future::join(auth.run_until_stopped(), posts.run_until_stopped())
                    .await;
            a.and(p)
        });
        Ok(Stack {
            auth_port,
            posts_port,
            auth: auth_handle,
            posts: posts_handle,
            running,
        })
    }

    /// Handles to stop the two services.
    pub fn handles(&self) -> Vec<ServerHandle> {
        vec![self.auth.clone(), self.posts.clone()]
    }

    /// Serves until both services are stopped (see [`service_kit::http::stop_on_signal`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.running.await
    }

    /// Serves in the background (for tests); the returned handle stops both.
    pub fn spawn(self) -> StackHandle {
        self.spawn_joinable().0
    }

    /// Serves in the background; the handle stops both, and the task ends once both have
    /// stopped.
    pub fn spawn_joinable(
        self,
    ) -> (
        StackHandle,
        actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    ) {
        let handle = StackHandle {
            auth: self.auth.clone(),
            posts: self.posts.clone(),
        };
        (handle, actix_web::rt::spawn(self.running))
    }
}

/// Stops a spawned stack.
#[derive(Clone)]
pub struct StackHandle {
    auth: ServerHandle,
    posts: ServerHandle,
}

impl StackHandle {
    /// The two servers' handles (for [`service_kit::http::stop_on_signal`]).
    pub fn handles(&self) -> Vec<ServerHandle> {
        vec![self.auth.clone(), self.posts.clone()]
    }

    /// Stops both gracefully: in-flight requests finish within the shutdown grace period.
    pub async fn stop(&self) {
        futures_util::future::join(self.auth.stop(true), self.posts.stop(true)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{base_url, StackConfig};

    /// Parses flags only, ignoring the environment of the test process.
    fn try_parse(args: &[&str]) -> Result<StackConfig, clap::Error> {
        let cmd =
            <StackConfig as clap::CommandFactory>::command().mut_args(|a| a.env(None::<&str>));
        let matches = cmd.try_get_matches_from(args)?;
        <StackConfig as clap::FromArgMatches>::from_arg_matches(&matches)
    }

    fn parse(args: &[&str]) -> StackConfig {
        try_parse(args).unwrap()
    }

    #[test]
    fn bcrypt_cost_is_12_by_default_4_when_ephemeral_and_as_set_when_set() {
        assert_eq!(parse(&["stack"]).effective_bcrypt_cost(), 12);
        assert_eq!(parse(&["stack", "--ephemeral"]).effective_bcrypt_cost(), 4);
        let set = parse(&["stack", "--ephemeral", "--bcrypt-cost", "12"]);
        assert_eq!(set.effective_bcrypt_cost(), 12);
        assert_eq!(set.service_configs().0.bcrypt_cost, 12);
        assert_eq!(StackConfig::defaults().effective_bcrypt_cost(), 12);
    }

    #[test]
    fn token_lifetime_options_reach_the_auth_service() {
        let (auth, _) = parse(&["stack", "--access-token-expire-seconds", "2"]).service_configs();
        assert_eq!(auth.token_ttl(), std::time::Duration::from_secs(2));
        let (auth, _) = parse(&["stack", "--access-token-expire-minutes", "2"]).service_configs();
        assert_eq!(auth.token_ttl(), std::time::Duration::from_secs(120));
    }

    #[test]
    fn seed_needs_ephemeral() {
        assert!(try_parse(&["stack", "--seed", "f.json"]).is_err());
        assert!(try_parse(&["stack", "--ephemeral", "--seed", "f.json"]).is_ok());
    }

    #[test]
    fn base_urls_reach_unspecified_addresses_through_loopback_and_bracket_ipv6() {
        assert_eq!(
            base_url("0.0.0.0:1".parse().unwrap(), 8001),
            "http://127.0.0.1:8001"
        );
        assert_eq!(
            base_url("[::]:1".parse().unwrap(), 8001),
            "http://[::1]:8001"
        );
        assert_eq!(base_url("[::1]:0".parse().unwrap(), 9), "http://[::1]:9");
        assert_eq!(
            base_url("10.1.2.3:0".parse().unwrap(), 9),
            "http://10.1.2.3:9"
        );
    }
}
