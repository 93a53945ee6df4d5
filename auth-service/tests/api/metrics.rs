//! `GET /metrics`: Prometheus' text format, requests by route pattern and status, the
//! database pool, the password hashing queue and its rejections.

use test_support::{metric_value, requests_total};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, PASSWORD};

async fn scrape(app: &TestApp) -> String {
    test_support::scrape_metrics(&app.api).await
}

service_kit::backend_tests! {
    async fn metrics_count_requests_by_route_pattern_and_show_the_pool_and_hashing_queue(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("alice@example.com").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        assert_eq!(app.login("alice@example.com", "wrong-password").await.status(), 403);
        assert_eq!(app.get_user(&id.to_string(), Some(&token)).await.status(), 200);
        assert_eq!(app.get_user("987654", Some(&token)).await.status(), 404);

        let text = scrape(&app).await;
        let requests = |method, route, status| requests_total(&text, method, route, status);
        assert_eq!(requests("POST", "/users", 201), Some(1.0), "{text}");
        assert_eq!(requests("POST", "/login", 200), Some(1.0), "{text}");
        assert_eq!(requests("POST", "/login", 403), Some(1.0), "{text}");
        assert_eq!(requests("GET", "/users/{id}", 200), Some(1.0), "{text}");
        assert_eq!(requests("GET", "/users/{id}", 404), Some(1.0), "{text}");
        assert!(!text.contains("987654"), "raw paths are not labels: {text}");
        assert!(
            metric_value(&text, r#"http_request_duration_seconds_count{method="POST",route="/login",status="200"}"#)
                == Some(1.0),
            "{text}"
        );
        assert!(metric_value(&text, "db_pool_connections_open").unwrap() >= 1.0, "{text}");
        assert_eq!(metric_value(&text, "db_pool_connections_in_use"), Some(0.0), "{text}");
        assert_eq!(metric_value(&text, "db_pool_waiting"), Some(0.0), "{text}");
        assert_eq!(metric_value(&text, "bcrypt_queue_depth"), Some(0.0), "{text}");
        assert_eq!(metric_value(&text, "bcrypt_jobs_running"), Some(0.0), "{text}");
        assert_eq!(metric_value(&text, "bcrypt_rejections_total"), Some(0.0), "{text}");
    }

    async fn metrics_count_hashing_jobs_refused_past_the_queue(backend) {
        // One thread, no waiting room, and a cost high enough that signups overlap.
        let app = spawn_app_with(backend, |c| {
            c.bcrypt_threads = Some(1);
            c.bcrypt_queue = 0;
            c.bcrypt_cost = 10;
        })
        .await;
        let responses = futures_util::future::join_all((0..8).map(|i| {
            let app = &app;
            async move { app.signup(&format!("user{i}@example.com"), PASSWORD).await }
        }))
        .await;
        let refused = responses.iter().filter(|r| r.status() == 503).count();
        assert!(refused > 0, "some signups are refused");
        let text = scrape(&app).await;
        assert_eq!(metric_value(&text, "bcrypt_rejections_total"), Some(refused as f64), "{text}");
        assert_eq!(metric_value(&text, "bcrypt_queue_depth"), Some(0.0), "{text}");
        assert_eq!(
            metric_value(&text, r#"http_requests_total{method="POST",route="/users",status="503"}"#),
            Some(refused as f64),
            "{text}"
        );
    }

    async fn metrics_are_not_an_operation_of_the_openapi_document(backend) {
        let app = spawn_app(backend).await;
        let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
        assert!(doc["paths"]["/users/"].is_object());
        assert!(doc["paths"].get("/metrics").is_none(), "{}", doc["paths"]);
    }
}
