//! Rotating the signing key with two auth and two posts processes under continuous
//! authenticated traffic, following the README's three steps: publish the next key, swap,
//! drop the old one. No request fails; tokens signed before the swap keep working until they
//! expire; tokens of the dropped key are refused after the last step.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use shared_claims::testing::{claims_for_testing, encode_for_testing};
use shared_claims::SigningKey;
use test_support::ApiClient;

use crate::processes::{start_service, ServiceProcess};
use crate::sessions::{list_status, log_in, pair, sign_up, until_status, Pair};

/// JWKS `max-age` the auth processes announce (step 1 and 3 wait that long, plus a poll).
const MAX_AGE: u64 = 1;

/// Part `index` of a JWT (0 the header, 1 the claims), decoded.
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn exp_of(token: &str) -> i64 {
    jwt_part(token, 1)["exp"].as_i64().unwrap()
}

fn kid_of(token: &str) -> String {
    jwt_part(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// Writes `key` as PKCS#8 PEM to `dir/name`; the file's path.
fn write_key(dir: &std::path::Path, name: &str, key: &SigningKey) -> String {
    let file = dir.join(name);
    std::fs::write(&file, key.to_pkcs8_pem()).unwrap();
    file.display().to_string()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The two auth processes, restarted one at a time on their ports with new key settings.
struct AuthReplicas {
    base_env: Vec<(&'static str, String)>,
    ports: [u16; 2],
    procs: [Option<ServiceProcess>; 2],
}

impl AuthReplicas {
    fn env(&self, port: u16, keys: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut env = self.base_env.clone();
        env.extend(keys.iter().cloned());
        if port != 0 {
            env.push(("BIND_ADDR", format!("127.0.0.1:{port}")));
        }
        env
    }

    fn start(base_env: Vec<(&'static str, String)>, keys: &[(&'static str, String)]) -> Self {
        let mut replicas = AuthReplicas {
            base_env,
            ports: [0, 0],
            procs: [None, None],
        };
        for i in 0..2 {
            let p = start_service("auth-service", &replicas.env(0, keys));
            replicas.ports[i] = p.port();
            replicas.procs[i] = Some(p);
        }
        replicas
    }

    /// A rolling restart off the test's thread (the traffic keeps running meanwhile).
    async fn roll_in_background(mut self, keys: Vec<(&'static str, String)>) -> Self {
        actix_web::rt::task::spawn_blocking(move || {
            self.roll(&keys);
            self
        })
        .await
        .unwrap()
    }

    /// A rolling restart: each replica stops gracefully and comes back with `keys`.
    fn roll(&mut self, keys: &[(&'static str, String)]) {
        for i in 0..2 {
            if let Some(mut old) = self.procs[i].take() {
                old.terminate();
                old.wait();
            }
            self.procs[i] = Some(start_service(
                "auth-service",
                &self.env(self.ports[i], keys),
            ));
        }
    }

    fn urls(&self) -> [String; 2] {
        self.ports.map(|p| format!("http://127.0.0.1:{p}"))
    }
}

/// What the traffic saw.
#[derive(Default)]
struct Tally {
    requests: AtomicUsize,
    failures: Mutex<Vec<String>>,
    refreshes: AtomicUsize,
    /// Every access token the clients were given, newest last.
    tokens: Mutex<Vec<String>>,
}

/// Clients at work: each round sends every still-valid token to both posts processes, and
/// every few rounds a client refreshes its session (at either auth replica: a replica
/// restarting refuses the connection, and the client, like a gateway, tries the other).
async fn traffic(
    client: reqwest::Client,
    auths: [String; 2],
    posts: [String; 2],
    mut session: Pair,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        if round.is_multiple_of(10) {
            for auth in auths.iter().cycle().skip(round / 10 % 2).take(2) {
                let resp = client
                    .post(format!("{auth}/token/refresh"))
                    .form(&[("refresh_token", session.refresh.as_str())])
                    .send()
                    .await;
                match resp {
                    Err(e) if e.is_connect() => continue,
                    Err(e) => tally.failures.lock().unwrap().push(format!("refresh: {e}")),
                    Ok(r) if r.status() == 200 => {
                        session = pair(&r.json().await.unwrap());
                        tally.tokens.lock().unwrap().push(session.access.clone());
                        tally.refreshes.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => tally
                        .failures
                        .lock()
                        .unwrap()
                        .push(format!("refresh at {auth}: {}", r.status())),
                }
                break;
            }
        }
        let live: Vec<String> = tally
            .tokens
            .lock()
            .unwrap()
            .iter()
            .filter(|t| exp_of(t) > now() + 1)
            .cloned()
            .collect();
        // The newest tokens, and the oldest still valid (signed before the swap, for a while).
        let picked = live.iter().rev().take(3).chain(live.first());
        for token in picked {
            for p in &posts {
                let status = list_status(&client, p, token).await;
                tally.requests.fetch_add(1, Ordering::Relaxed);
                if status != 200 {
                    tally.failures.lock().unwrap().push(format!(
                        "GET {p}/posts/ with a token of key {}: {status}",
                        kid_of(token)
                    ));
                }
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_three_step_key_rotation_under_traffic_fails_no_request() {
    if !service_kit::testing::postgres_tests_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let old = SigningKey::generate().unwrap();
    let next = SigningKey::generate().unwrap();
    let old_path = write_key(dir.path(), "old.pem", &old);
    let next_path = write_key(dir.path(), "next.pem", &next);

    let auth_db = TestDatabase::create(Backend::Postgres, "rot_auth");
    let posts_db = TestDatabase::create(Backend::Postgres, "rot_posts");
    let base_env = vec![
        ("DATABASE_URL", auth_db.url.clone()),
        ("BCRYPT_COST", "4".to_string()),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "1".to_string()),
        ("JWKS_MAX_AGE_SECONDS", MAX_AGE.to_string()),
        ("SHUTDOWN_GRACE_SECONDS", "10".to_string()),
    ]
    .into_iter()
    .chain(crate::helpers::raised_rate_limits())
    .collect();
    let mut auth = AuthReplicas::start(base_env, &[("JWT_PRIVATE_KEY_FILE", old_path.clone())]);
    let auths = auth.urls();
    // Each posts process reads the keys (and the ended sessions) of one auth replica.
    let p: Vec<ServiceProcess> = auths
        .iter()
        .map(|a| {
            start_service(
                "posts-service",
                &[
                    ("DATABASE_URL", posts_db.url.clone()),
                    ("JWT_JWKS_URL", format!("{a}/.well-known/jwks.json")),
                ],
            )
        })
        .collect();
    let posts = [p[0].url(""), p[1].url("")];
    let client = reqwest::Client::new();
    sign_up(&client, &auths[0], "alice@example.com").await;
    let before_swap = log_in(&client, &auths[1], "alice@example.com").await;
    assert_eq!(kid_of(&before_swap.access), old.kid());
    for posts in &posts {
        until_status(
            &client,
            posts,
            &before_swap.access,
            200,
            Instant::now(),
            Duration::from_secs(10),
        )
        .await;
    }
    // A token of the old key that has not expired by the last step (minted here, since a
    // real one would have expired by then): it must be refused once the old key is dropped.
    let first_auth = ApiClient::with_client(&auths[0], client.clone());
    let me = first_auth.get("/users/me", Some(&before_swap.access)).await;
    let user_id = me.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let long_lived_old =
        encode_for_testing(&claims_for_testing(user_id, "alice@example.com", 600), &old);

    let tally = Arc::new(Tally::default());
    tally
        .tokens
        .lock()
        .unwrap()
        .push(before_swap.access.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let worker = actix_web::rt::spawn(traffic(
        client.clone(),
        auths.clone(),
        posts.clone(),
        log_in(&client, &auths[0], "alice@example.com").await,
        Arc::clone(&tally),
        Arc::clone(&stop),
    ));
    let max_age_wait = Duration::from_secs(MAX_AGE + 2);

    // Step 1: publish the next key (still signing with the old one); wait out the JWKS
    // max-age so every posts process knows it before any token is signed with it.
    auth = auth
        .roll_in_background(vec![
            ("JWT_PRIVATE_KEY_FILE", old_path.clone()),
            ("JWT_PUBLISHED_KEY_FILES", next_path.clone()),
        ])
        .await;
    actix_web::rt::time::sleep(max_age_wait).await;

    // Step 2: swap. The next key signs; the old one stays published until its last token
    // has expired (the access token lifetime after the last replica stopped signing with it).
    auth = auth
        .roll_in_background(vec![
            ("JWT_PRIVATE_KEY_FILE", next_path.clone()),
            ("JWT_PUBLISHED_KEY_FILES", old_path.clone()),
        ])
        .await;
    let swapped = now();
    let after_swap = log_in(&client, &auths[0], "alice@example.com").await;
    assert_eq!(kid_of(&after_swap.access), next.kid());
    for posts in &posts {
        assert_eq!(
            list_status(&client, posts, &before_swap.access).await,
            200,
            "old tokens keep working"
        );
        assert_eq!(list_status(&client, posts, &after_swap.access).await, 200);
    }
    let last_old_exp = tally
        .tokens
        .lock()
        .unwrap()
        .iter()
        .filter(|t| kid_of(t) == old.kid())
        .map(|t| exp_of(t))
        .max()
        .unwrap();
    assert!(last_old_exp > swapped - 60);
    // Until then the old tokens work: the traffic keeps sending them up to their expiry.
    while now() <= last_old_exp {
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }

    // Step 3: drop the old key; after the max-age every posts process has dropped it.
    let auth = auth
        .roll_in_background(vec![("JWT_PRIVATE_KEY_FILE", next_path.clone())])
        .await;
    let dropped = Instant::now();
    for posts in &posts {
        until_status(
            &client,
            posts,
            &long_lived_old,
            401,
            dropped,
            Duration::from_secs(MAX_AGE + 5),
        )
        .await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();

    let failures = tally.failures.lock().unwrap().clone();
    let requests = tally.requests.load(Ordering::Relaxed);
    let refreshes = tally.refreshes.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert!(requests > 200, "only {requests} requests");
    let kids: std::collections::HashSet<String> = tally
        .tokens
        .lock()
        .unwrap()
        .iter()
        .map(|t| kid_of(t))
        .collect();
    assert!(
        kids.contains(old.kid()) && kids.contains(next.kid()),
        "traffic used tokens of both keys"
    );
    assert!(refreshes > 5, "only {refreshes} refreshes");
    // The JWKS lists only the next key now.
    let second_auth = ApiClient::with_client(&auths[1], client.clone());
    let resp = second_auth.get("/.well-known/jwks.json", None).await;
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kid"], next.kid());
    drop((auth, p));
}
