//! Ended sessions and key-set freshness, against a stand-in for the auth service: its feed of
//! ended sessions is polled every second (tokens of an ended session are refused within
//! seconds, remembered tokens included), an unreachable feed leaves the service verifying with
//! what it knows, and the JWKS is fetched again when its `max-age` runs out, dropping keys it
//! no longer lists.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use service_kit::Backend;
use shared_claims::testing::{claims_for_testing, encode_for_testing, test_signing_key};
use shared_claims::{Jwk, SigningKey};

use crate::helpers::*;

/// What the stand-in auth service serves.
#[derive(Default)]
struct Served {
    keys: Vec<Jwk>,
    ended: Vec<(String, i64)>,
    /// While false, both documents answer 503.
    down: bool,
    max_age: Option<u32>,
}

type Shared = Arc<Mutex<Served>>;

/// The stand-in's answer: 503 while it is down, else what `ok` makes of what it serves.
fn answer(shared: &Shared, ok: impl FnOnce(&Served) -> HttpResponse) -> HttpResponse {
    let served = shared.lock().unwrap();
    if served.down {
        HttpResponse::ServiceUnavailable().finish()
    } else {
        ok(&served)
    }
}

/// Serves the test key, with nothing ended.
fn test_key_only() -> Served {
    Served {
        keys: vec![test_signing_key().public_jwk()],
        ..Served::default()
    }
}

