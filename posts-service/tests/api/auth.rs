use reqwest::Method;
use serde_json::json;
use shared_claims::testing::{claims_for_testing, encode_hs256_for_testing, TEST_HS256_SECRET};

use crate::helpers::*;

/// Every route of the service, with a body where it takes one.
fn every_route() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/posts/"),
        (Method::GET, "/posts"),
        (Method::POST, "/posts/"),
        (Method::POST, "/posts"),
        (Method::GET, "/posts/1"),
        (Method::PUT, "/posts/1"),
        (Method::DELETE, "/posts/1"),
        (Method::POST, "/vote/"),
        (Method::POST, "/vote"),
    ]
}

async fn assert_401(app: &TestApp, auth: Option<&str>, expected: &str) {
    for (method, path) in every_route() {
        let mut req = app.request(method.clone(), path, None);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "{method} {path}"
        );
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(body, detail(expected), "{method} {path}");
    }
}

service_kit::backend_tests! {
    async fn requests_without_a_bearer_token_are_not_authenticated(backend) {
        let app = spawn_app(backend).await;
        assert_401(&app, None, "Not authenticated").await;
        assert_401(&app, Some("Basic dXNlcjpwYXNz"), "Not authenticated").await;
    }

    async fn garbage_expired_and_wrong_audience_tokens_cannot_be_validated(backend) {
        let app = spawn_app(backend).await;
        assert_401(&app, Some("Bearer garbage"), "Could not validate credentials").await;

        let expired = token_with(&claims_for_testing(ALICE, "alice@example.com", -1));
        assert_401(&app, Some(&format!("Bearer {expired}")), "Could not validate credentials")
            .await;

        let mut claims = claims_for_testing(ALICE, "alice@example.com", 300);
        claims.aud = "some-other-service".into();
        let wrong_audience = token_with(&claims);
        assert_401(&app, Some(&format!("Bearer {wrong_audience}")), "Could not validate credentials")
            .await;

        let hs256 = encode_hs256_for_testing(
            &claims_for_testing(ALICE, "alice@example.com", 300),
            TEST_HS256_SECRET,
        );
        assert_401(&app, Some(&format!("Bearer {hs256}")), "Could not validate credentials").await;
    }

    async fn authentication_is_checked_before_the_input_is_validated(backend) {
        let app = spawn_app(backend).await;
        let (status, _) = status_json(app.get("/posts/abc", None).await).await;
        assert_eq!(status, 401);
        let (status, _) = status_json(app.get("/posts/?limit=abc", None).await).await;
        assert_eq!(status, 401);
        let big = "x".repeat(2 * 1024 * 1024);
        for req in [
            app.request(Method::POST, "/posts/", None).json(&json!({})),
            app.request(Method::PUT, "/posts/2", None),
            app.request(Method::POST, "/vote/", None).body("{not json"),
            // Even a body too large to read: the token is checked before the body is read.
            app.request(Method::POST, "/posts/", Some("not-a-token")).body(big.clone()),
        ] {
            assert_eq!(req.send().await.unwrap().status(), 401);
        }
        let token = crate::helpers::token_for(1, "a@example.com");
        let resp = app.request(Method::POST, "/posts/", Some(&token)).body(big).send().await.unwrap();
        assert_eq!(resp.status(), 413);
    }

    async fn a_tokens_user_appears_as_owner_without_any_auth_service(backend) {
        let app = spawn_app(backend).await;
        let mut claims = claims_for_testing(42, "carol@example.com", 300);
        claims.user_created_at = Some("2026-11-25T20:36:20.768598+00:00".into());
        let token = token_with(&claims);
        let (status, body) = status_json(
            app.create_post(&token, json!({ "title": "t", "content": "c" })).await,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["owner_id"], 42);
        assert_eq!(
            body["owner"],
            json!({
                "id": 42,
                "email": "carol@example.com",
                "created_at": "2026-11-25T20:36:20.768598+00:00"
            })
        );

        // A later token with a new email (and no creation date) updates the email only.
        let token = token_for(42, "carol@new.example.com");
        let id = app.new_post(&token, "second", true).await;
        let (_, body) = status_json(app.get_post(&token, id).await).await;
        assert_eq!(
            body["Post"]["owner"],
            json!({
                "id": 42,
                "email": "carol@new.example.com",
                "created_at": "2026-11-25T20:36:20.768598+00:00"
            })
        );
    }

    async fn an_owner_whose_creation_date_is_unknown_shows_null(backend) {
        let app = spawn_app(backend).await;
        let (status, body) = status_json(
            app.create_post(&alice(), json!({ "title": "t", "content": "c" })).await,
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(
            body["owner"],
            json!({ "id": ALICE, "email": "alice@example.com", "created_at": null })
        );
    }

    async fn health_readiness_and_docs_answer(backend) {
        let app = spawn_app(backend).await;
        let (status, body) = status_json(app.get("/healthz", None).await).await;
        assert_eq!((status, body), (200, json!({ "status": "ok" })));
        let (status, body) = status_json(app.get("/readyz", None).await).await;
        assert_eq!((status, body), (200, json!({ "status": "ready" })));
        let (status, body) = status_json(app.get("/", None).await).await;
        assert_eq!(status, 200);
        assert!(body["message"].is_string());
        let (status, body) = status_json(app.get("/openapi.json", None).await).await;
        assert_eq!(status, 200);
        for path in ["/posts/", "/posts/{id}", "/vote/"] {
            assert!(body["paths"][path].is_object(), "{path} documented");
        }
        let resp = app.get("/docs/", None).await;
        assert_eq!(resp.status(), 200);
        let (status, body) = status_json(app.get("/nowhere", Some(&alice())).await).await;
        assert_eq!((status, body), (404, detail("Not Found")));
    }
}

#[actix_web::test]
async fn hs256_tokens_verify_with_the_shared_secret() {
    let app = spawn_app_with(service_kit::Backend::Sqlite, |c| {
        c.tokens.algorithm = shared_claims::Alg::HS256;
        c.tokens.secret = Some(
            String::from_utf8(TEST_HS256_SECRET.to_vec())
                .unwrap()
                .into(),
        );
        c.tokens.public_key_file = None;
    })
    .await;
    let token = encode_hs256_for_testing(
        &claims_for_testing(ALICE, "alice@example.com", 300),
        TEST_HS256_SECRET,
    );
    let (status, _) = status_json(app.list(&token, "").await).await;
    assert_eq!(status, 200);
    // An EdDSA token is refused: the algorithm is pinned.
    let (status, _) = status_json(app.list(&alice(), "").await).await;
    assert_eq!(status, 401);
}
