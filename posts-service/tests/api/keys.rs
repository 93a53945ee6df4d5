//! Keys from the auth service's JWKS: loaded from start, the listener waiting for them a
//! bounded time (`KEYS_WAIT_SECONDS`), and refetched when a token names an unknown `kid`.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde_json::json;
use service_kit::Backend;
use shared_claims::testing::{claims_for_testing, encode_for_testing, test_signing_key};
use shared_claims::{Jwk, SigningKey};

use test_support::ServiceProcess;

use crate::helpers::*;

type Served = Arc<Mutex<Vec<Jwk>>>;

/// A tiny JWKS server answering with whatever keys `served` holds.
fn serve_jwks(listener: TcpListener, served: Served) -> String {
    serve_jwks_after(listener, served, Duration::ZERO)
}

/// [`serve_jwks`], each answer taking `delay`.
fn serve_jwks_after(listener: TcpListener, served: Served, delay: Duration) -> String {
    let base = serve_stand_in(listener, move |routes| {
        let served = served.clone();
        routes.route(
            "/.well-known/jwks.json",
            web::get().to(move || {
                let keys = served.lock().unwrap().clone();
                async move {
                    actix_web::rt::time::sleep(delay).await;
                    HttpResponse::Ok().json(json!({ "keys": keys }))
                }
            }),
        );
    });
    format!("{base}/.well-known/jwks.json")
}

/// Posts with keys from `url` (no feed of ended sessions: these tests are about keys),
/// waiting at most `wait_seconds` for them before listening.
async fn spawn_with_jwks_waiting(url: String, wait_seconds: u64) -> TestApp {
    spawn_app_with(Backend::Sqlite, |c| {
        c.tokens.public_key_file = None;
        c.tokens.jwks_url = url;
        c.tokens.sessions_feed_url = Some("off".into());
        c.tokens.jwks_refresh_min_seconds = 1;
        c.tokens.keys_wait_seconds = wait_seconds;
    })
    .await
}

async fn spawn_with_jwks(url: String) -> TestApp {
    spawn_with_jwks_waiting(url, 10).await
}

