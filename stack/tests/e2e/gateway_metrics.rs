//! The services' `/metrics` are for the operators' scraper on their own addresses: the
//! gateway (deploy/gateway, in Debian's nginx on loopback) answers 404 for them.

use reqwest::Method;
use serde_json::{json, Value};
use stack::TestStack;
use test_support::ApiClient;

use crate::gateway::{free_port, start_nginx, NGINX};
use crate::processes::tool_available;

fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn the_gateway_answers_404_for_metrics_that_each_service_serves_directly() {
    if !tool_available(NGINX, "nginx") {
        return;
    }
    let stack = TestStack::start().await;
    for api in [stack.auth(), stack.posts()] {
        let resp = api.get("/metrics", None).await;
        assert_eq!(resp.status(), 200, "{}", api.url("/metrics"));
        assert!(resp.text().await.unwrap().contains("http_requests_total"));
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = start_nginx(
        dir.path(),
        port,
        &[port_of(stack.auth_url())],
        &[port_of(stack.posts_url())],
    );
    let gateway =
        ApiClient::with_client(format!("http://127.0.0.1:{port}"), stack.client().clone());
    for _ in 0..100 {
        if gateway.request(Method::GET, "/", None).send().await.is_ok() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The gateway routes the API.
    let resp = gateway.get("/posts/", None).await;
    assert_eq!(resp.status(), 401, "/posts/ reaches the posts service");
    for path in ["/metrics", "/metrics/", "/metrics?x=1"] {
        let resp = gateway.get(path, None).await;
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({ "detail": "Not Found" }), "{path}");
    }
    stack.stop().await;
}
