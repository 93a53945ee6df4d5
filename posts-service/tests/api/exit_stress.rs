//! Exit under load on PostgreSQL over TLS: the real binary gets SIGTERM at a random moment
//! of a storm of authenticated list requests, twenty times, and must exit 0 each time.
//!
//! The same check as auth-service's `exit_stress` (see there, and
//! `service_kit::db::openssl_without_exit_cleanup`, for the crash it guards against). The
//! keys come from a public key file, so no auth service is needed.

use serde_json::json;
use service_kit::testing::TestDatabase;
use test_support::exit_stress::SigtermUnderLoad;
use test_support::ApiClient;

use crate::helpers::{token_for, write_public_key, TempDir};

const POSTS: usize = 20;

#[actix_web::test]
async fn sigterm_under_list_load_on_postgres_over_tls_exits_0_every_time() {
    let Some(db) = TestDatabase::postgres("posts-exit") else {
        return;
    };
    let dir = TempDir::new("posts-exit");
    let key_file = write_public_key(&dir);
    let token = token_for(1, "exit@example.com");
    let stress = SigtermUnderLoad {
        cycles: 20,
        clients: 48,
        binary: env!("CARGO_BIN_EXE_posts-service").into(),
        dir: dir.0.clone(),
        database_url: db.url_requiring_tls(),
        env: vec![("JWT_PUBLIC_KEY_FILE", key_file.into())],
        request: |api: &ApiClient, i: usize| {
            api.request(
                reqwest::Method::GET,
                &format!("/posts/?limit=5&skip={}", i * 7 % POSTS),
                Some(&token),
            )
        },
    };
    let create_posts = async |api: &ApiClient| {
        for i in 0..POSTS {
            let post = json!({"title": format!("post {i}"), "content": "exit stress"});
            assert_eq!(api.create_post(&token, &post).await.status(), 201);
        }
    };
    stress
        .run(create_posts, || db.assert_every_connection_uses_tls())
        .await;
}