/// A free local port where nothing listens (yet), and the JWKS URL on it.
fn jwks_nobody_serves_yet() -> (std::net::SocketAddr, String) {
    let addr = free_port().local_addr().unwrap();
    (addr, format!("http://{addr}/.well-known/jwks.json"))
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
async fn without_the_auth_service_it_listens_after_its_wait_and_answers_503_until_keys_load() {
    let (addr, url) = jwks_nobody_serves_yet();
    let app = spawn_with_jwks_waiting(url, 1).await;

    let (status, body) = status_json(app.get("/readyz", None).await).await;
    assert_eq!(status, 503);
    assert_eq!(body["failing"], json!(["keys"]));
    // The token may well be good: not a 401, which would make the client drop it.
    assert_not_ready_yet(app.list(&alice(), "").await).await;
    // What is not a token at all is refused as ever.
    assert_eq!(list_status(&app, "not-a-jwt").await, 401);
    let (status, _) = status_json(app.get("/healthz", None).await).await;
    assert_eq!(status, 200);

    let served: Served = Arc::new(Mutex::new(vec![test_signing_key().public_jwk()]));
    serve_jwks(TcpListener::bind(addr).unwrap(), served);
    wait_until_ready(&app, Duration::from_secs(10)).await;
    assert_eq!(list_status(&app, &alice()).await, 200);
}

#[actix_web::test]
async fn the_listener_opens_once_the_keys_have_loaded() {
    // A JWKS that takes half a second to answer: a service listening at once would have no
    // keys for its first requests.
    let served: Served = Arc::new(Mutex::new(vec![test_signing_key().public_jwk()]));
    let url = serve_jwks_after(free_port(), served, Duration::from_millis(500));
    let app = spawn_with_jwks(url).await;
    // No polling: from its first answer, the service has its keys.
    let (status, body) = status_json(app.get("/readyz", None).await).await;
    assert_eq!((status, body), (200, json!({ "status": "ready" })));
    assert_eq!(list_status(&app, &alice()).await, 200);
}

#[actix_web::test]
async fn a_taken_port_stops_start_up_at_once_not_after_the_wait_for_keys() {
    let taken = free_port();
    let (_, url) = jwks_nobody_serves_yet();
    let db = service_kit::testing::TestDatabase::create(Backend::Sqlite, "posts-taken");
    let key_dir = TempDir::new("posts-taken");
    let mut config = test_config(&db, &key_dir);
    config.common.bind_addr = taken.local_addr().unwrap();
    config.tokens.public_key_file = None;
    config.tokens.jwks_url = url;
    config.tokens.keys_wait_seconds = 600;
    // (Bounded only so that a regression fails instead of hanging for the 600 s wait.)
    let built = actix_web::rt::time::timeout(
        Duration::from_secs(60),
        posts_service::Application::build(config),
    )
    .await
    .expect("a taken port ends start-up at once, not after the wait for keys");
    let err = built.err().expect("the port is taken");
    assert!(
        matches!(err, posts_service::StartError::Bind { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("cannot listen on"), "{err}");
}

#[actix_web::test]
async fn sigterm_while_waiting_for_the_keys_exits_0_without_listening() {
    // The binary as a container runs it (PID 1 there ignores a signal it has no handler
    // for): SIGTERM during the wait for an auth service that does not answer.
    let (_, url) = jwks_nobody_serves_yet();
    let dir = TempDir::new("posts-wait");
    let mut cmd = posts_binary(&dir);
    cmd.env("JWT_JWKS_URL", url).env("KEYS_WAIT_SECONDS", "600");
    let service = ServiceProcess::start_until(cmd, "before listening");
    service.terminate();
    exits_0_without_listening(service, "without waiting out KEYS_WAIT_SECONDS").await;
}

/// The posts binary, run in `dir` with nothing from the environment but an info log and a
/// free port.
fn posts_binary(dir: &TempDir) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_posts-service"));
    cmd.env_clear()
        .current_dir(&dir.0)
        .env("RUST_LOG", "info")
        .env("BIND_ADDR", "127.0.0.1:0");
    cmd
}

/// Waits for `service`, stopped by a SIGTERM before it listened, to exit 0 (`when` says what
/// the exit must not wait for), having logged why and never listened.
async fn exits_0_without_listening(mut service: ServiceProcess, when: &str) {
    let status = service
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no exit within 30 s of SIGTERM, {when}"));
    let log = service.final_log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("SIGTERM received before listening"), "{log}");
    assert!(!log.contains("listening on port"), "{log}");
}

#[actix_web::test]
async fn sigterm_during_migrations_exits_0_once_they_are_done_without_listening() {
    use diesel::{Connection, RunQueryDsl};
    // Migrations wait for PostgreSQL's advisory lock (replicas migrate one at a time): hold it
    // here, so the service is stopped while it migrates.
    let Some(db) = service_kit::testing::TestDatabase::postgres("posts-sigterm-migrating") else {
        return;
    };
    let lock_key = posts_service::PostsService::MIGRATIONS_LOCK_KEY;
    let lock = |sql: &str, conn: &mut diesel::PgConnection| {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::BigInt, _>(lock_key)
            .execute(conn)
            .unwrap()
    };
    let mut holder = diesel::PgConnection::establish(&db.url).unwrap();
    lock("SELECT pg_advisory_lock($1)", &mut holder);

    let dir = TempDir::new("posts-migrating");
    let key_file = write_public_key(&dir);
    let mut cmd = posts_binary(&dir);
    cmd.env("DATABASE_URL", &db.url)
        .env("JWT_PUBLIC_KEY_FILE", &key_file);
    let service = ServiceProcess::spawn(cmd);
    let mut observer = diesel::PgConnection::establish(&db.url).unwrap();
    let mut waiting = || {
        use diesel::dsl::sql;
        use diesel::sql_types::BigInt;
        diesel::select(sql::<BigInt>(
            "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
        ))
        .get_result::<i64>(&mut observer)
        .unwrap()
    };
    let start = Instant::now();
    while waiting() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the service never waited for the migration lock:\n{}",
            service.log()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    service.terminate();
    // The signal is held while it migrates, not lost: once the lock is free it migrates,
    // then stops without listening.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    lock("SELECT pg_advisory_unlock($1)", &mut holder);
    exits_0_without_listening(service, "once its migrations are done").await;
}
