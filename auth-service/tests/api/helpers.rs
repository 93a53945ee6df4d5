//! The auth suite's `spawn_app` and `TestApp`: the application on port 0 against a fresh
//! database, with the shared client (`test_support::ApiClient`) pointed at it. The helper
//! methods keep the names the tests use and delegate to it.

use auth_service::{Application, Config};
use reqwest::{Client, Response};
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use test_support::ApiClient;

pub use test_support::{detail, PASSWORD};

pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    #[allow(dead_code)]
    pub address: String,
    pub client: Client,
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
    config.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.database_url = db.url.clone();
    config.bcrypt_cost = 4;
    config.server.workers = Some(2);
    config.jwt_private_key_file = key_dir.path().join("signing-key.pem");
    config.jwt_generate_key = true;
    config
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
    let mut config = Config::defaults();
    config.database_url = url;
    let db = service_kit::Db::new(&config.db_options());
    auth_service::migrate(&db)
        .await
        .expect("the template database migrates");
}

/// Starts the application with exactly this configuration.
pub async fn start(config: Config, db: TestDatabase, key_dir: tempfile::TempDir) -> TestApp {
    let app = Application::build(config.clone())
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let api = ApiClient::new(&address);
    TestApp {
        address,
        client: api.client().clone(),
        api,
        config,
        _db: db,
        _key_dir: key_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
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
}