/// Serves `served` from a stand-in auth service: the state to change, and its base URL.
fn serve_auth(served: Served) -> (Shared, String) {
    let shared: Shared = Arc::new(Mutex::new(served));
    let state = shared.clone();
    let url = serve_stand_in(free_port(), move |routes| {
        let jwks = shared.clone();
        let feed = shared.clone();
        routes
            .route(
                "/.well-known/jwks.json",
                web::get().to(move || {
                    let resp = answer(&jwks, |s| {
                        let mut resp = HttpResponse::Ok();
                        if let Some(age) = s.max_age {
                            resp.insert_header(("cache-control", format!("public, max-age={age}")));
                        }
                        resp.json(json!({ "keys": s.keys }))
                    });
                    async move { resp }
                }),
            )
            .route(
                "/sessions/ended",
                web::get().to(move || {
                    let resp = answer(&feed, |s| {
                        let ended: Vec<Value> = s
                            .ended
                            .iter()
                            .map(|(sid, until)| json!({ "sid": sid, "until": until }))
                            .collect();
                        HttpResponse::Ok().json(json!({ "now": now(), "ended": ended }))
                    });
                    async move { resp }
                }),
            );
    });
    (state, url)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn token_in_session(sid: &str, key: &SigningKey) -> String {
    let mut claims = claims_for_testing(ALICE, "alice@example.com", 300);
    claims.sid = Some(sid.to_owned());
    encode_for_testing(&claims, key)
}

async fn spawn_with_auth(backend: Backend, auth: &str) -> TestApp {
    let jwks = format!("{auth}/.well-known/jwks.json");
    spawn_app_with(backend, |c| {
        c.tokens.public_key_file = None;
        c.tokens.jwks_url = jwks;
        c.tokens.jwks_refresh_min_seconds = 1;
    })
    .await
}

async fn status(app: &TestApp, token: &str) -> u16 {
    app.list(token, "").await.status().as_u16()
}

/// Polls (every 50 ms, at most `within`) until `token` gets `expected`; returns the time taken.
async fn until_status(app: &TestApp, token: &str, expected: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let got = status(app, token).await;
        if got == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "still {got} after {within:?}, expected {expected}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn revocations(app: &TestApp) -> Value {
    let (status, body) = status_json(app.get("/revocations", None).await).await;
    assert_eq!(status, 200);
    body
}

service_kit::backend_tests! {
    async fn a_session_ended_at_the_auth_service_is_refused_within_seconds(backend) {
        let (shared, auth) = serve_auth(test_key_only());
        let app = spawn_with_auth(backend, &auth).await;
        let ended = token_in_session("session-1", &test_signing_key());
        let other = token_in_session("session-2", &test_signing_key());
        until_status(&app, &ended, 200, Duration::from_secs(10)).await;
        assert_eq!(status(&app, &other).await, 200);
        // Verified and remembered: the next request takes the memory's path, and the session
        // check must still happen there.
        assert_eq!(status(&app, &ended).await, 200);

        shared.lock().unwrap().ended.push(("session-1".into(), now() + 300));
        let took = until_status(&app, &ended, 401, Duration::from_secs(5)).await;
        assert!(took < Duration::from_secs(3), "refused after {took:?}");
        let resp = app.list(&ended, "").await;
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(status_json(resp).await.1, detail("Could not validate credentials"));
        assert_eq!(status(&app, &other).await, 200, "other sessions are not touched");
        assert_eq!(status(&app, &alice()).await, 200, "tokens without a session pass");
        let r = revocations(&app).await;
        assert_eq!(r["enabled"], true);
        assert_eq!(r["loaded"], true);
        assert_eq!(r["ended_sessions"], 1);
        assert_eq!(r["stale"], false);
    }

    async fn ended_sessions_stay_ended_after_a_restart_of_posts(backend) {
        let (_, auth) = serve_auth(Served {
            ended: vec![("session-1".into(), now() + 300)],
            ..test_key_only()
        });
        let live = token_in_session("session-2", &test_signing_key());
        let ended = token_in_session("session-1", &test_signing_key());
        let first = spawn_with_auth(backend, &auth).await;
        until_status(&first, &live, 200, Duration::from_secs(10)).await;
        assert_eq!(status(&first, &ended).await, 401);
        // A fresh process loads the list before it listens: its first answers know it.
        let second = spawn_with_auth(backend, &auth).await;
        assert_eq!(status(&second, &ended).await, 401);
        assert_eq!(status(&second, &live).await, 200);
    }

    async fn while_the_feed_is_unreachable_the_service_verifies_with_what_it_knows(backend) {
        let (shared, auth) = serve_auth(Served {
            ended: vec![("session-1".into(), now() + 300)],
            ..test_key_only()
        });
        let app = spawn_with_auth(backend, &auth).await;
        let live = token_in_session("session-2", &test_signing_key());
        let ended = token_in_session("session-1", &test_signing_key());
        until_status(&app, &live, 200, Duration::from_secs(10)).await;

        shared.lock().unwrap().down = true;
        // The list goes stale (its age grows past 5 s) ...
        let start = Instant::now();
        loop {
            let r = revocations(&app).await;
            if r["stale"] == true {
                assert!(r["age_seconds"].as_f64().unwrap() >= 5.0, "{r}");
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "never stale: {r}");
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
        // ... and is still used: known ends stay refused, other sessions are served.
        assert_eq!(status(&app, &ended).await, 401);
        assert_eq!(status(&app, &live).await, 200);
        assert_eq!(status(&app, &alice()).await, 200);

        // Back up: a session ended meanwhile is picked up.
        {
            let mut s = shared.lock().unwrap();
            s.down = false;
            s.ended.push(("session-2".into(), now() + 300));
        }
        until_status(&app, &live, 401, Duration::from_secs(5)).await;
        assert_eq!(revocations(&app).await["stale"], false);
    }

    async fn before_the_list_is_loaded_tokens_with_a_session_get_503_others_are_served(backend) {
        // A feed that never answers, and a service told not to wait for it.
        let (_, auth) = serve_auth(test_key_only());
        let app = spawn_app_with(backend, |c| {
            c.tokens.sessions_feed_url = Some(format!("{auth}/nothing-here"));
            c.tokens.keys_wait_seconds = 0;
        })
        .await;
        assert_eq!(status(&app, &alice()).await, 200);
        // Not a 401: the token may well be good, the service cannot tell yet.
        assert_not_ready_yet(app.list(&token_in_session("s", &test_signing_key()), "").await).await;
        // A bad token is still told so, session or not: the list is asked only about tokens
        // that passed every other check.
        let mut expired = claims_for_testing(ALICE, "alice@example.com", -10);
        expired.sid = Some("s".into());
        assert_eq!(status(&app, &encode_for_testing(&expired, &test_signing_key())).await, 401);
        let forged = token_in_session("s", &SigningKey::generate().unwrap());
        assert_eq!(status(&app, &forged).await, 401);
        let (status, body) = status_json(app.get("/readyz", None).await).await;
        assert_eq!(status, 503);
        assert_eq!(body["failing"], json!(["ended_sessions"]));
        let r = revocations(&app).await;
        assert_eq!(r["loaded"], false);
        assert_eq!(r["stale"], true);
    }

    async fn without_a_feed_there_is_no_revocation_list(backend) {
        // JWT_PUBLIC_KEY_FILE alone: fully offline.
        let app = spawn_app(backend).await;
        assert_eq!(revocations(&app).await, json!({ "enabled": false }));
        assert_eq!(status(&app, &token_in_session("s", &test_signing_key())).await, 200);
    }

    async fn the_key_set_is_fetched_again_when_its_max_age_runs_out_and_dropped_keys_go(backend) {
        let next = SigningKey::generate().unwrap();
        let (shared, auth) = serve_auth(Served {
            keys: vec![test_signing_key().public_jwk(), next.public_jwk()],
            max_age: Some(1),
            ..Served::default()
        });
        let app = spawn_with_auth(backend, &auth).await;
        let old_token = encode_for_testing(&claims_for_testing(ALICE, "alice@example.com", 300), &test_signing_key());
        let next_token = encode_for_testing(&claims_for_testing(ALICE, "alice@example.com", 300), &next);
        until_status(&app, &old_token, 200, Duration::from_secs(10)).await;
        assert_eq!(status(&app, &next_token).await, 200);

        // The auth service stops publishing the old key: it is dropped at the next refresh,
        // remembered tokens included, while the other key's tokens keep working.
        shared.lock().unwrap().keys = vec![next.public_jwk()];
        until_status(&app, &old_token, 401, Duration::from_secs(5)).await;
        assert_eq!(status(&app, &next_token).await, 200);
    }
}
