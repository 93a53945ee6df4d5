//! The auth suite's `spawn_app` and `TestApp`: the application on port 0 against a fresh
//! database, with the shared client (`test_support::ApiClient`) pointed at it. The helper
//! methods keep the names the tests use and delegate to it.

use std::future::Future;

use auth_service::{Application, Config};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use test_support::ApiClient;

pub use test_support::{detail, PASSWORD};

pub struct TestApp {
    /// The shared client for this application (every request helper below goes through it).
    pub api: ApiClient,
    pub config: Config,
    /// Kept alive for the test: dropping it removes the database.
    pub _db: TestDatabase,
    pub _key_dir: tempfile::TempDir,
}

/// The settings tests start from: port 0, cheap bcrypt, a key file in a temporary folder.
pub fn test_config(db: &TestDatabase, key_dir: &tempfile::TempDir) -> Config {
    let mut config = Config::defaults();
    config.common.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.common.database_url = db.url.clone();
    config.bcrypt_cost = 4;
    config.common.server.workers = Some(2);
    config.jwt_private_key_file = key_dir.path().join("signing-key.pem");
    config.jwt_generate_key = true;
    // The suites sign up and log in far more often than a client does, all from 127.0.0.1:
    // the rate limits' own tests (`limits.rs`) set them back to the defaults.
    raise_rate_limits(&mut config);
    config
}

/// Limits no test reaches by accident.
pub fn raise_rate_limits(config: &mut Config) {
    let high: auth_service::limits::Limit = "1000000/1000000".parse().unwrap();
    config.rate_limit_signup = high;
    config.rate_limit_login = high;
    config.rate_limit_refresh = high;
    config.rate_limit_password = high;
}

/// The rate limits as they are by default.
pub fn default_rate_limits(config: &mut Config) {
    let defaults = Config::defaults();
    config.rate_limit_signup = defaults.rate_limit_signup;
    config.rate_limit_login = defaults.rate_limit_login;
    config.rate_limit_refresh = defaults.rate_limit_refresh;
    config.rate_limit_password = defaults.rate_limit_password;
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDatabase::create_migrated(backend, "auth", migrate).await;
    let key_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&db, &key_dir);
    adjust(&mut config);
    start(config, db, key_dir).await
}

/// Migrates the database at `url` as the service does when it starts (for the template the
/// PostgreSQL tests' databases are copied from).
async fn migrate(url: String) {
    let db = service_kit::Db::new(&Config::defaults().common.pool.options(url.parse().unwrap()));
    auth_service::migrate(&db)
        .await
        .expect("the template database migrates");
}

/// Starts the application with exactly this configuration.
pub async fn start(config: Config, db: TestDatabase, key_dir: tempfile::TempDir) -> TestApp {
    let api = serve(config.clone()).await;
    TestApp {
        api,
        config,
        _db: db,
        _key_dir: key_dir,
    }
}

/// Builds and runs the application with this configuration; a client of it.
pub async fn serve(config: Config) -> ApiClient {
    let app = Application::build(config)
        .await
        .expect("the application starts");
    let api = ApiClient::new(format!("http://127.0.0.1:{}", app.port()));
    actix_web::rt::spawn(app.run_until_stopped());
    api
}

impl TestApp {
    /// A request to `path` without a token, for a test to finish and send.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.api.request(method, path, None)
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.api.signup(email, password).await
    }

    /// Signs up with [`PASSWORD`] and returns the new user's id.
    pub async fn create_user(&self, email: &str) -> i64 {
        self.api.create_user(email, PASSWORD).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.api.login(username, password).await
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        self.api.token(username, password).await
    }

    pub async fn get_user(&self, id: &str, token: Option<&str>) -> Response {
        self.api.get(&format!("/users/{id}"), token).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api.get(path, None).await
    }

    /// `GET /users/me` as the token's user.
    pub async fn me(&self, token: &str) -> Response {
        self.api.get("/users/me", Some(token)).await
    }

    /// `POST path` with this JSON body, without a token.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.api.send_json(Method::POST, path, None, body).await
    }

    /// `POST path` with these form fields, as they are (no field added or left out).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.request(Method::POST, path)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with this raw body and `content-type` (none when `None`).
    pub async fn post_body(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut req = self.request(Method::POST, path).body(body);
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        req.send().await.unwrap()
    }

    /// A second instance on this one's configuration and database (a replica, or the
    /// service after a restart); a client of it.
    pub async fn replica(&self) -> ApiClient {
        let mut config = self.config.clone();
        config.common.bind_addr = "127.0.0.1:0".parse().unwrap();
        serve(config).await
    }
}

/// The statuses of these requests, sent all at once, in order.
pub async fn statuses(
    requests: impl IntoIterator<Item = impl Future<Output = Response>>,
) -> Vec<u16> {
    let responses = futures_util::future::join_all(requests).await;
    responses.iter().map(|r| r.status().as_u16()).collect()
}

/// The validation error of a body field left out.
pub fn field_required(field: &str) -> Value {
    json!({"loc": ["body", field], "msg": "field required", "type": "value_error.missing"})
}

/// Asserts a 422 whose `detail` is exactly `expected`.
pub async fn assert_422(resp: Response, expected: Value) {
    assert_eq!(resp.status(), 422);
    assert_eq!(detail(resp).await, expected);
}

/// Asserts the answer of a login or refresh: 200, not to be cached, a bearer token for
/// 30 minutes; its body.
pub async fn assert_token_answer(resp: Response) -> Value {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    body
}
