//! Exit under load on PostgreSQL over TLS: the real binary gets SIGTERM at a random moment
//! of a storm of authenticated list requests, twenty times, and must exit 0 each time.
//!
//! While OpenSSL freed its global state in an `atexit` handler, a thread still inside libpq at
//! exit (the pool's own threads opening a connection: TLS handshake, SCRAM) could use the freed
//! state and the process died of SIGSEGV instead of exiting 0 (see
//! `service_kit::db::openssl_without_exit_cleanup`). The keys come from a public key file, so
//! no auth service is needed. `bench/shutdown_stress.py` runs the same check for hundreds of
//! cycles on release builds. Runs on the PostgreSQL server of `TEST_POSTGRES_URL` (skipped
//! like the other PostgreSQL tests when none answers).

use std::process::Command;

use serde_json::json;
use service_kit::testing::{postgres_tests_run, TestDatabase};
use service_kit::Backend;
use shared_claims::testing::test_signing_key;
use test_support::exit_stress::SigtermUnderLoad;
use test_support::ApiClient;

use crate::helpers::{token_for, TempDir};

const POSTS: usize = 20;

#[actix_web::test]
async fn sigterm_under_list_load_on_postgres_over_tls_exits_0_every_time() {
    if !postgres_tests_run() {
        return;
    }
    let db = TestDatabase::create(Backend::Postgres, "posts-exit");
    let url = format!("{}?sslmode=require", db.url);
    let dir = TempDir::new("posts-exit");
    let key_file = dir.0.join("public.pem");
    std::fs::write(&key_file, test_signing_key().public_key_pem()).unwrap();
    let token = token_for(1, "exit@example.com");
    let stress = SigtermUnderLoad {
        cycles: 20,
        clients: 48,
        start: || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_posts-service"));
            cmd.env_clear()
                .current_dir(&dir.0)
                .env("BIND_ADDR", "127.0.0.1:0")
                .env("DATABASE_URL", &url)
                .env("DATABASE_POOL_SIZE", "32")
                .env("JWT_PUBLIC_KEY_FILE", &key_file)
                // No grace: requests still running when the workers stop are abandoned, as
                // after a grace period that ran out.
                .env("SHUTDOWN_GRACE_SECONDS", "0")
                .env("RUST_LOG", "warn,service_kit::config=info");
            cmd
        },
        request: |api: &ApiClient, i: usize| {
            api.client()
                .get(api.url(&format!("/posts/?limit=5&skip={}", i * 7 % POSTS)))
                .bearer_auth(&token)
        },
    };
    stress
        .run(
            async |api: &ApiClient| {
                for i in 0..POSTS {
                    let post = json!({"title": format!("post {i}"), "content": "exit stress"});
                    let resp = api.create_post(&token, &post).await;
                    assert_eq!(resp.status(), 201);
                }
            },
            || {
                let (total, tls) = db.tls_connections().unwrap();
                assert!(
                    total > 0 && tls == total,
                    "{tls} of {total} connections use TLS"
                );
            },
        )
        .await;
}
