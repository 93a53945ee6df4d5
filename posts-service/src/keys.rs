//! Where verification keys come from: a shared secret (HS256), a public key file (offline),
//! or the auth service's JWKS, fetched in the background at start and again on an unknown
//! `kid`. Start-up never waits for the auth service.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::web;
use shared_claims::{Alg, KeySet, Verifier, VerifyConfig};

use crate::config::Config;
use crate::StartError;

/// First wait between failed JWKS fetches at start; doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Longest wait between failed JWKS fetches at start.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Loads the JWKS in the background until it succeeds; spawn it once the service starts.
pub type KeyLoader = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The verifier of the configured key source. With a JWKS URL it starts empty (tokens are
/// refused and `/readyz` says not ready) until the returned loader has fetched the keys.
pub fn verifier(config: &Config) -> Result<(web::Data<Verifier>, Option<KeyLoader>), StartError> {
    let verify = VerifyConfig {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        leeway_seconds: config.jwt_leeway_seconds,
    };
    match (config.jwt_algorithm, &config.jwt_public_key_file) {
        (Alg::HS256, _) => {
            let secret = config.jwt_secret.as_deref().unwrap_or_default().as_bytes();
            let keys = KeySet::hs256(secret)?;
            Ok((web::Data::new(Verifier::new(keys, verify)), None))
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
            Ok((web::Data::new(Verifier::new(keys, verify)), None))
        }
        (Alg::EdDSA, None) => {
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(5))
                // Fetches are rare and may run on any worker's runtime: no pooled connections.
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| StartError::Config(format!("JWT_JWKS_URL: HTTP client: {e}")))?;
            let url = config.jwt_jwks_url.clone();
            let refresh_client = client.clone();
            let refresh_url = url.clone();
            let verifier = web::Data::new(Verifier::new(KeySet::empty(), verify).with_refresh(
                config.jwks_refresh_min_interval(),
                Box::new(move || {
                    let client = refresh_client.clone();
                    let url = refresh_url.clone();
                    Box::pin(async move { fetch_jwks(&client, &url).await })
                }),
            ));
            let loader = Box::pin(load_until_loaded(verifier.clone(), client, url));
            Ok((verifier, Some(loader)))
        }
    }
}

/// Fetches and parses a JWKS document.
pub async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<KeySet, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("GET {url}: {e}"))?;
    let body = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    KeySet::from_jwks_json(&body).map_err(|e| format!("{url}: {e}"))
}

/// Fetches the JWKS until it yields at least one key (or keys arrived another way).
async fn load_until_loaded(verifier: web::Data<Verifier>, client: reqwest::Client, url: String) {
    let mut wait = FIRST_RETRY;
    loop {
        if verifier.has_keys() {
            return;
        }
        match fetch_jwks(&client, &url).await {
            Ok(keys) if !keys.is_empty() => {
                if !verifier.has_keys() {
                    log::info!("loaded {} verification key(s) from {url}", keys.len());
                    verifier.replace_keys(keys);
                }
                return;
            }
            Ok(_) => log::warn!("{url} lists no Ed25519 keys yet; retrying in {wait:?}"),
            Err(e) => log::warn!("cannot load verification keys: {e}; retrying in {wait:?}"),
        }
        actix_web::rt::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY);
    }
}
