//! Edges of the token and HTTP handling: a JWT header with `crit`, a `sub` that is not a
//! canonical positive integer, two `Authorization` headers, a request body that never
//! finishes arriving, and request heads actix-http refuses itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use shared_claims::testing::{
    claims_for_testing, encode_for_testing, encode_with_header_for_testing, test_signing_key,
};

use crate::helpers::*;

/// A token for Alice with `sub` replaced (and no `user_id`, so `sub` alone is judged).
fn token_with_sub(sub: &str) -> String {
    let mut claims =
        serde_json::to_value(claims_for_testing(ALICE, "alice@example.com", 300)).unwrap();
    claims["sub"] = json!(sub);
    claims.as_object_mut().unwrap().remove("user_id");
    encode_for_testing(&claims, &test_signing_key())
}

async fn list_status(app: &TestApp, authorization: &[&str]) -> (u16, Value) {
    let mut req = app.request(Method::GET, "/posts/", None);
    for value in authorization {
        req = req.header("Authorization", *value);
    }
    status_json(req.send().await.unwrap()).await
}

/// What the raw HTTP exchange gave back: the time until the server closed the connection
/// (or `within` ran out), and every byte it sent.
struct Exchange {
    closed_after: Option<Duration>,
    response: String,
}

/// Sends `head` and the start of its declared body, then one more byte every 100 ms (a slow
/// client), until the server answers and closes, or `within` has passed.
fn trickle(port: u16, head: &str, within: Duration) -> Exchange {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < within {
        // Stop sending once answered: writing to a closed connection would reset it.
        if response.is_empty() {
            let _ = stream.write_all(b" ");
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                return Exchange {
                    closed_after: Some(started.elapsed()),
                    response: String::from_utf8_lossy(&response).into_owned(),
                }
            }
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("connection failed: {e}"),
        }
    }
    Exchange {
        closed_after: None,
        response: String::from_utf8_lossy(&response).into_owned(),
    }
}

service_kit::backend_tests! {
    async fn a_token_whose_header_has_crit_cannot_be_validated(backend) {
        let app = spawn_app(backend).await;
        let key = test_signing_key();
        let claims = claims_for_testing(ALICE, "alice@example.com", 300);
        for crit in [json!(["exp"]), json!([]), json!(null)] {
            let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": key.kid(), "crit": crit });
            let token = encode_with_header_for_testing(&header, &claims, &key);
            let (status, body) = list_status(&app, &[&format!("Bearer {token}")]).await;
            assert_eq!((status, body), (401, detail("Could not validate credentials")), "crit {crit}");
        }
        // The same header without crit is accepted.
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": key.kid() });
        let token = encode_with_header_for_testing(&header, &claims, &key);
        assert_eq!(list_status(&app, &[&format!("Bearer {token}")]).await.0, 200);
    }

    async fn a_sub_that_is_not_a_canonical_positive_integer_cannot_be_validated(backend) {
        let app = spawn_app(backend).await;
        for sub in ["-1", "0", "+1", "01"] {
            let token = token_with_sub(sub);
            let (status, body) = list_status(&app, &[&format!("Bearer {token}")]).await;
            assert_eq!((status, body), (401, detail("Could not validate credentials")), "sub {sub}");
        }
        let token = token_with_sub("1");
        assert_eq!(list_status(&app, &[&format!("Bearer {token}")]).await.0, 200);
    }

    async fn two_authorization_headers_are_not_authenticated(backend) {
        let app = spawn_app(backend).await;
        let alice = format!("Bearer {}", alice());
        let bob = format!("Bearer {}", bob());
        for pair in [[alice.as_str(), bob.as_str()], [alice.as_str(), alice.as_str()], [alice.as_str(), "Basic eDp5"]] {
            let (status, body) = list_status(&app, &pair).await;
            assert_eq!((status, body), (401, detail("Not authenticated")), "{pair:?}");
        }
        assert_eq!(list_status(&app, &[&alice]).await.0, 200);
    }

    async fn a_body_trickled_past_the_read_deadline_gets_408_and_a_closed_connection(backend) {
        let app = spawn_app_with(backend, |c| c.common.server.body_read_timeout_seconds = 1).await;
        let head = format!(
            "POST /posts/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"title\":",
            alice()
        );
        let port = app.port;
        let exchange = actix_web::rt::task::spawn_blocking(move || {
            trickle(port, &head, Duration::from_secs(8))
        })
        .await
        .unwrap();
        let closed_after = exchange.closed_after.unwrap_or_else(|| {
            panic!("still open after 8 s; received: {:?}", exchange.response)
        });
        assert!(closed_after < Duration::from_secs(4), "closed after {closed_after:?}");
        let response = exchange.response;
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
        assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
        assert!(
            response.ends_with(r#"{"detail":"Request body not received in time"}"#),
            "{response}"
        );
        // Nothing was created from the part that arrived.
        let (status, body) = status_json(app.list(&alice(), "").await).await;
        assert_eq!((status, body), (200, json!([])));
    }
}

/// What actix-http answers by itself, before any of the service's code runs: the status is
/// right, and the body is empty (not `{"detail": ...}`), since no middleware or error
/// handler sees these requests (see the comment in `service_kit::http::serve`).
#[actix_web::test]
async fn request_heads_actix_http_refuses_get_their_status_and_close() {
    let app = spawn_app(service_kit::Backend::Sqlite).await;
    let port = app.port;
    let oversized = format!(
        "GET /posts/ HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let nul = "GET /posts/ HTTP/1.1\r\nHost: localhost\r\nX-Nul: a\0b\r\n\r\n".to_string();
    for (head, status) in [(oversized, "431"), (nul, "400")] {
        let exchange = actix_web::rt::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            // The server may answer and close before the whole head is written.
            let _ = stream.write_all(head.as_bytes());
            let mut response = Vec::new();
            let _ = stream.read_to_end(&mut response);
            String::from_utf8_lossy(&response).into_owned()
        })
        .await
        .unwrap();
        assert!(
            exchange.starts_with(&format!("HTTP/1.1 {status}")),
            "{exchange}"
        );
        assert!(
            exchange.to_ascii_lowercase().contains("content-length: 0"),
            "{exchange}"
        );
    }
    // The service is unaffected.
    assert_eq!(status_json(app.get("/healthz", None).await).await.0, 200);
}
