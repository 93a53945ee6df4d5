//! `GET /users/{id}` is no directory of emails (issue 22, finding 4): one's own account shows
//! its email, another's shows it masked, and lookups of others are limited per caller.

use serde_json::{json, Value};

use crate::helpers::{detail, spawn_app, spawn_app_with, PASSWORD};

service_kit::backend_tests! {
    async fn another_users_email_is_masked_and_ones_own_is_not(backend) {
        let app = spawn_app(backend).await;
        let alice = app.create_user("alice@example.com").await;
        let bob = app.create_user("bob@example.org").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let own: Value = app.get_user(&alice.to_string(), Some(&token)).await.json().await.unwrap();
        assert_eq!(own["email"], "alice@example.com");
        let resp = app.get_user(&bob.to_string(), Some(&token)).await;
        assert_eq!(resp.status(), 200);
        let other: Value = resp.json().await.unwrap();
        assert_eq!(other["id"], bob);
        assert_eq!(other["email"], "b***@example.org");
        assert!(other["created_at"].is_string());
        // Walking the ids gives no address to write to.
        for id in 1..=5 {
            let resp = app.get_user(&id.to_string(), Some(&token)).await;
            if resp.status() == 200 && id != alice {
                let body: Value = resp.json().await.unwrap();
                assert!(body["email"].as_str().unwrap().contains("***@"), "{body}");
            }
        }
        let resp = app.get_user("9999", Some(&token)).await;
        assert_eq!((resp.status().as_u16(), detail(resp).await), (404, json!("User with id: 9999 does not exist")));
    }

    async fn lookups_of_other_accounts_are_limited_per_caller(backend) {
        let app = spawn_app_with(backend, |c| c.user_lookups_per_minute = 3).await;
        let alice = app.create_user("alice@example.com").await;
        let bob = app.create_user("bob@example.com").await;
        let alice_token = app.token("alice@example.com", PASSWORD).await;
        let bob_token = app.token("bob@example.com", PASSWORD).await;
        for _ in 0..3 {
            assert_eq!(app.get_user(&bob.to_string(), Some(&alice_token)).await.status(), 200);
        }
        // A missing account counts too (walking ids is what the limit stops).
        let resp = app.get_user("9999", Some(&alice_token)).await;
        assert_eq!(resp.status(), 429);
        let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(detail(resp).await, json!("Too many accounts looked up; try again later"));
        // One's own account is not counted; another caller has its own budget.
        assert_eq!(app.get_user(&alice.to_string(), Some(&alice_token)).await.status(), 200);
        assert_eq!(app.get_user(&alice.to_string(), Some(&bob_token)).await.status(), 200);
    }
}
