use serde_json::Value;
use service_kit::testing::TestDatabase;
use shared_claims::{Alg, KeySet, VerifyConfig};

use crate::helpers::{spawn_app, spawn_app_with, start, test_config, PASSWORD};

service_kit::backend_tests! {
    async fn the_jwks_document_holds_public_keys_only(backend) {
        let app = spawn_app(backend).await;
        let resp = app.get("/.well-known/jwks.json").await;
        assert_eq!(resp.status(), 200);
        let jwks: Value = resp.json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kty"], "OKP");
        assert_eq!(keys[0]["crv"], "Ed25519");
        assert!(keys[0]["kid"].is_string());
        assert!(keys[0].get("d").is_none(), "no private part");
    }

    async fn a_generated_dev_key_is_kept_so_tokens_survive_a_restart(backend) {
        let first = spawn_app(backend).await;
        let id = first.create_user("alice@example.com").await;
        let token = first.token("alice@example.com", PASSWORD).await;
        let key_file = first.config.jwt_private_key_file.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second instance with the same key file (a restart) accepts the first one's token.
        let second = first.replica().await;
        let resp = second.get(&format!("/users/{id}"), Some(&token)).await;
        assert_eq!(resp.status(), 200);
    }

    async fn hs256_mode_issues_tokens_verifiable_with_the_secret_and_publishes_no_key(backend) {
        let secret = "an-hs256-secret-of-at-least-32-bytes!!";
        let app = spawn_app_with(backend, |c| {
            c.jwt_algorithm = Alg::HS256;
            c.jwt_secret = Some(secret.into());
        })
        .await;
        let id = app.create_user("alice@example.com").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let claims = KeySet::hs256(secret.as_bytes())
            .unwrap()
            .verify(&token, &VerifyConfig {
                issuer: "auth-service".into(),
                audience: "posts-service".into(),
                leeway_seconds: 0,
            })
            .unwrap();
        assert_eq!(claims.sub, id.to_string());
        let jwks: Value = app.get("/.well-known/jwks.json").await.json().await.unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 0);
        assert_eq!(app.get_user(&id.to_string(), Some(&token)).await.status(), 200);
    }
}

#[actix_web::test]
async fn hs256_without_a_long_enough_secret_refuses_to_start() {
    let db = TestDatabase::create(service_kit::Backend::Sqlite, "auth");
    let key_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&db, &key_dir);
    config.jwt_algorithm = Alg::HS256;
    config.jwt_secret = None;
    let err = auth_service::Application::build(config.clone())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("JWT_SECRET"), "{err}");
    config.jwt_secret = Some("too-short".into());
    let err = auth_service::Application::build(config)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
}

#[actix_web::test]
async fn a_token_signed_with_another_key_is_refused() {
    let db = TestDatabase::create(service_kit::Backend::Sqlite, "auth");
    let key_dir = tempfile::tempdir().unwrap();
    let app = start(test_config(&db, &key_dir), db, key_dir).await;
    let id = app.create_user("alice@example.com").await;
    let forged = shared_claims::testing::encode_for_testing(
        &shared_claims::testing::claims_for_testing(id, "alice@example.com", 600),
        &shared_claims::testing::test_signing_key(),
    );
    let resp = app.get_user(&id.to_string(), Some(&forged)).await;
    assert_eq!(resp.status(), 401);
}
