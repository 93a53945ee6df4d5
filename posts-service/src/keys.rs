//! Where verification keys come from: a shared secret (HS256), a public key file (offline),
//! or the auth service's JWKS, fetched in the background from start, again whenever its
//! `max-age` runs out, and on an unknown `kid`. The JWKS document is the truth: a key it no
//! longer lists is dropped. The listener waits for the first keys a bounded time
//! (`KEYS_WAIT_SECONDS`); until they load, a token gets 503, never 401.
//!
//! The verifier also refuses tokens of ended sessions when there is a feed of them
//! (see [`crate::sessions`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::web;
use std::sync::Arc;

use service_kit::error::chain;
use shared_claims::{Alg, KeySet, Revocations, Verifier, VerifyConfig};

use crate::config::Config;
use crate::StartError;

/// First wait between failed JWKS fetches at start; doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Longest wait between failed JWKS fetches at start.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Loads the keys (or the list of ended sessions) and keeps them current in the background;
/// the service skeleton spawns it before the listener opens.
pub type KeyLoader = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a JWKS without `max-age` is kept before it is fetched again.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// Longest a JWKS is kept, whatever its `max-age` says.
const LONGEST_MAX_AGE: Duration = Duration::from_secs(300);
/// Wait before fetching again after a failed periodic fetch.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The verifier of the configured key source, refusing tokens of ended sessions when there is
/// a feed of them, and the background tasks that keep it current.
pub fn verifier(config: &Config) -> Result<(web::Data<Verifier>, Vec<KeyLoader>), StartError> {
    let verify = VerifyConfig {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        leeway_seconds: config.jwt_leeway_seconds,
    };
    let mut tasks: Vec<KeyLoader> = Vec::new();
    let with_revocations = |verifier: Verifier, tasks: &mut Vec<KeyLoader>| {
        let Some(url) = config.sessions_feed() else {
            log::warn!(
                "no feed of ended sessions (SESSIONS_FEED_URL): tokens of ended sessions stay valid until they expire"
            );
            return Ok::<_, StartError>(verifier);
        };
        let revocations = Arc::new(Revocations::new(config.jwt_leeway_seconds));
        tasks.push(Box::pin(crate::sessions::poll(
            Arc::clone(&revocations),
            http_client("SESSIONS_FEED_URL")?,
            url,
        )));
        Ok(verifier.with_revocations(revocations))
    };
    match (config.jwt_algorithm, &config.jwt_public_key_file) {
        (Alg::HS256, _) => {
            let secret = config.jwt_secret.as_deref().unwrap_or_default().as_bytes();
            let keys = KeySet::hs256(secret).map_err(StartError::key)?;
            let verifier = with_revocations(Verifier::new(keys, verify), &mut tasks)?;
            Ok((web::Data::new(verifier), tasks))
        }
        (Alg::EdDSA, Some(path)) => {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                StartError::Config(format!(
                    "JWT_PUBLIC_KEY_FILE {}: cannot read: {e}",
                    path.display()
                ))
            })?;
            let keys = KeySet::from_public_key_pem(&pem).map_err(|e| {
                StartError::Config(format!("JWT_PUBLIC_KEY_FILE {}: {e}", path.display()))
            })?;
            let verifier = with_revocations(Verifier::new(keys, verify), &mut tasks)?;
            Ok((web::Data::new(verifier), tasks))
        }
        (Alg::EdDSA, None) => {
            let client = http_client("JWT_JWKS_URL")?;
            let url = config.jwt_jwks_url.clone();
            let refresh_client = client.clone();
            let refresh_url = url.clone();
            let verifier = Verifier::new(KeySet::empty(), verify).with_refresh(
                config.jwks_refresh_min_interval(),
                Box::new(move || {
                    let client = refresh_client.clone();
                    let url = refresh_url.clone();
                    Box::pin(async move { Ok(fetch_jwks(&client, &url).await?) })
                }),
            );
            let verifier = web::Data::new(with_revocations(verifier, &mut tasks)?);
            tasks.push(Box::pin(load_and_keep_current(
                verifier.clone(),
                client,
                url,
            )));
            Ok((verifier, tasks))
        }
    }
}

