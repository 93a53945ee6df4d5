use reqwest::{Client, Response};
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use stack::{Stack, StackConfig, StackHandle};

pub const PASSWORD: &str = "password123";

pub struct TestStack {
    pub auth: String,
    pub posts: String,
    pub client: Client,
    pub handle: StackHandle,
    _dbs: Option<(TestDatabase, TestDatabase)>,
    _dir: tempfile::TempDir,
}

/// Starts both services on free ports. The auth service signs with the shared test key, so
/// tests can also mint tokens of their own (short-lived ones, say) that it would have issued.
pub async fn spawn_stack(backend: Backend) -> TestStack {
    spawn_stack_with(backend, |_| {}).await
}

pub async fn spawn_stack_with(
    backend: Backend,
    adjust: impl FnOnce(&mut StackConfig),
) -> TestStack {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("auth-signing-key.pem"),
        shared_claims::testing::TEST_ED25519_PRIVATE_PEM,
    )
    .unwrap();
    let mut config = StackConfig::try_parse_from(["stack"]).unwrap();
    config.auth_bind_addr = "127.0.0.1:0".parse().unwrap();
    config.posts_bind_addr = "127.0.0.1:0".parse().unwrap();
    config.data_dir = dir.path().to_path_buf();
    config.bcrypt_cost = 4;
    config.server.workers = Some(2);
    let dbs = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let auth = TestDatabase::create(backend, "e2e_auth");
            let posts = TestDatabase::create(backend, "e2e_posts");
            config.auth_database_url = Some(auth.url.clone());
            config.posts_database_url = Some(posts.url.clone());
            Some((auth, posts))
        }
    };
    adjust(&mut config);
    let stack = Stack::start(&config).await.expect("the stack starts");
    let (auth, posts) = (
        format!("http://127.0.0.1:{}", stack.auth_port),
        format!("http://127.0.0.1:{}", stack.posts_port),
    );
    let handle = stack.spawn();
    TestStack {
        auth,
        posts,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        handle,
        _dbs: dbs,
        _dir: dir,
    }
}

impl TestStack {
    /// Signs up through the auth service; returns the user's id.
    pub async fn sign_up(&self, email: &str) -> i64 {
        let resp = self
            .client
            .post(format!("{}/users/", self.auth))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    /// Logs in with the course's form; returns the access token.
    pub async fn log_in(&self, email: &str) -> String {
        let resp = self
            .client
            .post(format!("{}/login", self.auth))
            .form(&[("username", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn posts_get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.posts))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn posts_send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> Response {
        self.client
            .request(method, format!("{}{path}", self.posts))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a post; returns its JSON.
    pub async fn create_post(&self, token: &str, title: &str, published: bool) -> Value {
        let resp = self
            .posts_send(
                reqwest::Method::POST,
                "/posts/",
                token,
                json!({ "title": title, "content": format!("content of {title}"), "published": published }),
            )
            .await;
        assert_eq!(resp.status(), 201);
        resp.json().await.unwrap()
    }

    pub async fn vote(&self, token: &str, post_id: i64, dir: i64) -> Response {
        self.posts_send(
            reqwest::Method::POST,
            "/vote/",
            token,
            json!({ "post_id": post_id, "dir": dir }),
        )
        .await
    }
}

/// The `detail` of an error response.
pub async fn detail(resp: Response) -> Value {
    resp.json::<Value>().await.unwrap()["detail"].clone()
}
