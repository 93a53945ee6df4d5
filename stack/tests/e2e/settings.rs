//! The `stack` binary's settings end to end: IPv6 bind addresses, and database URLs the
//! services would refuse, refused naming the stack's own option.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use test_support::ApiClient;

/// The stack binary in `dir`, with only the variables a test sets.
fn stack(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stack"));
    cmd.env_clear()
        .current_dir(dir)
        .env("BCRYPT_COST", "4")
        .stdin(Stdio::null());
    cmd
}

/// The child's exit status once it exits, or `None` (and the child killed) after ten seconds.
fn exit_within_10s(child: &mut Child) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Stops the child with SIGTERM.
fn stop(mut child: Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    exit_within_10s(&mut child).expect("the stack stops within 10 s of SIGTERM")
}

#[actix_web::test]
async fn the_stack_serves_on_ipv6_loopback_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = stack(dir.path())
        .env("AUTH_BIND_ADDR", "[::1]:0")
        .env("POSTS_BIND_ADDR", "[::1]:0")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut urls = Vec::new();
    while urls.len() < 2 {
        let Some(line) = lines.next() else {
            let stderr = std::fs::read_to_string(&log).unwrap();
            panic!("the stack stopped before printing its URLs: {stderr}");
        };
        let line = line.unwrap();
        if line.contains("service") {
            urls.push(line.split_whitespace().nth(2).unwrap().to_owned());
        }
    }
    let (auth, posts) = (&urls[0], &urls[1]);
    assert!(auth.starts_with("http://[::1]:"), "{auth}");
    assert!(posts.starts_with("http://[::1]:"), "{posts}");

    // Posts has auth's keys before it listens: the printed URLs serve at once.
    let posts_api = ApiClient::new(posts.as_str());
    assert_eq!(posts_api.get("/readyz", None).await.status(), 200);

    // A user signs up and logs in on auth, then writes a post on posts, which verifies the
    // token with auth's JWKS: every request over IPv6.
    let urls = stack::StackUrls {
        jwks_url: format!("{auth}/.well-known/jwks.json"),
        auth_url: auth.clone(),
        posts_url: posts.clone(),
    };
    let fixture = stack::seed::Fixture::from_value(json!({
        "users": [{ "email": "ipv6@example.com", "password": "password123" }],
        "posts": [{ "owner": "ipv6@example.com", "title": "over IPv6", "content": "reached" }],
    }))
    .unwrap();
    let client = reqwest::Client::new();
    let seeded = fixture
        .apply(&client, &urls)
        .await
        .expect("loaded over IPv6");
    let path = format!("/posts/{}", seeded.post_ids[0]);
    let resp = posts_api.get(&path, Some(&seeded.users[0].token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["Post"]["title"],
        "over IPv6"
    );

    assert_eq!(stop(child).code(), Some(0));
}

#[test]
fn database_urls_the_services_would_refuse_stop_the_stack_naming_its_option() {
    for (option, url, problem) in [
        (
            "AUTH_DATABASE_URL",
            "mysql://app:s3cret@db/auth",
            "unsupported scheme `mysql`",
        ),
        ("AUTH_DATABASE_URL", "", "is empty"),
        ("POSTS_DATABASE_URL", "sqlite://:memory:", "in-memory"),
        (
            "POSTS_DATABASE_URL",
            "POSTGRES://app:s3cret@db/posts",
            "lower case",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = stack(dir.path())
            .env("AUTH_BIND_ADDR", "127.0.0.1:0")
            .env("POSTS_BIND_ADDR", "127.0.0.1:0")
            .env(option, url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = exit_within_10s(&mut child)
            .unwrap_or_else(|| panic!("{option}={url:?}: the stack started"));
        let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
        assert!(!status.success(), "{option}={url:?}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{option}={url:?}: one line expected: {stderr}"
        );
        assert!(lines[0].starts_with("stack: "), "{stderr}");
        assert!(lines[0].contains(option), "{option}={url:?}: {stderr}");
        assert!(lines[0].contains(problem), "{option}={url:?}: {stderr}");
        assert!(
            !stderr.contains("s3cret"),
            "{option}={url:?}: password shown: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{option}={url:?}: created {left:?}");
    }
}
