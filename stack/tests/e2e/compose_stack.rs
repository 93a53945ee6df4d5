//! The compose stack brought up for real: `docker-compose.yml` as users run it, with only the
//! images' origin changed by `deploy/ci/docker-compose.ci.yml` (CI has no registry:
//! `deploy/ci/build-images` builds them locally), driven through the gateway on
//! 127.0.0.1:8000. Each test brings up its own project on fresh volumes and takes it down
//! (`down -v`) at the end; they hold a lock because they share the gateway's port.
//!
//! They need a Docker engine and take minutes, so they are `#[ignore]`d in the ordinary
//! suite and run by `.ci/run` (`cargo test -p stack --test e2e -- --ignored compose_stack`).
//! Without an engine they skip, except with `CI` set, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use test_support::{detail, expect_status, ApiClient, PASSWORD};

const PROJECT: &str = "posts-api-ci";
const GATEWAY: &str = "http://127.0.0.1:8000";

static ONE_STACK_AT_A_TIME: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `docker-compose` (v1, Debian's) or else `docker compose` (the v2 plugin).
fn compose_command() -> Command {
    let v1 = Command::new("docker-compose").arg("version").output();
    if v1.is_ok_and(|o| o.status.success()) {
        Command::new("docker-compose")
    } else {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

fn stdout_of(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Whether the engine answers; without one the tests skip, except in CI.
fn engine_available() -> bool {
    match Command::new("docker").arg("info").output() {
        Ok(o) if o.status.success() => true,
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "the compose tests need a Docker engine in CI: {why}"
            );
            eprintln!("skipping: no Docker engine ({why})");
            false
        }
    }
}

/// One compose project on fresh volumes; `down -v` when dropped.
struct Stack {
    env: Vec<(&'static str, String)>,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl Stack {
    /// `up` as the README runs it (images from build-images), with `scale` replicas of auth
    /// and posts, and extra environment for compose's `${...}` substitution.
    fn up(auth: usize, posts: usize, env: &[(&'static str, &str)]) -> Option<Stack> {
        let lock = ONE_STACK_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !engine_available() {
            return None;
        }
        for image in [
            "posts-api-ci/postgres:15",
            "posts-api-ci/nginx:1.22",
            "posts-api-ci/auth",
            "posts-api-ci/posts",
        ] {
            assert!(
                docker(&["image", "inspect", image]).status.success(),
                "image {image} is missing: run deploy/ci/build-images first"
            );
        }
        let created = Command::new(repo().join("deploy/secrets/create"))
            .output()
            .unwrap();
        stdout_of(&created, "deploy/secrets/create");
        let stack = Stack {
            env: env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            _lock: lock,
        };
        stack.down(); // leftovers of an interrupted run
        let started = Instant::now();
        stack.compose(&[
            "up",
            "-d",
            "--no-build",
            "--scale",
            &format!("auth={auth}"),
            "--scale",
            &format!("posts={posts}"),
        ]);
        wait_until("the gateway's /readyz answers 200", 120, || {
            block_on(async {
                reqwest::get(format!("{GATEWAY}/readyz"))
                    .await
                    .is_ok_and(|r| r.status() == 200)
            })
        });
        eprintln!("stack up in {:?}", started.elapsed());
        Some(stack)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = compose_command();
        cmd.current_dir(repo())
            .args(["-p", PROJECT, "-f", "docker-compose.yml"])
            .args(["-f", "deploy/ci/docker-compose.ci.yml"])
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a compose command, which must succeed; returns its stdout.
    fn compose(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        stdout_of(&out, &format!("compose {}", args.join(" ")))
    }

    fn down(&self) {
        let _ = self
            .command(&["down", "-v", "--remove-orphans", "--timeout", "30"])
            .output();
    }

    /// The ids of a service's containers.
    fn containers(&self, service: &str) -> Vec<String> {
        self.compose(&["ps", "-q", service])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    fn logs(container: &str) -> String {
        let out = docker(&["logs", container]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn inspect(container: &str, format: &str) -> String {
        stdout_of(
            &docker(&["inspect", "-f", format, container]),
            "docker inspect",
        )
        .trim()
        .to_owned()
    }

    fn wait_healthy(container: &str) {
        wait_until(&format!("{container} to be healthy"), 90, || {
            Self::inspect(container, "{{.State.Health.Status}}") == "healthy"
        });
    }

    /// Every container of the project that is running, with its restart count.
    fn restart_counts(&self) -> Vec<(String, String)> {
        ["postgres", "auth", "posts", "gateway"]
            .iter()
            .flat_map(|s| self.containers(s))
            .map(|c| {
                (
                    Self::inspect(&c, "{{.Name}}"),
                    Self::inspect(&c, "{{.RestartCount}}"),
                )
            })
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.down();
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    actix_web::rt::System::new().block_on(f)
}

/// Polls `f` every 250 ms for at most `seconds`.
fn wait_until(what: &str, seconds: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The shared client (`test_support::ApiClient`) pointed at the gateway.
fn gateway() -> ApiClient {
    ApiClient::with_client(GATEWAY, client())
}

/// Signs up and logs in through the gateway; returns (user id, login response).
async fn account(api: &ApiClient, email: &str) -> (i64, Value) {
    let id = api.create_user(email, PASSWORD).await;
    let login = expect_status(api.login(email, PASSWORD).await, 200, "login").await;
    (id, login)
}

async fn create_post(api: &ApiClient, token: &str, title: &str) -> reqwest::Response {
    api.create_post(token, &json!({"title": title, "content": "content"}))
        .await
}

/// The status of `GET path` with `token` (asserting an answer came back).
async fn get_status(api: &ApiClient, path: &str, token: &str) -> u16 {
    api.get(path, Some(token)).await.status().as_u16()
}

/// One request of the continuous traffic: what it was, when it ended, how long it took, its
/// status (0 when no HTTP answer came back).
#[derive(Clone)]
struct Outcome {
    what: &'static str,
    ended: Instant,
    took: Duration,
    status: u16,
}

/// Clients sending requests through the gateway, on their own thread, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Outcome>>,
}

impl Traffic {
    /// `clients` concurrent loops of: a page of posts, one post, one user (auth), the key set
    /// (auth), and, when `writes`, a new post.
    fn start(clients: usize, token: &str, user_id: i64, post_id: i64, writes: bool) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let token = token.to_owned();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let client = client();
                let loops = (0..clients).map(|n| {
                    let (client, token, flag) = (client.clone(), token.clone(), flag.clone());
                    async move {
                        let mut outcomes = Vec::new();
                        let mut i = 0u64;
                        while !flag.load(Ordering::Relaxed) {
                            i += 1;
                            let (what, req) = match i % 5 {
                                0 => ("GET /posts/", client.get(format!("{GATEWAY}/posts/?limit=5"))),
                                1 => ("GET /posts/{id}", client.get(format!("{GATEWAY}/posts/{post_id}"))),
                                2 => ("GET /users/{id}", client.get(format!("{GATEWAY}/users/{user_id}"))),
                                3 => ("GET jwks", client.get(format!("{GATEWAY}/.well-known/jwks.json"))),
                                _ if writes => (
                                    "POST /posts/",
                                    client.post(format!("{GATEWAY}/posts/")).json(
                                        &json!({"title": format!("traffic {n} {i}"), "content": "c"}),
                                    ),
                                ),
                                _ => ("GET /posts/", client.get(format!("{GATEWAY}/posts/?limit=5"))),
                            };
                            let sent = Instant::now();
                            let status = req
                                .bearer_auth(&token)
                                .send()
                                .await
                                .map_or(0, |r| r.status().as_u16());
                            outcomes.push(Outcome {
                                what,
                                ended: Instant::now(),
                                took: sent.elapsed(),
                                status,
                            });
                        }
                        outcomes
                    }
                });
                futures_util::future::join_all(loops)
                    .await
                    .into_iter()
                    .flatten()
                    .collect()
            })
        });
        Traffic { stop, thread }
    }

    fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn failures(outcomes: &[Outcome]) -> Vec<&Outcome> {
    outcomes
        .iter()
        .filter(|o| !(200..300).contains(&o.status))
        .collect()
}

/// The first failures, as `request -> status` (0: no answer).
fn describe(failed: &[&Outcome]) -> Vec<String> {
    failed
        .iter()
        .take(10)
        .map(|o| format!("{} -> {}", o.what, o.status))
        .collect()
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_a_fresh_volume_comes_up_healthy_on_the_first_try() {
    // Twice, each time on new volumes: the init server, the migrations of two auth replicas
    // racing, and the services' start order must all work out without any restart.
    for attempt in 1..=2 {
        let Some(stack) = Stack::up(2, 3, &[]) else {
            return;
        };
        for (name, restarts) in stack.restart_counts() {
            assert_eq!(
                restarts, "0",
                "attempt {attempt}: {name} restarted on a fresh volume"
            );
        }
        for service in ["postgres", "auth", "posts"] {
            for c in stack.containers(service) {
                assert_eq!(
                    Stack::inspect(&c, "{{.State.Health.Status}}"),
                    "healthy",
                    "attempt {attempt}: {service}"
                );
            }
        }
        // The secrets reached each service without being readable to others.
        let auth = &stack.containers("auth")[0];
        let listing = stdout_of(
            &docker(&["exec", auth, "ls", "-ln", "/run/auth-secrets"]),
            "ls secrets",
        );
        for line in listing.lines().skip(1) {
            assert!(
                line.starts_with("-rw------- 1 10001 10001"),
                "auth secret not private to uid 10001: {line}"
            );
        }
    }
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_serves_the_course_story_and_refuses_a_one_minute_token_once_expired() {
    let Some(_stack) = Stack::up(1, 1, &[("ACCESS_TOKEN_EXPIRE_MINUTES", "1")]) else {
        return;
    };
    block_on(async {
        let api = gateway();
        let root = expect_status(api.get("/", None).await, 200, "GET /").await;
        assert_eq!(root["message"], "Hello World pushing out to ubuntu");
        let (alice_id, login) = account(&api, "alice@example.com").await;
        assert_eq!(login["token_type"], "bearer");
        assert_eq!(
            login["expires_in"], 60,
            "ACCESS_TOKEN_EXPIRE_MINUTES reached auth"
        );
        let issued = Instant::now();
        let alice = login["access_token"].as_str().unwrap().to_owned();
        let (_, bob_login) = account(&api, "bob@example.com").await;
        let bob = bob_login["access_token"].as_str().unwrap();

        let again = api.signup("alice@example.com", PASSWORD).await;
        assert_eq!(again.status(), 409);
        let wrong = api.login("alice@example.com", "wrong-password").await;
        assert_eq!(wrong.status(), 403);

        let post = create_post(&api, &alice, "first post").await;
        let post = expect_status(post, 201, "POST /posts/").await;
        let id = post["id"].as_i64().unwrap();
        assert_eq!(post["owner"]["email"], "alice@example.com");
        assert_eq!(api.vote(bob, id, 1).await.status(), 201);
        let one = api.get(&format!("/posts/{id}"), Some(&alice)).await;
        assert_eq!(expect_status(one, 200, "GET /posts/{id}").await["votes"], 1);
        let page = expect_status(api.get("/posts/", Some(bob)).await, 200, "GET /posts/").await;
        assert_eq!(page[0]["Post"]["id"], id);
        let edit = |token: &str, title: &str| {
            let body = json!({"title": title, "content": "x"});
            let path = format!("/posts/{id}");
            let api = api.clone();
            let token = token.to_owned();
            async move { api.send_json(Method::PUT, &path, Some(&token), &body).await }
        };
        assert_eq!(edit(bob, "mine now").await.status(), 403);
        assert_eq!(edit(&alice, "edited").await.status(), 200);
        // Another user's email is masked (issue 22).
        let user = api.get(&format!("/users/{alice_id}"), Some(bob)).await;
        assert_eq!(
            expect_status(user, 200, "GET /users/{id}").await["email"],
            "a***@example.com"
        );
        let deleted = api
            .request(Method::DELETE, &format!("/posts/{id}"), Some(&alice))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(get_status(&api, &format!("/posts/{id}"), &alice).await, 404);
        let anonymous = api.get("/posts/", None).await;
        assert_eq!(anonymous.status(), 401);
        assert_eq!(detail(anonymous).await, "Not authenticated");

        // The same token, once its minute is over: refused.
        assert_eq!(
            get_status(&api, "/posts/", &alice).await,
            200,
            "the token works before it expires"
        );

        // Meanwhile, the gateway's Swagger page: Authorize with an account, run GET /posts/.
        if crate::processes::tool_available(crate::browser::CHROMIUM, "Chromium") {
            let shown = actix_web::rt::task::spawn_blocking(|| {
                crate::docs::authorize_and_list_posts(
                    &format!("{GATEWAY}/docs/"),
                    "bob@example.com",
                    PASSWORD,
                )
            })
            .await
            .unwrap();
            assert_eq!(
                shown["status"], "200",
                "Swagger UI at the gateway showed {shown}"
            );
        }
        let expiry = issued + Duration::from_secs(61);
        actix_web::rt::time::sleep(expiry.saturating_duration_since(Instant::now())).await;
        let expired = api.get("/posts/", Some(&alice)).await;
        assert_eq!(expired.status(), 401, "a 1-minute token after its minute");
        assert_eq!(detail(expired).await, "Could not validate credentials");
    });
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_spreads_over_replicas_survives_losing_one_and_picks_up_a_new_one() {
    let Some(stack) = Stack::up(2, 3, &[]) else {
        return;
    };
    assert_eq!(stack.containers("auth").len(), 2, "auth replicas");
    let posts = stack.containers("posts");
    assert_eq!(posts.len(), 3, "posts replicas");
    let api = gateway();
    let (user_id, login) = block_on(account(&api, "replicas@example.com"));
    let token = login["access_token"].as_str().unwrap().to_owned();
    let post_id = block_on(async {
        let r = create_post(&api, &token, "spread").await;
        expect_status(r, 201, "POST /posts/").await["id"]
            .as_i64()
            .unwrap()
    });

    // Every replica serves requests that came through the gateway.
    let probe = |path: &str, n: usize| {
        block_on(async {
            for _ in 0..n {
                assert_eq!(get_status(&api, path, &token).await, 200, "GET {path}");
            }
        })
    };
    probe("/posts/?limit=7", 60);
    probe(&format!("/users/{user_id}?probe=1"), 40);
    for p in &posts {
        assert!(
            Stack::logs(p).contains("\"GET /posts/?limit=7 "),
            "posts replica {p} got no request"
        );
    }
    for a in stack.containers("auth") {
        assert!(
            Stack::logs(&a).contains(&format!("\"GET /users/{user_id}?probe=1 ")),
            "auth replica {a} got no request"
        );
    }

    // One posts replica lost (SIGKILL) under continuous traffic: only requests in flight on
    // it may fail, and only around the moment it died.
    let clients = 4;
    let traffic = Traffic::start(clients, &token, user_id, post_id, true);
    std::thread::sleep(Duration::from_secs(3));
    let killed_at = Instant::now();
    stdout_of(&docker(&["kill", &posts[0]]), "docker kill");
    std::thread::sleep(Duration::from_secs(12));
    let outcomes = traffic.finish();
    let failed = failures(&outcomes);
    assert!(outcomes.len() > 100, "only {} requests", outcomes.len());
    assert!(
        failed.len() <= clients,
        "{} of {} requests failed, more than the {clients} that can have been in flight on the lost replica: {:?}",
        failed.len(),
        outcomes.len(),
        describe(&failed)
    );
    for f in &failed {
        assert!(
            f.ended >= killed_at && f.ended <= killed_at + Duration::from_secs(5),
            "{} failed ({}) away from the moment the replica died",
            f.what,
            f.status
        );
    }

    // A replica started later gets traffic once the gateway's DNS cache (5 s) renews.
    let before: std::collections::BTreeSet<String> =
        stack.containers("posts").into_iter().collect();
    stack.compose(&[
        "up",
        "-d",
        "--no-build",
        "--no-recreate",
        "--scale",
        "auth=2",
        "--scale",
        "posts=4",
    ]);
    let added: Vec<String> = stack
        .containers("posts")
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect();
    assert_eq!(added.len(), 1, "one new posts replica");
    Stack::wait_healthy(&added[0]);
    wait_until(
        "the new replica to get requests through the gateway",
        60,
        || {
            probe("/posts/?limit=9", 10);
            Stack::logs(&added[0]).contains("\"GET /posts/?limit=9 ")
        },
    );
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_answers_503_with_retry_after_while_postgres_restarts_then_recovers() {
    let Some(stack) = Stack::up(1, 1, &[]) else {
        return;
    };
    let api = gateway();
    let (_, login) = block_on(account(&api, "outage@example.com"));
    let token = login["access_token"].as_str().unwrap().to_owned();
    let started: Vec<(String, String)> = ["auth", "posts"]
        .iter()
        .flat_map(|s| stack.containers(s))
        .map(|c| (c.clone(), Stack::inspect(&c, "{{.State.StartedAt}}")))
        .collect();

    stack.compose(&["stop", "postgres"]);
    let mut retry_after = None;
    wait_until("a 503 while PostgreSQL is down", 60, || {
        block_on(async {
            let r = api.get("/posts/", Some(&token)).await;
            if r.status() == 503 {
                retry_after = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                true
            } else {
                false
            }
        })
    });
    let retry_after: u64 = retry_after
        .expect("the 503 has Retry-After")
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let signup = block_on(api.signup("during@example.com", PASSWORD));
    assert_eq!(
        signup.status(),
        503,
        "auth too answers 503 while PostgreSQL is down"
    );
    assert!(signup.headers().contains_key("retry-after"));

    stack.compose(&["start", "postgres"]);
    wait_until("success once PostgreSQL is back", 90, || {
        block_on(async {
            api.request(Method::GET, "/posts/", Some(&token))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
    });
    block_on(async {
        assert_eq!(
            create_post(&api, &token, "after the outage").await.status(),
            201
        );
        account(&api, "after@example.com").await;
    });
    for (container, at) in started {
        assert_eq!(
            Stack::inspect(&container, "{{.State.StartedAt}}"),
            at,
            "{container} was restarted"
        );
        assert_eq!(Stack::inspect(&container, "{{.RestartCount}}"), "0");
    }
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_keeps_serving_valid_tokens_with_auth_stopped() {
    let Some(stack) = Stack::up(2, 2, &[]) else {
        return;
    };
    let api = gateway();
    let (_, login) = block_on(account(&api, "offline@example.com"));
    let token = login["access_token"].as_str().unwrap().to_owned();
    stack.compose(&["stop", "auth"]);
    assert!(stack
        .containers("auth")
        .iter()
        .all(|a| Stack::inspect(a, "{{.State.Running}}") == "false"));
    block_on(async {
        let login = api.login("offline@example.com", PASSWORD).await;
        assert!(
            login.status().is_server_error(),
            "no auth replica answers: {}",
            login.status()
        );
        // Every posts replica verifies with the keys it holds: enough requests for both.
        for i in 0..20 {
            let status = get_status(&api, "/posts/", &token).await;
            assert_eq!(status, 200, "GET /posts/ #{i} with auth stopped");
        }
        assert_eq!(
            create_post(&api, &token, "auth is away").await.status(),
            201
        );
        let forged = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(get_status(&api, "/posts/", forged).await, 401);
    });
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_rolling_restart_of_each_service_fails_no_request() {
    let Some(stack) = Stack::up(2, 3, &[]) else {
        return;
    };
    let api = gateway();
    let (user_id, login) = block_on(account(&api, "rolling@example.com"));
    let token = login["access_token"].as_str().unwrap().to_owned();
    let post_id = block_on(async {
        let r = create_post(&api, &token, "rolling").await;
        expect_status(r, 201, "POST /posts/").await["id"]
            .as_i64()
            .unwrap()
    });
    for service in ["auth", "posts"] {
        let traffic = Traffic::start(4, &token, user_id, post_id, true);
        // One replica at a time: stopped gracefully (SIGTERM: the listener drains its queue
        // and refuses new connections, in-flight requests finish), started, and healthy
        // before the next goes.
        let containers = stack.containers(service);
        for container in &containers {
            stdout_of(&docker(&["stop", "--time", "30", container]), "docker stop");
            stdout_of(&docker(&["start", container]), "docker start");
            Stack::wait_healthy(container);
        }
        std::thread::sleep(Duration::from_secs(2));
        let outcomes = traffic.finish();
        let failed = failures(&outcomes);
        let posts = outcomes
            .iter()
            .filter(|o| o.what.starts_with("POST"))
            .count();
        assert!(outcomes.len() > 100, "only {} requests", outcomes.len());
        // Every request succeeds, POSTs included: none is reset in a closing replica's
        // queue, and the gateway passes the connections a stopping replica no longer takes
        // to another one.
        assert!(
            failed.is_empty(),
            "rolling restart of {service}: {} of {} requests failed: {:?}",
            failed.len(),
            outcomes.len(),
            describe(&failed)
        );
        for container in &containers {
            let log = Stack::logs(container);
            assert!(
                log.contains("queue drained"),
                "{service} replica {container} stopped without draining its listener"
            );
            if service == "posts" {
                // Since its restart: listening only once it held what it checks tokens with.
                let restart = log.rfind("before listening").expect("the restart's wait");
                let since = &log[restart..];
                let at = |line: &str| since.find(line).unwrap_or(usize::MAX);
                let listening = at("listening on port");
                assert!(
                    at("verification key(s)") < listening
                        && at("loaded the list of ended sessions") < listening
                        && listening < usize::MAX,
                    "posts replica {container} listened before loading its keys:\n{since}"
                );
            }
        }
        let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
        eprintln!(
            "rolling restart of {service}: {} requests ({posts} POSTs), none failed; slowest {} ms",
            outcomes.len(),
            slowest.as_millis()
        );
    }
}

#[test]
#[ignore = "needs a Docker engine and the CI images: run by .ci/run"]
fn compose_stack_down_v_leaves_no_container_network_or_volume() {
    let Some(stack) = Stack::up(1, 1, &[]) else {
        return;
    };
    let label = format!("label=com.docker.compose.project={PROJECT}");
    let listed = |what: &[&str]| {
        let mut args = what.to_vec();
        args.extend(["--filter", &label, "-q"]);
        stdout_of(&docker(&args), "docker ls")
            .lines()
            .filter(|l| !l.is_empty())
            .count()
    };
    assert!(listed(&["ps", "-a"]) >= 4);
    assert!(
        listed(&["volume", "ls"]) >= 4,
        "pgdata and the secrets volumes"
    );
    assert!(listed(&["network", "ls"]) >= 1);
    stack.compose(&["down", "-v"]);
    assert_eq!(listed(&["ps", "-a"]), 0, "containers left after down -v");
    assert_eq!(listed(&["network", "ls"]), 0, "networks left after down -v");
    assert_eq!(listed(&["volume", "ls"]), 0, "volumes left after down -v");
}
