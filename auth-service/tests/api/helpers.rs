use auth_service::{Application, Config};
use reqwest::{Client, Response};
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
use service_kit::Backend;

pub const PASSWORD: &str = "password123";

pub struct TestApp {
    pub address: String,
    pub client: Client,
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
    let db = TestDatabase::create(backend, "auth");
    let key_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&db, &key_dir);
    adjust(&mut config);
    start(config, db, key_dir).await
}

/// Starts the application with exactly this configuration.
pub async fn start(config: Config, db: TestDatabase, key_dir: tempfile::TempDir) -> TestApp {
    let app = Application::build(config.clone())
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        config,
        _db: db,
        _key_dir: key_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/users/"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Signs up and returns the new user's id.
    pub async fn create_user(&self, email: &str) -> i64 {
        let resp = self.signup(email, PASSWORD).await;
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/login"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let resp = self.login(username, password).await;
        assert_eq!(resp.status(), 200, "login of {username} should succeed");
        resp.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get_user(&self, id: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(&format!("/users/{id}")));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }
}

/// The `detail` of an error response.
pub async fn detail(resp: Response) -> Value {
    resp.json::<Value>().await.unwrap()["detail"].clone()
}
