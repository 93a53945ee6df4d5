//! `stack --ephemeral` as a test suite in another language runs it: a child process whose
//! only stdout is one JSON line, stopped by closing its stdin or by SIGTERM, leaving nothing
//! behind in the temporary folder; two side by side; fixtures loaded or refused by entry.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use test_support::{expect_status, ApiClient, PASSWORD};

use crate::helpers::{answers, assert_succeeded, detail};

/// A `stack --ephemeral` child with its own `TMPDIR`, so what it leaves there can be checked.
struct Ephemeral {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    urls: Value,
    tmp: tempfile::TempDir,
}

/// `stack --ephemeral` in `tmp` as a harness runs it: stdin and stdout piped.
fn command(tmp: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stack"));
    // Nothing from the developer's environment or a .env file: only what the test sets.
    cmd.env_clear()
        .current_dir(tmp)
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn")
        .arg("--ephemeral")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Ephemeral {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Ephemeral {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = command(tmp.path(), args, env)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let urls: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the first stdout line is not JSON ({e}): {line:?}"));
        Ephemeral {
            child,
            stdin,
            stdout,
            urls,
            tmp,
        }
    }

    fn url(&self, key: &str) -> String {
        self.urls[key].as_str().unwrap().to_owned()
    }

    /// The shared test client of the URL at `key` (`auth_url` or `posts_url`).
    fn api(&self, key: &str) -> ApiClient {
        ApiClient::new(self.url(key))
    }

    /// The stack's data folders under its TMPDIR.
    fn data_folders(&self) -> Vec<PathBuf> {
        data_folders(self.tmp.path())
    }

    /// Waits (at most 15 s) for the process to exit; then everything else it wrote on stdout.
    async fn wait_for_exit(&mut self) -> (ExitStatus, String) {
        for _ in 0..150 {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                self.stdout.read_to_string(&mut rest).unwrap();
                return (status, rest);
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the ephemeral stack did not stop within 15 s");
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn data_folders(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("stack-ephemeral-")
        })
        .collect()
}

/// Signs `email` up at `auth` and logs in (asserting 201 and 200); the access token.
async fn sign_up_and_log_in(auth: &ApiClient, email: &str) -> String {
    auth.create_user(email, PASSWORD).await;
    auth.token(email, PASSWORD).await
}

/// `GET /posts/` at `posts` with `token`, asserting 200; the list.
async fn list_posts(posts: &ApiClient, token: &str) -> Vec<Value> {
    let resp = posts.get("/posts/", Some(token)).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[actix_web::test]
async fn the_json_line_arrives_both_urls_answer_and_closing_stdin_stops_it_and_removes_its_folder()
{
    let mut stack = Ephemeral::start(&[], &[]);
    let mut keys: Vec<&String> = stack.urls.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["auth_url", "jwks_url", "posts_url"]);
    let (auth, posts) = (stack.api("auth_url"), stack.api("posts_url"));
    for base in [auth.base_url(), posts.base_url()] {
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    }
    let jwks_path = "/.well-known/jwks.json";
    assert_eq!(stack.url("jwks_url"), auth.url(jwks_path));

    // Ready means ready: both answer at once, and posts already holds the signing key.
    for api in [&auth, &posts] {
        let status = api.get("/readyz", None).await.status();
        assert_eq!(status, 200, "{}/readyz", api.base_url());
    }
    let jwks: Value = auth.get(jwks_path, None).await.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let token = sign_up_and_log_in(&auth, "alice@example.com").await;
    posts
        .new_post(&token, "hello", "from a harness", true)
        .await;

    // Its data lives in one folder under TMPDIR: both databases and a fresh key.
    let folders = stack.data_folders();
    assert_eq!(folders.len(), 1, "{folders:?}");
    for file in ["auth.db", "posts.db", "auth-signing-key.pem"] {
        assert!(folders[0].join(file).is_file(), "{file} in {folders:?}");
    }

    drop(stack.stdin.take());
    let (status, rest) = stack.wait_for_exit().await;
    assert!(status.success(), "{status}");
    assert_eq!(rest, "", "nothing but the JSON line on stdout");
    assert!(
        !folders[0].exists(),
        "{} is left behind",
        folders[0].display()
    );
    assert!(stack.data_folders().is_empty());
    assert!(!answers(&auth).await);
}

#[actix_web::test]
async fn sigterm_stops_it_and_removes_its_folder() {
    let mut stack = Ephemeral::start(&[], &[]);
    let folders = stack.data_folders();
    assert_eq!(folders.len(), 1);
    let sent = Command::new("kill")
        .args(["-TERM", &stack.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // stdin stays open: the signal alone stops it.
    let (status, rest) = stack.wait_for_exit().await;
    assert!(status.success(), "{status}");
    assert_eq!(rest, "");
    assert!(stack.stdin.is_some());
    assert!(
        !folders[0].exists(),
        "{} is left behind",
        folders[0].display()
    );
}

#[actix_web::test]
async fn with_stdin_already_closed_it_stops_during_start_up_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = command(tmp.path(), &[], &[])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_succeeded(&out, "stack --ephemeral");
    assert!(
        out.stdout.is_empty() || out.stdout.ends_with(b"}\n"),
        "at most the JSON line: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(data_folders(tmp.path()).is_empty());
}

#[actix_web::test]
async fn two_ephemeral_stacks_run_side_by_side_without_sharing_anything() {
    let one = Ephemeral::start(&[], &[]);
    let two = Ephemeral::start(&[], &[]);
    for key in ["auth_url", "posts_url"] {
        assert_ne!(one.url(key), two.url(key), "{key}");
    }
    assert_ne!(one.data_folders(), two.data_folders());
    // The same email signs up on both: separate databases.
    let token_one = sign_up_and_log_in(&one.api("auth_url"), "alice@example.com").await;
    let token_two = sign_up_and_log_in(&two.api("auth_url"), "alice@example.com").await;
    // Fresh keys: each posts service refuses the other stack's tokens.
    let (posts_one, posts_two) = (one.api("posts_url"), two.api("posts_url"));
    assert!(list_posts(&posts_one, &token_one).await.is_empty());
    let resp = posts_two.get("/posts/", Some(&token_one)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(detail(resp).await, "Could not validate credentials");
    assert!(list_posts(&posts_two, &token_two).await.is_empty());
}

#[actix_web::test]
async fn seed_loads_the_example_fixture_through_the_api() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fixtures.json");
    let stack = Ephemeral::start(&["--seed", fixture.to_str().unwrap()], &[]);
    let (auth, posts) = (stack.api("auth_url"), stack.api("posts_url"));

    // The fixture's users log in with their passwords (hashed as at sign-up).
    let alice = auth.token("alice@example.com", "password123").await;
    let bob = auth.token("bob@example.com", "password456").await;

    // Newest first: posts[2], then posts[0]; bob's draft only for bob.
    let seen_by_alice = list_posts(&posts, &alice).await;
    let titles = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|p| p["Post"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(&seen_by_alice), ["second post", "hello world"]);
    assert_eq!(seen_by_alice[0]["votes"], 1);
    assert_eq!(seen_by_alice[1]["votes"], 2);
    assert_eq!(
        seen_by_alice[1]["Post"]["owner"]["email"],
        "alice@example.com"
    );
    let seen_by_bob = list_posts(&posts, &bob).await;
    assert_eq!(
        titles(&seen_by_bob),
        ["second post", "bob's draft", "hello world"]
    );
    assert_eq!(seen_by_bob[1]["Post"]["published"], false);

    // The votes are real: voting again is the course's 409.
    let first_id = seen_by_alice[1]["Post"]["id"].as_i64().unwrap();
    assert_eq!(posts.vote(&bob, first_id, 1).await.status(), 409);
}

/// Runs `stack --ephemeral --seed` on a fixture expected to be refused, and asserts that its
/// stderr says `message`.
fn assert_refused(fixture: Value, message: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("fixture.json");
    std::fs::write(&file, fixture.to_string()).unwrap();
    let mut child = command(tmp.path(), &["--seed", file.to_str().unwrap()], &[])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stdin stays open until it exits: the refusal alone stops it.
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no JSON line for a refused fixture");
    assert!(
        data_folders(tmp.path()).is_empty(),
        "the data folder of a refused start is removed"
    );
    assert!(stderr.contains(message), "{stderr}");
}

#[actix_web::test]
async fn a_bad_fixture_stops_start_up_naming_the_entry() {
    let alice = json!({"email": "alice@example.com", "password": "password123"});
    let post = |title: &str| json!({"owner": "alice@example.com", "title": title, "content": "c"});

    // The services' own validation: a title of 301 characters.
    let long = "x".repeat(301);
    assert_refused(
        json!({"users": [alice], "posts": [post("a"), post("b"), post(&long)]}),
        "seed: posts[2]: title: ensure this value has at most 300 characters",
    );
    // A malformed email and a short password, as sign-up refuses them.
    assert_refused(
        json!({"users": [alice, {"email": "not-an-email", "password": "password123"}]}),
        "seed: users[1]: email: value is not a valid email address",
    );
    assert_refused(
        json!({"users": [{"email": "bob@example.com", "password": "short"}]}),
        "seed: users[0]: password: ensure this value has at least 8 characters",
    );
    // The same email twice (any case): the sign-up conflict.
    assert_refused(
        json!({"users": [alice, {"email": "ALICE@example.com", "password": "password123"}]}),
        "seed: users[1]: User with email: ALICE@example.com already exists",
    );
    // References the file cannot resolve, and a double vote.
    assert_refused(
        json!({"users": [alice], "posts": [{"owner": "carol@example.com", "title": "t", "content": "c"}]}),
        "seed: posts[0]: owner: no user \"carol@example.com\" in users",
    );
    assert_refused(
        json!({"users": [alice], "posts": [post("a")], "votes": [{"user": "alice@example.com", "post": 1}]}),
        "seed: votes[0]: post: no posts[1] in posts",
    );
    let vote = json!({"user": "alice@example.com", "post": 0});
    assert_refused(
        json!({"users": [alice], "posts": [post("a")], "votes": [vote, vote]}),
        "seed: votes[1]: user 1 has alredy voted on post 1",
    );
    // A misspelt field is refused rather than ignored.
    assert_refused(
        json!({"posts": [{"owner": "a@b.co", "title": "t", "content": "c", "publised": false}]}),
        "seed: posts[0]: unknown field \"publised\"",
    );
}

#[actix_web::test]
async fn access_token_expire_seconds_reaches_the_auth_service_and_bad_values_are_named() {
    let stack = Ephemeral::start(&[], &[("ACCESS_TOKEN_EXPIRE_SECONDS", "2")]);
    let auth = stack.api("auth_url");
    sign_up_and_log_in(&auth, "alice@example.com").await;
    let resp = auth.login("alice@example.com", PASSWORD).await;
    let body = expect_status(resp, 200, "POST /login").await;
    assert_eq!(body["expires_in"], 2);

    let tmp = tempfile::tempdir().unwrap();
    for value in ["0", "31536001", "soon"] {
        let out = command(tmp.path(), &[], &[("ACCESS_TOKEN_EXPIRE_SECONDS", value)])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{value} accepted");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("ACCESS_TOKEN_EXPIRE_SECONDS"),
            "{value}: {stderr}"
        );
    }
}
