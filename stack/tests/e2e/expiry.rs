//! The expiry story: a token works, and from the second it expires the same request gets
//! 401 `Could not validate credentials`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use shared_claims::{Claims, KeySet, VerifyConfig};
use stack::TestStack;

use crate::helpers::{detail, spawn_stack, PASSWORD};

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The claims of a token the stack issued, checked against the JWKS document it serves.
async fn verified_claims(stack: &TestStack, token: &str) -> Claims {
    let jwks = stack
        .client()
        .get(stack.jwks_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    KeySet::from_jwks_json(&jwks)
        .unwrap()
        .verify(
            token,
            &VerifyConfig {
                issuer: shared_claims::DEFAULT_ISSUER.into(),
                audience: shared_claims::DEFAULT_AUDIENCE.into(),
                leeway_seconds: 0,
            },
        )
        .expect("the stack's token verifies against its JWKS")
}

/// Asks for the posts list with `token` every 100 ms until it is refused, at most until
/// three seconds past `exp`. Every 200 must have been sent before `exp` (whole seconds, as
/// the service compares them) and the first 401 answered at or after it; at least one
/// request must have succeeded.
async fn works_until_exp_then_is_refused(stack: &TestStack, token: &str, exp: i64) {
    let mut successes = 0;
    loop {
        let sent = unix_now();
        let resp = stack.posts_get("/posts/", token).await;
        let answered = unix_now();
        match resp.status().as_u16() {
            200 => {
                assert!(
                    (sent.floor() as i64) < exp,
                    "accepted after expiry: sent at {sent:.3}, exp {exp}"
                );
                successes += 1;
            }
            401 => {
                assert!(
                    answered.floor() as i64 >= exp,
                    "refused before expiry: answered at {answered:.3}, exp {exp}"
                );
                assert_eq!(resp.headers()["www-authenticate"], "Bearer");
                assert_eq!(detail(resp).await, "Could not validate credentials");
                break;
            }
            other => panic!("unexpected {other}"),
        }
        assert!(
            answered < exp as f64 + 3.0,
            "still accepted 3 s after expiry"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(successes > 0, "the token never worked before it expired");
}

service_kit::backend_tests! {
    async fn a_token_is_refused_from_the_second_it_expires(backend) {
        let stack = spawn_stack(backend).await;
        let id = stack.sign_up("alice@example.com", PASSWORD).await;
        // A token the auth service could have issued, expiring two seconds from now.
        let claims = stack.claims_for(id, "alice@example.com", 2);
        let token = stack.mint_token(&claims);
        works_until_exp_then_is_refused(&stack, &token, claims.exp).await;
    }

    async fn a_login_token_with_access_token_expire_seconds_2_is_refused_after_2_seconds(backend) {
        let stack = TestStack::builder()
            .backend(backend)
            .access_token_expire_seconds(2)
            .start()
            .await;
        stack.sign_up("alice@example.com", PASSWORD).await;
        let resp = stack.auth().login("alice@example.com", PASSWORD).await;
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["expires_in"], 2);
        let token = body["access_token"].as_str().unwrap();
        let claims = verified_claims(&stack, token).await;
        assert_eq!(claims.exp - claims.iat, 2);
        works_until_exp_then_is_refused(&stack, token, claims.exp).await;
    }
}

#[actix_web::test]
async fn access_token_expire_minutes_still_sets_the_lifetime_in_minutes() {
    let stack = TestStack::builder()
        .configure(|c| c.access_token_expire_minutes = 1)
        .start()
        .await;
    stack.sign_up("alice@example.com", PASSWORD).await;
    let token = stack.log_in("alice@example.com", PASSWORD).await;
    let claims = verified_claims(&stack, &token).await;
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(stack.posts_get("/posts/", &token).await.status(), 200);
}
