//! Graceful shutdown of the real binary: on SIGTERM it stops accepting, lets in-flight
//! requests finish, and exits 0.

use std::process::Command;
use std::time::Duration;

use test_support::{ServiceProcess, PASSWORD};

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-service"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        // One slow hashing thread keeps the first signup hashing and the second queued behind
        // it, so both are in flight when SIGTERM arrives (seen through /metrics: one job
        // running and one queued, not guessed with a sleep); the grace period is wide for a
        // loaded machine.
        .env("BCRYPT_COST", "13")
        .env("BCRYPT_THREADS", "1")
        .env("SHUTDOWN_GRACE_SECONDS", "120");
    let mut service = ServiceProcess::start(cmd);
    let api = service.api();

    let signup = |email: &'static str| {
        let api = api.clone();
        actix_web::rt::spawn(async move {
            let body = serde_json::json!({"email": email, "password": PASSWORD});
            api.client()
                .post(api.url("/users/"))
                .json(&body)
                .send()
                .await
        })
    };
    let hashing = signup("slow@example.com");
    let queued = signup("queued@example.com");
    let mut waited = 0;
    loop {
        let text = test_support::scrape_metrics(&api).await;
        // Both gauges: the queue alone reads 1 for the moment between the first signup's
        // job being queued and the thread taking it, before the second request has arrived.
        if test_support::metric_value(&text, "bcrypt_jobs_running") == Some(1.0)
            && test_support::metric_value(&text, "bcrypt_queue_depth") == Some(1.0)
        {
            break;
        }
        waited += 1;
        assert!(waited < 600, "the second signup never queued: {text}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    service.terminate();

    for in_flight in [hashing, queued] {
        let resp = in_flight
            .await
            .unwrap()
            .expect("the in-flight request is answered");
        assert_eq!(resp.status(), 201);
    }
    let status = service.wait_exit(Duration::from_secs(120)).await;
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exit status after SIGTERM"
    );
    let log = service.final_log();
    assert!(log.contains("SIGTERM received: graceful shutdown"), "{log}");
    // One access line per request, in uvicorn's shape.
    assert!(
        log.lines().any(|l| l.starts_with("INFO: 127.0.0.1:")
            && l.ends_with(" - \"POST /users/ HTTP/1.1\" 201 Created")),
        "{log}"
    );
    assert!(
        reqwest::get(api.url("/healthz")).await.is_err(),
        "no longer accepting"
    );
}
