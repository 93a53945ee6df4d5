//! The resource-server half of the token contract: everything a service that accepts the
//! auth service's tokens needs, behind one builder. Keys come from a shared secret (HS256),
//! a public key file (offline), or the auth service's JWKS ([`jwks`]); tokens of ended
//! sessions are refused when there is a feed of them ([`feed`]). With a JWKS or a feed, the
//! service waits a bounded time (`KEYS_WAIT_SECONDS`) before it listens; until they load, a
//! token it cannot judge gets 503, never 401.
//!
//! A service flattens [`ResourceServerArgs`] into its settings and starts the builder with
//! its state; the [`AuthUser`](crate::AuthUser) extractor then works in its handlers:
//!
//! ```ignore
//! #[command(flatten)]
//! pub tokens: shared_claims::resource::ResourceServerArgs,     // in its clap settings
//!
//! let tokens = ResourceServer::start(&config.tokens)?;           // at start
//! // register `tokens.verifier` as app data, spawn `tokens.background`, before listening
//! // await `tokens.ready` (at most its `within`), and add `resource::routes` to the app;
//! // `/readyz` adds `resource::readiness(&verifier)`, `/metrics` `resource::metrics(..)`.
//! ```

mod args;
pub mod feed;
pub mod jwks;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use futures_util::future::BoxFuture;

pub use crate::Secret;
pub use args::ResourceServerArgs;
pub use feed::POLL_INTERVAL;
pub use jwks::{fetch_jwks, fetch_jwks_with_age};

use crate::{Alg, KeyError, KeySet, Revocations, Verifier, VerifyConfig};

/// Why `COURSE_TOKEN_SECRET` needs the feed of ended sessions on a resource server.
const COURSE_TOKENS_NEED_THE_FEED: &str = "COURSE_TOKEN_SECRET needs SESSIONS_FEED_URL: the feed tells which user ids course tokens may name (those `stack import-course` imported) and whose course tokens a logout or a password change refused";

/// What a service that accepts tokens runs: the verifier its handlers'
/// [`AuthUser`](crate::AuthUser) reads, the tasks that keep it current, and what to wait
/// for before listening.
pub struct ResourceServer {
    /// Register as app data (the extractor and [`routes`] find it there).
    pub verifier: web::Data<Verifier>,
    /// To spawn before the listener opens, kept running while the service serves (they
    /// fetch what [`ResourceServer::ready`] waits for).
    pub background: Vec<BoxFuture<'static, ()>>,
    /// `None` when it can judge every token already (keys from a file or a secret, and no
    /// feed), or when `KEYS_WAIT_SECONDS` is 0.
    pub ready: Option<Wait>,
}

/// What a service waits for before it listens, and for how long at most.
pub struct Wait {
    /// What it waits for, for the log.
    pub what: &'static str,
    /// Resolves once the verifier can judge every token.
    pub until: BoxFuture<'static, ()>,
    /// `KEYS_WAIT_SECONDS`: past it the service listens anyway (and answers 503 to a token
    /// it cannot judge yet).
    pub within: Duration,
}

/// Why a resource server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A setting that cannot be used; the message names the option.
    #[error("{0}")]
    Config(String),
    /// Keys that cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Why a document of the auth service (its JWKS, its feed of ended sessions) could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer, an error status, or a body that could not be read or decoded.
    #[error("GET {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    /// A JWKS that does not parse.
    #[error("{url}: {source}")]
    Keys { url: String, source: KeyError },
}

impl FetchError {
    /// Wraps a reqwest error of a GET of `url`.
    pub(crate) fn http(url: &str) -> impl FnOnce(reqwest::Error) -> FetchError + '_ {
        move |source| FetchError::Http {
            url: url.to_owned(),
            source,
        }
    }
}

impl ResourceServer {
    /// Checks the settings ([`ResourceServerArgs::validate`]), reads a key file, and sets up
    /// the verifier of the configured key source with its background tasks. Connects to
    /// nothing yet: the tasks fetch once spawned.
    pub fn start(args: &ResourceServerArgs) -> Result<ResourceServer, ResourceError> {
        args.validate().map_err(ResourceError::Config)?;
        let (verifier, background) = verifier(args)?;
        let wait = !verifier.is_ready() && args.keys_wait_seconds > 0;
        let ready = wait.then(|| Wait {
            what: "the verification keys and the list of ended sessions",
            until: Box::pin(loaded(verifier.clone())),
            within: args.keys_wait(),
        });
        Ok(ResourceServer {
            verifier,
            background,
            ready,
        })
    }
}

/// `GET /revocations`: whether the list of ended sessions is loaded and how old it is.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/revocations", web::get().to(feed::status));
}

/// The token side's `/readyz` checks, by name: `keys` (held) and `ended_sessions` (loaded
/// once, or no feed): until both pass some tokens get 503.
pub fn readiness(verifier: &Verifier) -> [(&'static str, bool); 2] {
    [
        ("keys", verifier.has_keys()),
        ("ended_sessions", verifier.ended_sessions_loaded()),
    ]
}

/// A value for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// A total since start.
    Counter(u64),
    /// A value that goes up and down.
    Gauge(f64),
}

