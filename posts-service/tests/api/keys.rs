//! Keys from the auth service's JWKS: loaded in the background (start-up never waits), and
//! refetched when a token names an unknown `kid`.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde_json::json;
use service_kit::Backend;
use shared_claims::testing::{claims_for_testing, encode_for_testing, test_signing_key};
use shared_claims::{Jwk, SigningKey};

use crate::helpers::*;

type Served = Arc<Mutex<Vec<Jwk>>>;

/// A tiny JWKS server answering with whatever keys `served` holds.
fn serve_jwks(listener: TcpListener, served: Served) -> String {
    let base = serve_stand_in(listener, move |routes| {
        let served = served.clone();
        routes.route(
            "/.well-known/jwks.json",
            web::get().to(move || {
                let keys = served.lock().unwrap().clone();
                async move { HttpResponse::Ok().json(json!({ "keys": keys })) }
            }),
        );
    });
    format!("{base}/.well-known/jwks.json")
}

async fn spawn_with_jwks(url: String) -> TestApp {
    spawn_app_with(Backend::Sqlite, |c| {
        c.jwt_public_key_file = None;
        c.jwt_jwks_url = url;
        c.jwks_refresh_min_seconds = 1;
    })
    .await
}

async fn wait_until_ready(app: &TestApp, within: Duration) {
    let start = Instant::now();
    loop {
        let (status, body) = status_json(app.get("/readyz", None).await).await;
        if status == 200 {
            return;
        }
        assert!(
            start.elapsed() < within,
            "not ready after {within:?}: {body}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn list_status(app: &TestApp, token: &str) -> u16 {
    app.list(token, "").await.status().as_u16()
}

#[actix_web::test]
async fn tokens_verify_with_keys_from_the_jwks_and_new_keys_are_picked_up() {
    let served: Served = Arc::new(Mutex::new(vec![test_signing_key().public_jwk()]));
    let url = serve_jwks(free_port(), served.clone());
    let app = spawn_with_jwks(url).await;
    wait_until_ready(&app, Duration::from_secs(10)).await;
    assert_eq!(list_status(&app, &alice()).await, 200);

    // A token signed by a key the auth service does not publish yet is refused...
    let rotated = SigningKey::generate().unwrap();
    let token = encode_for_testing(
        &claims_for_testing(ALICE, "alice@example.com", 300),
        &rotated,
    );
    assert_eq!(list_status(&app, &token).await, 401);

    // ...and accepted once it does (refetched on the unknown kid, at most once a second here).
    served.lock().unwrap().push(rotated.public_jwk());
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(list_status(&app, &token).await, 200);
    assert_eq!(list_status(&app, &alice()).await, 200);
}

#[actix_web::test]
async fn the_service_starts_without_the_auth_service_and_is_ready_once_keys_load() {
    // A port with nothing listening yet.
    let addr = free_port().local_addr().unwrap();
    let url = format!("http://{addr}/.well-known/jwks.json");
    let app = spawn_with_jwks(url).await;

    let (status, body) = status_json(app.get("/readyz", None).await).await;
    assert_eq!(status, 503);
    assert_eq!(body["failing"], json!(["keys"]));
    assert_eq!(list_status(&app, &alice()).await, 401);
    let (status, _) = status_json(app.get("/healthz", None).await).await;
    assert_eq!(status, 200);

    let served: Served = Arc::new(Mutex::new(vec![test_signing_key().public_jwk()]));
    serve_jwks(TcpListener::bind(addr).unwrap(), served);
    wait_until_ready(&app, Duration::from_secs(10)).await;
    assert_eq!(list_status(&app, &alice()).await, 200);
}
