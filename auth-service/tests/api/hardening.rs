//! Edges of the token and HTTP handling: a JWT header with `crit`, a `sub` that is not a
//! canonical positive integer, two `Authorization` headers, and a request body that never
//! finishes arriving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use shared_claims::testing::encode_with_header_for_testing;
use shared_claims::SigningKey;

use crate::helpers::{detail, spawn_app, spawn_app_with, TestApp, PASSWORD};

/// A user's own account and a real token of theirs, with its claims.
async fn user_with_token(app: &TestApp) -> (i64, String, Value) {
    let id = app.create_user("alice@example.com").await;
    let token = app.token("alice@example.com", PASSWORD).await;
    let payload = token.split('.').nth(1).unwrap();
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    (id, token, claims)
}

/// A token signed with the service's own key, with this header and these claims.
fn signed(app: &TestApp, header: Value, claims: &Value) -> String {
    let pem = std::fs::read_to_string(&app.config.jwt_private_key_file).unwrap();
    let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
    let mut header = header;
    header["kid"] = json!(key.kid());
    encode_with_header_for_testing(&header, claims, &key)
}

async fn get_user(app: &TestApp, id: i64, authorization: &[&str]) -> (u16, Value) {
    let mut req = app.request(reqwest::Method::GET, &format!("/users/{id}"));
    for value in authorization {
        req = req.header("Authorization", *value);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, detail(resp).await)
}

service_kit::backend_tests! {
    async fn a_token_whose_header_has_crit_cannot_be_validated(backend) {
        let app = spawn_app(backend).await;
        let (id, _, claims) = user_with_token(&app).await;
        for crit in [json!(["exp"]), json!([]), json!(null)] {
            let token = signed(&app, json!({ "alg": "EdDSA", "typ": "JWT", "crit": crit }), &claims);
            let (status, detail) = get_user(&app, id, &[&format!("Bearer {token}")]).await;
            assert_eq!((status, detail), (401, json!("Could not validate credentials")), "crit {crit}");
        }
        let token = signed(&app, json!({ "alg": "EdDSA", "typ": "JWT" }), &claims);
        assert_eq!(get_user(&app, id, &[&format!("Bearer {token}")]).await.0, 200);
    }

    async fn a_sub_that_is_not_a_canonical_positive_integer_cannot_be_validated(backend) {
        let app = spawn_app(backend).await;
        let (id, _, claims) = user_with_token(&app).await;
        assert_eq!(claims["sub"], json!(id.to_string()));
        for sub in ["-1", "0", "+1", "01", &format!("0{id}"), &format!("+{id}")] {
            let mut claims = claims.clone();
            claims["sub"] = json!(sub);
            // Without `user_id`, so `sub` alone is judged.
            claims.as_object_mut().unwrap().remove("user_id");
            let token = signed(&app, json!({ "alg": "EdDSA", "typ": "JWT" }), &claims);
            let (status, detail) = get_user(&app, id, &[&format!("Bearer {token}")]).await;
            assert_eq!((status, detail), (401, json!("Could not validate credentials")), "sub {sub}");
        }
    }

    async fn two_authorization_headers_are_not_authenticated(backend) {
        let app = spawn_app(backend).await;
        let (id, token, _) = user_with_token(&app).await;
        let bearer = format!("Bearer {token}");
        for pair in [[bearer.as_str(), bearer.as_str()], [bearer.as_str(), "Bearer other"], ["Bearer other", bearer.as_str()]] {
            let (status, detail) = get_user(&app, id, &pair).await;
            assert_eq!((status, detail), (401, json!("Not authenticated")), "{pair:?}");
        }
        assert_eq!(get_user(&app, id, &[&bearer]).await.0, 200);
    }

    async fn a_login_body_trickled_past_the_read_deadline_gets_408_and_a_closed_connection(backend) {
        let app = spawn_app_with(backend, |c| c.common.server.body_read_timeout_seconds = 1).await;
        let port: u16 = app.api.base_url().rsplit(':').next().unwrap().parse().unwrap();
        let exchange = actix_web::rt::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            stream
                .write_all(
                    b"POST /login HTTP/1.1\r\nHost: localhost\r\n\
                      Content-Type: application/x-www-form-urlencoded\r\n\
                      Content-Length: 1000\r\n\r\nusername=a",
                )
                .unwrap();
            let started = Instant::now();
            let mut response = Vec::new();
            let mut buf = [0u8; 4096];
            // One more byte every 100 ms, until answered and closed, or 8 s.
            while started.elapsed() < Duration::from_secs(8) {
                if response.is_empty() {
                    let _ = stream.write_all(b"a");
                }
                match stream.read(&mut buf) {
                    Ok(0) => return (Some(started.elapsed()), response),
                    Ok(n) => response.extend_from_slice(&buf[..n]),
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(e) => panic!("connection failed: {e}"),
                }
            }
            (None, response)
        })
        .await
        .unwrap();
        let response = String::from_utf8_lossy(&exchange.1).into_owned();
        let closed_after = exchange.0.unwrap_or_else(|| panic!("still open after 8 s: {response:?}"));
        assert!(closed_after < Duration::from_secs(4), "closed after {closed_after:?}");
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
        assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
        assert!(response.ends_with(r#"{"detail":"Request body not received in time"}"#), "{response}");
    }
}