/// Resolves once the verifier has keys and, when it checks ended sessions, their list has
/// loaded once: it can then judge every token.
pub async fn loaded(verifier: web::Data<Verifier>) {
    while !verifier.is_ready() {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn http_client(option: &str) -> Result<reqwest::Client, StartError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        // Fetches are rare and may run on any worker's runtime: no pooled connections.
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| StartError::Config(format!("{option}: HTTP client: {e}")))
}

/// Why a document of the auth service (its JWKS, its feed of ended sessions) could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer, an error status, or a body that could not be read or decoded.
    #[error("GET {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    /// A JWKS that does not parse.
    #[error("{url}: {source}")]
    Keys {
        url: String,
        source: shared_claims::KeyError,
    },
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

/// Fetches and parses a JWKS document.
pub async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<KeySet, FetchError> {
    fetch_jwks_with_age(client, url).await.map(|(keys, _)| keys)
}

/// Fetches and parses a JWKS document, with how long it may be kept (its `Cache-Control:
/// max-age`, at most five minutes; a minute when it names none).
pub async fn fetch_jwks_with_age(
    client: &reqwest::Client,
    url: &str,
) -> Result<(KeySet, Duration), FetchError> {
    let resp = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(FetchError::http(url))?;
    let max_age = resp
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age)
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(Duration::from_secs(1), LONGEST_MAX_AGE);
    let body = resp.text().await.map_err(FetchError::http(url))?;
    let keys = KeySet::from_jwks_json(&body).map_err(|source| FetchError::Keys {
        url: url.to_owned(),
        source,
    })?;
    Ok((keys, max_age))
}

/// The `max-age` directive of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

/// Fetches the JWKS until it yields at least one key, then again each time its `max-age`
/// runs out, installing what the document lists (an empty document is not installed: a
/// broken auth deployment must not lock everyone out).
async fn load_and_keep_current(
    verifier: web::Data<Verifier>,
    client: reqwest::Client,
    url: String,
) {
    let mut wait = FIRST_RETRY;
    let mut keep_for = loop {
        let fetched = fetch_jwks_with_age(&client, &url).await;
        verifier.record_key_refresh(matches!(&fetched, Ok((keys, _)) if !keys.is_empty()));
        match fetched {
            Ok((keys, max_age)) if !keys.is_empty() => {
                log::info!("loaded {} verification key(s) from {url}", keys.len());
                verifier.update_keys(keys);
                break max_age;
            }
            // Keys arrived another way (a refresh on an unknown kid) meanwhile.
            _ if verifier.has_keys() => break DEFAULT_MAX_AGE.min(MAX_RETRY),
            Ok(_) => log::warn!("{url} lists no Ed25519 keys yet; retrying in {wait:?}"),
            Err(e) => log::warn!(
                "cannot load verification keys: {}; retrying in {wait:?}",
                chain(&e)
            ),
        }
        actix_web::rt::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY);
    };
    loop {
        actix_web::rt::time::sleep(keep_for).await;
        let fetched = fetch_jwks_with_age(&client, &url).await;
        verifier.record_key_refresh(matches!(&fetched, Ok((keys, _)) if !keys.is_empty()));
        keep_for = match fetched {
            Ok((keys, max_age)) if !keys.is_empty() => {
                let kids = keys.kids().join(", ");
                if verifier.update_keys(keys) {
                    log::info!("verification keys changed; now: {kids}");
                }
                max_age
            }
            Ok(_) => {
                log::warn!("{url} lists no Ed25519 keys; keeping the current ones");
                RETRY_AFTER_FAILURE
            }
            Err(e) => {
                log::warn!(
                    "refreshing verification keys failed, keeping the current ones: {}",
                    chain(&e)
                );
                RETRY_AFTER_FAILURE
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=60"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("MAX-AGE=5"), Some(Duration::from_secs(5)));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
