//! The posts suite's `spawn_app` and `TestApp`: the application on port 0 against a fresh
//! database, with the shared client (`test_support::ApiClient`) pointed at it, and tokens
//! minted with the shared test key. The helper methods keep the names the tests use and
//! delegate to the shared client.

use std::net::TcpListener;
use std::path::PathBuf;

use actix_web::{web, App, HttpServer};
use posts_service::{Application, Config};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use shared_claims::testing::{claims_for_testing, encode_for_testing, test_signing_key};
use shared_claims::Claims;
use test_support::ApiClient;

#[allow(unused_imports)] // kept for tests that build their own requests
pub use test_support::{client, status_json};

/// A temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct TestApp {
    /// The loopback port it listens on.
    #[allow(dead_code)]
    pub port: u16,
    /// The shared client for this application (every request helper below goes through it).
    pub api: ApiClient,
    pub config: Config,
    /// Kept alive (and removed afterwards) for the test's duration.
    #[allow(dead_code)]
    pub db: TestDatabase,
    #[allow(dead_code)]
    pub key_dir: TempDir,
}

/// The settings tests start from: port 0, two workers, and the test public key in a file
/// (keys fully offline).
/// Writes the test key's public half into `dir` (for `JWT_PUBLIC_KEY_FILE`); its path.
pub fn write_public_key(dir: &TempDir) -> PathBuf {
    let key_file = dir.0.join("public.pem");
    std::fs::write(&key_file, test_signing_key().public_key_pem()).unwrap();
    key_file
}

pub fn test_config(db: &TestDatabase, key_dir: &TempDir) -> Config {
    let key_file = write_public_key(key_dir);
    let mut config = Config::defaults();
    config.common.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.common.database_url = db.url.clone();
    config.common.server.workers = Some(2);
    config.tokens.public_key_file = Some(key_file);
    config
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDatabase::create_migrated(backend, "posts", migrate).await;
    let key_dir = TempDir::new("posts-keys");
    let mut config = test_config(&db, &key_dir);
    adjust(&mut config);
    let app = Application::build(config.clone())
        .await
        .expect("the application starts");
    let port = app.port();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        port,
        api: ApiClient::new(format!("http://127.0.0.1:{port}")),
        config,
        db,
        key_dir,
    }
}

/// Migrates the database at `url` as the service does when it starts (for the template the
/// PostgreSQL tests' databases are copied from).
async fn migrate(url: String) {
    let mut config = Config::defaults();
    config.common.database_url = url;
    let db = service_kit::Db::new(&config.common.db_options().unwrap());
    posts_service::migrate(&db)
        .await
        .expect("the template database migrates");
}

/// Serves `routes` on `listener` with one worker (a stand-in for the auth service); its base
/// URL, `http://127.0.0.1:<port>`.
pub fn serve_stand_in(
    listener: TcpListener,
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> String {
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// A listener on a free local port.
pub fn free_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A valid access token for `user_id`, signed with the test key.
pub fn token_for(user_id: i64, email: &str) -> String {
    encode_for_testing(
        &claims_for_testing(user_id, email, 300),
        &test_signing_key(),
    )
}

/// A token with these exact claims, signed with the test key.
pub fn token_with(claims: &Claims) -> String {
    encode_for_testing(claims, &test_signing_key())
}

pub const ALICE: i64 = 1;
pub const BOB: i64 = 2;

pub fn alice() -> String {
    token_for(ALICE, "alice@example.com")
}

pub fn bob() -> String {
    token_for(BOB, "bob@example.com")
}

/// The error body `{"detail": text}` (what a test expects; `test_support::detail` reads the
/// `detail` of a response instead).
pub fn detail(text: &str) -> Value {
    test_support::error_body(text)
}

/// Asserts the answer to a token the service cannot judge yet (keys or the list of ended
/// sessions not loaded): 503, retry in a second, not a 401's challenge.
pub async fn assert_not_ready_yet(resp: Response) {
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert!(resp.headers().get("www-authenticate").is_none());
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body, detail("Service temporarily unavailable"));
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        self.api.request(method, path, token)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.api.get(path, token).await
    }

    pub async fn list(&self, token: &str, query: &str) -> Response {
        self.get(&format!("/posts/?{query}"), Some(token)).await
    }

    /// The ids of a page, in order (asserting 200).
    pub async fn list_ids(&self, token: &str, query: &str) -> Vec<i64> {
        let (status, body) = status_json(self.list(token, query).await).await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|p| p["Post"]["id"].as_i64().unwrap())
            .collect()
    }

    pub async fn create_post(&self, token: &str, body: Value) -> Response {
        self.api.create_post(token, &body).await
    }

    /// Creates a post and returns its id (asserting 201).
    pub async fn new_post(&self, token: &str, title: &str, published: bool) -> i64 {
        let resp = self
            .create_post(
                token,
                json!({ "title": title, "content": "some content", "published": published }),
            )
            .await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// Creates `n` published posts titled `post 0`, `post 1`, …; their ids, newest first.
    pub async fn numbered_posts(&self, token: &str, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(self.new_post(token, &format!("post {i}"), true).await);
        }
        ids.reverse();
        ids
    }

    /// Creates a published post with each title, in order; their ids.
    pub async fn new_posts<const N: usize>(&self, token: &str, titles: [&str; N]) -> [i64; N] {
        let mut ids = [0; N];
        for (id, title) in ids.iter_mut().zip(titles) {
            *id = self.new_post(token, title, true).await;
        }
        ids
    }

    /// `POST path` with this raw body sent as `application/json`, as the token's user.
    pub async fn post_json_text(
        &self,
        token: &str,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.request(Method::POST, path, Some(token))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_post(&self, token: &str, id: impl std::fmt::Display) -> Response {
        self.get(&format!("/posts/{id}"), Some(token)).await
    }

    pub async fn put_post(&self, token: &str, id: impl std::fmt::Display, body: Value) -> Response {
        let path = format!("/posts/{id}");
        self.api
            .send_json(Method::PUT, &path, Some(token), &body)
            .await
    }

    pub async fn delete_post(&self, token: &str, id: impl std::fmt::Display) -> Response {
        let path = format!("/posts/{id}");
        self.request(Method::DELETE, &path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn vote_body(&self, token: &str, body: Value) -> Response {
        self.api
            .send_json(Method::POST, "/vote/", Some(token), &body)
            .await
    }

    pub async fn vote(&self, token: &str, post_id: i64, dir: i64) -> Response {
        self.api.vote(token, post_id, dir).await
    }
}
