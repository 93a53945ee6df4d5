//! The expiry story: a token works, and from the second it expires the same request gets
//! 401 `Could not validate credentials`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shared_claims::testing::{claims_for_testing, encode_for_testing, test_signing_key};

use crate::helpers::{detail, spawn_stack, spawn_stack_with};

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until the wall clock has reached `exp` (a whole second).
async fn wait_until(exp: i64) {
    let wait = exp as f64 - unix_now();
    if wait > 0.0 {
        actix_web::rt::time::sleep(Duration::from_secs_f64(wait + 0.05)).await;
    }
}

service_kit::backend_tests! {
    async fn a_token_is_refused_from_the_second_it_expires(backend) {
        let stack = spawn_stack(backend).await;
        let id = stack.sign_up("alice@example.com").await;
        // A token the auth service could have issued, expiring two seconds from now.
        let claims = claims_for_testing(id, "alice@example.com", 2);
        let exp = claims.exp;
        let token = encode_for_testing(&claims, &test_signing_key());
        let resp = stack.posts_get("/posts/", &token).await;
        assert_eq!(resp.status(), 200, "the token works before it expires");

        wait_until(exp).await;
        let resp = stack.posts_get("/posts/", &token).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(detail(resp).await, "Could not validate credentials");
    }
}

/// The real thing, once: a token from `POST /login` with ACCESS_TOKEN_EXPIRE_MINUTES=1 works,
/// and a minute later the same request is refused.
#[actix_web::test]
async fn a_real_one_minute_token_expires_after_one_minute() {
    let stack = spawn_stack_with(service_kit::Backend::Sqlite, |c| {
        c.access_token_expire_minutes = 1
    })
    .await;
    stack.sign_up("alice@example.com").await;
    let token = stack.log_in("alice@example.com").await;
    let claims = shared_claims::testing::test_key_set()
        .verify(
            &token,
            &shared_claims::VerifyConfig {
                issuer: shared_claims::DEFAULT_ISSUER.into(),
                audience: shared_claims::DEFAULT_AUDIENCE.into(),
                leeway_seconds: 0,
            },
        )
        .unwrap();
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(stack.posts_get("/posts/", &token).await.status(), 200);

    // Just before expiry it still works ...
    let exp = claims.exp;
    actix_web::rt::time::sleep(Duration::from_secs_f64(
        (exp as f64 - 3.0 - unix_now()).max(0.0),
    ))
    .await;
    assert_eq!(stack.posts_get("/posts/", &token).await.status(), 200);
    // ... and from its expiry second on, it does not.
    wait_until(exp).await;
    let resp = stack.posts_get("/posts/", &token).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(detail(resp).await, "Could not validate credentials");
}
