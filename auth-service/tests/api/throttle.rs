use serde_json::Value;

use reqwest::{Method, Response};

use crate::helpers::{detail, spawn_app, spawn_app_with, statuses, TestApp, PASSWORD};

/// The device cookie a successful login set (`name=value`).
fn device_cookie(resp: &Response) -> String {
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("auth_device_"))
        .expect("a device cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

impl TestApp {
    /// `POST /login` carrying this `Cookie` header.
    async fn login_with_cookie(&self, username: &str, password: &str, cookie: &str) -> Response {
        self.request(Method::POST, "/login")
            .header("cookie", cookie)
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Logs in from a new device: its access token and device cookie.
    async fn known_device(&self, email: &str) -> (String, String) {
        let resp = self.login(email, PASSWORD).await;
        assert_eq!(resp.status(), 200);
        let cookie = device_cookie(&resp);
        let body: Value = resp.json().await.unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), cookie)
    }
}

service_kit::backend_tests! {
    async fn ten_failures_lock_the_account_with_429_and_retry_after_even_for_the_right_password(backend) {
        let app = spawn_app(backend).await;
        app.create_user("victim@example.com").await;
        app.create_user("bystander@example.com").await;
        for _ in 0..10 {
            assert_eq!(app.login("victim@example.com", "wrong-password").await.status(), 403);
        }
        let resp = app.login("victim@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 429);
        let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
        assert!(detail(resp).await.as_str().unwrap().contains("Too many failed login attempts"));
        // Same account in another case: same lock.
        assert_eq!(app.login("VICTIM@example.com", PASSWORD).await.status(), 429);
        // Other accounts are unaffected.
        assert_eq!(app.login("bystander@example.com", PASSWORD).await.status(), 200);
    }

    async fn a_successful_login_clears_earlier_failures(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        for _ in 0..9 {
            assert_eq!(app.login("alice@example.com", "wrong-password").await.status(), 403);
        }
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
        for _ in 0..9 {
            assert_eq!(app.login("alice@example.com", "wrong-password").await.status(), 403);
        }
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
    }

    async fn unknown_accounts_are_throttled_alike_so_locks_reveal_nothing(backend) {
        let app = spawn_app(backend).await;
        for _ in 0..10 {
            assert_eq!(app.login("ghost@example.com", PASSWORD).await.status(), 403);
        }
        assert_eq!(app.login("ghost@example.com", PASSWORD).await.status(), 429);
    }

    async fn failures_are_shared_by_replicas_through_the_database(backend) {
        let first = spawn_app(backend).await;
        first.create_user("alice@example.com").await;
        // A second replica on the same database.
        let second = first.replica().await;
        for i in 0..10 {
            let resp = if i % 2 == 0 {
                first.login("alice@example.com", "wrong-password").await
            } else {
                second.login("alice@example.com", "wrong-password").await
            };
            assert_eq!(resp.status(), 403);
        }
        let resp = second.login("alice@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 429);
        let _: Value = resp.json().await.unwrap();
    }

    async fn parallel_guesses_cannot_exceed_the_limit(backend) {
        let app = spawn_app(backend).await;
        app.create_user("target@example.com").await;
        let statuses = statuses((0..30).map(|_| app.login("target@example.com", "wrong-password"))).await;
        assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 10, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20, "{statuses:?}");
    }

    async fn the_owner_on_a_known_device_logs_in_and_changes_password_while_a_stranger_is_throttled(backend) {
        let app = spawn_app(backend).await;
        app.create_user("victim@example.com").await;
        let (access, cookie) = app.known_device("victim@example.com").await;
        // The stranger's guessing locks the account for unknown clients, with a first wait
        // of a minute (incremental waits), not the whole window.
        for _ in 0..10 {
            assert_eq!(app.login("victim@example.com", "wrong-password").await.status(), 403);
        }
        let resp = app.login("victim@example.com", "guess-11").await;
        assert_eq!(resp.status(), 429);
        let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        // The owner's device is not subject to it; nor is their password change.
        let resp = app.login_with_cookie("victim@example.com", PASSWORD, &cookie).await;
        assert_eq!(resp.status(), 200);
        let resp = app.change_password(&access, PASSWORD, "new-password-1").await;
        assert_eq!(resp.status(), 204);
        let resp = app.login_with_cookie("victim@example.com", "new-password-1", &cookie).await;
        assert_eq!(resp.status(), 200);
        // The stranger stays throttled, even with the new password (an unknown client).
        assert_eq!(app.login("victim@example.com", "new-password-1").await.status(), 429);
    }

    async fn a_known_device_has_its_own_small_limit_that_locks_only_itself(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let (_, cookie) = app.known_device("alice@example.com").await;
        for _ in 0..5 {
            let resp = app.login_with_cookie("alice@example.com", "wrong-password", &cookie).await;
            assert_eq!(resp.status(), 403);
        }
        let resp = app.login_with_cookie("alice@example.com", PASSWORD, &cookie).await;
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().contains_key("retry-after"));
        // The account's counter was not touched: another client logs in.
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
    }

    async fn a_device_cookie_of_another_account_or_forged_is_an_unknown_client(backend) {
        let app = spawn_app(backend).await;
        let victim = app.create_user("victim@example.com").await;
        app.create_user("mallory@example.com").await;
        let (_, mallory) = app.known_device("mallory@example.com").await;
        for _ in 0..10 {
            let resp = app.login_with_cookie("victim@example.com", "wrong-password", &mallory).await;
            assert_eq!(resp.status(), 403);
        }
        let resp = app.login_with_cookie("victim@example.com", PASSWORD, &mallory).await;
        assert_eq!(resp.status(), 429);
        // Mallory's cookie renamed for the victim's id fails its signature.
        let (_, value) = mallory.split_once('=').unwrap();
        let forged = format!("auth_device_{victim}={value}");
        let resp = app.login_with_cookie("victim@example.com", PASSWORD, &forged).await;
        assert_eq!(resp.status(), 429);
    }

    async fn waits_grow_with_every_failure_past_the_limit(backend) {
        let app = spawn_app_with(backend, |c| {
            c.login_max_failures = 2;
            c.login_lock_seconds = 1;
        })
        .await;
        app.create_user("alice@example.com").await;
        for _ in 0..2 {
            assert_eq!(app.login("alice@example.com", "wrong-password").await.status(), 403);
        }
        let resp = app.login("alice@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // After the wait one more guess is checked; failing, it doubles the wait.
        assert_eq!(app.login("alice@example.com", "wrong-password").await.status(), 403);
        let resp = app.login("alice@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 429);
        let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry_after), "{retry_after}");
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        // The right password after the wait clears the counter.
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
        assert_eq!(app.login("alice@example.com", "wrong-password").await.status(), 403);
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
    }
}
