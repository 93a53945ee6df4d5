//! The HTTP side of the test harness, shared by the auth and posts services' black-box tests
//! and `stack::TestStack`: [`ApiClient`] sends the course's requests to one base URL (a
//! service on a test port, a gateway, a stack), and a few functions read the answers.
//!
//! The database side (a fresh database per test, the SQLite/PostgreSQL macro, the outage
//! proxy) is `service_kit::testing`; fixed signing keys are `shared_claims::testing`. Each
//! is a dev-dependency (or behind a `testing` feature), never part of a release build.
//!
//! [`ServiceProcess`] runs a service binary as a real process (for signals, exit statuses and
//! logs), and [`exit_stress`] is the SIGTERM-under-load check both services run.
//!
//! Helpers that return a [`Response`] leave judging it to the test; helpers that return a
//! value (`create_user`, `token`, `new_post`) assert the expected status and panic with the
//! body otherwise, failing the test.

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};

pub mod exit_stress;
pub mod process;

pub use process::ServiceProcess;

/// The password the suites sign their users up with.
pub const PASSWORD: &str = "password123";

/// A client for one service (or gateway) at `base_url`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base_url: String,
    client: Client,
}

/// An HTTP client that does not follow redirects, so a test sees exactly what the server
/// says (both path spellings must answer directly).
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

impl ApiClient {
    /// A client of `base_url` (`http://127.0.0.1:8001`, no trailing slash).
    pub fn new(base_url: impl Into<String>) -> ApiClient {
        ApiClient::with_client(base_url, client())
    }

    /// A client of `base_url` sharing `client`'s connections.
    pub fn with_client(base_url: impl Into<String>, client: Client) -> ApiClient {
        ApiClient {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            client,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `base_url` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request to `path`, with a bearer token when one is given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let req = self.client.request(method, self.url(path));
        match token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// `GET path`, with a bearer token when one is given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        send(self.request(Method::GET, path, token), "GET", path).await
    }

    /// `method path` with a JSON body, with a bearer token when one is given.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Response {
        let what = method.to_string();
        send(self.request(method, path, token).json(body), &what, path).await
    }

    /// `POST /users/` with this email and password.
    pub async fn signup(&self, email: &str, password: &str) -> Response {
        let body = json!({ "email": email, "password": password });
        self.send_json(Method::POST, "/users/", None, &body).await
    }

    /// Signs up (asserting 201) and returns the new user's id.
    pub async fn create_user(&self, email: &str, password: &str) -> i64 {
        let resp = self.signup(email, password).await;
        let body = expect_status(resp, 201, "POST /users/").await;
        body["id"].as_i64().expect("the new user's id")
    }

    /// `POST /login` with the course's form (`username`, `password`).
    pub async fn login(&self, username: &str, password: &str) -> Response {
        let req = self
            .request(Method::POST, "/login", None)
            .form(&[("username", username), ("password", password)]);
        send(req, "POST", "/login").await
    }

    /// Logs in (asserting 200) and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let resp = self.login(username, password).await;
        let body = expect_status(resp, 200, &format!("POST /login as {username}")).await;
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// `POST /posts/` with this JSON body as the token's user.
    pub async fn create_post(&self, token: &str, body: &Value) -> Response {
        self.send_json(Method::POST, "/posts/", Some(token), body)
            .await
    }

    /// Creates a post (asserting 201) and returns it (the course's `Post` shape).
    pub async fn new_post(
        &self,
        token: &str,
        title: &str,
        content: &str,
        published: bool,
    ) -> Value {
        let body = json!({ "title": title, "content": content, "published": published });
        let resp = self.create_post(token, &body).await;
        expect_status(resp, 201, "POST /posts/").await
    }

    /// `POST /vote/` (`dir` 1 adds the vote, 0 removes it).
    pub async fn vote(&self, token: &str, post_id: i64, dir: i64) -> Response {
        let body = json!({ "post_id": post_id, "dir": dir });
        self.send_json(Method::POST, "/vote/", Some(token), &body)
            .await
    }
}

async fn send(req: RequestBuilder, method: &str, path: &str) -> Response {
    req.send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
}

/// The JSON body of `resp`, panicking with the answer when its status is not `expected`.
pub async fn expect_status(resp: Response, expected: u16, what: &str) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(
        status.as_u16(),
        expected,
        "{what} answered {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}

/// The response's status and JSON body (`Null` when the body is empty).
pub async fn status_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("the response body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, body)
}

/// The `detail` of an error response (what the course's error body says).
pub async fn detail(resp: Response) -> Value {
    status_json(resp).await.1["detail"].clone()
}

/// The error body the course answers with: `{"detail": text}`.
pub fn error_body(text: &str) -> Value {
    json!({ "detail": text })
}

/// `GET /metrics`, asserting 200 in Prometheus' text exposition format; the exposition.
pub async fn scrape_metrics(api: &ApiClient) -> String {
    let resp = api.get("/metrics", None).await;
    assert_eq!(resp.status(), 200, "GET /metrics");
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4",
        "Prometheus' text exposition format"
    );
    resp.text().await.expect("the exposition")
}

/// The value of the series `series` (name and labels exactly as exposed) in a
/// [`scrape_metrics`] exposition.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// Database URLs a service must refuse at start, each with what its refusal must say (every
/// password in them is `s3cret`, which the refusal must not show).
pub const UNUSABLE_DATABASE_URLS: [(&str, &str); 7] = [
    (
        "postgress://app:s3cret@db/app",
        "unsupported scheme `postgress`",
    ),
    ("mysql://app:s3cret@db/app", "unsupported scheme `mysql`"),
    ("http://app:s3cret@db/app", "unsupported scheme `http`"),
    ("POSTGRES://app:s3cret@db/app", "lower case"),
    ("", "is empty"),
    ("sqlite://:memory:", "in-memory"),
    (":memory:", "in-memory"),
];

/// The value of `http_requests_total` for this method, route pattern and status in a
/// [`scrape_metrics`] exposition.
pub fn requests_total(text: &str, method: &str, route: &str, status: u16) -> Option<f64> {
    let series =
        format!(r#"http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#);
    metric_value(text, &series)
}
