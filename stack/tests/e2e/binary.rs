//! `cargo run -p stack` itself: prints where both services are, and Ctrl-C stops both cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::ApiClient;

use crate::helpers::answers;

#[actix_web::test]
async fn the_stack_binary_prints_both_urls_and_ctrl_c_stops_both_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stack"))
        .env_clear()
        .current_dir(dir.path())
        .env("AUTH_BIND_ADDR", "127.0.0.1:0")
        .env("POSTS_BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut urls = Vec::new();
    while urls.len() < 2 {
        let line = lines.next().expect("the stack prints its URLs").unwrap();
        if line.contains("service") {
            assert!(line.contains("/docs/"), "docs link printed: {line}");
            urls.push(line.split_whitespace().nth(2).unwrap().to_owned());
        }
    }
    let services: Vec<ApiClient> = urls.iter().map(ApiClient::new).collect();
    for api in &services {
        assert_eq!(api.get("/healthz", None).await.status(), 200);
    }
    // The SQLite files and the dev key were created under ./data.
    for file in ["auth.db", "posts.db", "auth-signing-key.pem"] {
        assert!(dir.path().join("data").join(file).is_file(), "data/{file}");
    }

    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the stack did not stop within 10 s of Ctrl-C")
    });
    assert_eq!(status.code(), Some(0));
    for api in &services {
        assert!(!answers(api).await, "{} still answers", api.base_url());
    }
}
