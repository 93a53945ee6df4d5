//! `GET /metrics`: Prometheus' text format, requests by route pattern and status, the
//! database pool, JWKS fetches and their failures, the list of ended sessions.

use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde_json::json;
use service_kit::Backend;
use shared_claims::testing::test_signing_key;
use test_support::{metric_value, requests_total};

use crate::helpers::*;

async fn scrape(app: &TestApp) -> String {
    test_support::scrape_metrics(&app.api).await
}

/// Scrapes until `ok` holds for the exposition, for at most `within`.
async fn scrape_until(app: &TestApp, within: Duration, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = scrape(app).await;
        if ok(&text) {
            return text;
        }
        assert!(
            start.elapsed() < within,
            "not reached within {within:?}:\n{text}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A stand-in auth service: the test key's JWKS, and a feed with one ended session.
fn serve_auth() -> String {
    serve_stand_in(free_port(), |routes| {
        routes
            .route(
                "/.well-known/jwks.json",
                web::get().to(|| async {
                    HttpResponse::Ok().json(json!({ "keys": [test_signing_key().public_jwk()] }))
                }),
            )
            .route(
                "/sessions/ended",
                web::get().to(|| async {
                    let now = chrono::Utc::now().timestamp();
                    HttpResponse::Ok().json(
                        json!({ "now": now, "ended": [{ "sid": "s-1", "until": now + 600 }] }),
                    )
                }),
            );
    })
}

service_kit::backend_tests! {
    async fn metrics_count_requests_by_route_pattern_and_status_and_show_the_pool(backend) {
        let app = spawn_app(backend).await;
        let id = app.new_post(&alice(), "counted", true).await;
        for _ in 0..2 {
            assert_eq!(app.get_post(&alice(), id).await.status(), 200);
        }
        assert_eq!(app.get_post(&alice(), 999_999).await.status(), 404);
        assert_eq!(app.get("/no/such/path/123", None).await.status(), 404);

        let text = scrape(&app).await;
        let requests = |method, route, status| requests_total(&text, method, route, status);
        assert_eq!(requests("GET", "/posts/{id}", 200), Some(2.0), "{text}");
        assert_eq!(requests("GET", "/posts/{id}", 404), Some(1.0), "{text}");
        assert_eq!(requests("GET", "unmatched", 404), Some(1.0), "{text}");
        assert!(!text.contains(&format!("/posts/{id}\"")), "raw paths are not labels: {text}");
        assert!(!text.contains("/no/such/path"), "{text}");
        assert_eq!(
            metric_value(
                &text,
                r#"http_request_duration_seconds_count{method="GET",route="/posts/{id}",status="200"}"#
            ),
            Some(2.0),
            "{text}"
        );
        assert!(text.contains("# TYPE http_request_duration_seconds histogram"), "{text}");
        // The pool: opened by the requests above, none in use or waiting between requests.
        assert!(metric_value(&text, "db_pool_connections_max").unwrap() >= 1.0, "{text}");
        assert!(metric_value(&text, "db_pool_connections_open").unwrap() >= 1.0, "{text}");
        assert_eq!(metric_value(&text, "db_pool_connections_in_use"), Some(0.0), "{text}");
        assert_eq!(metric_value(&text, "db_pool_waiting"), Some(0.0), "{text}");
        // Keys from a file: no JWKS fetch, no feed of ended sessions.
        assert_eq!(metric_value(&text, "jwks_refreshes_total"), Some(0.0), "{text}");
        assert_eq!(metric_value(&text, "verification_keys"), Some(1.0), "{text}");
        assert!(!text.contains("revocation_list"), "{text}");

        // The scrape itself is counted, the next time.
        let text = scrape(&app).await;
        assert!(
            metric_value(&text, r#"http_requests_total{method="GET",route="/metrics",status="200"}"#)
                .is_some(),
            "{text}"
        );
    }

    async fn metrics_are_not_an_operation_of_the_openapi_document(backend) {
        let app = spawn_app(backend).await;
        let (status, doc) = status_json(app.get("/openapi.json", None).await).await;
        assert_eq!(status, 200);
        assert!(doc["paths"].get("/metrics").is_none(), "{}", doc["paths"]);
    }
}

#[actix_web::test]
async fn metrics_count_jwks_fetches_and_show_the_list_of_ended_sessions() {
    let auth = serve_auth();
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.tokens.public_key_file = None;
        c.tokens.jwks_url = format!("{auth}/.well-known/jwks.json");
    })
    .await;
    let text = scrape_until(&app, Duration::from_secs(10), |text| {
        metric_value(text, "revocation_list_loaded") == Some(1.0)
            && metric_value(text, "jwks_refreshes_total").is_some_and(|n| n >= 1.0)
    })
    .await;
    assert_eq!(
        metric_value(&text, "jwks_refresh_failures_total"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "verification_keys"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "revocation_list_size"),
        Some(1.0),
        "{text}"
    );
    let age = metric_value(&text, "revocation_list_age_seconds").unwrap();
    assert!((0.0..5.0).contains(&age), "{text}");
}

#[actix_web::test]
async fn metrics_count_failed_jwks_fetches() {
    // Nothing listens there: every fetch fails, and start-up retries.
    let closed = free_port();
    let url = format!(
        "http://127.0.0.1:{}/.well-known/jwks.json",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.tokens.public_key_file = None;
        c.tokens.jwks_url = url;
        c.tokens.sessions_feed_url = Some("off".into());
        c.tokens.keys_wait_seconds = 0;
    })
    .await;
    let text = scrape_until(&app, Duration::from_secs(10), |text| {
        metric_value(text, "jwks_refresh_failures_total").is_some_and(|n| n >= 2.0)
    })
    .await;
    assert_eq!(
        metric_value(&text, "jwks_refreshes_total"),
        metric_value(&text, "jwks_refresh_failures_total"),
        "every fetch failed: {text}"
    );
    assert_eq!(
        metric_value(&text, "verification_keys"),
        Some(0.0),
        "{text}"
    );
    assert!(!text.contains("revocation_list"), "{text}");
}
