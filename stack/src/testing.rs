//! [`TestStack`]: the auth and posts services as a harness for integration tests of other
//! crates (a client, a front end's API layer, another service).
//!
//! ```no_run
//! # async fn example() {
//! use stack::TestStack;
//!
//! let stack = TestStack::start().await;
//! let alice = stack.sign_up("alice@example.com", "password123").await;
//! let token = stack.log_in("alice@example.com", "password123").await;
//! let post = stack.create_post(&token, "hello", "first post", true).await;
//! assert_eq!(post["owner_id"], alice);
//!
//! // A token the stack would refuse: expired a minute ago, signed with its own key.
//! let mut claims = stack.claims_for(alice, "alice@example.com", -60);
//! let expired = stack.mint_token(&claims);
//! assert_eq!(stack.posts_get("/posts/", &expired).await.status(), 401);
//! // ... or meant for another service.
//! claims = stack.claims_for(alice, "alice@example.com", 60);
//! claims.aud = "billing-service".into();
//! assert_eq!(stack.posts_get("/posts/", &stack.mint_token(&claims)).await.status(), 401);
//! # }
//! ```
//!
//! It runs on the test's own runtime (`#[actix_web::test]` or `#[tokio::test]`), with both
//! services on free loopback ports, SQLite files and a fresh signing key in a temporary
//! folder (removed when the `TestStack` is dropped), and bcrypt at cost 4 unless told
//! otherwise. [`TestStack::builder`] chooses PostgreSQL, token lifetimes, a fixture, or any
//! other option of the stack. The helpers panic on an unexpected answer, failing the test;
//! [`TestStack::auth`] and [`TestStack::posts`] are the shared test client
//! ([`test_support::ApiClient`]) for each service, for any other request.
//!
//! Only with the `testing` feature: `stack = { ..., features = ["testing"] }` in
//! `[dev-dependencies]`.

use reqwest::{Client, Method, Response};
use serde_json::Value;
use shared_claims::{Claims, SigningKey};
use test_support::ApiClient;

pub use service_kit::Backend;

use crate::seed::{Fixture, Seeded};
use crate::{EphemeralStack, StackConfig, StackHandle, StackUrls};

/// A running ephemeral stack for a test, with a client and typed helpers.
pub struct TestStack {
    stack: EphemeralStack,
    auth: ApiClient,
    posts: ApiClient,
    seeded: Seeded,
    // Dropped last: the services' pools point at these PostgreSQL databases.
    _databases: Vec<service_kit::testing::TestDatabase>,
}

/// Options of a [`TestStack`] before it starts.
pub struct TestStackBuilder {
    config: StackConfig,
    backend: Backend,
    fixture: Option<Fixture>,
}

impl TestStackBuilder {
    /// Runs both services on a fresh pair of databases of `backend`: SQLite files in the
    /// stack's folder (the default), or PostgreSQL databases created on the server at
    /// `TEST_POSTGRES_URL` and dropped with the stack.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Runs the services on these databases instead (`sqlite://…` or `postgres://…`), left
    /// as they are when the stack stops.
    pub fn database_urls(mut self, auth: impl Into<String>, posts: impl Into<String>) -> Self {
        self.config.auth_database_url = Some(auth.into());
        self.config.posts_database_url = Some(posts.into());
        self
    }

    /// Access tokens from `POST /login` live this many seconds.
    pub fn access_token_expire_seconds(mut self, seconds: u64) -> Self {
        self.config.access_token_expire_seconds = Some(seconds);
        self
    }

    /// Loads this fixture through the API before [`Self::start`] returns (see
    /// [`crate::seed`]); what it created is in [`TestStack::seeded`].
    pub fn seed(mut self, fixture: Fixture) -> Self {
        self.fixture = Some(fixture);
        self
    }

    /// Any other option of the stack (bcrypt cost, workers, CORS origins, ...).
    pub fn configure(mut self, adjust: impl FnOnce(&mut StackConfig)) -> Self {
        adjust(&mut self.config);
        self
    }

    /// Starts the stack and waits until both services answer. Panics when it cannot start
    /// (failing the test).
    pub async fn start(self) -> TestStack {
        let TestStackBuilder {
            mut config,
            backend,
            fixture,
        } = self;
        let mut databases = Vec::new();
        if backend == Backend::Postgres && config.auth_database_url.is_none() {
            let auth = service_kit::testing::TestDatabase::create(backend, "stack_auth");
            let posts = service_kit::testing::TestDatabase::create(backend, "stack_posts");
            config.auth_database_url = Some(auth.url.clone());
            config.posts_database_url = Some(posts.url.clone());
            databases.extend([auth, posts]);
        }
        let stack = EphemeralStack::start(&config)
            .await
            .unwrap_or_else(|e| panic!("the test stack did not start: {e}"));
        let client = test_support::client();
        let seeded = match fixture {
            None => Seeded::default(),
            Some(fixture) => fixture
                .apply(&client, &stack.urls)
                .await
                .unwrap_or_else(|e| panic!("the fixture was refused: {e}")),
        };
        TestStack {
            auth: ApiClient::with_client(&stack.urls.auth_url, client.clone()),
            posts: ApiClient::with_client(&stack.urls.posts_url, client),
            stack,
            seeded,
            _databases: databases,
        }
    }
}

