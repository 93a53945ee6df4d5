//! Exit under load on PostgreSQL over TLS: the real binary gets SIGTERM at a random moment
//! of a login storm, twenty times, and must exit 0 each time.
//!
//! While OpenSSL freed its global state in an `atexit` handler, a thread still inside libpq at
//! exit (the pool's own threads opening a connection: TLS handshake, SCRAM) could use the freed
//! state and the process died of SIGSEGV instead of exiting 0 (see
//! `service_kit::db::openssl_without_exit_cleanup`). `bench/shutdown_stress.py` runs the same
//! check for hundreds of cycles on release builds. Runs on the PostgreSQL server of
//! `TEST_POSTGRES_URL` (skipped like the other PostgreSQL tests when none answers).

use std::process::Command;

use service_kit::testing::{postgres_tests_run, TestDatabase};
use service_kit::Backend;
use test_support::exit_stress::SigtermUnderLoad;
use test_support::{ApiClient, PASSWORD};

const USERS: usize = 4;

#[actix_web::test]
async fn sigterm_under_login_load_on_postgres_over_tls_exits_0_every_time() {
    if !postgres_tests_run() {
        return;
    }
    let db = TestDatabase::create(Backend::Postgres, "auth-exit");
    let url = format!("{}?sslmode=require", db.url);
    let dir = tempfile::tempdir().unwrap();
    let stress = SigtermUnderLoad {
        cycles: 20,
        clients: 48,
        start: || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-service"));
            cmd.env_clear()
                .current_dir(dir.path())
                .env("BIND_ADDR", "127.0.0.1:0")
                .env("DATABASE_URL", &url)
                .env("DATABASE_POOL_SIZE", "32")
                .env("JWT_PRIVATE_KEY_FILE", dir.path().join("signing-key.pem"))
                .env("JWT_GENERATE_KEY", "true")
                .env("BCRYPT_COST", "4")
                .env("LOGIN_MAX_FAILURES", "1000")
                // No grace: requests still running when the workers stop are abandoned, as
                // after a grace period that ran out.
                .env("SHUTDOWN_GRACE_SECONDS", "0")
                .env("RUST_LOG", "warn,service_kit::config=info");
            cmd
        },
        request: |api: &ApiClient, i: usize| {
            let email = format!("exit{}@example.com", i % USERS);
            api.client()
                .post(api.url("/login"))
                .form(&[("username", email.as_str()), ("password", PASSWORD)])
        },
    };
    stress
        .run(
            async |api: &ApiClient| {
                for i in 0..USERS {
                    api.create_user(&format!("exit{i}@example.com"), PASSWORD)
                        .await;
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
