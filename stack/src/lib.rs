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
pub mod import;
pub mod seed;
#[cfg(feature = "testing")]
pub mod testing;

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use futures_util::future::BoxFuture;
use service_kit::config::CommonArgs;
use service_kit::http::BoundServer;
use service_kit::StartError;

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

/// Options of the auth service that the stack takes too: the service's own declarations
/// (flag, variable, range, help) are borrowed, not repeated. `--bcrypt-cost` loses its default
/// here (see [`StackConfig::effective_bcrypt_cost`]).
const AUTH_OPTIONS: [&str; 3] = [
    "access_token_expire_minutes",
    "access_token_expire_seconds",
    "bcrypt_cost",
];

/// The stack's own options (the command line adds [`AUTH_OPTIONS`]).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "stack",
    version,
    about = "Runs the auth and posts services together on the embedded default."
)]
struct StackArgs {
    /// Address of the auth service.
    #[arg(long, env = "AUTH_BIND_ADDR", default_value = "127.0.0.1:8001")]
    auth_bind_addr: SocketAddr,

    /// Address of the posts service.
    #[arg(long, env = "POSTS_BIND_ADDR", default_value = "127.0.0.1:8000")]
    posts_bind_addr: SocketAddr,

    /// Folder holding the SQLite files and the generated signing key.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Database of the auth service (default: `sqlite://<data dir>/auth.db`).
    #[arg(long, env = "AUTH_DATABASE_URL", hide_env_values = true)]
    auth_database_url: Option<String>,

    /// Database of the posts service (default: `sqlite://<data dir>/posts.db`).
    #[arg(long, env = "POSTS_DATABASE_URL", hide_env_values = true)]
    posts_database_url: Option<String>,

    /// Test-harness mode: both services on free loopback ports, data in a temporary folder
    /// removed on exit, a fresh signing key; prints one JSON line (`auth_url`, `posts_url`,
    /// `jwks_url`) once both answer, and serves until SIGTERM, SIGINT or the end of stdin.
    /// Ignores the bind addresses and the data folder.
    #[arg(long)]
    ephemeral: bool,

    /// With --ephemeral: a JSON fixture of users, posts and votes loaded through the API
    /// before the JSON line is printed; a bad entry stops start-up, naming it.
    #[arg(
        long,
        env = "STACK_SEED_FILE",
        value_name = "FILE",
        requires = "ephemeral"
    )]
    seed: Option<PathBuf>,

    /// Options both services get: CORS origins, shutdown grace period, worker threads.
    #[command(flatten)]
    server: service_kit::config::ServerArgs,
}

/// Settings of the one-command stack: its own options, the auth service's options it passes
/// on, and the rest of each service's settings as the service itself would read them.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub auth_bind_addr: SocketAddr,
    pub posts_bind_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub auth_database_url: Option<String>,
    pub posts_database_url: Option<String>,
    pub access_token_expire_minutes: u64,
    pub access_token_expire_seconds: Option<u64>,
    /// `None`: 12, or 4 with `ephemeral` (see [`Self::effective_bcrypt_cost`]).
    pub bcrypt_cost: Option<u32>,
    pub ephemeral: bool,
    pub seed: Option<PathBuf>,
    pub server: service_kit::config::ServerArgs,
    /// Every other auth-service setting (login throttling, JWT algorithm, ...): the defaults,
    /// or with [`Self::with_service_environment`] the service's variables.
    pub auth: auth_service::Config,
    /// Every other posts-service setting, likewise.
    pub posts: posts_service::Config,
}

impl clap::CommandFactory for StackConfig {
    fn command() -> clap::Command {
        let auth = <auth_service::config::Cli as clap::CommandFactory>::command();
        let borrowed: Vec<clap::Arg> = auth
            .get_arguments()
            .filter(|a| AUTH_OPTIONS.contains(&a.get_id().as_str()))
            .cloned()
            .collect();
        <StackArgs as clap::CommandFactory>::command()
            .args(borrowed)
            .mut_arg("bcrypt_cost", |a| {
                let help = format!(
                    "{} (default: {DEFAULT_BCRYPT_COST}, or {EPHEMERAL_BCRYPT_COST} with --ephemeral)",
                    a.get_help().map(ToString::to_string).unwrap_or_default()
                );
                a.default_value(None::<&str>).help(help)
            })
    }

    fn command_for_update() -> clap::Command {
        Self::command()
    }
}

