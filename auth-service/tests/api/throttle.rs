use serde_json::Value;

use crate::helpers::{detail, spawn_app, statuses, PASSWORD};

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
}
