//! Exit under load on PostgreSQL over TLS: the real binary gets SIGTERM at a random moment
//! of a login storm, twenty times, and must exit 0 each time.
//!
//! While OpenSSL freed its global state in an `atexit` handler, a thread still inside libpq at
//! exit (the pool's own threads opening a connection: TLS handshake, SCRAM) could use the freed
//! state and the process died of SIGSEGV instead of exiting 0 (see
//! `service_kit::db::openssl_without_exit_cleanup`). `bench/shutdown_stress.py` runs the same
//! check for hundreds of cycles on release builds. Runs on the PostgreSQL server of
//! `TEST_POSTGRES_URL` (skipped like the other PostgreSQL tests when none answers).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use service_kit::testing::TestDatabase;
use service_kit::{Backend, DbConn};

const CYCLES: u32 = 20;
/// Concurrent clients logging in: more than the pool holds, so the pool is still opening
/// connections when the signal comes.
const CLIENTS: usize = 48;
const USERS: usize = 4;
const PASSWORD: &str = "password123";

/// The service binary, started on `database_url` in `dir`.
struct Service {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Service {
    fn start(database_url: &str, dir: &std::path::Path) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_auth-service"))
            .env_clear()
            .current_dir(dir)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("DATABASE_POOL_SIZE", "32")
            .env("JWT_PRIVATE_KEY_FILE", dir.join("signing-key.pem"))
            .env("JWT_GENERATE_KEY", "true")
            .env("BCRYPT_COST", "4")
            .env("LOGIN_MAX_FAILURES", "1000")
            // No grace: requests still running when the workers stop are abandoned, as after
            // a grace period that ran out.
            .env("SHUTDOWN_GRACE_SECONDS", "0")
            .env("RUST_LOG", "warn,service_kit::config=info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let port: u16 = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("auth-service exited at start: {:?}", child.wait()))
                .unwrap();
            if let Some(rest) = line.split("listening on port ").nth(1) {
                break rest.trim().parse().unwrap();
            }
            log.lock().unwrap().push(line);
        };
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Service { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, then the exit status (`None` when it had not exited within 30 s: killed).
    async fn terminate(&mut self) -> Option<ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

#[derive(diesel::QueryableByName)]
struct TlsCount {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    tls: i64,
}

/// Connections to `database` and how many of them use TLS, from `pg_stat_ssl`.
fn tls_connections(admin_url: &str, database: &str) -> (i64, i64) {
    let mut admin = DbConn::establish(admin_url).unwrap();
    let count: TlsCount = service_kit::with_conn!(&mut admin, |c| diesel::sql_query(format!(
        "SELECT count(*) AS total, count(*) FILTER (WHERE s.ssl) AS tls \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '{database}'"
    ))
    .get_result(c))
    .unwrap();
    (count.total, count.tls)
}

/// Logs in as the test users in turn until `stop` is set.
async fn login_storm(base: String, client: reqwest::Client, stop: Arc<AtomicBool>, n: usize) {
    let mut i = n;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let email = format!("exit{}@example.com", i % USERS);
        let sent = client
            .post(format!("{base}/login"))
            .form(&[("username", email.as_str()), ("password", PASSWORD)])
            .send()
            .await;
        if sent.is_err() {
            // Refused once the service stops listening: do not spin.
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[actix_web::test]
async fn sigterm_under_login_load_on_postgres_over_tls_exits_0_every_time() {
    // The suites' one PostgreSQL rule: skipped with one line when no server answers, a
    // failure when CI is set.
    if !service_kit::testing::postgres_tests_run() {
        return;
    }
    let admin_url = service_kit::testing::postgres_admin_url();
    let db = TestDatabase::create(Backend::Postgres, "auth-exit");
    let database = db.url.rsplit('/').next().unwrap().to_owned();
    let url = format!("{}?sslmode=require", db.url);
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // A different moment of the storm each cycle: 50 to 450 ms after it starts.
    let mut jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut failures = Vec::new();
    for cycle in 1..=CYCLES {
        let mut service = Service::start(&url, dir.path());
        if cycle == 1 {
            for i in 0..USERS {
                let resp = client
                    .post(service.url("/users/"))
                    .json(&serde_json::json!({"email": format!("exit{i}@example.com"), "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let storm: Vec<_> = (0..CLIENTS)
            .map(|n| {
                actix_web::rt::spawn(login_storm(
                    service.url(""),
                    client.clone(),
                    Arc::clone(&stop),
                    n,
                ))
            })
            .collect();
        jitter = jitter.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        actix_web::rt::time::sleep(Duration::from_millis(50 + u64::from(jitter >> 8) % 400)).await;
        if cycle == 1 {
            let (total, tls) = tls_connections(&admin_url, &database);
            assert!(
                total > 0 && tls == total,
                "{tls} of {total} connections use TLS"
            );
        }
        let status = service.terminate().await;
        stop.store(true, Ordering::Relaxed);
        for task in storm {
            task.await.unwrap();
        }
        if status.and_then(|s| s.code()) != Some(0) {
            let log = service.log.lock().unwrap();
            let tail = log[log.len().saturating_sub(5)..].join("\n");
            let status = status.map_or("no exit within 30 s (killed)".into(), |s| s.to_string());
            failures.push(format!("cycle {cycle}: {status}\n{tail}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {CYCLES} exits after SIGTERM were not 0:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
