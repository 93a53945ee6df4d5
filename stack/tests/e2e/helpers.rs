//! The e2e tests drive the stack through [`stack::TestStack`], the harness other projects
//! use, so the harness is exercised by every test here. Requests and answers go through the
//! shared client of the services' suites (`test_support`), which `TestStack` hands out.

use std::path::Path;
use std::process::Output;

use reqwest::Method;
use service_kit::Backend;
use stack::TestStack;
use test_support::ApiClient;

pub use test_support::{detail, PASSWORD};

/// Both services on free ports, on fresh databases of `backend`.
pub async fn spawn_stack(backend: Backend) -> TestStack {
    TestStack::builder().backend(backend).start().await
}

/// Whether the service at `api` still answers `GET /healthz` at all (with any status).
pub async fn answers(api: &ApiClient) -> bool {
    api.request(Method::GET, "/healthz", None)
        .send()
        .await
        .is_ok()
}

/// Asserts that a finished command exited successfully; fails with `what` and its stderr.
pub fn assert_succeeded(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {stderr}");
}

/// The environment of an auth-service process on `database_url`, signing with the shared
/// test key (written to `dir`) at bcrypt cost 4.
pub fn auth_env(dir: &Path, database_url: String) -> Vec<(&'static str, String)> {
    let key = dir.join("signing-key.pem");
    std::fs::write(&key, shared_claims::testing::TEST_ED25519_PRIVATE_PEM).unwrap();
    vec![
        ("DATABASE_URL", database_url),
        ("JWT_PRIVATE_KEY_FILE", key.display().to_string()),
        ("BCRYPT_COST", "4".to_string()),
        ("SESSIONS_FEED_SECRET", FEED_SECRET.to_string()),
    ]
    .into_iter()
    .chain(raised_rate_limits())
    .collect()
}

/// Rate limits these tests' traffic (thousands of refreshes a minute from 127.0.0.1) does
/// not reach; auth's own `limits` tests exercise the defaults.
pub fn raised_rate_limits() -> Vec<(&'static str, String)> {
    [
        "RATE_LIMIT_SIGNUP",
        "RATE_LIMIT_LOGIN",
        "RATE_LIMIT_REFRESH",
        "RATE_LIMIT_PASSWORD",
    ]
    .map(|var| (var, "100000000/100000000".to_string()))
    .to_vec()
}

/// The ended-sessions feed's secret the processes of [`auth_env`] and [`posts_env`] share.
pub const FEED_SECRET: &str = "the-feed-secret-of-these-test-processes";

/// The environment of a posts-service process on `database_url`, reading the keys of the
/// auth process on loopback `auth_port`.
pub fn posts_env(database_url: String, auth_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url),
        (
            "JWT_JWKS_URL",
            format!("http://127.0.0.1:{auth_port}/.well-known/jwks.json"),
        ),
        ("SESSIONS_FEED_SECRET", FEED_SECRET.to_string()),
    ]
}
