//! The services' `/metrics` are for the operators' scraper on their own addresses: the
//! gateway (deploy/gateway, in Debian's nginx on loopback) answers 404 for them.

use serde_json::{json, Value};
use stack::TestStack;

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
    let client = stack.client().clone();
    for base in [stack.auth_url(), stack.posts_url()] {
        let resp = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{base}/metrics");
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
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if client.get(format!("{base}/")).send().await.is_ok() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The gateway routes the API.
    let resp = client.get(format!("{base}/posts/")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "/posts/ reaches the posts service");
    for path in ["/metrics", "/metrics/", "/metrics?x=1"] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({ "detail": "Not Found" }), "{path}");
    }
    stack.stop().await;
}
