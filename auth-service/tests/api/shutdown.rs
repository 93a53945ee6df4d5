//! Graceful shutdown of the real binary: on SIGTERM it stops accepting, lets in-flight
//! requests finish, and exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-service"))
        .env_clear()
        .current_dir(dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        // One slow hashing thread keeps the first signup hashing and the second queued behind
        // it, so both are in flight when SIGTERM arrives (seen through /metrics, not guessed
        // with a sleep); the grace period is wide for a loaded machine.
        .env("BCRYPT_COST", "13")
        .env("BCRYPT_THREADS", "1")
        .env("SHUTDOWN_GRACE_SECONDS", "120")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("the service logs its port").unwrap();
        if let Some(rest) = line.split("listening on port ").nth(1) {
            break rest.trim().parse().unwrap();
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let signup = |email: &'static str| {
        let url = format!("http://127.0.0.1:{port}/users/");
        actix_web::rt::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({"email": email, "password": "password123"}))
                .send()
                .await
        })
    };
    let hashing = signup("slow@example.com");
    let queued = signup("queued@example.com");
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let mut waited = 0;
    loop {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        if text.lines().any(|l| l == "bcrypt_queue_depth 1") {
            break;
        }
        waited += 1;
        assert!(waited < 600, "the second signup never queued: {text}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    for in_flight in [hashing, queued] {
        let resp = in_flight
            .await
            .unwrap()
            .expect("the in-flight request is answered");
        assert_eq!(resp.status(), 201);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    let log = log.join().unwrap().join("\n");
    assert!(log.contains("SIGTERM received: graceful shutdown"), "{log}");
    // One access line per request, in uvicorn's shape.
    assert!(
        log.lines().any(|l| l.starts_with("INFO: 127.0.0.1:")
            && l.ends_with(" - \"POST /users/ HTTP/1.1\" 201 Created")),
        "{log}"
    );
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err(),
        "no longer accepting"
    );
}
