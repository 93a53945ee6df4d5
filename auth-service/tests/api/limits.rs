//! Request limits per client address and per route, counted in the database (so replicas
//! share them), from the reproduction of issue 22: 300 sign-ups from one client.

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{default_rate_limits, spawn_app_with, TestApp, PASSWORD};

/// Sleeps into a fresh rate-limit window when less than `margin` seconds are left of this
/// one, so that a test's requests fall in one window.
async fn fresh_window(window: u64, margin: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_secs() % window;
    if window - into < margin {
        let left = std::time::Duration::from_secs(window - into)
            - std::time::Duration::from_nanos(u64::from(now.subsec_nanos()));
        tokio::time::sleep(left + std::time::Duration::from_millis(50)).await;
    }
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// `POST /users/` as `from` (an `X-Forwarded-For` value) when given.
async fn signup(api: &test_support::ApiClient, email: &str, from: Option<&str>) -> Response {
    let mut req = api
        .request(Method::POST, "/users/", None)
        .json(&json!({ "email": email, "password": PASSWORD }));
    if let Some(from) = from {
        req = req.header("x-forwarded-for", from);
    }
    req.send().await.unwrap()
}

/// Sends `count` sign-ups (`{prefix}{i}@example.com`), the i-th to and from what `route(i)`
/// says (a replica, and an `X-Forwarded-For`); the statuses, and the first 429.
async fn signups<'a>(
    count: usize,
    prefix: &str,
    route: impl Fn(usize) -> (&'a test_support::ApiClient, Option<String>),
) -> (Vec<u16>, Option<Response>) {
    let mut statuses = Vec::new();
    let mut refused = None;
    for i in 0..count {
        let (api, from) = route(i);
        let resp = signup(api, &format!("{prefix}{i}@example.com"), from.as_deref()).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 && refused.is_none() {
            refused = Some(resp);
        }
    }
    (statuses, refused)
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Asserts the 429 of a spent limit: `Retry-After`, and the draft's fields naming it.
fn assert_limited(resp: &Response, policy: &str) {
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = header(resp, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let state = header(resp, "ratelimit");
    assert!(
        state.contains(&format!("\"{policy}\";r=0;t={retry_after}")),
        "{state}"
    );
    assert!(header(resp, "ratelimit-policy").contains(&format!("\"{policy}\";q=")));
}

async fn app_with_defaults(backend: service_kit::Backend) -> TestApp {
    spawn_app_with(backend, default_rate_limits).await
}

service_kit::backend_tests! {
    async fn three_hundred_signups_from_one_client_are_limited_with_retry_after_and_ratelimit_fields(backend) {
        let app = app_with_defaults(backend).await;
        fresh_window(60, 15).await;
        let (statuses, refused) = signups(300, "u", |_| (&app.api, None)).await;
        // The default: 20 sign-ups per client per minute.
        assert_eq!(count(&statuses, 201), 20, "{statuses:?}");
        assert_eq!(count(&statuses, 429), 280);
        let refused = refused.unwrap();
        assert_limited(&refused, "signup-client");
        assert_eq!(
            header(&refused, "ratelimit-policy"),
            "\"signup-client\";q=20;w=60, \"signup\";q=600;w=60"
        );
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body, json!({"detail": "Too many requests, try again later"}));
        // An answer within the limit carries the fields too.
        let app = app_with_defaults(backend).await;
        let resp = signup(&app.api, "first@example.com", None).await;
        assert_eq!(resp.status(), 201);
        assert!(header(&resp, "ratelimit").starts_with("\"signup-client\";r=19;t="));
    }

    async fn the_limit_holds_across_two_replicas_on_one_database(backend) {
        let app = app_with_defaults(backend).await;
        let second = app.replica().await;
        fresh_window(60, 15).await;
        let (statuses, refused) =
            signups(300, "u", |i| (if i % 2 == 0 { &app.api } else { &second }, None)).await;
        assert_eq!(count(&statuses, 201), 20, "{statuses:?}");
        assert_limited(&refused.unwrap(), "signup-client");
    }

    async fn a_spoofed_forwarded_address_from_an_untrusted_peer_changes_nothing(backend) {
        let app = app_with_defaults(backend).await;
        fresh_window(60, 15).await;
        let (statuses, refused) =
            signups(40, "u", |i| (&app.api, Some(format!("203.0.113.{i}")))).await;
        assert_eq!(count(&statuses, 201), 20, "{statuses:?}");
        assert_limited(&refused.unwrap(), "signup-client");
    }

    async fn behind_a_trusted_proxy_the_forwarded_address_counts(backend) {
        let app = spawn_app_with(backend, |c| {
            default_rate_limits(c);
            c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .await;
        fresh_window(60, 15).await;
        // What the client put before the proxy's hop is not believed: the rightmost counts.
        let (statuses, refused) =
            signups(25, "a", |i| (&app.api, Some(format!("10.9.9.{i}, 198.51.100.7")))).await;
        assert_eq!(count(&statuses, 201), 20, "{statuses:?}");
        assert_limited(&refused.unwrap(), "signup-client");
        // Another client behind the same proxy has its own count.
        let resp = signup(&app.api, "b@example.com", Some("198.51.100.8")).await;
        assert_eq!(resp.status(), 201);
        let resp = app
            .request(Method::POST, "/users/")
            .header("forwarded", "for=198.51.100.9;proto=https")
            .json(&json!({ "email": "c@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }

    async fn the_global_limit_of_a_route_is_a_backstop_for_every_client_together(backend) {
        let app = spawn_app_with(backend, |c| {
            c.rate_limit_signup = "3/5".parse().unwrap();
            c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        fresh_window(60, 15).await;
        let (statuses, refused) =
            signups(8, "u", |i| (&app.api, Some(format!("198.51.100.{i}")))).await;
        assert_eq!(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
        assert_limited(&refused.unwrap(), "signup");
    }

    async fn login_refresh_and_password_change_are_limited_per_client_before_their_body_is_read(backend) {
        let app = spawn_app_with(backend, |c| {
            c.rate_limit_login = "2/100".parse().unwrap();
            c.rate_limit_refresh = "1/100".parse().unwrap();
            c.rate_limit_password = "1/100".parse().unwrap();
        })
        .await;
        app.create_user("alice@example.com").await;
        fresh_window(60, 15).await;
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
        assert_eq!(app.login("nobody@example.com", PASSWORD).await.status(), 403);
        let resp = app.login("alice@example.com", PASSWORD).await;
        assert_limited(&resp, "login-client");
        for (method, path) in [(Method::POST, "/token/refresh"), (Method::PUT, "/users/me/password")] {
            let policy = if path == "/token/refresh" { "refresh-client" } else { "password-client" };
            let resp = app.request(method.clone(), path).json(&json!({})).send().await.unwrap();
            assert_ne!(resp.status(), 429, "{path}");
            assert!(header(&resp, "ratelimit").contains(&format!("\"{policy}\";r=0")));
            let resp = app.request(method, path).json(&json!({})).send().await.unwrap();
            assert_limited(&resp, policy);
        }
        // Other routes are not limited.
        assert_eq!(app.get("/healthz").await.status(), 200);
    }

    async fn rate_limits_off_limit_nothing(backend) {
        let app = spawn_app_with(backend, |c| {
            c.rate_limit_signup = "1/1".parse().unwrap();
            c.rate_limits = false;
        })
        .await;
        for i in 0..3 {
            let resp = signup(&app.api, &format!("u{i}@example.com"), None).await;
            assert_eq!(resp.status(), 201);
            assert!(resp.headers().get("ratelimit").is_none());
        }
    }
}
