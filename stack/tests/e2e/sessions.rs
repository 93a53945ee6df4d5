//! The token lifecycle across processes: a logout refused by two posts processes within 3 s
//! of its 204 (each polls the auth service's feed; neither asks it per request), ended
//! sessions staying ended across restarts of either service, and the one-command stack wired
//! the same way.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use service_kit::testing::TestDatabase;
use test_support::{expect_status, ApiClient};

use crate::helpers::{auth_env, posts_env, spawn_stack, PASSWORD};
use crate::processes::start_service;

/// A login's tokens.
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

pub fn pair(body: &Value) -> Pair {
    Pair {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

pub async fn sign_up(client: &reqwest::Client, auth: &str, email: &str) {
    ApiClient::with_client(auth, client.clone())
        .create_user(email, PASSWORD)
        .await;
}

pub async fn log_in(client: &reqwest::Client, auth: &str, email: &str) -> Pair {
    let resp = ApiClient::with_client(auth, client.clone())
        .login(email, PASSWORD)
        .await;
    pair(&expect_status(resp, 200, "POST /login").await)
}

pub async fn refresh(client: &reqwest::Client, auth: &str, token: &str) -> reqwest::Response {
    client
        .post(format!("{auth}/token/refresh"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

/// `POST /logout` at `auth` with the session's access token.
pub async fn log_out(client: &reqwest::Client, auth: &str, token: &str) -> reqwest::Response {
    let auth = ApiClient::with_client(auth, client.clone());
    auth.request(Method::POST, "/logout", Some(token))
        .send()
        .await
        .unwrap()
}

pub async fn list_status(client: &reqwest::Client, posts: &str, token: &str) -> u16 {
    client
        .get(format!("{posts}/posts/"))
        .bearer_auth(token)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Polls every 20 ms until `token` gets `expected` from `posts`; fails after `within`.
/// Returns when it did, measured from `since`.
pub async fn until_status(
    client: &reqwest::Client,
    posts: &str,
    token: &str,
    expected: u16,
    since: Instant,
    within: Duration,
) -> Duration {
    loop {
        let got = list_status(client, posts, token).await;
        if got == expected {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < within,
            "{posts}: still {got} after {within:?}, expected {expected}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

service_kit::backend_tests! {
    async fn two_posts_processes_refuse_a_logged_out_token_within_3_seconds(backend) {
        let dir = tempfile::tempdir().unwrap();
        let auth_db = TestDatabase::create(backend, "life_auth");
        let posts_db = TestDatabase::create(backend, "life_posts");
        let auth_env = auth_env(dir.path(), auth_db.url.clone());
        let auth = start_service("auth-service", &auth_env);
        let auth_port = auth.port();
        let a = auth.url("");
        let posts_env = posts_env(posts_db.url.clone(), auth_port);
        let p1 = start_service("posts-service", &posts_env);
        let p2 = start_service("posts-service", &posts_env);
        let posts = [p1.url(""), p2.url("")];
        let client = reqwest::Client::new();
        // The feed is for the posts processes only: they hold SESSIONS_FEED_SECRET.
        let feed = client.get(format!("{a}/sessions/ended")).send().await.unwrap();
        assert_eq!(feed.status(), 401);
        sign_up(&client, &a, "alice@example.com").await;
        let ended = log_in(&client, &a, "alice@example.com").await;
        let live = log_in(&client, &a, "alice@example.com").await;
        for p in &posts {
            until_status(&client, p, &ended.access, 200, Instant::now(), Duration::from_secs(10)).await;
            assert_eq!(list_status(&client, p, &live.access).await, 200);
        }

        let resp = log_out(&client, &a, &ended.access).await;
        assert_eq!(resp.status(), 204);
        let logged_out = Instant::now();
        let (t1, t2) = futures_util::future::join(
            until_status(&client, &posts[0], &ended.access, 401, logged_out, Duration::from_secs(5)),
            until_status(&client, &posts[1], &ended.access, 401, logged_out, Duration::from_secs(5)),
        )
        .await;
        assert!(t1 < Duration::from_secs(3) && t2 < Duration::from_secs(3), "refused after {t1:?} and {t2:?}");
        for p in &posts {
            assert_eq!(list_status(&client, p, &live.access).await, 200, "the other session lives on");
        }

        // A restarted posts process loads the list before it accepts sessions again.
        drop(p1);
        let p1 = start_service("posts-service", &posts_env);
        let restarted = p1.url("");
        until_status(&client, &restarted, &live.access, 200, Instant::now(), Duration::from_secs(10)).await;
        assert_eq!(list_status(&client, &restarted, &ended.access).await, 401);

        // A restarted auth service still knows the session ended (it lives in its database).
        auth.terminate();
        let mut auth = auth;
        auth.wait();
        let mut env = auth_env.clone();
        env.push(("BIND_ADDR", format!("127.0.0.1:{auth_port}")));
        let _auth = start_service("auth-service", &env);
        // Connections kept alive to the old process are gone.
        let client = reqwest::Client::new();
        let resp = refresh(&client, &a, &ended.refresh).await;
        assert_eq!(resp.status(), 401);
        let resp = ApiClient::with_client(&a, client.clone()).get("/users/me", Some(&ended.access)).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(refresh(&client, &a, &live.refresh).await.status(), 200);
        // Posts, having polled the restarted auth service, still refuses the ended session.
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        for p in [&restarted, &posts[1]] {
            assert_eq!(list_status(&client, p, &ended.access).await, 401);
            assert_eq!(list_status(&client, p, &live.access).await, 200);
        }
    }

    async fn the_stack_refreshes_and_logs_out(backend) {
        let stack = spawn_stack(backend).await;
        stack.sign_up("alice@example.com", PASSWORD).await;
        let (client, auth, posts) = (stack.client(), stack.auth_url(), stack.posts_url());
        // The stack gives its auth and posts a feed secret of the run's: nobody else reads it.
        let feed = client.get(format!("{auth}/sessions/ended")).send().await.unwrap();
        assert_eq!(feed.status(), 401);
        let first = log_in(client, auth, "alice@example.com").await;
        let resp = refresh(client, auth, &first.refresh).await;
        assert_eq!(resp.status(), 200);
        let second = pair(&resp.json().await.unwrap());
        until_status(client, posts, &second.access, 200, Instant::now(), Duration::from_secs(10)).await;
        let resp = log_out(client, auth, &second.access).await;
        assert_eq!(resp.status(), 204);
        let took = until_status(client, posts, &second.access, 401, Instant::now(), Duration::from_secs(5)).await;
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert_eq!(list_status(client, posts, &first.access).await, 401, "same session");
    }
}