impl clap::FromArgMatches for StackConfig {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let args = <StackArgs as clap::FromArgMatches>::from_arg_matches(matches)?;
        let missing = |id: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("--{} has no value", id.replace('_', "-")),
            )
        };
        Ok(StackConfig {
            auth_bind_addr: args.auth_bind_addr,
            posts_bind_addr: args.posts_bind_addr,
            data_dir: args.data_dir,
            auth_database_url: args.auth_database_url,
            posts_database_url: args.posts_database_url,
            access_token_expire_minutes: matches
                .get_one::<u64>("access_token_expire_minutes")
                .copied()
                .ok_or_else(|| missing("access_token_expire_minutes"))?,
            access_token_expire_seconds: matches
                .get_one::<u64>("access_token_expire_seconds")
                .copied(),
            bcrypt_cost: matches.get_one::<u32>("bcrypt_cost").copied(),
            ephemeral: args.ephemeral,
            seed: args.seed,
            server: args.server,
            auth: auth_service::Config::defaults(),
            posts: posts_service::Config::defaults(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Parser for StackConfig {}

impl StackConfig {
    /// The defaults, as if started with no flags and an empty environment.
    pub fn defaults() -> StackConfig {
        service_kit::config::parse_flags_only::<StackConfig, _, _>(["stack"])
    }

    /// Reads the services' other settings from the environment, as each service does when
    /// started alone (a bad value is refused, naming its variable). The stack still chooses
    /// what ties the two together: addresses, databases, the signing key and where posts
    /// finds it.
    pub fn with_service_environment(mut self) -> Result<StackConfig, clap::Error> {
        use clap::Parser;
        self.auth = auth_service::config::Cli::try_parse_from(["auth-service"])?.config;
        self.posts = posts_service::config::Cli::try_parse_from(["posts-service"])?.config;
        Ok(self)
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
        // Each service's address and database, and the stack's server options; its pool
        // options as the service itself reads them.
        let common =
            |own: &CommonArgs, (bind_addr, url, file): (SocketAddr, &Option<String>, &str)| {
                CommonArgs {
                    bind_addr,
                    database_url: url.clone().unwrap_or_else(|| {
                        format!("sqlite://{}", self.data_dir.join(file).display())
                    }),
                    pool: own.pool.clone(),
                    server: self.server.clone(),
                }
            };
        let mut auth = self.auth.clone();
        let own = (self.auth_bind_addr, &self.auth_database_url, "auth.db");
        auth.common = common(&auth.common, own);
        // The stack keeps its key in its data folder, generated there on first start.
        auth.jwt_private_key_file = self.data_dir.join(SIGNING_KEY_FILE);
        auth.jwt_generate_key = true;
        auth.access_token_expire_minutes = self.access_token_expire_minutes;
        auth.access_token_expire_seconds = self.access_token_expire_seconds;
        auth.bcrypt_cost = self.effective_bcrypt_cost();

        let mut posts = self.posts.clone();
        let own = (self.posts_bind_addr, &self.posts_database_url, "posts.db");
        posts.common = common(&posts.common, own);
        // Tokens are verified with the keys of this stack's auth service (its JWKS).
        posts.tokens.public_key_file = None;
        // The ended-sessions feed is for posts only: unless one was given, a secret of this
        // run's that both hold.
        if auth.feed_secret.sessions_feed_secret.is_none()
            && auth.feed_secret.sessions_feed_secret_file.is_none()
        {
            let mut bytes = [0u8; 32];
            if getrandom::fill(&mut bytes).is_ok() {
                let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                auth.feed_secret.sessions_feed_secret = Some(secret.as_str().into());
                posts.tokens.feed_secret = shared_claims::FeedSecretArgs {
                    sessions_feed_secret: Some(secret.as_str().into()),
                    sessions_feed_secret_file: None,
                };
            }
        }
        (auth, posts)
    }

    /// Refuses a database URL the services would refuse, naming the stack's option.
    fn check_database_urls(&self) -> Result<(), StackError> {
        let check = |option, url: &Option<String>| match url {
            Some(url) => service_kit::DatabaseUrl::parse(url)
                .map(drop)
                .map_err(|source| StartError::DatabaseUrl { option, source }),
            None => Ok(()),
        };
        check("AUTH_DATABASE_URL", &self.auth_database_url).map_err(StackError::Auth)?;
        check("POSTS_DATABASE_URL", &self.posts_database_url).map_err(StackError::Posts)
    }
}

/// Name of the signing key file inside the data folder.
pub const SIGNING_KEY_FILE: &str = "auth-signing-key.pem";

/// The URL a client reaches a service bound to `addr` (on `port`) at: an unspecified
/// address (`0.0.0.0`, `[::]`) is reached through loopback; IPv6 hosts get brackets.
pub fn base_url(addr: SocketAddr, port: u16) -> String {
    service_kit::http::base_url(SocketAddr::new(addr.ip(), port))
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("auth-service: {0}")]
    Auth(#[source] StartError),
    #[error("posts-service: {0}")]
    Posts(#[source] StartError),
}

/// One service of the stack, bound and serving.
struct Running {
    handle: ServerHandle,
    serving: BoxFuture<'static, std::io::Result<()>>,
}

impl Running {
    /// Serves `server` in the background from now on (what follows it may need it).
    fn spawn(server: BoundServer) -> Running {
        let handle = server.handle();
        let task = actix_web::rt::spawn(server.run_until_stopped());
        Running {
            handle,
            serving: Box::pin(async move {
                task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
            }),
        }
    }
}

/// The stack's services, bound and serving: the auth service first, then each service that
/// accepts its tokens (posts), pointed at its JWKS document. Serving and stopping go over
/// the list; a further service also needs its settings in [`StackConfig`] and its URL in
/// [`StackUrls`] (docs/ADDING-A-SERVICE.md).
pub struct Stack {
    pub auth_port: u16,
    pub posts_port: u16,
    services: Vec<Running>,
}

impl Stack {
    /// Starts the auth service, then the services that verify its tokens, each pointed at its
    /// JWKS document (auth already serving: each waits for its keys before it listens). A
    /// service that fails to start stops the ones started before it.
    pub async fn start(config: &StackConfig) -> Result<Stack, StackError> {
        config.check_database_urls()?;
        let (auth_config, mut posts_config) = config.service_configs();
        let auth_addr = auth_config.common.bind_addr;
        let auth = auth_service::Application::build(auth_config)
            .await
            .map_err(StackError::Auth)?;
        let auth_port = auth.port();
        let mut stack = Stack {
            auth_port,
            posts_port: 0,
            services: vec![Running::spawn(auth)],
        };
        let jwks_url = format!("{}/.well-known/jwks.json", base_url(auth_addr, auth_port));

        posts_config.tokens.jwks_url = jwks_url;
        let posts = stack
            .or_stop(
                posts_service::Application::build(posts_config).await,
                StackError::Posts,
            )
            .await?;
        stack.posts_port = posts.port();
        stack.services.push(Running::spawn(posts));
        Ok(stack)
    }

    /// The server that was built, or the stack's services stopped and the error.
    async fn or_stop(
        &self,
        built: Result<BoundServer, StartError>,
        error: fn(StartError) -> StackError,
    ) -> Result<BoundServer, StackError> {
        match built {
            Ok(server) => Ok(server),
            Err(e) => {
                self.handle().stop().await;
                Err(error(e))
            }
        }
    }

    fn handle(&self) -> StackHandle {
        StackHandle {
            services: self.services.iter().map(|s| s.handle.clone()).collect(),
        }
    }

    /// Handles to stop the services.
    pub fn handles(&self) -> Vec<ServerHandle> {
        self.handle().handles()
    }

    /// Serves until every service is stopped (see [`service_kit::shutdown::stop_on_signal`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let results =
            futures_util::future::join_all(self.services.into_iter().map(|s| s.serving)).await;
        results.into_iter().collect()
    }

    /// Serves in the background (for tests); the returned handle stops every service.
    pub fn spawn(self) -> StackHandle {
        self.spawn_joinable().0
    }

    /// Serves in the background; the handle stops every service, and the task ends once all
    /// have stopped.
    pub fn spawn_joinable(
        self,
    ) -> (
        StackHandle,
        actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    ) {
        let handle = self.handle();
        (handle, actix_web::rt::spawn(self.run_until_stopped()))
    }
}

/// Stops a spawned stack.
#[derive(Clone)]
pub struct StackHandle {
    services: Vec<ServerHandle>,
}

impl StackHandle {
    /// The servers' handles (for [`service_kit::shutdown::stop_on_signal`]).
    pub fn handles(&self) -> Vec<ServerHandle> {
        self.services.clone()
    }

    /// Stops every service gracefully: in-flight requests finish within the shutdown grace
    /// period.
    pub async fn stop(&self) {
        futures_util::future::join_all(self.services.iter().map(|s| s.stop(true))).await;
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
    fn the_borrowed_auth_options_keep_the_services_variables_and_ranges() {
        assert!(try_parse(&["stack", "--bcrypt-cost", "3"]).is_err());
        assert!(try_parse(&["stack", "--access-token-expire-minutes", "0"]).is_err());
        assert!(try_parse(&["stack", "--access-token-expire-seconds", "31536001"]).is_err());
        let cmd = <StackConfig as clap::CommandFactory>::command();
        for (id, var) in [
            ("access_token_expire_minutes", "ACCESS_TOKEN_EXPIRE_MINUTES"),
            ("access_token_expire_seconds", "ACCESS_TOKEN_EXPIRE_SECONDS"),
            ("bcrypt_cost", "BCRYPT_COST"),
        ] {
            let arg = cmd.get_arguments().find(|a| a.get_id() == id).unwrap();
            assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new(var)));
        }
        assert_eq!(parse(&["stack"]).access_token_expire_minutes, 30);
        assert_eq!(parse(&["stack"]).bcrypt_cost, None);
    }

    #[test]
    fn service_settings_the_stack_does_not_set_are_the_services_own() {
        let mut config = parse(&["stack"]);
        config.auth.login_max_failures = 3;
        config.posts.tokens.leeway_seconds = 7;
        config.posts.tokens.public_key_file = Some("elsewhere.pem".into());
        let (auth, posts) = config.service_configs();
        assert_eq!(auth.login_max_failures, 3);
        assert_eq!(posts.tokens.leeway_seconds, 7);
        // What ties the two together stays the stack's.
        assert!(posts.tokens.public_key_file.is_none());
        assert_eq!(
            auth.jwt_private_key_file,
            std::path::Path::new("data").join(super::SIGNING_KEY_FILE)
        );
        assert!(
            auth.jwt_generate_key,
            "the stack generates its key on first start"
        );
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