impl TestStack {
    /// A stack with the defaults: SQLite, 30-minute tokens, bcrypt cost 4.
    pub async fn start() -> TestStack {
        TestStack::builder().start().await
    }

    /// A stack with chosen options.
    pub fn builder() -> TestStackBuilder {
        let mut config = StackConfig::defaults();
        config.ephemeral = true;
        // Two workers per service: tests run many stacks at once on few cores.
        config.server.workers = Some(2);
        TestStackBuilder {
            config,
            backend: Backend::Sqlite,
            fixture: None,
        }
    }

    /// Where the services answer.
    pub fn urls(&self) -> &StackUrls {
        &self.stack.urls
    }

    /// Base URL of the auth service.
    pub fn auth_url(&self) -> &str {
        &self.stack.urls.auth_url
    }

    /// Base URL of the posts service.
    pub fn posts_url(&self) -> &str {
        &self.stack.urls.posts_url
    }

    /// URL of the auth service's public keys.
    pub fn jwks_url(&self) -> &str {
        &self.stack.urls.jwks_url
    }

    /// An HTTP client that does not follow redirects (so a test sees what the server says).
    pub fn client(&self) -> &Client {
        self.auth.client()
    }

    /// The shared test client, pointed at the auth service.
    pub fn auth(&self) -> &ApiClient {
        &self.auth
    }

    /// The shared test client, pointed at the posts service.
    pub fn posts(&self) -> &ApiClient {
        &self.posts
    }

    /// What the builder's fixture created (empty without one).
    pub fn seeded(&self) -> &Seeded {
        &self.seeded
    }

    /// The temporary folder holding the SQLite files and the signing key (removed when the
    /// stack stops or is dropped).
    pub fn data_dir(&self) -> &std::path::Path {
        self.stack.data_dir()
    }

    /// A handle that stops both services (to test what a client does when they go away).
    pub fn handle(&self) -> StackHandle {
        self.stack.handle()
    }

    /// Stops both services and removes the data folder.
    pub async fn stop(self) {
        self.stack
            .stop()
            .await
            .expect("the test stack stops and removes its folder");
    }

    /// Signs up through `POST /users/`; returns the new user's id.
    pub async fn sign_up(&self, email: &str, password: &str) -> i64 {
        self.auth.create_user(email, password).await
    }

    /// Logs in with the course's form (`POST /login`); returns the access token.
    pub async fn log_in(&self, email: &str, password: &str) -> String {
        self.auth.token(email, password).await
    }

    /// Creates a post through `POST /posts/` as the token's user; returns it (the course's
    /// `Post` shape).
    pub async fn create_post(
        &self,
        token: &str,
        title: &str,
        content: &str,
        published: bool,
    ) -> Value {
        self.posts.new_post(token, title, content, published).await
    }

    /// Votes through `POST /vote/` (`dir` 1 adds, 0 removes); returns the response as is.
    pub async fn vote(&self, token: &str, post_id: i64, dir: i64) -> Response {
        self.posts.vote(token, post_id, dir).await
    }

    /// `GET` a path of the posts service with a bearer token.
    pub async fn posts_get(&self, path: &str, token: &str) -> Response {
        self.posts.get(path, Some(token)).await
    }

    /// Any request with a JSON body to a path of the posts service, with a bearer token.
    pub async fn posts_send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> Response {
        self.posts.send_json(method, path, Some(token), &body).await
    }

    /// Claims as the stack's auth service issues them for this user (its issuer and
    /// audience), valid from now for `ttl_seconds` (negative: already expired). Change any
    /// field, then sign them with [`Self::mint_token`].
    pub fn claims_for(&self, user_id: i64, email: &str, ttl_seconds: i64) -> Claims {
        shared_claims::testing::claims_for_testing(user_id, email, ttl_seconds)
    }

    /// Signs claims with the stack's own key (EdDSA, its `kid`), so the posts service
    /// verifies the signature and judges the claims.
    pub fn mint_token(&self, claims: &Claims) -> String {
        shared_claims::testing::encode_for_testing(claims, self.stack.signing_key())
    }

    /// The key the stack's auth service signs with.
    pub fn signing_key(&self) -> &SigningKey {
        self.stack.signing_key()
    }
}
