//! Exit under load on PostgreSQL over TLS: the real binary gets SIGTERM at a random moment
//! of a login storm, twenty times, and must exit 0 each time.
//!
//! While OpenSSL freed its global state in an `atexit` handler, a thread still inside libpq at
//! exit (the pool's own threads opening a connection: TLS handshake, SCRAM) could use the freed
//! state and the process died of SIGSEGV instead of exiting 0 (see
//! `service_kit::db::openssl_without_exit_cleanup`). `bench/shutdown_stress.py` runs the same
//! check for hundreds of cycles on release builds. Runs on the PostgreSQL server of
//! `TEST_POSTGRES_URL` (skipped like the other PostgreSQL tests when none answers).

use service_kit::testing::TestDatabase;
use test_support::exit_stress::SigtermUnderLoad;
use test_support::{ApiClient, PASSWORD};

const USERS: usize = 4;

#[actix_web::test]
async fn sigterm_under_login_load_on_postgres_over_tls_exits_0_every_time() {
    let Some(db) = TestDatabase::postgres("auth-exit") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stress = SigtermUnderLoad {
        cycles: 20,
        clients: 48,
        binary: env!("CARGO_BIN_EXE_auth-service").into(),
        dir: dir.path().into(),
        database_url: db.url_requiring_tls(),
        env: vec![
            (
                "JWT_PRIVATE_KEY_FILE",
                dir.path().join("signing-key.pem").into(),
            ),
            ("JWT_GENERATE_KEY", "true".into()),
            ("BCRYPT_COST", "4".into()),
            ("LOGIN_MAX_FAILURES", "1000".into()),
        ],
        request: |api: &ApiClient, i: usize| {
            let email = format!("exit{}@example.com", i % USERS);
            api.client()
                .post(api.url("/login"))
                .form(&[("username", email.as_str()), ("password", PASSWORD)])
        },
    };
    let sign_up = async |api: &ApiClient| {
        for i in 0..USERS {
            api.create_user(&format!("exit{i}@example.com"), PASSWORD)
                .await;
        }
    };
    stress
        .run(sign_up, || db.assert_every_connection_uses_tls())
        .await;
}
