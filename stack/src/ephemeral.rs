//! The ephemeral stack: both services on free loopback ports, their SQLite files and a fresh
//! signing key in a temporary folder that is removed when the stack stops, and a start that
//! returns only once both services answer `/readyz`.
//!
//! `stack --ephemeral` runs one for tests written in any language; [`crate::TestStack`]
//! runs one in-process for Rust tests. Database URLs in the configuration (PostgreSQL, say)
//! are used as given: those databases are not removed.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use shared_claims::{KeyError, SigningKey};

use crate::{base_url, Stack, StackConfig, StackError, StackHandle, SIGNING_KEY_FILE};

/// How long [`EphemeralStack::start`] waits for both services to answer `/readyz`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a running stack answers: the JSON line `stack --ephemeral` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StackUrls {
    /// Base URL of the auth service (`POST /users/`, `POST /login`).
    pub auth_url: String,
    /// Base URL of the posts service (`/posts/`, `/vote/`).
    pub posts_url: String,
    /// The auth service's public keys (`/.well-known/jwks.json`).
    pub jwks_url: String,
}

/// A running ephemeral stack. [`Self::stop`] (or the end of [`Self::run_until_stopped`])
/// stops both services and removes the data folder; dropping it removes the folder too.
pub struct EphemeralStack {
    pub urls: StackUrls,
    signing_key: SigningKey,
    handle: StackHandle,
    running: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

/// Why an ephemeral stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum EphemeralError {
    #[error("temporary data folder: {0}")]
    Folder(std::io::Error),
    #[error("signing key: {0}")]
    Key(#[from] shared_claims::KeyError),
    #[error(transparent)]
    Start(#[from] StackError),
    #[error("{0}")]
    NotReady(String),
}

impl EphemeralStack {
    /// Starts both services as `config` says, except that they listen on free loopback
    /// ports and keep their data (unless database URLs are given) and a freshly generated
    /// signing key in a new temporary folder; returns once both answer `/readyz`.
    pub async fn start(config: &StackConfig) -> Result<EphemeralStack, EphemeralError> {
        let dir = tempfile::Builder::new()
            .prefix("stack-ephemeral-")
            .tempdir()
            .map_err(EphemeralError::Folder)?;
        let mut config = config.clone();
        config.ephemeral = true;
        config.data_dir = dir.path().to_path_buf();
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        config.auth_bind_addr = loopback;
        config.posts_bind_addr = loopback;
        // Generated here rather than by the auth service, so the harness holds the key it
        // mints test tokens with, and the service does not warn about a development key.
        let signing_key = fresh_signing_key()?;
        write_private_file(
            &dir.path().join(SIGNING_KEY_FILE),
            signing_key.to_pkcs8_pem().as_bytes(),
        )
        .map_err(EphemeralError::Folder)?;

        let stack = Stack::start(&config).await?;
        let urls = StackUrls::on_loopback(stack.auth_port, stack.posts_port);
        let (handle, running) = stack.spawn_joinable();
        let ephemeral = EphemeralStack {
            urls,
            signing_key,
            handle,
            running,
            dir,
        };
        if let Err(e) = ephemeral.wait_until_ready().await {
            ephemeral.stop().await.ok();
            return Err(e);
        }
        Ok(ephemeral)
    }

    /// Polls both services' `/readyz` (database reachable; for posts, keys and the list of
    /// ended sessions loaded) until both answer 200.
    async fn wait_until_ready(&self) -> Result<(), EphemeralError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| EphemeralError::NotReady(format!("HTTP client: {e}")))?;
        let started = Instant::now();
        for base in [&self.urls.auth_url, &self.urls.posts_url] {
            let url = format!("{base}/readyz");
            loop {
                let status = client.get(&url).send().await.map(|r| r.status());
                if matches!(status, Ok(s) if s.is_success()) {
                    break;
                }
                if self.running.is_finished() {
                    return Err(EphemeralError::NotReady(
                        "the services stopped while starting".into(),
                    ));
                }
                if started.elapsed() > READY_TIMEOUT {
                    let last = match status {
                        Ok(s) => s.to_string(),
                        Err(e) => e.to_string(),
                    };
                    return Err(EphemeralError::NotReady(format!(
                        "{url} not ready after {READY_TIMEOUT:?} (last answer: {last})"
                    )));
                }
                actix_web::rt::time::sleep(Duration::from_millis(2)).await;
            }
        }
        Ok(())
    }

    /// The key the auth service signs with (to mint test tokens it would accept).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The temporary data folder (removed when the stack stops).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A handle to stop both services from elsewhere (a signal handler, say).
    pub fn handle(&self) -> StackHandle {
        self.handle.clone()
    }

    /// Serves until both services are stopped through [`Self::handle`], then removes the
    /// data folder.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = match self.running.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(format!(
                "the servers' task failed: {e}"
            ))),
        };
        let removed = self.dir.close();
        served.and(removed)
    }

    /// Stops both services gracefully and removes the data folder.
    pub async fn stop(self) -> std::io::Result<()> {
        self.handle.stop().await;
        self.run_until_stopped().await
    }
}

/// A new Ed25519 key from 32 bytes of the operating system's randomness (RFC 8032: the
/// private key is a random 32-byte seed). Not `SigningKey::generate`: its first use seeds
/// AWS-LC's random generator, which took 90–150 ms here, a third of the time to ready.
fn fresh_signing_key() -> Result<SigningKey, EphemeralError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| EphemeralError::Key(KeyError::Generation))?;
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| EphemeralError::Key(KeyError::Generation))?;
    let der = pair
        .to_pkcs8v1()
        .map_err(|_| EphemeralError::Key(KeyError::Generation))?;
    Ok(SigningKey::from_pkcs8_der(der.as_ref())?)
}

/// Writes a new file readable by its owner only (the folder is private too).
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

impl StackUrls {
    /// The URLs of services listening on loopback at these ports.
    pub fn on_loopback(auth_port: u16, posts_port: u16) -> StackUrls {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let auth_url = base_url(loopback, auth_port);
        StackUrls {
            jwks_url: format!("{auth_url}/.well-known/jwks.json"),
            posts_url: base_url(loopback, posts_port),
            auth_url,
        }
    }

    /// The one-line JSON form `stack --ephemeral` prints.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("three strings serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_keys_differ_and_sign_tokens_their_own_public_key_verifies() {
        let (a, b) = (fresh_signing_key().unwrap(), fresh_signing_key().unwrap());
        assert_ne!(a.kid(), b.kid());
        let claims = shared_claims::testing::claims_for_testing(1, "a@b.co", 60);
        let token = shared_claims::testing::encode_for_testing(&claims, &a);
        let verify = shared_claims::VerifyConfig {
            issuer: shared_claims::DEFAULT_ISSUER.into(),
            audience: shared_claims::DEFAULT_AUDIENCE.into(),
            leeway_seconds: 0,
        };
        let keys = |k: &SigningKey| {
            shared_claims::KeySet::from_jwks(&shared_claims::JwkSet {
                keys: vec![k.public_jwk()],
            })
            .unwrap()
        };
        assert!(keys(&a).verify(&token, &verify).is_ok());
        assert!(keys(&b).verify(&token, &verify).is_err());
        // The PEM written for the auth service reads back as the same key.
        let again = SigningKey::from_pkcs8_pem(&a.to_pkcs8_pem()).unwrap();
        assert_eq!(again.kid(), a.kid());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SIGNING_KEY_FILE);
        write_private_file(&path, b"secret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            write_private_file(&path, b"again").is_err(),
            "never overwrites"
        );
    }
}
