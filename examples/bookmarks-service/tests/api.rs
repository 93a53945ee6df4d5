//! The third service, black-box on both backends: beside a real auth service, it accepts
//! auth's tokens, keeps a user's bookmarks, refuses a logged-out session's token within 3 s,
//! and has the skeleton's health and metrics.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
use service_kit::Backend;

struct Services {
    auth: String,
    bookmarks: String,
    client: reqwest::Client,
    _dbs: (TestDatabase, TestDatabase),
    _key_dir: tempfile::TempDir,
}

/// An auth service, then a bookmarks service following its JWKS and its feed of ended
/// sessions, each on port 0 with a fresh database.
async fn start(backend: Backend) -> Services {
    let key_dir = tempfile::tempdir().unwrap();
    let (auth_db, bookmarks_db) = (
        TestDatabase::create(backend, "bm_auth"),
        TestDatabase::create(backend, "bookmarks"),
    );
    let mut auth = auth_service::Config::defaults();
    auth.common.bind_addr = "127.0.0.1:0".parse().unwrap();
    auth.common.database_url = auth_db.url.clone();
    auth.bcrypt_cost = 4;
    auth.jwt_private_key_file = key_dir.path().join("signing-key.pem");
    auth.jwt_generate_key = true;
    let auth = auth_service::Application::build(auth).await.unwrap();
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    actix_web::rt::spawn(auth.run_until_stopped());

    let mut config = bookmarks_service::Config::defaults();
    config.common.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.common.database_url = bookmarks_db.url.clone();
    config.tokens.jwks_url = format!("{auth_url}/.well-known/jwks.json");
    let bookmarks = bookmarks_service::build(config).await.unwrap();
    let bookmarks_url = format!("http://127.0.0.1:{}", bookmarks.port());
    actix_web::rt::spawn(bookmarks.run_until_stopped());
    Services {
        auth: auth_url,
        bookmarks: bookmarks_url,
        client: reqwest::Client::new(),
        _dbs: (auth_db, bookmarks_db),
        _key_dir: key_dir,
    }
}

impl Services {
    /// Signs up `email` and logs in: an access token.
    async fn token(&self, email: &str) -> String {
        let user = json!({ "email": email, "password": "password123" });
        let signed_up = self
            .client
            .post(format!("{}/users/", self.auth))
            .json(&user);
        assert_eq!(
            signed_up.send().await.unwrap().status(),
            StatusCode::CREATED
        );
        let form = [("username", email), ("password", "password123")];
        let login = self.client.post(format!("{}/login", self.auth)).form(&form);
        let body: Value = login.send().await.unwrap().json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.bookmarks);
        let response = self
            .client
            .request(method, url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

service_kit::backend_tests! {
    async fn bookmarks_are_each_users_own_and_need_a_valid_token(backend) {
        let app = start(backend).await;
        let (alice, bob) = (app.token("alice@example.com").await, app.token("bob@example.com").await);
        for id in [3, 7, 7] {
            let (status, _) = app.call(reqwest::Method::PUT, &format!("/bookmarks/{id}"), &alice).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let (status, body) = app.call(reqwest::Method::GET, "/bookmarks/", &alice).await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<i64> = body.as_array().unwrap().iter().map(|b| b["post_id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&3) && ids.contains(&7));
        assert_eq!(app.call(reqwest::Method::GET, "/bookmarks", &bob).await, (StatusCode::OK, json!([])));
        let (status, body) = app.call(reqwest::Method::DELETE, "/bookmarks/3", &bob).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "detail": "Bookmark does not exist" })));
        assert_eq!(app.call(reqwest::Method::DELETE, "/bookmarks/3", &alice).await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.call(reqwest::Method::PUT, "/bookmarks/0", &alice).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, body) = app.call(reqwest::Method::GET, "/bookmarks/", "not-a-token").await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({ "detail": "Could not validate credentials" })));
    }

    async fn a_token_signed_with_an_unknown_key_is_401_before_a_bad_id_is_422(backend) {
        let app = start(backend).await;
        // Its `kid` is not in auth's JWKS: the verifier fetches the JWKS again before it
        // answers, and the bad id must not answer first.
        let claims = shared_claims::testing::claims_for_testing(1, "mallory@example.com", 60);
        let forged = shared_claims::testing::encode_for_testing(
            &claims,
            &shared_claims::testing::test_signing_key(),
        );
        for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
            let (status, body) = app.call(method, "/bookmarks/abc", &forged).await;
            assert_eq!(
                (status, body),
                (StatusCode::UNAUTHORIZED, json!({ "detail": "Could not validate credentials" }))
            );
        }
    }

    async fn a_logout_is_honoured_within_three_seconds(backend) {
        let app = start(backend).await;
        let token = app.token("carol@example.com").await;
        assert_eq!(app.call(reqwest::Method::GET, "/bookmarks/", &token).await.0, StatusCode::OK);
        let logout = app.client.post(format!("{}/logout", app.auth)).bearer_auth(&token);
        assert_eq!(logout.send().await.unwrap().status(), StatusCode::NO_CONTENT);
        let logged_out = Instant::now();
        loop {
            let (status, _) = app.call(reqwest::Method::GET, "/bookmarks/", &token).await;
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(logged_out.elapsed() < Duration::from_secs(3), "the ended session's token is still accepted after 3 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn health_readiness_and_metrics_come_from_the_skeleton(backend) {
        let app = start(backend).await;
        let get = |path: &str| app.client.get(format!("{}{path}", app.bookmarks)).send();
        assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
        let ready: Value = get("/readyz").await.unwrap().json().await.unwrap();
        assert_eq!(ready, json!({ "status": "ready" }));
        let revocations = get("/revocations").await.unwrap();
        assert_eq!(revocations.status(), StatusCode::OK);
        let token = app.token("dave@example.com").await;
        app.call(reqwest::Method::GET, "/bookmarks/", &token).await;
        let metrics = get("/metrics").await.unwrap().text().await.unwrap();
        for name in ["http_request_duration_seconds_count", "db_pool_connections_max", "jwks_refreshes_total", "revocation_list_age_seconds"] {
            assert!(metrics.lines().any(|l| l.starts_with(name)), "/metrics lacks {name}:\n{metrics}");
        }
        let doc: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
        assert!(doc["paths"]["/bookmarks/{id}"]["put"].is_object());
    }
}
