//! The auth service's JWKS: fetched in the background from start, again whenever its
//! `max-age` runs out, and on an unknown `kid` (through [`Verifier::with_refresh`]). The
//! document is the truth: a key it no longer lists is dropped.

use std::time::Duration;

use actix_web::web;

use super::{chain, FetchError};
use crate::{KeySet, Verifier};

/// First wait between failed JWKS fetches at start; doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Longest wait between failed JWKS fetches at start.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long a JWKS without `max-age` is kept before it is fetched again.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// Longest a JWKS is kept, whatever its `max-age` says.
const LONGEST_MAX_AGE: Duration = Duration::from_secs(300);
/// Wait before fetching again after a failed periodic fetch.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

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
pub(super) async fn load_and_keep_current(
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
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY);
    };
    loop {
        tokio::time::sleep(keep_for).await;
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