/// The token side's metrics, `(name, help, value)`: fetches of the JWKS and their
/// failures, the keys held, and the list of ended sessions when there is a feed of them.
pub fn metrics(verifier: &Verifier) -> Vec<(&'static str, &'static str, Sample)> {
    let (refreshes, failures) = verifier.key_refreshes();
    let mut samples = vec![
        (
            "jwks_refreshes_total",
            "Fetches of the auth service's JWKS (at start, when its max-age ran out, on an unknown kid)",
            Sample::Counter(refreshes),
        ),
        (
            "jwks_refresh_failures_total",
            "JWKS fetches that failed or listed no usable key (the keys held were kept)",
            Sample::Counter(failures),
        ),
        (
            "verification_keys",
            "Verification keys held",
            Sample::Gauge(verifier.keys().len() as f64),
        ),
    ];
    if let Some(course) = verifier.course_tokens() {
        samples.push((
            "course_tokens_accepted_total",
            "The course app's own tokens accepted (COURSE_TOKEN_SECRET, until COURSE_TOKEN_UNTIL)",
            Sample::Counter(course.accepted()),
        ));
    }
    if let Some(revocations) = verifier.revocations() {
        samples.push((
            "revocation_list_loaded",
            "1 once the list of ended sessions was loaded from the auth service",
            Sample::Gauge(if revocations.is_loaded() { 1.0 } else { 0.0 }),
        ));
        samples.push((
            "revocation_list_size",
            "Ended sessions whose tokens are refused",
            Sample::Gauge(revocations.len() as f64),
        ));
        if let Some(age) = revocations.age() {
            samples.push((
                "revocation_list_age_seconds",
                "Time since the list of ended sessions was last updated from the feed",
                Sample::Gauge(age.as_secs_f64()),
            ));
        }
    }
    samples
}

/// Resolves once the verifier has keys and, when it checks ended sessions, their list has
/// loaded once: it can then judge every token.
pub async fn loaded(verifier: web::Data<Verifier>) {
    while !verifier.is_ready() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The verifier of the configured key source, refusing tokens of ended sessions when there is
/// a feed of them, and the background tasks that keep it current.
fn verifier(
    args: &ResourceServerArgs,
) -> Result<(web::Data<Verifier>, Vec<BoxFuture<'static, ()>>), ResourceError> {
    let verify = VerifyConfig {
        issuer: args.issuer.clone(),
        audience: crate::audience_setting(&args.audience),
        leeway_seconds: args.leeway_seconds,
    };
    let mut jwks_client = None;
    let verifier = match (args.algorithm, &args.public_key_file) {
        (Alg::HS256, _) => {
            let secret = args.secret.as_ref().map(Secret::expose).unwrap_or_default();
            Verifier::new(KeySet::hs256(secret.as_bytes())?, verify)
        }
        (Alg::EdDSA, Some(path)) => {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                ResourceError::Config(format!(
                    "JWT_PUBLIC_KEY_FILE {}: cannot read: {e}",
                    path.display()
                ))
            })?;
            let keys = KeySet::from_public_key_pem(&pem).map_err(|e| {
                ResourceError::Config(format!("JWT_PUBLIC_KEY_FILE {}: {e}", path.display()))
            })?;
            Verifier::new(keys, verify)
        }
        (Alg::EdDSA, None) => {
            let client = http_client("JWT_JWKS_URL")?;
            jwks_client = Some(client.clone());
            let url = args.jwks_url.clone();
            Verifier::new(KeySet::empty(), verify).with_refresh(
                args.jwks_refresh_min_interval(),
                Box::new(move || {
                    let client = client.clone();
                    let url = url.clone();
                    Box::pin(async move { Ok(fetch_jwks(&client, &url).await?) })
                }),
            )
        }
    };
    let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
    let verifier = match args.sessions_feed() {
        Some(url) => {
            let revocations = Arc::new(Revocations::new(args.leeway_seconds));
            let secret = args.feed_secret.load().map_err(ResourceError::Config)?;
            if secret.is_none() {
                log::warn!(
                    "no SESSIONS_FEED_SECRET: the feed of ended sessions is asked without a credential (an auth service that requires one answers 401)"
                );
            }
            tasks.push(Box::pin(feed::poll(
                Arc::clone(&revocations),
                http_client("SESSIONS_FEED_URL")?,
                url,
                secret,
            )));
            verifier.with_revocations(revocations)
        }
        None => {
            log::warn!(
                "no feed of ended sessions (SESSIONS_FEED_URL): tokens of ended sessions stay valid until they expire"
            );
            verifier
        }
    };
    let verifier = match args.course.course_tokens().map_err(ResourceError::Config)? {
        Some(course) => {
            if verifier.revocations().is_none() {
                // `validate` refuses this pairing; a verifier without the feed would accept
                // course tokens naming any id, logouts or not.
                return Err(ResourceError::Config(COURSE_TOKENS_NEED_THE_FEED.into()));
            }
            verifier.with_course_tokens(course)
        }
        None => verifier,
    };
    let verifier = web::Data::new(verifier);
    if let Some(client) = jwks_client {
        tasks.push(Box::pin(jwks::load_and_keep_current(
            verifier.clone(),
            client,
            args.jwks_url.clone(),
        )));
    }
    Ok((verifier, tasks))
}

fn http_client(option: &str) -> Result<reqwest::Client, ResourceError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        // Fetches are rare and may run on any worker's runtime: no pooled connections.
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| ResourceError::Config(format!("{option}: HTTP client: {e}")))
}

/// An error and its sources, on one line (for the log).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source()).fold(String::new(), |text, e| {
        let more = e.to_string();
        match text.is_empty() {
            true => more,
            // An error that repeats its source's text adds nothing.
            false if text.ends_with(&more) => text,
            false => format!("{text}: {more}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_reads_on_one_line_without_repeats() {
        let keys = FetchError::Keys {
            url: "http://auth/jwks".into(),
            source: KeyError::InvalidJwks("no keys".into()),
        };
        // The source's text is in the error's own already.
        assert_eq!(chain(&keys), "http://auth/jwks: invalid JWKS: no keys");
        assert_eq!(
            chain(&Wrapped(FetchError::Keys {
                url: "u".into(),
                source: KeyError::Generation
            })),
            "fetch: u: key generation failed"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("fetch")]
    struct Wrapped(#[source] FetchError);
}
